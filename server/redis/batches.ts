/**
 * Batching and numbering. What this instance hears in one turn of its event loop goes to Redis as
 * one script call (SAY_SCRIPT), which numbers it, keeps it in the shared history and publishes it:
 * one call and one publish, whatever the number of messages, which is what keeps a busy instance
 * near its speed without Redis. Every instance, this one included, delivers a message when it
 * comes back through the subscription, and only then, so nothing is delivered twice: a header with
 * each room's first number, then each room's entry (envelopes.ts). This instance's own batch is
 * still here when it comes back: it is delivered from memory, only its numbers read; the others'
 * are parsed and checked as client input is.
 *
 * A turn's batch is cut into script calls of at most MAX_BATCH events and MAX_BATCH_BYTES of their
 * JSON, sent at once and in order (Redis runs them in that order): Redis runs a script alone, and
 * one call carrying a whole flood made every other instance wait. And an instance has at most
 * MAX_IN_FLIGHT_BYTES of its own on their way: what it hears past that waits for some to come back.
 * Redis drops a subscriber that falls 32 MB behind (client-output-buffer-limit pubsub), and an
 * instance flooded faster than it reads its own batches back would be dropped, and lose what was on
 * its way beyond what the shared history keeps.
 */
import type { SaidEvent } from "../../common/events";
import * as envelopes from "./envelopes";
import type { Failures } from "./failures";
import * as keys from "./keys";
import type { Link } from "./link";

export type Unnumbered = Omit<SaidEvent, "seq">;

/** This instance's own events on their way to Redis and back, at most (their JSON). */
export const MAX_IN_FLIGHT_BYTES = 4 * 1024 * 1024;

/** How much of the shared history Redis keeps (SAY_SCRIPT). */
export interface HistoryBounds {
  /** Events per room (--history; at least 1, the script's count). */
  keep: number;
  /** Bytes per room, and for every room together. */
  roomBytes: number;
  totalBytes: number;
  /** How long an idle room's keys live, in ms (0: for good). */
  idleMs: number;
}

/** What batching needs of the directory. */
export interface BatchOwner {
  readonly instance: string;
  /** The lowest number Redis may give next in `room`: one past the last this instance has seen. */
  nextSeq(room: string): number;
  /** An event is back from Redis, numbered: record and deliver it. */
  numbered(event: SaidEvent): void;
  /** Redis could not take these: deliver them here, provisionally. */
  unsent(events: Unnumbered[]): void;
}

/** A batch whose header has come: how its rooms' entries start, their first numbers, this instance's events if its own. */
interface Expected {
  prefix: string;
  firsts: number[];
  own: Unnumbered[][] | undefined;
  room: number;
}

export class Batches {
  /** Said in this turn of the event loop, to be numbered together once it ends. */
  #turn: Unnumbered[] = [];
  /** Numbers this instance's batches, so that it knows its own when they come back. */
  #sent = 0;
  /**
   * This instance's batches sent for numbering and not back yet, by number, as the events of each
   * room: delivered from here when they come back. Forgotten if the script fails, and on every
   * reconnection (what did not come back is in the shared history, or was delivered provisionally).
   */
  readonly #inFlight = new Map<number, { rooms: Unnumbered[][]; bytes: number }>();
  #inFlightBytes = 0;
  #flushing = false;
  /** After a batch's header: its rooms' entries still to come, in the order the script publishes them. */
  #expected: Expected | undefined;

  constructor(
    private readonly link: Link,
    private readonly owner: BatchOwner,
    private readonly bounds: HistoryBounds,
    private readonly failures: Failures,
  ) {}

  say(event: Unnumbered): void {
    this.#turn.push(event);
    this.#flushSoon();
  }

  /**
   * Flushes once the event loop has handled all the input it had: everything said in this turn,
   * from every connection, goes in one batch.
   */
  #flushSoon(): void {
    if (this.#flushing) return;
    this.#flushing = true;
    setImmediate(() => {
      this.#flushing = false;
      this.flush();
    });
  }

