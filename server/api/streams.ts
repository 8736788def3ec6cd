/**
 * The event streams of GET /api/events (one is stream.ts; the route is events.ts): how many are
 * open per key and per address (--api-streams each), resuming one from its Last-Event-ID, writing
 * what each heard at most once per turn of the event loop (and every FLUSH_EVERY_MS), and cutting
 * the slow and the stalled.
 */
import type { SaidEvent } from "../../common/events";
import type { Limits } from "../config";
import type { Directory } from "../directory";
import { eventBytes } from "../event-bytes";
import type { Bucket } from "../leases";
import type { Logger } from "../log";
import type { Metrics } from "../metrics";
import { tooFast } from "./answers";
import type { ApiListeners } from "./listeners";
import { type Cursor, EventStream, type StreamOwner } from "./stream";

/** How often streams are looked over: for a stalled reader, and for one quiet long enough for a keep-alive. */
const SWEEP_MS = 1_000;
/** Streams are written to at most this often: a write is a system call, and a flood has many turns. */
const FLUSH_EVERY_MS = 5;
/** A stream with nothing to say says so this often (a comment), so that no proxy takes it for dead. */
const KEEP_ALIVE_MS = 15_000;

export interface StreamsParts {
  listeners: ApiListeners;
  directory: Directory;
  limits: Limits;
  metrics: Metrics;
  log: Logger;
  /** --api-streams: streams open at once per key, and per address. */
  perKey: number;
}

/** Where a stream starts in one room: the number after which it gives messages, and what history lost. */
interface Start {
  room: string;
  seq: number;
  missed?: number;
}

export class EventStreams implements StreamOwner {
  readonly #open = new Set<EventStream>();
  readonly #perKey = new Map<string, number>();
  readonly #perAddress = new Map<string, number>();
  readonly #toFlush = new Set<EventStream>();
  readonly #sweep: Timer;
  #flushedAt = 0;

  constructor(private readonly parts: StreamsParts) {
    this.#sweep = setInterval(() => this.#sweepAll(), SWEEP_MS);
    this.#sweep.unref();
  }

  get size(): number {
    return this.#open.size;
  }

