/**
 * The benchmark's report: medians and ratios of the runs, the Markdown tables of results.md, the
 * SVG chart of throughput, and the progress lines written to stderr as it runs.
 */
import { cpus } from "node:os";
import type { CapacityFigures, LoadFigures, MemoryFigures, StartupFigures } from "./measure";
import { PINNING, SERVER_NAMES, SERVERS, type ServerName } from "./servers";

export const median = (xs: number[]) => {
  const sorted = [...xs].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
};
export const count = (n: number) => Math.round(n).toLocaleString("en");
export const millions = (n: number) => `${(n / 1e6).toFixed(2)} M`;
export const mib = (bytes: number) => `${(bytes / 2 ** 20).toFixed(1)} MiB`;
export const kib = (bytes: number) => `${(bytes / 1024).toFixed(1)} KiB`;
export const ratio = (r: number) => `${r.toFixed(2)}×`;
export const percent = (share: number) => `${Math.round(share * 100)}%`;
export const micros = (us: number) => (us >= 10_000 ? `${(us / 1000).toFixed(0)} ms` : us >= 1000 ? `${(us / 1000).toFixed(1)} ms` : `${Math.round(us)} µs`);
const check = (ok: boolean) => (ok ? "yes" : "**no**");

export function progress(line: string): void {
  process.stderr.write(`${new Date().toISOString().slice(11, 19)} ${line}\n`);
}

