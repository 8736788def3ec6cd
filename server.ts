/**
 * The chat server: whatever one client says is published to everyone in its room, the sender
 * included, tagged with the sender's name (if any) and address as this server saw it
 * (`alice (127.0.0.1:54321): hello`, or `127.0.0.1:54321: hello` without a name).
 *
 * Clients that ask for no subprotocol speak plain text, one message per frame, so any WebSocket
 * client (wscat, a browser's `new WebSocket`, Python `websockets`) can take part; clients that ask
 * for `chat.v1.json` get JSON events. protocol.ts describes both.
 *
 * Each room is two Bun pub/sub topics, one per format: `<room>` for plain-text clients (so the
 * first room is the topic `chat`) and `json:<room>` for JSON clients. A broadcast is encoded once
 * per format, never once per recipient.
 */
import type { Server, ServerWebSocket, SocketAddress } from "bun";
import { commandName, formatHelp, otherProgram, parseCommandLine, parsePort, runMain, UsageError } from "./cli";
import { History } from "./history";
import pkg from "./package.json";
import {
  CommandError,
  decodeCommand,
  DEFAULT_ROOM,
  describeUser,
  HELP,
  nameProblem,
  normalizeName,
  parseTyped,
  SUBPROTOCOL,
  toText,
  type ChatEvent,
  type Command,
  type User,
} from "./protocol";

const OPTIONS = [
  { flag: "host", value: "HOST", env: "HOST", default: "127.0.0.1", help: "address to listen on; :: or 0.0.0.0 for every interface" },
  { flag: "port", short: "p", value: "PORT", env: "PORT", default: "2000", help: "port to listen on; 0 picks a free one" },
  { flag: "history", value: "N", default: "50", help: "messages per room replayed to who enters it; 0 turns history off" },
  { flag: "store", value: "FILE", help: "keep history in this SQLite file, so it survives a restart (default: in memory)" },
  { flag: "quiet", short: "q", help: "do not log each message (connections are still logged)" },
  { flag: "help", short: "h", help: "show this help and exit" },
  { flag: "version", short: "v", help: "show the version and exit" },
] as const;

/** What the server keeps about each connection. */
interface Connection {
  /** `ip:port` as seen at upgrade; set by the server, never taken from the client. */
  address: string;
  name: string | null;
  room: string;
  /** True for clients that asked for `chat.v1.json`: they get JSON events, not text lines. */
  json: boolean;
  /** Name and room asked for in the URL (`?name=alice&room=dev`), applied on open. */
  asked: { name: string | null; room: string | null };
}
type Socket = ServerWebSocket<Connection>;

async function main(): Promise<void> {
  // 1. Options: flags, then environment, then defaults.
  const { values: options } = parseCommandLine(OPTIONS, process.argv.slice(2));
  if (options.help) {
    process.stdout.write(
      formatHelp(
        [`${commandName("server.ts")} [options]`],
        "Chat server: every message a client sends goes to everyone in its room, the sender\n" +
          "included, as '<sender>: <message>'. Plain-text WebSocket clients and clients of the\n" +
          `JSON subprotocol ${SUBPROTOCOL} share the rooms.`,
        OPTIONS,
      ),
    );
    return;
  }
  if (options.version) {
    process.stdout.write(`${pkg.version}\n`);
    return;
  }
  const host = options.host;
  const port = parsePort(options.port, "The port");
  if (host === "" || /\s/.test(host)) throw new UsageError(`The host must be an address such as 127.0.0.1 or ::1, not '${host}'.`);
  if (!/^\d{1,9}$/.test(options.history)) throw new UsageError(`--history must be a number of messages (0 for none), not '${options.history}'.`);

  // 2. History, in memory or in the store.
  const history = openHistory(Number(options.history), options.store);

  // 3. Listen, or say in one line why we cannot.
  const server = listen(host, port, history, options.quiet);
  const url = `ws://${hostInUrl(host)}:${server.port}`;
  log(`Listening on ${url}`);
  log(`Connect a client with: ${otherProgram("client")} ${url}`);

  // 4. Stop cleanly on Ctrl-C or a service manager's SIGTERM, with the history written out.
  for (const signal of ["SIGINT", "SIGTERM"] as const) {
    process.on(signal, () => {
      log(`Shutting down (${signal})`);
      server.stop(true);
      history.close();
      flushLog();
      process.exit(0);
    });
  }
}

