/**
 * One event stream of GET /api/events: Server-Sent Events (the WHATWG HTML standard's
 * text/event-stream), so that a bot in any language is `curl -N`. Each event's data is the JSON
 * event a JSON client gets (a message, an action, a notice), one line.
 *
 * Its id is where the stream is in each of its rooms: `room:seq` for each room, comma-separated,
 * in the order the rooms were asked for (`dev:12,ops:40`; a room name percent-encoded as in a URL),
 * as of that event. A message's id moves its room's number; a notice has no id (it is not kept in
 * history), so the last id seen stays right. A client that comes back with `Last-Event-ID` (a
 * browser's EventSource does it by itself) is given, room by room, what it missed that history
 * still has, then what is said; nothing twice: a message at or below the stream's number for its
 * room is not sent again.
 *
 * What the network has not taken waits in the stream's queue. Past --max-backlog bytes, or
 * nothing of it taken for --stall-timeout seconds, the stream is cut, as a slow WebSocket reader
 * is (readers.ts): a stalled reader must not hold the server's memory. What is said meanwhile is
 * written as one chunk, once a turn of the event loop at most (streams.ts), not one per message.
 */
import type { ChatEvent, ErrorEvent } from "../../common/events";
import type { RoomStream } from "./listeners";

/** What the stream's queue holds before Bun stops taking from it for a reader that is behind. */
const QUEUE_MARK = 64 * 1024;
/** A browser's EventSource waits this long before reconnecting. */
const RETRY_MS = 2_000;

const encoder = new TextEncoder();

/** The stream's position: the last number given in each of its rooms, in the order asked for. */
export type Cursor = Map<string, number>;

/** A Last-Event-ID read back: room → number; undefined if it is not one of our ids. */
export function readCursorId(text: string): Map<string, number> | undefined {
  const cursor = new Map<string, number>();
  for (const part of text.split(",")) {
    const match = /^([^:]+):(\d{1,15})$/.exec(part.trim());
    if (!match) return undefined;
    try {
      cursor.set(decodeURIComponent(match[1]!).normalize("NFKC"), Number(match[2]));
    } catch {
      return undefined;
    }
  }
  return cursor;
}

/** What a stream asks of the streams it is one of (streams.ts). */
export interface StreamOwner {
  /** Flushes the stream at the end of this turn of the event loop. */
  flushSoon(stream: EventStream): void;
  /** The stream ended (its reader left, it was cut or closed): it listens no more. */
  ended(stream: EventStream): void;
}

export class EventStream implements RoomStream {
  readonly response: Response;
  #controller!: ReadableStreamDefaultController<Uint8Array>;
  /** Text written since the last flush. */
  #pending = "";
  /** Bytes handed to the queue so far, and taken from it by the network as of the last look. */
  #enqueued = 0;
  #takenSeen = 0;
  /** Since when nothing of a backlog has been taken (undefined: none, or it moves). */
  #stalledSince: number | undefined;
  #lastWrite = performance.now();
  #ended = false;
  /** `dev:`, `ops:`: each room's part of an id, made once, in the cursor's order (which never changes). */
  readonly #labels: string[];

  constructor(
    /** The key's name and hash, and the caller's address prefix and `ip:port`: what bounds and logs it. */
    readonly who: { name: string; hash: string; prefix: string; address: string },
    readonly cursor: Cursor,
    private readonly owner: StreamOwner,
  ) {
    this.#labels = Array.from(cursor.keys(), (room) => `${encodeURIComponent(room)}:`);
    const body = new ReadableStream<Uint8Array>(
      {
        start: (controller) => void (this.#controller = controller),
        cancel: () => this.#end(),
      },
      new ByteLengthQueuingStrategy({ highWaterMark: QUEUE_MARK }),
    );
    this.response = new Response(body, {
      headers: {
        "Content-Type": "text/event-stream; charset=utf-8",
        "Cache-Control": "no-store",
        // A reverse proxy such as nginx would otherwise hold events back to fill its buffer.
        "X-Accel-Buffering": "no",
      },
    });
  }

  get rooms(): Iterable<string> {
    return this.cursor.keys();
  }

  /** The first event: where the stream starts in each room, and what history no longer has. */
  ready(rooms: { room: string; seq: number; missed?: number }[]): void {
    this.#write(`retry: ${RETRY_MS}\nid: ${this.#id()}\ndata: ${JSON.stringify({ type: "ready", rooms })}\n\n`);
  }

  /** An event of one of its rooms; a message it has had (replayed, or heard twice) is skipped. */
  hear(room: string, event: ChatEvent, frame: string): void {
    if ((event.type === "message" || event.type === "action") && !event.provisional) {
      if (event.seq <= (this.cursor.get(room) ?? 0)) return;
      this.cursor.set(room, event.seq);
      return this.#write(`id: ${this.#id()}\ndata: ${frame}\n\n`);
    }
    this.#write(`data: ${frame}\n\n`);
  }

  /** `dev:12,ops:40`: the stream's position, the id of its next event; what Last-Event-ID brings back. */
  #id(): string {
    let id = "";
    let i = 0;
    for (const seq of this.cursor.values()) id += `${i === 0 ? "" : ","}${this.#labels[i++]}${seq}`;
    return id;
  }

  /** A comment, which clients ignore: it keeps proxies and the connection from thinking it idle. */
  keepAlive(now: number, everyMs: number): void {
    if (now - this.#lastWrite >= everyMs) this.#write(": keep-alive\n\n");
  }

  #write(text: string): void {
    if (this.#ended) return;
    if (this.#pending === "") this.owner.flushSoon(this);
    this.#pending += text;
  }

  /** Hands what was written this turn to the queue, as one chunk; the bytes waiting, after. */
  flush(): number {
    if (this.#ended || this.#pending === "") return this.waiting;
    const bytes = encoder.encode(this.#pending);
    this.#pending = "";
    this.#controller.enqueue(bytes);
    this.#enqueued += bytes.length;
    this.#lastWrite = performance.now();
    return this.waiting;
  }

  /** Bytes in the queue the network has not taken. */
  get waiting(): number {
    return Math.max(0, QUEUE_MARK - (this.#controller.desiredSize ?? QUEUE_MARK));
  }

  /** Since when nothing of its backlog has been taken (undefined: no backlog, or it is being read). */
  stalledSince(now: number): number | undefined {
    const waiting = this.waiting;
    const taken = this.#enqueued - waiting;
    if (waiting === 0) this.#stalledSince = undefined;
    else if (taken !== this.#takenSeen || this.#stalledSince === undefined) this.#stalledSince = now;
    this.#takenSeen = taken;
    return this.#stalledSince;
  }

  /** Ends the stream with a last event (the key was revoked, the server stops), once it is out. */
  close(last?: ErrorEvent): void {
    if (last) this.#write(`data: ${JSON.stringify(last)}\n\n`);
    this.flush();
    if (this.#ended) return;
    this.#controller.close();
    this.#end();
  }

  /** Cuts the stream at once, and what waits in it: Bun drops the connection. */
  cut(): void {
    if (this.#ended) return;
    this.#controller.error(new Error("cut off"));
    this.#end();
  }

  #end(): void {
    if (this.#ended) return;
    this.#ended = true;
    this.#pending = "";
    this.owner.ended(this);
  }
}
