/**
 * `bun run bench`: this chat server against the ceiling (a bare Bun pub/sub server) and the usual
 * alternatives (Node.js with `ws`; Socket.IO), alone and scaled out through Redis, side by side on
 * 127.0.0.1, in one run. bench/README.md says what each number means and how the load is made.
 * The report is printed and written (Markdown and SVG) to a new folder in the temp directory;
 * only --save, after a full run, writes it to bench/results/ instead, replacing the committed one.
 *
 * This file is the orchestration: which measurement runs when, against which server. servers.ts
 * starts the processes, measure.ts measures, report.ts writes the tables and the chart.
 *
 * The machines this runs on are shared and noisy: every figure is a median of several runs, and
 * each ratio is taken within one run (the servers measured back to back) before its median.
 */
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { formatHelp, parseCommandLine, runMain, UsageError } from "../common/cli";
import { throughputChart } from "./chart";
import {
  type CapacityFigures,
  type LoadFigures,
  type MemoryFigures,
  measureCapacity,
  measureIdleMemory,
  measureLoad,
  measureStartup,
} from "./measure";
import { kib, machine, mib, micros, millions, percent, progress, type Results, report, throughputs } from "./report";
import { BANS, extraFlags, PER_GENERATOR, SERVER_NAMES, SERVERS, type ServerName, SINGLE_SERVERS } from "./servers";
import { count } from "./stats";
import { measureBanCheck } from "./stores";

/** The committed results, which the README quotes: only --save writes here. */
const RESULTS = join(import.meta.dir, "results");

const OPTIONS = [
  { flag: "clients", value: "N,N,...", default: "32,256,1000", help: "room sizes for throughput and latency" },
  { flag: "runs", value: "N", default: "7", help: "runs of every measurement; figures are their medians" },
  { flag: "seconds", value: "S", default: "3", help: "length of each throughput and latency measurement" },
  { flag: "latency-rate", value: "N", default: "25000", help: "deliveries a second offered while measuring latency" },
  { flag: "idle", value: "N", default: "10000", help: "idle connections for the memory measurement" },
  {
    flag: "servers",
    value: "NAME,...",
    default: "all",
    help: `which set-ups to measure: all, or some of ${SERVER_NAMES.join(", ")} (capacity: the first three only)`,
  },
  {
    flag: "load-only",
    help: "measure throughput and latency only, not memory, capacity or start-up (a quicker comparison)",
  },
  {
    flag: "server-flags",
    value: "FLAGS",
    help: "more flags for this server, to measure what a setting costs, e.g. '--store /tmp/h.sqlite'",
  },
  { flag: "capacity", value: "N", help: "connections to try to hold (default: as many as the open-file limit allows)" },
  {
    flag: "save",
    help: "write results.md and throughput.svg to bench/results, replacing the committed ones; only for a full run: every set-up and measurement at the default settings (--runs aside)",
  },
  { flag: "help", short: "h", help: "show this help" },
] as const;

/** The options as given on the command line. */
type Values = ReturnType<typeof parseCommandLine<typeof OPTIONS>>["values"];

interface Settings {
  servers: ServerName[];
  sizes: number[];
  runs: number;
  seconds: number;
  latencyRate: number;
  idle: number;
  capacity: number;
  openFileLimit: number;
}

function readSettings(values: Values): Settings {
  const positive = (flag: string, text: string) => {
    const n = Number(text);
    if (!(Number.isFinite(n) && n > 0)) throw new UsageError(`--${flag} must be a positive number, not '${text}'.`);
    return n;
  };
  const sizes = values.clients.split(",").map((n) => Math.round(positive("clients", n)));
  const servers = (values.servers === "all" ? SERVER_NAMES : values.servers.split(",")).map((name) => {
    if (!SERVER_NAMES.includes(name as ServerName))
      throw new UsageError(`--servers: there is no '${name}'; choose from ${SERVER_NAMES.join(", ")}.`);
    return name as ServerName;
  });
  if (Math.max(...sizes) > PER_GENERATOR) throw new UsageError(`--clients can be at most ${PER_GENERATOR}.`);
  // Each process may have this many files open; the server needs a few besides its connections.
  const openFileLimit = Number(Bun.spawnSync(["sh", "-c", "ulimit -Hn"]).stdout.toString().trim()) || 1024;
  return {
    servers,
    sizes,
    runs: Math.round(positive("runs", values.runs)),
    seconds: positive("seconds", values.seconds),
    latencyRate: positive("latency-rate", values["latency-rate"]),
    idle: Math.round(positive("idle", values.idle)),
    capacity: values.capacity ? Math.round(positive("capacity", values.capacity)) : openFileLimit - 100,
    openFileLimit,
  };
}

