/**
 * The chat client, in three modes:
 * - On a terminal it is interactive: it asks for a name, then you type at a prompt and what is
 *   said in your room appears above it, with names in colour and local times.
 * - Otherwise (stdin or stdout not a terminal) it is a filter: each stdin line is sent as one
 *   message (or command, like `/nick bot`) and each line received is printed as
 *   `From server: <line>`, as the original exercise's client did.
 * - With --json it prints every event as one JSON object per line (NDJSON), for scripts.
 *
 * All three speak chat.v1.json through a ChatSession (connection.ts), which reconnects by itself
 * after a drop and resumes where it left off.
 */
import { cancel, intro, isCancel, log, outro, spinner, text } from "@clack/prompts";
import { createInterface } from "node:readline";
import { styleText } from "node:util";
import { commandName, formatHelp, parseCommandLine, parsePort, runMain, UsageError } from "./cli";
import { ChatSession, ConnectError, type SessionOptions, type Status } from "./connection";
import { InputLine } from "./input-line";
import pkg from "./package.json";
import { CommandError, nameProblem, normalizeName, parseTyped, toText, type ChatEvent } from "./protocol";
import { forTerminal, TerminalView } from "./terminal-view";

const OPTIONS = [
  { flag: "name", short: "n", value: "NAME", help: "your name in the chat (on a terminal you are asked otherwise)" },
  { flag: "room", short: "r", value: "ROOM", help: "the room to join (default chat)" },
  { flag: "json", help: "print every event as one JSON object per line, for scripts" },
  { flag: "host", value: "HOST", help: "server host, instead of a URL (default 127.0.0.1)" },
  { flag: "port", short: "p", value: "PORT", help: "server port, instead of a URL (default 2000)" },
  { flag: "token", value: "TOKEN", env: "CHAT_TOKEN", help: "the shared secret, if the server wants one" },
  { flag: "ca", value: "FILE", help: "trust this certificate (PEM) for wss://, e.g. a self-signed one" },
  { flag: "no-reconnect", help: "exit when the connection drops instead of reconnecting" },
  { flag: "help", short: "h", help: "show this help and exit" },
  { flag: "version", short: "v", help: "show the version and exit" },
] as const;

const DEFAULT_URL = "ws://127.0.0.1:2000";
/** At end of input, how long to wait without any progress for everything sent to be answered. */
const SETTLE_QUIET_MS = 5_000;
/** How long to let stdout drain before exiting anyway. */
const EXIT_WAIT_MS = 1_000;

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
          "command such as /nick bot) and each line received is printed as 'From server: <line>'.\n" +
          "After a dropped connection it reconnects and resumes where it left off.",
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
  const session: SessionOptions = {
    url: serverUrl(positionals[0], options.host, options.port),
    ...(options.name !== undefined && { name: checkedName(options.name, "--name", "name") }),
    ...(options.room !== undefined && { room: checkedName(options.room, "--room", "room") }),
    ...(options.token !== undefined && { token: options.token }),
    ...(options.ca !== undefined && { ca: await readCa(options.ca) }),
    reconnect: !options["no-reconnect"],
  };

  // 3. Interactive only when a person is at a terminal on both ends.
  if (options.json) await chatAsNdjson(session);
  else if (process.stdin.isTTY && process.stdout.isTTY) await chatInTerminal(session);
  else await chatThroughPipes(session);
}

function checkedName(given: string, flag: string, what: "name" | "room"): string {
  const value = normalizeName(given);
  const problem = nameProblem(value, what);
  if (problem) throw new UsageError(`${flag}: ${problem}`);
  return value;
}

