/**
 * The server's settings, read from its options (server.ts has the table): each value checked, and a
 * mistake reported as one UsageError sentence that names the flag.
 */
import { parsePort, UsageError } from "../common/cli";
import { nameProblem, normalizeName } from "../common/text";
import { type Network, PROXY_HEADERS, type ProxyHeader, parseNetworks } from "./proxy";

/** The server's limits. */
export interface Limits {
  maxMessage: number;
  maxFrame: number;
  /** Messages a second (0: no limit) and the bucket's size. */
  rate: number;
  burst: number;
  maxClients: number;
  maxPerIp: number;
  /** Per address prefix (budgets.ts): messages, renames and joins, connections a second; replay bytes a second. */
  ipRate: number;
  ipChanges: number;
  ipConnectRate: number;
  ipReplay: number;
  ipv4Prefix: number;
  ipv6Prefix: number;
  maxBacklog: number;
  /** Unsent bytes of every reader together, and seconds a reader may take nothing of its backlog. */
  maxUnsent: number;
  stallTimeout: number;
  maxRooms: number;
  /** Rooms bigger than this hear no joins and leaves. */
  announceLimit: number;
  idleTimeout: number;
  /** Seconds a departed person's name is held for their return. */
  nameGrace: number;
  allowedOrigins: Set<string>;
  /** Reverse proxies whose X-Forwarded-For / Forwarded is believed. */
  trustedProxies: Network[];
  /** The one header of theirs that is read: the client can send the other one too. */
  proxyHeader: ProxyHeader;
  token: string | undefined;
  /** True: /healthz and /metrics answer without the token. */
  publicStatus: boolean;
}

export interface Config {
  host: string;
  port: number;
  limits: Limits;
  history: number;
  /** Bytes of history kept in memory for every room together. */
  historyBytes: number;
  store: string | undefined;
  /** How much of the store is kept: messages per room, and days (0: for good). */
  storeKeep: { perRoom: number; days: number; bytes: number };
  tls: { certFile: string; keyFile: string } | undefined;
  redis: string | undefined;
  reusePort: boolean;
  quiet: boolean;
  /** The HTTP API: the --api-keys file, if any, and event streams per key and per address. */
  api: { keyFile: string | undefined; streams: number };
  /** Accounts that are operators of the whole chat (--ops), registered or not yet. */
  ops: string[];
  /** --guests (false: only people logged in to an account may do anything) and --registration. */
  accounts: { guests: boolean; registration: boolean };
}

/** The options as parsed from the command line: strings for valued options, booleans for switches. */
type Options = Record<string, string | boolean | undefined>;

export function readConfig(options: Options): Config {
  const { text, count } = readers(options);
  const host = text("host");
  if (host === "" || /\s/.test(host))
    throw new UsageError(`The host must be an address such as 127.0.0.1 or ::1, not '${host}'.`);
  const [certFile, keyFile] = [options["tls-cert"] as string | undefined, options["tls-key"] as string | undefined];
  if ((certFile === undefined) !== (keyFile === undefined))
    throw new UsageError("--tls-cert and --tls-key go together: give both or neither.");
  const redis = options.redis as string | undefined;
  if (redis !== undefined) checkRedisUrl(redis);
  return {
    host,
    port: parsePort(text("port"), "The port"),
    limits: readLimits(options),
    history: count("history"),
    historyBytes: count("history-bytes", 1024),
    store: options.store as string | undefined,
    storeKeep: { perRoom: count("store-keep", 1), days: count("store-days"), bytes: count("store-bytes", 1 << 20) },
    tls: certFile && keyFile ? { certFile, keyFile } : undefined,
    redis,
    reusePort: options["reuse-port"] === true,
    quiet: options.quiet === true,
    api: { keyFile: options["api-keys"] as string | undefined, streams: count("api-streams", 1) },
    ops: operators(options.ops as string | undefined),
    accounts: {
      guests: choice(options, "guests", ["yes", "no"]) === "yes",
      registration: choice(options, "registration", ["open", "closed"]) === "open",
    },
  };
}

/** --ops alice,bob: names, each a valid one. */
function operators(list: string | undefined): string[] {
  const names = (list ?? "").split(",").map(normalizeName).filter(Boolean);
  for (const name of names) {
    const problem = nameProblem(name);
    if (problem) throw new UsageError(`--ops takes names separated by commas: ${problem}`);
  }
  return names;
}

