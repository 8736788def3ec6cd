/**
 * The Redis backplane (--redis URL): several server processes, on one machine or many, behave as
 * one chat. It uses Bun's built-in RedisClient.
 *
 * - What is said is numbered, kept in the shared history and published to every instance in one
 *   Lua script, which Redis runs atomically: sequence numbers are shared, and every instance sees
 *   the messages in the same order. Every instance, the sender's included, delivers a message
 *   when it comes back from Redis, and only then, so nothing is delivered twice.
 * - Notices (join, leave, rename) are delivered at once by the instance where they happen and
 *   published to the others, which skip their own.
 * - Who is where (for /who and /rooms) and who holds which name live in Redis too, tagged with the
 *   instance; an instance says it is alive every few seconds, and what belongs to one that died
 *   without a word stops counting once that runs out.
 * - Channels and keys are fixed by the server (a prefix and validated room names); nothing is
 *   pattern-subscribed, and every envelope that comes back is validated like client input.
 * - If Redis is down, at start or later, the instance goes on serving its own clients (degraded)
 *   and tries again with backoff. The subscription runs on a connection of its own, made anew
 *   after each loss: Bun's RedisClient reconnects without subscribing again, and subscribing again
 *   on a reconnected client could deliver twice.
 */
import { RedisClient } from "bun";
import type { NoticeEvent, SaidEvent, User } from "./protocol";

const PREFIX = "chat:";
const CHANNEL = `${PREFIX}events`;
const seqKey = (room: string) => `${PREFIX}seq:${room}`;
const historyKey = (room: string) => `${PREFIX}history:${room}`;
const membersKey = (room: string) => `${PREFIX}members:${room}`;
const nameKey = (name: string) => `${PREFIX}name:${name.toLowerCase()}`;
const aliveKey = (instance: string) => `${PREFIX}instance:${instance}`;
/**
 * An instance says it is alive every HEARTBEAT_MS, for ALIVE_MS: the people of an instance that
 * died without a word (SIGKILL, a lost machine) drop out of /who within ALIVE_MS.
 */
const HEARTBEAT_MS = 2_000;
const ALIVE_MS = 6_000;
const BACKOFF_FIRST_MS = 250;
const BACKOFF_MAX_MS = 5_000;
/** Rooms whose shared history is loaded at start, at most. */
const MAX_ROOMS_LOADED = 1000;

/**
 * KEYS: the room's sequence key, its history key, the channel. ARGV: the event without its seq
 * (JSON), how many to keep, this instance's id, the lowest seq allowed (one past what this
 * instance has seen, so numbering never goes back after it served alone while Redis was down).
 */
const SAY_SCRIPT = `
local seq = redis.call('INCR', KEYS[1])
local floor = tonumber(ARGV[4])
if seq < floor then seq = floor; redis.call('SET', KEYS[1], seq) end
local event = cjson.decode(ARGV[1])
event['seq'] = seq
local json = cjson.encode(event)
redis.call('ZADD', KEYS[2], seq, json)
redis.call('ZREMRANGEBYRANK', KEYS[2], 0, -(tonumber(ARGV[2]) + 1))
redis.call('PUBLISH', KEYS[3], cjson.encode({ instance = ARGV[3], event = event }))
return seq`;

export interface BackplaneHandlers {
  /**
   * A said event from any instance (this one too), numbered; a notice from another instance. With
   * `replay`, an entry of the shared history loaded at start: to keep, not to deliver.
   */
  onEvent(event: SaidEvent | NoticeEvent, replay?: boolean): void;
  /** Redis came or went: for the log and /healthz. */
  onState(connected: boolean, detail: string): void;
  /** The last sequence number this instance has used in each room. */
  seqs(): Iterable<[room: string, seq: number]>;
  /** This instance's people, by room: registered again, with their names, whenever Redis comes back. */
  members(): Iterable<[room: string, user: User]>;
}

/**
 * KEYS: the name's key. ARGV: this instance, the claimer's address, the prefix of liveness keys.
 * The name is taken if another instance that is alive holds it; otherwise it is ours. (Within
 * one instance, the instance itself keeps names unique.) Returns the holder's address, or nil.
 */
