/**
 * The chat client, in three modes:
 * - On a terminal it is interactive: it asks for a name, then you type at a prompt and what is
 *   said in your room appears above it, with names in colour and local times. It speaks the JSON
 *   protocol (chat.v1.json).
 * - Otherwise (stdin or stdout not a terminal) it is a filter: each stdin line is sent as one
 *   message (or command, like `/nick bot`) and each line received is printed as
 *   `From server: <line>`. It speaks plain text, as the original exercise's client did.
 * - With --json it prints every event as one JSON object per line (NDJSON), for scripts.
 */
import { cancel, intro, isCancel, log, outro, spinner, text } from "@clack/prompts";
import { createInterface } from "node:readline";
import { styleText } from "node:util";
import { commandName, formatHelp, otherProgram, parseCommandLine, parsePort, runMain, UsageError } from "./cli";
import { InputLine } from "./input-line";
import { forTerminal, TerminalView } from "./terminal-view";
import pkg from "./package.json";
import { CommandError, nameProblem, normalizeName, parseTyped, SUBPROTOCOL, type ChatEvent, type Command } from "./protocol";

const OPTIONS = [
  { flag: "name", short: "n", value: "NAME", help: "your name in the chat (on a terminal you are asked otherwise)" },
  { flag: "room", short: "r", value: "ROOM", help: "the room to join (default chat)" },
  { flag: "json", help: "print every event as one JSON object per line, for scripts" },
  { flag: "host", value: "HOST", help: "server host, instead of a URL (default 127.0.0.1)" },
  { flag: "port", short: "p", value: "PORT", help: "server port, instead of a URL (default 2000)" },
  { flag: "help", short: "h", help: "show this help and exit" },
  { flag: "version", short: "v", help: "show the version and exit" },
] as const;

const DEFAULT_URL = "ws://127.0.0.1:2000";
/** How long to wait for the server to accept the connection. */
const CONNECT_TIMEOUT_MS = 10_000;
/** At end of input, how long to wait for the next of our own messages to come back. */
const ECHO_WAIT_MS = 5_000;
/** How long to wait for the server's answer to our close frame before leaving anyway. */
const CLOSE_WAIT_MS = 1_000;

async function main(): Promise<void> {
  // 1. Options.
  const { values: options, positionals } = parseCommandLine(OPTIONS, process.argv.slice(2), { positionals: 1 });
  if (options.help) {
    const name = commandName("client.ts");
    process.stdout.write(
      formatHelp(
        [`${name} [options] [URL]`, `${name} [options] < messages.txt`, `${name} --json [options] [URL]`],
        `Chat client. URL defaults to ${DEFAULT_URL}; 'host:port' is enough.\n` +
          "On a terminal you type messages at a prompt; /help lists the commands, and /quit,\n" +
          "Ctrl-C or Ctrl-D leaves. Otherwise each line of stdin is sent as a message (or a\n" +
          "command such as /nick bot) and each line received is printed as 'From server: <line>'.",
        OPTIONS,
      ),
    );
    return;
  }
  if (options.version) {
    process.stdout.write(`${pkg.version}\n`);
    return;
  }

  // 2. Where to connect, and as whom.
  const url = serverUrl(positionals[0], options.host, options.port);
  const name = options.name === undefined ? undefined : checkedName(options.name, "--name", "name");
  const room = options.room === undefined ? undefined : checkedName(options.room, "--room", "room");

  // 3. Interactive only when a person is at a terminal on both ends.
  if (options.json) await chatAsNdjson(withIdentity(url, name, room));
  else if (process.stdin.isTTY && process.stdout.isTTY) await chatInTerminal(url, name, room);
  else await chatThroughPipes(withIdentity(url, name, room));
}

function checkedName(given: string, flag: string, what: "name" | "room"): string {
  const value = normalizeName(given);
  const problem = nameProblem(value, what);
  if (problem) throw new UsageError(`${flag}: ${problem}`);
  return value;
}

