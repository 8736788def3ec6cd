/**
 * The directory: what the chat core asks of the world beyond its own connections. Who holds which
 * name, who is in which room, and everything numbered and kept: how what is said gets its number
 * and reaches everyone, and the history replayed from (the core never touches History itself). The core
 * talks only to this interface and never asks whether Redis is up: LocalDirectory serves a single
 * instance, RedisDirectory (redis/directory.ts) shares one chat between instances and falls back to
 * what the local one would answer while Redis is away.
 */
import type { NoticeEvent, PrivateEvent, SaidEvent, User } from "../common/events";
import type { History } from "./history";
import type { SharedBudgets } from "./leases";

export interface RoomCount {
  name: string;
  members: number;
}

/** What the chat core offers its directory. */
export interface ChatSink {
  /**
   * Something said in any instance, numbered and recorded (or provisional): deliver it to this
   * instance's people; `quietly`, without a log line of its own.
   */
  deliverSaid(event: SaidEvent, quietly?: boolean): void;
  /** A join, leave or rename announced by another instance: deliver it here. */
  deliverNotice(event: NoticeEvent): void;
  /** A private message, from any instance: deliver it to its two people's connections here. */
  deliverPrivate(event: PrivateEvent): void;
  /** Message `seq` of `room` was removed (by a moderator, on any instance): tell this instance's people there. */
  deliverDeleted(room: string, seq: number): void;
  /** Someone of another instance is gone without a word (their instance died): tell the room here. */
  departed(room: string, user: User): void;
  /**
   * The person of this instance at `address` had `name` (or a look-alike) given while cut off from
   * the other instances, and another instance's earlier claim keeps it: they are left without a
   * name, told why, and their room told of the rename.
   */
  nameLost(address: string, name: string): void;
  /** Everyone of this instance: their room, who they are, and their resume token's hash. */
  everyone(): Iterable<{ room: string; user: User; tokenHash: string }>;
}

/** A name claimed: it is the claimer's now, someone has it, or it is held for someone's return for `heldMs` more. */
export type ClaimAnswer = "free" | "taken" | { heldMs: number };

/** An answer now, or later. Kept synchronous where it can be, so a single instance never waits. */
export type Answer<T> = T | Promise<T>;

/** Calls `then` with the answer, at once if it is there; `otherwise` if a promised one fails. */
export function whenAnswered<T>(
  answer: Answer<T>,
  then: (value: T) => void,
  otherwise: (error: unknown) => void,
): void {
  if (answer instanceof Promise) answer.then(then, otherwise);
  else then(answer);
}

/**
 * How the chat core makes its directory: with itself as the sink, so that a directory is whole from
 * the start and never has nowhere to deliver to.
 */
export type MakeDirectory = (sink: ChatSink) => Directory;

