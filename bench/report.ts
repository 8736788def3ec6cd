/**
 * The benchmark's report: medians and ratios of the runs, the Markdown tables of results.md, the
 * SVG chart of throughput, and the progress lines written to stderr as it runs.
 */

import { cpus } from "node:os";
import type { CapacityFigures, LoadFigures, MemoryFigures, StartupFigures } from "./measure";
import { PINNING, SERVERS, type ServerName } from "./servers";
import { count, median } from "./stats";
import type { BanCheckFigures } from "./stores";

export const millions = (n: number) => `${(n / 1e6).toFixed(2)} M`;
export const mib = (bytes: number) => `${(bytes / 2 ** 20).toFixed(1)} MiB`;
export const kib = (bytes: number) => `${(bytes / 1024).toFixed(1)} KiB`;
export const ratio = (r: number) => `${r.toFixed(2)}×`;
export const percent = (share: number) => `${Math.round(share * 100)}%`;
export const micros = (us: number) =>
  us >= 10_000 ? `${(us / 1000).toFixed(0)} ms` : us >= 1000 ? `${(us / 1000).toFixed(1)} ms` : `${Math.round(us)} µs`;

export function progress(line: string): void {
  process.stderr.write(`${new Date().toISOString().slice(11, 19)} ${line}\n`);
}

/** Deliveries a second, in millions, or in thousands below a hundred thousand. */
const rate = (n: number) => (n >= 100_000 ? millions(n) : `${(n / 1000).toFixed(1)} k`);

/** Everything measured in one `bun run bench`, each figure once per run, for the servers measured. */
export interface Results {
  servers: ServerName[];
  sizes: number[];
  runs: number;
  memoryRuns: number;
  latencyRate: number;
  idle: number;
  capacity: number;
  openFileLimit: number;
  load: Partial<Record<ServerName, LoadFigures[][]>>;
  idleMemory: Partial<Record<ServerName, MemoryFigures[]>>;
  capacityRuns: Partial<Record<ServerName, CapacityFigures[]>>;
  startup?: StartupFigures & { runs: number };
  /** The ban check an upgrade makes, timed in-process, when the `ours-bans` set-up was measured. */
  banCheck?: BanCheckFigures;
}

/** Medians over runs, and ratios of one server to another taken run by run, then their median. */
function statistics({ load, idleMemory, capacityRuns }: Results) {
  return {
    pick: (name: ServerName, i: number, f: (x: LoadFigures) => number) => median(load[name]![i]!.map(f)),
    /** f(a) / f(b), or with `difference`, f(a) - f(b), run by run; undefined unless both were measured. */
    pairwise: (i: number, a: ServerName, b: ServerName, f: (x: LoadFigures) => number, difference = false) => {
      if (!load[a] || !load[b]) return undefined;
      return median(
        load[a]![i]!.map((x, run) => (difference ? f(x) - f(load[b]![i]![run]!) : f(x) / f(load[b]![i]![run]!))),
      );
    },
    memoryOf: (name: ServerName, f: (x: MemoryFigures) => number) => median(idleMemory[name]!.map(f)),
    capacityOf: (name: ServerName, f: (x: CapacityFigures) => number) => median(capacityRuns[name]!.map(f)),
  };
}
type Statistics = ReturnType<typeof statistics>;

export function machine(): string {
  return `${cpus()[0]?.model.trim() ?? "unknown CPU"}, ${cpus().length} cores, Linux ${Bun.spawnSync(["uname", "-r"]).stdout.toString().trim()}`;
}