/** The server's URL from the positional argument or --host/--port; `host:port` gets `ws://`. */
function serverUrl(given: string | undefined, host: string | undefined, port: string | undefined): string {
  if (given !== undefined && (host !== undefined || port !== undefined)) {
    throw new UsageError("Give either a URL or --host/--port, not both.");
  }
  if (given === undefined) {
    const url = new URL(DEFAULT_URL);
    if (host !== undefined) url.hostname = host.includes(":") && !host.startsWith("[") ? `[${host}]` : host;
    if (port !== undefined) url.port = String(parsePort(port, "The port"));
    return url.href.replace(/\/$/, "");
  }
  const withScheme = /^[a-z][a-z0-9+.-]*:\/\//i.test(given) ? given : `ws://${given}`;
  let url: URL;
  try {
    url = new URL(withScheme.replace(/^http(s?):/i, "ws$1:"));
  } catch {
    throw new UsageError(`'${given}' is not a valid URL; expected something like ${DEFAULT_URL}.`);
  }
  if (url.protocol !== "ws:" && url.protocol !== "wss:") {
    throw new UsageError(`'${given}' is not a WebSocket URL; use ws:// or wss://, e.g. ${DEFAULT_URL}.`);
  }
  // new URL() adds a "/" path; leave it off when the user did, so messages show the URL as typed.
  const bare = url.pathname === "/" && url.search === "" && url.hash === "" && !given.endsWith("/");
  return bare ? url.href.slice(0, -1) : url.href;
}

/** The server takes the name and room to start with from the URL: `?name=alice&room=dev`. */
function withIdentity(url: string, name: string | undefined, room: string | undefined): string {
  if (name === undefined && room === undefined) return url;
  const withQuery = new URL(url);
  if (name !== undefined) withQuery.searchParams.set("name", name);
  if (room !== undefined) withQuery.searchParams.set("room", room);
  return withQuery.href;
}

/** The URL without the query, for messages to the user. */
const shown = (url: string) => url.replace(/\/?\?.*$/, "");

/** A failure to connect, already worded for the user. */
class ConnectError extends Error {}

/** Opens a WebSocket to `url`, or fails with a ConnectError that names the URL and the cause. */
function connect(url: string, protocol?: string): Promise<WebSocket> {
  return new Promise((resolve, reject) => {
    const socket = protocol ? new WebSocket(url, protocol) : new WebSocket(url);
    const timer = setTimeout(() => {
      socket.close();
      reject(new ConnectError(`Could not connect to ${shown(url)}: no answer within ${CONNECT_TIMEOUT_MS / 1000} s. Check the host and port.`));
    }, CONNECT_TIMEOUT_MS);
    socket.addEventListener("open", () => {
      clearTimeout(timer);
      if (protocol && socket.protocol !== protocol) {
        socket.close();
        reject(new ConnectError(`Could not connect to ${shown(url)}: the server does not speak ${protocol}. Is it a chat server of version 0.2 or later?`));
      } else resolve(socket);
    }, { once: true });
    socket.addEventListener("error", (event) => {
      clearTimeout(timer);
      reject(new ConnectError(`Could not connect to ${shown(url)}: ${describeConnectFailure(url, event)}`));
    }, { once: true });
  });
}

function describeConnectFailure(url: string, event: Event): string {
  const code = ((event as globalThis.ErrorEvent).error as { code?: string } | undefined)?.code;
  const { hostname, port } = new URL(url);
  const local = /^(localhost|127\.[\d.]+|\[::1\])$/.test(hostname);
  switch (code) {
    case "ECONNREFUSED":
      return local
        ? `connection refused. Is the server running? Start one with: ${otherProgram("server")} --port ${port || 80}`
        : "connection refused. Is the server running, and is the port right?";
    case "ENOTFOUND":
    case "EAI_NONAME":
      return `the host '${hostname}' was not found. Check its spelling.`;
    case "ETIMEDOUT":
      return "the connection timed out. Check the host and port, and any firewall between.";
    case "ECONNRESET":
      return "the server closed the connection during the handshake. Is it a chat server?";
    case "EHOSTUNREACH":
    case "ENETUNREACH":
      return "the host cannot be reached from here.";
  }
  // Bun words a refused handshake "WebSocket connection to '<url>' failed: Expected 101 status code: 404".
  const message = (event as globalThis.ErrorEvent).message ?? "";
  const status = /Expected 101 status code: (\d+)/.exec(message)?.[1];
  if (status) return `the server answered with HTTP status ${status} instead of a WebSocket. Is it a chat server, and is the path right?`;
  const detail = message.replace(/^WebSocket connection to '[^']*' failed: /, "") || "the WebSocket handshake failed";
  return `${detail}${code ? ` (${code})` : ""}. Is it a chat server?`;
}

/** "code 1006, connection lost without a close frame": a close code and its meaning (RFC 6455 §7.4.1). */
function describeClose({ code, reason }: CloseEvent): string {
  const meanings: Record<number, string> = {
    1000: "normal closure",
    1001: "server going away",
    1003: "unsupported data",
    1006: "connection lost without a close frame",
    1008: "policy violation",
    1009: "message too big",
    1011: "server error",
    1013: "try again later",
  };
  const meaning = reason || meanings[code];
  return `code ${code}${meaning ? `, ${meaning}` : ""}`;
}