/** An option that takes one of a few words. */
function choice(options: Options, flag: string, words: string[]): string {
  const given = String(options[flag]).toLowerCase();
  if (!words.includes(given))
    throw new UsageError(`--${flag} must be ${words.join(" or ")}, not '${String(options[flag])}'.`);
  return given;
}

/** An option's text, and an option read as a whole number of at least `min`. */
function readers(options: Options) {
  const text = (flag: string) => options[flag] as string;
  const count = (flag: string, min = 0) => {
    const given = text(flag);
    if (!/^\d{1,12}$/.test(given) || Number(given) < min)
      throw new UsageError(`--${flag} must be a whole number${min ? ` of at least ${min}` : ""}, not '${given}'.`);
    return Number(given);
  };
  return { text, count };
}

function readLimits(options: Options): Limits {
  const { count } = readers(options);
  const limits: Limits = {
    maxMessage: count("max-message", 1),
    maxFrame: count("max-frame", 1),
    rate: count("rate"),
    burst: count("burst", 1),
    maxClients: count("max-clients", 1),
    maxPerIp: count("max-per-ip", 1),
    ipRate: count("ip-rate"),
    ipChanges: count("ip-changes"),
    ipConnectRate: count("ip-connect-rate"),
    ipReplay: count("ip-replay"),
    ipv4Prefix: count("ipv4-prefix"),
    ipv6Prefix: count("ipv6-prefix"),
    maxBacklog: count("max-backlog", 1024),
    maxUnsent: count("max-unsent", 1024),
    stallTimeout: count("stall-timeout", 1),
    maxRooms: count("max-rooms", 1),
    announceLimit: count("announce-limit"),
    idleTimeout: count("idle-timeout", 1),
    nameGrace: count("name-grace"),
    allowedOrigins: new Set(
      ((options["allow-origin"] as string | undefined) ?? "")
        .split(",")
        .map((o) => o.trim().replace(/\/$/, ""))
        .filter(Boolean),
    ),
    token: options.token as string | undefined,
    publicStatus: options["public-status"] === true,
    trustedProxies: trustedProxies(options["trust-proxy"] as string | undefined),
    proxyHeader: proxyHeader(options["proxy-header"] as string),
  };
  if (limits.maxFrame < limits.maxMessage)
    throw new UsageError(`--max-frame (${limits.maxFrame}) must be at least --max-message (${limits.maxMessage}).`);
  if (limits.ipv4Prefix > 32) throw new UsageError(`--ipv4-prefix can be at most 32 bits, not ${limits.ipv4Prefix}.`);
  if (limits.ipv6Prefix > 128) throw new UsageError(`--ipv6-prefix can be at most 128 bits, not ${limits.ipv6Prefix}.`);
  if (limits.idleTimeout > 960)
    throw new UsageError(`--idle-timeout can be at most 960 seconds, not ${limits.idleTimeout}.`);
  return limits;
}

function trustedProxies(list: string | undefined): Network[] {
  if (list === undefined) return [];
  const { networks, bad } = parseNetworks(list);
  if (bad !== undefined)
    throw new UsageError(`--trust-proxy takes addresses or networks such as 10.0.0.0/8 or ::1, not '${bad}'.`);
  return networks;
}

function proxyHeader(given: string): ProxyHeader {
  const header = PROXY_HEADERS.find((name) => name === given.toLowerCase());
  if (header === undefined)
    throw new UsageError(`--proxy-header must be forwarded or x-forwarded-for, not '${given}'.`);
  return header;
}

/** Refuses at once what Bun's Redis client would otherwise retry forever. */
function checkRedisUrl(text: string): void {
  let url: URL | undefined;
  try {
    url = new URL(text);
  } catch {
    url = undefined;
  }
  const schemes = ["redis:", "rediss:", "redis+tls:", "redis+unix:", "redis+tls+unix:"];
  if (!url || !schemes.includes(url.protocol) || (!url.protocol.includes("unix") && url.hostname === "")) {
    throw new UsageError(`--redis must be a Redis URL such as redis://127.0.0.1:6379, not '${text}'.`);
  }
}

/** Reads the certificate and key for --tls-cert/--tls-key. */
export async function readTls({
  certFile,
  keyFile,
}: {
  certFile: string;
  keyFile: string;
}): Promise<{ cert: string; key: string }> {
  const read = async (file: string, flag: string) => {
    try {
      return await Bun.file(file).text();
    } catch (error) {
      throw new UsageError(
        `${flag} '${file}' could not be read: ${(error as { code?: string }).code ?? String(error)}.`,
      );
    }
  };
  return { cert: await read(certFile, "--tls-cert"), key: await read(keyFile, "--tls-key") };
}
