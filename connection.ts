/**
 * The client's connection to the server, as the terminal client, pipe mode, --json and the web
 * page all use it (it runs in Bun and in browsers).
 * It speaks chat.v1.json, and it is built so that the user never silently loses a message:
 *
 * - It paces what it sends to the rate the server announces, so a script piping in a file is not
 *   closed as a flooder.
 * - When the connection drops it reconnects by itself, with exponential backoff and jitter, with
 *   the same name and room, asking the server for everything after the last message it saw
 *   (`?since=`). Messages already seen are dropped by their sequence number, so nothing shows twice.
 * - What is typed while offline is queued (up to MAX_QUEUED) and sent after reconnecting. Messages
 *   sent but not confirmed when the connection dropped are sent again once the server has replayed
 *   its history, unless the replay shows they arrived.
 * - A server that says no (a wrong token, not allowed, full; closed as a flooder) is not retried.
 */
import { parseTyped, SUBPROTOCOL, type ChatEvent, type Command, type SaidEvent, type User } from "./protocol";

/** In Bun, a WebSocket takes headers and TLS options, and can ping; in a browser it can do neither. */
const IN_BUN = typeof Bun !== "undefined";
/** Bun's WebSocket constructor, spelled out so that this file also compiles against the DOM's types. */
type BunWebSocket = new (url: string, options: { protocol: string; headers?: Record<string, string>; tls?: { ca: string } }) => WebSocket;
const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** How long to wait for the server to accept a connection. */
const CONNECT_TIMEOUT_MS = 10_000;
/** Reconnection delays: the first, the growth per attempt, the longest, and how many attempts. */
const BACKOFF_FIRST_MS = 250;
const BACKOFF_FACTOR = 2;
const BACKOFF_MAX_MS = 10_000;
const MAX_ATTEMPTS = 100;
/** Commands kept while offline; more than this and the user is told they were not sent. */
const MAX_QUEUED = 100;
/** How long to wait for the server's answer to our close frame before leaving anyway. */
const CLOSE_WAIT_MS = 1_000;

export interface SessionOptions {
  /** The server's URL, without the name, room and token. */
  url: string;
  name?: string;
  room?: string;
  /** A shared secret the server wants (sent as Authorization: Bearer). */
  token?: string;
  /** PEM certificate(s) to trust for wss://, e.g. a self-signed one. */
  ca?: string;
  /** Reconnect after a lost connection (true unless --no-reconnect). */
  reconnect: boolean;
}

/** What happens to the connection, for the user interface to show. */
export type Status =
  | { type: "lost"; reason: string; attempt: number; delayMs: number }
  | { type: "reconnected" }
  | { type: "not-sent"; count: number; why: string }
  /** The session is over for good: say `message`, exit with `exitCode`. */
  | { type: "ended"; message: string; exitCode: number };

/** Exit code for a server that refused us: wrong token, origin not allowed, full, closed as a flooder. */
const EXIT_REFUSED = 3;

/** A failure to connect, already worded for the user, with the exit code it deserves. */
export class ConnectError extends Error {
  constructor(message: string, readonly exitCode = 1, readonly retry = true) {
    super(message);
  }
}

export class ChatSession {
  /** Who the server takes us for (from `welcome` and our renames). */
  me: User | undefined;
  /** The room we are in (from `joined`). */
  room: string | undefined;
  #onEvent: ((event: ChatEvent, raw: string) => void) | undefined;
  #onStatus: (status: Status) => void = () => {};
  /** Events that came before anyone listened (the welcome, at least). */
  #early: [ChatEvent, string][] = [];

