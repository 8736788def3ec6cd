/**
 * The client on a private server (`--guests no`, accounts made by an operator from the command
 * line): on a terminal it says the server is for registered accounts only and what to do without
 * one, asks for the name and the password (masked), asks again after a wrong one, and logs in;
 * the next start logs in with the kept token, asking nothing. A script logs in with the password it
 * is given, and without one it exits at once with one line saying what to pass.
 */
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { BUN, PROGRAM_ENV, ROOT, type RunningServer, run, startServer, Terminal } from "./helpers";

const CLIENT = [BUN, join(ROOT, "client.ts")];
const PASSWORD = "correct-horse-1";

/** A server without guests on a --store file in `folder`, with the accounts `names` made beforehand by an operator. */
async function privateServer(folder: string, names: string[]): Promise<RunningServer> {
  const store = join(folder, "chat.db");
  for (const name of names) {
    const made = await run([BUN, join(ROOT, "server.ts"), "accounts", "create", name, "--store", store], {
      input: `${PASSWORD}\n`,
    });
    expect(made.stdout).toBe(`Created the account ${name}.\n`);
  }
  return startServer(["--guests", "no", "--store", store, "--history", "0"]);
}

describe("a private server, on a terminal", () => {
  let folder: string;
  let server: RunningServer;
  let terminal: Terminal;
  let config: string;
  beforeAll(async () => {
    folder = mkdtempSync(join(tmpdir(), "chat-private-"));
    server = await privateServer(folder, ["member", "regular"]);
  });
  afterAll(async () => {
    await server.stop();
    rmSync(folder, { recursive: true, force: true });
  });
  beforeEach(() => {
    config = mkdtempSync(join(tmpdir(), "chat-config-"));
  });
  afterEach(() => {
    terminal?.stop();
    rmSync(config, { recursive: true, force: true });
  });

  /** The client in a terminal, its config directory a fresh one (no kept login), without colour. */
  async function startClient(args: string[], screenText: string): Promise<Terminal> {
    terminal = new Terminal();
    const env = ["env", "NO_COLOR=1", `XDG_CONFIG_HOME=${config}`];
    await terminal.start([...env, ...CLIENT, ...args, server.url], { columns: 120, rows: 30 });
    await terminal.waitForScreen(screenText, (s) => s.includes(screenText), 15_000);
    return terminal;
  }

  /** Types `secret` at the password question: only dots show. */
  async function typePassword(secret: string): Promise<void> {
    await terminal.type(secret);
    await terminal.waitForScreen("the dots", (s) => s.includes(`│  ${"•".repeat(secret.length)}`), 15_000);
    expect(await terminal.screen()).not.toContain(secret);
    await terminal.press("Enter");
  }

  test("asks for the name and the password (masked), says a wrong one and asks again, then lets the person speak", async () => {
    const terminal = await startClient([], "◆  Your name");
    await terminal.type("member");
    await terminal.press("Enter");
    const asked = await terminal.waitForScreen("the password question", (s) => s.includes("member's password"), 15_000);
    // Why it is asked, and what to do without an account.
    expect(asked).toContain("This server is for registered accounts only");
    expect(asked).toContain("No account? Ask the server's operator for one (they make it with its 'accounts");

    await typePassword("not-the-password");
    await terminal.waitForScreen("the wrong password said", (s) => s.includes("Wrong name or password."), 15_000);
    await terminal.waitForScreen("asked again", (s) => s.split("member's password").length === 3, 15_000);
    await typePassword(PASSWORD);
    await terminal.waitForScreen("the login", (s) => s.includes("◆  member ✓ in chat"), 15_000);

    await terminal.type("hello from inside");
    await terminal.press("Enter");
    // Said to the room: the server sends it back, shown as one's own (behind ┃).
    await terminal.waitForScreen("the message back", (s) => /┃ .* member\b.*: hello from inside/.test(s), 15_000);
    expect(await terminal.scrollback()).not.toMatch(/correct-horse|not-the-password/);
    await terminal.press("C-c");
    expect(await terminal.waitForExit(15_000)).toBe(0);
    terminal.stop();

    // The next start logs in with the kept session token, asking for nothing.
    const again = await startClient([], "◆  member ✓ in chat");
    expect(await again.scrollback()).not.toMatch(/Your name|password|registered accounts only/);
    await again.press("C-c");
    expect(await again.waitForExit(15_000)).toBe(0);
  }, 90_000);

  test("no name (Enter alone) asks for the account's name; Enter alone at the password goes back to the name", async () => {
    const terminal = await startClient([], "◆  Your name");
    await terminal.press("Enter");
    await terminal.waitForScreen("the account's name asked for", (s) => s.includes("◆  Your account's name"), 15_000);
    expect(await terminal.screen()).toContain("This server is for registered accounts only");
    await terminal.type("regular");
    await terminal.press("Enter");
    await terminal.waitForScreen("the password question", (s) => s.includes("regular's password"), 15_000);
    await terminal.press("Enter");
    await terminal.waitForScreen("the name asked again", (s) => s.split("◆  Your account's name").length === 2, 15_000);
    await terminal.type("regular");
    await terminal.press("Enter");
    // The question open again (◆), not the first one's answered line (◇), which is on the screen still.
    await terminal.waitForScreen("the password asked again", (s) => s.includes("◆  regular's password"), 15_000);
    await typePassword(PASSWORD);
    await terminal.waitForScreen("the login", (s) => s.includes("◆  regular ✓ in chat"), 15_000);
    await terminal.press("C-c");
    expect(await terminal.waitForExit(15_000)).toBe(0);
  }, 90_000);
});