const CLAIM_NAME_SCRIPT = `
local holder = redis.call('GET', KEYS[1])
if holder then
  local instance, address = string.match(holder, '^(%S+) (%S+)$')
  if instance and instance ~= ARGV[1] and redis.call('EXISTS', ARGV[3] .. instance) == 1 then return address end
end
redis.call('SET', KEYS[1], ARGV[1] .. ' ' .. ARGV[2])
return false`;

/** KEYS: the name's key. ARGV: this instance and the holder's address. Deletes it only if ours. */
const RELEASE_NAME_SCRIPT = `
if redis.call('GET', KEYS[1]) == ARGV[1] .. ' ' .. ARGV[2] then redis.call('DEL', KEYS[1]) end
return 0`;

/** KEYS: a room's sequence key. ARGV: a number it must be at least. */
const RAISE_SCRIPT = `
local current = tonumber(redis.call('GET', KEYS[1]) or '0')
if current < tonumber(ARGV[1]) then redis.call('SET', KEYS[1], ARGV[1]) end
return 0`;

export class Backplane {
  /** Tells this instance's envelopes from the others'. */
  readonly instance = crypto.randomUUID();
  connected = false;
  #publisher: RedisClient;
  #subscriber: RedisClient | undefined;
  #closing = false;
  #handlers: BackplaneHandlers = { onEvent() {}, onState() {}, seqs: () => [], members: () => [] };
  #heartbeat: Timer | undefined;

  /** @param keep how many messages per room the shared history keeps (the server's --history) */
  constructor(
    private readonly url: string,
    private readonly keep: number,
  ) {
    this.#publisher = new RedisClient(url, { autoReconnect: true, enableOfflineQueue: false });
  }

