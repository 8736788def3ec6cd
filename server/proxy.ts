/**
 * Who a client really is when it comes through a reverse proxy. Behind one, every connection comes
 * from the proxy's address, so tags and per-address budgets would all be the proxy's. With
 * --trust-proxy, a connection from one of the given networks has its client taken from the header
 * the proxy adds, X-Forwarded-For or RFC 7239 Forwarded (--proxy-header says which): the last
 * address in it that is not itself a trusted proxy, since everything left of that the client could
 * have written itself. Only that one header is read: a proxy that writes one passes the other on
 * as the client sent it. From anywhere else the headers are ignored: anyone can send them.
 */
import { addressPrefix, expandIpv6, ipv4Octets } from "./addresses";

/** An address as the server tags it: the IP, and the port when one is known. */
export interface ClientAddress {
  ip: string;
  port: number;
}

/** The header a trusted proxy names the client in, lower-case as Headers.get takes it. */
export type ProxyHeader = "x-forwarded-for" | "forwarded";
export const PROXY_HEADERS: readonly ProxyHeader[] = ["x-forwarded-for", "forwarded"];

/** A network: `10.0.0.0/8`, `::1/128`; a bare address is a network of one. */
export interface Network {
  prefix: string;
  v4: boolean;
  bits: number;
}

/** Parses --trust-proxy's list; undefined names the first entry that is not a network. */
export function parseNetworks(list: string): { networks: Network[]; bad?: string } {
  const networks: Network[] = [];
  for (const entry of list
    .split(",")
    .map((e) => e.trim())
    .filter(Boolean)) {
    const [address = "", bitsText] = entry.split("/");
    const v4 = isIpv4(address);
    if (!v4 && !isIpv6(address)) return { networks, bad: entry };
    const bits = bitsText === undefined ? (v4 ? 32 : 128) : Number(bitsText);
    if (!/^\d{1,3}$/.test(bitsText ?? "0") || bits > (v4 ? 32 : 128)) return { networks, bad: entry };
    networks.push({ prefix: prefixOf(address, v4, bits), v4, bits });
  }
  return { networks };
}

export function isTrusted(ip: string, networks: readonly Network[]): boolean {
  const v4 = isIpv4(ip);
  return networks.some((network) => network.v4 === v4 && prefixOf(ip, v4, network.bits) === network.prefix);
}

/** The client behind `peer`: `peer` itself unless it is a trusted proxy that says, in `header`, who it forwards. */
export function clientAddress(
  headers: Headers,
  connected: ClientAddress,
  trusted: readonly Network[],
  header: ProxyHeader,
): ClientAddress {
  const peer = { ip: unmapped(connected.ip), port: connected.port };
  if (trusted.length === 0 || !isTrusted(peer.ip, trusted)) return peer;
  const hops = forwardedHops(headers, header);
  // Right to left: the nearest hop was written by our own proxy; each trusted proxy vouches for
  // the one before it.
  for (let i = hops.length - 1; i >= 0; i--) {
    const hop = { ...hops[i]!, ip: unmapped(hops[i]!.ip) };
    if (!isIpv4(hop.ip) && !isIpv6(hop.ip)) return peer;
    if (!isTrusted(hop.ip, trusted) || i === 0) return { ip: hop.ip, port: hop.port ?? peer.port };
  }
  return peer;
}

/** The addresses a request passed through, oldest first, from `header` alone. */
function forwardedHops(headers: Headers, header: ProxyHeader): { ip: string; port?: number }[] {
  const value = headers.get(header);
  if (value === null) return [];
  if (header === "x-forwarded-for") return value.split(",").map((hop) => splitHostPort(hop.trim()));
  return value.split(",").flatMap((element) => {
    const value = /(?:^|;)\s*for=("[^"]*"|[^;,\s]*)/i.exec(element)?.[1];
    return value === undefined ? [] : [splitHostPort(value.replace(/^"|"$/g, ""))];
  });
}

/** `1.2.3.4`, `1.2.3.4:80`, `[2001:db8::1]:80`, `2001:db8::1`. */
function splitHostPort(text: string): { ip: string; port?: number } {
  const bracketed = /^\[([^\]]+)\](?::(\d{1,5}))?$/.exec(text);
  if (bracketed) return { ip: bracketed[1]!, ...(bracketed[2] && { port: Number(bracketed[2]) }) };
  const v4WithPort = /^([\d.]+):(\d{1,5})$/.exec(text);
  if (v4WithPort) return { ip: v4WithPort[1]!, port: Number(v4WithPort[2]) };
  return { ip: text };
}

/** An IPv4-mapped IPv6 address (`::ffff:1.2.3.4`) is the IPv4 address it carries. */
function unmapped(ip: string): string {
  return /^::ffff:[\d.]+$/i.test(ip) ? ip.slice(7) : ip;
}

function prefixOf(ip: string, v4: boolean, bits: number): string {
  return v4 ? addressPrefix(ip, bits, 0) : addressPrefix(ip, 0, bits);
}

function isIpv4(text: string): boolean {
  return ipv4Octets(text) !== undefined;
}

function isIpv6(text: string): boolean {
  return expandIpv6(text) !== undefined;
}
