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

export class RecipientBudgets {
  /**
   * By the address's budget (budgets.ts), which all its connections share and which is forgotten
   * once the address is idle: each recipient written to (by skeleton), and when last.
   */
  readonly #windows = new WeakMap<object, Map<string, number>>();

  constructor(
    private readonly clock: Clock,
    private readonly shared?: SharedBudgets,
  ) {}

  /**
   * Counts a private message to `name` from an address (or an API key): `budget`, its budget
   * object here, and `who`, its name for all instances. 0 if it may go, else the ms to wait;
   * at once with one instance, once Redis has counted too with several.
   */
  take(budget: object, who: string, name: string): Answer<number> {
    const here = this.#takeHere(budget, name);
    if (here > 0 || !this.shared?.available) return here;
    return this.shared
      .distinct(`recipients:${who}`, nameSkeleton(name), RECIPIENTS_PER_WINDOW, WINDOW_MS)
      .catch(() => 0); // Redis did not answer: this instance's count has decided.
  }

  #takeHere(address: object, name: string): number {
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