  /** Why one more stream for this key or address is refused, or undefined. */
  refusal(name: string, prefix: string): Response | undefined {
    const most = this.parts.perKey;
    if ((this.#perKey.get(name) ?? 0) >= most)
      return tooFast(`The key of ${name} has ${most} event streams open, the most it may; close one.`, 10_000);
    if ((this.#perAddress.get(prefix) ?? 0) >= most)
      return tooFast(`Your address has ${most} event streams open, the most it may; close one.`, 10_000);
    return undefined;
  }

  /**
   * A new stream of `rooms`, from where `from` (a Last-Event-ID) left each of them: what it missed
   * that history has, as far as `replay` (the address's budget) allows, then what is said.
   */
  open(who: EventStream["who"], rooms: string[], from: Map<string, number> | undefined, replay: Bucket): EventStream {
    const cursor: Cursor = new Map(rooms.map((room) => [room, 0]));
    const stream = new EventStream(who, cursor, this);
    const starts: Start[] = [];
    const missed: SaidEvent[] = [];
    for (const room of rooms) {
      const { start, events } = this.#resume(room, from?.get(room), replay);
      cursor.set(room, start.seq);
      starts.push(start);
      missed.push(...events);
    }
    stream.ready(starts);
    for (const event of missed) stream.hear(event.room, event, JSON.stringify(event));
    for (const room of rooms) this.parts.listeners.listen(room, stream);
    this.#open.add(stream);
    count(this.#perKey, who.name, 1);
    count(this.#perAddress, who.prefix, 1);
    this.parts.log.line(`Event stream of ${who.name} (${who.address}) opened on ${rooms.join(", ")}`);
    return stream;
  }

  /** Where a stream starts in `room`, and the messages it missed there, newest kept first within `replay`. */
  #resume(room: string, after: number | undefined, replay: Bucket): { start: Start; events: SaidEvent[] } {
    const last = this.parts.directory.lastSeq(room);
    // A number past the room's own: the server started its numbering over; the stream starts now.
    if (after === undefined || after >= last) return { start: { room, seq: last }, events: [] };
    const { events, missed } = this.parts.directory.since(room, after);
    let cut = events.length;
    while (cut > 0 && replay.spend(eventBytes(events[cut - 1]!))) cut--;
    if (cut > 0) this.parts.metrics.replaysCut++;
    const lost = missed + cut;
    return { start: { room, seq: after, ...(lost > 0 && { missed: lost }) }, events: events.slice(cut) };
  }

  /**
   * At the end of this turn of the event loop, or, when the streams were written to less than
   * FLUSH_EVERY_MS ago, once that much has passed: under a flood, each stream is written to at most
   * a few hundred times a second, whatever number of turns the messages came in.
   */
  flushSoon(stream: EventStream): void {
    if (this.#toFlush.size === 0) {
      const wait = this.#flushedAt + FLUSH_EVERY_MS - performance.now();
      if (wait <= 0) setImmediate(() => this.#flushAll());
      else setTimeout(() => this.#flushAll(), wait);
    }
    this.#toFlush.add(stream);
  }

  ended(stream: EventStream): void {
    if (!this.#open.delete(stream)) return;
    this.#toFlush.delete(stream);
    for (const room of stream.rooms) this.parts.listeners.stopListening(room, stream);
    count(this.#perKey, stream.who.name, -1);
    count(this.#perAddress, stream.who.prefix, -1);
    this.parts.log.line(`Event stream of ${stream.who.name} (${stream.who.address}) ended`);
  }

  /** A key was revoked: its streams end, saying why. */
  revoked(hash: string): void {
    for (const stream of [...this.#open]) {
      if (stream.who.hash !== hash) continue;
      stream.close({ type: "error", code: "bad-key", message: "This key was revoked." });
      this.parts.log.line(`Closed the event stream of ${stream.who.name} (${stream.who.address}): its key was revoked`);
    }
  }

  /** The server is stopping: every stream ends once it has what it was told (the shutdown notice). */
  closeAll(): void {
    clearInterval(this.#sweep);
    for (const stream of [...this.#open]) stream.close();
  }

  #flushAll(): void {
    this.#flushedAt = performance.now();
    const streams = [...this.#toFlush];
    this.#toFlush.clear();
    for (const stream of streams) {
      const waiting = stream.flush();
      if (waiting > this.parts.limits.maxBacklog) this.#cut(stream, `too slow, ${waiting} bytes waiting`, "closedSlow");
    }
  }

  #sweepAll(): void {
    const now = performance.now();
    const { maxBacklog, stallTimeout } = this.parts.limits;
    for (const stream of [...this.#open]) {
      stream.keepAlive(now, KEEP_ALIVE_MS);
      const waiting = stream.waiting;
      const stalledSince = stream.stalledSince(now);
      if (waiting > maxBacklog) this.#cut(stream, `too slow, ${waiting} bytes waiting`, "closedSlow");
      else if (stalledSince !== undefined && now - stalledSince > stallTimeout * 1000)
        this.#cut(stream, `reading nothing for ${stallTimeout} s, ${waiting} bytes waiting`, "closedStalled");
    }
  }

  #cut(stream: EventStream, why: string, counter: "closedSlow" | "closedStalled"): void {
    this.parts.metrics[counter]++;
    this.parts.log.line(`Closing the event stream of ${stream.who.name} (${stream.who.address}): ${why}`);
    stream.cut();
  }
}

function count(counts: Map<string, number>, key: string, change: number): void {
  const now = (counts.get(key) ?? 0) + change;
  if (now > 0) counts.set(key, now);
  else counts.delete(key);
}
