/** The interactive client, driven through a real pseudo-terminal (tmux send-keys / capture-pane). */
import { afterAll, afterEach, beforeAll, describe, expect, test } from "bun:test";
import { join } from "node:path";
import { inspect } from "node:util";
import { NAME_PALETTE } from "../client/terminal/terminal-view";
import { nameColour } from "../common/text";
import {
  BUN,
  jsonClient,
  ROOT,
  RUN,
  type RunningServer,
  startServer,
  Terminal,
  TestSocket,
  unusedPort,
} from "./helpers";

const CLIENT = [BUN, join(ROOT, "client.ts")];

/** The terminal client, without colour, as `name` on `server`, waiting for its input line. */
async function startNamed(terminal: Terminal, server: RunningServer, name: string, columns: number): Promise<void> {
  await terminal.start(["env", "NO_COLOR=1", ...CLIENT, "--name", name, server.url], { columns, rows: 30 });
  await terminal.waitForScreen("the input line", (s) => s.includes(`◆  ${name} in chat`));
}
const HINT = "└  Enter sends · /help lists commands · /quit leaves";
const TIME = "\\d\\d:\\d\\d";
const ADDRESS = "127\\.0\\.0\\.1:\\d+";
/** Foreground colours in SGR sequences (30-37, 90-97, 38;…), as tmux reports them. */
const FOREGROUND_COLOUR = /\x1b\[(?:[0-9;]*;)?(?:3[0-8]|9[0-7])(?:;[0-9;]*)?m/;

describe("interactive client", () => {
  let server: RunningServer;
  let terminal: Terminal;
  beforeAll(async () => {
    server = await startServer(["--history", "0"]);
  });
  afterAll(() => server.stop());
  afterEach(() => terminal.stop());

  /** Starts the client in a terminal with `args` and waits for `screenText`. */
  async function startClient(
    args: string[],
    screenText: string | RegExp,
    { columns = 100, env = [] as string[] } = {},
  ): Promise<Terminal> {
    terminal = new Terminal();
    await terminal.start([...(env.length ? ["env", ...env] : []), ...CLIENT, ...args], { columns, rows: 30 });
    await terminal.waitForScreen(`${screenText}`, (screen) =>
      typeof screenText === "string" ? screen.includes(screenText) : screenText.test(screen),
    );
    return terminal;
  }

  test("asks for a name; a message arriving mid-typing appears above the input, and the half line and its cursor stay", async () => {
    const terminal = await startClient([server.url], "◆  Your name");
    expect(await terminal.screen()).toContain(`chat · ${server.url}`);
    await terminal.type("tess");
    await terminal.press("Enter");
    await terminal.waitForScreen("the input line", (s) => s.includes("◆  tess in chat"));
    expect(await terminal.screen()).toContain(`Connected to ${server.url}`);
    const other = await TestSocket.open(server.url);

    // Type half a line and move the cursor back into it.
    await terminal.type("hello wor");
    await terminal.waitForScreen("the typed text", (s) => s.includes("│  hello wor█"));
    await terminal.press("Left", "Left", "Left");
    await terminal.waitForScreen("the cursor to move", (s) => s.includes("│  hello wor\n"));

    // Another client talks.
    other.send("news from elsewhere");
    const screen = await terminal.waitForScreen("the other's message", (s) => s.includes(": news from elsewhere"));
    const lines = screen.split("\n");
    const at = lines.findIndex((line) => line.includes(": news from elsewhere"));
    expect(lines[at]).toMatch(new RegExp(`^│  ${TIME}  ${ADDRESS}: news from elsewhere$`));
    expect(lines.slice(at + 1, at + 4)).toEqual(["◆  tess in chat", "│  hello wor", HINT]);

    // The cursor is where it was: typing inserts before "wor".
    await terminal.type("X");
    await terminal.waitForScreen("the insertion", (s) => s.includes("│  hello Xwor\n"));

    // Finish the line and send it: it comes back tagged with the name and this client's address,
    // and shows as one's own (behind ┃).
    await terminal.press("End");
    await terminal.type("ld");
    await terminal.press("Enter");
    const mine = await other.waitForMessage("tess's message", (m) => m.endsWith(": hello Xworld"));
    expect(mine).toMatch(new RegExp(`^tess \\(${ADDRESS}\\): hello Xworld$`));
    const after = await terminal.waitForScreen("the echo", (s) => s.includes(mine));
    expect(after.split("\n").slice(-4)).toEqual([
      `┃  ${after.match(new RegExp(`${TIME}(?=  tess)`))![0]}  ${mine}`,
      "◆  tess in chat",
      "│  █",
      HINT,
    ]);

    // Empty input is not sent.
    await terminal.press("Enter");
    await terminal.type("   ");
    await terminal.press("Enter");
    other.send("after the blanks");
    await other.waitForMessage("its own message", (m) => m.endsWith(": after the blanks"));
    expect(other.chat.map((m) => m.replace(/^.*?: /, ""))).toEqual([
      "news from elsewhere",
      "hello Xworld",
      "after the blanks",
    ]);

    // Ctrl-C leaves with a normal close and exit code 0.
    await terminal.press("C-c");
    expect(await terminal.waitForExit()).toBe(0);
    expect(await terminal.screen()).toEndWith("└  Left the chat.");
    await server.waitForLog(/Connection from tess \(127\.0\.0\.1:\d+\) closed \(1000 bye\)/);
    other.close();
  });

  test("Enter at the name prompt goes by the address only; Ctrl-C there leaves without connecting", async () => {
    let terminal = await startClient([server.url], "◆  Your name");
    await terminal.press("Enter");
    await terminal.waitForScreen("the input line", (s) => new RegExp(`◆  ${ADDRESS} in chat`).test(s));
    await terminal.press("C-c");
    expect(await terminal.waitForExit()).toBe(0);
    terminal.stop();

    terminal = await startClient([server.url], "◆  Your name");
    await terminal.type("no spaces please");
    await terminal.press("Enter");
    await terminal.waitForScreen("the name problem", (s) =>
      s.includes("A name can only have letters, digits, '_', '-' and '.'"),
    );
    await terminal.press("C-c");
    expect(await terminal.waitForExit()).toBe(0);
    expect(await terminal.screen()).toContain("Not connected.");
  });

  test("commands: /nick renames (and the prompt follows), /join moves rooms, /who lists, unknown ones are refused locally", async () => {
    const terminal = await startClient(["--name", "cmd", "--room", "cmds", server.url], "◆  cmd in cmds");
    await terminal.type("/nick cmd2");
    await terminal.press("Enter");
    await terminal.waitForScreen(
      "the new name",
      (s) => s.includes("◆  cmd2 in cmds") && /~ cmd \(.*\) is now cmd2/.test(s),
    );
    await terminal.type("/join elsewhere");
    await terminal.press("Enter");
    await terminal.waitForScreen(
      "the new room",
      (s) => s.includes("◆  cmd2 in elsewhere") && s.includes("You are in elsewhere with nobody else yet."),
    );
    await terminal.type("/who");
    await terminal.press("Enter");
    await terminal.waitForScreen("the member list", (s) =>
      new RegExp(`│  In elsewhere \\(1\\): cmd2 \\(${ADDRESS}\\)`).test(s),
    );
    await terminal.type("/bogus");
    await terminal.press("Enter");
    await terminal.waitForScreen("the local error", (s) => s.includes("▲  There is no command /bogus"));
    await terminal.type("/quit");
    await terminal.press("Enter");
    expect(await terminal.waitForExit()).toBe(0);
    expect(await terminal.screen()).toEndWith("└  Left the chat.");
  });

  test("Ctrl-D on an empty line leaves with exit code 0", async () => {
    const terminal = await startClient(["--name", "dee", server.url], "◆  dee in chat");
    await terminal.press("C-d");
    expect(await terminal.waitForExit()).toBe(0);
  });

  test("a long line scrolls sideways inside the input instead of wrapping", async () => {
    const terminal = await startClient(["--name", "longer", server.url], "◆  longer in chat");
    // The line ends with a marker seen nowhere else, so the screen is read once all of it is typed.
    await terminal.type(`${"0123456789".repeat(15)}END`);
    const screen = await terminal.waitForScreen("the end of the long line", (s) => s.includes("789END█"));
    const inputLine = screen.split("\n").find((line) => line.includes("END█"));
    expect(inputLine).toStartWith("│  …");
    expect(Bun.stringWidth(inputLine!)).toBeLessThanOrEqual(100);
    await terminal.press("C-c");
    expect(await terminal.waitForExit()).toBe(0);
  });

  test("with --no-reconnect, when the server goes away, one clear line and a non-zero exit", async () => {
    const doomed = await startServer();
    const terminal = await startClient(["--no-reconnect", "--name", "left", doomed.url], "◆  left in chat");
    await doomed.stop();
    expect(await terminal.waitForExit()).toBe(1);
    expect(await terminal.screen()).toContain(
      `Lost the connection to ${doomed.url} (code 1006, connection lost without a close frame).`,
    );
  });

  test("when the server restarts, the client shows it is reconnecting, keeps what was typed meanwhile, and comes back", async () => {
    const port = unusedPort();
    let restarting = await startServer(["--port", String(port)]);
    try {
      const terminal = await startClient(["--name", "rita", `127.0.0.1:${port}`], "◆  rita in chat");
      await restarting.stop(); // SIGKILL
      await terminal.waitForScreen(
        "the reconnecting state",
        (s) =>
          /◆ {2}rita in chat · [◒◐◓◑] reconnecting \(attempt \d+\)/.test(s) &&
          s.includes("▲  Connection lost (code 1006"),
      );
      await terminal.type("typed offline");
      await terminal.press("Enter");
      restarting = await startServer(["--port", String(port)]);
      const back = await terminal.waitForScreen(
        "the reconnection",
        (s) =>
          s.includes(`✓  Reconnected to ws://127.0.0.1:${port}.`) &&
          /┃ {2}\d\d:\d\d {2}rita \(\S+\): typed offline/.test(s),
      );
      expect(back.split("\n").filter((line) => line.includes("typed offline"))).toHaveLength(1);
      expect(back).toContain("◆  rita in chat\n");
      await terminal.press("C-c");
      expect(await terminal.waitForExit()).toBe(0);
    } finally {
      await restarting.stop();
    }
  });

  test("nothing listening: a clear line naming the URL and the cause, exit code 1", async () => {
    const port = unusedPort();
    const terminal = await startClient(["--name", "x", `127.0.0.1:${port}`], "Could not connect", { columns: 160 });
    expect(await terminal.waitForExit()).toBe(1);
    expect(await terminal.screen()).toContain(
      `Could not connect to ws://127.0.0.1:${port}: connection refused. Is the server running? Start one with: ${RUN.server} --port ${port}`,
    );
  });
});

describe("how the chat looks", () => {
  let server: RunningServer;
  let terminal: Terminal;
  let bob: TestSocket;
  beforeAll(async () => {
    // Each test has its viewer and bob anew: their names must be free the moment the last ones left.
    server = await startServer(["--history", "10", "--name-grace", "0"]);
    const earlier = await TestSocket.open(`${server.url}/?name=early`);
    earlier.send("said before you came");
    await earlier.waitForChat(1);
    earlier.close();
  });
  afterAll(() => server.stop());
  afterEach(() => {
    terminal.stop();
    bob?.close();
  });

  /** Starts a client as `viewer`, then bob joins and talks; returns the screen with its colours. */
  async function watchBob(env: string[]): Promise<string> {
    terminal = new Terminal();
    await terminal.start(["env", ...env, ...CLIENT, "--name", "viewer", server.url], { columns: 100, rows: 30 });
    await terminal.waitForScreen("the input line", (s) => s.includes("◆  viewer in chat"));
    bob = await TestSocket.open(`${server.url}/?name=bob`);
    bob.send("hi viewer");
    bob.send("/me waves");
    await terminal.type("hello bob");
    await terminal.press("Enter");
    await terminal.waitForScreen(
      "everything",
      (s) => s.includes("* bob") && s.includes("viewer (") && s.includes("hi viewer"),
    );
    return terminal.screen({ colours: true });
  }

  /** The screen line that contains `text` (escape sequences included). */
  const lineWith = (screen: string, text: string) =>
    screen.split("\n").find((l) => l.replace(/\x1b\[[0-9;]*m/g, "").includes(text))!;

  test("history is marked, notices are dimmed, names keep their colour (the index the page uses too), own messages stand apart", async () => {
    const screen = await watchBob([]);
    const plain = screen.replace(/\x1b\[[0-9;]*m/g, "");
    expect(plain).toMatch(new RegExp(`┊  ${TIME}  early \\(${ADDRESS}\\): said before you came`));
    expect(plain).toMatch(new RegExp(`│  ${TIME}  → bob \\(${ADDRESS}\\) joined chat`));
    expect(plain).toMatch(new RegExp(`┃  ${TIME}  viewer \\(${ADDRESS}\\): hello bob`));

    // bob's name has one colour in his message and in his action, not the green of one's own.
    const colourBefore = (line: string, name: string) =>
      /(\x1b\[[0-9;]*m)+(?=[^\x1b]*$)/.exec(line.slice(0, line.indexOf(name)))?.[0];
    const inMessage = colourBefore(lineWith(screen, "hi viewer"), "bob");
    const inAction = colourBefore(lineWith(screen, "* bob"), "bob");
    expect(inMessage).toMatch(FOREGROUND_COLOUR);
    expect(inAction!.match(FOREGROUND_COLOUR)![0]).toBe(inMessage!.match(FOREGROUND_COLOUR)![0]);
    const own = lineWith(screen, "hello bob");
    expect(own).toMatch(/\x1b\[(?:[0-9;]*;)?32m(?:\x1b\[[0-9;]*m)*┃/);
    expect(inMessage!.match(FOREGROUND_COLOUR)![0]).not.toContain("32");
    // It is the colour of the index nameColour gives his name, the index the page uses too.
    const [sgr] = inspect.colors[NAME_PALETTE[nameColour("bob")]!]!;
    expect(inMessage).toMatch(new RegExp(`\\x1b\\[(?:[0-9;]*;)?${sgr}(?:;[0-9;]*)?m`));
    // The notice is dim (SGR 2).
    expect(lineWith(screen, "joined chat")).toMatch(/\x1b\[(?:[0-9;]*;)?2m/);
  });

  test("NO_COLOR gives plain text", async () => {
    const screen = await watchBob(["NO_COLOR=1"]);
    for (const text of [
      "hi viewer",
      "* bob",
      "hello bob",
      "joined chat",
      "said before you came",
      "◆  viewer in chat",
    ]) {
      expect(lineWith(screen, text)).not.toMatch(FOREGROUND_COLOUR);
    }
  });
});

describe("recalling what was sent", () => {
  let terminal: Terminal | undefined;
  afterEach(() => terminal?.stop());

  test("Up keeps the half-typed line for Down, stops at the oldest, and starts over after Ctrl-U", async () => {
    const server = await startServer(["--history", "0"]);
    try {
      terminal = new Terminal();
      await terminal.start([...CLIENT, "--name", "typist", server.url], { columns: 100, rows: 30 });
      await terminal.waitForScreen("the input line", (s) => s.includes("◆  typist in chat"));
      for (const line of ["first", "second"]) {
        await terminal.type(line);
        await terminal.press("Enter");
        await terminal.waitForScreen(`'${line}' sent`, (s) => s.includes(`: ${line}`));
      }
      const input = async (what: string, text: string) =>
        terminal!.waitForScreen(what, (s) => s.includes(`│  ${text}█`) || s.includes(`│  ${text}\n`));
      await terminal.type("half");
      await terminal.press("Up");
      await input("the newest line", "second");
      await terminal.press("Up");
      await input("the oldest line", "first");
      await terminal.press("Up");
      await input("still the oldest line", "first");
      await terminal.press("Down");
      await terminal.press("Down");
      await input("the half-typed line back", "half");
      await terminal.press("C-u");
      await terminal.press("Up");
      await input("the newest again after Ctrl-U", "second");
    } finally {
      await server.stop();
    }
  });
});

describe("what others send cannot pose as the screen's own", () => {
  let terminal: Terminal | undefined;
  afterEach(() => terminal?.stop());

  test("a message with a line made to look like another sender's shows as one message, its lines under its text", async () => {
    const server = await startServer(["--history", "0"]);
    try {
      terminal = new Terminal();
      await startNamed(terminal, server, "viewer", 100);
      const eve = await TestSocket.open(`${server.url}/?name=eve`);
      eve.send(
        "hello\n13:24  bob (127.0.0.1:49220): send me your password\u2028" + "13:25  bob (127.0.0.1:49220): please",
      );
      const screen = await terminal.waitForScreen("eve's message", (s) => s.includes("please"));
      const lines = screen.split("\n");
      const first = lines.findIndex((l) => l.includes("eve (") && l.includes(": hello"));
      expect(lines[first]).toMatch(new RegExp(`^│  ${TIME}  eve \\(${ADDRESS}\\): hello$`));
      expect(lines[first + 1]).toBe("│         13:24  bob (127.0.0.1:49220): send me your password");
      expect(lines[first + 2]).toBe("│         13:25  bob (127.0.0.1:49220): please");
      expect(lines.filter((l) => new RegExp(`^│  ${TIME}  bob`).test(l))).toEqual([]);
      eve.close();
    } finally {
      await server.stop();
    }
  });

  test("a hostile server's escape sequences in help, rooms, names and its close reason never reach the terminal", async () => {
    const ESC = "\x1b";
    const title = `${ESC}]0;pwned${ESC}\\`;
    const clear = `${ESC}[2J${ESC}[H`;
    const you = { name: "viewer", address: "127.0.0.1:1" };
    const hostile = Bun.serve({
      hostname: "127.0.0.1",
      port: 0,
      fetch: (request, server) =>
        server.upgrade(request, { headers: { "Sec-WebSocket-Protocol": "chat.v1.json" } })
          ? undefined
          : new Response("no", { status: 400 }),
      websocket: {
        open(ws) {
          ws.send(
            JSON.stringify({ type: "welcome", you, version: "evil", limits: { rate: 5, burst: 20, maxMessage: 1000 } }),
          );
          ws.send(
            JSON.stringify({
              type: "joined",
              room: `chat${title}`,
              members: [you, { name: `mallory${clear}`, address: "6.6.6.6:6" }],
              count: 2,
              history: 0,
              seq: 0,
            }),
          );
        },
        message(ws, text) {
          if (String(text).includes('"help"'))
            ws.send(JSON.stringify({ type: "help", commands: [{ usage: `/x${title}`, help: `boom${clear}` }] }));
          if (String(text).includes('"rooms"'))
            ws.send(JSON.stringify({ type: "rooms", rooms: [{ name: `r${clear}`, members: 1 }] }));
          if (String(text).includes("close me")) ws.close(1008, `bye${clear}${title}`);
        },
      },
    });
    try {
      terminal = new Terminal();
      await terminal.start([...CLIENT, "--name", "viewer", `ws://127.0.0.1:${hostile.port}`], {
        columns: 100,
        rows: 30,
      });
      await terminal.waitForScreen("the input line", (s) => s.includes("◆  viewer in chat"));
      for (const command of ["/help", "/rooms"]) {
        await terminal.type(command);
        await terminal.press("Enter");
      }
      await terminal.waitForScreen("the answers", (s) => s.includes("boom") && s.includes("Rooms:"));
      await terminal.type("close me");
      await terminal.press("Enter");
      const screen = await terminal.waitForScreen("the close", (s) => s.includes("bye"));
      // Still on screen: the clear would have wiped it; the title would be the pane's.
      expect(screen).toContain("You are in chat");
      expect(screen).toContain("mallory\uFFFD[2J\uFFFD[H");
      expect(screen).toContain("/x\uFFFD]0;pwned\uFFFD\\");
      expect(screen).toContain(
        "The server closed the connection: bye\uFFFD[2J\uFFFD[H\uFFFD]0;pwned\uFFFD\\. Send more slowly.",
      );
      expect(await terminal.paneTitle()).not.toContain("pwned");
    } finally {
      hostile.stop(true);
    }
  });
});

test("a long message wraps at word boundaries inside the margin, each piece behind the gutter", async () => {
  const server = await startServer(["--history", "0"]);
  const terminal = new Terminal();
  try {
    await startNamed(terminal, server, "reader", 60);
    const talker = await TestSocket.open(`${server.url}/?name=talker`);
    const words = Array.from({ length: 30 }, (_, i) => `word${i}`);
    talker.send(words.join(" "));
    const screen = await terminal.waitForScreen("the whole message", (s) => s.includes("word29"));
    const lines = screen.split("\n");
    const first = lines.findIndex((l) => l.includes("talker (") && l.includes(": word0"));
    const pieces = lines.slice(first, lines.findIndex((l) => l.includes("word29")) + 1);
    expect(pieces.length).toBeGreaterThan(2);
    for (const piece of pieces) {
      expect(piece.length).toBeLessThanOrEqual(60);
      expect(piece).toStartWith("│  ");
    }
    for (const piece of pieces.slice(1)) expect(piece).toMatch(/^│ {9}word\d+( word\d+)*$/);
    expect([...(pieces.join(" ").match(/word\d+/g) ?? [])]).toEqual(words);
    talker.close();
  } finally {
    terminal.stop();
    await server.stop();
  }
});

test("a pasted block waits its turn at the server's rate, and the input line says how many lines wait", async () => {
  const server = await startServer(["--history", "0", "--rate", "2", "--burst", "2"]);
  const terminal = new Terminal();
  try {
    await terminal.start([...CLIENT, "--name", "paster", server.url], { columns: 100, rows: 30 });
    await terminal.waitForScreen("the input line", (s) => s.includes("◆  paster in chat"));
    await terminal.type(`${Array.from({ length: 8 }, (_, i) => `pasted ${i}`).join("\r")}\r`);
    await terminal.waitForScreen("the queue in the title", (s) => /◆ {2}paster in chat · \d+ waiting to send/.test(s));
    await terminal.waitForScreen(
      "every line sent",
      (s) => s.includes(": pasted 7") && !s.includes("waiting to send"),
      15_000,
    );
  } finally {
    terminal.stop();
    await server.stop();
  }
}, 30_000);

test("a pasted block of lines is held as one message: Enter sends it whole, Esc drops it", async () => {
  const server = await startServer(["--history", "0"]);
  const terminal = new Terminal();
  const listener = await TestSocket.open(server.url);
  try {
    await terminal.start([...CLIENT, "--name", "paster", server.url], { columns: 100, rows: 30 });
    await terminal.waitForScreen("the input line", (s) => s.includes("◆  paster in chat"));
    await terminal.paste("dropped one\ndropped two\n");
    await terminal.waitForScreen(
      "the held block",
      (s) => s.includes("[2 pasted lines]") && s.includes("Esc drops them"),
    );
    await terminal.press("Escape");
    await terminal.waitForScreen("the block gone", (s) => !s.includes("pasted lines"));
    await terminal.paste("alpha\nbeta\ngamma");
    await terminal.waitForScreen("the held block", (s) => s.includes("[3 pasted lines]"));
    await terminal.press("Enter");
    const said = await listener.waitForMessage("the block as one message", (m) => m.includes("alpha"));
    expect(said).toMatch(/^paster \(127\.0\.0\.1:\d+\): alpha\n {2}beta\n {2}gamma$/);
    await terminal.waitForScreen(
      "its lines under its text",
      (s) => s.includes("┃         beta") && s.includes("┃         gamma"),
    );
    expect(listener.chat.filter((m) => m.includes("dropped"))).toEqual([]);
  } finally {
    listener.close();
    terminal.stop();
    await server.stop();
  }
});

describe("long pastes", () => {
  /** Numbered words on one line, `count` × 8 - 1 characters: a piece lost or out of order shows. */
  const numberedLine = (count: number) =>
    Array.from({ length: count }, (_, i) => `w${String(i).padStart(6, "0")}`).join(" ");
  /** The end of the input line: its text, then the cursor. */
  const inputEnds = (text: string) => (s: string) => s.includes(`${text}█`);
  /** How long a paste may take to show: the old client took 20 s for 12,000 characters. */
  const AT_ONCE_MS = 3_000;

  test("one line of 12,000 characters lands in the input at once and goes whole; so do 500 lines, held as a block", async () => {
    const server = await startServer(["--history", "0"]);
    const terminal = new Terminal();
    const { socket: listener } = await jsonClient(server);
    const said = (start: string) =>
      listener.waitForEvent(`the message starting ${start}`, (e) => e.type === "message" && e.text.startsWith(start));
    try {
      await startNamed(terminal, server, "paster", 100);
      const line = numberedLine(1_500);
      await terminal.paste(line);
      await terminal.waitForScreen("the pasted line's end in the input", inputEnds("w001499"), AT_ONCE_MS);
      await terminal.press("Enter");
      expect((await said("w000000")).text).toBe(line);

      const lines = Array.from({ length: 500 }, (_, i) => `line ${i}: ${"x".repeat(40)}`).join("\n");
      await terminal.paste(lines);
      await terminal.waitForScreen("the held block", (s) => s.includes("[500 pasted lines]"), AT_ONCE_MS);
      await terminal.press("Enter");
      expect((await said("line 0:")).text).toBe(lines);
    } finally {
      listener.close();
      terminal.stop();
      await server.stop();
    }
  }, 30_000);

  test("a paste longer than the server takes is refused at once and kept; Esc drops it; Ctrl-C works right after one", async () => {
    const server = await startServer(["--history", "0", "--max-message", "2000"]);
    const terminal = new Terminal();
    const { socket: listener } = await jsonClient(server);
    const refusals = (s: string) =>
      s.match(/▲ {2}Too long: \d+ bytes, the limit is 2000\. Shorten it, or Esc drops it\./g)?.length ?? 0;
    try {
      await startNamed(terminal, server, "paster", 100);
      const line = numberedLine(8_750); // 69,999 characters
      await terminal.paste(line);
      const screen = await terminal.waitForScreen(
        "the refusal, the text kept",
        (s) => refusals(s) === 1 && inputEnds("w008749")(s),
        AT_ONCE_MS,
      );
      // The message's own size, as the server counts it: not the JSON around it.
      expect(screen).toContain(`Too long: ${line.length} bytes`);
      // Enter does not send it: the refusal again, and the text is still there to shorten.
      await terminal.press("Enter");
      await terminal.waitForScreen("a second refusal", (s) => refusals(s) === 2 && inputEnds("w008749")(s), AT_ONCE_MS);
      await terminal.press("BSpace", "BSpace");
      await terminal.waitForScreen("the text shortened", inputEnds("w0087"), AT_ONCE_MS);
      await terminal.press("Escape");
      await terminal.waitForScreen("the input empty", (s) => s.includes("│  █"), AT_ONCE_MS);

      // A block too long is held and refused the same way.
      await terminal.paste(Array.from({ length: 60 }, (_, i) => `line ${i}: ${"x".repeat(40)}`).join("\n"));
      await terminal.waitForScreen(
        "the block refused",
        (s) => refusals(s) === 3 && s.includes("[60 pasted lines]"),
        AT_ONCE_MS,
      );

      await terminal.paste(line);
      await terminal.press("C-c");
      expect(await terminal.waitForExit(AT_ONCE_MS)).toBe(0);
      expect(listener.events.filter((e) => e.type === "message")).toEqual([]);
    } finally {
      listener.close();
      terminal.stop();
      await server.stop();
    }
  }, 30_000);
});

test("someone who joins and leaves with nothing printed between makes one line, 'came and went'", async () => {
  const server = await startServer(["--history", "0"]);
  const terminal = new Terminal();
  try {
    await startNamed(terminal, server, "watcher", 100);
    const lookin = await TestSocket.open(`${server.url}/?name=lookin`);
    await terminal.waitForScreen("the join", (s) => s.includes("lookin (") && s.includes("joined chat"));
    lookin.close();
    await terminal.waitForScreen("the folded line", (s) => s.includes("came and went"));
    const talker = await TestSocket.open(`${server.url}/?name=talker`);
    talker.send("just passing");
    talker.close();
    const screen = await terminal.waitForScreen(
      "the talker's leave",
      (s) => s.includes("talker (") && s.includes("left chat"),
    );
    const lines = screen
      .split("\n")
      .filter((l) => /lookin|talker/.test(l))
      .map((l) => l.replace(/\d\d:\d\d/, "TIME").replace(/127\.0\.0\.1:\d+/, "ADDR"));
    expect(lines).toEqual([
      "│  TIME  ← lookin (ADDR) came and went",
      "│  TIME  → talker (ADDR) joined chat",
      "│  TIME  talker (ADDR): just passing",
      "│  TIME  ← talker (ADDR) left chat",
    ]);
  } finally {
    terminal.stop();
    await server.stop();
  }
});

test("nothing listening: the client says so before it asks for a name, and exits 1", async () => {
  const port = unusedPort();
  const terminal = new Terminal();
  try {
    await terminal.start([...CLIENT, "--port", String(port)], { columns: 160, rows: 20 });
    expect(await terminal.waitForExit()).toBe(1);
    const screen = await terminal.screen();
    expect(screen).toContain(
      `Could not connect to ws://127.0.0.1:${port}: connection refused. Is the server running? Start one with: ${RUN.server} --port ${port}`,
    );
    expect(screen).not.toContain("Your name");
  } finally {
    terminal.stop();
  }
});

test("with a server there, the name is asked for as before", async () => {
  const server = await startServer(["--history", "0"]);
  const terminal = new Terminal();
  try {
    await terminal.start(["env", "NO_COLOR=1", ...CLIENT, server.url], { columns: 100, rows: 20 });
    await terminal.waitForScreen("the name prompt", (s) => s.includes("◆  Your name"));
    expect(server.log()).not.toContain("New connection from");
    await terminal.type("checked");
    await terminal.press("Enter");
    await terminal.waitForScreen("the input line", (s) => s.includes("◆  checked in chat"));
    await terminal.press("C-c");
    expect(await terminal.waitForExit()).toBe(0);
  } finally {
    terminal.stop();
    await server.stop();
  }
});

test("a moderator sees each message's number, which /delete takes; the room sees the removal", async () => {
  const server = await startServer(["--history", "10"]);
  const terminal = new Terminal();
  let bob: TestSocket | undefined;
  try {
    await terminal.start(["env", "NO_COLOR=1", ...CLIENT, "--name", "mo", "--room", "dev", server.url], {
      columns: 100,
      rows: 30,
    });
    await terminal.waitForScreen("the input line", (s) => s.includes("◆  mo in dev"));
    await terminal.type("/register correct-horse-battery");
    await terminal.press("Enter");
    // Registering takes a password's hashing: /claim is refused until it is done, and is typed again.
    for (let attempt = 0; attempt < 10; attempt++) {
      await terminal.type("/claim");
      await terminal.press("Enter");
      const claimed = await terminal
        .waitForScreen("the role", (s) => s.includes("You are the owner of dev now"), 1_000)
        .catch(() => undefined);
      if (claimed) break;
    }
    await terminal.waitForScreen("the role", (s) => s.includes("You are the owner of dev now"));
    bob = await TestSocket.open(`${server.url}/?name=bob&room=dev`);
    bob.send("hi mo");
    bob.send("oops, wrong room");
    const numbered = await terminal.waitForScreen("numbered lines", (s) =>
      new RegExp(`${TIME}  #2 bob \\(${ADDRESS}\\): oops, wrong room`).test(s),
    );
    expect(numbered).toMatch(new RegExp(`${TIME}  #1 bob \\(${ADDRESS}\\): hi mo`));
    await terminal.type("/delete 2");
    await terminal.press("Enter");
    await terminal.waitForScreen("the removal", (s) => s.includes("Message #2 was removed by a moderator."));
    await bob.waitForMessage(
      "the removal, in plain text",
      (m) => m === "*** Message #2 in dev was removed by a moderator.",
    );
  } finally {
    bob?.close();
    terminal.stop();
    await server.stop();
  }
});
