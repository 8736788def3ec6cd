/**
 * The Redis directory (--redis URL): several server processes, on one machine or many, behave as
 * one chat. This file only wires the parts, each of which reads alone and has unit tests of its own
 * against a fake link:
 * - batches.ts: what is said, numbered in Redis a turn of the event loop at a time, and delivered
 *   by every instance when it comes back;
 * - liveness.ts (with presence.ts): who is where on the other instances, and who died;
 * - claims.ts: who holds which name, and the names given twice while cut off;
 * - healing.ts: serving alone while Redis is away, and catching up once it is back;
 * - envelopes.ts: what the instances tell each other, written and read in one place, versioned;
 * - link.ts, the connection's life; keys.ts, the keys and Lua scripts; failures.ts, the count and
 *   the log of what failed.
 *
 * While Redis is connected, each operation goes to the shared chat (#shared); while it is away,
 * this instance answers alone (#alone), as LocalDirectory, which this class extends, answers,
 * keeping what must be shared once Redis is back. That choice is made in one place: #now.
 * Notices (join, leave, rename) are delivered at once by the instance where they happen and
 * published to the others, which skip their own.
 */

import type { NoticeEvent, PrivateEvent, SaidEvent, User } from "../../common/events";
import { type Answer, type ChatSink, type ClaimAnswer, type Directory, LocalDirectory } from "../directory";
import type { History } from "../history";
import type { Logger } from "../log";
import type { Metrics } from "../metrics";
import { Batches, type Unnumbered } from "./batches";
import { type LostName, NameClaims } from "./claims";
import * as envelopes from "./envelopes";
import { Failures } from "./failures";
import { Healing } from "./healing";
import * as keys from "./keys";
import { RedisLeases } from "./leases";
import type { LinkLife } from "./link";
import { Liveness } from "./liveness";

/** What the chat does differently once it is shared. */
type Operations = Pick<
  Directory,
  | "say"
  | "notice"
  | "tell"
  | "namedElsewhere"
  | "present"
  | "absent"
  | "claimName"
  | "releaseName"
  | "elsewhere"
  | "roomsElsewhere"
  | "health"
  | "remove"
>;

export interface RedisOptions {
  /** The connection to Redis: a RedisLink on --redis (a fake one in unit tests). */
  link: LinkLife;
  log: Logger;
  metrics: Pick<Metrics, "redisErrors" | "redisSkipped">;
  /** Bytes of history for every room together (--history-bytes): the shared history keeps as much. */
  historyBytes: number;
  /** Days an idle room's keys live in Redis (--store-days; 0: for good). */
  idleDays: number;
}

/** A room's shared history takes this share of --history-bytes at most: one busy room cannot push out the rest. */
const ROOM_SHARE = 16;

export class RedisDirectory extends LocalDirectory {
  /** Tells this instance's envelopes from the others'. */
  readonly instance = crypto.randomUUID();
  readonly leases: RedisLeases;
  readonly #link: LinkLife;
  readonly #log: Logger;
  readonly #failures: Failures;
  readonly #batches: Batches;
  readonly #people: Liveness;
  readonly #names: NameClaims;
  readonly #healing: Healing;
  /** While catching up, what comes through the subscription waits here, in order. */
  #catchingUp = false;
  readonly #waiting: string[] = [];
  #everConnected = false;
  /** People of this instance who lost their name to an earlier claim while it caught up: told once connected. */
  readonly #namesLost: LostName[] = [];

