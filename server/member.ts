/**
 * One person's connection as the chat core sees it: who they are, where they are, what they may
 * still send, and the small socket interface the core talks to them through. Bun's
 * ServerWebSocket has that interface as it is; a unit test's fake member has it too.
 */
import { createHash, randomBytes } from "node:crypto";
import { type ChatEvent, DEFAULT_ROOM, type User } from "../common/events";
import { TokenBucket } from "../common/token-bucket";
import type { AddressBudget } from "./budgets";

/** What the core needs of a connection. */
export interface MemberSocket {
  send(frame: string): unknown;
  /** Sends to every subscriber of `topic` but this socket; -1 if some reader has a backlog. */
  publish(topic: string, frame: string): number;
  subscribe(topic: string): void;
  unsubscribe(topic: string): void;
  close(code?: number, reason?: string): void;
  /** Drops the connection at once, without a close frame, and what was waiting to be sent with it. */
  terminate(): void;
  /** Bytes queued for this reader, not yet taken by the network. */
  getBufferedAmount(): number;
  /** WebSocket.OPEN (1) while open. */
  readonly readyState: number;
}

/** What the core needs of the server's pub/sub: Bun's Server has it as it is. */
export interface Hub {
  /** Sends to every subscriber of `topic`; -1 if some reader has a backlog. */
  publish(topic: string, frame: string): number;
  subscriberCount(topic: string): number;
}

/**
 * Who listens to rooms besides the connections: the HTTP API's event streams, and its posts
 * waiting for their number (api/listeners.ts). They hear what a room's JSON clients hear, from
 * every instance, as it is published here.
 */
export interface RoomListeners {
  /** How many listen to `room` (0: its JSON need not be made for them). */
  count(room: string): number;
  /** An event of `room`, as JSON clients get it (`frame` is its JSON). */
  deliver(room: string, event: ChatEvent, frame: string): void;
}

/**
 * What a client asked for when it connected: a name, a room, the last sequence number it saw, the
 * resume token of its earlier connection, and the session token of its login, if any.
 */
export interface Asked {
  name: string | null;
  room: string | null;
  since: number | null;
  resume?: string | null;
  /** From a `session.<token>` subprotocol entry, never from the URL. */
  session?: string | null;
}

/** A connection as admitted at its upgrade, before its socket opens: who it is, what it asked for. */
export interface Upgrade {
  /** `ip:port` as seen at upgrade; set by the server, never taken from the client. */
  address: string;
  ip: string;
  /** True for clients that asked for `chat.v1.json`: they get JSON events, not text lines. */
  json: boolean;
  asked: Asked;
}

/** A resume token as the server makes them (128 bits or more, base64url); anything else is ignored. */
const RESUME_TOKEN = /^[A-Za-z0-9_-]{22,86}$/;

export const OPEN = 1;

/** What a connection asked for at its upgrade, and the frames it sent before it was let in. */
interface Arrival {
  asked: Asked;
  held: string[] | undefined;
}

/** What a member has asked for once it is in: nothing more. */
const ASKED_NOTHING: Asked = Object.freeze({ name: null, room: null, since: null });

/** A bucket for connections when --rate is 0: it limits nothing, and one serves them all. */
const UNLIMITED = new TokenBucket(0, 1);

/**
 * A member's fields are kept few, since every idle connection holds one: what is needed only at
 * times (the resume token and its hash, the rate bucket, what was asked for) is made when first
 * needed or let go once used.
 */
export class Member {
  name: string | null = null;
  /** The registered account this connection is logged in as (its canonical name); null for a guest. */
  account: string | null = null;
  room = DEFAULT_ROOM;
  /** The oldest message number given in this room (replayed or by /older): `/older` alone goes on from it. */
  oldestGiven = 1;
  /** Messages refused in a row for going too fast: enough of them and it is flooding. */
  refusedInARow = 0;
  /** When its client last sent a frame (or connected), on performance.now(): the quietest goes first on a full server. */
  heardAt = 0;
  /** What the client asked for, and what it sent while its name was claimed: until it is let in. */
  #arrival: Arrival | undefined;
  /** The token the client came back with, or the one made for it once needed (resumeToken). */
  #resumeToken: string | undefined;
  #bucket: TokenBucket | undefined;

  readonly address: string;
  readonly json: boolean;

  constructor(
    /** The open connection: Bun's ServerWebSocket, or a test's fake. */
    readonly socket: MemberSocket,
    { address, json, asked }: Upgrade,
    /** --rate: with none, no connection needs a bucket of its own. */
    { rate }: { rate: number },
    /** What this connection's address may still spend, shared by all its connections. */
    readonly budget: AddressBudget,
  ) {
    this.address = address;
    this.json = json;
    this.#arrival = { asked, held: undefined };
    if (rate === 0) this.#bucket = UNLIMITED;
    // A client coming back keeps its token, so that it can come back again.
    if (asked.resume && RESUME_TOKEN.test(asked.resume)) this.#resumeToken = asked.resume;
  }

  /** What this connection may still send: made at its first message (an idle one needs none). */
  get bucket(): TokenBucket {
    this.#bucket ??= this.budget.connectionBucket();
    return this.#bucket;
  }

  /** What the client asked for at its upgrade; nothing more once it has been let in. */
  get asked(): Asked {
    return this.#arrival?.asked ?? ASKED_NOTHING;
  }

  /** Frames received while the client's name is being claimed, before it enters its first room. */
  get held(): string[] | undefined {
    return this.#arrival?.held;
  }

  /** A list while the name is claimed; nothing once the member is let in, and what it asked for goes too. */
  set held(frames: string[] | undefined) {
    this.#arrival = frames === undefined ? undefined : { asked: this.asked, held: frames };
  }

  /**
   * The secret that lets this person come back as themselves (see names.ts). It is made when first
   * needed (a JSON client's welcome, a name claimed or let go), not for every connection.
   */
  get resumeToken(): string {
    this.#resumeToken ??= randomBytes(16).toString("base64url");
    return this.#resumeToken;
  }

  /**
   * What is kept and compared of the token: never the token itself. Worked out each time it is
   * asked for (a name claimed or let go), rather than kept by every connection.
   */
  get tokenHash(): string {
    return createHash("sha256").update(this.resumeToken).digest("base64url");
  }

  get user(): User {
    if (this.account !== null) return { name: this.name, address: this.address, registered: true };
    return { name: this.name, address: this.address };
  }

  get open(): boolean {
    return this.socket.readyState === OPEN;
  }
}
