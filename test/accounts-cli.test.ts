/**
 * The operators' command line for accounts (`bun server.ts accounts …`), run as a real process
 * against the --store file of a running server and against a real redis-server shared with one:
 * each command prints one clear line, and the running server hears of the change (a deleted or
 * reset account's connections are logged out, a new account's name is owned at once).
 */
import { expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { SUBPROTOCOL } from "../common/events";
import { BUN, ROOT, run, startRedis, startServer, Terminal, TestSocket, type WireEvent } from "./helpers";

const ACCOUNTS = [BUN, join(ROOT, "server.ts"), "accounts"];

function accounts(args: string[], input = "") {
  return run([...ACCOUNTS, ...args], { input });
}

/** A JSON client that logs in to `name` with `password`; its events. */
async function loggedIn(url: string, name: string, password: string): Promise<TestSocket> {
  const socket = await TestSocket.open(url, SUBPROTOCOL);
  socket.send(JSON.stringify({ type: "login", name, password }));
  await socket.waitForEvent(`logged in as ${name}`, (e) => e.type === "account" && e.name === name, 8_000);
  return socket;
}

const loggedOut = (socket: TestSocket) =>
  socket.waitForEvent("the logout", (e: WireEvent) => e.type === "account" && e.name === null, 8_000);

/** Whether a guest asking for `name` now is refused as a registered name. */
async function owned(url: string, name: string): Promise<boolean> {
  const guest = await TestSocket.open(`${url}/?name=${name}`, SUBPROTOCOL);
  const joined = await guest.waitForEvent("joined", (e) => e.type === "joined");
  guest.close();
  return joined.members.at(-1).name === null;
}

test("list, create, reset-password and delete on a running server's --store file, which hears of each", async () => {
  const dir = mkdtempSync(join(tmpdir(), "accounts-cli-"));
  const store = join(dir, "chat.db");
  const server = await startServer(["--store", store]);
  try {
    expect(await accounts(["list", "--store", store])).toEqual({
      exitCode: 0,
      stdout: "No accounts yet.\n",
      stderr: "",
    });
    expect(await accounts(["create", "bob", "--store", store], "first-password\n")).toEqual({
      exitCode: 0,
      stdout: "Created the account bob.\n",
      stderr: "",
    });
    // The running server follows the file: bob's name is owned within a second or so.
    const deadline = Date.now() + 5_000;
    while (!(await owned(server.url, "bob")) && Date.now() < deadline) await Bun.sleep(100);
    expect(await owned(server.url, "bob")).toBe(true);
    const bob = await loggedIn(server.url, "bob", "first-password");
    const list = await accounts(["list", "--store", store]);
    expect(list.stdout).toMatch(/^bob \(registered \d{4}-\d\d-\d\dT[\d:.]+Z, 1 session\)\n$/);
    const reset = await accounts(["reset-password", "BOB", "--store", store], "second-password\n");
    expect(reset).toEqual({ exitCode: 0, stdout: "Reset the password of bob; 1 session ended.\n", stderr: "" });
    await loggedOut(bob);
    expect(bob.events.find((e) => e.type === "error")?.code).toBe("session-invalid");
    const bobAgain = await loggedIn(server.url, "bob", "second-password");
    const deleted = await accounts(["delete", "bob", "--store", store]);
    expect(deleted).toEqual({ exitCode: 0, stdout: "Deleted the account bob; 1 session ended.\n", stderr: "" });
    await loggedOut(bobAgain);
    expect(await owned(server.url, "bob")).toBe(false);
  } finally {
    await server.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}, 30_000);

test("with --redis the same commands reach every running instance at once", async () => {
  const redis = await startRedis();
  const server = await startServer(["--redis", redis.url]);
  try {
    expect((await accounts(["create", "carol", "--redis", redis.url], "carols-password")).stdout).toBe(
      "Created the account carol.\n",
    );
    expect(await owned(server.url, "carol")).toBe(true);
    const carol = await loggedIn(server.url, "carol", "carols-password");
    expect((await accounts(["list", "--redis", redis.url])).stdout).toMatch(/^carol \(registered .*, 1 session\)\n$/);
    expect((await accounts(["delete", "carol", "--redis", redis.url])).stdout).toBe(
      "Deleted the account carol; 1 session ended.\n",
    );
    await loggedOut(carol);
  } finally {
    await server.stop();
    await redis.stop();
  }
}, 30_000);

test("mistakes get one line and a non-zero exit code, and nothing changes", async () => {
  const dir = mkdtempSync(join(tmpdir(), "accounts-cli-"));
  const store = join(dir, "chat.db");
  try {
    const cases: [string[], string, number, RegExp][] = [
      [["list"], "", 2, /Give the server's --store FILE or its --redis URL/],
      [["list", "--store", join(dir, "missing.db")], "", 1, /There is no file '.*missing\.db'/],
      [["create", "dave", "--store", store], "short\n", 2, /A password needs at least 8 characters; that one has 5\./],
      [["delete", "erin", "--store", store], "", 1, /There is no account 'erin'\./],
      [["rename", "erin", "--store", store], "", 2, /'rename' is not something accounts can do/],
      [["create", "dave", "--redis", "redis://127.0.0.1:1"], "long-enough\n", 1, /Could not reach Redis/],
    ];
    await accounts(["create", "frank", "--store", store], "franks-password\n");
    for (const [args, input, exitCode, stderr] of cases) {
      const result = await accounts(args, input);
      expect({ args, exitCode: result.exitCode, stdout: result.stdout }).toEqual({ args, exitCode, stdout: "" });
      expect(result.stderr).toMatch(stderr);
      expect(result.stderr.trimEnd().split("\n")).toHaveLength(1);
      // A mistake on the command line points to the help of accounts, not the server's.
      if (exitCode === 2) expect(result.stderr).toMatch(/ Run '.*server\.ts accounts --help' for usage\.\n$/);
    }
    expect((await accounts(["create", "FRANK", "--store", store], "another-password\n")).stderr).toContain(
      "The name 'FRANK' is registered already (as 'frank', which looks the same).",
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}, 30_000);

test("on a terminal, the new password is asked for twice and shown as stars; one too short is asked again", async () => {
  const dir = mkdtempSync(join(tmpdir(), "accounts-cli-"));
  const store = join(dir, "chat.db");
  const terminal = new Terminal();
  try {
    await terminal.start([...ACCOUNTS, "create", "grace", "--store", store]);
    await terminal.waitForScreen("the prompt", (s) => s.includes("New password for grace:"));
    await terminal.type("short");
    await terminal.press("Enter");
    await terminal.waitForScreen("the password asked again", (s) => s.includes("that one has 5. Try again."));
    await terminal.type("hopper-1906");
    await terminal.press("Enter");
    await terminal.waitForScreen("the second prompt", (s) => s.includes("The same again:"));
    await terminal.type("hopper-1906");
    const typed = await terminal.waitForScreen("the stars", (s) => s.includes("The same again: ***********"));
    expect(typed).toBe(
      "New password for grace: *****\nA password needs at least 8 characters; that one has 5. Try again.\n" +
        "New password for grace: ***********\nThe same again: ***********",
    );
    await terminal.press("Enter");
    expect(await terminal.waitForExit()).toBe(0);
    const shown = await terminal.screen();
    expect(shown).not.toContain("hopper");
    expect(shown).toContain("Created the account grace.");
  } finally {
    terminal.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}, 30_000);
