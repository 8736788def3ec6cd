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
 *
 * It faces the open network: every limit below has a flag, and a hostile or slow client is refused
 * or closed without hurting the others.
 */
import type { Server, ServerWebSocket, SocketAddress } from "bun";
import { timingSafeEqual } from "node:crypto";
import { commandName, formatHelp, otherProgram, parseCommandLine, parsePort, runMain, UsageError } from "./cli";
import { Backplane } from "./backplane";
import { History } from "./history";
import pkg from "./package.json";
import page from "./web/index.html";
import {
  cleanText,
  CommandError,
  decodeCommand,
  DEFAULT_ROOM,
  escapeControls,
  describeUser,
  HELP,
  nameProblem,
  normalizeName,
  parseTyped,
  SUBPROTOCOL,
  JOINED_MEMBERS,
  toText,
  type ChatEvent,
  type Command,
  type NoticeEvent,
  type SaidEvent,
  type User,
} from "./protocol";

const OPTIONS = [
  { flag: "host", value: "HOST", env: "HOST", default: "127.0.0.1", help: "address to listen on; :: or 0.0.0.0 for every interface" },
  { flag: "port", short: "p", value: "PORT", env: "PORT", default: "2000", help: "port to listen on; 0 picks a free one" },
  { flag: "history", value: "N", default: "50", help: "messages per room replayed to who enters it; 0 turns history off" },
  { flag: "store", value: "FILE", help: "keep history in this SQLite file, so it survives a restart (default: in memory)" },
  { flag: "max-message", value: "BYTES", default: "65536", help: "longest message; a longer one is refused" },
  { flag: "max-frame", value: "BYTES", default: "1048576", help: "largest WebSocket frame; a larger one closes the connection (1009)" },
  { flag: "rate", value: "N", default: "5", help: "messages a second one connection may send on average; 0 for no limit" },
  { flag: "burst", value: "N", default: "20", help: "messages one connection may send at once before --rate applies" },
  { flag: "max-clients", value: "N", default: "1000", help: "connections in all; more are answered 503" },
  { flag: "max-per-ip", value: "N", default: "50", help: "connections from one IP address; more are answered 429" },
  { flag: "max-backlog", value: "BYTES", default: "8388608", help: "unsent bytes a slow reader may have waiting before it is closed (1013)" },
  { flag: "announce-limit", value: "N", default: "100", help: "announce joins and leaves only in rooms of up to N people; bigger rooms would drown in them" },
  { flag: "idle-timeout", value: "SECONDS", default: "60", help: "close a connection silent this long; pings keep live ones alive" },
  { flag: "allow-origin", value: "ORIGINS", help: "web origins allowed besides the server's own, comma-separated; * for any" },
  { flag: "token", value: "TOKEN", env: "CHAT_TOKEN", help: "a shared secret clients must present (Authorization: Bearer, or ?token=)" },
  { flag: "tls-cert", value: "FILE", help: "serve wss:// with this certificate (PEM); needs --tls-key" },
  { flag: "tls-key", value: "FILE", help: "the certificate's private key (PEM)" },
  { flag: "redis", value: "URL", env: "REDIS_URL", help: "share the chat with other instances through this Redis, e.g. redis://127.0.0.1:6379" },
  { flag: "reuse-port", help: "let several instances listen on one port (SO_REUSEPORT), to use every core" },
  { flag: "quiet", short: "q", help: "do not log each message (connections are still logged)" },
  { flag: "help", short: "h", help: "show this help and exit" },
  { flag: "version", short: "v", help: "show the version and exit" },
] as const;

/** The server's limits, from the options. */
interface Limits {
  maxMessage: number;
  maxFrame: number;
  /** Messages a second (0: no limit) and the bucket's size. */
  rate: number;
  burst: number;
  maxClients: number;
  maxPerIp: number;
  maxBacklog: number;
  /** Rooms bigger than this hear no joins and leaves. */
  announceLimit: number;
  idleTimeout: number;
  allowedOrigins: Set<string>;
  token: string | undefined;
}

/** What the server keeps about each connection. */
interface Connection {
  /** `ip:port` as seen at upgrade; set by the server, never taken from the client. */
  address: string;
  ip: string;
  name: string | null;
  room: string;
  /** True for clients that asked for `chat.v1.json`: they get JSON events, not text lines. */
  json: boolean;
  /** Name, room and last sequence number seen, asked for in the URL (`?name=alice&room=dev&since=41`). */
  asked: { name: string | null; room: string | null; since: number | null };
  /** Frames received while the client's name is being claimed in Redis, before it enters. */
  held?: string[];
  /** Token bucket for --rate: what is left, when it was last filled, and refusals in a row. */
  tokens: number;
  filledAt: number;
  refusedInARow: number;
}
type Socket = ServerWebSocket<Connection>;

