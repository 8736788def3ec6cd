/**
 * Resuming after a reconnect without showing anything twice or losing anything sent. The client
 * remembers the last sequence number seen in each room (to ask for what came after, `?since=`, and
 * to drop what it has seen), and which of its messages have not come back yet: once the server has
 * replayed its history, those never arrived and go out again. It also remembers the ids of the
 * provisional messages it showed (said while the server was cut off from the others), so that
 * their numbered copies, which come later, are not shown again.
 */
import type { Command } from "../common/commands";
import type { JoinedEvent, SaidEvent } from "../common/events";

type Said = Extract<Command, { type: "say" | "me" }>;

/** Provisional messages remembered, at most: far more than a partition's worth in one room. */
const PROVISIONAL_KEPT = 1000;

export class Resume {
  /** The last sequence number seen, per room. */
  readonly #seen = new Map<string, number>();
  /** Ids of provisional messages shown and not yet seen numbered, oldest first. */
  readonly #provisional = new Set<string>();
  /** Our messages sent and not yet seen coming back, oldest first. */
  #unconfirmed: Said[] = [];
  /** History events still to come after `joined`: until then, a resume is not complete. */
  #replaying = 0;
  /** True from reconnecting until the replay is complete: nothing new is sent meanwhile. */
  resuming = false;

  /** The last sequence number seen in `room`, if any. */
  lastSeen(room: string): number | undefined {
    return this.#seen.get(room);
  }

  sent(command: Command): void {
    if (command.type === "say" || command.type === "me") this.#unconfirmed.push(command);
  }

  /** Messages and actions sent that have not come back. */
  get unconfirmed(): number {
    return this.#unconfirmed.length;
  }

  /** Entered a room: its replay follows. Returns what to send again if the resume is complete. */
  joined(event: JoinedEvent): Said[] {
    // A room whose numbering is behind ours started over (a server without --store restarted).
    if ((this.#seen.get(event.room) ?? 0) > event.seq) this.#seen.set(event.room, 0);
    this.#replaying = event.history;
    return this.#replaying === 0 ? this.#complete() : [];
  }

  /** False for a message already seen (a resume overlaps, or it was provisional); `own` confirms one of ours. */
  said(event: SaidEvent, own: boolean): boolean {
    if (event.provisional) return this.#provisionally(event, own);
    const seen = this.#seen.get(event.room) ?? 0;
    if (event.seq > seen) this.#seen.set(event.room, event.seq);
    // The numbered copy of a provisional message already shown.
    if (event.id !== undefined && this.#provisional.delete(event.id)) return false;
    if (event.seq <= seen) return false;
    if (own) this.#confirm(event);
    return true;
  }

  /** A provisional message is shown once, and moves no position: it has no number of its own yet. */
  #provisionally(event: SaidEvent, own: boolean): boolean {
    if (event.id === undefined || this.#provisional.has(event.id)) return false;
    this.#provisional.add(event.id);
    if (this.#provisional.size > PROVISIONAL_KEPT) this.#provisional.delete(this.#provisional.values().next().value!);
    if (own) this.#confirm(event);
    return true;
  }

  /** A history event was handled (shown or dropped). Returns what to send again if the resume is complete. */
  replayed(): Said[] {
    if (this.#replaying > 0 && --this.#replaying === 0) return this.#complete();
    return [];
  }

  #confirm(event: SaidEvent): void {
    const type = event.type === "message" ? "say" : "me";
    const at = this.#unconfirmed.findIndex((c) => c.type === type && c.text === event.text);
    if (at >= 0) this.#unconfirmed.splice(at, 1);
  }

  /** After a reconnect, what we sent and did not see come back never arrived. */
  #complete(): Said[] {
    if (!this.resuming) return [];
    this.resuming = false;
    return this.#unconfirmed.splice(0);
  }
}
