/**
 * Private messages kept for registered people who are not connected, given to them at their next
 * login. They live in a table of the shared state (`private-inbox`, one row per person, by the
 * skeleton of their account's name), so they are kept across restarts (--store, Redis) and any
 * instance can give them. Each person's row is bounded: the newest KEPT_MESSAGES, and KEPT_BYTES of
 * text (the newest always stays); older ones are let go of and counted, and the person is told
 * how many.
 *
 * A row is read, changed and written back: this instance does that for one person at a time (a
 * queue per person), so two messages at once cannot undo each other here. Two instances keeping a
 * message for the same person within one Redis round trip could still lose one of the two.
 */
import { type PrivateEvent, validEvent } from "../../common/events";
import { nameSkeleton } from "../../common/lookalikes";
import type { SharedState, Table } from "../state/state";

/** Messages kept for one person, at most: the newest. */
export const KEPT_MESSAGES = 50;
/** Bytes of text kept for one person, at most (the newest message stays whatever its size). */
export const KEPT_BYTES = 64 * 1024;

/** One person's kept messages, oldest first, and how many older ones were let go of. */
export interface Kept {
  messages: PrivateEvent[];
  dropped: number;
}

function checkKept(value: unknown): Kept | undefined {
  if (typeof value !== "object" || value === null) return undefined;
  const { messages, dropped } = value as Record<string, unknown>;
  if (!Array.isArray(messages) || !Number.isSafeInteger(dropped)) return undefined;
  const events = messages.map(validEvent);
  if (!events.every((event) => event?.type === "dm")) return undefined;
  return { messages: events as PrivateEvent[], dropped: dropped as number };
}

export class Inbox {
  readonly #table: Table<Kept>;
  /** The change under way to each person's row, for the next to wait for. */
  readonly #queues = new Map<string, Promise<unknown>>();

  constructor(state: SharedState) {
    this.#table = state.table("private-inbox", checkKept);
  }

  /** The account of `key` (its skeleton) is gone: what was kept for it goes too, not to its name's next owner. */
  async forget(key: string): Promise<void> {
    if (this.#table.has(key)) await this.#table.delete(key);
  }

  /** Keeps `event` for `account`; rejects if the state could not be written (Redis away). */
  keep(account: string, event: PrivateEvent): Promise<void> {
    const key = nameSkeleton(account);
    return this.#queued(key, async () => {
      const kept = this.#table.get(key) ?? { messages: [], dropped: 0 };
      const messages = [...kept.messages, event];
      let dropped = kept.dropped;
      let bytes = messages.reduce((sum, m) => sum + keptBytes(m), 0);
      while (messages.length > 1 && (messages.length > KEPT_MESSAGES || bytes > KEPT_BYTES)) {
        bytes -= keptBytes(messages.shift()!);
        dropped++;
      }
      await this.#table.put(key, { messages, dropped });
    });
  }

  /**
   * What is kept for `account`, taken out: undefined if nothing is, or if another instance took it
   * first (the row is deleted once, wherever two logins race).
   */
  take(account: string): Promise<Kept | undefined> {
    const key = nameSkeleton(account);
    return this.#queued(key, async () => {
      const kept = this.#table.get(key);
      if (!kept || !(await this.#table.delete(key))) return undefined;
      return kept;
    });
  }

  /** Runs `change` once the changes before it to the same row are done. */
  #queued<T>(key: string, change: () => Promise<T>): Promise<T> {
    const before = this.#queues.get(key) ?? Promise.resolve();
    const done = before.catch(() => {}).then(change);
    this.#queues.set(key, done);
    const forget = () => void (this.#queues.get(key) === done && this.#queues.delete(key));
    done.then(forget, forget);
    return done;
  }
}

/** What a message's text takes as it is kept: JSON, where every quote and backslash doubles. */
function keptBytes(event: PrivateEvent): number {
  return Buffer.byteLength(JSON.stringify(event.text));
}