/**
 * --save replaces the committed results, which the README quotes: it takes a full run, every set-up
 * and measurement at the default settings. Only the number of runs may differ.
 */
function checkSave(values: Values, settings: Settings): void {
  if (!values.save) return;
  const defaults = readSettings(parseCommandLine(OPTIONS, []).values);
  const differs = (a: unknown, b: unknown) => JSON.stringify(a) !== JSON.stringify(b);
  const changed = [
    differs(settings.servers, defaults.servers) && "--servers",
    differs(settings.sizes, defaults.sizes) && "--clients",
    settings.seconds !== defaults.seconds && "--seconds",
    settings.latencyRate !== defaults.latencyRate && "--latency-rate",
    settings.idle !== defaults.idle && "--idle",
    settings.capacity !== defaults.capacity && "--capacity",
    values["load-only"] && "--load-only",
    values["server-flags"] && "--server-flags",
  ].filter(Boolean);
  if (changed.length > 0)
    throw new UsageError(
      `--save replaces the committed results, so it takes a full run: leave out ${changed.join(", ")}, or leave out --save.`,
    );
}

/** An empty list of figures for each server measured. */
const perServer = <T>(servers: ServerName[], empty: () => T) =>
  Object.fromEntries(servers.map((name) => [name, empty()])) as Partial<Record<ServerName, T>>;

/**
 * Throughput and latency: for each run and room size, the servers back to back, in an order that
 * turns each run, so that a slow spell on the machine does not always hit the same one.
 */
async function runLoad({
  servers,
  sizes,
  runs,
  seconds,
  latencyRate,
}: Settings): Promise<Partial<Record<ServerName, LoadFigures[][]>>> {
  const load = perServer(servers, () => sizes.map((): LoadFigures[] => []));
  let done = 0;
  const total = runs * sizes.length * servers.length;
  for (let run = 0; run < runs; run++) {
    for (const [i, size] of sizes.entries()) {
      const order = servers.map((_, k) => servers[(k + run) % servers.length]!);
      for (const name of order) {
        const figures = await measureLoad(name, size, seconds, latencyRate);
        load[name]![i]!.push(figures);
        const { duplicates, skipped, missing } = figures.delivery;
        progress(
          `[${++done}/${total}] ${SERVERS[name].label}, ${size} clients: ${millions(figures.throughput)} deliveries/s ` +
            `(server ${percent(figures.serverCpu)} CPU, generator ${percent(figures.generatorCpu)}${SERVERS[name].redis ? `, Redis ${percent(figures.redisCpu)}` : ""}), ` +
            `p99 ${micros(figures.latency.p99)}${duplicates + skipped + missing > 0 ? `; NOT exactly once: ${duplicates} duplicates, ${skipped} skipped, ${missing} missing` : ""}`,
        );
      }
    }
  }
  return load;
}

async function runIdleMemory(
  { servers, idle }: Settings,
  memoryRuns: number,
): Promise<Partial<Record<ServerName, MemoryFigures[]>>> {
  const figures = perServer(servers, (): MemoryFigures[] => []);
  for (let run = 0; run < memoryRuns; run++) {
    for (const name of servers) {
      const measured = await measureIdleMemory(name, idle);
      figures[name]!.push(measured);
      progress(
        `memory ${run + 1}/${memoryRuns}, ${SERVERS[name].label}: ${count(idle)} idle connections, ${kib(measured.perConnection)} each`,
      );
    }
  }
  return figures;
}