  /**
   * Connects and loads the shared history; if Redis is not there, it says so through `onState`
   * and goes on trying in the background. Returns once connected or once the first try failed.
   */
  start(handlers: BackplaneHandlers): Promise<void> {
    this.#handlers = handlers;
    return new Promise((resolve) => void this.#subscribe(resolve));
  }

  /**
   * Numbers `event`, keeps it and publishes it to every instance. Resolves once Redis has it; the
   * event is delivered when it comes back. Rejects if Redis cannot take it: deliver it locally then.
   */
  async say(event: Omit<SaidEvent, "seq">, floor: number): Promise<void> {
    await this.#publisher.send("EVAL", [SAY_SCRIPT, "3", seqKey(event.room), historyKey(event.room), CHANNEL, JSON.stringify(event), String(Math.max(this.keep, 1)), this.instance, String(floor)]);
  }

  /** Tells the other instances of a notice already delivered here. Lost if Redis is down. */
  notice(event: NoticeEvent): void {
    if (!this.connected) return;
    this.#publisher.publish(CHANNEL, JSON.stringify({ instance: this.instance, event })).catch(() => {});
  }

  /** Someone of this instance entered `room` or was renamed there: for /who on every instance. */
  present(room: string, user: User): void {
    if (this.connected) this.#publisher.send("HSET", [membersKey(room), user.address, JSON.stringify({ instance: this.instance, user })]).catch(() => {});
  }

  /** Someone of this instance left `room`. */
  absent(room: string, address: string): void {
    if (this.connected) this.#publisher.send("HDEL", [membersKey(room), address]).catch(() => {});
  }

  /** True if `name` is free on every other instance, and now held for `address` here. */
  async claimName(name: string, address: string): Promise<boolean> {
    const holder = await this.#publisher.send("EVAL", [CLAIM_NAME_SCRIPT, "1", nameKey(name), this.instance, address, `${PREFIX}instance:`]);
    return holder === null || holder === false || holder === undefined;
  }

  /** Lets go of a name held here (on leaving or renaming). */
  releaseName(name: string, address: string): void {
    if (this.connected) this.#publisher.send("EVAL", [RELEASE_NAME_SCRIPT, "1", nameKey(name), this.instance, address]).catch(() => {});
  }

  /** Everyone in `room` on every live instance; entries of instances that died are cleared. */
  async members(room: string): Promise<User[]> {
    const flat = (await this.#publisher.send("HGETALL", [membersKey(room)])) as string[] | Record<string, string>;
    const entries = Array.isArray(flat) ? Object.fromEntries(flat.flatMap((v, i) => (i % 2 ? [] : [[v, flat[i + 1]!]]))) : flat;
    const parsed: { address: string; instance: string; user: User }[] = [];
    for (const [address, value] of Object.entries(entries)) {
      try {
        const { instance, user } = JSON.parse(value) as { instance: unknown; user: unknown };
        if (typeof instance === "string" && isUser(user)) parsed.push({ address, instance, user: { name: user.name, address: user.address } });
      } catch {
        // Not an entry of ours: ignored.
      }
    }
    const instances = [...new Set(parsed.map((p) => p.instance))];
    const alive = instances.length === 0 ? [] : ((await this.#publisher.send("MGET", instances.map(aliveKey))) as (string | null)[]);
    const live = new Set(instances.filter((_, i) => alive[i] !== null));
    const dead = parsed.filter((p) => !live.has(p.instance)).map((p) => p.address);
    if (dead.length > 0) this.#publisher.send("HDEL", [membersKey(room), ...dead]).catch(() => {});
    return parsed.filter((p) => live.has(p.instance)).map((p) => p.user);
  }

  /** Every room with people in it on any live instance, and how many (at most MAX_ROOMS_LOADED rooms). */
  async rooms(): Promise<{ name: string; members: number }[]> {
    const list: { name: string; members: number }[] = [];
    let cursor = "0";
    do {
      const [next, keys] = (await this.#publisher.send("SCAN", [cursor, "MATCH", `${PREFIX}members:*`, "COUNT", "100"])) as [string, string[]];
      cursor = next;
      for (const key of keys) {
        if (list.length >= MAX_ROOMS_LOADED) return list;
        const name = key.slice(`${PREFIX}members:`.length);
        const members = (await this.members(name)).length;
        if (members > 0) list.push({ name, members });
      }
    } while (cursor !== "0");
    return list;
  }

  close(): void {
    this.#closing = true;
    clearInterval(this.#heartbeat);
    if (this.connected) this.#publisher.send("DEL", [aliveKey(this.instance)]).catch(() => {});
    this.#subscriber?.close();
    this.#publisher.close();
  }

  /** Says this instance is alive, and who is here (Redis may have forgotten, if it restarted). */
  async #register(): Promise<void> {
    await this.#publisher.send("SET", [aliveKey(this.instance), "1", "PX", String(ALIVE_MS)]);
    for (const [room, user] of this.#handlers.members()) {
      await this.#publisher.send("HSET", [membersKey(room), user.address, JSON.stringify({ instance: this.instance, user })]);
      if (user.name) await this.#publisher.send("SET", [nameKey(user.name), `${this.instance} ${user.address}`]);
    }
    clearInterval(this.#heartbeat);
    this.#heartbeat = setInterval(() => {
      if (this.connected) this.#publisher.send("SET", [aliveKey(this.instance), "1", "PX", String(ALIVE_MS)]).catch(() => {});
    }, HEARTBEAT_MS);
  }

  /** Subscribes on a fresh connection, loads history, and comes back here after every loss. */
  async #subscribe(firstTried = () => {}): Promise<void> {
    for (let attempt = 1; !this.#closing; attempt++) {
      const subscriber = new RedisClient(this.url, { autoReconnect: false, enableOfflineQueue: false });
      try {
        await subscriber.connect();
        // The publisher connects on its first command, which, with no offline queue, would fail.
        if (!this.#publisher.connected) await this.#publisher.connect();
        // Numbers used here while Redis was away must not be handed out again by Redis.
        for (const [room, seq] of this.#handlers.seqs()) await subscriber.send("EVAL", [RAISE_SCRIPT, "1", seqKey(room), String(seq)]);
        await this.#loadHistory(subscriber);
        await this.#register();
        subscriber.onclose = (error) => this.#lost(subscriber, error);
        await subscriber.subscribe(CHANNEL, (message) => this.#receive(message));
        this.#subscriber = subscriber;
        this.connected = true;
        this.#handlers.onState(true, `connected to Redis at ${shown(this.url)}`);
        return firstTried();
      } catch (error) {
        subscriber.close();
        if (attempt === 1) {
          this.#handlers.onState(false, `Redis at ${shown(this.url)} is not answering (${describe(error)}); serving this instance's clients alone, retrying`);
          firstTried();
        }
        await Bun.sleep(Math.min(BACKOFF_MAX_MS, BACKOFF_FIRST_MS * 2 ** Math.min(attempt, 10)) * (0.5 + Math.random() / 2));
      }
    }
  }

  #lost(subscriber: RedisClient, error: unknown): void {
    if (this.#subscriber !== subscriber || this.#closing) return;
    this.#subscriber = undefined;
    this.connected = false;
    this.#handlers.onState(false, `lost Redis at ${shown(this.url)} (${describe(error)}); serving this instance's clients alone, retrying`);
    void this.#subscribe();
  }

  /** The shared history of every room, so that this instance can replay it to its clients. */
  async #loadHistory(client: RedisClient): Promise<void> {
    if (this.keep === 0) return;
    let cursor = "0";
    let rooms = 0;
    do {
      const [next, keys] = (await client.send("SCAN", [cursor, "MATCH", `${PREFIX}history:*`, "COUNT", "100"])) as [string, string[]];
      cursor = next;
      for (const key of keys) {
        if (++rooms > MAX_ROOMS_LOADED) return;
        const entries = (await client.send("ZRANGE", [key, String(-this.keep), "-1"])) as string[];
        for (const entry of entries) this.#replay(entry);
      }
    } while (cursor !== "0");
  }

  #receive(message: string): void {
    let envelope: unknown;
    try {
      envelope = JSON.parse(message);
    } catch {
      return;
    }
    if (typeof envelope !== "object" || envelope === null) return;
    const { instance, event } = envelope as { instance?: unknown; event?: unknown };
    if (typeof instance !== "string") return;
    const said = validSaid(event);
    if (said) return this.#handlers.onEvent(said);
    const notice = validNotice(event);
    // Our own notices were delivered here already.
    if (notice && instance !== this.instance) this.#handlers.onEvent(notice);
  }

  /** An entry of the shared history, handed on to be kept, not delivered. */
  #replay(entry: string): void {
    try {
      const said = validSaid(JSON.parse(entry));
      if (said) this.#handlers.onEvent(said, true);
    } catch {
      // Not an entry of ours: ignored.
    }
  }
}

const isUser = (u: unknown): u is { name: string | null; address: string } =>
  typeof u === "object" && u !== null && typeof (u as { address?: unknown }).address === "string" && ((u as { name?: unknown }).name === null || typeof (u as { name?: unknown }).name === "string");

/** A message or action as the script publishes it, or undefined for anything else. */
function validSaid(value: unknown): SaidEvent | undefined {
  const e = value as Partial<SaidEvent> | null;
  if (!e || (e.type !== "message" && e.type !== "action")) return undefined;
  if (typeof e.room !== "string" || typeof e.seq !== "number" || typeof e.time !== "string" || typeof e.text !== "string" || !isUser(e.from)) return undefined;
  return { type: e.type, room: e.room, seq: e.seq, time: e.time, from: { name: e.from.name, address: e.from.address }, text: e.text };
}

function validNotice(value: unknown): NoticeEvent | undefined {
  const e = value as Partial<NoticeEvent> | null;
  if (!e || e.type !== "notice" || typeof e.room !== "string" || typeof e.time !== "string" || typeof e.text !== "string") return undefined;
  if (!["join", "leave", "rename"].includes(e.event ?? "") || !isUser(e.user)) return undefined;
  return { type: "notice", room: e.room, time: e.time, event: e.event!, user: e.user, text: e.text, ...(e.event === "rename" && { previousName: e.previousName ?? null }) };
}

/** The URL without a password, for the log. */
const shown = (url: string) => url.replace(/\/\/[^@/]*@/, "//");
const describe = (error: unknown) => (error instanceof Error ? error.message : String(error));
