/**
 * What one client address may spend, however many connections it opens or however often it
 * reconnects: messages, name and room changes, new connections, open connections and bytes of
 * history replayed. A per-connection limit alone is no limit: a new connection starts with a full
 * bucket. Addresses are grouped by prefix (/32 for IPv4 and /64 for IPv6 by default), because
 * whoever holds one IPv6 address usually holds the 2^64 around it.
 *
 * An address's budget is forgotten once it has no connection and its buckets are full again, so
 * the memory of an attack from many addresses comes back.
 */
import { type Clock, REAL_CLOCK } from "../common/clock";
import { TokenBucket } from "../common/token-bucket";
import { addressPrefix } from "./addresses";
import type { Limits } from "./config";
import { type Bucket, LeasedBucket, type LeaseSource } from "./leases";

/** How often budgets no longer needed are forgotten. */
const FORGET_EVERY_MS = 10_000;

export class AddressBudget {
  /** Connections open now from this prefix, for --max-per-ip. */
  open = 0;
  readonly messages: Bucket;
  /** Renames and room changes: each one is told to a whole room. */
  readonly changes: Bucket;
  readonly connections: Bucket;
  /** Bytes of history replayed to this prefix's connections. */
  readonly replayBytes: Bucket;

  /**
   * @param leases with several instances, where the buckets shared by all of them lease from
   *   (leases.ts), so that an address has one budget however many instances it talks to
   */
  constructor(
    readonly prefix: string,
    private readonly limits: Limits,
    private readonly clock: Clock,
    leases?: LeaseSource,
  ) {
    const { ipRate, burst, ipChanges, ipConnectRate, ipReplay } = limits;
    const bucket = (kind: string, rate: number, size: number): Bucket =>
      leases ? new LeasedBucket(`${kind}:${prefix}`, rate, size, leases, clock) : new TokenBucket(rate, size, clock);
    this.messages = bucket("messages", ipRate, Math.max(ipRate, 3 * burst));
    this.changes = bucket("changes", ipChanges, 15 * ipChanges);
    this.connections = bucket("connections", ipConnectRate, 15 * ipConnectRate);
    this.replayBytes = bucket("replay", ipReplay, 16 * ipReplay);
  }

  /**
   * A bucket for one of this address's connections: --rate a second, --burst at once. Made here so
   * that a member need not keep the limits and the clock to make its own when it first speaks.
   */
  connectionBucket(): TokenBucket {
    return new TokenBucket(this.limits.rate, this.limits.burst, this.clock);
  }

  /** True when forgetting it would change nothing: no connection, every bucket full. */
  get idle(): boolean {
    const now = this.clock.now();
    return (
      this.open === 0 &&
      [this.messages, this.changes, this.connections, this.replayBytes].every((bucket) => bucket.isFull(now))
    );
  }
}

export class AddressBudgets {
  readonly #budgets = new Map<string, AddressBudget>();
  readonly #sweep: ReturnType<typeof setInterval>;

  constructor(
    private readonly limits: Limits,
    private readonly clock: Clock = REAL_CLOCK,
    /** Set with several instances: the address's budgets are shared by all of them. */
    private readonly leases?: LeaseSource,
  ) {
    this.#sweep = setInterval(() => this.forgetIdle(), FORGET_EVERY_MS).unref();
  }

  /** The budget of the prefix `ip` belongs to. */
  of(ip: string): AddressBudget {
    const prefix = addressPrefix(ip, this.limits.ipv4Prefix, this.limits.ipv6Prefix);
    let budget = this.#budgets.get(prefix);
    if (!budget) this.#budgets.set(prefix, (budget = new AddressBudget(prefix, this.limits, this.clock, this.leases)));
    return budget;
  }

  /** How many prefixes are remembered (for /metrics, and to show their memory comes back). */
  get size(): number {
    return this.#budgets.size;
  }

  forgetIdle(): void {
    for (const [prefix, budget] of this.#budgets) if (budget.idle) this.#budgets.delete(prefix);
  }

  stop(): void {
    clearInterval(this.#sweep);
  }
}