function openHistory(limit: number, store: string | undefined): History {
  try {
    return new History(limit, store);
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    process.stderr.write(`${commandName("server.ts")}: Could not open the history store '${store}': ${reason}. Check the path, or leave out --store to keep history in memory.\n`);
    process.exit(1);
  }
}

function listen(host: string, port: number, history: History, quiet: boolean): Server<Connection> {
  let server: Server<Connection>;
  /** Who is in each room, in the order they came. */
  const rooms = new Map<string, Set<Socket>>([[DEFAULT_ROOM, new Set()]]);
  /** Who holds each name, by its lower-case form: names are unique regardless of case. */
  const names = new Map<string, Socket>();

  const topic = (room: string, json: boolean) => (json ? `json:${room}` : room);
  const userOf = (ws: Socket): User => ({ name: ws.data.name, address: ws.data.address });
  const send = (ws: Socket, event: ChatEvent): void => void ws.send(ws.data.json ? JSON.stringify(event) : toText(event));
  const refuse = (ws: Socket, message: string): void => send(ws, { type: "error", message });

  /**
   * Sends `event` to everyone in `room`, or everyone but `except`: `server.publish` includes the
   * sender, `ws.publish` leaves it out. Each format is encoded once, and only if someone in the
   * room uses it. The results (bytes sent, 0 dropped, -1 backpressure) are per recipient, and
   * Bun's per-connection limits handle them, so they are not checked here.
   */
  function broadcast(room: string, event: ChatEvent, except?: Socket): void {
    for (const json of [false, true]) {
      if (server.subscriberCount(topic(room, json)) === 0) continue;
      const frame = json ? JSON.stringify(event) : toText(event);
      if (except) except.publish(topic(room, json), frame);
      else server.publish(topic(room, json), frame);
    }
  }

  function notice(room: string, event: "join" | "leave" | "rename", user: User, text: string, previousName?: string | null): ChatEvent {
    return { type: "notice", room, time: new Date().toISOString(), event, user, text, ...(event === "rename" && { previousName }) };
  }

  /** Moves `ws` into `room`: leaves the old one, tells both rooms, replays the new one's history. */
  function enter(ws: Socket, room: string, { firstRoom }: { firstRoom: boolean }): void {
    const user = userOf(ws);
    if (!firstRoom) {
      const old = ws.data.room;
      ws.unsubscribe(topic(old, ws.data.json));
      rooms.get(old)?.delete(ws);
      if (old !== DEFAULT_ROOM && rooms.get(old)?.size === 0) rooms.delete(old);
      broadcast(old, notice(old, "leave", user, `${describeUser(user)} left ${old}`));
    }
    ws.data.room = room;
    const members = rooms.get(room) ?? new Set<Socket>();
    rooms.set(room, members);
    members.add(ws);
    ws.subscribe(topic(room, ws.data.json));
    broadcast(room, notice(room, "join", user, `${describeUser(user)} joined ${room}`), ws);
    const recent = history.recent(room);
    // A plain-text client entering its first room gets no greeting: the core chat had none, and
    // scripts that read its output expect only messages.
    if (ws.data.json || !firstRoom) send(ws, { type: "joined", room, members: [...members].map(userOf), history: recent.length });
    for (const event of recent) send(ws, event);
    log(`${describeUser(user)} joined ${room}`);
  }

  /** Gives `ws` the name if it is valid and free; otherwise returns why not. */
  function claimName(ws: Socket, wanted: string): string | undefined {
    const name = normalizeName(wanted);
    const problem = nameProblem(name);
    if (problem) return problem;
    const holder = names.get(name.toLowerCase());
    if (holder && holder !== ws) return `The name '${name}' is taken; choose another.`;
    if (ws.data.name === name) return `You are already ${name}.`;
    if (ws.data.name) names.delete(ws.data.name.toLowerCase());
    names.set(name.toLowerCase(), ws);
    ws.data.name = name;
    return undefined;
  }

  function rename(ws: Socket, wanted: string): void {
    const previous = ws.data.name;
    const problem = claimName(ws, wanted);
    if (problem) return refuse(ws, problem);
    const before = previous ? `${previous} (${ws.data.address})` : ws.data.address;
    broadcast(ws.data.room, notice(ws.data.room, "rename", userOf(ws), `${before} is now ${ws.data.name}`, previous));
    log(`${before} is now ${ws.data.name}`);
  }

  function perform(ws: Socket, command: Command): void {
    switch (command.type) {
      case "say":
      case "me": {
        const event = history.add({
          type: command.type === "say" ? "message" : "action",
          room: ws.data.room,
          time: new Date().toISOString(),
          from: userOf(ws),
          text: command.text,
        });
        broadcast(ws.data.room, event);
        if (!quiet) log(`${command.type === "say" ? "Message" : "Action"} from ${describeUser(event.from)} in ${event.room}: ${printable(command.text)}`);
        return;
      }
      case "nick":
        return rename(ws, command.name);
      case "join": {
        const room = normalizeName(command.room);
        const problem = nameProblem(room, "room");
        if (problem) return refuse(ws, problem);
        if (room === ws.data.room) return refuse(ws, `You are already in ${room}.`);
        return enter(ws, room, { firstRoom: false });
      }
      case "who":
        return send(ws, { type: "members", room: ws.data.room, members: [...(rooms.get(ws.data.room) ?? [])].map(userOf) });
      case "rooms": {
        const list = [...rooms].map(([name, members]) => ({ name, members: members.size }));
        list.sort((a, b) => (a.name === DEFAULT_ROOM ? -1 : b.name === DEFAULT_ROOM ? 1 : a.name.localeCompare(b.name)));
        return send(ws, { type: "rooms", rooms: list });
      }
      case "help":
        return send(ws, { type: "help", commands: HELP });
      case "quit":
        return ws.close(1000, "bye"); // RFC 6455 §7.4.1: 1000, a normal closure.
    }
  }

  try {
    server = Bun.serve<Connection>({
      hostname: host,
      port,
      fetch(request, server) {
        const address = server.requestIP(request);
        if (request.headers.get("upgrade")?.toLowerCase() === "websocket") {
          const query = new URL(request.url).searchParams;
          // RFC 6455 §4.2.2: the server picks one of the subprotocols the client offers, or none.
          const offered = (request.headers.get("sec-websocket-protocol") ?? "").split(",").map((p) => p.trim());
          const json = offered.includes(SUBPROTOCOL);
          const data: Connection = {
            address: address ? formatAddress(address) : "unknown",
            name: null,
            room: DEFAULT_ROOM,
            json,
            asked: { name: query.get("name"), room: query.get("room") },
          };
          if (server.upgrade(request, { data, headers: json ? { "Sec-WebSocket-Protocol": SUBPROTOCOL } : {} })) return;
          return new Response("Bad WebSocket handshake.\n", { status: 400 });
        }
        // RFC 7231 §6.5.15: 426 tells an HTTP client which protocol this endpoint speaks.
        return new Response(
          `This is a WebSocket chat server.\nConnect with a WebSocket client, for example:\n  ${otherProgram("client")} ws://${request.headers.get("host") ?? `${host}:${port}`}\n`,
          { status: 426, headers: { Upgrade: "websocket", "Content-Type": "text/plain; charset=utf-8" } },
        );
      },
      websocket: {
        open(ws) {
          log(`New connection from ${ws.data.address}`);
          // The name and room asked for in the URL are taken before entering, so that the room
          // hears of "alice joined", not of an address joining and then being renamed.
          const { name, room } = ws.data.asked;
          const nameRefused = name === null ? undefined : claimName(ws, name);
          const roomRefused = room === null ? undefined : nameProblem(normalizeName(room), "room");
          if (ws.data.json) send(ws, { type: "welcome", you: userOf(ws), version: pkg.version });
          if (nameRefused) refuse(ws, nameRefused);
          if (roomRefused) refuse(ws, roomRefused);
          enter(ws, room === null || roomRefused ? DEFAULT_ROOM : normalizeName(room), { firstRoom: true });
        },
        message(ws, message) {
          if (typeof message !== "string") {
            // RFC 6455 §7.4.1: 1003 is for a data type the endpoint cannot accept.
            ws.close(1003, "binary frames are not chat: send text");
            return;
          }
          let command: Command;
          try {
            command = ws.data.json ? decodeCommand(message) : parseTyped(message);
          } catch (error) {
            if (!(error instanceof CommandError)) throw error;
            return refuse(ws, error.message);
          }
          perform(ws, command);
        },
        close(ws, code, reason) {
          const { room, name } = ws.data;
          rooms.get(room)?.delete(ws);
          if (room !== DEFAULT_ROOM && rooms.get(room)?.size === 0) rooms.delete(room);
          if (name && names.get(name.toLowerCase()) === ws) names.delete(name.toLowerCase());
          broadcast(room, notice(room, "leave", userOf(ws), `${describeUser(userOf(ws))} left ${room}`));
          log(`Connection from ${describeUser(userOf(ws))} closed (${code}${reason ? ` ${printable(reason)}` : ""})`);
        },
      },
    });
    return server;
  } catch (error) {
    process.stderr.write(`${commandName("server.ts")}: ${describeListenError(error, `${hostInUrl(host)}:${port}`)}\n`);
    process.exit(1);
  }
}

