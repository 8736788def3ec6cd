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
import type { Limits } from "./config";

/** How often budgets no longer needed are forgotten. */
const FORGET_EVERY_MS = 10_000;

export class AddressBudget {
  /** Connections open now from this prefix, for --max-per-ip. */
  open = 0;
  readonly messages: TokenBucket;
  /** Renames and room changes: each one is told to a whole room. */
  readonly changes: TokenBucket;
  readonly connections: TokenBucket;
  /** Bytes of history replayed to this prefix's connections. */
  readonly replayBytes: TokenBucket;

  constructor(
    readonly prefix: string,
    { ipRate, burst, ipChanges, ipConnectRate, ipReplay }: Limits,
    private readonly clock: Clock,
  ) {
    this.messages = new TokenBucket(ipRate, Math.max(ipRate, 3 * burst), clock);
    this.changes = new TokenBucket(ipChanges, 15 * ipChanges, clock);
    this.connections = new TokenBucket(ipConnectRate, 15 * ipConnectRate, clock);
    this.replayBytes = new TokenBucket(ipReplay, 16 * ipReplay, clock);
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
  ) {
    this.#sweep = setInterval(() => this.forgetIdle(), FORGET_EVERY_MS).unref();
  }

  /** The budget of the prefix `ip` belongs to. */
  of(ip: string): AddressBudget {
    const prefix = addressPrefix(ip, this.limits.ipv4Prefix, this.limits.ipv6Prefix);
    let budget = this.#budgets.get(prefix);
    if (!budget) this.#budgets.set(prefix, (budget = new AddressBudget(prefix, this.limits, this.clock)));
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

/**
 * The network an address belongs to, as text: `203.0.113.0/24` for 203.0.113.7 at 24 bits,
 * `2001:db8:0:1::/64` for any address in that /64. Anything that is not an IP address is its own
 * prefix.
 */
export function addressPrefix(ip: string, v4Bits: number, v6Bits: number): string {
  const bare = ip.replace(/^\[|\]$/g, "");
  const octets = ipv4Octets(bare);
  if (octets) {
    const value = octets.reduce((sum, octet) => sum * 256 + octet, 0);
    const masked = v4Bits === 0 ? 0 : value - (value % 2 ** (32 - v4Bits));
    return `${[24, 16, 8, 0].map((shift) => Math.floor(masked / 2 ** shift) % 256).join(".")}/${v4Bits}`;
  }
  const groups = expandIpv6(bare);
  if (!groups) return bare;
  const masked = groups.map((group, i) => {
    const keep = Math.min(16, Math.max(0, v6Bits - 16 * i));
    return keep === 0 ? 0 : group & (0xffff << (16 - keep)) & 0xffff;
  });
  return `${masked.map((g) => g.toString(16)).join(":")}/${v6Bits}`;
}

/** The four octets of an IPv4 address, or undefined if it is not one. */
export function ipv4Octets(text: string): number[] | undefined {
  const match = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(text);
  const octets = match?.slice(1).map(Number);
  return octets?.every((octet) => octet <= 255) ? octets : undefined;
}

/** The eight 16-bit groups of an IPv6 address, or undefined if it is not one. */
export function expandIpv6(text: string): number[] | undefined {
  const address = text.replace(/%.*$/, ""); // a zone (fe80::1%eth0) is not part of the network
  if (!/^[0-9a-f:]+$/i.test(address) || address.split("::").length > 2) return undefined;
  const [head, tail] = address.includes("::") ? address.split("::") : [address, undefined];
  const parse = (part: string | undefined) => (part ? part.split(":").map((g) => parseInt(g, 16)) : []);
  const [front, back] = [parse(head), parse(tail)];
  const missing = 8 - front.length - back.length;
  if ((tail === undefined && missing !== 0) || missing < 0) return undefined;
  const groups = [...front, ...Array<number>(tail === undefined ? 0 : missing).fill(0), ...back];
  return groups.every((g) => Number.isInteger(g) && g >= 0 && g <= 0xffff) ? groups : undefined;
}
