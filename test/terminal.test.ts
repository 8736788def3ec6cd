/** The interactive client, driven through a real pseudo-terminal (tmux send-keys / capture-pane). */
import { afterAll, afterEach, beforeAll, describe, expect, test } from "bun:test";
import { join } from "node:path";
import { BUN, ROOT, startServer, Terminal, TestSocket, unusedPort, type RunningServer } from "./helpers";

const CLIENT = [BUN, join(ROOT, "client.ts")];
const PROMPT = "◆  Message";

describe("interactive client", () => {
  let server: RunningServer;
  let terminal: Terminal;
  beforeAll(async () => {
    server = await startServer();
  });
  afterAll(() => server.stop());
  afterEach(() => terminal.stop());

  /** Starts the client in a terminal and waits for its input line. */
  async function startClient(): Promise<Terminal> {
    terminal = new Terminal();
    await terminal.start([...CLIENT, server.url], { columns: 100, rows: 30 });
    await terminal.waitForScreen("the input line", (screen) => screen.includes(PROMPT));
    return terminal;
  }

  test("a message arriving mid-typing appears above the input; the half-typed line and its cursor stay", async () => {
    const terminal = await startClient();
    const screenBefore = await terminal.screen();
    expect(screenBefore).toContain(`chat · ${server.url}`);
    expect(screenBefore).toContain(`Connected to ${server.url}`);
    const other = await TestSocket.open(server.url);

    // Type half a line and move the cursor back into it.
    await terminal.type("hello wor");
    await terminal.waitForScreen("the typed text", (screen) => screen.includes("│  hello wor█"));
    await terminal.press("Left", "Left", "Left");
    await terminal.waitForScreen("the cursor to move", (screen) => screen.includes("│  hello wor\n"));

    // Another client talks.
    other.send("news from elsewhere");
    const [news] = await other.waitForMessages(1);
    const screen = await terminal.waitForScreen("the other's message", (s) => s.includes(`│  ${news}`));
    const lines = screen.split("\n");
    const newsLine = lines.indexOf(`│  ${news}`);
    expect(lines.slice(newsLine, newsLine + 4)).toEqual([`│  ${news}`, PROMPT, "│  hello wor", "└  Enter sends · /quit or Ctrl-C leaves"]);

    // The cursor is where it was: typing inserts before "wor".
    await terminal.type("X");
    await terminal.waitForScreen("the insertion", (s) => s.includes("│  hello Xwor\n"));

    // Finish the line and send it: it comes back tagged with this client's address.
    await terminal.press("End");
    await terminal.type("ld");
    await terminal.press("Enter");
    const [, mine] = await other.waitForMessages(2);
    expect(mine).toMatch(/^127\.0\.0\.1:\d+: hello Xworld$/);
    const after = await terminal.waitForScreen("the echo", (s) => s.includes(`│  ${mine}`));
    expect(after.split("\n").slice(-4)).toEqual([`│  ${mine}`, PROMPT, "│  █", "└  Enter sends · /quit or Ctrl-C leaves"]);

    // Empty input is not sent.
    await terminal.press("Enter");
    await terminal.type("   ");
    await terminal.press("Enter");
    other.send("after the blanks");
    await other.waitForMessages(3);
    expect(other.messages.at(-1)).toEndWith(": after the blanks");

    // Ctrl-C leaves with a normal close and exit code 0.
    await terminal.press("C-c");
    expect(await terminal.waitForExit()).toBe(0);
    expect(await terminal.screen()).toEndWith("└  Left the chat.");
    const tag = mine!.slice(0, mine!.indexOf(": "));
    await server.waitForLog(new RegExp(`Connection from ${tag.replaceAll(".", "\\.")} closed \\(1000 bye\\)`));
    other.close();
  });

  test("/quit leaves with exit code 0", async () => {
    const terminal = await startClient();
    await terminal.type("/quit");
    await terminal.press("Enter");
    expect(await terminal.waitForExit()).toBe(0);
    expect(await terminal.screen()).toEndWith("└  Left the chat.");
  });

  test("Ctrl-D on an empty line leaves with exit code 0", async () => {
    const terminal = await startClient();
    await terminal.press("C-d");
    expect(await terminal.waitForExit()).toBe(0);
  });

  test("a long line scrolls sideways inside the input instead of wrapping", async () => {
    const terminal = await startClient();
    const long = "0123456789".repeat(15);
    await terminal.type(long);
    const screen = await terminal.waitForScreen("the end of the long line", (s) => s.includes("0123456789█"));
    const inputLine = screen.split("\n").find((line) => line.startsWith("│  …"))!;
    expect(Bun.stringWidth(inputLine)).toBeLessThanOrEqual(100);
    expect(inputLine).toEndWith("56789█");
    await terminal.press("C-c");
    expect(await terminal.waitForExit()).toBe(0);
  });

  test("when the server goes away, one clear line and a non-zero exit", async () => {
    const doomed = await startServer();
    terminal = new Terminal();
    await terminal.start([...CLIENT, doomed.url], { columns: 100, rows: 30 });
    await terminal.waitForScreen("the input line", (screen) => screen.includes(PROMPT));
    await doomed.stop();
    expect(await terminal.waitForExit()).toBe(1);
    expect(await terminal.screen()).toContain(`Lost the connection to ${doomed.url} (code 1006, connection lost without a close frame).`);
  });

  test("nothing listening: a clear line naming the URL and the cause, exit code 1", async () => {
    const port = unusedPort();
    terminal = new Terminal();
    await terminal.start([...CLIENT, `127.0.0.1:${port}`], { columns: 160, rows: 20 });
    expect(await terminal.waitForExit()).toBe(1);
    expect(await terminal.screen()).toContain(
      `Could not connect to ws://127.0.0.1:${port}: connection refused. Is the server running? Start one with: bun server.ts --port ${port}`,
    );
  });
});