function describeListenError(error: unknown, where: string): string {
  switch ((error as { code?: string }).code) {
    case "EADDRINUSE":
      return `Could not listen on ${where}: the port is already in use. Stop the other server or pick another port with --port.`;
    case "EADDRNOTAVAIL":
      return `Could not listen on ${where}: this machine has no such address. Use one of its own addresses, e.g. --host 127.0.0.1.`;
    case "EACCES":
      return `Could not listen on ${where}: permission denied. Ports below 1024 need privileges; pick a higher one with --port.`;
    case "ENOTFOUND":
      return `Could not listen on ${where}: the host name does not resolve. Use an address such as 127.0.0.1.`;
    default:
      return `Could not listen on ${where}: ${error instanceof Error ? error.message : String(error)}.`;
  }
}

/** An IPv6 address goes in brackets wherever a port follows it (RFC 3986 §3.2.2). */
function hostInUrl(host: string): string {
  return host.includes(":") ? `[${host}]` : host;
}

/** `127.0.0.1:54321`, `[::1]:54321`; an IPv4-mapped IPv6 address shows as the IPv4 it is. */
function formatAddress({ address, port }: SocketAddress): string {
  const ip = address.startsWith("::ffff:") && address.includes(".") ? address.slice(7) : address;
  return `${hostInUrl(ip)}:${port}`;
}

