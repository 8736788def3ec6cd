/**
 * The HTTP API's listeners of rooms, as the chat core sees them (RoomListeners, member.ts): the
 * event streams of /api/events, and the posts of /api/rooms/{room}/messages waiting for their
 * message to come back numbered. Both hear a room through the chat's one broadcast, the way its
 * JSON clients do, so whatever reaches the room from any instance (with --redis) reaches them.
 */
import type { ChatEvent, SaidEvent } from "../../common/events";
import type { RoomListeners } from "../member";

/** One event stream's side of it (streams.ts). */
export interface RoomStream {
  hear(room: string, event: ChatEvent, frame: string): void;
}

export class ApiListeners implements RoomListeners {
  readonly #streams = new Map<string, Set<RoomStream>>();
  /** Room → message id → who waits for it. */
  readonly #waiting = new Map<string, Map<string, (said: SaidEvent) => void>>();

  count(room: string): number {
    return (this.#streams.get(room)?.size ?? 0) + (this.#waiting.get(room)?.size ?? 0);
  }

  deliver(room: string, event: ChatEvent, frame: string): void {
    for (const stream of this.#streams.get(room) ?? []) stream.hear(room, event, frame);
    if (event.type !== "message" && event.type !== "action") return;
    const waiting = this.#waiting.get(room);
    const waiter = event.id === undefined ? undefined : waiting?.get(event.id);
    if (!waiter) return;
    waiting!.delete(event.id!);
    if (waiting!.size === 0) this.#waiting.delete(room);
    waiter(event);
  }

  listen(room: string, stream: RoomStream): void {
    let streams = this.#streams.get(room);
    if (!streams) this.#streams.set(room, (streams = new Set()));
    streams.add(stream);
  }

  stopListening(room: string, stream: RoomStream): void {
    const streams = this.#streams.get(room);
    streams?.delete(stream);
    if (streams?.size === 0) this.#streams.delete(room);
  }

  /**
   * The message of `id` in `room` as it comes back from the directory: numbered (with Redis, once
   * its batch is back), or provisional while the instance is cut off; undefined after `timeoutMs`.
   * Asked for before the message is said: a single instance hands it back at once.
   */
  said(room: string, id: string, timeoutMs: number): Promise<SaidEvent | undefined> {
    return new Promise((resolve) => {
      let waiting = this.#waiting.get(room);
      if (!waiting) this.#waiting.set(room, (waiting = new Map()));
      const timer = setTimeout(() => {
        waiting.delete(id);
        if (waiting.size === 0 && this.#waiting.get(room) === waiting) this.#waiting.delete(room);
        resolve(undefined);
      }, timeoutMs);
      waiting.set(id, (said) => {
        clearTimeout(timer);
        resolve(said);
      });
    });
  }
}
