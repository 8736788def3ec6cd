/**
 * How many different people one address may write to privately in a minute. Private messages
 * already count against the address's message budget, as any frame does (intake.ts); this is the
 * budget of a spammer who writes one line to each of many people, which that one cannot see. A
 * name tried counts whether or not anyone holds it, so that the budget also bounds probing for who
 * is here. Writing again to someone written to within the minute is free.
 *
 * With several instances (--redis), the people written to are counted in Redis too, one window
 * for all of them, so that an address spread over instances has one budget; each instance's own
 * count decides alone while Redis is away.
 */
import type { Clock } from "../../common/clock";
import { nameSkeleton } from "../../common/lookalikes";
import type { Answer } from "../directory";
import type { SharedBudgets } from "../leases";

/** Different people an address may write to privately within WINDOW_MS. */
export const RECIPIENTS_PER_WINDOW = 10;
export const WINDOW_MS = 60_000;

/** Windows kept at most (a flood from very many addresses); past it, the oldest tenth are forgotten. */
const MAX_WINDOWS = 100_000;

export class RecipientBudgets {
  /**
   * By address (or API key): each recipient written to (by skeleton), and when last. Kept for the
   * window's length whether or not the address stays connected: leaving and coming back does not
   * start it over.
   */
  readonly #windows = new Map<string, Map<string, number>>();
  #sweptAt: number;

  constructor(
    private readonly clock: Clock,
    private readonly shared?: SharedBudgets,
  ) {
    this.#sweptAt = clock.now();
  }

  /**
   * Counts a private message to `name` from `who` (`address:PREFIX`, `key:NAME`): 0 if it may
   * go, else the ms to wait; at once with one instance, once Redis has counted too with several.
   */
  take(who: string, name: string): Answer<number> {
    const here = this.#takeHere(who, name);
    if (here > 0 || !this.shared?.available) return here;
    return this.shared
      .distinct(`recipients:${who}`, nameSkeleton(name), RECIPIENTS_PER_WINDOW, WINDOW_MS)
      .catch(() => 0); // Redis did not answer: this instance's count has decided.
  }

  #takeHere(sender: string, name: string): number {
    const now = this.clock.now();
    if (now - this.#sweptAt >= WINDOW_MS) this.#sweep(now);
    let window = this.#windows.get(sender);
    if (!window) {
      if (this.#windows.size >= MAX_WINDOWS) this.#forgetOldest();
      this.#windows.set(sender, (window = new Map()));
    }
    for (const [who, at] of window) if (now - at >= WINDOW_MS) window.delete(who);
    const key = nameSkeleton(name);
    if (window.has(key) || window.size < RECIPIENTS_PER_WINDOW) {
      window.set(key, now);
      return 0;
    }
    return Math.min(...window.values()) + WINDOW_MS - now;
  }

  /** Forgets the windows nobody was written to in for a whole window: memory comes back. */
  #sweep(now: number): void {
    this.#sweptAt = now;
    for (const [sender, window] of this.#windows)
      if ([...window.values()].every((at) => now - at >= WINDOW_MS)) this.#windows.delete(sender);
  }

  #forgetOldest(): void {
    let drop = MAX_WINDOWS / 10;
    for (const sender of this.#windows.keys()) {
      if (drop-- === 0) break;
      this.#windows.delete(sender);
    }
  }
}
