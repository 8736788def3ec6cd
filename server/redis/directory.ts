/**
 * The Redis directory (--redis URL): several server processes, on one machine or many, behave as
 * one chat.
 *
 * - What is said is numbered, kept in the shared history and published to every instance in one
 *   Lua script (keys.ts). Every instance, the sender's included, delivers a message when it comes
 *   back from Redis, and only then, so nothing is delivered twice. What an instance hears in one
 *   turn of its event loop goes to Redis as one batch: one script call and one publish, whatever
 *   the number of messages, which is what keeps a busy instance near its speed without Redis.
 * - Notices (join, leave, rename) are delivered at once by the instance where they happen and
 *   published to the others, which skip their own.
 * - Who is where lives in Redis too (a hash per room, tagged with the instance), and every change
 *   is published: each instance keeps a mirror of the others' people (Presence), so `joined`,
 *   /who and /rooms count everyone without asking Redis. An instance says it is alive every few
 *   seconds; once one that died without a word runs out, the others drop its people and tell
 *   their rooms they left.
 * - Who holds which name lives there too: see names.ts, keys.ts and claims.ts. Names given while
 *   Redis was away are reconciled when it is back: the earlier claim keeps a name given twice.
 * - While Redis is away, the instance serves its own clients alone: what they say is delivered to
 *   them at once as provisional (see SaidEvent) and kept. When Redis is back, the instance catches
 *   up (healing the partition): subscribed first, it delivers to its people what the others said
 *   meanwhile, from the shared history, then has its own provisional messages numbered through
 *   the script, so that they reach the others too; its own people had them already (clients match
 *   the numbered copy by its id). Every envelope that comes back is checked like client input.
 */

import { randomBytes } from "node:crypto";
import type { RedisClient } from "bun";
import { type NoticeEvent, type SaidEvent, type User, validEvent, validUser } from "../../common/events";
import type { Answer, ChatSink, ClaimAnswer, Directory } from "../directory";
import type { History } from "../history";
import type { Logger } from "../log";
import { type LostName, NameClaims } from "./claims";
import * as keys from "./keys";
import { RedisLink } from "./link";
import { Presence } from "./presence";

/**
 * An instance says it is alive every HEARTBEAT_MS, for ALIVE_MS: the people of an instance that
 * died without a word (SIGKILL, a lost machine) drop out of /who within ALIVE_MS.
 */
const HEARTBEAT_MS = 2_000;
const ALIVE_MS = 6_000;
/** Rooms whose shared history and people are loaded on connecting, at most. */
const MAX_ROOMS_LOADED = 1000;
/** Messages kept while cut off from Redis, to share once it is back; past this, they stay here. */
const MAX_UNSHARED = 100_000;

export class RedisDirectory implements Directory {
  /** Tells this instance's envelopes from the others'. */
  readonly instance = crypto.randomUUID();
  readonly #link: RedisLink;
  /** Said here while cut off from Redis, in order: to be numbered and shared once it is back. */
  readonly #unshared: SaidEvent[] = [];
  #lostUnshared = 0;
  /** This instance's provisional messages sent for numbering, not yet back (healedKey). */
  readonly #healed = new Set<string>();
  /** While catching up, what comes through the subscription waits here, in order. */
  #catchingUp = false;
  readonly #waiting: string[] = [];
  #everConnected = false;
  #heartbeat: Timer | undefined;
  /** The other instances' people. */
  readonly #others = new Presence();
  /** This instance's names, as registered in Redis. */
  readonly #names: NameClaims;
  /** People of this instance who lost their name to an earlier claim while it caught up: told once connected. */
  readonly #namesLost: LostName[] = [];
  /** Said here in this turn of the event loop, to be numbered together once it ends. */
  #batch: Omit<SaidEvent, "seq">[] = [];
  /** Numbers this instance's batches, so that it knows its own when they come back. */
  #batchesSent = 0;
  /**
   * This instance's batches sent for numbering and not back yet, by number, as the events of each
   * room: when one comes back, its events are delivered from here, numbered, instead of being
   * parsed and checked again. Forgotten if the script fails, and on every reconnection (what did
   * not come back is in the shared history the catch-up loads, or was delivered provisionally).
   */
  readonly #inFlight = new Map<number, Omit<SaidEvent, "seq">[][]>();
  /** After a batch's header: the rooms' events still to come, in the order the script publishes them. */
  #expected: ExpectedBatch | undefined;