/** The two formats of a room's topics: plain text (false) and JSON (true). */
const FORMATS = [false, true] as const;
/** Frames a client may send before it has entered its first room (while its name is claimed). */
const HELD_FRAMES = 100;
/** A client refused this many messages in a row for going too fast is flooding: it is closed. */
const FLOOD_REFUSALS = 20;
/** How often all readers are looked over for a backlog (a broadcast checks its room at once). */
const BACKLOG_CHECK_MS = 250;
/** Bun's hard limit on a reader's backlog, as a multiple of --max-backlog. */
const BACKSTOP = 4;
/** On SIGINT/SIGTERM, how long clients get to take their close frames before the process exits. */
const SHUTDOWN_GRACE_MS = 2_000;

async function main(): Promise<void> {
  // 1. Options: flags, then environment, then defaults.
  const { values: options } = parseCommandLine(OPTIONS, process.argv.slice(2));
  if (options.help) {
    process.stdout.write(
      formatHelp(
        [`${commandName("server.ts")} [options]`],
        "Chat server: every message a client sends goes to everyone in its room, the sender\n" +
          "included, as '<sender>: <message>'. Plain-text WebSocket clients and clients of the\n" +
          `JSON subprotocol ${SUBPROTOCOL} share the rooms. GET /healthz and /metrics report on it.`,
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
  const count = (flag: string, text: string, min = 0) => {
    if (!/^\d{1,12}$/.test(text) || Number(text) < min) throw new UsageError(`--${flag} must be a whole number${min ? ` of at least ${min}` : ""}, not '${text}'.`);
    return Number(text);
  };
  const limits: Limits = {
    maxMessage: count("max-message", options["max-message"], 1),
    maxFrame: count("max-frame", options["max-frame"], 1),
    rate: count("rate", options.rate),
    burst: count("burst", options.burst, 1),
    maxClients: count("max-clients", options["max-clients"], 1),
    maxPerIp: count("max-per-ip", options["max-per-ip"], 1),
    maxBacklog: count("max-backlog", options["max-backlog"], 1024),
    announceLimit: count("announce-limit", options["announce-limit"]),
    idleTimeout: count("idle-timeout", options["idle-timeout"], 1),
    allowedOrigins: new Set((options["allow-origin"] ?? "").split(",").map((o) => o.trim().replace(/\/$/, "")).filter(Boolean)),
    token: options.token,
  };
  if (limits.maxFrame < limits.maxMessage) throw new UsageError(`--max-frame (${limits.maxFrame}) must be at least --max-message (${limits.maxMessage}).`);
  if (limits.idleTimeout > 960) throw new UsageError(`--idle-timeout can be at most 960 seconds, not ${limits.idleTimeout}.`);
  if ((options["tls-cert"] === undefined) !== (options["tls-key"] === undefined)) throw new UsageError("--tls-cert and --tls-key go together: give both or neither.");
  const tls = options["tls-cert"] && options["tls-key"] ? await readTls(options["tls-cert"], options["tls-key"]) : undefined;

  // 2. History, in memory or in the store.
  const history = openHistory(Number(count("history", options.history)), options.store);

  // 3. Listen, or say in one line why we cannot; with --redis, join the other instances.
  const backplane = options.redis ? new Backplane(options.redis, Number(options.history)) : undefined;
  const chat = listen(host, port, { history, limits, tls, backplane, reusePort: options["reuse-port"], quiet: options.quiet });
  const url = `${tls ? "wss" : "ws"}://${hostInUrl(host)}:${chat.server.port}`;
  log(`Listening on ${url}`);
  log(`Connect a client with: ${otherProgram("client")} ${url}`);
  log(`Or open ${url.replace(/^ws/, "http")}/ in a browser`);

  // 4. Stop cleanly on Ctrl-C or a service manager's SIGTERM: tell everyone, close with 1001,
  //    write out the history, and exit within SHUTDOWN_GRACE_MS.
  for (const signal of ["SIGINT", "SIGTERM"] as const) {
    process.once(signal, async () => {
      log(`Shutting down (${signal})`);
      await chat.shutDown();
      backplane?.close();
      history.close();
      flushLog();
      process.exit(0);
    });
  }
}

async function readTls(certFile: string, keyFile: string): Promise<{ cert: string; key: string }> {
  const read = async (file: string, flag: string) => {
    try {
      return await Bun.file(file).text();
    } catch (error) {
      throw new UsageError(`${flag} '${file}' could not be read: ${(error as { code?: string }).code ?? String(error)}.`);
    }
  };
  return { cert: await read(certFile, "--tls-cert"), key: await read(keyFile, "--tls-key") };
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

/** What the server counts, for GET /metrics. */
const metrics = {
  messagesIn: 0,
  deliveries: 0,
  bytesIn: 0,
  bytesOut: 0,
  refusedRate: 0,
  refusedSize: 0,
  closedFlooding: 0,
  closedSlow: 0,
  refusedConnections: { origin: 0, token: 0, full: 0, perIp: 0 },
};
const startedAt = Date.now();

function listen(
  host: string,
  port: number,
  {
    history,
    limits,
    tls,
    backplane,
    reusePort,
    quiet,
  }: { history: History; limits: Limits; tls: { cert: string; key: string } | undefined; backplane: Backplane | undefined; reusePort: boolean; quiet: boolean },
): { server: Server<Connection>; shutDown: () => Promise<void> } {
  let server: Server<Connection>;
  /** Who is in each room, in the order they came. */
  const rooms = new Map<string, Set<Socket>>([[DEFAULT_ROOM, new Set()]]);
  /** Who holds each name, by its lower-case form: names are unique regardless of case. */
  const names = new Map<string, Socket>();
  /** Open connections per IP address, for --max-per-ip. */
  const perIp = new Map<string, number>();
  let connections = 0;

  const topic = (room: string, json: boolean) => (json ? `json:${room}` : room);
  const userOf = (ws: Socket): User => ({ name: ws.data.name, address: ws.data.address });
  const send = (ws: Socket, event: ChatEvent): void => {
    const frame = ws.data.json ? JSON.stringify(event) : toText(event);
    metrics.bytesOut += frame.length;
    ws.send(frame);
  };
  // An error may quote what the client sent (a refused name, an unknown command): escaped here.
  const refuse = (ws: Socket, message: string): void => send(ws, { type: "error", message: escapeControls(message) });

  /**
   * Sends `event` to everyone in `room`, or everyone but `except`: `server.publish` includes the
   * sender, `ws.publish` leaves it out. Each format is encoded once, and only if someone in the
   * room uses it. A result of -1 means some recipient has a backlog: the room's readers are
   * checked at once, so a slow one is closed before a burst can pile more on it.
   */
  function broadcast(room: string, event: ChatEvent, except?: Socket): void {
    for (const json of FORMATS) {
      const name = topic(room, json);
      const recipients = server.subscriberCount(name) - (except?.data.json === json ? 1 : 0);
      if (recipients <= 0) continue;
      const frame = json ? JSON.stringify(event) : toText(event);
      metrics.deliveries += recipients;
      metrics.bytesOut += frame.length * recipients;
      const sent = except ? except.publish(name, frame) : server.publish(name, frame);
      if (sent === -1) closeSlowReaders(rooms.get(room) ?? []);
    }
  }

  /**
   * Slow readers: a client that stops reading (a stopped process, a stalled network) gets its
   * messages queued here. Past --max-backlog it is closed with 1013, so its memory is given back
   * and the others are not held up; a client of ours reconnects and resumes from history.
   */
  function closeSlowReaders(readers: Iterable<Socket>): void {
    for (const ws of readers) {
      const waiting = ws.getBufferedAmount();
      if (waiting <= limits.maxBacklog || ws.readyState !== WebSocket.OPEN) continue;
      metrics.closedSlow++;
      log(`Closing ${describeUser(userOf(ws))}: too slow, ${waiting} bytes waiting`);
      // RFC 6455 §7.4.1: 1013, try again later.
      ws.close(1013, "too slow: messages piled up unread");
    }
  }

  // Formatting a time costs more than the rest of handling a message, and under load many messages
  // share a millisecond: each millisecond is formatted once.
  let nowMs = 0;
  let nowText = "";
  const now = () => {
    const ms = Date.now();
    if (ms !== nowMs) [nowMs, nowText] = [ms, new Date(ms).toISOString()];
    return nowText;
  };
  const notice = (room: string, event: "join" | "leave" | "rename", user: User, text: string, previousName?: string | null): NoticeEvent => ({
    type: "notice",
    room,
    time: now(),
    event,
    user,
    text,
    ...(event === "rename" && { previousName }),
  });

  /**
   * A notice goes to this instance's clients at once, and through Redis to the other instances';
   * the room's list of people in Redis (for /who everywhere) follows it.
   *
   * Joins and leaves are told only in rooms of up to --announce-limit people (this instance's
   * count). In a bigger room they would drown the conversation, and they cost the square of its
   * size when everyone comes back at once after a restart: 10,000 people reconnecting would be 50
   * million notices. /who still lists everyone, and renames are always told.
   */
  function announce(event: NoticeEvent, except?: Socket): void {
    const told = event.event === "rename" || (rooms.get(event.room)?.size ?? 0) <= limits.announceLimit;
    if (told) broadcast(event.room, event, except);
    if (!backplane || !event.user) return;
    if (told) backplane.notice(event);
    if (event.event === "leave") backplane.absent(event.room, event.user.address);
    else backplane.present(event.room, event.user);
  }

  /** What an instance (this one too) said, another announced, or (`replay`) the shared history. */
  function fromBackplane(event: SaidEvent | NoticeEvent, replay = false): void {
    if (event.type === "notice") return broadcast(event.room, event);
    if (history.record(event) && !replay) deliverSaid(event);
  }

  function deliverSaid(event: SaidEvent): void {
    broadcast(event.room, event);
    if (!quiet) logSaid(event);
  }

  /**
   * Moves `ws` into `room`: leaves the old one, tells both rooms, and replays the new one's
   * history: the last messages, or, for a client resuming (`since`), all it missed that history
   * still has.
   */
  function enter(ws: Socket, room: string, { firstRoom, since }: { firstRoom: boolean; since?: number | null }): void {
    const user = userOf(ws);
    if (!firstRoom) {
      ws.unsubscribe(topic(ws.data.room, ws.data.json));
      leave(ws);
    }
    ws.data.room = room;
    const members = rooms.get(room) ?? new Set<Socket>();
    rooms.set(room, members);
    members.add(ws);
    ws.subscribe(topic(room, ws.data.json));
    announce(notice(room, "join", user, `${describeUser(user)} joined ${room}`), ws);
    const { events, missed } = since == null ? { events: history.recent(room), missed: 0 } : history.since(room, since);
    // A plain-text client entering its first room gets no greeting: the core chat had none, and
    // scripts that read its output expect only messages.
    if (ws.data.json || !firstRoom) {
      // The first people in the room, then the joiner (who came last, so the order is kept).
      const others: User[] = [];
      for (const member of members) {
        if (others.length === JOINED_MEMBERS - 1) break;
        if (member !== ws) others.push(userOf(member));
      }
      send(ws, { type: "joined", room, members: [...others, user], count: members.size, history: events.length, seq: history.lastSeq(room), ...(missed > 0 && { missed }) });
    }
    for (const event of events) send(ws, event);
    log(`${describeUser(user)} joined ${room}`);
  }

  /** Takes `ws` out of its room (on /join or on closing), and tells the room. */
  function leave(ws: Socket): void {
    const { room } = ws.data;
    rooms.get(room)?.delete(ws);
    if (room !== DEFAULT_ROOM && rooms.get(room)?.size === 0) rooms.delete(room);
    announce(notice(room, "leave", userOf(ws), `${describeUser(userOf(ws))} left ${room}`));
  }

  /** Names being claimed in Redis right now: given to nobody else meanwhile. */
  const reserved = new Set<string>();

  /** The name in its normal form if `ws` may have it as far as this instance knows, or why not. */
  function checkName(ws: Socket, wanted: string): { name: string } | { problem: string } {
    const name = normalizeName(wanted);
    const problem = nameProblem(name);
    if (problem) return { problem };
    const holder = names.get(name.toLowerCase());
    if ((holder && holder !== ws) || reserved.has(name.toLowerCase())) return { problem: `The name '${name}' is taken; choose another.` };
    if (ws.data.name === name) return { problem: `You are already ${name}.` };
    return { name };
  }

  function takeName(ws: Socket, name: string): void {
    if (ws.data.name) {
      names.delete(ws.data.name.toLowerCase());
      backplane?.releaseName(ws.data.name, ws.data.address);
    }
    names.set(name.toLowerCase(), ws);
    ws.data.name = name;
  }

  /**
   * Gives `ws` the name if it is free here and, through Redis, on every other instance, then calls
   * `done` with the refusal, if any. Without Redis (or while it is down) that happens at once.
   */
  function claimName(ws: Socket, wanted: string, done: (problem?: string) => void): void {
    const checked = checkName(ws, wanted);
    if ("problem" in checked) return done(checked.problem);
    const { name } = checked;
    if (!backplane?.connected) {
      takeName(ws, name);
      return done();
    }
    reserved.add(name.toLowerCase());
    backplane
      .claimName(name, ws.data.address)
      .catch(() => true) // Redis did not answer: this instance decides alone, as when it is down.
      .then((free) => {
        reserved.delete(name.toLowerCase());
        if (ws.readyState !== WebSocket.OPEN) return void (free && backplane.releaseName(name, ws.data.address));
        if (!free) return done(`The name '${name}' is taken; choose another.`);
        takeName(ws, name);
        done();
      });
  }

  function rename(ws: Socket, wanted: string): void {
    const previous = ws.data.name;
    claimName(ws, wanted, (problem) => {
      if (problem) return refuse(ws, problem);
      const before = previous ? `${previous} (${ws.data.address})` : ws.data.address;
      announce(notice(ws.data.room, "rename", userOf(ws), `${before} is now ${ws.data.name}`, previous));
      log(`${before} is now ${ws.data.name}`);
    });
  }

  /** A frame from a client: a command, in either protocol. */
  function receive(ws: Socket, message: string): void {
    if (!withinRate(ws)) return;
    // Three bytes per UTF-16 unit is UTF-8's worst case: only long messages need measuring.
    if (message.length * 3 > limits.maxMessage && Buffer.byteLength(message) > limits.maxMessage) {
      metrics.refusedSize++;
      return refuse(ws, `That message is ${Buffer.byteLength(message)} bytes; the limit is ${limits.maxMessage}. It was not sent.`);
    }
    let command: Command;
    try {
      command = ws.data.json ? decodeCommand(message) : parseTyped(message);
    } catch (error) {
      if (!(error instanceof CommandError)) throw error;
      return refuse(ws, error.message);
    }
    perform(ws, command);
  }

  function perform(ws: Socket, command: Command): void {
    switch (command.type) {
      case "say":
      case "me": {
        const text = cleanText(command.text);
        if (text.trim() === "") return refuse(ws, "A message needs some text besides control characters.");
        const said = { type: command.type === "say" ? "message" : "action", room: ws.data.room, time: now(), from: userOf(ws), text } as const;
        // Through Redis, the message is numbered there and delivered when it comes back, on
        // every instance alike; without it (or while it is down), here and now.
        if (!backplane?.connected) return deliverSaid(history.add(said));
        backplane.say(said, history.lastSeq(said.room) + 1).catch(() => deliverSaid(history.add(said)));
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
      case "who": {
        const room = ws.data.room;
        const here = () => [...(rooms.get(room) ?? [])].map(userOf);
        if (!backplane?.connected) return send(ws, { type: "members", room, members: here() });
        // Everyone on every instance; if Redis fails to answer, this instance's people.
        backplane.members(room).then(
          (members) => send(ws, { type: "members", room, members }),
          () => send(ws, { type: "members", room, members: here() }),
        );
        return;
      }
      case "rooms": {
        const here = () => [...rooms].map(([name, members]) => ({ name, members: members.size }));
        const answer = (list: { name: string; members: number }[]) => {
          if (!list.some((r) => r.name === DEFAULT_ROOM)) list.push({ name: DEFAULT_ROOM, members: 0 });
          list.sort((a, b) => (a.name === DEFAULT_ROOM ? -1 : b.name === DEFAULT_ROOM ? 1 : a.name.localeCompare(b.name)));
          send(ws, { type: "rooms", rooms: list });
        };
        if (!backplane?.connected) return answer(here());
        // The rooms of every instance; if Redis fails to answer, this instance's.
        backplane.rooms().then(answer, () => answer(here()));
        return;
      }
      case "help":
        return send(ws, { type: "help", commands: HELP });
      case "quit":
        return ws.close(1000, "bye"); // RFC 6455 §7.4.1: 1000, a normal closure.
    }
  }

  /**
   * The token bucket for --rate: `burst` messages at once, refilled at `rate` a second. True if
   * this message may go; a client refused FLOOD_REFUSALS times in a row is closed.
   */
  function withinRate(ws: Socket): boolean {
    if (limits.rate === 0) return true;
    const data = ws.data;
    const at = performance.now();
    data.tokens = Math.min(limits.burst, data.tokens + ((at - data.filledAt) / 1000) * limits.rate);
    data.filledAt = at;
    if (data.tokens >= 1) {
      data.tokens -= 1;
      data.refusedInARow = 0;
      return true;
    }
    metrics.refusedRate++;
    if (++data.refusedInARow >= FLOOD_REFUSALS) {
      metrics.closedFlooding++;
      log(`Closing ${describeUser(userOf(ws))}: flooding`);
      // RFC 6455 §7.4.1: 1008, a message that violates the endpoint's policy.
      ws.close(1008, `flooding: more than ${limits.rate} messages a second`);
    } else {
      refuse(ws, `You are sending too fast: at most ${limits.rate} messages a second (${limits.burst} at once). This one was not sent.`);
    }
    return false;
  }

  /** Why an upgrade is refused (status and reason), or undefined to let it through. */
  function admission(request: Request, ip: string): { status: number; reason: string } | undefined {
    // A browser names the page's origin; a page on another site must not use its visitors'
    // browsers to talk here (cross-site WebSocket hijacking). Clients that send no Origin
    // (terminals, scripts) are not browsers and are let through.
    const origin = request.headers.get("origin");
    if (origin !== null && !originAllowed(origin, request)) {
      metrics.refusedConnections.origin++;
      return { status: 403, reason: `Origin ${origin} is not allowed here; the server's operator can allow it with --allow-origin.` };
    }
    if (limits.token !== undefined && !tokenMatches(request)) {
      metrics.refusedConnections.token++;
      return { status: 401, reason: "A valid token is needed: pass it with --token or CHAT_TOKEN." };
    }
    if (connections >= limits.maxClients) {
      metrics.refusedConnections.full++;
      return { status: 503, reason: `The server is full (${limits.maxClients} connections); try again later.` };
    }
    if ((perIp.get(ip) ?? 0) >= limits.maxPerIp) {
      metrics.refusedConnections.perIp++;
      return { status: 429, reason: `Too many connections from ${ip} (${limits.maxPerIp} at most).` };
    }
    return undefined;
  }

  function originAllowed(origin: string, request: Request): boolean {
    if (limits.allowedOrigins.has("*") || limits.allowedOrigins.has(origin)) return true;
    try {
      return new URL(origin).host === request.headers.get("host");
    } catch {
      return false;
    }
  }

  function tokenMatches(request: Request): boolean {
    const bearer = /^Bearer (.+)$/.exec(request.headers.get("authorization") ?? "")?.[1];
    const given = bearer ?? new URL(request.url).searchParams.get("token") ?? "";
    const [a, b] = [Buffer.from(given), Buffer.from(limits.token ?? "")];
    return a.length === b.length && timingSafeEqual(a, b);
  }

  function httpAnswer(request: Request): Response {
    const path = new URL(request.url).pathname;
    if (path === "/healthz") {
      const degraded = backplane !== undefined && !backplane.connected;
      return Response.json({
        status: degraded ? "degraded" : "ok",
        connections,
        rooms: rooms.size,
        uptime: Math.round((Date.now() - startedAt) / 1000),
        ...(backplane && { redis: backplane.connected ? "connected" : "unreachable" }),
      });
    }
    if (path === "/metrics") return new Response(prometheus(connections, rooms.size), { headers: { "Content-Type": "text/plain; version=0.0.4" } });
    const where = request.headers.get("host") ?? `${host}:${port}`;
    return new Response(
      `Nothing here. The chat is at ${tls ? "https" : "http"}://${where}/ in a browser; terminal and WebSocket clients connect to ${tls ? "wss" : "ws"}://${where}, for example:\n  ${otherProgram("client")} ${tls ? "wss" : "ws"}://${where}\n`,
      { status: 404, headers: { "Content-Type": "text/plain; charset=utf-8" } },
    );
  }

  try {
    server = Bun.serve<Connection>({
      hostname: host,
      port,
      ...(tls && { tls }),
      // The web page (web/), bundled by Bun from its HTML import; in an executable from
      // `bun build --compile`, it is built in. WebSocket upgrades on / still reach fetch below.
      routes: { "/": page },
      development: false,
      // With `routes`, Bun turns SO_REUSEPORT on by default: a second server on the same port
      // would start and quietly take half the connections instead of saying the port is taken.
      // It is on only when asked for, for instances meant to share a port (with --redis).
      reusePort,
      fetch(request, server) {
        if (request.headers.get("upgrade")?.toLowerCase() !== "websocket") return httpAnswer(request);
        const address = server.requestIP(request);
        const ip = address ? formatAddress({ ...address, port: 0 }).replace(/:0$/, "") : "unknown";
        const refused = admission(request, ip);
        if (refused) return new Response(`${refused.reason}\n`, { status: refused.status, headers: { "Content-Type": "text/plain; charset=utf-8" } });
        const query = new URL(request.url).searchParams;
        // RFC 6455 §4.2.2: the server picks one of the subprotocols the client offers, or none.
        const offered = (request.headers.get("sec-websocket-protocol") ?? "").split(",").map((p) => p.trim());
        const json = offered.includes(SUBPROTOCOL);
        const since = query.get("since");
        const data: Connection = {
          address: address ? formatAddress(address) : "unknown",
          ip,
          name: null,
          room: DEFAULT_ROOM,
          json,
          asked: { name: query.get("name"), room: query.get("room"), since: since !== null && /^\d{1,15}$/.test(since) ? Number(since) : null },
          tokens: limits.burst,
          filledAt: performance.now(),
          refusedInARow: 0,
        };
        if (server.upgrade(request, { data, headers: json ? { "Sec-WebSocket-Protocol": SUBPROTOCOL } : {} })) return;
        return new Response("Bad WebSocket handshake.\n", { status: 400 });
      },
      websocket: {
        maxPayloadLength: limits.maxFrame,
        idleTimeout: limits.idleTimeout,
        sendPings: true,
        // closeSlowReaders closes a slow reader with 1013 and a reason once it passes
        // --max-backlog. Bun's own limit, BACKSTOP times that, bounds memory should a single burst
        // outrun it; Bun then closes the reader (with a bare 1006) rather than drop messages for
        // it silently: a client that is closed resumes from history, one that lost messages would
        // not know.
        backpressureLimit: BACKSTOP * limits.maxBacklog,
        closeOnBackpressureLimit: true,
        open(ws) {
          connections++;
          perIp.set(ws.data.ip, (perIp.get(ws.data.ip) ?? 0) + 1);
          log(`New connection from ${ws.data.address}`);
          // The name and room asked for in the URL are taken before entering, so that the room
          // hears of "alice joined", not of an address joining and then being renamed. Claiming a
          // name may wait for Redis; what the client sends meanwhile is held, then handled.
          const { name, room, since } = ws.data.asked;
          const admit = (nameRefused?: string) => {
            const roomRefused = room === null ? undefined : nameProblem(normalizeName(room), "room");
            if (ws.data.json) {
              const { rate, burst, maxMessage, announceLimit } = limits;
              send(ws, { type: "welcome", you: userOf(ws), version: pkg.version, limits: { rate, burst, maxMessage, announceLimit } });
            }
            if (nameRefused) refuse(ws, nameRefused);
            if (roomRefused) refuse(ws, roomRefused);
            enter(ws, room === null || roomRefused ? DEFAULT_ROOM : normalizeName(room), { firstRoom: true, since });
            const held = ws.data.held ?? [];
            ws.data.held = undefined;
            for (const frame of held) receive(ws, frame);
          };
          if (name === null) return admit();
          ws.data.held = [];
          claimName(ws, name, admit);
        },
        message(ws, message) {
          metrics.messagesIn++;
          if (typeof message !== "string") {
            // RFC 6455 §7.4.1: 1003 is for a data type the endpoint cannot accept.
            ws.close(1003, "binary frames are not chat: send text");
            return;
          }
          metrics.bytesIn += message.length;
          if (ws.data.held) {
            // RFC 6455 §7.4.1: 1008, policy: a client may not pile up frames before it is let in.
            if (ws.data.held.length >= HELD_FRAMES) return ws.close(1008, "too many messages before joining");
            return void ws.data.held.push(message);
          }
          receive(ws, message);
        },
        close(ws, code, reason) {
          connections--;
          const left = (perIp.get(ws.data.ip) ?? 1) - 1;
          if (left === 0) perIp.delete(ws.data.ip);
          else perIp.set(ws.data.ip, left);
          const { name } = ws.data;
          if (name && names.get(name.toLowerCase()) === ws) {
            names.delete(name.toLowerCase());
            backplane?.releaseName(name, ws.data.address);
          }
          leave(ws); // Bun has unsubscribed a closed socket already.
          log(`Connection from ${describeUser(userOf(ws))} closed (${code}${reason ? ` ${printable(reason)}` : ""})`);
        },
      },
    });
  } catch (error) {
    process.stderr.write(`${commandName("server.ts")}: ${describeListenError(error, `${hostInUrl(host)}:${port}`)}\n`);
    process.exit(1);
  }

  // Readers that fell behind on something other than a broadcast (their own replies) are swept up
  // now and then.
  const backlogCheck = setInterval(() => {
    for (const members of rooms.values()) closeSlowReaders(members);
  }, BACKLOG_CHECK_MS);

  void backplane?.start({
    onEvent: fromBackplane,
    onState: (_connected, detail) => log(`Redis: ${detail}`),
    seqs: () => history.seqs(),
    members: () => [...rooms].flatMap(([room, members]) => [...members].map((ws) => [room, userOf(ws)] as [string, User])),
  });

  async function shutDown(): Promise<void> {
    clearInterval(backlogCheck);
    const everyone = [...rooms.values()].flatMap((members) => [...members]);
    for (const room of rooms.keys()) {
      broadcast(room, { type: "notice", room, time: now(), event: "shutdown", text: "The server is shutting down; reconnect in a moment." });
    }
    // RFC 6455 §7.4.1: 1001, going away.
    for (const ws of everyone) ws.close(1001, "server shutting down");
    const deadline = Date.now() + SHUTDOWN_GRACE_MS;
    while (connections > 0 && Date.now() < deadline) await Bun.sleep(20);
    server.stop(true);
  }

  return { server, shutDown };
}

/** The metrics in Prometheus' text format. */
function prometheus(connections: number, rooms: number): string {
  const lines: string[] = [];
  const metric = (name: string, type: "counter" | "gauge", help: string, value: number, labels = "") => {
    if (!labels || !lines.some((l) => l.startsWith(`# TYPE chat_${name} `))) lines.push(`# HELP chat_${name} ${help}`, `# TYPE chat_${name} ${type}`);
    lines.push(`chat_${name}${labels} ${value}`);
  };
  metric("connections", "gauge", "Open WebSocket connections.", connections);
  metric("rooms", "gauge", "Rooms with people in them, and the default room.", rooms);
  metric("messages_received_total", "counter", "Frames received from clients.", metrics.messagesIn);
  metric("deliveries_total", "counter", "Frames sent to clients by broadcasts.", metrics.deliveries);
  metric("received_bytes_total", "counter", "Bytes (UTF-16 units) received in text frames.", metrics.bytesIn);
  metric("sent_bytes_total", "counter", "Bytes (UTF-16 units) sent in text frames.", metrics.bytesOut);
  metric("refused_messages_total", "counter", "Messages refused, by reason.", metrics.refusedRate, '{reason="rate"}');
  metric("refused_messages_total", "counter", "Messages refused, by reason.", metrics.refusedSize, '{reason="size"}');
  metric("closed_connections_total", "counter", "Connections closed by the server, by reason.", metrics.closedFlooding, '{reason="flooding"}');
  metric("closed_connections_total", "counter", "Connections closed by the server, by reason.", metrics.closedSlow, '{reason="slow"}');
  for (const [reason, value] of Object.entries(metrics.refusedConnections)) {
    metric("refused_connections_total", "counter", "Upgrades refused, by reason.", value, `{reason="${reason}"}`);
  }
  metric("uptime_seconds", "gauge", "Seconds since the server started.", Math.round((Date.now() - startedAt) / 1000));
  return `${lines.join("\n")}\n`;
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

/** The log shows this much of a message: enough to follow the chat, not a copy of every big one. */
const LOGGED_TEXT = 200;

/** Characters escaped in the log. */
const LOG_CONTROLS = /[\u0000-\u001f\u007f-\u009f]/g;

/**
 * Text for the console log: control characters escaped (they would let a client drive the
 * operator's terminal), and long text cut to LOGGED_TEXT characters with its full length noted.
 * The usual short, plain message is checked once and logged as it is.
 */
function printable(text: string): string {
  if (text.length <= LOGGED_TEXT && text.search(LOG_CONTROLS) === -1) return text;
  const shown = text.length > LOGGED_TEXT ? `${text.slice(0, LOGGED_TEXT)}… (${text.length} characters)` : text;
  return shown.replace(LOG_CONTROLS, (c) => (c === "\n" ? "\\n" : `\\x${c.charCodeAt(0).toString(16).padStart(2, "0")}`));
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

/**
 * Messages are logged one by one while the chat is calm: up to SAID_LINES_PER_SECOND a second.
 * Past that nobody reads them, and writing them would cost as much as delivering them; the rest of
 * each second are counted in one line instead, so the log still says how busy it was.
 */
const SAID_LINES_PER_SECOND = 1000;
let saidLogged = 0;
let saidCounted = 0;

function logSaid(event: SaidEvent): void {
  if (saidLogged === 0) setTimeout(endSaidSecond, 1000).unref();
  if (saidLogged === SAID_LINES_PER_SECOND) return void saidCounted++;
  saidLogged++;
  log(`${event.type === "message" ? "Message" : "Action"} from ${describeUser(event.from)} in ${event.room}: ${printable(event.text)}`);
}

function endSaidSecond(): void {
  if (saidCounted > 0) log(`(${saidCounted} more message${saidCounted === 1 ? "" : "s"} in the last second, too many to log one by one)`);
  saidLogged = 0;
  saidCounted = 0;
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