async function runCapacity(
  { servers, capacity }: Settings,
  memoryRuns: number,
): Promise<Partial<Record<ServerName, CapacityFigures[]>>> {
  const measured = servers.filter((name) => SINGLE_SERVERS.includes(name));
  const figures = perServer(measured, (): CapacityFigures[] => []);
  for (let run = 0; run < memoryRuns; run++) {
    for (const name of measured) {
      const label = `capacity ${run + 1}/${memoryRuns}, ${SERVERS[name].label}`;
      const measured = await measureCapacity(name, capacity, (held) =>
        progress(`${label}: ${count(held)} connections held, a broadcast reached them all`),
      );
      figures[name]!.push(measured);
      if (measured.stopped) progress(`${label}: stopped ${measured.stopped}`);
    }
  }
  return figures;
}

async function main(): Promise<void> {
  // 1. Options.
  const { values } = parseCommandLine(OPTIONS, process.argv.slice(2));
  if (values.help) {
    process.stdout.write(
      formatHelp(
        ["bun run bench [options]"],
        "Benchmarks this chat server against a bare Bun pub/sub server, Node.js + ws and Socket.IO, alone and through Redis.\n" +
          `Prints the report and writes it to a new folder in ${tmpdir()}; --save writes it to bench/results instead.`,
        OPTIONS,
      ),
    );
    return;
  }
  const settings = readSettings(values);
  checkSave(values, settings);
  extraFlags.push(...(values["server-flags"] ?? "").split(" ").filter(Boolean));
  needs(
    "node",
    settings.servers.some((name) => SERVERS[name].command()[0] === "node"),
    "Node.js ('node') is needed for the Node.js + ws and Socket.IO servers; install it, or leave them out with --servers.",
  );
  needs(
    "redis-server",
    settings.servers.some((name) => SERVERS[name].redis),
    "redis-server is needed for the Redis set-ups: install it (sudo apt-get install redis-server), or leave them out with --servers.",
  );

  // 2. Measure: load, then memory and capacity (fewer runs: they vary less and take longer), then start-up.
  const memoryRuns = Math.max(1, Math.min(settings.runs, 3));
  const load = await runLoad(settings);
  const idleMemory = values["load-only"] ? {} : await runIdleMemory(settings, memoryRuns);
  const capacityRuns = values["load-only"] ? {} : await runCapacity(settings, memoryRuns);
  const startupRuns = Math.max(3, settings.runs * 2);
  const startup = values["load-only"] ? undefined : { ...(await measureStartup(startupRuns)), runs: startupRuns };
  if (startup)
    progress(
      `start-up: the compiled server accepts a connection ${startup.milliseconds.toFixed(0)} ms after it is started; it is ${mib(startup.bytes)}`,
    );

  // With the bans set-up, the check itself, timed in this process too: free of the noise between servers.
  const banCheck = settings.servers.includes("ours-bans") ? await measureBanCheck(BANS) : undefined;
  if (banCheck)
    progress(
      `ban check: ${banCheck.none.toFixed(0)} ns with none, ${banCheck.few.toFixed(0)} ns with 10, ${banCheck.many.toFixed(0)} ns with ${BANS}`,
    );

  // 3. Report.
  writeReport({ ...settings, memoryRuns, load, idleMemory, capacityRuns, startup, banCheck }, values.save);
}

/**
 * Prints the report and writes it with its chart: to bench/results with --save, otherwise to a new
 * folder in the temp directory, so that a quick or partial run never overwrites the committed one.
 */
function writeReport(results: Results, save: boolean): void {
  const out = save ? RESULTS : mkdtempSync(join(tmpdir(), "chat-bench-results-"));
  const date = new Date().toISOString().slice(0, 10);
  const table = report(results, date);
  writeFileSync(
    join(out, "results.md"),
    `# Benchmark results\n\n${table}\n![Throughput by room size](throughput.svg)\n`,
  );
  writeFileSync(
    join(out, "throughput.svg"),
    throughputChart(results.sizes, throughputs(results), `${date}, ${machine()}, medians of ${results.runs} runs`),
  );
  const kept = save ? "" : "; bench/results is unchanged (--save writes there, after a full run)";
  process.stdout.write(`${table}\nWritten to ${join(out, "results.md")} and throughput.svg${kept}.\n`);
}

/** Stops with `message` if `command` is wanted and not installed. */
function needs(command: string, wanted: boolean, message: string): void {
  if (wanted && Bun.which(command) === null) throw new UsageError(message);
}

await runMain("bench/run.ts", main);
