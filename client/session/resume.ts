/**
 * Resuming after a reconnect without showing anything twice or losing anything sent. The client
 * remembers the last sequence number seen in each room (to ask for what came after, `?since=`, and
 * to drop what it has seen), and which of its messages have not come back yet, by the id each was
 * sent with (the server gives it back; the text is no guide, as the server cleans it): once the
 * server has replayed its history, those never arrived and go out again, with the same id. It also
 * remembers the provisional messages it showed (said while the server was cut off from the others),
 * by sender and id, so that their numbered copies, which come later, are not shown again.
 */
import type { Command } from "../../common/commands";
import type { JoinedEvent, PrivateEvent, SaidEvent } from "../../common/events";

/** What we send that comes back to us, known by its id: a message, an action, a private message. */
export type Said = Extract<Command, { type: "say" | "me" | "dm" | "reply" }>;
export const comesBack = (command: Command): command is Said =>
  command.type === "say" || command.type === "me" || command.type === "dm" || command.type === "reply";

/** Provisional messages remembered, at most: far more than a partition's worth in one room. */
const PROVISIONAL_KEPT = 1000;

export class Resume {
  /** The last sequence number seen, per room. */
  readonly #seen = new Map<string, number>();
  /** Provisional messages shown and not yet seen numbered, by sender and id, oldest first. */
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
    if (comesBack(command)) this.#unconfirmed.push(command);
  }

  /** Private messages that may have reached their person but never came back: not sent again, in case. */
  #unsure = 0;

  /** How many private messages were not sent again since last asked. */
  takeUnsure(): number {
    const unsure = this.#unsure;
    this.#unsure = 0;
    return unsure;
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
    if (event.id !== undefined && this.#provisional.delete(provisionalKey(event))) return false;
    if (event.seq <= seen) return false;
    if (own) this.#confirm(event);
    return true;
  }

  /** A provisional message is shown once, and moves no position: it has no number of its own yet. */
  #provisionally(event: SaidEvent, own: boolean): boolean {
    if (event.id === undefined || this.#provisional.has(provisionalKey(event))) return false;
    this.#provisional.add(provisionalKey(event));
    if (this.#provisional.size > PROVISIONAL_KEPT) this.#provisional.delete(this.#provisional.values().next().value!);
    if (own) this.#confirm(event);
    return true;
  }

  /** A history event was handled (shown or dropped). Returns what to send again if the resume is complete. */
  replayed(): Said[] {
    if (this.#replaying > 0 && --this.#replaying === 0) return this.#complete();
    return [];
  }

  /** A private message of ours (`own`) came back: it is not waited for any more. */
  private(event: PrivateEvent, own: boolean): void {
    if (own) this.#confirm(event);
  }

  /** One of ours came back: it is known by its id. */
  #confirm(event: SaidEvent | PrivateEvent): void {
    if (event.id === undefined) return;
    const at = this.#unconfirmed.findIndex((c) => c.id === event.id);
    if (at >= 0) this.#unconfirmed.splice(at, 1);
  }

  /** The server refused the message with this id: it is not waited for, nor sent again. Returns it. */
  refused(id: string): Said | undefined {
    const at = this.#unconfirmed.findIndex((c) => c.id === id);
    return at >= 0 ? this.#unconfirmed.splice(at, 1)[0] : undefined;
  }

  /**
   * After a reconnect, a message we sent and did not see come back never arrived: the room's
   * replay would have had it. A private message is in no replay: it may have arrived, so it is
   * counted as unsure rather than sent twice.
   */
  #complete(): Said[] {
    if (!this.resuming) return [];
    this.resuming = false;
    const unconfirmed = this.#unconfirmed.splice(0);
    const resent = unconfirmed.filter((c) => c.type === "say" || c.type === "me");
    this.#unsure += unconfirmed.length - resent.length;
    return resent;
  }
}

/** Ids are chosen by senders' clients: only with the sender's address is one ours to match. */
function provisionalKey(event: SaidEvent): string {
  return `${event.from.address} ${event.id}`;
}
