/**
 * `bun run bench`: this chat server against the ceiling (a bare Bun pub/sub server) and the usual
 * alternative (Node.js with `ws`), side by side on 127.0.0.1, in one run. bench/README.md says what
 * each number means and how the load is made. Results go to bench/results/ (Markdown and SVG).
 *
 * The machines this runs on are shared and noisy: every figure is a median of several runs, and
 * each ratio is taken within one run (the three servers measured back to back) before its median.
 */
import { join } from "node:path";
import { mkdirSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir, cpus } from "node:os";
import type { Subprocess } from "bun";
import { formatHelp, parseCommandLine, runMain, UsageError } from "../common/cli";
import type { Command, Reply } from "./load";

const OPTIONS = [
  { flag: "clients", value: "N,N,...", default: "32,256,1000", help: "room sizes for throughput and latency" },
  { flag: "runs", value: "N", default: "7", help: "runs of every measurement; figures are their medians" },
  { flag: "seconds", value: "S", default: "3", help: "length of each throughput and latency measurement" },
  { flag: "latency-rate", value: "N", default: "25000", help: "deliveries a second offered while measuring latency" },
  { flag: "idle", value: "N", default: "10000", help: "idle connections for the memory measurement" },
  { flag: "server-flags", value: "FLAGS", help: "more flags for this server, to measure what a setting costs, e.g. '--store /tmp/h.sqlite'" },
  { flag: "capacity", value: "N", help: "connections to try to hold (default: as many as the open-file limit allows)" },
  { flag: "out", value: "DIR", default: join(import.meta.dir, "results"), help: "where results.md and throughput.svg go" },
  { flag: "help", short: "h", help: "show this help" },
] as const;

const ROOT = join(import.meta.dir, "..");
const BUN = process.execPath;

/**
 * The flags our server runs with, and why: its defaults protect a public chat, and three of them
 * would stop the benchmark itself. --rate 0: the default 5 messages a second per connection would
 * refuse the flood. --max-clients and --max-per-ip: every benchmark client comes from 127.0.0.1,
 * and the defaults (1000 in all, 50 per address) would turn the larger rooms away. Everything else
 * is the default: logging every message (to a file), 50 messages of history, limits and cleaning.
 */
const OUR_FLAGS = ["--rate", "0", "--max-clients", "100000", "--max-per-ip", "100000"];

const SERVERS = {
  ours: { label: "this server", command: [BUN, join(ROOT, "server.ts"), "--port", "0", ...OUR_FLAGS] as string[] },
  ceiling: { label: "ceiling (bare Bun)", command: [BUN, join(ROOT, "bench/ceiling-server.ts"), "0"] },
  node: { label: "Node.js + ws", command: ["node", join(ROOT, "bench/node-server.mjs"), "0"] },
} as const;
type ServerName = keyof typeof SERVERS;
const SERVER_NAMES = Object.keys(SERVERS) as ServerName[];

/**
 * With two cores or more, the server runs on the first and the load generators on the second
 * (taskset), so neither is moved between cores mid-measurement and the server has a core to
 * itself, as it would with its load coming from elsewhere. All three servers are placed alike.
 */
const PINNING = cpus().length >= 2 && Bun.which("taskset") !== null;
const onCore = (core: number, command: string[]) => (PINNING ? ["taskset", "-c", String(core), ...command] : command);

/** A generator process holds at most this many connections: well within one process's open-file limit (20,000 here). */
const PER_GENERATOR = 9_000;
/** In-flight deliveries the flood aims for: enough to keep any of the servers busy without pause. */
const DELIVERIES_IN_FLIGHT = 65_536;

// --- Processes ----------------------------------------------------------------------------------

