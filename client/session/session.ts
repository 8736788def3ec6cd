/**
 * The client's connection to the server, as the terminal client, pipe mode, --json and the web
 * page all use it (it runs in Bun and in browsers). It speaks chat.v1.json, and it is built so
 * that the user never silently loses a message:
 *
 * - It paces what it sends to the rate the server announces, and queues what is typed while
 *   offline (outbox.ts).
 * - When the connection drops it reconnects by itself, with backoff and jitter, with the same name
 *   and room, asking for everything after the last message it saw; what it has seen is dropped,
 *   and what it sent that never arrived goes out again (resume.ts).
 * - A server that says no (a wrong token, not allowed, full; closed as a flooder) is not retried,
 *   and every failure is a value: a machine code, and words for the person (connect.ts).
 * - Logged in to an account, it keeps the session token the server gave (never the password) and
 *   offers it on every connection, so that it comes back logged in, with its registered name
 *   (login.ts); what happens to the login is a status, for the user interface to show and keep.
 *
 * It knows nothing of a command line, exit codes or Bun: the terminal client (client/terminal/)
 * maps the codes to its exit codes and hints, and gives Bun's WebSocket (a header for the token, a
 * certificate to trust) through `openWebSocket`.
 */
import { backoffDelay } from "../../common/backoff";
import { refusesName } from "../../common/codes";
import { ACCOUNT_COMMANDS, type Command, mayCarryId, parseTyped } from "../../common/commands";
import {
  type ChatEvent,
  decodeEvent,
  type JoinedEvent,
  type PrivateEvent,
  type User,
  type WelcomeEvent,
} from "../../common/events";
import { screenSafe } from "../../common/text";
import {
  ConnectError,
  describeClose,
  type FailureCode,
  finalClose,
  NameRefusedError,
  type OpenWebSocket,
  openSocket,
} from "./connect";
import { IgnoreList } from "./ignoring";
import { Login } from "./login";
import { MAX_QUEUED, Outbox } from "./outbox";
import { comesBack, Resume } from "./resume";
import { messageId, pingPong } from "./socket-tools";
import type { SessionOptions, Status } from "./status";
import { Whereabouts } from "./whereabouts";

/** Why a private message sent just before a drop is not sent again. */
const UNSURE_PRIVATE =
  "they were private, and the connection dropped before the server confirmed them; they may have arrived, so they are not sent twice";

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Reconnection delays (first and longest) and how many attempts. */
const BACKOFF = { firstMs: 250, maxMs: 10_000 };
const MAX_ATTEMPTS = 100;
/** How long to wait for the server's answer to our close frame before leaving anyway. */
const CLOSE_WAIT_MS = 1_000;

export { ConnectError, type FailureCode, NameRefusedError, type OpenWebSocket };