async function readCa(file: string): Promise<string> {
  try {
    return await Bun.file(file).text();
  } catch (error) {
    throw new UsageError(`--ca '${file}' could not be read: ${(error as { code?: string }).code ?? String(error)}.`);
  }
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

/** Exits once what we wrote to stdout has been handed to the OS, so no output is cut off. */
function exitAfterOutput(code: number): void {
  process.stdout.write("", () => process.exit(code));
  setTimeout(() => process.exit(code), EXIT_WAIT_MS).unref();
}

/** Opens the session, or says why not (on stderr, or through `report`) and exits. */
async function openOrExit(options: SessionOptions, report: (message: string) => void = (message) => void process.stderr.write(`${message}\n`)): Promise<ChatSession | undefined> {
  try {
    return await ChatSession.open(options);
  } catch (error) {
    if (!(error instanceof ConnectError)) throw error;
    report(error.message);
    exitAfterOutput(error.exitCode);
    return undefined;
  }
}

// ---------------------------------------------------------------------------------------------
// The interactive client.

/** A clack session: intro, a name, a spinner while connecting, then the input line until you leave. */
async function chatInTerminal(options: SessionOptions): Promise<void> {
  intro(styleText("inverse", ` chat · ${options.url} `));

  // 1. A name, unless given: Enter keeps just the address.
  if (options.name === undefined) {
    const answer = await text({
      message: "Your name",
      placeholder: "Enter to go by your address only",
      validate: (value) => (value && value.trim() !== "" ? nameProblem(normalizeName(value)) : undefined),
    });
    if (isCancel(answer)) {
      cancel("Not connected.");
      return exitAfterOutput(0);
    }
    if (answer.trim() !== "") options = { ...options, name: normalizeName(answer) };
  }

  // 2. Connect.
  const connecting = spinner();
  connecting.start(`Connecting to ${options.url}`);
  const session = await openOrExit(options, (message) => connecting.error(message));
  if (!session) return;
  connecting.stop(`Connected to ${options.url}`);

  // 3. The input line; what arrives is printed above it, and so is what happens to the connection.
  const view = new TerminalView();
  let reconnecting: { attempt: number; frame: number; timer: Timer } | undefined;
  const input = new InputLine({
    title: "Message",
    hint: "Enter sends · /help lists commands · /quit leaves",
    onLine(line) {
      let command;
      try {
        command = parseTyped(line);
      } catch (error) {
        if (!(error instanceof CommandError)) throw error;
        return input.print(styleText("yellow", error.message), styleText("yellow", "▲"));
      }
      if (command.type === "quit") return input.end();
      session.send(command);
    },
  });
  const SPINNER = ["◒", "◐", "◓", "◑"];
  const retitle = () =>
    input.retitle(reconnecting ? `${view.title()} · ${SPINNER[reconnecting.frame % SPINNER.length]} reconnecting (attempt ${reconnecting.attempt})` : view.title());
  let ended: Extract<Status, { type: "ended" }> | undefined;
  const onEvent = (event: ChatEvent) => {
    const shown = view.render(event);
    if (shown) input.print(shown.text, shown.gutter);
    retitle();
  };
  session.listen(onEvent, (status) => {
    const warn = (message: string) => input.print(styleText("yellow", message), styleText("yellow", "▲"));
    switch (status.type) {
      case "lost":
        if (!reconnecting) {
          warn(`Connection lost (${status.reason}). Reconnecting; what you type waits.`);
          reconnecting = { attempt: status.attempt, frame: 0, timer: setInterval(() => (reconnecting && reconnecting.frame++, retitle()), 150) };
        }
        reconnecting.attempt = status.attempt;
        return retitle();
      case "reconnected":
        clearInterval(reconnecting?.timer);
        reconnecting = undefined;
        input.print(styleText("green", `Reconnected to ${options.url}.`), styleText("green", "✓"));
        return retitle();
      case "not-sent":
        return warn(`${status.count} message${status.count === 1 ? " was" : "s were"} not sent: ${status.why}.`);
      case "ended":
        clearInterval(reconnecting?.timer);
        ended = status;
        return input.end();
    }
  });

  // 4. Until the user leaves, or the connection is over for good.
  await input.run();
  if (ended) {
    log.error(ended.message);
    return exitAfterOutput(ended.exitCode);
  }
  await session.close();
  outro("Left the chat.");
  exitAfterOutput(0);
}

// ---------------------------------------------------------------------------------------------
// The filters: plain text through pipes, and NDJSON for scripts.

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

/**
 * Sends each stdin line, has `print` show each event, and tells on stderr what happens to the
 * connection. At end of input it waits until everything sent has been answered, then leaves.
 */
async function relayStdin(options: SessionOptions, print: (event: ChatEvent, raw: string) => void): Promise<void> {
  const session = await openOrExit(options);
  if (!session) return;
  const say = (line: string) => process.stderr.write(`${line}\n`);
  session.listen(print, (status) => {
    switch (status.type) {
      case "lost":
        return say(`Connection lost (${status.reason}); reconnecting in ${(status.delayMs / 1000).toFixed(1)} s (attempt ${status.attempt}).`);
      case "reconnected":
        return say(`Reconnected to ${session.shownUrl}.`);
      case "not-sent":
        return say(`${status.count} message${status.count === 1 ? " was" : "s were"} not sent: ${status.why}.`);
      case "ended":
        say(status.message);
        return exitAfterOutput(status.exitCode);
    }
  });

  for await (const line of createInterface({ input: process.stdin, crlfDelay: Infinity })) {
    if (line.trim() === "") continue;
    if (line.trim() === "/quit") break;
    try {
      session.sendTyped(line);
    } catch (error) {
      if (!(error instanceof CommandError)) throw error;
      say(error.message);
    }
  }

  const answered = await session.settle(SETTLE_QUIET_MS);
  const pending = session.pending;
  await session.close();
  if (!answered) {
    say(`${session.shownUrl} stopped answering for ${SETTLE_QUIET_MS / 1000} s; ${pending} of the messages sent had not come back.`);
    return exitAfterOutput(1);
  }
  if (pending > 0) {
    say(`${pending} of the messages sent did not come back from ${session.shownUrl}; they were not delivered.`);
    return exitAfterOutput(1);
  }
  exitAfterOutput(0);
}

/**
 * Plain text: `From server: <line>`, each event as the server words it for plain-text clients.
 * Like a plain-text client, it shows no greeting; a note about missed messages goes to stderr.
 */
async function chatThroughPipes(options: SessionOptions): Promise<void> {
  const printable = process.stdout.isTTY ? forTerminal : (text: string) => text;
  let rooms = 0;
  let lastRoom: string | undefined;
  await relayStdin(options, (event) => {
    if (event.type === "welcome") return;
    if (event.type === "joined") {
      if (event.missed) process.stderr.write(`${event.missed} message${event.missed === 1 ? " was" : "s were"} missed while disconnected, too far back for the server's history.\n`);
      // The first room, and the same room again after a reconnection, are not news; a /join is.
      if (rooms++ === 0 || event.room === lastRoom) return void (lastRoom = event.room);
      lastRoom = event.room;
    }
    output(`From server: ${printable(toText(event))}`);
  });
}

/** NDJSON: every event as the server sent it, one per line. */
async function chatAsNdjson(options: SessionOptions): Promise<void> {
  await relayStdin(options, (_event, raw) => output(raw));
}

await runMain("client.ts", main);