/** Control characters would let a client drive the operator's terminal; show them escaped. */
function printable(text: string): string {
  return text.replace(/[\u0000-\u001f\u007f-\u009f]/g, (c) => (c === "\n" ? "\\n" : `\\x${c.charCodeAt(0).toString(16).padStart(2, "0")}`));
}

// The console log. Lines are gathered and written once per event-loop turn: a write per message
// would cost more than the broadcast itself. A console nobody reads (a full pipe) must not make the
// server hold unbounded memory, so past a bound lines are counted instead of kept.
const LOG_BUFFER_LIMIT = 1 << 20;
let pendingLog = "";
let droppedLogLines = 0;

function log(line: string): void {
  if (pendingLog.length > LOG_BUFFER_LIMIT || process.stdout.writableLength > LOG_BUFFER_LIMIT) {
    droppedLogLines++;
    return;
  }
  if (pendingLog === "") setImmediate(flushLog);
  pendingLog += `${line}\n`;
}

function flushLog(): void {
  if (droppedLogLines > 0) {
    pendingLog += `(${droppedLogLines} log lines dropped: the console could not keep up)\n`;
    droppedLogLines = 0;
  }
  if (pendingLog !== "") process.stdout.write(pendingLog);
  pendingLog = "";
}

await runMain("server.ts", main);