describe("a private server, from a script", () => {
  let folder: string;
  let server: RunningServer;
  beforeAll(async () => {
    folder = mkdtempSync(join(tmpdir(), "chat-private-"));
    server = await privateServer(folder, ["robot"]);
  });
  afterAll(async () => {
    await server.stop();
    rmSync(folder, { recursive: true, force: true });
  });
  /** Never the user's own config directory. */
  const env = () => ({ XDG_CONFIG_HOME: folder });

  test("--password-file with --name logs in and speaks; CHAT_PASSWORD too, in --json mode", async () => {
    const file = join(folder, "password");
    writeFileSync(file, `${PASSWORD}\n`, { mode: 0o600 });
    const plain = await run([...CLIENT, "--name", "robot", "--password-file", file, server.url], {
      input: "beep\n",
      env: env(),
      timeoutMs: 30_000,
    });
    expect(plain.stderr).toBe("");
    expect(plain.exitCode).toBe(0);
    expect(plain.stdout).toMatch(/From server: robot \(127\.0\.0\.1:\d+\): beep\n/);
    expect(plain.stdout).not.toContain("registered accounts only");

    const json = await run([...CLIENT, "--json", "--name", "robot", server.url], {
      input: "boop\n",
      env: { ...env(), CHAT_PASSWORD: PASSWORD },
      timeoutMs: 30_000,
    });
    expect(json.stderr).toBe("");
    expect(json.exitCode).toBe(0);
    const events = json.stdout
      .trim()
      .split("\n")
      .map((line) => JSON.parse(line));
    expect(events).toContainEqual(expect.objectContaining({ type: "message", text: "boop" }));
    expect(events).not.toContainEqual(expect.objectContaining({ code: "login-required" }));
  }, 70_000);

  test("without a password, or without a name, it exits at once (code 3) with one line saying what to pass", async () => {
    // stdin is left open (no end of input), as a long-running script's is: the client must not wait on it.
    for (const [args, line] of [
      [
        ["--name", "robot"],
        /^Could not join as 'robot': this server is for registered accounts only\. Log in with the account's password: --password-file FILE or CHAT_PASSWORD\.\n$/,
      ],
      [
        [],
        /^Could not join: this server is for registered accounts only\. Log in with --name NAME and the account's password: --password-file FILE or CHAT_PASSWORD\.\n$/,
      ],
      [
        ["--json"],
        /^Could not join: this server is for registered accounts only\. Log in with --name NAME and the account's password: --password-file FILE or CHAT_PASSWORD\.\n$/,
      ],
    ] as const) {
      const client = Bun.spawn([...CLIENT, ...args, server.url], {
        stdin: "pipe",
        stdout: "pipe",
        stderr: "pipe",
        env: { ...PROGRAM_ENV, ...env() },
      });
      const timer = setTimeout(() => client.kill("SIGKILL"), 20_000);
      const [stdout, stderr, exitCode] = await Promise.all([
        new Response(client.stdout).text(),
        new Response(client.stderr).text(),
        client.exited,
      ]);
      clearTimeout(timer);
      expect({ args, exitCode, stderr }).toEqual({ args, exitCode: 3, stderr: expect.stringMatching(line) });
      expect(stdout).toBe("");
    }
  }, 90_000);
});