  /** While Redis is connected: the chat shared with the other instances. */
  readonly #shared: Operations = {
    say: (event) => this.#batches.say(event),
    notice: (event) =>
      this.#failures.watch("notice", this.#link.publish(envelopes.noticeEnvelope(this.instance, event))),
    // Every instance delivers it as it comes back, this one included.
    tell: (event) =>
      this.#failures.watch("private", this.#link.publish(envelopes.privateEnvelope(this.instance, event))),
    namedElsewhere: (name) => this.#people.others.named(name),
    present: (room, user) => this.#people.present(room, user),
    absent: (room, address) => this.#people.absent(room, address),
    claimName: (name, address, tokenHash) => this.#names.claim(name, address, tokenHash),
    releaseName: (name, address, tokenHash, holdMs) => this.#names.release(name, address, tokenHash, holdMs),
    elsewhere: (room) => this.#people.others.inRoom(room),
    roomsElsewhere: () => this.#people.others.rooms(),
    health: () => ({ degraded: false, redis: "connected" }),
    // Every instance, this one included, removes it from its own history when it hears of it.
    remove: (room, seq) =>
      this.#failures.watch(
        "delete",
        this.#link.send("EVAL", [
          keys.DELETE_SCRIPT,
          "2",
          keys.historyKey(room),
          keys.CHANNEL,
          String(seq),
          envelopes.deletedEnvelope(this.instance, room, seq),
        ]),
      ),
  };

  /** While Redis is away: this instance alone, as LocalDirectory answers, remembering what to share later. */
  readonly #alone: Operations = {
    // Delivered at once, as alone, but provisionally: numbering is shared, so it gets its number
    // once Redis is back (healing.ts).
    say: (event) => this.#healing.sayAlone(event),
    notice: (event) => super.notice(event),
    tell: (event) => super.tell(event),
    namedElsewhere: (name) => super.namedElsewhere(name),
    present: (room, user) => super.present(room, user),
    absent: (room, address) => super.absent(room, address),
    claimName: (name, address, tokenHash) => {
      this.#names.claimedAlone(name, address, tokenHash);
      return super.claimName(name, address, tokenHash);
    },
    releaseName: (name, address, tokenHash, holdMs) => {
      this.#names.releasedAlone(name, address, tokenHash, holdMs);
      super.releaseName(name, address, tokenHash, holdMs);
    },
    elsewhere: (room) => super.elsewhere(room),
    roomsElsewhere: () => super.roomsElsewhere(),
    health: () => ({ degraded: true, redis: "unreachable" }),
    // The others keep it: this instance alone cannot reach their history.
    remove: (room, seq) => super.remove(room, seq),
  };

  constructor(sink: ChatSink, history: History, { link, log, metrics, historyBytes, idleDays }: RedisOptions) {
    super(sink, history);
    this.#link = link;
    this.#log = log;
    this.#failures = new Failures(log, metrics);
    // Address budgets are one for all instances: leased from Redis while it is there (leases.ts).
    this.leases = new RedisLeases(
      (command, args) => {
        const sent = link.send(command, args);
        this.#failures.watch("lease", sent);
        return sent;
      },
      () => link.connected,
    );
    const idleMs = idleDays * 86_400_000;
    const bounds = {
      keep: history.limit,
      roomBytes: Math.floor(historyBytes / ROOM_SHARE),
      totalBytes: historyBytes,
      idleMs,
    };
    this.#batches = new Batches(link, this.#batchOwner(), bounds, this.#failures);
    this.#people = new Liveness(
      link,
      {
        instance: this.instance,
        everyone: () => this.sink.everyone(),
        departed: (room, user) => this.sink.departed(room, user),
        beat: () => this.#settleNames(),
      },
      this.#failures,
    );
    this.#names = new NameClaims(this.instance, link, this.#failures);
    this.#healing = new Healing(link, history, sink, log, idleMs);
  }

  /** The shared chat while Redis is connected (caught up), this instance alone otherwise. */
  get #now(): Operations {
    return this.#link.connected ? this.#shared : this.#alone;
  }

  override async start(): Promise<void> {
    await this.#link.start({
      onConnect: () => this.#catchUp(),
      onMessage: (message) => this.#receive(message),
      onState: (_connected, detail) => this.#log.line(`Redis: ${detail}`),
      onRetry: (error) => this.#failures.count("connect", error),
    });
  }

  override say(event: Unnumbered): void {
    this.#now.say(event);
  }

  override notice(event: NoticeEvent): void {
    // What was said before it in this turn goes first, so the others hear "bye" before "left".
    this.#batches.flush();
    this.#now.notice(event);
  }

  override tell(event: PrivateEvent): void {
    this.#now.tell(event);
  }

  override namedElsewhere(name: string): User | undefined {
    return this.#now.namedElsewhere(name);
  }

  override present(room: string, user: User): void {
    this.#now.present(room, user);
  }

  override absent(room: string, address: string): void {
    this.#now.absent(room, address);
  }

  override claimName(name: string, address: string, tokenHash: string): Answer<ClaimAnswer> {
    return this.#now.claimName(name, address, tokenHash);
  }

  override releaseName(name: string, address: string, tokenHash: string, holdMs: number): void {
    this.#now.releaseName(name, address, tokenHash, holdMs);
  }

  override elsewhere(room: string): { count: number; users: Iterable<User> } {
    return this.#now.elsewhere(room);
  }

  override roomsElsewhere(): Iterable<[room: string, count: number]> {
    return this.#now.roomsElsewhere();
  }

  override health(): { degraded: boolean; redis?: "connected" | "unreachable" } {
    return this.#now.health();
  }

  override remove(room: string, seq: number): void {
    this.#now.remove(room, seq);
  }

  /** Says this instance is gone, and lets go of Redis once it has that and everything sent before it. */
  override async close(): Promise<void> {
    await this.#people.close();
    this.#link.close();
    super.close();
  }

  #batchOwner() {
    return {
      instance: this.instance,
      nextSeq: (room: string) => this.history.lastSeq(room) + 1,
      numbered: (said: SaidEvent) => {
        if (!this.history.record(said)) return;
        // This instance's own provisional message, numbered now: its people have it already.
        if (!this.#healing.healed(said)) this.sink.deliverSaid(said);
      },
      unsent: (events: Unnumbered[]) => {
        for (const event of events) this.#healing.sayAlone(event);
      },
    };
  }

  /**
   * On every (re)connection, subscribed already: what comes through the subscription meanwhile
   * waits, so that the shared history is caught up first and nothing is delivered out of order.
   */
  async #catchUp(): Promise<void> {
    this.#catchingUp = true;
    this.#batches.reset();
    try {
      await this.#healing.catchUp(this.#everConnected);
      await this.#people.load();
      await this.#people.register();
      this.#namesLost.push(...(await this.#names.register(this.#named())));
      // Last: what is said until the link counts as connected is provisional, and kept to share.
      // Once this is done, nothing can be said before it does (no input is read in between).
      await this.#healing.share((events) => this.#batches.number(events), keys.MAX_BATCH);
      this.#everConnected = true;
    } finally {
      this.#catchingUp = false;
      for (const message of this.#waiting.splice(0)) this.#handle(message);
      // The link counts as connected once this returns (or is still cut off, if it failed).
      setImmediate(() => this.#loseNames(this.#namesLost.splice(0)));
    }
  }

  /** This instance's people who have a name of their own: a registered name is its account's, never claimed. */
  *#named(): Generator<{ name: string; address: string; tokenHash: string }> {
    for (const { user, tokenHash } of this.sink.everyone())
      if (user.name && !user.registered) yield { name: user.name, address: user.address, tokenHash };
  }

  /** On every heartbeat: names given or let go of while catching up go to Redis now. */
  #settleNames(): void {
    this.#names.settle().then(
      (lost) => this.#loseNames(lost),
      (error) => this.#failures.count("name-settle", error),
    );
  }

  /**
   * People of this instance lose their name to an earlier claim: the chat core renames them and
   * tells their rooms. While catching up, that waits until the link counts as connected, so that
   * the rename reaches the other instances too.
   */
  #loseNames(lost: LostName[]): void {
    if (!this.#link.connected) return void this.#namesLost.push(...lost);
    for (const { name, address } of lost) this.sink.nameLost(address, name);
  }

  // --- What comes back -----------------------------------------------------------------------

  #receive(message: string): void {
    if (this.#catchingUp) this.#waiting.push(message);
    else this.#handle(message);
  }

  #handle(message: string): void {
    if (this.#batches.take(message)) return;
    const envelope = envelopes.readEnvelope(message);
    switch (envelope.kind) {
      case "header":
        return this.#batches.header(envelope);
      case "notice":
        // Our own notices were delivered here already.
        if (envelope.instance !== this.instance) this.sink.deliverNotice(envelope.notice);
        return;
      case "private":
        return this.sink.deliverPrivate(envelope.event);
      case "presence":
        return this.#people.heard(envelope.instance, envelope.room, envelope.address, envelope.user);
      case "nameLost":
        // Another instance's claim of a name was earlier: if its holder is ours, they lose it.
        if (envelope.instance === this.instance && this.#names.forget(envelope.name, envelope.address))
          this.#loseNames([{ name: envelope.name, address: envelope.address }]);
        return;
      case "deleted":
        this.history.remove(envelope.room, envelope.seq);
        return this.sink.deliverDeleted(envelope.room, envelope.seq);
      case "skipped":
        return this.#failures.skipped(envelope.reason);
    }
  }
}