export class ChatSession {
  /** Who we are and where, from the events as they come. */
  readonly where = new Whereabouts();
  /** Whom we ignore: the terminal and the page hide their room messages. */
  readonly ignoring = new IgnoreList();
  #onEvent: ((event: ChatEvent, raw: string) => void) | undefined;
  /** Events and statuses that came before anyone listened (the welcome, at least). */
  #early: [ChatEvent, string][] = [];
  #earlyStatuses: Status[] = [];
  #onStatus: (status: Status) => void = (status) => this.#earlyStatuses.push(status);
  #socket: WebSocket | undefined;
  #ending = false;
  readonly #resume = new Resume();
  /**
   * The ids of account commands sent (a login, a /password…) whose answer has not come: the server
   * answers them once their password is hashed, after the commands sent since.
   */
  readonly #unanswered = new Set<string>();
  readonly #outbox = new Outbox({
    ready: () => this.#socket?.readyState === WebSocket.OPEN && !this.#resume.resuming,
    transmit: (command) => this.#transmit(command),
  });
  /** Called on every frame in and command out, while `settle` watches for progress. */
  #progress: () => void = () => {};
  /** The secret from the server's welcome that gets our name back when we reconnect. */
  #resumeToken: string | undefined;
  /** Settled once the first connection is in its room, or was refused. */
  readonly #entered = Promise.withResolvers<void>();
  #in = false;
  /** The name asked for on connecting, however it was given. */
  #askedName = "";
  /** Reconnected, and not yet back in the room: what the server forgot (our ignore list) is sent again then. */
  #rejoining = false;
  readonly #login: Login;

  private constructor(readonly options: SessionOptions) {
    this.#login = new Login(options.session);
  }

  /**
   * Connects for the first time and waits until the server has let us into our room; a failure
   * here is final (ConnectError, NameRefusedError when the name asked for is not to be had), not
   * retried.
   */
  static async open(options: SessionOptions): Promise<ChatSession> {
    const session = new ChatSession(options);
    session.#attach(await openSocket(session.#connectUrl(), session.shownUrl, session.#socketOptions()));
    try {
      await session.#entered.promise;
    } catch (error) {
      await session.close();
      throw error;
    }
    return session;
  }

  /** Who the server takes us for (from `welcome` and our renames). */
  get me(): User | undefined {
    return this.where.me;
  }

  /** The room we are in (from `joined`). */
  get room(): string | undefined {
    return this.where.room;
  }

  /** The account we are logged in to (null: a guest), as the server last said. */
  get account(): string | null {
    return this.#login.account;
  }

  /** The session token to keep for the next time (undefined: none, or forget the one kept). */
  get sessionToken(): string | undefined {
    return this.#login.token;
  }

  /**
   * From now on, `onEvent` receives every event (duplicates from a resume left out), starting with
   * those that arrived before this call, and `onStatus` hears what happens to the connection.
   */
  listen(onEvent: (event: ChatEvent, raw: string) => void, onStatus: (status: Status) => void): void {
    this.#onEvent = onEvent;
    this.#onStatus = onStatus;
    for (const [event, raw] of this.#early.splice(0)) onEvent(event, raw);
    for (const status of this.#earlyStatuses.splice(0)) onStatus(status);
  }

  /** The URL shown to people: no query, no token. */
  get shownUrl(): string {
    return this.options.url.replace(/\/?\?.*$/, "");
  }

  /**
   * Sends a command now if the rate allows, otherwise as soon as it does (or once reconnected). A
   * message, an action or a private message gets an id of ours (returned), which the server gives
   * back with it: that is how it is known as ours when it comes back, whatever the server did to
   * its text. So does an account command, whose answer carries it.
   */
  send(command: Command): string | undefined {
    const withId = comesBack(command) || ACCOUNT_COMMANDS.has(command.type);
    const sent = withId && mayCarryId(command) ? { ...command, id: command.id ?? messageId() } : command;
    if (!this.#outbox.add(sent))
      this.#onStatus({ type: "not-sent", count: 1, why: `more than ${MAX_QUEUED} are waiting to be sent` });
    return "id" in sent ? sent.id : undefined;
  }

  /** Sends a line as typed by a person (`/nick x`, `//text`, or a message). */
  sendTyped(line: string): string | undefined {
    return this.send(parseTyped(line));
  }

  /** How many of our messages wait in the queue, paced to the server's rate. */
  get queued(): number {
    return this.#outbox.waitingSaid;
  }

  /** How many of our messages are queued or have not come back yet. */
  get pending(): number {
    return this.#outbox.waitingSaid + this.#resume.unconfirmed;
  }

  /**
   * Waits until everything sent has been answered: the queue is empty, every message and action of
   * ours has come back (known by its id) or been refused, every account command been answered (by
   * its id too: its password is hashed first, so its answer comes after later frames'), and then a
   * WebSocket ping's pong has come back (it follows every frame the server sent in reply to earlier
   * commands, /rooms and the like, since the server handles frames in order; our messages' echoes
   * are waited for by id because, through Redis, they can come after the pong). It waits as long
   * as there is progress (commands going out, our messages coming back, a reconnection under way,
   * which is bounded by its own attempts), and gives up after `quietMs` without any. False if it
   * gave up or the session ended.
   */
  async settle(quietMs: number): Promise<boolean> {
    let lastProgress = performance.now();
    this.#progress = () => (lastProgress = performance.now());
    const quiet = () => performance.now() - lastProgress > quietMs;
    try {
      for (;;) {
        if (this.#ending) return false;
        const socket = this.#socket;
        if (socket?.readyState !== WebSocket.OPEN || this.#resume.resuming) this.#progress();
        else if (this.#outbox.length === 0 && this.#resume.unconfirmed === 0 && this.#unanswered.size === 0) {
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
    this.#outbox.stop();
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
    // Once in, the name is the one the server last gave us, none included (a name lost to an
    // earlier claim is not asked for again).
    const name = this.me ? this.me.name : this.options.name;
    const room = this.room ?? this.options.room;
    if (name) url.searchParams.set("name", name);
    // Given in the URL itself (`ws://…/?name=tess`) or by an option: the refusal names it either way.
    this.#askedName = url.searchParams.get("name") ?? "";
    if (room) url.searchParams.set("room", room);
    const seen = room === undefined ? undefined : this.#resume.lastSeen(room);
    if (seen !== undefined) url.searchParams.set("since", String(seen));
    if (this.#resumeToken !== undefined) url.searchParams.set("resume", this.#resumeToken);
    // Never the token: URLs end up in proxies' access logs. It goes as a header (Bun's WebSocket),
    // or, from a browser, which cannot set one on a WebSocket, as a subprotocol entry (connect.ts).
    return url.href;
  }

  /** How to open a connection: the options, and our session token's subprotocol entry, if any. */
  #socketOptions() {
    return { ...this.options, protocols: this.#login.protocols };
  }

  #attach(socket: WebSocket): void {
    this.#socket = socket;
    socket.addEventListener("message", ({ data }) => this.#receive(String(data)));
    socket.addEventListener("close", (event) => {
      if (this.#socket !== socket || this.#ending) return;
      if (!this.#in)
        return this.#entered.reject(
          new ConnectError(
            "closed",
            `The server closed the connection before letting us in (${describeClose(event)}).`,
            false,
          ),
        );
      void this.#lost(event);
    });
    this.#outbox.flush();
  }

  #transmit(command: Command): void {
    this.#resume.sent(command);
    if (ACCOUNT_COMMANDS.has(command.type) && mayCarryId(command) && command.id) this.#unanswered.add(command.id);
    this.#socket!.send(JSON.stringify(command));
    this.#progress();
  }

  #receive(raw: string): void {
    // Anything that is not one of our events (a newer server's, a broken one's) is skipped.
    const decoded = decodeEvent(raw);
    if (!decoded) return;
    const event = screenSafe(decoded);
    const login = this.#login.observe(event, this.me?.name ?? this.#askedName);
    this.where.observe(event);
    if (login) this.#onStatus(login);
    if (!this.ignoring.observe(event)) return;
    if (event.type === "welcome") this.#welcomed(event);
    if (event.type === "joined") this.#rejoined(event);
    if (!this.#in && this.#entering(event)) return;
    if (event.type === "error" && event.id !== undefined) this.#refused(event.id, event.message, event.code);
    if (
      (event.type === "account" || event.type === "error") &&
      event.id !== undefined &&
      this.#unanswered.delete(event.id)
    )
      this.#progress();
    if (event.type === "dm" && !this.#privately(event)) return;
    const said = event.type === "message" || event.type === "action";
    const before = this.#resume.unconfirmed;
    const fresh = !said || this.#resume.said(event, this.where.wasMe(event.from));
    if (this.#resume.unconfirmed < before) this.#progress(); // one of ours came back
    if (!fresh) return this.#resend(this.#resume.replayed());
    this.#emit(event, raw);
    if (said && event.history) this.#resend(this.#resume.replayed());
  }

  #welcomed(event: WelcomeEvent): void {
    this.#outbox.pace(event.limits.rate, event.limits.burst);
    this.#resumeToken = event.resume ?? this.#resumeToken;
  }

  /**
   * Before the first `joined`: a refusal of the name asked for ends the opening (true: not to be
   * shown); the first `joined` completes it.
   */
  #entering(event: ChatEvent): boolean {
    if (event.type === "error" && refusesName(event.code)) {
      this.#entered.reject(new NameRefusedError(event.code, event.message, this.#askedName));
      return true;
    }
    // Let in, or let in to log in first (--guests no: no room until then).
    if (event.type === "joined" || (event.type === "error" && event.code === "login-required")) {
      this.#in = true;
      this.#entered.resolve();
    }
    return false;
  }

  /** In a room: after a reconnection, the server is given our ignore list again, and the resume goes on. */
  #rejoined(event: JoinedEvent): void {
    if (this.#rejoining) this.#outbox.putBack(this.ignoring.resend());
    this.#rejoining = false;
    this.#resend(this.#resume.joined(event));
  }

  /** A private message: ours is confirmed; false for one from someone we ignore, not to be shown. */
  #privately(event: PrivateEvent): boolean {
    const own = this.where.wasMe(event.from);
    const before = this.#resume.unconfirmed;
    this.#resume.private(event, own);
    if (this.#resume.unconfirmed < before) this.#progress();
    return own || !this.ignoring.hides(event.from);
  }

  /** The server refused our message with this id: it is not waited for any more, and the user is told which. */
  #refused(id: string, message: string, code: string): void {
    const command = this.#resume.refused(id);
    if (!command) return;
    this.#progress();
    this.#onStatus({ type: "refused", command, message, code });
  }

  #emit(event: ChatEvent, raw: string): void {
    if (this.#onEvent) this.#onEvent(event, raw);
    else this.#early.push([event, raw]);
  }

  /**
   * The resume is complete: what never arrived goes out again, ahead of what was typed since; the
   * user is told of private messages that may not have arrived (they are not sent twice).
   */
  #resend(commands: Command[]): void {
    this.#outbox.putBack(commands);
    this.#outbox.flush();
    const unsure = this.#resume.takeUnsure();
    if (unsure > 0) this.#onStatus({ type: "not-sent", count: unsure, why: UNSURE_PRIVATE });
  }

  /** The connection dropped: say so, and reconnect unless the server meant it. */
  async #lost(event: CloseEvent): Promise<void> {
    this.#socket = undefined;
    this.#unanswered.clear(); // What the old connection was asked is answered on it or never.
    const final = finalClose(event);
    if (final) return this.#end(final.message, final.code);
    if (!this.options.reconnect)
      return this.#end(`Lost the connection to ${this.shownUrl} (${describeClose(event)}).`, "lost");
    // Each attempt's status says why the last one failed: the drop, then (say) a full server.
    let reason = describeClose(event);
    let code: FailureCode = "lost";
    for (let attempt = 1; attempt <= MAX_ATTEMPTS && !this.#ending; attempt++) {
      const delayMs = backoffDelay(attempt, BACKOFF);
      this.#onStatus({ type: "lost", reason, code, attempt, delayMs });
      await sleep(delayMs);
      if (this.#ending) return;
      try {
        const socket = await openSocket(this.#connectUrl(), this.shownUrl, this.#socketOptions());
        this.#resume.resuming = true;
        this.#rejoining = true;
        this.#attach(socket);
        this.#onStatus({ type: "reconnected" });
        return;
      } catch (error) {
        if (!(error instanceof ConnectError)) throw error;
        if (!error.retry) return this.#end(error.message, error.code);
        ({ reason, code } = error);
      }
    }
    if (!this.#ending) this.#end(`Gave up reconnecting to ${this.shownUrl} after ${MAX_ATTEMPTS} attempts.`, "gave-up");
  }

  #end(message: string, code: FailureCode): void {
    this.#ending = true;
    this.#onStatus({ type: "ended", message, code });
  }
}