  constructor(
    private readonly sink: ChatSink,
    url: string,
    private readonly history: History,
    private readonly log: Logger,
  ) {
    this.#link = new RedisLink(url);
    this.#names = new NameClaims(this.instance);
  }

  get #redis(): RedisClient {
    return this.#link.publisher;
  }

  async start(): Promise<void> {
    await this.#link.start({
      onConnect: (subscriber) => this.#catchUp(subscriber),
      onMessage: (message) => this.#receive(message),
      onState: (_connected, detail) => this.log.line(`Redis: ${detail}`),
    });
  }

  say(event: Omit<SaidEvent, "seq">): void {
    if (!this.#link.connected) return this.#sayAlone(event);
    // setImmediate runs once the event loop has handled all the input it had: everything said
    // in this turn, from every connection, goes in one batch.
    if (this.#batch.push(event) === 1) setImmediate(() => this.#sendBatch());
  }

  /**
   * Has Redis number what was said in this turn; it is delivered when it comes back through the
   * subscription. If Redis cannot take it, it is delivered here and now, provisionally.
   */
  #sendBatch(): void {
    const batch = this.#batch;
    this.#batch = [];
    if (!this.#link.connected) {
      for (const event of batch) this.#sayAlone(event);
      return;
    }
    for (let from = 0; from < batch.length; from += keys.MAX_BATCH) {
      const part = batch.slice(from, from + keys.MAX_BATCH);
      this.#number(part).catch(() => {
        for (const event of part) this.#sayAlone(event);
      });
    }
  }

  /**
   * Has Redis number, keep and publish `events` (no more than MAX_BATCH), in one script call;
   * they come back through the subscription: a header with the numbers, then each room's events.
   * The script wants them by room.
   */
  async #number(events: Omit<SaidEvent, "seq">[]): Promise<void> {
    const byRoom = new Map<string, Omit<SaidEvent, "seq">[]>();
    for (const event of events) {
      const said = byRoom.get(event.room);
      if (said) said.push(event);
      else byRoom.set(event.room, [event]);
    }
    const batch = ++this.#batchesSent;
    const scriptKeys = [keys.CHANNEL];
    const args = [this.instance, String(batch), String(Math.max(this.history.limit, 1))];
    for (const [room, said] of byRoom) {
      scriptKeys.push(keys.seqKey(room), keys.historyKey(room));
      args.push(
        String(this.history.lastSeq(room) + 1),
        String(said.length),
        JSON.stringify({ batch: `${this.instance}:${batch}`, said }),
      );
    }
    this.#inFlight.set(batch, [...byRoom.values()]);
    try {
      await this.#redis.send("EVAL", [keys.SAY_SCRIPT, String(scriptKeys.length), ...scriptKeys, ...args]);
    } catch (error) {
      // Its header came back already: the script ran and everyone has it, whatever the reply.
      if (!this.#inFlight.delete(batch)) return;
      throw error;
    }
  }

  /** Cut off from the others: delivered here at once, provisionally, and kept to share later. */
  #sayAlone(event: Omit<SaidEvent, "seq">): void {
    const provisional: SaidEvent = {
      ...event,
      seq: this.history.lastSeq(event.room),
      // The sender's own id if it gave one (its client knows its message by it), else one of ours.
      id: event.id ?? randomBytes(9).toString("base64url"),
      provisional: true,
    };
    if (this.#unshared.length < MAX_UNSHARED) this.#unshared.push(provisional);
    else this.#lostUnshared++;
    this.sink.deliverSaid(provisional);
  }

  notice(event: NoticeEvent): void {
    // What was said before it in this turn goes first, so the others hear "bye" before "left".
    if (this.#batch.length > 0) this.#sendBatch();
    if (this.#link.connected)
      this.#redis.publish(keys.CHANNEL, JSON.stringify({ instance: this.instance, event })).catch(() => {});
  }

  present(room: string, user: User): void {
    if (this.#link.connected) this.#tellPresent(room, user);
  }

  /** Keeps `user` in the room's hash, and tells the other instances. */
  #tellPresent(room: string, user: User): void {
    this.#redis.send("HSET", [keys.membersKey(room), user.address, this.#memberEntry(user)]).catch(() => {});
    this.#redis
      .publish(
        keys.CHANNEL,
        JSON.stringify({ instance: this.instance, presence: { room, address: user.address, user } }),
      )
      .catch(() => {});
  }

  absent(room: string, address: string): void {
    if (!this.#link.connected) return;
    this.#redis.send("HDEL", [keys.membersKey(room), address]).catch(() => {});
    this.#redis
      .publish(keys.CHANNEL, JSON.stringify({ instance: this.instance, presence: { room, address } }))
      .catch(() => {});
  }

  claimName(name: string, address: string, tokenHash: string): Answer<ClaimAnswer> {
    return this.#names.claim(this.#link.connected ? this.#redis : undefined, name, address, tokenHash);
  }

  releaseName(name: string, address: string, tokenHash: string, holdMs: number): void {
    this.#names.release(this.#link.connected ? this.#redis : undefined, name, address, tokenHash, holdMs);
  }

  elsewhere(room: string): { count: number; users: Iterable<User> } {
    return this.#link.connected ? this.#others.inRoom(room) : { count: 0, users: [] };
  }

  roomsElsewhere(): Iterable<[room: string, count: number]> {
    return this.#link.connected ? this.#others.rooms() : [];
  }

  health() {
    const connected = this.#link.connected;
    return { degraded: !connected, redis: connected ? ("connected" as const) : ("unreachable" as const) };
  }

  close(): void {
    clearInterval(this.#heartbeat);
    if (this.#link.connected) this.#redis.send("DEL", [keys.aliveKey(this.instance)]).catch(() => {});
    this.#link.close();
  }

  // --- On every (re)connection ---------------------------------------------------------------

  /**
   * On every (re)connection, subscribed already: what comes through the subscription meanwhile
   * waits, so that the shared history is caught up first and nothing is delivered out of order.
   */
  async #catchUp(client: RedisClient): Promise<void> {
    this.#catchingUp = true;
    this.#inFlight.clear();
    this.#expected = undefined;
    try {
      // Numbers used here before (a Redis that lost its data) must not be handed out again.
      for (const [room, seq] of this.history.seqs())
        await client.send("EVAL", [keys.RAISE_SCRIPT, "1", keys.seqKey(room), String(seq)]);
      await this.#loadHistory(client, this.#everConnected);
      await this.#loadOthers(client);
      await this.#register();
      // Last: what is said until the link counts as connected is provisional, and kept to share.
      // Once this is done, nothing can be said before it does (no input is read in between).
      await this.#shareUnshared();
      this.#everConnected = true;
    } finally {
      this.#catchingUp = false;
      for (const message of this.#waiting.splice(0)) this.#handle(message);
      // The link counts as connected once this returns (or is still cut off, if it failed).
      setImmediate(() => this.#loseNames(this.#namesLost.splice(0)));
    }
  }

  /**
   * The shared history of every room, so that this instance can replay it to its clients; after a
   * partition (`deliver`), what the others said meanwhile also goes to this instance's people.
   */
  async #loadHistory(client: RedisClient, deliver: boolean): Promise<void> {
    const keep = this.history.limit;
    if (keep === 0) return;
    let rooms = 0;
    let caughtUp = 0;
    for await (const key of scan(client, keys.HISTORY_PATTERN)) {
      if (++rooms > MAX_ROOMS_LOADED) break;
      // Each entry is a batch of one event or more, scored by its last number: the last `keep`
      // entries hold the last `keep` events.
      const entries = scored(await client.send("ZRANGE", [key, String(-keep), "-1", "WITHSCORES"]));
      for (const value of entries.flatMap(([entry, last]) => numberedUpTo(parse(entry), last)).slice(-keep)) {
        const said = saidOf(value);
        if (!said || !this.history.record(said) || !deliver) continue;
        this.sink.deliverSaid(said, true);
        caughtUp++;
      }
    }
    if (caughtUp > 0)
      this.log.line(
        `Redis: caught up ${caughtUp} message${caughtUp === 1 ? "" : "s"} said on other instances meanwhile`,
      );
  }

  /** What this instance's people said while it was cut off, numbered now, in the order said. */
  async #shareUnshared(): Promise<void> {
    let shared = 0;
    while (this.#unshared.length > 0) {
      const part = this.#unshared.slice(0, keys.MAX_BATCH).map(({ provisional: _, seq: __, ...event }) => event);
      for (const event of part) this.#healed.add(healedKey(event));
      await this.#number(part);
      this.#unshared.splice(0, part.length);
      shared += part.length;
    }
    if (shared > 0) this.log.line(`Redis: shared ${shared} message${shared === 1 ? "" : "s"} said here while cut off`);
    if (this.#lostUnshared > 0)
      this.log.line(
        `Redis: ${this.#lostUnshared} messages said here while cut off were past ${MAX_UNSHARED} and reached only this instance`,
      );
    this.#lostUnshared = 0;
  }

  /** Says this instance is alive, and who is here (Redis may have forgotten, if it restarted). */
  async #register(): Promise<void> {
    await this.#redis.send("SET", [keys.aliveKey(this.instance), "1", "PX", String(ALIVE_MS)]);
    // The others may have dropped these people while this instance was away: they learn of them again.
    for (const { room, user } of this.sink.everyone()) this.#tellPresent(room, user);
    this.#namesLost.push(...(await this.#names.register(this.#redis, this.#named())));
    clearInterval(this.#heartbeat);
    this.#heartbeat = setInterval(() => {
      if (!this.#link.connected) return;
      this.#redis.send("SET", [keys.aliveKey(this.instance), "1", "PX", String(ALIVE_MS)]).catch(() => {});
      this.#dropDead(this.#redis, true).catch(() => {});
      this.#names.settle(this.#redis).then(
        (lost) => this.#loseNames(lost),
        () => {},
      );
    }, HEARTBEAT_MS);
  }

  /** This instance's people who have a name. */
  *#named(): Generator<{ name: string; address: string; tokenHash: string }> {
    for (const { user, tokenHash } of this.sink.everyone())
      if (user.name) yield { name: user.name, address: user.address, tokenHash };
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

  /** The other instances' people, as Redis has them now (this instance's are its own to know). */
  async #loadOthers(client: RedisClient): Promise<void> {
    this.#others.clear();
    let rooms = 0;
    for await (const key of scan(client, `${keys.MEMBERS_PREFIX}*`)) {
      if (++rooms > MAX_ROOMS_LOADED) break;
      const room = key.slice(keys.MEMBERS_PREFIX.length);
      const flat = (await client.send("HGETALL", [key])) as string[] | Record<string, string>;
      const entries = Array.isArray(flat)
        ? Object.fromEntries(flat.flatMap((v, i) => (i % 2 ? [] : [[v, flat[i + 1]!]])))
        : flat;
      for (const value of Object.values(entries)) {
        const entry = parse(value) as { instance?: unknown; user?: unknown } | undefined;
        const user = validUser(entry?.user);
        if (typeof entry?.instance === "string" && entry.instance !== this.instance && user)
          this.#others.enter(entry.instance, room, user);
      }
    }
    await this.#dropDead(client, false);
  }

  /**
   * Drops the people of instances that stopped saying they are alive, from the mirror and from
   * Redis, and (with `tell`) has their rooms told they left.
   */
  async #dropDead(client: RedisClient, tell: boolean): Promise<void> {
    const instances = this.#others.instances();
    if (instances.length === 0) return;
    const alive = (await client.send("MGET", instances.map(keys.aliveKey))) as (string | null)[];
    for (const [i, instance] of instances.entries()) {
      if (alive[i] !== null) continue;
      for (const { room, user } of this.#others.dropInstance(instance)) {
        this.#redis.send("HDEL", [keys.membersKey(room), user.address]).catch(() => {});
        if (tell) this.sink.departed(room, user);
      }
    }
  }

  // --- What comes back -----------------------------------------------------------------------

  #receive(message: string): void {
    if (this.#catchingUp) this.#waiting.push(message);
    else this.#handle(message);
  }

  #handle(message: string): void {
    if (this.#expected) return this.#batchRoom(message, this.#expected);
    const envelope = parse(message) as
      | {
          instance?: unknown;
          batch?: unknown;
          first?: unknown;
          event?: unknown;
          presence?: unknown;
          nameLost?: unknown;
        }
      | undefined;
    if (typeof envelope?.instance !== "string") return;
    if (envelope.presence !== undefined) return this.#presence(envelope.instance, envelope.presence);
    if (envelope.nameLost !== undefined) return this.#nameLost(envelope.nameLost);
    if (
      Number.isSafeInteger(envelope.batch) &&
      Array.isArray(envelope.first) &&
      envelope.first.every(Number.isSafeInteger)
    ) {
      let own: Omit<SaidEvent, "seq">[][] | undefined;
      if (envelope.instance === this.instance) {
        own = this.#inFlight.get(envelope.batch as number);
        // Back: whatever the script's reply says, the batch is not to be delivered provisionally.
        this.#inFlight.delete(envelope.batch as number);
        if (own?.length !== envelope.first.length) own = undefined;
      }
      this.#expected = {
        id: `{"batch":"${envelope.instance}:${envelope.batch}",`,
        firsts: envelope.first as number[],
        own,
        room: 0,
      };
      return;
    }
    const notice = noticeOf(envelope.event);
    // Our own notices were delivered here already.
    if (notice && envelope.instance !== this.instance) this.sink.deliverNotice(notice);
  }

  /**
   * One room's events of the batch whose header came last (SAY_SCRIPT). This instance's own are
   * still here: only numbered, not parsed and checked again.
   */
  #batchRoom(message: string, expected: ExpectedBatch): void {
    const room = expected.room++;
    if (expected.room === expected.firsts.length) this.#expected = undefined;
    // Not what the header announced (it cannot be, as a script runs alone): drop the batch's rest.
    if (!message.startsWith(expected.id)) {
      this.#expected = undefined;
      return this.#handle(message);
    }
    const first = expected.firsts[room]!;
    const own = expected.own?.[room];
    if (!own) {
      const said = (parse(message) as { said?: unknown } | undefined)?.said;
      for (const value of Array.isArray(said) ? numberedFrom(said, first) : []) {
        const checked = saidOf(value);
        if (checked) this.#deliverNumbered(checked);
      }
      return;
    }
    for (const [i, event] of own.entries()) {
      // The chat core's own event, made once and held only here: numbered in place.
      (event as SaidEvent).seq = first + i;
      this.#deliverNumbered(event as SaidEvent);
    }
  }

  #deliverNumbered(said: SaidEvent): void {
    if (!this.history.record(said)) return;
    // This instance's own provisional message, numbered now: its people have it already.
    if (said.id !== undefined && this.#healed.delete(healedKey(said))) return;
    this.sink.deliverSaid(said);
  }

  /** Someone of another instance entered a room, was renamed there, or left it. */
  #presence(instance: string, value: unknown): void {
    if (instance === this.instance || typeof value !== "object" || value === null) return;
    const { room, address, user } = value as { room?: unknown; address?: unknown; user?: unknown };
    if (typeof room !== "string" || typeof address !== "string") return;
    const checked = validUser(user);
    if (checked) this.#others.enter(instance, room, checked);
    else this.#others.leave(room, address);
  }

  /** Another instance's claim of a name was earlier (REGISTER_NAME_SCRIPT): if its holder is ours, they lose it. */
  #nameLost(value: unknown): void {
    if (typeof value !== "object" || value === null) return;
    const { instance, address, name } = value as { instance?: unknown; address?: unknown; name?: unknown };
    if (instance !== this.instance || typeof address !== "string" || typeof name !== "string") return;
    if (this.#names.forget(name, address)) this.#loseNames([{ name, address }]);
  }

  #memberEntry(user: User): string {
    return JSON.stringify({ instance: this.instance, user });
  }
}

