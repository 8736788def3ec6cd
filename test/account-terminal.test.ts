/**
 * Registered names in the terminal client, through a real terminal (tmux): passwords asked for
 * masked and never on the screen or in the scrollback, the session token kept in the user's
 * config directory for the next start; and in pipe and --json modes, logging in from a file or
 * the environment.
 */
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, test } from "bun:test";
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { KeptLogins, keptLoginsFile } from "../client/terminal/kept-logins";
import {
  BUN,
  jsonClient,
  ROOT,
  type RunningServer,
  registerName,
  run,
  startServer,
  Terminal,
  type TestSocket,
} from "./helpers";

const CLIENT = [BUN, join(ROOT, "client.ts")];
const PASSWORD = "correct-horse-1";

/** Registers `name` (with PASSWORD unless told). */
const register = (server: RunningServer, name: string, password = PASSWORD) => registerName(server, name, password);

/** A JSON connection logged in to `name`, to see the server's side of things. */
async function loggedIn(server: RunningServer, name: string, password = PASSWORD): Promise<TestSocket> {
  const { socket } = await jsonClient(server);
  socket.send(JSON.stringify({ type: "login", name, password }));
  await socket.waitForEvent(`logged in as ${name}`, (e) => e.type === "account" && e.name === name);
  return socket;
}

