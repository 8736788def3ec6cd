/**
 * An account an operator banned from the whole chat, in the terminal client (through tmux) and
 * in pipe mode: the ban's words and exit code 3 at the first sign of it (its kept session token,
 * or its right password refused), never a password asked for again; and the reason a ban closes
 * a running client for, wrapped at words inside clack's guide.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
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

const register = (server: RunningServer, name: string) => registerName(server, name, PASSWORD);

/** A JSON connection logged in to `name` with its password (its `account` event carries a session token). */
async function loggedIn(server: RunningServer, name: string): Promise<TestSocket> {
  const { socket } = await jsonClient(server);
  socket.send(JSON.stringify({ type: "login", name, password: PASSWORD }));
  await socket.waitForEvent(`logged in as ${name}`, (e) => e.type === "account" && e.name === name);
  return socket;
}

describe("an account banned from the chat", () => {
  let server: RunningServer;
  let root: TestSocket;
  let config: string;
  let terminal: Terminal | undefined;
  const BAN_WORDS = /banned from this chat by root \(\d+ h more\): testing account bans\./;
  beforeAll(async () => {
    config = mkdtempSync(join(tmpdir(), "chat-config-"));
    server = await startServer(["--history", "0", "--name-grace", "0", "--ops", "root"]);
    await register(server, "root");
    root = await loggedIn(server, "root");
  });
  afterAll(async () => {
    terminal?.stop();
    root.close();
    await server.stop();
    rmSync(config, { recursive: true, force: true });
  });

  /**
   * What the client said last, from the line where `start` is to the end of the screen: each line
   * after the first in clack's guide, and its words, each line's guide or symbol taken off.
   */
  function saidLast(screen: string, start: string): { inGuide: boolean; words: string } {
    const lines = screen.split("\n");
    const said = lines.slice(lines.findLastIndex((line) => line.includes(start))).filter((l) => l.trim() !== "");
    const inGuide = said.slice(1).every((line) => line.startsWith("│  "));
    return { inGuide, words: said.map((line) => line.slice(3).trim()).join(" ") };
  }

  /** A login to `name` kept in the terminal's config directory, as after a login there: its session token. */
  async function keepLogin(name: string): Promise<string> {
    await register(server, name);
    const socket = await loggedIn(server, name);
    const token = socket.events.find((e) => e.type === "account" && e.token)?.token as string;
    socket.close();
    new KeptLogins(keptLoginsFile({ XDG_CONFIG_HOME: config })).keep(server.url, { name, token });
    return token;
  }

  /** An operator's ban of `name`, from the chat, for an hour, heard by the operator. */
  async function ban(name: string): Promise<void> {
    root.send(JSON.stringify({ type: "ban", target: name, duration: "1h", reason: "testing account bans" }));
    await root.waitForEvent("the ban", (e) => e.type === "notice" && String(e.text).includes(`${name} was banned`));
  }

  /** The client in a narrow terminal, with the kept logins, without colour; `env`: more of its environment. */
  async function startClient(args: string[] = [], env: string[] = []): Promise<Terminal> {
    terminal?.stop();
    terminal = new Terminal();
    const environment = ["env", "NO_COLOR=1", `XDG_CONFIG_HOME=${config}`, ...env];
    await terminal.start([...environment, ...CLIENT, ...args, server.url], { columns: 50, rows: 30 });
    return terminal;
  }

  test("a ban closes the terminal client with exit code 3, its reason wrapped at words in the guide", async () => {
    await keepLogin("alice");
    const terminal = await startClient();
    await terminal.waitForScreen("the login", (s) => s.includes("◆  alice ✓ in chat"));
    await ban("alice");
    expect(await terminal.waitForExit()).toBe(3);
    const closed = saidLast(await terminal.screen(), "The server closed");
    expect(closed.inGuide).toBe(true);
    expect(closed.words).toMatch(new RegExp(`^The server closed the connection: You were ${BAN_WORDS.source}$`));
  });

  test("started again with a kept login, the terminal says the ban's words at once and exits 3, asking no password", async () => {
    const token = await keepLogin("carol");
    await ban("carol");
    const terminal = await startClient();
    expect(await terminal.waitForExit()).toBe(3);
    expect(await terminal.scrollback()).not.toMatch(/password|registered name/);
    expect(saidLast(await terminal.screen(), "carol is banned")).toEqual({
      inGuide: true,
      words: expect.stringMatching(new RegExp(`^carol is ${BAN_WORDS.source}$`)),
    });
    // The ban may be lifted, or end: the login is kept for then.
    expect(new KeptLogins(keptLoginsFile({ XDG_CONFIG_HOME: config })).get(server.url)?.token).toBe(token);
  });

  test("the right password of a banned account, in the terminal: the ban's words and exit 3, not the password again", async () => {
    await register(server, "dave");
    await ban("dave");
    const terminal = await startClient(["--name", "dave"], [`CHAT_PASSWORD=${PASSWORD}`]);
    expect(await terminal.waitForExit()).toBe(3);
    expect(await terminal.scrollback()).not.toContain("password");
    expect(saidLast(await terminal.screen(), "dave is banned").words).toMatch(
      new RegExp(`^dave is ${BAN_WORDS.source}$`),
    );
  });

  test("a script's password for a banned account is one line, and exit code 3", async () => {
    await register(server, "bob");
    await ban("bob");
    const result = await run([...CLIENT, "--name", "bob", server.url], {
      input: "never sent\n",
      env: { XDG_CONFIG_HOME: config, CHAT_PASSWORD: PASSWORD },
    });
    expect(result.exitCode).toBe(3);
    expect(result.stdout).toBe("");
    expect(result.stderr).toMatch(new RegExp(`^Could not log in as 'bob': bob is ${BAN_WORDS.source}\\n$`));
  });
});