/** A provisional message's id with its sender's address: a client chooses ids, so only the pair is ours alone. */
function healedKey(event: Omit<SaidEvent, "seq">): string {
  return `${event.from.address} ${event.id}`;
}

/** Every key matching `pattern`, a page of SCAN at a time. */
async function* scan(client: RedisClient, pattern: string): AsyncGenerator<string> {
  let cursor = "0";
  do {
    const [next, found] = (await client.send("SCAN", [cursor, "MATCH", pattern, "COUNT", "100"])) as [string, string[]];
    cursor = next;
    yield* found;
  } while (cursor !== "0");
}

function parse(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

/** A batch whose header has come: the id its rooms' messages start with, their first numbers, this instance's events if it is its own. */
interface ExpectedBatch {
  id: string;
  firsts: number[];
  own: Omit<SaidEvent, "seq">[][] | undefined;
  room: number;
}

/**
 * The events of one room's entry of a batch (`{"batch":…,"said":[…]}`, see SAY_SCRIPT), whose
 * last is numbered `last`, each given its number; still to be checked, as anything from Redis is.
 * Anything else is taken for one event with its seq, as versions before batching kept history.
 */
function numberedUpTo(entry: unknown, last: number): unknown[] {
  const said = (entry as { said?: unknown } | undefined)?.said;
  return Array.isArray(said) ? numberedFrom(said, last - said.length + 1) : [entry];
}

/** Events numbered `first`, `first` + 1, …; still to be checked. */
function numberedFrom(said: unknown[], first: number): unknown[] {
  return said.map((event, i) => (typeof event === "object" && event !== null ? { ...event, seq: first + i } : event));
}

/** ZRANGE … WITHSCORES as pairs, whether the reply is RESP3's pairs or RESP2's flat list. */
function scored(reply: unknown): [member: string, score: number][] {
  if (!Array.isArray(reply)) return [];
  if (reply.every(Array.isArray)) return reply.map(([member, score]) => [String(member), Number(score)]);
  const pairs: [string, number][] = [];
  for (let i = 0; i + 1 < reply.length; i += 2) pairs.push([String(reply[i]), Number(reply[i + 1])]);
  return pairs;
}

/** A message or action as the script publishes it, or undefined for anything else. */
function saidOf(value: unknown): SaidEvent | undefined {
  const event = validEvent(value);
  if (event?.type !== "message" && event?.type !== "action") return undefined;
  // Never provisional, nor marked as replayed: what comes through Redis is numbered and live.
  const { history: _replayed, provisional: _provisional, ...said } = event;
  return said;
}

/** A join, leave or rename from another instance, or undefined for anything else. */
function noticeOf(value: unknown): NoticeEvent | undefined {
  const event = validEvent(value);
  if (event?.type !== "notice" || event.event === "shutdown" || !event.user) return undefined;
  return event;
}
