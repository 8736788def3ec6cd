/**
 * A token bucket: up to `burst` at once, refilled at `rate` a second. The server meters each
 * client's messages with one; the client paces what it sends with one set to the server's numbers,
 * so that a script piping in a file is never refused.
 */
import { type Clock, REAL_CLOCK } from "./clock";

export class TokenBucket {
  #tokens: number;
  #filledAt: number;

  /** @param rate tokens a second; 0 for no limit @param burst the bucket's size (starts full) */
  constructor(
    private rate: number,
    private burst: number,
    private readonly clock: Clock = REAL_CLOCK,
  ) {
    this.#tokens = burst;
    this.#filledAt = clock.now();
  }

  /** Takes a token if there is one: true if the caller may go ahead. */
  take(now?: number): boolean {
    return this.spend(1, now);
  }

  /** Takes `cost` tokens (bytes, say) if there are that many; nothing if there are not. */
  spend(cost: number, now?: number): boolean {
    // Checked before reading the clock: with no limit, this is on every message's path.
    if (this.rate === 0) return true;
    this.#refill(now ?? this.clock.now());
    if (this.#tokens < cost) return false;
    this.#tokens -= cost;
    return true;
  }

  /** How many tokens there are now (Infinity with no limit): what a caller may spend at most. */
  available(now?: number): number {
    if (this.rate === 0) return Number.POSITIVE_INFINITY;
    this.#refill(now ?? this.clock.now());
    return this.#tokens;
  }

  /** True once the bucket has refilled: forgetting it then loses nothing, a new one starts full. */
  isFull(now?: number): boolean {
    if (this.rate === 0) return true;
    this.#refill(now ?? this.clock.now());
    return this.#tokens >= this.burst;
  }

  /** Milliseconds until the next token is there (0 if one is). */
  waitMs(now?: number): number {
    if (this.rate === 0) return 0;
    this.#refill(now ?? this.clock.now());
    return this.#tokens >= 1 ? 0 : Math.ceil(((1 - this.#tokens) / this.rate) * 1000);
  }

  /** New numbers (the server announced its limits), starting full. */
  reset(rate: number, burst: number, now = this.clock.now()): void {
    this.rate = rate;
    this.burst = burst;
    this.#tokens = burst;
    this.#filledAt = now;
  }

  #refill(now: number): void {
    this.#tokens = Math.min(this.burst, this.#tokens + ((now - this.#filledAt) / 1000) * this.rate);
    this.#filledAt = now;
  }

  /** Gives back a token taken for what turned out not to need one (a right password, say). */
  giveBack(): void {
    this.#tokens = Math.min(this.burst, this.#tokens + 1);
  }
}
