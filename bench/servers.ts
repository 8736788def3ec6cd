/**
 * The benchmark's processes: the server set-ups it compares (and the flags ours runs with), with
 * their redis-servers, the load generators that drive them over IPC, and reading a process's CPU
 * time and memory from /proc.
 * Every process started here is killed if the benchmark is interrupted or fails.
 */

import { existsSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { cpus, tmpdir } from "node:os";
import { join } from "node:path";
import type { Subprocess } from "bun";
import { BUN, ROOT, type RunningRedis, startRedis, waitFor } from "../tools/processes";
import type { Command, Endpoint, Protocol, Reply } from "./load";
import { freshStore } from "./stores";

/**
 * The flags our server runs with, and why: its defaults protect a public chat, and some of them
 * would stop the benchmark itself. --rate 0 and --ip-rate 0: the default 5 messages a second per
 * connection (20 per address) would refuse the flood. --ip-connect-rate 0, --max-clients and
 * --max-per-ip: every benchmark client comes from 127.0.0.1, and the defaults (2 new connections a
 * second per address, 1000 in all, 50 per address) would turn the larger rooms away. Everything
 * else is the default: logging every message (to a file), 50 messages of history, limits and cleaning.
 */
export const OUR_FLAGS = [
  "--rate",
  "0",
  "--ip-rate",
  "0",
  "--ip-connect-rate",
  "0",
  "--max-clients",
  "100000",
  "--max-per-ip",
  "100000",
];
/** More flags for our server, from --server-flags: to measure what a setting costs. */
export const extraFlags: string[] = [];

/**
 * One server set-up the benchmark measures: how to start one instance of it (on a free port, with
 * the Redis URL if it uses Redis), how many instances share the clients (each client goes to the
 * next instance in turn), and which protocol its clients speak.
 */
interface Setup {
  label: string;
  command: (redisUrl?: string) => string[];
  instances: number;
  redis: boolean;
  protocol: Protocol;
  /** Each instance gets a fresh --store file, with this many registered accounts in it. */
  store?: { accounts: number; bans?: number };
  /** An event stream of the clients' room open on the HTTP API (/api/events), read by curl. */
  listener?: true;
}

const ours = (redisUrl?: string) => [
  BUN,
  join(ROOT, "server.ts"),
  "--port",
  "0",
  ...OUR_FLAGS,
  ...(redisUrl ? ["--redis", redisUrl] : []),
  ...extraFlags,
];
/** The API key the listener uses, in a file of --api-keys form written while its set-up runs. */
const LISTENER_KEY = "bench-listener-key-0123456789";
const LISTENER_KEYS = join(tmpdir(), `chat-bench-api-keys-${process.pid}.txt`);
const oursWithKeys = (redisUrl?: string) => [...ours(redisUrl), "--api-keys", LISTENER_KEYS];
/** The bans in force in the `ours-bans` set-up: moderation's check costs the same with them as with none. */
export const BANS = 10_000;
const socketIo = (redisUrl?: string) => [
  "node",
  join(ROOT, "bench/socketio-server.mjs"),
  "0",
  ...(redisUrl ? [redisUrl] : []),
];

export const SERVERS = {
  ours: { label: "this server", command: ours, instances: 1, redis: false, protocol: "plain" },
  ceiling: {
    label: "ceiling (bare Bun)",
    command: () => [BUN, join(ROOT, "bench/ceiling-server.ts"), "0"],
    instances: 1,
    redis: false,
    protocol: "plain",
  },
  node: {
    label: "Node.js + ws",
    command: () => ["node", join(ROOT, "bench/node-server.mjs"), "0"],
    instances: 1,
    redis: false,
    protocol: "plain",
  },
  "ours-sse": {
    label: "this server + an SSE listener",
    command: oursWithKeys,
    instances: 1,
    redis: false,
    protocol: "plain",
    listener: true,
  },
  "ours-redis": { label: "this server + Redis", command: ours, instances: 1, redis: true, protocol: "plain" },
  "ours-redis-2": {
    label: "this server + Redis, 2 instances",
    command: ours,
    instances: 2,
    redis: true,
    protocol: "plain",
  },
  socketio: { label: "Socket.IO", command: socketIo, instances: 1, redis: false, protocol: "socketio" },
  "socketio-redis": {
    label: "Socket.IO + Redis adapter",
    command: socketIo,
    instances: 1,
    redis: true,
    protocol: "socketio",
  },
  "socketio-redis-2": {
    label: "Socket.IO + Redis adapter, 2 instances",
    command: socketIo,
    instances: 2,
    redis: true,
    protocol: "socketio",
  },
  // What accounts and bans cost: the same server with a --store file, with and without them in it.
  "ours-store": {
    label: "this server + --store",
    command: ours,
    instances: 1,
    redis: false,
    protocol: "plain",
    store: { accounts: 0 },
  },
  "ours-accounts": {
    label: "this server + --store, 1,000 accounts",
    command: ours,
    instances: 1,
    redis: false,
    protocol: "plain",
    store: { accounts: 1000 },
  },
  "ours-bans": {
    label: `this server + --store, ${BANS.toLocaleString("en")} bans`,
    command: ours,
    instances: 1,
    redis: false,
    protocol: "plain",
    store: { accounts: 0, bans: BANS },
  },
} as const satisfies Record<string, Setup>;
export type ServerName = keyof typeof SERVERS;
export const SERVER_NAMES = Object.keys(SERVERS) as ServerName[];
/** The single-process servers the scale-out ones are compared with; capacity is measured on these only. */
export const SINGLE_SERVERS: ServerName[] = ["ours", "ceiling", "node"];

/**
 * With two cores or more, the server runs on the first and the load generators on the second
 * (taskset), so neither is moved between cores mid-measurement and the server has a core to
 * itself, as it would with its load coming from elsewhere. Every server is placed alike; a set-up
 * of two instances has both on the first core, so it gets the same CPU as one instance.
 */
export const PINNING = cpus().length >= 2 && Bun.which("taskset") !== null;
export const onCore = (core: number, command: string[]) =>
  PINNING ? ["taskset", "-c", String(core), ...command] : command;

/** A generator process holds at most this many connections: well within one process's open-file limit (20,000 here). */
export const PER_GENERATOR = 9_000;
/** In-flight deliveries the flood aims for: enough to keep any of the servers busy without pause. */
export const DELIVERIES_IN_FLIGHT = 65_536;

/** Every server and generator running now: killed if the benchmark is interrupted or fails. */
const children = new Set<Subprocess>();
export function spawnChild(...args: Parameters<typeof Bun.spawn>): Subprocess {
  const child = Bun.spawn(...args);
  children.add(child);
  void child.exited.then(() => children.delete(child));
  return child;
}
process.on("exit", () => {
  for (const child of children) child.kill("SIGKILL");
});
for (const signal of ["SIGINT", "SIGTERM"] as const) {
  process.on(signal, () => {
    process.stderr.write(`\nInterrupted: stopping ${children.size} processes; no results written.\n`);
    process.exit(130);
  });
}

export interface Running {
  name: ServerName;
  /** One per instance; clients are spread over them in turn. */
  instances: Subprocess[];
  /** The set-up's event stream reader (curl), if it has one. */
  listener?: Subprocess;
  endpoints: Endpoint[];
  redis?: RunningRedis;
  logFiles: string[];
  /** The fresh --store files of set-ups that have one, deleted when they stop. */
  storeFiles: string[];
}

/**
 * Starts a set-up: its redis-server first if it has one, then its instances. Redis shares the
 * servers' core: the generator keeps a core of its own, and what Redis costs is paid out of the
 * chat's CPU, as it would be on one machine. (On the generator's core, Redis added milliseconds
 * to p99 latency: the generator spins while it waits to send, and Redis waited for its turn.)
 */
export async function startServer(name: ServerName): Promise<Running> {
  const setup: Setup = SERVERS[name];
  const running: Running = { name, instances: [], endpoints: [], logFiles: [], storeFiles: [] };
  try {
    if (setup.redis) running.redis = await startRedis(undefined, (command) => onCore(0, command));
    if (setup.listener) writeFileSync(LISTENER_KEYS, `bench ${LISTENER_KEY}\n`);
    for (let n = 0; n < setup.instances; n++) {
      const store = setup.store && (await freshStore(setup.store));
      if (store) running.storeFiles.push(store);
      const { process, endpoint, logFile } = await startInstance(setup, running.redis?.url, store);
      running.instances.push(process);
      running.endpoints.push(endpoint);
      running.logFiles.push(logFile);
    }
    // Ours says when it is connected to Redis (waited for above); Socket.IO's adapter subscribes
    // without waiting for Redis to confirm, so its instances get a moment before the clients come.
    if (setup.redis && setup.protocol === "socketio") await Bun.sleep(300);
    if (setup.listener) running.listener = await startListener(running.endpoints[0]!);
    return running;
  } catch (error) {
    await stopServer(running);
    throw error;
  }
}

/**
 * Starts one instance with its log going to a file: unlike the tests' servers, whose output is
 * kept in memory, a benchmarked server logs millions of lines, and reading them here would load
 * the very machine being measured.
 */
async function startInstance(
  setup: Setup,
  redisUrl?: string,
  store?: string,
): Promise<{ process: Subprocess; endpoint: Endpoint; logFile: string }> {
  const logFile = join(tmpdir(), `chat-bench-${process.pid}-${Date.now()}-${Math.random().toString(36).slice(2)}.log`);
  const command = [...setup.command(redisUrl), ...(store ? ["--store", store] : [])];
  const server = spawnChild(onCore(0, command), {
    cwd: ROOT,
    stdout: Bun.file(logFile),
    stderr: "inherit",
  });
  const log = () => (existsSync(logFile) ? readFileSync(logFile, "utf8") : "");
  try {
    const [, host, port] = await waitFor(
      `${setup.label} to listen`,
      () => {
        if (server.exitCode !== null) throw new Error(`${setup.label} exited with ${server.exitCode}`);
        return /Listening on ws:\/\/([\d.]+):(\d+)/.exec(log()) ?? undefined;
      },
      10_000,
    );
    if (setup.redis && setup.protocol === "plain")
      await waitFor(
        `${setup.label} to connect to Redis`,
        () => (/Redis: connected/.test(log()) ? true : undefined),
        10_000,
      );
    return { process: server, endpoint: { host: host!, port: Number(port), protocol: setup.protocol }, logFile };
  } catch (error) {
    server.kill("SIGKILL");
    throw new Error(`${(error as Error).message}; its output is in ${logFile}`);
  }
}

/**
 * curl following the clients' room as Server-Sent Events (`curl -N`, as the README's bots do), on
 * the generators' core, throwing away what it reads; once the server counts it open.
 */
async function startListener({ host, port }: Endpoint): Promise<Subprocess> {
  const url = `http://${host}:${port}/api/events?rooms=chat`;
  const listener = spawnChild(
    onCore(1, ["curl", "-sN", "-o", "/dev/null", "-H", `Authorization: Bearer ${LISTENER_KEY}`, url]),
    { stdout: "ignore", stderr: "inherit" },
  );
  for (let tries = 0; tries < 100; tries++) {
    const metrics = await (await fetch(`http://${host}:${port}/metrics`)).text();
    if (/\nchat_event_streams 1\n/.test(metrics)) return listener;
    if (listener.exitCode !== null) break;
    await Bun.sleep(50);
  }
  listener.kill("SIGKILL");
  throw new Error(`the SSE listener (curl ${url}) did not connect`);
}

export async function stopServer(server: Running): Promise<void> {
  server.listener?.kill("SIGKILL");
  for (const instance of server.instances) instance.kill("SIGKILL");
  await Promise.all(server.instances.map((instance) => instance.exited));
  await server.redis?.stop();
  for (const logFile of server.logFiles) rmSync(logFile, { force: true });
  if ((SERVERS[server.name] as Setup).listener) rmSync(LISTENER_KEYS, { force: true });
  for (const store of server.storeFiles)
    for (const file of [store, `${store}-wal`, `${store}-shm`]) rmSync(file, { force: true });
}

/** CPU seconds of a set-up's instances together, and of its redis-server apart. */
export async function serverCpuSeconds(server: Running): Promise<{ instances: number; redis: number }> {
  const each = await Promise.all(server.instances.map((instance) => cpuSeconds(instance.pid)));
  return { instances: each.reduce((a, b) => a + b, 0), redis: server.redis ? await cpuSeconds(server.redis.pid) : 0 };
}

/** Resident memory of a set-up's instances together (not Redis's), now and at each one's peak. */
export async function serverMemory(server: Running): Promise<{ rss: number; peak: number }> {
  const each = await Promise.all(server.instances.map((instance) => memory(instance.pid)));
  return { rss: each.reduce((sum, m) => sum + m.rss, 0), peak: each.reduce((sum, m) => sum + m.peak, 0) };
}

/** A load generator process (bench/load.ts), asked one thing at a time over IPC. */
export class Generator {
  private replies: ((reply: Reply) => void)[] = [];
  readonly process: Subprocess;
  constructor() {
    this.process = spawnChild(onCore(1, [BUN, join(import.meta.dir, "load.ts")]), {
      stdout: "inherit",
      stderr: "inherit",
      ipc: (reply: Reply) => this.replies.shift()?.(reply),
    });
  }
  ask<T extends Reply["type"]>(command: Command, expected: T): Promise<Extract<Reply, { type: T }>> {
    return new Promise((resolve, reject) => {
      this.replies.push((reply) => {
        if (reply.type === expected) resolve(reply as Extract<Reply, { type: T }>);
        else
          reject(
            new Error(
              `load generator: ${reply.type === "failed" ? reply.message : `answered ${reply.type} to ${command.type}`}`,
            ),
          );
      });
      this.process.send(command);
    });
  }
  async stop(): Promise<void> {
    this.process.kill("SIGKILL");
    await this.process.exited;
  }
}

/** Opens `count` connections spread over `generators`; fails unless every one of them opens. */
export async function connectAll(server: Running, generators: Generator[], count: number): Promise<void> {
  const shares = generators.map(
    (_, i) => Math.floor(count / generators.length) + (i < count % generators.length ? 1 : 0),
  );
  const results = await Promise.all(
    generators.map((g, i) => g.ask({ type: "connect", endpoints: server.endpoints, count: shares[i]! }, "connected")),
  );
  const failed = results.reduce((sum, r) => sum + r.failed, 0);
  if (failed > 0)
    throw new Error(
      `${SERVERS[server.name].label}: ${failed} of ${count} connections failed (${results.find((r) => r.firstError)?.firstError})`,
    );
}

/** Linux counts a process's CPU time in clock ticks of 1/100 s (USER_HZ). */
const CLOCK_TICKS_PER_SECOND = 100;

/** User plus system CPU seconds of a process so far (proc(5): stat fields 14 and 15). */
export async function cpuSeconds(pid: number): Promise<number> {
  const stat = await Bun.file(`/proc/${pid}/stat`).text();
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS_PER_SECOND;
}

/** Resident memory now (VmRSS) and at its peak so far (VmHWM), in bytes. */
export async function memory(pid: number): Promise<{ rss: number; peak: number }> {
  const status = await Bun.file(`/proc/${pid}/status`).text();
  const kib = (field: string) => Number(new RegExp(`${field}:\\s+(\\d+) kB`).exec(status)?.[1] ?? NaN) * 1024;
  return { rss: kib("VmRSS"), peak: kib("VmHWM") };
}

/**
 * Runs `measure` against a fresh server with enough generators for `connections`, then stops them
 * all, whatever happened.
 */
export async function withServer<T>(
  name: ServerName,
  connections: number,
  measure: (server: Running, generators: Generator[]) => Promise<T>,
): Promise<T> {
  const server = await startServer(name);
  const generators = Array.from({ length: Math.max(1, Math.ceil(connections / PER_GENERATOR)) }, () => new Generator());
  try {
    return await measure(server, generators);
  } finally {
    await Promise.all(generators.map((g) => g.stop()));
    await stopServer(server);
  }
}