/** Every server and generator running now: killed if the benchmark is interrupted or fails. */
const children = new Set<Subprocess>();
function spawnChild(...args: Parameters<typeof Bun.spawn>): Subprocess {
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

interface Running {
  name: ServerName;
  process: Subprocess;
  host: string;
  port: number;
  logFile: string;
}

async function startServer(name: ServerName): Promise<Running> {
  const logFile = join(tmpdir(), `chat-bench-${process.pid}-${name}-${Date.now()}.log`);
  const server = spawnChild(onCore(0, [...SERVERS[name].command]), { cwd: ROOT, stdout: Bun.file(logFile), stderr: "inherit" });
  for (let attempt = 0; attempt < 400; attempt++) {
    const text = await Bun.file(logFile).text().catch(() => "");
    const url = /Listening on ws:\/\/([\d.]+):(\d+)/.exec(text);
    if (url) return { name, process: server, host: url[1]!, port: Number(url[2]), logFile };
    if (server.exitCode !== null) break;
    await Bun.sleep(25);
  }
  server.kill("SIGKILL");
  throw new Error(`${SERVERS[name].label} did not start; its output is in ${logFile}`);
}

async function stopServer(server: Running): Promise<void> {
  server.process.kill("SIGKILL");
  await server.process.exited;
  rmSync(server.logFile, { force: true });
}

/** A load generator process (bench/load.ts), asked one thing at a time over IPC. */
class Generator {
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
async function connectAll(server: Running, generators: Generator[], count: number): Promise<void> {
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
async function cpuSeconds(pid: number): Promise<number> {
  const stat = await Bun.file(`/proc/${pid}/stat`).text();
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS_PER_SECOND;
}

/** Resident memory now (VmRSS) and at its peak so far (VmHWM), in bytes. */
async function memory(pid: number): Promise<{ rss: number; peak: number }> {
  const status = await Bun.file(`/proc/${pid}/status`).text();
  const kib = (field: string) => Number(new RegExp(`${field}:\\s+(\\d+) kB`).exec(status)?.[1] ?? NaN) * 1024;
  return { rss: kib("VmRSS"), peak: kib("VmHWM") };
}

// --- Measurements -------------------------------------------------------------------------------

/**
 * Runs `measure` against a fresh server with enough generators for `connections`, then stops them
 * all, whatever happened.
 */
async function withServer<T>(name: ServerName, connections: number, measure: (server: Running, generators: Generator[]) => Promise<T>): Promise<T> {
  const server = await startServer(name);
  const generators = Array.from({ length: Math.max(1, Math.ceil(connections / PER_GENERATOR)) }, () => new Generator());
  try {
    return await measure(server, generators);
  } finally {
    await Promise.all(generators.map((g) => g.stop()));
    await stopServer(server);
  }
}

interface LoadFigures {
  /** Deliveries a second at saturation. */
  throughput: number;
  /** Share of one core the server and the load generator used while counting. */
  serverCpu: number;
  generatorCpu: number;
  latency: { p50: number; p99: number; max: number };
  /** VmHWM after the load: the most memory the server has held. */
  peakRss: number;
}

/** Throughput, then latency, on one server with `clients` connected clients in one room. */
function measureLoad(name: ServerName, clients: number, seconds: number, latencyRate: number): Promise<LoadFigures> {
  return withServer(name, clients, async (server, generators) => {
    const generator = generators[0]!;
    await connectAll(server, [generator], clients);
    await Bun.sleep(200); // Let the joining settle.
    const messagesInFlight = Math.ceil(DELIVERIES_IN_FLIGHT / clients);
    const window = Math.min(64, Math.ceil(messagesInFlight / clients));
    const senders = Math.min(clients, Math.ceil(messagesInFlight / window));
    const warmupMs = 500;
    const durationMs = seconds * 1000;
    const flooded = generator.ask({ type: "flood", senders, window, warmupMs, durationMs }, "flooded");
    await Bun.sleep(warmupMs);
    const before = await Promise.all([cpuSeconds(server.process.pid), cpuSeconds(generator.process.pid)]);
    const started = performance.now();
    await Bun.sleep(durationMs);
    const after = await Promise.all([cpuSeconds(server.process.pid), cpuSeconds(generator.process.pid)]);
    const wall = (performance.now() - started) / 1000;
    const flood = await flooded;
    if (flood.closed > 0) throw new Error(`${SERVERS[name].label} closed ${flood.closed} connections during the flood`);

    // Twice as long as the flood: at a thousand clients, a second at this rate is only 25 messages.
    const measured = await generator.ask({ type: "latency", perSecond: latencyRate, population: clients, durationMs: 2 * durationMs }, "latencies");
    if (measured.closed > 0) throw new Error(`${SERVERS[name].label} closed ${measured.closed} connections while measuring latency`);
    const expected = measured.sent * clients;
    if (measured.micros.length !== expected) throw new Error(`${SERVERS[name].label}: ${measured.micros.length} of ${expected} deliveries arrived while measuring latency`);
    const sorted = Float64Array.from(measured.micros).sort();
    const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
    return {
      throughput: flood.deliveries / flood.seconds,
      serverCpu: (after[0]! - before[0]!) / wall,
      generatorCpu: (after[1]! - before[1]!) / wall,
      latency: { p50: at(0.5), p99: at(0.99), max: sorted[sorted.length - 1]! },
      peakRss: (await memory(server.process.pid)).peak,
    };
  });
}

interface MemoryFigures {
  startRss: number;
  idleRss: number;
  perConnection: number;
}

/** Server memory at start and with `count` idle connections, a second after the last one opened. */
function measureIdleMemory(name: ServerName, count: number): Promise<MemoryFigures> {
  return withServer(name, count, async (server, generators) => {
    await Bun.sleep(300);
    const { rss: startRss } = await memory(server.process.pid);
    await connectAll(server, generators, count);
    await Bun.sleep(1000);
    const { rss: idleRss } = await memory(server.process.pid);
    return { startRss, idleRss, perConnection: (idleRss - startRss) / count };
  });
}

interface CapacityFigures {
  held: number;
  delivered: number;
  /** Why it stopped short of the target, if it did. */
  stopped?: string;
}

/**
 * Capacity: opens `target` connections in steps, and after each step sends one message from one
 * client and counts how many clients receive it. The result is the largest step at which every
 * connection opened and every client got the message.
 */
function measureCapacity(name: ServerName, target: number, onStep: (held: number) => void): Promise<CapacityFigures> {
  const step = Math.max(1, Math.ceil(target / 4));
  return withServer(name, target, async (server, generators) => {
    let best: CapacityFigures = { held: 0, delivered: 0 };
    for (let open = 0, probe = 1; open < target; probe++) {
      const adding = Math.min(step, target - open);
      const failed = await connectAll(server, generators, adding).then(() => undefined, (error: Error) => error.message);
      await Promise.all(generators.map((g) => g.ask({ type: "expect", probe }, "done")));
      await generators[0]!.ask({ type: "probe", probe }, "done");
      let counted: Extract<Reply, { type: "counted" }>[] = [];
      for (let waited = 0; waited < 20_000; waited += 100) {
        await Bun.sleep(100);
        counted = await Promise.all(generators.map((g) => g.ask({ type: "count", probe }, "counted")));
        if (counted.every((c) => c.received === c.open)) break;
      }
      const held = counted.reduce((sum, c) => sum + c.open, 0);
      const delivered = counted.reduce((sum, c) => sum + c.received, 0);
      if (failed || held < open + adding || delivered < held) {
        const stopped = failed ?? (held < open + adding ? `${count(open + adding - held)} connections were closed` : `${count(held - delivered)} clients did not receive the broadcast in 20 s`);
        best = { ...(best.held > 0 ? best : { held, delivered }), stopped: `at ${count(open + adding)}: ${stopped}` };
        break;
      }
      open += adding;
      best = { held, delivered };
      onStep(held);
    }
    return best;
  });
}

interface StartupFigures {
  milliseconds: number;
  bytes: number;
}

/** Builds dist/chat-server, then times it from spawning to its first accepted WebSocket connection. */
async function measureStartup(runs: number): Promise<StartupFigures> {
  const executable = join(ROOT, "dist/chat-server");
  const build = Bun.spawnSync([BUN, "build", "--compile", join(ROOT, "server.ts"), "--outfile", executable], { cwd: ROOT, stdout: "ignore", stderr: "pipe" });
  if (build.exitCode !== 0) throw new Error(`bun build --compile failed: ${build.stderr.toString().trim()}`);
  const times: number[] = [];
  for (let run = 0; run < runs; run++) {
    const port = await unusedPort();
    const started = performance.now();
    const server = spawnChild([executable, "--port", String(port), "--quiet"], { stdout: "ignore", stderr: "ignore" });
    try {
      for (let attempt = 0; ; attempt++) {
        if (attempt === 2000) throw new Error("dist/chat-server did not accept a connection in 10 s");
        if (await opens(`ws://127.0.0.1:${port}`)) break;
        await Bun.sleep(2);
      }
      times.push(performance.now() - started);
    } finally {
      server.kill("SIGKILL");
      await server.exited;
    }
  }
  return { milliseconds: median(times), bytes: statSync(executable).size };
}

function opens(url: string): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = new WebSocket(url);
    socket.onopen = () => (socket.close(), resolve(true));
    socket.onerror = () => resolve(false);
  });
}

