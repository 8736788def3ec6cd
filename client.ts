/**
 * The chat client. On a terminal it is interactive: you type at a prompt and messages from
 * everyone appear above it. Otherwise (stdin piped, CI) it is a filter: each stdin line is sent as
 * one message and each message received is printed as `From server: <message>`.
 */
import { intro, log, outro, spinner } from "@clack/prompts";
import { createInterface } from "node:readline";
import { styleText } from "node:util";
import { commandName, formatHelp, otherProgram, parseCommandLine, parsePort, runMain, UsageError } from "./cli";
import { InputLine } from "./input-line";
import pkg from "./package.json";

const OPTIONS = [
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
        [`${name} [options] [URL]`, `${name} [options] < messages.txt`],
        `Chat client. URL defaults to ${DEFAULT_URL}; 'host:port' is enough.\n` +
          "On a terminal you type messages at a prompt; /quit, Ctrl-C or Ctrl-D leaves.\n" +
          "Otherwise each line of stdin is sent as a message and each message received is\nprinted as 'From server: <message>'.",
        OPTIONS,
      ),
    );
    return;
  }
  if (options.version) {
    process.stdout.write(`${pkg.version}\n`);
    return;
  }

  // 2. Where to connect.
  const url = serverUrl(positionals[0], options.host, options.port);

  // 3. Interactive only when a person is at a terminal on both ends.
  if (process.stdin.isTTY && process.stdout.isTTY) await chatInTerminal(url);
  else await chatThroughPipes(url);
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

/** A failure to connect, already worded for the user. */
class ConnectError extends Error {}

/** Opens a WebSocket to `url`, or fails with a ConnectError that names the URL and the cause. */
function connect(url: string): Promise<WebSocket> {
  return new Promise((resolve, reject) => {
    const socket = new WebSocket(url);
    const timer = setTimeout(() => {
      socket.close();
      reject(new ConnectError(`Could not connect to ${url}: no answer within ${CONNECT_TIMEOUT_MS / 1000} s. Check the host and port.`));
    }, CONNECT_TIMEOUT_MS);
    socket.addEventListener("open", () => {
      clearTimeout(timer);
      resolve(socket);
    }, { once: true });
    socket.addEventListener("error", (event) => {
      clearTimeout(timer);
      reject(new ConnectError(`Could not connect to ${url}: ${describeConnectFailure(url, event)}`));
    }, { once: true });
  });
}

function describeConnectFailure(url: string, event: Event): string {
  const code = ((event as ErrorEvent).error as { code?: string } | undefined)?.code;
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
  const message = (event as ErrorEvent).message ?? "";
  const status = /Expected 101 status code: (\d+)/.exec(message)?.[1];
  if (status) return `the server answered with HTTP status ${status} instead of a WebSocket. Is it a chat server, and is the path right?`;
  const detail = message.replace(/^WebSocket connection to '[^']*' failed: /, "") || "the WebSocket handshake failed";
  return `${detail}${code ? ` (${code})` : ""}. Is it a chat server?`;
}

/** "code 1006 (connection lost)": what a close code means, per RFC 6455 §7.4.1. */
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

/**
 * Recognises our own messages when they come back. The server tags each message with the sender's
 * address as it saw it, which only the server knows, so we learn our tag from the first of our
 * messages that returns, matching the texts we sent in order.
 */
class OwnMessages {
  #waiting: string[] = [];
  #tag: string | undefined;

  sent(text: string): void {
    this.#waiting.push(text);
  }

  /** How many of our messages have not come back yet. */
  get waiting(): number {
    return this.#waiting.length;
  }

  /** Notes a received message; true if it is one of ours. */
  received(message: string): boolean {
    const next = this.#waiting[0];
    if (next !== undefined && message.endsWith(`: ${next}`)) {
      const tag = message.slice(0, message.length - next.length - 2);
      if (this.#tag === undefined || this.#tag === tag) {
        this.#tag = tag;
        this.#waiting.shift();
        return true;
      }
    }
    return this.#tag !== undefined && message.startsWith(`${this.#tag}: `);
  }
}

/**
 * Control characters in a message could drive the reader's terminal (clear it, move the cursor,
 * set its title); show them as U+FFFD instead. Newlines and tabs are kept.
 */
