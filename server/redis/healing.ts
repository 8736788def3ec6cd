/**
 * Healing a partition. While Redis is away, this instance serves its people alone: what they say
 * is delivered to them at once, provisionally (it has no number yet, see SaidEvent), and kept.
 * When Redis is back, subscribed already: the numbers used here are raised in Redis, so that they
 * are never given again (a Redis that lost its data); the shared history is loaded, so that this
 * instance can replay it, and after a partition what the others said meanwhile goes to its
 * people; last, its own provisional messages are numbered through the script, so that they reach
 * the others. Its own people had them already (clients match the numbered copy by its id): when
 * they come back numbered, they are recorded here but not delivered again.
 *
 * A batch on its way when Redis stopped answering (link.ts drops the connection then) failed here
 * and was delivered provisionally, but Redis may still run it when it wakes: if the shared history
 * has it on return, it is not shared again, nor delivered again to this instance's people.
 */
import { randomBytes } from "node:crypto";
import type { SaidEvent } from "../../common/events";
import type { ChatSink } from "../directory";
import type { History } from "../history";
import type { Logger } from "../log";
import type { Unnumbered } from "./batches";
import * as envelopes from "./envelopes";
import * as keys from "./keys";
import type { Link } from "./link";

/** Rooms whose shared history is loaded on connecting, at most: the most recently written. */
const MAX_ROOMS_LOADED = 1000;
/** Messages kept while cut off from Redis, to share once it is back; past this, they stay here. */
const MAX_UNSHARED = 100_000;

export class Healing {
  /** Said here while cut off from Redis, in order: to be numbered and shared once it is back. */
  readonly #unshared: SaidEvent[] = [];
  /** The same, by sameMessage(), to find those that reached the shared history after all. */
  readonly #unsharedKeys = new Set<string>();
  #lostUnshared = 0;
  /** This instance's provisional messages sent for numbering, not yet back (healedKey). */
  readonly #healed = new Set<string>();

  constructor(
    private readonly link: Link,
    private readonly history: History,
    private readonly sink: Pick<ChatSink, "deliverSaid">,
    private readonly log: Logger,
    /** How long an idle room's keys live in Redis, in ms (0: for good). */
    private readonly idleMs: number,
  ) {}

  /** Cut off from the others: delivered here at once, provisionally, and kept to share later. */
  sayAlone(event: Unnumbered): void {
    const provisional: SaidEvent = {
      ...event,
      seq: this.history.lastSeq(event.room),
      // The sender's own id if it gave one (its client knows its message by it), else one of ours.
      id: event.id ?? randomBytes(9).toString("base64url"),
      provisional: true,
    };
    if (this.#unshared.length < MAX_UNSHARED) {
      this.#unshared.push(provisional);
      this.#unsharedKeys.add(sameMessage(event));
    } else this.#lostUnshared++;
    this.sink.deliverSaid(provisional);
  }

  /** True if `said`, numbered, is one of this instance's provisional messages: its people have it already. */
  healed(said: SaidEvent): boolean {
    return said.id !== undefined && this.#healed.delete(healedKey(said));
  }

  /**
   * On connecting: raises the shared numbering to this instance's, then loads the shared history;
   * after a partition (`deliver`), what the others said meanwhile also goes to this instance's people.
   */
  async catchUp(deliver: boolean): Promise<void> {
    for (const [room, seq] of this.history.seqs())
      await this.link.send("EVAL", [keys.RAISE_SCRIPT, "1", keys.seqKey(room), String(seq), String(this.idleMs)]);
    const keep = this.history.limit;
    if (keep === 0) return;
    let caughtUp = 0;
    const rooms = (await this.link.send("ZREVRANGE", [
      keys.HISTORY_ROOMS,
      "0",
      String(MAX_ROOMS_LOADED - 1),
    ])) as string[];
    for (const room of rooms) {
      // Each entry holds one event or more and is scored by its last number: the last `keep`
      // entries hold the last `keep` events.
      const reply = await this.link.send("ZRANGE", [keys.historyKey(room), String(-keep), "-1", "WITHSCORES"]);
      const events = scored(reply).flatMap(([entry, last]) => envelopes.readHistoryEntry(entry, last));
      for (const said of events.slice(-keep)) {
        if (!this.history.record(said) || this.#sharedAfterAll(said) || !deliver) continue;
        this.sink.deliverSaid(said, true);
        caughtUp++;
      }
    }
    this.#dropShared();
    if (caughtUp > 0)
      this.log.line(
        `Redis: caught up ${caughtUp} message${caughtUp === 1 ? "" : "s"} said on other instances meanwhile`,
      );
  }

  /** True if `said` is one of this instance's provisional messages that Redis took after all. */
  #sharedAfterAll(said: SaidEvent): boolean {
    return this.#unsharedKeys.size > 0 && this.#unsharedKeys.delete(sameMessage(said));
  }

  /** The provisional messages found in the shared history (#sharedAfterAll) are not shared again. */
  #dropShared(): void {
    if (this.#unsharedKeys.size === this.#unshared.length) return;
    const kept = this.#unshared.filter((event) => this.#unsharedKeys.has(sameMessage(event)));
    this.#unshared.splice(0, this.#unshared.length, ...kept);
  }

  /** What this instance's people said while it was cut off, numbered through `number`, in the order said. */
  async share(number: (events: Unnumbered[]) => Promise<void>, most: number): Promise<void> {
    let shared = 0;
    while (this.#unshared.length > 0) {
      const part = this.#unshared.slice(0, most).map(({ provisional: _, seq: __, ...event }) => event);
      for (const event of part) this.#healed.add(healedKey(event));
      await number(part);
      for (const event of this.#unshared.splice(0, part.length)) this.#unsharedKeys.delete(sameMessage(event));
      shared += part.length;
    }
    if (shared > 0) this.log.line(`Redis: shared ${shared} message${shared === 1 ? "" : "s"} said here while cut off`);
    if (this.#lostUnshared > 0)
      this.log.line(
        `Redis: ${this.#lostUnshared} messages said here while cut off were past ${MAX_UNSHARED} and reached only this instance`,
      );
    this.#lostUnshared = 0;
  }
}

/** A provisional message's id with its sender's address: a client chooses ids, so only the pair is ours alone. */
function healedKey(event: Unnumbered): string {
  return `${event.from.address} ${event.id}`;
}

/** One message, as said and as numbered in the shared history: its room, sender, time and text. */
function sameMessage(event: Unnumbered): string {
  return [event.room, event.from.address, event.time, event.text].join("\n");
}

/** ZRANGE … WITHSCORES as pairs, whether the reply is RESP3's pairs or RESP2's flat list. */
function scored(reply: unknown): [member: string, score: number][] {
  if (!Array.isArray(reply)) return [];
  if (reply.every(Array.isArray)) return reply.map(([member, score]) => [String(member), Number(score)]);
  const pairs: [string, number][] = [];
  for (let i = 0; i + 1 < reply.length; i += 2) pairs.push([String(reply[i]), Number(reply[i + 1])]);
  return pairs;
}
