/**
 * Registered names in the terminal client, through a real terminal (tmux): passwords asked for
 * masked and never on the screen or in the scrollback, the session token kept in the user's
 * config directory for the next start; and in pipe and --json modes, logging in from a file or
 * the environment.
 */
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { BUN, ROOT, type RunningServer, startServer, Terminal } from "./helpers";

const CLIENT = [BUN, join(ROOT, "client.ts")];
const PASSWORD = "correct-horse-1";

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
});
