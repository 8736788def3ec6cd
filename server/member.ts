/**
 * One person's connection as the chat core sees it: who they are, where they are, what they may
 * still send, and the small socket interface the core talks to them through. Bun's
 * ServerWebSocket has that interface as it is; a unit test's fake member has it too.
 */
import { createHash, randomBytes } from "node:crypto";
import type { Clock } from "../common/clock";
import { DEFAULT_ROOM, type User } from "../common/events";
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
 * What a client asked for when it connected: a name, a room, the last sequence number it saw, and
 * the resume token of its earlier connection, if any.
 */
export interface Asked {
  name: string | null;
  room: string | null;
  since: number | null;
  resume?: string | null;
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

export class Member {
  name: string | null = null;
  room = DEFAULT_ROOM;
  /** Frames received while the client's name is being claimed, before it enters its first room. */
  held: string[] | undefined;
  /** The oldest message number given in this room (replayed or by /older): `/older` alone goes on from it. */
  oldestGiven = 1;
  /** Messages refused in a row for going too fast: enough of them and it is flooding. */
  refusedInARow = 0;
  readonly bucket: TokenBucket;
  /** Unsent bytes at the last look, and since when none of them has gone (undefined: not stalled). */
  backlogSeen = 0;
  stalledSince: number | undefined;
  /** The secret that lets this person come back as themselves (see names.ts). */
  readonly resumeToken: string;
  /** What is kept and compared of it: never the token itself. */
  readonly tokenHash: string;

  readonly address: string;
  readonly ip: string;
  readonly json: boolean;
  readonly asked: Asked;

  constructor(
    /** The open connection: Bun's ServerWebSocket, or a test's fake. */
    readonly socket: MemberSocket,
    { address, ip, json, asked }: Upgrade,
    { rate, burst }: { rate: number; burst: number },
    /** What this connection's address may still spend, shared by all its connections. */
    readonly budget: AddressBudget,
    clock: Clock,
  ) {
    this.address = address;
    this.ip = ip;
    this.json = json;
    this.asked = asked;
    this.bucket = new TokenBucket(rate, burst, clock);
    // A client coming back keeps its token, so that it can come back again.
    this.resumeToken =
      asked.resume && RESUME_TOKEN.test(asked.resume) ? asked.resume : randomBytes(16).toString("base64url");
    this.tokenHash = createHash("sha256").update(this.resumeToken).digest("base64url");
  }

  get user(): User {
    return { name: this.name, address: this.address };
  }

  get open(): boolean {
    return this.socket.readyState === OPEN;
  }
}
