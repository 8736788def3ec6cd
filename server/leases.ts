/**
 * An address's budget shared by every instance, without a round trip to Redis per message. Each
 * instance spends, for each address, tokens it has leased from one bucket kept in Redis (a Lua
 * script refills it at the budget's rate and hands out what is there), a few at a time: it asks
 * for more when it runs low, before it runs out, so that a message seldom waits for Redis, and it
 * may run a little into debt while an answer is on its way (the next lease pays it back). So N
 * instances give an address its one budget, within about a lease per instance, not N budgets.
 *
 * While Redis is away (or before it has answered once), or slow (a lease not back within
 * LEASE_PATIENCE_MS), the instance's own bucket decides, as a single instance would: nobody is
 * refused, nor closed as a flooder, because Redis is slow to answer.
 */
import type { Clock } from "../common/clock";
import { TokenBucket } from "../common/token-bucket";

/** A lease not back after this long counts as none: the local bucket decides until it comes. */
export const LEASE_PATIENCE_MS = 500;

/** Where leases come from: Redis's shared buckets (redis/leases.ts), or nowhere (one instance). */
export interface LeaseSource {
  /** True while leases can be had; otherwise each instance spends alone. */
  readonly available: boolean;
  /**
   * Up to `wanted` tokens from the shared bucket `key` (refilled at `rate` a second, holding
   * `burst`); resolves with how many were given (0 when it is empty).
   */
  lease(key: string, rate: number, burst: number, wanted: number): Promise<number>;
}

/** A bucket the instances share, as the all-or-none budgets name it: its key, rate a second and size. */
export interface SharedBucket {
  key: string;
  rate: number;
  burst: number;
}

/**
 * Budgets the instances share exactly, each use asking Redis in one round trip: for what is rare
 * and dear enough (a password guess is about to cost a hash; a private message to someone new),
 * rather than within a lease each.
 */
export interface SharedBudgets extends LeaseSource {
  /**
   * Counts `member` (a recipient, say) in the window `key` of the last `windowMs`: 0 if it was
   * there already or the window holds fewer than `most`, otherwise the ms until the oldest leaves.
   */
  distinct(key: string, member: string, most: number, windowMs: number): Promise<number>;
  /**
   * One token from each bucket, or from none; undefined when taken, otherwise the first bucket
   * that had none (its index in `buckets`) and how long until it will.
   */
  takeAll(buckets: SharedBucket[]): Promise<{ index: number; waitMs: number } | undefined>;
  /** Gives one token back to each bucket (what was taken turned out not to need one). */
  giveBack(buckets: SharedBucket[]): Promise<void>;
}

/** What the budgets need of a bucket: the same whether it is this instance's alone or leased. */
export interface Bucket {
  take(now?: number): boolean;
  spend(cost: number, now?: number): boolean;
  isFull(now?: number): boolean;
  available(now?: number): number;
  waitMs(now?: number): number;
}

/**
 * A budget spent from leases of a shared bucket, falling back to a bucket of its own while the
 * source is not available. Leases are a quarter of a second's worth of the rate, or a quarter of
 * the burst if that is more.
 */
export class LeasedBucket implements Bucket {
  readonly #local: TokenBucket;
  readonly #leaseSize: number;
  /** Tokens leased and not spent; below 0, a debt the next lease pays first. */
  #tokens = 0;
  #asking = false;
  /** When the lease on its way was asked for. */
  #askedAt = 0;
  /** After a lease that came short, no asking again before this (the shared bucket is empty). */
  #quietUntil = 0;

  constructor(
    private readonly key: string,
    private readonly rate: number,
    private readonly burst: number,
    private readonly source: LeaseSource,
    private readonly clock: Clock,
  ) {
    this.#local = new TokenBucket(rate, burst, clock);
    // A quarter second's worth, or a quarter of the burst if more: a new address's burst (30 new
    // connections at once) must not wait for a lease per connection.
    this.#leaseSize = Math.max(1, Math.ceil(rate / 4), Math.ceil(burst / 4));
  }

  take(now?: number): boolean {
    return this.spend(1, now);
  }

  /** Spends `cost` tokens (bytes, say) if the address may; the local bucket is spent alike. */
  spend(cost: number, now?: number): boolean {
    // The local bucket is spent too, always: if Redis goes away, it knows what was spent lately.
    const localMay = this.#local.spend(cost, now);
    if (this.rate === 0 || !this.source.available) return localMay;
    const at = now ?? this.clock.now();
    if (this.#asking && at - this.#askedAt > LEASE_PATIENCE_MS) return localMay;
    if (this.#tokens >= cost) {
      this.#tokens -= cost;
      if (this.#tokens < this.#leaseSize / 2) this.#ask(at);
      return true;
    }
    // Out of leased tokens: a little debt while a lease is coming, none once the shared bucket said it is empty.
    this.#ask(at);
    if (at < this.#quietUntil || this.#tokens - cost < -this.#leaseSize) return false;
    this.#tokens -= cost;
    return true;
  }

  isFull(now?: number): boolean {
    return this.#local.isFull(now) && this.#tokens >= 0 && !this.#asking;
  }

  available(now?: number): number {
    return this.#local.available(now);
  }

  waitMs(now?: number): number {
    return this.#local.waitMs(now);
  }

  #ask(now: number): void {
    if (this.#asking || now < this.#quietUntil) return;
    this.#asking = true;
    this.#askedAt = now;
    // A lease's worth, and the debt run up meanwhile.
    const wanted = this.#leaseSize + Math.ceil(Math.max(0, -this.#tokens));
    this.source.lease(this.key, this.rate, this.burst, wanted).then(
      (given) => {
        this.#asking = false;
        this.#tokens += given;
        // Short: the shared bucket is empty; it refills at `rate`, so ask again once a lease is there.
        if (given < wanted) this.#quietUntil = this.clock.now() + (1000 * this.#leaseSize) / this.rate;
      },
      () => {
        // Redis did not answer: the local bucket decides until it does (source.available says so).
        this.#asking = false;
      },
    );
  }
}