export interface Directory {
  /**
   * Starts; with Redis, connects (and goes on trying in the background), resolving once connected
   * or once the first try failed. The chat has it started before it lets anyone in.
   */
  start(): Promise<void>;
  /** Numbers `event` and has it delivered (now, or once it comes back from Redis) to everyone. */
  say(event: Omit<SaidEvent, "seq">): void;
  /** Tells the other instances of a notice delivered here already. */
  notice(event: NoticeEvent): void;
  /** Has a private message delivered to its two people's connections on every instance, this one included. */
  tell(event: PrivateEvent): void;
  /**
   * Someone of another instance who holds `name` (or a look-alike), as far as this one knows now
   * (nobody while Redis is away): answered at once, as `elsewhere` is.
   */
  namedElsewhere(name: string): User | undefined;
  /** Someone of this instance entered `room`, or was renamed there; or left it. */
  present(room: string, user: User): void;
  absent(room: string, address: string): void;
  /**
   * "free" if no other instance's person holds `name`, nor is it held for someone else's return
   * (a person's own token, `tokenHash`, gets their name back); it is then held for `address`.
   */
  claimName(name: string, address: string, tokenHash: string): Answer<ClaimAnswer>;
  /** Lets go of a name held here; with `holdMs`, it is kept for `tokenHash` that long. */
  releaseName(name: string, address: string, tokenHash: string, holdMs: number): void;
  /**
   * The people of `room` on the other instances, as far as this one knows now (none while Redis
   * is away): answered at once, so that `joined`, /who and /rooms count everyone.
   */
  elsewhere(room: string): { count: number; users: Iterable<User> };
  /** How many people each room has on the other instances. */
  roomsElsewhere(): Iterable<[room: string, count: number]>;
  /** For /healthz: whether the chat is whole ("ok") or one instance is serving alone. */
  health(): { degraded: boolean; redis?: "connected" | "unreachable" };
  /** The room's last messages, marked as history: what someone entering it is given. */
  recent(room: string): SaidEvent[];
  /** What a client that last saw `seq` missed, as far as history has it, and how many it no longer has. */
  since(room: string, seq: number): { events: SaidEvent[]; missed: number };
  /**
   * The room's messages before number `before` (a page of --history, and of `maxBytes` at most),
   * and whether none older is kept.
   */
  before(room: string, before: number, maxBytes?: number): { events: SaidEvent[]; start: boolean };
  /** The last number given in the room (0: none yet). */
  lastSeq(room: string): number;
  /**
   * Removes message `seq` from the room's history everywhere it is kept (memory, the --store file,
   * Redis), and has every instance tell its people in the room.
   */
  remove(room: string, seq: number): void;
  /** What history takes in memory, for /metrics. */
  readonly usage: { bytes: number; rooms: number };
  /** Lets go of Redis, if any (once it has what it was told), and writes out what history has not written yet. */
  close(): void | Promise<void>;
  /** With several instances: where the address budgets they share lease from (leases.ts). */
  readonly leases?: SharedBudgets;
}

/**
 * A chat of one instance: names and rooms are the core's own, and history numbers and keeps what
 * is said. RedisDirectory (redis/directory.ts) extends it: its history, and what it answers while
 * Redis is away, are this one's.
 */
export class LocalDirectory implements Directory {
  constructor(
    protected readonly sink: ChatSink,
    protected readonly history: History,
  ) {}

  async start(): Promise<void> {}

  say(event: Omit<SaidEvent, "seq">): void {
    this.sink.deliverSaid(this.history.add(event));
  }

  notice(_event: NoticeEvent): void {}

  tell(event: PrivateEvent): void {
    this.sink.deliverPrivate(event);
  }

  namedElsewhere(_name: string): User | undefined {
    return undefined;
  }
  present(_room: string, _user: User): void {}
  absent(_room: string, _address: string): void {}
  releaseName(_name: string, _address: string, _tokenHash: string, _holdMs: number): void {}

  close(): void {
    this.history.close();
  }

  claimName(_name: string, _address: string, _tokenHash: string): Answer<ClaimAnswer> {
    return "free";
  }

  elsewhere(_room: string): { count: number; users: Iterable<User> } {
    return { count: 0, users: [] };
  }

  roomsElsewhere(): Iterable<[room: string, count: number]> {
    return [];
  }

  health(): { degraded: boolean; redis?: "connected" | "unreachable" } {
    return { degraded: false };
  }

  recent(room: string): SaidEvent[] {
    return this.history.recent(room);
  }

  since(room: string, seq: number): { events: SaidEvent[]; missed: number } {
    return this.history.since(room, seq);
  }

  before(room: string, before: number, maxBytes?: number): { events: SaidEvent[]; start: boolean } {
    return this.history.before(room, before, maxBytes);
  }

  lastSeq(room: string): number {
    return this.history.lastSeq(room);
  }

  remove(room: string, seq: number): void {
    this.history.remove(room, seq);
    this.sink.deliverDeleted(room, seq);
  }

  get usage(): { bytes: number; rooms: number } {
    return this.history.usage;
  }
}