/** Exits once what we wrote to stdout has been handed to the OS, so no output is cut off. */
function exitAfterOutput(code: number): void {
  process.stdout.write("", () => process.exit(code));
  setTimeout(() => process.exit(code), CLOSE_WAIT_MS).unref();
}

/** Sends a close frame (1000, RFC 6455 §7.4.1) and waits, briefly, for the server's reply. */
function closeNormally(socket: WebSocket): Promise<void> {
  return new Promise((resolve) => {
    if (socket.readyState === WebSocket.CLOSED) return resolve();
    socket.addEventListener("close", () => resolve(), { once: true });
    setTimeout(resolve, CLOSE_WAIT_MS);
    socket.close(1000, "bye");
  });
}

// ---------------------------------------------------------------------------------------------
// The interactive client.

/** A clack session: intro, a name, a spinner while connecting, then the input line until you leave. */
async function chatInTerminal(url: string, askedName: string | undefined, room: string | undefined): Promise<void> {
  intro(styleText("inverse", ` chat · ${url} `));

  // 1. A name, unless given: Enter keeps just the address.
  let name = askedName;
  if (name === undefined) {
    const answer = await text({
      message: "Your name",
      placeholder: "Enter to go by your address only",
      validate: (value) => (value && value.trim() !== "" ? nameProblem(normalizeName(value)) : undefined),
    });
    if (isCancel(answer)) {
      cancel("Not connected.");
      return exitAfterOutput(0);
    }
    name = answer.trim() === "" ? undefined : normalizeName(answer);
  }

  // 2. Connect.
  const connecting = spinner();
  connecting.start(`Connecting to ${url}`);
  let socket: WebSocket;
  try {
    socket = await connect(withIdentity(url, name, room), SUBPROTOCOL);
  } catch (error) {
    if (!(error instanceof ConnectError)) throw error;
    connecting.error(error.message);
    return exitAfterOutput(1);
  }
  connecting.stop(`Connected to ${url}`);

  // 3. The input line; what arrives is printed above it.
  const view = new TerminalView();
  let leaving = false;
  const input = new InputLine({
    title: "Message",
    hint: "Enter sends · /help lists commands · /quit leaves",
    onLine(line) {
      let command: Command;
      try {
        command = parseTyped(line);
      } catch (error) {
        if (!(error instanceof CommandError)) throw error;
        return input.print(styleText("yellow", error.message), styleText("yellow", "▲"));
      }
      if (command.type === "quit") return input.end();
      socket.send(JSON.stringify(command));
    },
  });
  socket.addEventListener("message", ({ data }) => {
    const event = JSON.parse(String(data)) as ChatEvent;
    const shown = view.render(event);
    if (shown) input.print(shown.text, shown.gutter);
    input.retitle(view.title());
  });
  socket.addEventListener("close", (event) => {
    if (leaving) return;
    input.end();
    log.error(`Lost the connection to ${url} (${describeClose(event)}).`);
    exitAfterOutput(1);
  });

  // 4. Until the user leaves.
  await input.run();
  if (socket.readyState !== WebSocket.OPEN) return; // lost: the close handler is exiting.
  leaving = true;
  await closeNormally(socket);
  outro("Left the chat.");
  exitAfterOutput(0);
}

// ---------------------------------------------------------------------------------------------
// The filters: plain text through pipes, and NDJSON for scripts.

/**
 * Recognises our own messages when they come back over the plain-text protocol, to tell the user
 * if some never did. The server tags each message with the sender's address as it saw it, which
 * only it knows, so we match the texts we sent, in order.
 */
class OwnMessages {
  #waiting: string[] = [];

  sent(text: string): void {
    this.#waiting.push(text);
  }

  /** How many of our messages have not come back yet. */
  get waiting(): number {
    return this.#waiting.length;
  }

  /** Notes a received line; true if it is the next of ours. */
  received(line: string): boolean {
    const next = this.#waiting[0];
    if (next === undefined || !line.endsWith(`: ${next}`)) return false;
    this.#waiting.shift();
    return true;
  }
}

/**
 * Sends each stdin line (`send` returns false to stop reading) and prints each frame received. At
 * end of input it makes sure everything sent has been answered before leaving: a WebSocket ping's
 * pong comes back after every frame the server sent in reply to earlier ones, since it handles
 * frames in order. It waits for the pong as long as frames keep arriving, ECHO_WAIT_MS at most
 * between two. `unconfirmed` counts our messages that have not come back.
 */
