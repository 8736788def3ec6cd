/**
 * The benchmark's processes: the three servers it compares (and the flags ours runs with), the load
 * generators that drive them over IPC, and reading a process's CPU time and memory from /proc.
 * Every process started here is killed if the benchmark is interrupted or fails.
 */
import type { Subprocess } from "bun";
import { existsSync, readFileSync, rmSync } from "node:fs";
import { cpus, tmpdir } from "node:os";
import { join } from "node:path";
import { BUN, ROOT, waitFor } from "../test/helpers";
import type { Command, Reply } from "./load";

/**
 * The flags our server runs with, and why: its defaults protect a public chat, and three of them
 * would stop the benchmark itself. --rate 0: the default 5 messages a second per connection would
 * refuse the flood. --max-clients and --max-per-ip: every benchmark client comes from 127.0.0.1,
 * and the defaults (1000 in all, 50 per address) would turn the larger rooms away. Everything else
 * is the default: logging every message (to a file), 50 messages of history, limits and cleaning.
 */
export const OUR_FLAGS = ["--rate", "0", "--ip-rate", "0", "--ip-connect-rate", "0", "--max-clients", "100000", "--max-per-ip", "100000"];

export const SERVERS = {
  ours: { label: "this server", command: [BUN, join(ROOT, "server.ts"), "--port", "0", ...OUR_FLAGS] as string[] },
  ceiling: { label: "ceiling (bare Bun)", command: [BUN, join(ROOT, "bench/ceiling-server.ts"), "0"] },
  node: { label: "Node.js + ws", command: ["node", join(ROOT, "bench/node-server.mjs"), "0"] },
} as const;
export type ServerName = keyof typeof SERVERS;
export const SERVER_NAMES = Object.keys(SERVERS) as ServerName[];

/**
 * With two cores or more, the server runs on the first and the load generators on the second
 * (taskset), so neither is moved between cores mid-measurement and the server has a core to
 * itself, as it would with its load coming from elsewhere. All three servers are placed alike.
 */
export const PINNING = cpus().length >= 2 && Bun.which("taskset") !== null;
export const onCore = (core: number, command: string[]) => (PINNING ? ["taskset", "-c", String(core), ...command] : command);

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
  process: Subprocess;
  host: string;
  port: number;
  logFile: string;
}

/**
 * Starts a server with its log going to a file: unlike the tests' servers, whose output is kept in
 * memory, a benchmarked server logs millions of lines, and reading them here would load the very
 * machine being measured.
 */
export async function startServer(name: ServerName): Promise<Running> {
  const logFile = join(tmpdir(), `chat-bench-${process.pid}-${name}-${Date.now()}.log`);
  const server = spawnChild(onCore(0, [...SERVERS[name].command]), { cwd: ROOT, stdout: Bun.file(logFile), stderr: "inherit" });
  const log = () => (existsSync(logFile) ? readFileSync(logFile, "utf8") : "");
  try {
    const [, host, port] = await waitFor(`${SERVERS[name].label} to listen`, () => {
      if (server.exitCode !== null) throw new Error(`${SERVERS[name].label} exited with ${server.exitCode}`);
      return /Listening on ws:\/\/([\d.]+):(\d+)/.exec(log()) ?? undefined;
    }, 10_000);
    return { name, process: server, host: host!, port: Number(port), logFile };
  } catch (error) {
    server.kill("SIGKILL");
    throw new Error(`${(error as Error).message}; its output is in ${logFile}`);
  }
}

export async function stopServer(server: Running): Promise<void> {
  server.process.kill("SIGKILL");
  await server.process.exited;
  rmSync(server.logFile, { force: true });
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
        else reject(new Error(`load generator: ${reply.type === "failed" ? reply.message : `answered ${reply.type} to ${command.type}`}`));
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
  const shares = generators.map((_, i) => Math.floor(count / generators.length) + (i < count % generators.length ? 1 : 0));
  const results = await Promise.all(
    generators.map((g, i) => g.ask({ type: "connect", host: server.host, port: server.port, count: shares[i]! }, "connected")),
  );
  const failed = results.reduce((sum, r) => sum + r.failed, 0);
  if (failed > 0) throw new Error(`${SERVERS[server.name].label}: ${failed} of ${count} connections failed (${results.find((r) => r.firstError)?.firstError})`);
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
export async function withServer<T>(name: ServerName, connections: number, measure: (server: Running, generators: Generator[]) => Promise<T>): Promise<T> {
  const server = await startServer(name);
  const generators = Array.from({ length: Math.max(1, Math.ceil(connections / PER_GENERATOR)) }, () => new Generator());
  try {
    return await measure(server, generators);
  } finally {
    await Promise.all(generators.map((g) => g.stop()));
    await stopServer(server);
  }
}
