/**
 * How many different people one address may write to privately in a minute. Private messages
 * already count against the address's message budget, as any frame does (intake.ts); this is the
 * budget of a spammer who writes one line to each of many people, which that one cannot see. A
 * name tried counts whether or not anyone holds it, so that the budget also bounds probing for who
 * is here. Writing again to someone written to within the minute is free.
 *
 * Each instance counts for itself: an address whose connections are spread over several instances
 * has this budget on each.
 */
import type { Clock } from "../../common/clock";
import { nameSkeleton } from "../../common/lookalikes";

/** Different people an address may write to privately within WINDOW_MS. */
export const RECIPIENTS_PER_WINDOW = 10;
export const WINDOW_MS = 60_000;

export class RecipientBudgets {
  /**
   * By the address's budget (budgets.ts), which all its connections share and which is forgotten
   * once the address is idle: each recipient written to (by skeleton), and when last.
   */
  readonly #windows = new WeakMap<object, Map<string, number>>();

  constructor(private readonly clock: Clock) {}

  /** Counts a private message from `address` to `name`: 0 if it may go, else the ms to wait. */
  take(address: object, name: string): number {
    const now = this.clock.now();
    let window = this.#windows.get(address);
    if (!window) this.#windows.set(address, (window = new Map()));
    for (const [who, at] of window) if (now - at >= WINDOW_MS) window.delete(who);
    const key = nameSkeleton(name);
    if (window.has(key) || window.size < RECIPIENTS_PER_WINDOW) {
      window.set(key, now);
      return 0;
    }
    return Math.min(...window.values()) + WINDOW_MS - now;
  }
}
