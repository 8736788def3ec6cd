/**
 * Addresses as moderation targets them: an address or a network (`203.0.113.7`,
 * `203.0.113.0/24`, `2001:db8::/64`), read from what a moderator typed or from a connection, and a
 * map from networks to what is known of them (a ban, a mute) that finds an address's entry with
 * one look-up per prefix length in use, never a scan of the entries: 10,000 bans cost what one does.
 */
import { expandIpv6, ipv4Octets } from "../addresses";

/** A network: its family, its prefix length and its first address, as a number (IPv4) or bigint (IPv6). */
export type Network = { family: 4; bits: number; value: number } | { family: 6; bits: number; value: bigint };

/** An address is a network of every bit. */
export type Address = Network;

/** The shortest prefixes a moderator may ban: anything wider would take in too many people. */
const WIDEST = { 4: 8, 6: 32 } as const;

/** An IPv4 address, with a port or not: the common case, read with one regular expression. */
const IPV4_WITH_PORT = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})(?::\d{1,5})?$/;

/** The address a connection came from (`ip:port`, `[v6]:port`, or a bare address), or undefined. */
export function addressOf(address: string): Address | undefined {
  const v4 = IPV4_WITH_PORT.exec(address);
  if (v4) {
    const [a, b, c, d] = [Number(v4[1]), Number(v4[2]), Number(v4[3]), Number(v4[4])];
    if (a > 255 || b > 255 || c > 255 || d > 255) return undefined;
    return { family: 4, bits: 32, value: ((a * 256 + b) * 256 + c) * 256 + d };
  }
  const bracketed = /^\[([^\]]+)\](?::\d+)?$/.exec(address);
  return parseAddress(bracketed ? bracketed[1]! : address);
}

/** An IPv4 or IPv6 address as a network of every bit; an IPv4-mapped IPv6 address is its IPv4 one. */
export function parseAddress(text: string): Address | undefined {
  const octets = ipv4Octets(text.replace(/^::ffff:(?=\d+\.)/i, ""));
  if (octets) return { family: 4, bits: 32, value: octets.reduce((sum, octet) => sum * 256 + octet, 0) };
  const groups = expandIpv6(text);
  if (!groups) return undefined;
  const value = groups.reduce((sum, group) => (sum << 16n) | BigInt(group), 0n);
  if (value >> 32n === 0xffffn) return { family: 4, bits: 32, value: Number(value & 0xffffffffn) };
  return { family: 6, bits: 128, value };
}

/**
 * What a moderator typed as an address target: an address (an IPv6 one stands for its /64, as a
 * guest's does) or a network in CIDR notation; a problem to tell them otherwise, or undefined if
 * it does not look like an address at all (it is a name, then).
 */
export function parseNetwork(text: string): Network | { problem: string } | undefined {
  const [addressText = "", bitsText, ...rest] = text.split("/");
  const address = parseAddress(addressText);
  // A name has neither `/` nor `:`: anything else that is not an address is a mistyped one.
  if (!address) return /[/:]/.test(text) ? { problem: `'${text}' is not an address.` } : undefined;
  if (rest.length > 0 || (bitsText !== undefined && !/^\d{1,3}$/.test(bitsText)))
    return { problem: `'${text}' is not a network: write it as 203.0.113.0/24 or 2001:db8::/64.` };
  const most = address.family === 4 ? 32 : 128;
  const bits = bitsText === undefined ? (address.family === 4 ? 32 : 64) : Number(bitsText);
  if (bits > most || bits < WIDEST[address.family])
    return { problem: `An IPv${address.family} network is /${WIDEST[address.family]} to /${most}, not /${bits}.` };
  return within(address, bits);
}

/** The network of `bits` that `address` is in. */
export function within(address: Address, bits: number): Network {
  return address.family === 4
    ? { family: 4, bits, value: maskedValue(address, bits) as number }
    : { family: 6, bits, value: maskedValue(address, bits) as bigint };
}