async function relayStdin(url: string, socket: WebSocket, send: (line: string) => boolean, print: (frame: string) => void, unconfirmed: () => number): Promise<void> {
  const fail = (message: string): void => {
    process.stderr.write(`${message}\n`);
    exitAfterOutput(1);
  };
  let progress = () => {};
  socket.addEventListener("message", ({ data }) => {
    print(String(data));
    progress();
  });
  let leaving = false;
  socket.addEventListener("close", (event) => {
    if (!leaving) fail(`Lost the connection to ${shown(url)} (${describeClose(event)}).`);
  });

  for await (const line of createInterface({ input: process.stdin, crlfDelay: Infinity })) {
    if (line.trim() !== "" && !send(line)) break;
  }

  const answered = await new Promise<boolean>((resolve) => {
    let timer = setTimeout(() => resolve(false), ECHO_WAIT_MS);
    progress = () => {
      clearTimeout(timer);
      timer = setTimeout(() => resolve(false), ECHO_WAIT_MS);
    };
    socket.addEventListener("pong", () => (clearTimeout(timer), resolve(true)), { once: true });
    socket.ping();
  });
  leaving = true;
  await closeNormally(socket);
  if (!answered) return fail(`${shown(url)} stopped answering for ${ECHO_WAIT_MS / 1000} s; ${unconfirmed()} of the messages sent had not come back.`);
  if (unconfirmed() > 0) return fail(`${unconfirmed()} of the messages sent did not come back from ${shown(url)}; they were not delivered.`);
  exitAfterOutput(0);
}

/**
 * Writes a line of a filter's output. When whoever reads it has gone (`| head -3`), there is no
 * one left to chat for: leave quietly, as Unix filters do, instead of failing on EPIPE.
 */
function output(line: string): void {
  try {
    process.stdout.write(`${line}\n`);
  } catch (error) {
    if ((error as { code?: string }).code !== "EPIPE") throw error;
    process.exit(0);
  }
}
process.stdout.on("error", (error: NodeJS.ErrnoException) => {
  if (error.code !== "EPIPE") throw error;
  process.exit(0);
});

/** Connects, or says why not on stderr and exits 1. */
async function connectOrExit(url: string, protocol?: string): Promise<WebSocket | undefined> {
  try {
    return await connect(url, protocol);
  } catch (error) {
    if (!(error instanceof ConnectError)) throw error;
    process.stderr.write(`${error.message}\n`);
    exitAfterOutput(1);
    return undefined;
  }
}

/** Plain text: stdin lines out, `From server: …` lines in, diagnostics on stderr. */
async function chatThroughPipes(url: string): Promise<void> {
  const socket = await connectOrExit(url);
  if (!socket) return;
  const own = new OwnMessages();
  const printable = process.stdout.isTTY ? forTerminal : (text: string) => text;
  await relayStdin(
    url,
    socket,
    (line) => {
      if (line.trim() === "/quit") return false;
      // Commands (`/nick bot`) are not echoed, so only messages are waited for at the end.
      if (!line.startsWith("/") || line.startsWith("//")) own.sent(line.startsWith("//") ? line.slice(1) : line);
      socket.send(line);
      return true;
    },
    (frame) => {
      own.received(frame);
      output(`From server: ${printable(frame)}`);
    },
    () => own.waiting,
  );
}

/** NDJSON: stdin lines out (as messages or /commands), every event in as one line of JSON. */
async function chatAsNdjson(url: string): Promise<void> {
  const socket = await connectOrExit(url, SUBPROTOCOL);
  if (!socket) return;
  let me: string | undefined;
  let waiting = 0;
  await relayStdin(
    url,
    socket,
    (line) => {
      let command: Command;
      try {
        command = parseTyped(line);
      } catch (error) {
        if (!(error instanceof CommandError)) throw error;
        process.stderr.write(`${error.message}\n`);
        return true;
      }
      if (command.type === "quit") return false;
      if (command.type === "say" || command.type === "me") waiting++;
      socket.send(JSON.stringify(command));
      return true;
    },
    (frame) => {
      const event = JSON.parse(frame) as ChatEvent;
      if (event.type === "welcome") me = event.you.address;
      if ((event.type === "message" || event.type === "action") && !event.history && event.from.address === me) waiting--;
      output(frame);
    },
    () => waiting,
  );
}

await runMain("client.ts", main);
