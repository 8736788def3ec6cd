/**
 * Presence and liveness. Who of this instance is where lives in Redis (a members hash per room,
 * each entry tagged with its instance), and every change is published: each instance keeps a
 * mirror of the others' people (Presence), so `joined`, /who and /rooms count everyone without
 * asking Redis. An instance says it is alive every HEARTBEAT_MS, for ALIVE_MS: once one that died
 * without a word (SIGKILL, a lost machine) runs out, the others drop its people, from their mirror
 * and from Redis, and tell their rooms they left.
 */
import type { User } from "../../common/events";
import * as envelopes from "./envelopes";
import type { Failures } from "./failures";
import * as keys from "./keys";
import type { Link } from "./link";
import { Presence } from "./presence";

/** The people of an instance that died without a word drop out of /who within ALIVE_MS (and a beat). */
export const HEARTBEAT_MS = 2_000;
const ALIVE_MS = 6_000;
/** How long closing waits for Redis to take this instance's goodbye. */
const CLOSE_WAIT_MS = 1_000;
/** Rooms whose people are loaded on connecting, at most. */
const MAX_ROOMS_LOADED = 1000;

/** What liveness needs of the directory. */
export interface LivenessOwner {
  readonly instance: string;
  /** Everyone of this instance, and where. */
  everyone(): Iterable<{ room: string; user: User }>;
  /** Someone of another instance is gone without a word: tell the room here. */
  departed(room: string, user: User): void;
  /** More to do on every heartbeat, while connected. */
  beat(): void;
}

export class Liveness {
  /** The other instances' people. */
  readonly others = new Presence();
  #heartbeat: Timer | undefined;

  constructor(
    private readonly link: Link,
    private readonly owner: LivenessOwner,
    private readonly failures: Failures,
  ) {}

  /** Keeps `user` in the room's hash, and tells the other instances. */
  present(room: string, user: User): void {
    const { instance } = this.owner;
    const entry = envelopes.memberEntry(instance, user);
    this.failures.watch("presence", this.link.send("HSET", [keys.membersKey(room), user.address, entry]));
    this.failures.watch("presence", this.link.publish(envelopes.presenceEnvelope(instance, room, user.address, user)));
  }

  absent(room: string, address: string): void {
    this.failures.watch("presence", this.link.send("HDEL", [keys.membersKey(room), address]));
    this.failures.watch("presence", this.link.publish(envelopes.presenceEnvelope(this.owner.instance, room, address)));
  }

  /** Someone of another instance entered a room, was renamed there (`user`), or left it. */
  heard(instance: string, room: string, address: string, user: User | undefined): void {
    if (instance === this.owner.instance) return;
    if (user) this.others.enter(instance, room, user);
    else this.others.leave(room, address);
  }

  /** On (re)connecting: the other instances' people, as Redis has them now, less those of dead instances. */
  async load(): Promise<void> {
    this.others.clear();
    let rooms = 0;
    for await (const key of scan(this.link, `${keys.MEMBERS_PREFIX}*`)) {
      if (++rooms > MAX_ROOMS_LOADED) break;
      const room = key.slice(keys.MEMBERS_PREFIX.length);
      for (const value of hashValues(await this.link.send("HGETALL", [key]))) {
        const member = envelopes.readMember(value);
        if (envelopes.isSkipped(member)) this.failures.skipped(member.reason);
        else if (member.instance !== this.owner.instance) this.others.enter(member.instance, room, member.user);
      }
    }
    await this.#dropDead(false);
  }

  /**
   * On (re)connecting: says this instance is alive, and who is here (Redis may have forgotten, if
   * it restarted, and the others may have dropped them meanwhile); then keeps saying so.
   */
  async register(): Promise<void> {
    await this.link.send("SET", [keys.aliveKey(this.owner.instance), "1", "PX", String(ALIVE_MS)]);
    for (const { room, user } of this.owner.everyone()) this.present(room, user);
    clearInterval(this.#heartbeat);
    this.#heartbeat = setInterval(() => this.beat(), HEARTBEAT_MS);
  }

  /** Says this instance is alive and drops the dead; skipped while Redis is away. */
  beat(): void {
    if (!this.link.connected) return;
    this.failures.watch(
      "heartbeat",
      this.link.send("SET", [keys.aliveKey(this.owner.instance), "1", "PX", String(ALIVE_MS)]),
    );
    this.failures.watch("liveness", this.#dropDead(true));
    this.owner.beat();
  }

  /**
   * Drops the people of instances that stopped saying they are alive, from the mirror and from
   * Redis, and (with `tell`) has their rooms told they left.
   */
  async #dropDead(tell: boolean): Promise<void> {
    const instances = this.others.instances();
    if (instances.length === 0) return;
    const alive = (await this.link.send("MGET", instances.map(keys.aliveKey))) as (string | null)[];
    for (const [i, instance] of instances.entries()) {
      if (alive[i] !== null) continue;
      for (const { room, user } of this.others.dropInstance(instance)) {
        this.failures.watch("liveness", this.link.send("HDEL", [keys.membersKey(room), user.address]));
        if (tell) this.owner.departed(room, user);
      }
    }
  }

  /**
   * Stops saying this instance is alive, and says it is not: the others drop its people at their
   * next beat. Resolves once Redis has it (and so everything sent before it), or after CLOSE_WAIT_MS.
   */
  async close(): Promise<void> {
    clearInterval(this.#heartbeat);
    if (!this.link.connected) return;
    const gone = this.link.send("DEL", [keys.aliveKey(this.owner.instance)]);
    this.failures.watch("close", gone);
    // Counted by watch() if it fails; here it is only waited for.
    await Promise.race([gone.catch(() => undefined), Bun.sleep(CLOSE_WAIT_MS)]);
  }
}

/** Every key matching `pattern`, a page of SCAN at a time. */
async function* scan(link: Link, pattern: string): AsyncGenerator<string> {
  let cursor = "0";
  do {
    const [next, found] = (await link.send("SCAN", [cursor, "MATCH", pattern, "COUNT", "100"])) as [string, string[]];
    cursor = next;
    yield* found;
  } while (cursor !== "0");
}

/** HGETALL's values, whether the reply is RESP3's map or RESP2's flat list. */
function hashValues(reply: unknown): string[] {
  if (Array.isArray(reply)) return reply.filter((_, i) => i % 2 === 1).map(String);
  return reply && typeof reply === "object" ? Object.values(reply).map(String) : [];
}