describe("passwords in the terminal", () => {
  let server: RunningServer;
  let terminal: Terminal;
  let config: string;
  beforeAll(async () => {
    server = await startServer(["--history", "0", "--name-grace", "0"]);
  });
  afterAll(() => server.stop());
  beforeEach(() => {
    config = mkdtempSync(join(tmpdir(), "chat-config-"));
  });
  afterEach(() => {
    terminal?.stop();
    rmSync(config, { recursive: true, force: true });
  });

  /** The client in a terminal, its config directory a fresh one, without colour. */
  async function startClient(args: string[], screenText: string): Promise<Terminal> {
    terminal = new Terminal();
    const env = ["env", "NO_COLOR=1", `XDG_CONFIG_HOME=${config}`];
    await terminal.start([...env, ...CLIENT, ...args, server.url], { columns: 100, rows: 30 });
    await terminal.waitForScreen(screenText, (s) => s.includes(screenText));
    return terminal;
  }

  test("/login without a password asks for it as dots; a password typed on the line shows as dots; neither is recalled", async () => {
    const terminal = await startClient(["--name", "typist"], "◆  typist in chat");
    await terminal.type("/login somebody");
    await terminal.press("Enter");
    await terminal.waitForScreen("the question", (s) => s.includes("◆  A password for /login somebody"));
    await terminal.type(PASSWORD);
    await terminal.waitForScreen("the dots", (s) => s.includes(`│  ${"•".repeat(PASSWORD.length)}█`));
    await terminal.press("Enter");
    await terminal.waitForScreen("the server's answer", (s) => s.includes("▲") && s.includes("◆  typist in chat"));

    await terminal.type(`/login somebody ${PASSWORD}`);
    await terminal.waitForScreen("the line with dots", (s) =>
      s.includes(`│  /login somebody ${"•".repeat(PASSWORD.length)}█`),
    );
    await terminal.press("Enter");
    await terminal.waitForScreen("the input emptied", (s) => s.includes("│  █"));

    // Up has nothing to bring back: neither line is kept.
    await terminal.press("Up");
    await Bun.sleep(200);
    expect(await terminal.screen()).toContain("│  █");
    expect(await terminal.scrollback()).not.toContain(PASSWORD);

    // Asked for and given up on, nothing is sent.
    await terminal.type("/register");
    await terminal.press("Enter");
    await terminal.waitForScreen("the question", (s) => s.includes("◆  A password for /register"));
    await terminal.press("Escape");
    await terminal.waitForScreen("nothing sent", (s) => s.includes("▲  /register not sent."));
    await terminal.press("C-c");
    expect(await terminal.waitForExit()).toBe(0);
  });

  const mode = (path: string) => statSync(path).mode & 0o777;
  /** The login the client kept for the server, as the next start reads it. */
  const keptHere = () => new KeptLogins(keptLoginsFile({ XDG_CONFIG_HOME: config })).get(server.url);

  test("a registered name asks for its password, masked; the token is kept (0600) and the next start asks nothing; --forget asks again", async () => {
    await register(server, "keeper");
    let terminal = await startClient([], "◆  Your name");
    await terminal.type("keeper");
    await terminal.press("Enter");
    await terminal.waitForScreen("the password question", (s) => s.includes("keeper's password"));
    await terminal.type(PASSWORD);
    await terminal.waitForScreen("the dots", (s) => s.includes("•".repeat(PASSWORD.length)));
    await terminal.press("Enter");
    await terminal.waitForScreen("the login", (s) => s.includes("◆  keeper ✓ in chat"));
    expect(await terminal.scrollback()).not.toContain(PASSWORD);

    const file = keptLoginsFile({ XDG_CONFIG_HOME: config });
    expect(mode(file)).toBe(0o600);
    expect(mode(join(config, "bun-broadcast-chat"))).toBe(0o700);
    const kept = keptHere();
    expect(kept?.name).toBe("keeper");
    expect(readFileSync(file, "utf8")).not.toContain(PASSWORD);
    await terminal.press("C-c");
    expect(await terminal.waitForExit()).toBe(0);
    terminal.stop();

    // The next start: no name asked for, no password, logged in with the kept token.
    terminal = await startClient([], "◆  keeper ✓ in chat");
    expect(await terminal.scrollback()).not.toMatch(/Your name|password/);
    await terminal.press("C-c");
    expect(await terminal.waitForExit()).toBe(0);
    terminal.stop();

    // --forget: the kept login goes, and the name is asked for again.
    terminal = await startClient(["--forget"], "◆  Your name");
    expect(await terminal.screen()).toContain(`Forgot the login kept for ${server.url}.`);
    expect(keptHere()).toBeUndefined();
    await terminal.press("C-c");
    expect(await terminal.waitForExit()).toBe(0);
  });

  test("Enter alone at a registered name's password goes back to choosing a name", async () => {
    await register(server, "taken");
    const terminal = await startClient([], "◆  Your name");
    await terminal.type("taken");
    await terminal.press("Enter");
    await terminal.waitForScreen("the password question", (s) => s.includes("taken's password"));
    await terminal.press("Enter");
    await terminal.waitForScreen("the name asked again", (s) => s.split("◆  Your name").length === 2);
    await terminal.type("untaken");
    await terminal.press("Enter");
    await terminal.waitForScreen("the input line", (s) => s.includes("◆  untaken in chat"));
    expect(keptHere()).toBeUndefined();
    await terminal.press("C-c");
    expect(await terminal.waitForExit()).toBe(0);
  });

  test("a kept token the server no longer takes is dropped, and the password asked for instead", async () => {
    await register(server, "stale");
    new KeptLogins(keptLoginsFile({ XDG_CONFIG_HOME: config })).keep(server.url, { name: "stale", token: "revoked" });
    const terminal = await startClient([], "no longer valid");
    expect(await terminal.screen()).toContain("The login kept for stale is no longer valid: log in again.");
    expect(keptHere()).toBeUndefined();
    await terminal.waitForScreen("the password question", (s) => s.includes("stale's password"));
    await terminal.type(PASSWORD);
    await terminal.press("Enter");
    await terminal.waitForScreen("the login", (s) => s.includes("◆  stale ✓ in chat"));
    expect(keptHere()?.token).not.toBe("revoked");
    await terminal.press("C-c");
    expect(await terminal.waitForExit()).toBe(0);
  });

  test("/login keeps the token and /logout drops it; /who marks a registered name and one person on two connections", async () => {
    await register(server, "walker");
    const terminal = await startClient(["--name", "stroller", "--room", "walks"], "◆  stroller in walks");
    await terminal.type("/login walker");
    await terminal.press("Enter");
    await terminal.waitForScreen("the question", (s) => s.includes("◆  A password for /login walker"));
    await terminal.type(PASSWORD);
    await terminal.press("Enter");
    await terminal.waitForScreen("the login", (s) => s.includes("◆  walker ✓ in walks"));
    expect(keptHere()?.name).toBe("walker");

    // The same account on a second connection, in the same room: listed once, marked.
    const other = await loggedIn(server, "walker");
    other.send(JSON.stringify({ type: "join", room: "walks" }));
    await other.waitForEvent("the room", (e) => e.type === "joined" && e.room === "walks");
    await terminal.type("/who");
    await terminal.press("Enter");
    await terminal.waitForScreen("the marked list", (s) =>
      /In walks \(\d+\): walker ✓ \(127\.0\.0\.1:\d+\) ×2/.test(s),
    );
    other.close();

    // /password asks for the old one and the new one twice; two that differ send nothing.
    const NEW = "battery-staple-2";
    const answer = async (question: string, secret: string) => {
      await terminal.waitForScreen(question, (s) => s.includes(`◆  ${question}`));
      await terminal.type(secret);
      await terminal.press("Enter");
    };
    for (const again of [`${NEW}x`, NEW]) {
      await terminal.type("/password");
      await terminal.press("Enter");
      await answer("Your password for /password", PASSWORD);
      await answer("A new password for /password", NEW);
      await answer("The same again, to be sure", again);
    }
    await terminal.waitForScreen("the change", (s) => s.includes("Your password is changed"));
    expect(await terminal.screen()).toContain("▲  The two did not match; /password not sent.");
    expect(await terminal.scrollback()).not.toMatch(/battery|correct-horse/);

    await terminal.type("/logout");
    await terminal.press("Enter");
    await terminal.waitForScreen("the logout", (s) => s.includes("Logged out"));
    expect(keptHere()).toBeUndefined();
    expect(await terminal.scrollback()).not.toContain(PASSWORD);
    await terminal.press("C-c");
    expect(await terminal.waitForExit()).toBe(0);
  });
});