/** results.md's body: how it was measured, then one table per measurement. */
export function report(results: Results, date: string): string {
  const stats = statistics(results);
  const version = (command: string[]) => Bun.spawnSync(command).stdout.toString().trim();
  const redis = results.servers.some((name) => SERVERS[name].redis)
    ? `, ${version(["redis-server", "--version"]).split(" ").slice(0, 3).join(" ")}`
    : "";
  return [
    `Measured ${date} on ${machine()}; Bun ${Bun.version}, Node.js ${version(["node", "--version"])}${redis}. ` +
      `This server ran with ${SERVERS.ours.command().slice(4).join(" ")} (and --redis URL in the Redis set-ups). ` +
      `Medians of ${results.runs} runs (memory and capacity: ${results.memoryRuns}); ratios are taken run by run, then their median. All on 127.0.0.1` +
      `${PINNING ? ", the servers on core 0 (both instances of a two-instance set-up, and redis-server), the load generator on core 1" : ""}.`,
    "",
    ...throughputTable(results, stats),
    ...targetsTable(results, stats),
    ...banCheckLine(results),
    ...latencyTable(results, stats),
    ...deliveryTable(results),
    ...memoryTable(results, stats),
    ...capacityTable(results, stats),
    ...(results.startup
      ? [
          `Start-up: the compiled server (from \`bun build --compile\`) accepts its first WebSocket connection ` +
            `${results.startup.milliseconds.toFixed(0)} ms after it is started (median of ${results.startup.runs}); the executable is ${mib(results.startup.bytes)}.`,
          "",
        ]
      : []),
  ].join("\n");
}

const measured = ({ servers, load }: Results) => servers.filter((name) => load[name]);
const sizeColumns = (sizes: number[]) => [
  `| ${sizes.map((size) => `${count(size)} clients`).join(" | ")} |`,
  `|${sizes.map(() => "---:").join("|")}|`,
];

function throughputTable(results: Results, { pick }: Statistics): string[] {
  const { sizes } = results;
  const µsPerDelivery = (name: ServerName, i: number, f: (x: LoadFigures) => number) =>
    `${pick(name, i, (x) => (f(x) / x.throughput) * 1e6).toFixed(2)}`;
  const cpu = (name: ServerName, i: number) =>
    `${µsPerDelivery(name, i, (x) => x.serverCpu)}${SERVERS[name].redis ? ` + ${µsPerDelivery(name, i, (x) => x.redisCpu)}` : ""} µs ` +
    `(${percent(pick(name, i, (x) => x.serverCpu))} / ${percent(pick(name, i, (x) => x.generatorCpu))}${SERVERS[name].redis ? ` / ${percent(pick(name, i, (x) => x.redisCpu))}` : ""})`;
  return [
    `Throughput: deliveries a second at saturation, everyone in one room receiving every message.`,
    "",
    `| server ${sizeColumns(sizes)[0]}`,
    `|---${sizeColumns(sizes)[1]}`,
    ...measured(results).map(
      (name) =>
        `| ${SERVERS[name].label} | ${sizes.map((_, i) => rate(pick(name, i, (x) => x.throughput))).join(" | ")} |`,
    ),
    "",
    `CPU per delivery at saturation: the server's (its instances' together), plus Redis's where it has one, in µs; ` +
      `then the share of a core used by the server / the load generator / Redis while counting. A server near 100% was the bottleneck.`,
    "",
    `| server ${sizeColumns(sizes)[0]}`,
    `|---${sizeColumns(sizes)[1]}`,
    ...measured(results).map((name) => `| ${SERVERS[name].label} | ${sizes.map((_, i) => cpu(name, i)).join(" | ")} |`),
    "",
  ];
}

/** A target: a figure per room size, whether it is met, and how it is shown. */
interface Target {
  what: string;
  value: (i: number) => number | undefined;
  met: (v: number, size: number) => boolean;
  show: (v: number) => string;
}