async function unusedPort(): Promise<number> {
  const listener = Bun.listen({ hostname: "127.0.0.1", port: 0, socket: { data() {} } });
  const port = listener.port;
  listener.stop(true);
  return port;
}

// --- Reporting ----------------------------------------------------------------------------------

const median = (xs: number[]) => {
  const sorted = [...xs].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
};
const count = (n: number) => Math.round(n).toLocaleString("en");
const millions = (n: number) => `${(n / 1e6).toFixed(2)} M`;
const mib = (bytes: number) => `${(bytes / 2 ** 20).toFixed(1)} MiB`;
const kib = (bytes: number) => `${(bytes / 1024).toFixed(1)} KiB`;
const ratio = (r: number) => `${r.toFixed(2)}×`;
const percent = (share: number) => `${Math.round(share * 100)}%`;
const micros = (us: number) => (us >= 10_000 ? `${(us / 1000).toFixed(0)} ms` : us >= 1000 ? `${(us / 1000).toFixed(1)} ms` : `${Math.round(us)} µs`);
const check = (ok: boolean) => (ok ? "yes" : "**no**");

function progress(line: string): void {
  process.stderr.write(`${new Date().toISOString().slice(11, 19)} ${line}\n`);
}

/** Bars for throughput by room size, one per server, as an SVG chart that needs no script. */
function throughputChart(sizes: number[], perSecond: Record<ServerName, number[]>, caption: string): string {
  const width = 720;
  const height = 385;
  const left = 70;
  const bottom = 300;
  const top = 40;
  const colours: Record<ServerName, string> = { ours: "#2563eb", ceiling: "#9ca3af", node: "#f59e0b" };
  // Round ticks (1, 2 or 5 times a power of ten), four to eight of them.
  const highest = Math.max(...SERVER_NAMES.flatMap((s) => perSecond[s]), 1);
  const magnitude = 10 ** Math.floor(Math.log10(highest / 4));
  const step = [1, 2, 5, 10].map((m) => m * magnitude).find((candidate) => highest / candidate <= 8)!;
  const ticks = Math.ceil(highest / step);
  const scaleTop = ticks * step;
  const y = (v: number) => bottom - (v / scaleTop) * (bottom - top);
  const groupWidth = (width - left - 20) / sizes.length;
  const barWidth = (groupWidth - 30) / SERVER_NAMES.length;
  const parts: string[] = [];
  for (let tick = 0; tick <= ticks; tick++) {
    const value = step * tick;
    parts.push(`<line x1="${left}" x2="${width - 20}" y1="${y(value)}" y2="${y(value)}" stroke="#e5e7eb"/>`);
    parts.push(`<text x="${left - 8}" y="${y(value) + 4}" text-anchor="end">${Number((value / 1e6).toFixed(2))} M</text>`);
  }
  sizes.forEach((size, g) => {
    const x0 = left + g * groupWidth + 15;
    SERVER_NAMES.forEach((name, b) => {
      const value = perSecond[name][g]!;
      const x = x0 + b * barWidth;
      parts.push(`<rect x="${x.toFixed(1)}" y="${y(value).toFixed(1)}" width="${(barWidth - 4).toFixed(1)}" height="${(bottom - y(value)).toFixed(1)}" fill="${colours[name]}"/>`);
      parts.push(`<text x="${(x + (barWidth - 4) / 2).toFixed(1)}" y="${(y(value) - 5).toFixed(1)}" text-anchor="middle" font-size="11">${(value / 1e6).toFixed(2)}</text>`);
    });
    parts.push(`<text x="${(x0 + (groupWidth - 30) / 2).toFixed(1)}" y="${bottom + 20}" text-anchor="middle">${size} clients</text>`);
  });
  SERVER_NAMES.forEach((name, i) => {
    parts.push(`<rect x="${left + i * 190}" y="12" width="12" height="12" fill="${colours[name]}"/>`);
    parts.push(`<text x="${left + i * 190 + 18}" y="22">${SERVERS[name].label}</text>`);
  });
  parts.push(`<text x="${left}" y="${height - 12}" font-size="11" fill="#4b5563">${caption}</text>`);
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="13">`,
    `<rect width="${width}" height="${height}" fill="white"/>`,
    `<text x="${left}" y="${bottom + 45}" font-size="12" fill="#4b5563">Deliveries per second at saturation, everyone in one room receiving every message (medians)</text>`,
    ...parts,
    `</svg>`,
    "",
  ].join("\n");
}

// --- The run ------------------------------------------------------------------------------------

async function main(): Promise<void> {
  const { values } = parseCommandLine(OPTIONS, process.argv.slice(2));
  if (values.help) {
    process.stdout.write(formatHelp(["bun run bench [options]"], "Benchmarks this chat server against a bare Bun pub/sub server and Node.js + ws.", OPTIONS));
    return;
  }
  const positive = (flag: string, text: string) => {
    const n = Number(text);
    if (!(Number.isFinite(n) && n > 0)) throw new UsageError(`--${flag} must be a positive number, not '${text}'.`);
    return n;
  };
  const sizes = values.clients.split(",").map((n) => Math.round(positive("clients", n)));
  const runs = Math.round(positive("runs", values.runs));
  const seconds = positive("seconds", values.seconds);
  const latencyRate = positive("latency-rate", values["latency-rate"]);
  const idle = Math.round(positive("idle", values.idle));
  // Each process may have this many files open; the server needs a few besides its connections.
  const openFileLimit = Number(Bun.spawnSync(["sh", "-c", "ulimit -Hn"]).stdout.toString().trim()) || 1024;
  const capacity = values.capacity ? Math.round(positive("capacity", values.capacity)) : openFileLimit - 100;
  SERVERS.ours.command.push(...(values["server-flags"] ?? "").split(" ").filter(Boolean));
  if (Math.max(...sizes) > PER_GENERATOR) throw new UsageError(`--clients can be at most ${PER_GENERATOR}.`);
  if (Bun.spawnSync(["node", "--version"], { stdout: "ignore", stderr: "ignore" }).exitCode !== 0) {
    throw new UsageError("Node.js ('node') is needed for the Node.js + ws server; install it and run again.");
  }
  mkdirSync(values.out, { recursive: true });

  // Throughput and latency: for each run and room size, the three servers back to back, in an
  // order that turns each run, so that a slow spell on the machine does not always hit the same one.
  const load: Record<ServerName, LoadFigures[][]> = { ours: sizes.map(() => []), ceiling: sizes.map(() => []), node: sizes.map(() => []) };
  let done = 0;
  const total = runs * sizes.length * SERVER_NAMES.length;
  for (let run = 0; run < runs; run++) {
    for (const [i, size] of sizes.entries()) {
      const order = SERVER_NAMES.map((_, k) => SERVER_NAMES[(k + run) % SERVER_NAMES.length]!);
      for (const name of order) {
        const figures = await measureLoad(name, size, seconds, latencyRate);
        load[name][i]!.push(figures);
        progress(
          `[${++done}/${total}] ${SERVERS[name].label}, ${size} clients: ${millions(figures.throughput)} deliveries/s ` +
            `(server ${percent(figures.serverCpu)} CPU, generator ${percent(figures.generatorCpu)}), p99 ${micros(figures.latency.p99)}`,
        );
      }
    }
  }

  const memoryRuns = Math.max(1, Math.min(runs, 3));
  const idleMemory: Record<ServerName, MemoryFigures[]> = { ours: [], ceiling: [], node: [] };
  for (let run = 0; run < memoryRuns; run++) {
    for (const name of SERVER_NAMES) {
      const figures = await measureIdleMemory(name, idle);
      idleMemory[name].push(figures);
      progress(`memory ${run + 1}/${memoryRuns}, ${SERVERS[name].label}: ${count(idle)} idle connections, ${kib(figures.perConnection)} each`);
    }
  }

  const capacityRuns: Record<ServerName, CapacityFigures[]> = { ours: [], ceiling: [], node: [] };
  for (let run = 0; run < memoryRuns; run++) {
    for (const name of SERVER_NAMES) {
      const figures = await measureCapacity(name, capacity, (held) => progress(`capacity ${run + 1}/${memoryRuns}, ${SERVERS[name].label}: ${count(held)} connections held, a broadcast reached them all`));
      capacityRuns[name].push(figures);
      if (figures.stopped) progress(`capacity ${run + 1}/${memoryRuns}, ${SERVERS[name].label}: stopped ${figures.stopped}`);
    }
  }
  const capacityOf = (name: ServerName, f: (x: CapacityFigures) => number) => median(capacityRuns[name].map(f));

  const startup = await measureStartup(Math.max(3, runs * 2));
  progress(`start-up: dist/chat-server accepts a connection ${startup.milliseconds.toFixed(0)} ms after it is started; it is ${mib(startup.bytes)}`);

  // The report.
  const pick = (name: ServerName, i: number, f: (x: LoadFigures) => number) => median(load[name][i]!.map(f));
  const pairwise = (i: number, other: ServerName, f: (x: LoadFigures) => number) =>
    median(load.ours[i]!.map((ours, run) => f(ours) / f(load[other][i]![run]!)));
  const memoryOf = (name: ServerName, f: (x: MemoryFigures) => number) => median(idleMemory[name].map(f));
  const memoryRatio = (other: ServerName) => median(idleMemory.ours.map((ours, run) => ours.perConnection / idleMemory[other][run]!.perConnection));

  const machine = `${cpus()[0]?.model.trim() ?? "unknown CPU"}, ${cpus().length} cores, Linux ${Bun.spawnSync(["uname", "-r"]).stdout.toString().trim()}`;
  const nodeVersion = Bun.spawnSync(["node", "--version"]).stdout.toString().trim();
  const date = new Date().toISOString().slice(0, 10);
  const lines = [
    `Measured ${date} on ${machine}; Bun ${Bun.version}, Node.js ${nodeVersion}. ` +
      `This server ran with ${SERVERS.ours.command.slice(4).join(" ")}. ` +
      `Medians of ${runs} runs (memory and capacity: ${memoryRuns}); ratios are taken run by run, then their median. All on 127.0.0.1` +
      `${PINNING ? ", the server on core 0 and the load generator on core 1" : ""}.`,
    "",
    `Throughput: deliveries a second at saturation, everyone in one room receiving every message.`,
    "",
    "| clients | this server | ceiling (bare Bun) | Node.js + ws | ours / ceiling | ours / Node | server CPU per delivery, ours / ceiling | CPU of server / generator: ours | ceiling | Node | ≥ 0.9 × ceiling | ≥ 20 × Node |",
    "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|:-:|:-:|",
    ...sizes.map((size, i) => {
      const vsCeiling = pairwise(i, "ceiling", (x) => x.throughput);
      const vsNode = pairwise(i, "node", (x) => x.throughput);
      const cpuPerDelivery = pairwise(i, "ceiling", (x) => x.serverCpu / x.throughput);
      const shares = (name: ServerName) => `${percent(pick(name, i, (x) => x.serverCpu))} / ${percent(pick(name, i, (x) => x.generatorCpu))}`;
      return `| ${count(size)} | ${millions(pick("ours", i, (x) => x.throughput))} | ${millions(pick("ceiling", i, (x) => x.throughput))} | ${millions(pick("node", i, (x) => x.throughput))} | ${ratio(vsCeiling)} | ${ratio(vsNode)} | ${ratio(cpuPerDelivery)} | ${shares("ours")} | ${shares("ceiling")} | ${shares("node")} | ${check(vsCeiling >= 0.9)} | ${check(vsNode >= 20)} |`;
    }),
    "",
    `Latency: from the moment a message was due to be sent to its receipt by each client, at ${count(latencyRate)} deliveries a second.`,
    "",
    "| clients | this server p50 / p99 / max | ceiling p50 / p99 / max | Node.js + ws p50 / p99 / max | p99 ours / ceiling | ≤ 1.2 × ceiling |",
    "|---:|---:|---:|---:|---:|:-:|",
    ...sizes.map((size, i) => {
      const cell = (name: ServerName) => ["p50", "p99", "max"].map((q) => micros(pick(name, i, (x) => x.latency[q as "p50"]))).join(" / ");
      const p99 = pairwise(i, "ceiling", (x) => x.latency.p99);
      return `| ${count(size)} | ${cell("ours")} | ${cell("ceiling")} | ${cell("node")} | ${ratio(p99)} | ${check(p99 <= 1.2)} |`;
    }),
    "",
    "Memory: resident set size (RSS) of the server process.",
    "",
    "| | this server | ceiling (bare Bun) | Node.js + ws |",
    "|---|---:|---:|---:|",
    `| at start | ${SERVER_NAMES.map((n) => mib(memoryOf(n, (m) => m.startRss))).join(" | ")} |`,
    `| with ${count(idle)} idle connections | ${SERVER_NAMES.map((n) => mib(memoryOf(n, (m) => m.idleRss))).join(" | ")} |`,
    `| per idle connection | ${SERVER_NAMES.map((n) => kib(memoryOf(n, (m) => m.perConnection))).join(" | ")} |`,
    `| peak under load (${count(sizes.at(-1)!)} clients) | ${SERVER_NAMES.map((n) => mib(pick(n, sizes.length - 1, (x) => x.peakRss))).join(" | ")} |`,
    "",
    `Per idle connection, ours / ceiling: ${ratio(memoryRatio("ceiling"))} (target ≤ 1.3×: ${check(memoryRatio("ceiling") <= 1.3)}); ours / Node: ${ratio(memoryRatio("node"))}.`,
    "",
    `Capacity: connections held at once with a broadcast still reaching every one, trying ${count(capacity)} ` +
      `(the open-file limit here is ${count(openFileLimit)} per process).`,
    "",
    "| | this server | ceiling (bare Bun) | Node.js + ws |",
    "|---|---:|---:|---:|",
    `| held | ${SERVER_NAMES.map((n) => count(capacityOf(n, (c) => c.held))).join(" | ")} |`,
    `| received the broadcast | ${SERVER_NAMES.map((n) => count(capacityOf(n, (c) => c.delivered))).join(" | ")} |`,
    "",
    ...SERVER_NAMES.flatMap((n) => capacityRuns[n].filter((c) => c.stopped).map((c) => `In one run, ${SERVERS[n].label} stopped ${c.stopped}.\n`)),
    `Start-up: dist/chat-server (from \`bun build --compile\`) accepts its first WebSocket connection ` +
      `${startup.milliseconds.toFixed(0)} ms after it is started (median of ${Math.max(3, runs * 2)}); the executable is ${mib(startup.bytes)}.`,
    "",
  ];
  const table = lines.join("\n");
  const caption = `${date}, ${machine}, medians of ${runs} runs`;
  writeFileSync(join(values.out, "results.md"), `# Benchmark results\n\n${table}\n![Throughput by room size](throughput.svg)\n`);
  writeFileSync(
    join(values.out, "throughput.svg"),
    throughputChart(sizes, Object.fromEntries(SERVER_NAMES.map((n) => [n, sizes.map((_, i) => pick(n, i, (x) => x.throughput))])) as Record<ServerName, number[]>, caption),
  );
  process.stdout.write(`${table}\nWritten to ${join(values.out, "results.md")} and throughput.svg.\n`);
}

await runMain("bench/run.ts", main);
