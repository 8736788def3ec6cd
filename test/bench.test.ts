/**
 * The benchmark (bench/run.ts), run in a tiny configuration so that it cannot rot: a few clients,
 * a fraction of a second per measurement. It checks that every measurement ran against every
 * set-up (Redis and Socket.IO included) and that the report and chart were written, not how fast
 * anything was: speed is for `bun run bench` to measure, not for a timed test on a shared machine.
 * Such a run must leave the committed results in bench/results alone: only --save, after a full
 * run, replaces them.
 */
import { afterAll, expect, test } from "bun:test";
import { readdirSync, readFileSync, rmSync, statSync } from "node:fs";
import { join } from "node:path";
import { BUN, ROOT, RUN, run } from "./helpers";

/** The folder a run wrote its report to, named on its last line; removed after the tests. */
let out: string | undefined;
afterAll(() => out && rmSync(out, { recursive: true, force: true }));

const RESULTS = join(ROOT, "bench/results");
/** What is in bench/results: each file's name, contents and time of change. */
const committedResults = () =>
  readdirSync(RESULTS)
    .sort()
    .map((name) => ({
      name,
      text: readFileSync(join(RESULTS, name), "utf8"),
      changed: statSync(join(RESULTS, name)).mtimeMs,
    }));

const SET_UPS = [
  "this server",
  "ceiling (bare Bun)",
  "Node.js + ws",
  "this server + an SSE listener",
  "this server + Redis",
  "this server + Redis, 2 instances",
  "Socket.IO",
  "Socket.IO + Redis adapter",
  "Socket.IO + Redis adapter, 2 instances",
  "this server + --store",
  "this server + --store, 1,000 accounts",
  "this server + --store, 10,000 bans",
];
const SINGLE = SET_UPS.slice(0, 3);

/** The rows of the table that follows the line starting with `heading`, by their first cell. */
function table(report: string, heading: string): Map<string, string[]> {
  const lines = report.split("\n");
  const start = lines.findIndex((line) => line.startsWith(heading));
  const rows = new Map<string, string[]>();
  for (const line of lines.slice(start + 1)) {
    if (line.startsWith("|---") || line.startsWith("| server") || line.startsWith("| |")) continue;
    if (!line.startsWith("|")) {
      if (rows.size > 0) break;
      continue;
    }
    const cells = line
      .split("|")
      .slice(1, -1)
      .map((cell) => cell.trim());
    rows.set(cells[0]!, cells.slice(1));
  }
  return rows;
}

test("a tiny run measures every set-up and writes the tables and the chart", async () => {
  const tiny = [
    "--clients",
    "4,12",
    "--runs",
    "1",
    "--seconds",
    "0.3",
    "--latency-rate",
    "2000",
    "--idle",
    "60",
    "--capacity",
    "80",
  ];
  const before = committedResults();
  const finished = await run([BUN, join(ROOT, "bench/run.ts"), ...tiny], { timeoutMs: 260_000 });
  expect(finished.stderr).not.toContain("rror");
  expect(finished.exitCode).toBe(0);
  // Without --save, bench/results is as it was; the report went to a folder of its own, named at the end.
  expect(committedResults()).toEqual(before);
  const written = /\nWritten to (\S+)\/results\.md and throughput\.svg/.exec(finished.stdout)?.[1];
  expect(written).toBeDefined();
  expect(written).not.toBe(RESULTS);
  out = written;

  const report = readFileSync(join(out!, "results.md"), "utf8");
  // Every set-up has a throughput row with a positive rate per room size, and got every message once, in order.
  const throughput = table(report, "Throughput:");
  const exactly = table(report, "Exactly once");
  const latency = table(report, "Latency,");
  const memory = table(report, "Memory:");
  for (const name of SET_UPS) {
    const rates = throughput.get(name)!.map((cell) => /^([\d.]+) (M|k)$/.exec(cell)!);
    expect(rates).toHaveLength(2);
    for (const [, rate] of rates) expect(Number(rate)).toBeGreaterThan(0);
    expect(exactly.get(name)).toEqual(["yes", "yes"]);
    expect(latency.get(name)![1]).toMatch(/^[\d.]+ (µs|ms) \/ [\d.]+ (µs|ms) \/ [\d.]+ (µs|ms)$/);
    expect(memory.get(name)![2]).toMatch(/^-?[\d.]+ KiB$/);
  }
  // The targets, each with a value per room size.
  const targets = table(report, "Targets:");
  expect(targets.size).toBe(12);
  for (const values of targets.values()) expect(values).toHaveLength(2);
  // Capacity, for the single servers: every connection held and reached.
  const capacity = table(report, "Capacity:");
  expect([...capacity.keys()]).toEqual(SINGLE);
  for (const name of SINGLE) expect(capacity.get(name)).toEqual(["80", "80"]);
  expect(report).toMatch(/accepts its first WebSocket connection \d+ ms after it is started/);
  expect(report).toMatch(/against the bans .*: \d+ ns with none, \d+ ns with 10, \d+ ns with 10,000 \([\d.]+× of 10's/);
  expect(finished.stdout).toContain(report.split("\n")[2]!);

  const chart = readFileSync(join(out!, "throughput.svg"), "utf8");
  expect(chart).toStartWith("<svg ");
  expect(chart.match(/<rect [^>]*height="[\d.]+" fill="#/g)?.length).toBe(2 * SET_UPS.length + SET_UPS.length); // bars, then the legend
  // The progress went to stderr as it ran, one line per measurement.
  expect(finished.stderr.match(/\] .* clients: [\d.]+ M deliveries\/s/g)?.length).toBe(2 * SET_UPS.length);
}, 300_000);

test("bad options are one line and exit code 2", async () => {
  const finished = await run([BUN, join(ROOT, "bench/run.ts"), "--runs", "many"]);
  expect(finished.exitCode).toBe(2);
  expect(finished.stderr.trim()).toBe(
    `${RUN.bun} bench/run.ts: --runs must be a positive number, not 'many'. Run '${RUN.bun} bench/run.ts --help' for usage.`,
  );
});

test("an unknown set-up in --servers is one line naming the ones there are", async () => {
  const finished = await run([BUN, join(ROOT, "bench/run.ts"), "--servers", "ours,nope"]);
  expect(finished.exitCode).toBe(2);
  expect(finished.stderr.trim()).toBe(
    `${RUN.bun} bench/run.ts: --servers: there is no 'nope'; choose from ours, ceiling, node, ours-sse, ours-redis, ours-redis-2, socketio, socketio-redis, socketio-redis-2, ours-store, ours-accounts, ours-bans. Run '${RUN.bun} bench/run.ts --help' for usage.`,
  );
});

test("--save takes a full run only: a partial one is refused before it measures, naming what to leave out", async () => {
  const before = committedResults();
  const finished = await run([BUN, join(ROOT, "bench/run.ts"), "--save", "--servers", "ours", "--load-only"]);
  expect(finished.exitCode).toBe(2);
  expect(finished.stderr.trim()).toBe(
    `${RUN.bun} bench/run.ts: --save replaces the committed results, so it takes a full run: leave out --servers, --load-only, or leave out --save. Run '${RUN.bun} bench/run.ts --help' for usage.`,
  );
  expect(committedResults()).toEqual(before);
});