  /**
   * Has Redis number what was said so far, as far as MAX_IN_FLIGHT_BYTES allows (the rest waits
   * for batches to come back); cut off from Redis, it is all delivered here, provisionally.
   */
  flush(): void {
    if (this.#turn.length === 0) return;
    if (!this.link.connected) return this.owner.unsent(this.#turn.splice(0));
    while (this.#turn.length > 0 && this.#inFlightBytes < MAX_IN_FLIGHT_BYTES) {
      const part = this.#turn.splice(0, partLength(this.#turn));
      this.number(part).catch((error) => {
        this.failures.count("say", error);
        this.owner.unsent(part);
      });
    }
  }

  /**
   * Has Redis number, keep and publish `events` (no more than MAX_BATCH), in as few script calls
   * as MAX_BATCH_BYTES allows, all sent before this returns; resolves once Redis has answered them.
   * They come back through the subscription.
   */
  async number(events: Unnumbered[]): Promise<void> {
    const byRoom = new Map<string, Unnumbered[]>();
    for (const event of events) {
      const said = byRoom.get(event.room);
      if (said) said.push(event);
      else byRoom.set(event.room, [event]);
    }
    const batch = this.#sent + 1;
    const id = envelopes.batchId(this.owner.instance, batch);
    const entries = [...byRoom.values()].map((said) => envelopes.roomEntry(id, said));
    const bytes = jsonBytes(entries);
    if (bytes > keys.MAX_BATCH_BYTES && events.length > 1) {
      // Cut by count, one piece more than the bytes need: pieces still too big are cut again.
      const pieces = Math.min(events.length, Math.ceil(bytes / keys.MAX_BATCH_BYTES) + 1);
      const size = Math.ceil(events.length / pieces);
      const calls: Promise<void>[] = [];
      for (let from = 0; from < events.length; from += size) calls.push(this.number(events.slice(from, from + size)));
      return void (await Promise.all(calls));
    }
    this.#sent = batch;
    this.#inFlight.set(batch, { rooms: [...byRoom.values()], bytes });
    this.#inFlightBytes += bytes;
    try {
      await this.link.send("EVAL", this.#scriptArgs(batch, [...byRoom.keys()], byRoom, entries));
    } catch (error) {
      // Its header came back already: the script ran and everyone has it, whatever the reply says.
      if (!this.#landed(batch)) return;
      throw error;
    }
  }

  /** This instance's batch is back (or failed): no longer on its way; what waited for room may go. */
  #landed(batch: number): Unnumbered[][] | undefined {
    const landed = this.#inFlight.get(batch);
    if (!landed) return undefined;
    this.#inFlight.delete(batch);
    this.#inFlightBytes -= landed.bytes;
    if (this.#turn.length > 0) this.#flushSoon();
    return landed.rooms;
  }

  #scriptArgs(batch: number, rooms: string[], byRoom: Map<string, Unnumbered[]>, entries: string[]): string[] {
    const { keep, roomBytes, totalBytes, idleMs } = this.bounds;
    const scriptKeys = [keys.CHANNEL, keys.HISTORY_ROOMS, keys.HISTORY_BYTES, keys.HISTORY_TOTAL];
    const args = [this.owner.instance, String(batch), String(Math.max(keep, 1))];
    args.push(String(roomBytes), String(totalBytes), String(idleMs), String(Date.now()));
    for (const [i, room] of rooms.entries()) {
      scriptKeys.push(keys.seqKey(room), keys.historyKey(room));
      args.push(String(this.owner.nextSeq(room)), String(byRoom.get(room)!.length), room, entries[i]!);
    }
    return [keys.SAY_SCRIPT, String(scriptKeys.length), ...scriptKeys, ...args];
  }

  /** A batch's header came: its rooms' entries follow, in order. */
  header({ instance, batch, first }: { instance: string; batch: number; first: number[] }): void {
    let own: Unnumbered[][] | undefined;
    if (instance === this.owner.instance) {
      // Back: whatever the script's reply says, the batch is not to be delivered provisionally.
      own = this.#landed(batch);
      if (own?.length !== first.length) own = undefined;
    }
    const prefix = envelopes.roomEntryPrefix(envelopes.batchId(instance, batch));
    this.#expected = first.length > 0 ? { prefix, firsts: first, own, room: 0 } : undefined;
  }

  /**
   * One room's entry of the batch whose header came last: true if `message` is one (and it is
   * delivered). This instance's own events are still here: only numbered, not parsed again.
   */
  take(message: string): boolean {
    const expected = this.#expected;
    if (!expected) return false;
    const room = expected.room++;
    if (expected.room === expected.firsts.length) this.#expected = undefined;
    // Not what the header announced (it cannot be, as a script runs alone): the batch's rest is dropped.
    if (!message.startsWith(expected.prefix)) {
      this.#expected = undefined;
      return false;
    }
    const first = expected.firsts[room]!;
    const own = expected.own?.[room];
    if (own) {
      for (const [i, event] of own.entries()) {
        // The chat core's own event, made once and held only here: numbered in place.
        (event as SaidEvent).seq = first + i;
        this.owner.numbered(event as SaidEvent);
      }
      return true;
    }
    const said = envelopes.readRoomEntry(message, first);
    if (envelopes.isSkipped(said)) this.failures.skipped(said.reason);
    else for (const event of said) this.owner.numbered(event);
    return true;
  }

  /** On every reconnection: what was in flight is in the shared history, or was delivered provisionally. */
  reset(): void {
    this.#inFlight.clear();
    this.#inFlightBytes = 0;
    this.#expected = undefined;
    if (this.#turn.length > 0) this.#flushSoon();
  }
}

/**
 * How many of `events`, from the first, make one part: MAX_BATCH at most, and about MAX_BATCH_BYTES
 * of JSON, by their text's length (number() cuts a part that is still too big).
 */
function partLength(events: Unnumbered[]): number {
  let bytes = 0;
  for (let i = 0; i < events.length && i < keys.MAX_BATCH; i++) {
    bytes += events[i]!.text.length + 200;
    if (bytes > keys.MAX_BATCH_BYTES) return Math.max(i, 1);
  }
  return Math.min(events.length, keys.MAX_BATCH);
}

/**
 * What `entries` take in UTF-8, as Redis counts an argument; counted only when it might matter (a
 * UTF-16 unit is at most 3 bytes): below a third of the cap, their length is enough.
 */
function jsonBytes(entries: string[]): number {
  let units = 0;
  for (const entry of entries) units += entry.length;
  if (3 * units <= keys.MAX_BATCH_BYTES) return units;
  let bytes = 0;
  for (const entry of entries) bytes += Buffer.byteLength(entry);
  return bytes;
}