/** The first address of the network of `bits` that `address` is in, as a number (IPv4) or bigint (IPv6). */
function maskedValue(address: Address, bits: number): number | bigint {
  if (address.family === 4) return bits === 0 ? 0 : address.value - (address.value % 2 ** (32 - bits));
  const shift = BigInt(128 - bits);
  return (address.value >> shift) << shift;
}

/** What a guest is known by, since they can take another name: their IPv4 address, or their IPv6 /64. */
export function guestNetwork(address: Address): Network {
  return address.family === 4 ? address : within(address, 64);
}

/** True if `address` is in `network`. */
export function contains(network: Network, address: Address): boolean {
  if (network.family !== address.family) return false;
  const masked = within(address, network.bits);
  return masked.value === network.value;
}

/** `203.0.113.0/24`, `2001:db8::/64`; an IPv4 address alone (/32) without its length. */
export function showNetwork(network: Network): string {
  if (network.family === 4) {
    const octets = [24, 16, 8, 0].map((shift) => Math.floor(network.value / 2 ** shift) % 256);
    return network.bits === 32 ? octets.join(".") : `${octets.join(".")}/${network.bits}`;
  }
  const groups = Array.from({ length: 8 }, (_, i) => Number((network.value >> BigInt(112 - 16 * i)) & 0xffffn));
  return `${compressIpv6(groups)}/${network.bits}`;
}

/** IPv6 groups as RFC 5952 writes them: the longest run of two or more zero groups as `::`. */
function compressIpv6(groups: number[]): string {
  let [bestStart, bestLength] = [-1, 1];
  for (let start = 0; start < 8; start++) {
    let length = 0;
    while (start + length < 8 && groups[start + length] === 0) length++;
    if (length > bestLength) [bestStart, bestLength] = [start, length];
  }
  const hex = groups.map((g) => g.toString(16));
  if (bestStart < 0) return hex.join(":");
  return `${hex.slice(0, bestStart).join(":")}::${hex.slice(bestStart + bestLength).join(":")}`;
}

/**
 * Entries by network. Finding an address's entry looks it up once per prefix length in use (at
 * most 33 for IPv4, 129 for IPv6; a handful in practice), however many entries there are.
 */
export class NetworkMap<T> {
  readonly #byLength = { 4: new Map<number, Map<number | bigint, T>>(), 6: new Map<number, Map<number | bigint, T>>() };
  /** The prefix lengths in use, longest first: kept as entries come and go, not sorted at each look-up. */
  readonly #lengths: { 4: number[]; 6: number[] } = { 4: [], 6: [] };

  set(network: Network, value: T): void {
    const lengths = this.#byLength[network.family];
    let entries = lengths.get(network.bits);
    if (!entries) {
      lengths.set(network.bits, (entries = new Map()));
      this.#lengths[network.family] = [...lengths.keys()].sort((a, b) => b - a);
    }
    entries.set(network.value, value);
  }

  delete(network: Network): void {
    const lengths = this.#byLength[network.family];
    const entries = lengths.get(network.bits);
    entries?.delete(network.value);
    if (entries?.size !== 0) return;
    lengths.delete(network.bits);
    this.#lengths[network.family] = [...lengths.keys()].sort((a, b) => b - a);
  }

  /** The entry of exactly `network`, if any. */
  get(network: Network): T | undefined {
    return this.#byLength[network.family].get(network.bits)?.get(network.value);
  }

  /** The entry of the longest network `address` is in that `keep` keeps, if any. */
  find(address: Address, keep: (value: T) => boolean = () => true): T | undefined {
    const byLength = this.#byLength[address.family];
    for (const bits of this.#lengths[address.family]) {
      const value = byLength.get(bits)!.get(maskedValue(address, bits));
      if (value !== undefined && keep(value)) return value;
    }
    return undefined;
  }

  get empty(): boolean {
    return this.#byLength[4].size === 0 && this.#byLength[6].size === 0;
  }
}