/** The targets set for this server, each where both of its sides were measured. */
function targetsTable(results: Results, { pairwise }: Statistics): string[] {
  const { sizes } = results;
  const targets: Target[] = [
    {
      what: "this server / ceiling, throughput (≥ 0.95×)",
      value: (i) => pairwise(i, "ours", "ceiling", (x) => x.throughput),
      met: (v) => v >= 0.95,
      show: ratio,
    },
    {
      what: "this server / Node.js + ws, throughput (≥ 20×)",
      value: (i) => pairwise(i, "ours", "node", (x) => x.throughput),
      met: (v) => v >= 20,
      show: ratio,
    },
    {
      what: "this server / ceiling, p99 latency (≤ 1.2×)",
      value: (i) => pairwise(i, "ours", "ceiling", (x) => x.latency.p99),
      met: (v) => v <= 1.2,
      show: ratio,
    },
    {
      what: "+ an SSE listener / without, throughput (≥ 0.95×)",
      value: (i) => pairwise(i, "ours-sse", "ours", (x) => x.throughput),
      met: (v) => v >= 0.95,
      show: ratio,
    },
    {
      what: "+ Redis / without, throughput (≥ 0.8× at 32, 0.9× above)",
      value: (i) => pairwise(i, "ours-redis", "ours", (x) => x.throughput),
      met: (v, size) => v >= (size <= 32 ? 0.8 : 0.9),
      show: ratio,
    },
    {
      what: "+ Redis − without, p99 latency (≤ 2 ms)",
      value: (i) => pairwise(i, "ours-redis", "ours", (x) => x.latency.p99, true),
      met: (v) => v <= 2000,
      show: (v) => `${v < 0 ? "−" : "+"}${micros(Math.abs(v))}`,
    },
    {
      what: "+ Redis / Socket.IO + Redis adapter, throughput (≥ 10×)",
      value: (i) => pairwise(i, "ours-redis", "socketio-redis", (x) => x.throughput),
      met: (v) => v >= 10,
      show: ratio,
    },
    {
      what: "2 instances / Socket.IO's 2 instances, throughput (≥ 10×)",
      value: (i) => pairwise(i, "ours-redis-2", "socketio-redis-2", (x) => x.throughput),
      met: (v) => v >= 10,
      show: ratio,
    },
    {
      what: "1,000 accounts / none, both + --store, throughput (≥ 0.95×)",
      value: (i) => pairwise(i, "ours-accounts", "ours-store", (x) => x.throughput),
      met: (v) => v >= 0.95,
      show: ratio,
    },
    {
      what: "2 instances / 1 instance, both + Redis, throughput",
      value: (i) => pairwise(i, "ours-redis-2", "ours-redis", (x) => x.throughput),
      met: () => true,
      show: ratio,
    },
    ...banTargets(pairwise),
  ];
  const rows = targets
    .filter((target) => target.value(0) !== undefined)
    .map(
      ({ what, value, met, show }) =>
        `| ${what} | ${sizes.map((size, i) => `${show(value(i)!)}${met(value(i)!, size) ? "" : " **no**"}`).join(" | ")} |`,
    );
  if (rows.length === 0) return [];
  return [
    "Targets: ratios taken run by run, then their median; **no** where a target is missed.",
    "",
    `| ${sizeColumns(sizes)[0]}`,
    `|---${sizeColumns(sizes)[1]}`,
    ...rows,
    "",
  ];
}

/** The bans set-up against the same server without bans: what 10,000 bans cost (nothing, if all is well). */
function banTargets(pairwise: Statistics["pairwise"]): Target[] {
  return [
    {
      what: "10,000 bans / none (both --store), server CPU per delivery (≤ 1.05×)",
      value: (i) => pairwise(i, "ours-bans", "ours-store", (x) => x.serverCpu / x.throughput),
      met: (v) => v <= 1.05,
      show: ratio,
    },
    {
      what: "10,000 bans / none (both --store), time to connect the room's clients",
      value: (i) => pairwise(i, "ours-bans", "ours-store", (x) => x.connectMs),
      met: () => true,
      show: ratio,
    },
  ];
}

/** The ban check, timed in this process: what it costs with none and with many. */
function banCheckLine({ banCheck }: Results): string[] {
  if (!banCheck) return [];
  const { none, few, many, count: bans } = banCheck;
  return [
    `Checking an upgrade's address against the bans (in-process, medians of 7 rounds of 200,000 checks): ` +
      `${none.toFixed(0)} ns with none, ${few.toFixed(0)} ns with 10, ${many.toFixed(0)} ns with ${count(bans)} ` +
      `(${ratio(many / few)} of 10's, ${ratio(many / none)} of none's).`,
    "",
  ];
}