describe("logging in from a script", () => {
  let server: RunningServer;
  let folder: string;
  beforeAll(async () => {
    folder = mkdtempSync(join(tmpdir(), "chat-password-"));
    server = await startServer(["--history", "0", "--name-grace", "0"]);
    await register(server, "robot");
  });
  afterAll(async () => {
    await server.stop();
    rmSync(folder, { recursive: true, force: true });
  });
  /** Never the user's own config directory. */
  const env = () => ({ XDG_CONFIG_HOME: folder });

  test("--password-file logs in; the plain output says so, without the session token", async () => {
    const file = join(folder, "password");
    writeFileSync(file, `${PASSWORD}\n`, { mode: 0o600 });
    const result = await run([...CLIENT, "--name", "robot", "--password-file", file, server.url], {
      input: "beep\n",
      env: env(),
    });
    expect(result.stderr).toBe("");
    expect(result.exitCode).toBe(0);
    expect(result.stdout).toContain("From server: *** You are logged in as robot.");
    expect(result.stdout).toMatch(/From server: robot \(127\.0\.0\.1:\d+\): beep\n/);
    expect(result.stdout).not.toContain("token");
  });

  test("CHAT_PASSWORD logs in, in --json mode too", async () => {
    const result = await run([...CLIENT, "--json", "--name", "robot", server.url], {
      input: "boop\n",
      env: { ...env(), CHAT_PASSWORD: PASSWORD },
    });
    expect(result.stderr).toBe("");
    expect(result.exitCode).toBe(0);
    const events = result.stdout
      .trim()
      .split("\n")
      .map((line) => JSON.parse(line));
    expect(events).toContainEqual(expect.objectContaining({ type: "account", name: "robot" }));
    expect(events).toContainEqual(expect.objectContaining({ type: "message", text: "boop" }));
  });

  test("a wrong password, or none, is one line and exit code 3", async () => {
    const wrong = await run([...CLIENT, "--name", "robot", server.url], {
      input: "never sent\n",
      env: { ...env(), CHAT_PASSWORD: "not-the-password" },
    });
    expect(wrong.exitCode).toBe(3);
    expect(wrong.stdout).toBe("");
    expect(wrong.stderr).toMatch(
      /^Could not log in as 'robot': .+ Check the password given with --password-file or CHAT_PASSWORD\.\n$/,
    );

    const none = await run([...CLIENT, "--name", "robot", server.url], { input: "never sent\n", env: env() });
    expect(none.exitCode).toBe(3);
    expect(none.stderr).toMatch(
      /^Could not join as 'robot': .+ Log in to it with its password: --password-file FILE or CHAT_PASSWORD\.\n$/,
    );
  });

  test("a script's right password is never budgeted away; past 5 wrong ones, it is told to wait", async () => {
    await register(server, "cron");
    const as = (password: string) =>
      run([...CLIENT, "--name", "cron", server.url], { input: "", env: { ...env(), CHAT_PASSWORD: password } });
    // Eight runs in a row: more than an address's 5 attempts at one name.
    for (let n = 0; n < 8; n++) expect((await as(PASSWORD)).exitCode).toBe(0);
    const wrong = [];
    for (let n = 0; n < 6; n++) wrong.push(await as("not-the-password"));
    expect(wrong.map((w) => w.exitCode)).toEqual([3, 3, 3, 3, 3, 3]);
    // The sixth is not hashed: the server's words say how long to wait, and nothing blames the password.
    expect(wrong[5]!.stderr).toMatch(/^Could not log in as 'cron': .*wait \d+ s.*\n$/);
    expect(wrong[5]!.stderr).not.toContain("Check the password");
  });

  test("/password from a script waits for its answer: said, and exit code 0; a wrong old password fails the run", async () => {
    await register(server, "rotator");
    const as = (password: string, input: string, json = false) =>
      run([...CLIENT, ...(json ? ["--json"] : []), "--name", "rotator", server.url], {
        input,
        env: { ...env(), CHAT_PASSWORD: password },
      });
    const changed = await as(PASSWORD, `/password ${PASSWORD} the-new-password-1\n`);
    expect(changed.stdout).toContain("From server: *** Your password is changed; 1 other session was ended.");
    expect(changed.exitCode).toBe(0);
    const wrong = await as("the-new-password-1", "/password not-the-old-one the-new-password-2\n");
    expect(wrong.stdout).toContain("That is not your password; nothing was changed.");
    expect(wrong.stderr).toBe("1 account command was refused by the server (its reasons are above).\n");
    expect(wrong.exitCode).toBe(1);
    // In --json, the answer carries the command's id; a script's logins made no session to end, nor a token.
    const json = await as("the-new-password-1", "/password the-new-password-1 the-new-password-3\n", true);
    const events = json.stdout
      .trim()
      .split("\n")
      .map((line) => JSON.parse(line));
    expect(events.at(-1)).toEqual({
      type: "account",
      name: "rotator",
      text: "Your password is changed; 0 other sessions were ended.",
      id: expect.any(String),
    });
    expect(json.stdout).not.toContain('"token"');
  });

  test("a password file that cannot be read is a mistake on the command line", async () => {
    const missing = join(folder, "nowhere");
    const result = await run([...CLIENT, "--name", "robot", "--password-file", missing, server.url], { env: env() });
    expect(result.exitCode).toBe(2);
    expect(result.stderr).toBe(
      `bun client.ts: --password-file '${missing}' could not be read: there is no such file. Run 'bun client.ts --help' for usage.\n`,
    );
  });
});
