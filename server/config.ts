/**
 * The server's settings, read from its options (server.ts has the table): each value checked, and a
 * mistake reported as one UsageError sentence that names the flag.
 */
import { parsePort, UsageError } from "../common/cli";

/** The server's limits. */
export interface Limits {
  maxMessage: number;
  maxFrame: number;
  /** Messages a second (0: no limit) and the bucket's size. */
  rate: number;
  burst: number;
  maxClients: number;
  maxPerIp: number;
  maxBacklog: number;
  /** Rooms bigger than this hear no joins and leaves. */
  announceLimit: number;
  idleTimeout: number;
  /** Seconds a departed person's name is held for their return. */
  nameGrace: number;
  allowedOrigins: Set<string>;
  token: string | undefined;
}

export interface Config {
  host: string;
  port: number;
  limits: Limits;
  history: number;
  store: string | undefined;
  tls: { certFile: string; keyFile: string } | undefined;
  redis: string | undefined;
  reusePort: boolean;
  quiet: boolean;
}

/** The options as parsed from the command line: strings for valued options, booleans for switches. */
type Options = Record<string, string | boolean | undefined>;

export function readConfig(options: Options): Config {
  const text = (flag: string) => options[flag] as string;
  const count = (flag: string, min = 0) => {
    const given = text(flag);
    if (!/^\d{1,12}$/.test(given) || Number(given) < min) throw new UsageError(`--${flag} must be a whole number${min ? ` of at least ${min}` : ""}, not '${given}'.`);
    return Number(given);
  };
  const host = text("host");
  if (host === "" || /\s/.test(host)) throw new UsageError(`The host must be an address such as 127.0.0.1 or ::1, not '${host}'.`);
  const limits: Limits = {
    maxMessage: count("max-message", 1),
    maxFrame: count("max-frame", 1),
    rate: count("rate"),
    burst: count("burst", 1),
    maxClients: count("max-clients", 1),
    maxPerIp: count("max-per-ip", 1),
    maxBacklog: count("max-backlog", 1024),
    announceLimit: count("announce-limit"),
    idleTimeout: count("idle-timeout", 1),
    nameGrace: count("name-grace"),
    allowedOrigins: new Set((options["allow-origin"] as string | undefined ?? "").split(",").map((o) => o.trim().replace(/\/$/, "")).filter(Boolean)),
    token: options.token as string | undefined,
  };
  if (limits.maxFrame < limits.maxMessage) throw new UsageError(`--max-frame (${limits.maxFrame}) must be at least --max-message (${limits.maxMessage}).`);
  if (limits.idleTimeout > 960) throw new UsageError(`--idle-timeout can be at most 960 seconds, not ${limits.idleTimeout}.`);
  const [certFile, keyFile] = [options["tls-cert"] as string | undefined, options["tls-key"] as string | undefined];
  if ((certFile === undefined) !== (keyFile === undefined)) throw new UsageError("--tls-cert and --tls-key go together: give both or neither.");
  const redis = options.redis as string | undefined;
  if (redis !== undefined) checkRedisUrl(redis);
  return {
    host,
    port: parsePort(text("port"), "The port"),
    limits,
    history: count("history"),
    store: options.store as string | undefined,
    tls: certFile && keyFile ? { certFile, keyFile } : undefined,
    redis,
    reusePort: options["reuse-port"] === true,
    quiet: options.quiet === true,
  };
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
export async function readTls({ certFile, keyFile }: { certFile: string; keyFile: string }): Promise<{ cert: string; key: string }> {
  const read = async (file: string, flag: string) => {
    try {
      return await Bun.file(file).text();
    } catch (error) {
      throw new UsageError(`${flag} '${file}' could not be read: ${(error as { code?: string }).code ?? String(error)}.`);
    }
  };
  return { cert: await read(certFile, "--tls-cert"), key: await read(keyFile, "--tls-key") };
}