function latencyTable(results: Results, { pick }: Statistics): string[] {
  const { sizes, latencyRate } = results;
  const cell = (name: ServerName, i: number) =>
    (["p50", "p99", "max"] as const).map((q) => micros(pick(name, i, (x) => x.latency[q]))).join(" / ");
  return [
    `Latency, p50 / p99 / max: from the moment a message was due to be sent to its receipt by each client, at ${count(latencyRate)} deliveries a second.`,
    "",
    `| server ${sizeColumns(sizes)[0]}`,
    `|---${sizeColumns(sizes)[1]}`,
    ...measured(results).map(
      (name) => `| ${SERVERS[name].label} | ${sizes.map((_, i) => cell(name, i)).join(" | ")} |`,
    ),
    "",
  ];
}

/** Whether, in every run, every client got every message of the flood exactly once and in order. */
function deliveryTable(results: Results): string[] {
  const { sizes, load, runs } = results;
  const cell = (name: ServerName, i: number) => {
    const failed = load[name]![i]!.filter(({ delivery: d }) => d.duplicates + d.skipped + d.missing > 0);
    if (failed.length === 0) return "yes";
    const sum = (f: (x: LoadFigures) => number) => failed.reduce((total, x) => total + f(x), 0);
    return `**no** in ${failed.length} of ${runs} runs: ${count(sum((x) => x.delivery.duplicates))} duplicates, ${count(sum((x) => x.delivery.skipped))} skipped, ${count(sum((x) => x.delivery.missing))} missing`;
  };
  return [
    "Exactly once, in order: every client checks, for every sender, that it gets each of the sender's flood messages once and in the order sent, " +
      "and that none is missing once the flood has drained (at saturation, the warm-up and the drain included).",
    "",
    `| server ${sizeColumns(sizes)[0]}`,
    `|---${sizeColumns(sizes)[1]}`,
    ...measured(results).map(
      (name) => `| ${SERVERS[name].label} | ${sizes.map((_, i) => cell(name, i)).join(" | ")} |`,
    ),
    "",
  ];
}

function memoryTable(results: Results, { pick, memoryOf }: Statistics): string[] {
  const { sizes, idle, servers, idleMemory } = results;
  const withMemory = servers.filter((name) => idleMemory[name]);
  if (withMemory.length === 0) return [];
  return [
    "Memory: resident set size (RSS) of the server's processes together (not Redis's).",
    "",
    `| server | at start | with ${count(idle)} idle connections | per idle connection | peak under load (${count(sizes.at(-1)!)} clients) |`,
    "|---|---:|---:|---:|---:|",
    ...withMemory.map(
      (name) =>
        `| ${SERVERS[name].label} | ${mib(memoryOf(name, (m) => m.startRss))} | ${mib(memoryOf(name, (m) => m.idleRss))} | ` +
        `${kib(memoryOf(name, (m) => m.perConnection))} | ${results.load[name] ? mib(pick(name, sizes.length - 1, (x) => x.peakRss)) : "–"} |`,
    ),
    "",
  ];
}

function capacityTable(
  { capacity, openFileLimit, capacityRuns, servers }: Results,
  { capacityOf }: Statistics,
): string[] {
  const withCapacity = servers.filter((name) => capacityRuns[name]);
  if (withCapacity.length === 0) return [];
  return [
    `Capacity: connections held at once with a broadcast still reaching every one, trying ${count(capacity)} ` +
      `(the open-file limit here is ${count(openFileLimit)} per process).`,
    "",
    "| server | held | received the broadcast |",
    "|---|---:|---:|",
    ...withCapacity.map(
      (n) =>
        `| ${SERVERS[n].label} | ${count(capacityOf(n, (c) => c.held))} | ${count(capacityOf(n, (c) => c.delivered))} |`,
    ),
    "",
    ...withCapacity.flatMap((n) =>
      capacityRuns[n]!.filter((c) => c.stopped).map((c) => `In one run, ${SERVERS[n].label} stopped ${c.stopped}.\n`),
    ),
  ];
}

/** Median throughput per server measured and room size, for the chart. */
export function throughputs(results: Results): Partial<Record<ServerName, number[]>> {
  const { pick } = statistics(results);
  return Object.fromEntries(
    measured(results).map((n) => [n, results.sizes.map((_, i) => pick(n, i, (x) => x.throughput))]),
  );
}