function forTerminal(text: string): string {
  return text.replace(/[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/g, "\uFFFD");
}

/**
 * Exits once what we wrote to stdout has been handed to the OS, so no output is cut off. Returns
 * at once; the exit follows within CLOSE_WAIT_MS.
 */
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

/** The interactive client: a clack session with the input line kept at the bottom. */
async function chatInTerminal(url: string): Promise<void> {
  // 1. Connect, with a spinner.
  intro(styleText("inverse", ` chat · ${url} `));
  const connecting = spinner();
  connecting.start(`Connecting to ${url}`);
  let socket: WebSocket;
  try {
    socket = await connect(url);
  } catch (error) {
    if (!(error instanceof ConnectError)) throw error;
    connecting.error(error.message);
    return exitAfterOutput(1);
  }
  connecting.stop(`Connected to ${url}`);

  // 2. The input line; what arrives is printed above it.
  const own = new OwnMessages();
  let leaving = false;
  const input = new InputLine({
    title: "Message",
    hint: "Enter sends · /quit or Ctrl-C leaves",
    onLine(line) {
      if (line.trim() === "/quit") return input.end();
      own.sent(line);
      socket.send(line);
    },
  });
  socket.addEventListener("message", ({ data }) => {
    const message = String(data);
    input.print(formatForTerminal(message, own.received(message)));
  });
  socket.addEventListener("close", (event) => {
    if (leaving) return;
    input.end();
    log.error(`Lost the connection to ${url} (${describeClose(event)}).`);
    exitAfterOutput(1);
  });

  // 3. Until the user leaves.
  await input.run();
  if (socket.readyState !== WebSocket.OPEN) return; // lost: the close handler is exiting.
  leaving = true;
  await closeNormally(socket);
  outro("Left the chat.");
  exitAfterOutput(0);
}

/** `tag: text` with the tag in colour; our own messages in a colour of their own. */
function formatForTerminal(message: string, isOwn: boolean): string {
  const split = message.indexOf(": ");
  if (split < 0) return forTerminal(message);
  const tag = message.slice(0, split);
  return `${styleText(isOwn ? "green" : "cyan", forTerminal(tag))}${styleText("dim", ":")} ${forTerminal(message.slice(split + 2))}`;
}

/** The non-interactive client: stdin lines out, `From server: …` lines in, diagnostics on stderr. */
async function chatThroughPipes(url: string): Promise<void> {
  const fail = (message: string): void => {
    process.stderr.write(`${message}\n`);
    exitAfterOutput(1);
  };

  // 1. Connect.
  let socket: WebSocket;
  try {
    socket = await connect(url);
  } catch (error) {
    if (!(error instanceof ConnectError)) throw error;
    return fail(error.message);
  }

  // 2. Print what arrives; note our own messages as they come back.
  const own = new OwnMessages();
  let echoArrived = () => {};
  const printable = process.stdout.isTTY ? forTerminal : (text: string) => text;
  socket.addEventListener("message", ({ data }) => {
    const message = String(data);
    process.stdout.write(`From server: ${printable(message)}\n`);
    if (own.received(message)) echoArrived();
  });
  let leaving = false;
  socket.addEventListener("close", (event) => {
    if (!leaving) fail(`Lost the connection to ${url} (${describeClose(event)}).`);
  });

  // 3. Send each line of stdin as one message.
  for await (const line of createInterface({ input: process.stdin, crlfDelay: Infinity })) {
    if (line.trim() === "") continue;
    own.sent(line);
    socket.send(line);
  }

  // 4. At end of input, wait for our messages to come back (while they keep coming), then leave.
  while (own.waiting > 0) {
    const arrived = await new Promise<boolean>((resolve) => {
      const timer = setTimeout(() => resolve(false), ECHO_WAIT_MS);
      echoArrived = () => {
        clearTimeout(timer);
        resolve(true);
      };
    });
    if (!arrived) {
      leaving = true;
      await closeNormally(socket);
      return fail(`${own.waiting} of the messages sent did not come back from ${url} within ${ECHO_WAIT_MS / 1000} s; they may not have been delivered.`);
    }
  }
  leaving = true;
  await closeNormally(socket);
  exitAfterOutput(0);
}

await runMain("client.ts", main);