  #socket: WebSocket | undefined;
  #ending = false;
  /** Addresses we have had: after a reconnect, our earlier messages carry the earlier address. */
  readonly #ownAddresses = new Set<string>();
  /** The last sequence number seen, per room. */
  readonly #seen = new Map<string, number>();
  /** Commands waiting to be sent: paced, or held while offline. */
  #queue: Command[] = [];
  /** Our messages sent and not yet seen coming back, oldest first. */
  #unconfirmed: Extract<Command, { type: "say" | "me" }>[] = [];
  /** History events still to come after `joined`: until then, a resume is not complete. */
  #replaying = 0;
  #resuming = false;
  #limits = { rate: 0, burst: 1 };
  #tokens = 1;
  #filledAt = performance.now();
  #pump: Timer | undefined;
  /** Called on every frame in and command out, while `settle` watches for progress. */
  #progress: () => void = () => {};

  private constructor(readonly options: SessionOptions) {}

  /** Connects for the first time; a failure here is final (ConnectError), not retried. */
  static async open(options: SessionOptions): Promise<ChatSession> {
    const session = new ChatSession(options);
    session.#attach(await session.#connect());
    return session;
  }

  /**
   * From now on, `onEvent` receives every event (duplicates from a resume left out), starting with
   * those that arrived before this call, and `onStatus` hears what happens to the connection.
   */
  listen(onEvent: (event: ChatEvent, raw: string) => void, onStatus: (status: Status) => void): void {
    this.#onEvent = onEvent;
    this.#onStatus = onStatus;
    for (const [event, raw] of this.#early.splice(0)) onEvent(event, raw);
  }

  #emit(event: ChatEvent, raw: string): void {
    if (this.#onEvent) this.#onEvent(event, raw);
    else this.#early.push([event, raw]);
  }

  /** The URL shown to people: no query, no token. */
  get shownUrl(): string {
    return this.options.url.replace(/\/?\?.*$/, "");
  }

  /** Sends a command now if the rate allows, otherwise as soon as it does (or once reconnected). */
  send(command: Command): void {
    if (this.#queue.length >= MAX_QUEUED) {
      this.#onStatus({ type: "not-sent", count: 1, why: `more than ${MAX_QUEUED} are waiting to be sent` });
      return;
    }
    this.#queue.push(command);
    this.#flush();
  }

  /** Sends a line as typed by a person (`/nick x`, `//text`, or a message). */
  sendTyped(line: string): void {
    this.send(parseTyped(line));
  }

  /** How many of our messages are queued or have not come back yet. */
  get pending(): number {
    return this.#queue.filter((c) => c.type === "say" || c.type === "me").length + this.#unconfirmed.length;
  }

  /**
   * Waits until everything sent has been answered: the queue is empty, then a WebSocket ping's pong
   * has come back (it comes after every frame the server sent in reply to earlier ones, since the
   * server handles frames in order). It waits as long as there is progress (frames arriving,
   * commands going out, or a reconnection under way, which is bounded by its own attempts), and
   * gives up after `quietMs` without any. False if it gave up or the session ended.
   */
  async settle(quietMs: number): Promise<boolean> {
    let lastProgress = performance.now();
    this.#progress = () => (lastProgress = performance.now());
    const quiet = () => performance.now() - lastProgress > quietMs;
    try {
      for (;;) {
        if (this.#ending) return false;
        const socket = this.#socket;
        if (socket?.readyState !== WebSocket.OPEN || this.#resuming) this.#progress();
        else if (this.#queue.length === 0) {
          if (await pingPong(socket, quiet)) return true;
          if (this.#socket === socket && socket.readyState === WebSocket.OPEN) return false;
          continue; // The connection dropped meanwhile: wait for the new one.
        }
        if (quiet()) return false;
        await sleep(20);
      }
    } finally {
      this.#progress = () => {};
    }
  }

  /** Leaves: a close frame with 1000 (RFC 6455 §7.4.1), and a brief wait for the server's reply. */
  async close(): Promise<void> {
    this.#ending = true;
    clearTimeout(this.#pump);
    const socket = this.#socket;
    if (!socket || socket.readyState === WebSocket.CLOSED) return;
    await new Promise<void>((resolve) => {
      socket.addEventListener("close", () => resolve(), { once: true });
      setTimeout(resolve, CLOSE_WAIT_MS);
      socket.close(1000, "bye");
    });
  }

  // -------------------------------------------------------------------------------------------

  /** The URL for the next connection: who we are, where we are, and what we saw last. */
  #connectUrl(): string {
    const url = new URL(this.options.url);
    const name = this.me?.name ?? this.options.name;
    const room = this.room ?? this.options.room;
    if (name) url.searchParams.set("name", name);
    if (room) url.searchParams.set("room", room);
    const seen = room === undefined ? undefined : this.#seen.get(room);
    if (seen !== undefined) url.searchParams.set("since", String(seen));
    // A browser cannot send an Authorization header with a WebSocket: the token goes in the URL.
    if (!IN_BUN && this.options.token !== undefined) url.searchParams.set("token", this.options.token);
    return url.href;
  }

  #connect(): Promise<WebSocket> {
    const url = this.#connectUrl();
    return new Promise((resolve, reject) => {
      const socket = IN_BUN
        ? new (WebSocket as unknown as BunWebSocket)(url, {
            protocol: SUBPROTOCOL,
            ...(this.options.token !== undefined && { headers: { Authorization: `Bearer ${this.options.token}` } }),
            ...(this.options.ca !== undefined && { tls: { ca: this.options.ca } }),
          })
        : new WebSocket(url, SUBPROTOCOL);
      const timer = setTimeout(() => {
        socket.close();
        reject(new ConnectError(`Could not connect to ${this.shownUrl}: no answer within ${CONNECT_TIMEOUT_MS / 1000} s. Check the host and port.`));
      }, CONNECT_TIMEOUT_MS);
      socket.addEventListener("open", () => {
        clearTimeout(timer);
        if (socket.protocol === SUBPROTOCOL) return resolve(socket);
        socket.close();
        reject(new ConnectError(`Could not connect to ${this.shownUrl}: the server does not speak ${SUBPROTOCOL}. Is it this chat's server?`, 1, false));
      }, { once: true });
      socket.addEventListener("error", (event) => {
        clearTimeout(timer);
        reject(describeConnectFailure(this.shownUrl, url, event));
      }, { once: true });
    });
  }

  #attach(socket: WebSocket): void {
    this.#socket = socket;
    socket.addEventListener("message", ({ data }) => this.#receive(String(data)));
    socket.addEventListener("close", (event) => {
      if (this.#socket !== socket || this.#ending) return;
      this.#lost(event);
    });
    this.#flush();
  }

  #receive(raw: string): void {
    this.#progress();
    const event = JSON.parse(raw) as ChatEvent;
    switch (event.type) {
      case "welcome":
        this.me = event.you;
        this.#ownAddresses.add(event.you.address);
        this.#limits = { rate: event.limits.rate, burst: Math.max(1, event.limits.burst) };
        this.#tokens = this.#limits.burst;
        break;
      case "joined": {
        this.room = event.room;
        // A room whose numbering is behind ours started over (a server without --store restarted).
        if ((this.#seen.get(event.room) ?? 0) > event.seq) this.#seen.set(event.room, 0);
        this.#replaying = event.history;
        if (this.#replaying === 0) this.#resumed();
        break;
      }
      case "message":
      case "action": {
        const seen = this.#seen.get(event.room) ?? 0;
        if (event.seq <= seen) return this.#replayed(); // Already shown: a resume overlaps.
        this.#seen.set(event.room, event.seq);
        if (this.#ownAddresses.has(event.from.address)) this.#confirm(event);
        break;
      }
      case "notice":
        if (event.event === "rename" && event.user && event.user.address === this.me?.address) this.me = event.user;
        break;
    }
    this.#emit(event, raw);
    if ((event.type === "message" || event.type === "action") && event.history) this.#replayed();
  }

  /** Our message came back: it is no longer unconfirmed. */
  #confirm(event: SaidEvent): void {
    const type = event.type === "message" ? "say" : "me";
    const at = this.#unconfirmed.findIndex((c) => c.type === type && c.text === event.text);
    if (at >= 0) this.#unconfirmed.splice(at, 1);
  }

  #replayed(): void {
    if (this.#replaying > 0 && --this.#replaying === 0) this.#resumed();
  }

  /**
   * The server has replayed what it had. After a reconnect, what we sent and did not see come back
   * never arrived: it goes out again, ahead of what was typed since.
   */
  #resumed(): void {
    if (!this.#resuming) return;
    this.#resuming = false;
    this.#queue.unshift(...this.#unconfirmed);
    this.#unconfirmed = [];
    this.#flush();
  }

  /** Sends what the rate allows now, and comes back when it allows more. */
  #flush(): void {
    clearTimeout(this.#pump);
    const socket = this.#socket;
    if (!socket || socket.readyState !== WebSocket.OPEN || this.#resuming) return;
    const { rate, burst } = this.#limits;
    while (this.#queue.length > 0) {
      if (rate > 0) {
        const at = performance.now();
        this.#tokens = Math.min(burst, this.#tokens + ((at - this.#filledAt) / 1000) * rate);
        this.#filledAt = at;
        if (this.#tokens < 1) {
          this.#pump = setTimeout(() => this.#flush(), Math.ceil(((1 - this.#tokens) / rate) * 1000) + 5);
          return;
        }
        this.#tokens -= 1;
      }
      const command = this.#queue.shift()!;
      if (command.type === "say" || command.type === "me") this.#unconfirmed.push(command);
      socket.send(JSON.stringify(command));
      this.#progress();
    }
  }

  /** The connection dropped: say so, and reconnect unless the server meant it. */
  async #lost(event: CloseEvent): Promise<void> {
    this.#socket = undefined;
    const final = finalClose(event);
    if (final || !this.options.reconnect) {
      this.#ending = true;
      this.#onStatus({ type: "ended", message: final?.message ?? `Lost the connection to ${this.shownUrl} (${describeClose(event)}).`, exitCode: final?.exitCode ?? 1 });
      return;
    }
    const reason = describeClose(event);
    for (let attempt = 1; attempt <= MAX_ATTEMPTS && !this.#ending; attempt++) {
      // Full jitter (a delay anywhere up to the backoff) keeps many clients of a restarted server
      // from all coming back at the same moment.
      const ceiling = Math.min(BACKOFF_MAX_MS, BACKOFF_FIRST_MS * BACKOFF_FACTOR ** (attempt - 1));
      const delayMs = Math.round(ceiling / 2 + (Math.random() * ceiling) / 2);
      this.#onStatus({ type: "lost", reason, attempt, delayMs });
      await sleep(delayMs);
      if (this.#ending) return;
      try {
        const socket = await this.#connect();
        this.#resuming = true;
        this.#attach(socket);
        this.#onStatus({ type: "reconnected" });
        return;
      } catch (error) {
        if (!(error instanceof ConnectError)) throw error;
        if (!error.retry) {
          this.#ending = true;
          this.#onStatus({ type: "ended", message: error.message, exitCode: error.exitCode });
          return;
        }
      }
    }
    if (this.#ending) return;
    this.#ending = true;
    this.#onStatus({ type: "ended", message: `Gave up reconnecting to ${this.shownUrl} after ${MAX_ATTEMPTS} attempts.`, exitCode: 1 });
  }
}

/** Pings and resolves true on the pong; false once `quiet()` or the socket is no longer open. */
function pingPong(socket: WebSocket, quiet: () => boolean): Promise<boolean> {
  return new Promise((resolve) => {
    const finish = (answered: boolean) => {
      clearInterval(check);
      socket.removeEventListener("pong", onPong);
      resolve(answered);
    };
    const onPong = () => finish(true);
    const check = setInterval(() => {
      if (quiet() || socket.readyState !== WebSocket.OPEN) finish(false);
    }, 50);
    socket.addEventListener("pong", onPong);
    (socket as WebSocket & { ping(): void }).ping(); // Bun's, used by the filters only
  });
}

/** A close that means "do not come back": why, and the exit code. RFC 6455 §7.4.1 for the codes. */
function finalClose({ code, reason }: CloseEvent): { message: string; exitCode: number } | undefined {
  switch (code) {
    case 1008:
      return { message: `The server closed the connection: ${reason || "policy violation"}. Send more slowly.`, exitCode: EXIT_REFUSED };
    case 1003:
    case 1009:
      return { message: `The server closed the connection: ${reason || describeCloseCode(code)}.`, exitCode: 1 };
    default:
      return undefined;
  }
}

function describeConnectFailure(shownUrl: string, url: string, event: Event): ConnectError {
  const fail = (why: string, exitCode = 1, retry = true) => new ConnectError(`Could not connect to ${shownUrl}: ${why}`, exitCode, retry);
  const code = ((event as globalThis.ErrorEvent).error as { code?: string } | undefined)?.code;
  const { hostname, port } = new URL(url);
  const local = /^(localhost|127\.[\d.]+|\[::1\])$/.test(hostname);
  switch (code) {
    case "ECONNREFUSED":
      return fail(local ? `connection refused. Is the server running? Start one with: ${serverCommand()} --port ${port || 80}` : "connection refused. Is the server running, and is the port right?");
    case "ENOTFOUND":
    case "EAI_NONAME":
      return fail(`the host '${hostname}' was not found. Check its spelling.`);
    case "ETIMEDOUT":
      return fail("the connection timed out. Check the host and port, and any firewall between.");
    case "ECONNRESET":
      return fail("the server closed the connection during the handshake. Is it a chat server?");
    case "EHOSTUNREACH":
    case "ENETUNREACH":
      return fail("the host cannot be reached from here.");
  }
  // Bun words a refused handshake "WebSocket connection to '<url>' failed: Expected 101 status code: 404".
  const message = (event as globalThis.ErrorEvent).message ?? "";
  const status = /Expected 101 status code: (\d+)/.exec(message)?.[1];
  switch (status) {
    case undefined:
      break;
    case "401":
      return fail("the server wants a valid token (401). Pass it with --token or CHAT_TOKEN.", EXIT_REFUSED, false);
    case "403":
      return fail("the server does not allow this origin (403).", EXIT_REFUSED, false);
    case "429":
      return fail("too many connections from this address (429). Close some and try again.", EXIT_REFUSED, false);
    case "503":
      return fail("the server is full (503). Try again later.", EXIT_REFUSED, false);
    default:
      return fail(`the server answered with HTTP status ${status} instead of a WebSocket. Is it a chat server, and is the path right?`);
  }
  if (/certificate|self.signed|UNABLE_TO_VERIFY|DEPTH_ZERO/i.test(`${message} ${code ?? ""}`)) {
    return fail(`its TLS certificate is not trusted (${code ?? message}). For a self-signed certificate, pass it with --ca FILE.`, 1, false);
  }
  const detail = message.replace(/^WebSocket connection to '[^']*' failed: /, "") || "the WebSocket handshake failed";
  return fail(`${detail}${code ? ` (${code})` : ""}. Is it a chat server?`);
}

/**
 * `bun server.ts`, or `chat-server` from a compiled client: cli.ts's otherProgram("server"), which
 * this file cannot import, since it runs in browsers too and cli.ts needs node modules.
 */
function serverCommand(): string {
  return IN_BUN && Bun.main.includes("$bunfs") ? "chat-server" : "bun server.ts";
}

function describeCloseCode(code: number): string | undefined {
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
  return meanings[code];
}

/** "code 1006, connection lost without a close frame": a close code and its meaning (RFC 6455 §7.4.1). */
function describeClose({ code, reason }: { code: number; reason: string }): string {
  const meaning = reason || describeCloseCode(code);
  return `code ${code}${meaning ? `, ${meaning}` : ""}`;
}