/** Bars for throughput by room size, one per server, as an SVG chart that needs no script. */
export function throughputChart(sizes: number[], perSecond: Record<ServerName, number[]>, caption: string): string {
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

/** Everything measured in one `bun run bench`, each figure once per run. */
export interface Results {
  sizes: number[];
  runs: number;
  memoryRuns: number;
  latencyRate: number;
  idle: number;
  capacity: number;
  openFileLimit: number;
  load: Record<ServerName, LoadFigures[][]>;
  idleMemory: Record<ServerName, MemoryFigures[]>;
  capacityRuns: Record<ServerName, CapacityFigures[]>;
  startup: StartupFigures & { runs: number };
}

/** Medians over runs, and ratios of ours to another server taken run by run, then their median. */
function statistics({ load, idleMemory, capacityRuns }: Results) {
  return {
    pick: (name: ServerName, i: number, f: (x: LoadFigures) => number) => median(load[name][i]!.map(f)),
    pairwise: (i: number, other: ServerName, f: (x: LoadFigures) => number) => median(load.ours[i]!.map((ours, run) => f(ours) / f(load[other][i]![run]!))),
    memoryOf: (name: ServerName, f: (x: MemoryFigures) => number) => median(idleMemory[name].map(f)),
    memoryRatio: (other: ServerName) => median(idleMemory.ours.map((ours, run) => ours.perConnection / idleMemory[other][run]!.perConnection)),
    capacityOf: (name: ServerName, f: (x: CapacityFigures) => number) => median(capacityRuns[name].map(f)),
  };
}
type Statistics = ReturnType<typeof statistics>;

export function machine(): string {
  return `${cpus()[0]?.model.trim() ?? "unknown CPU"}, ${cpus().length} cores, Linux ${Bun.spawnSync(["uname", "-r"]).stdout.toString().trim()}`;
}

/** results.md's body: how it was measured, then one table per measurement. */
export function report(results: Results, date: string): string {
  const stats = statistics(results);
  const nodeVersion = Bun.spawnSync(["node", "--version"]).stdout.toString().trim();
  return [
    `Measured ${date} on ${machine()}; Bun ${Bun.version}, Node.js ${nodeVersion}. ` +
      `This server ran with ${SERVERS.ours.command.slice(4).join(" ")}. ` +
      `Medians of ${results.runs} runs (memory and capacity: ${results.memoryRuns}); ratios are taken run by run, then their median. All on 127.0.0.1` +
      `${PINNING ? ", the server on core 0 and the load generator on core 1" : ""}.`,
    "",
    ...throughputTable(results, stats),
    ...latencyTable(results, stats),
    ...memoryTable(results, stats),
    ...capacityTable(results, stats),
    `Start-up: the compiled server (from \`bun build --compile\`) accepts its first WebSocket connection ` +
      `${results.startup.milliseconds.toFixed(0)} ms after it is started (median of ${results.startup.runs}); the executable is ${mib(results.startup.bytes)}.`,
    "",
  ].join("\n");
}

function throughputTable({ sizes }: Results, { pick, pairwise }: Statistics): string[] {
  const shares = (name: ServerName, i: number) => `${percent(pick(name, i, (x) => x.serverCpu))} / ${percent(pick(name, i, (x) => x.generatorCpu))}`;
  return [
    `Throughput: deliveries a second at saturation, everyone in one room receiving every message.`,
    "",
    "| clients | this server | ceiling (bare Bun) | Node.js + ws | ours / ceiling | ours / Node | server CPU per delivery, ours / ceiling | CPU of server / generator: ours | ceiling | Node | ≥ 0.9 × ceiling | ≥ 20 × Node |",
    "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|:-:|:-:|",
    ...sizes.map((size, i) => {
      const vsCeiling = pairwise(i, "ceiling", (x) => x.throughput);
      const vsNode = pairwise(i, "node", (x) => x.throughput);
      const cpuPerDelivery = pairwise(i, "ceiling", (x) => x.serverCpu / x.throughput);
      const rates = SERVER_NAMES.map((name) => millions(pick(name, i, (x) => x.throughput))).join(" | ");
      return `| ${count(size)} | ${rates} | ${ratio(vsCeiling)} | ${ratio(vsNode)} | ${ratio(cpuPerDelivery)} | ${SERVER_NAMES.map((name) => shares(name, i)).join(" | ")} | ${check(vsCeiling >= 0.9)} | ${check(vsNode >= 20)} |`;
    }),
    "",
  ];
}

function latencyTable({ sizes, latencyRate }: Results, { pick, pairwise }: Statistics): string[] {
  return [
    `Latency: from the moment a message was due to be sent to its receipt by each client, at ${count(latencyRate)} deliveries a second.`,
    "",
    "| clients | this server p50 / p99 / max | ceiling p50 / p99 / max | Node.js + ws p50 / p99 / max | p99 ours / ceiling | ≤ 1.2 × ceiling |",
    "|---:|---:|---:|---:|---:|:-:|",
    ...sizes.map((size, i) => {
      const cell = (name: ServerName) => (["p50", "p99", "max"] as const).map((q) => micros(pick(name, i, (x) => x.latency[q]))).join(" / ");
      const p99 = pairwise(i, "ceiling", (x) => x.latency.p99);
      return `| ${count(size)} | ${SERVER_NAMES.map(cell).join(" | ")} | ${ratio(p99)} | ${check(p99 <= 1.2)} |`;
    }),
    "",
  ];
}

function memoryTable({ sizes, idle }: Results, { pick, memoryOf, memoryRatio }: Statistics): string[] {
  const row = (f: (name: ServerName) => string) => SERVER_NAMES.map(f).join(" | ");
  return [
    "Memory: resident set size (RSS) of the server process.",
    "",
    "| | this server | ceiling (bare Bun) | Node.js + ws |",
    "|---|---:|---:|---:|",
    `| at start | ${row((n) => mib(memoryOf(n, (m) => m.startRss)))} |`,
    `| with ${count(idle)} idle connections | ${row((n) => mib(memoryOf(n, (m) => m.idleRss)))} |`,
    `| per idle connection | ${row((n) => kib(memoryOf(n, (m) => m.perConnection)))} |`,
    `| peak under load (${count(sizes.at(-1)!)} clients) | ${row((n) => mib(pick(n, sizes.length - 1, (x) => x.peakRss)))} |`,
    "",
    `Per idle connection, ours / ceiling: ${ratio(memoryRatio("ceiling"))} (target ≤ 1.3×: ${check(memoryRatio("ceiling") <= 1.3)}); ours / Node: ${ratio(memoryRatio("node"))}.`,
    "",
  ];
}

function capacityTable({ capacity, openFileLimit, capacityRuns }: Results, { capacityOf }: Statistics): string[] {
  return [
    `Capacity: connections held at once with a broadcast still reaching every one, trying ${count(capacity)} ` +
      `(the open-file limit here is ${count(openFileLimit)} per process).`,
    "",
    "| | this server | ceiling (bare Bun) | Node.js + ws |",
    "|---|---:|---:|---:|",
    `| held | ${SERVER_NAMES.map((n) => count(capacityOf(n, (c) => c.held))).join(" | ")} |`,
    `| received the broadcast | ${SERVER_NAMES.map((n) => count(capacityOf(n, (c) => c.delivered))).join(" | ")} |`,
    "",
    ...SERVER_NAMES.flatMap((n) => capacityRuns[n].filter((c) => c.stopped).map((c) => `In one run, ${SERVERS[n].label} stopped ${c.stopped}.\n`)),
  ];
}

/** Median throughput per server and room size, for the chart. */
export function throughputs({ sizes, ...results }: Results): Record<ServerName, number[]> {
  const { pick } = statistics({ sizes, ...results });
  return Object.fromEntries(SERVER_NAMES.map((n) => [n, sizes.map((_, i) => pick(n, i, (x) => x.throughput))])) as Record<ServerName, number[]>;
}
