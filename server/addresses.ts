/**
 * IP addresses as the server groups them: the network (prefix) an address belongs to, for the
 * per-address budgets (budgets.ts) and for trusting a proxy (proxy.ts).
 */

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
