/**
 * The benchmark (bench/run.ts), run in a tiny configuration so that it cannot rot: a few clients,
 * a fraction of a second per measurement. It checks that every measurement ran against all three
 * servers and that the report and chart were written, not how fast anything was: speed is for
 * `bun run bench` to measure, not for a timed test on a shared machine.
 */
import { afterAll, expect, test } from "bun:test";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { BUN, ROOT, run, RUN } from "./helpers";

const out = mkdtempSync(join(tmpdir(), "chat-bench-test-"));
afterAll(() => rmSync(out, { recursive: true, force: true }));

test("a tiny run measures all three servers and writes the table and the chart", async () => {
  const tiny = ["--clients", "4,12", "--runs", "1", "--seconds", "0.3", "--latency-rate", "2000", "--idle", "60", "--capacity", "80"];
  const finished = await run([BUN, join(ROOT, "bench/run.ts"), ...tiny, "--out", out], { timeoutMs: 120_000 });
  expect(finished.stderr).not.toContain("rror");
  expect(finished.exitCode).toBe(0);

  const report = readFileSync(join(out, "results.md"), "utf8");
  // Each room size has a throughput row with three positive rates, in millions a second.
  for (const size of [4, 12]) {
    const row = report.split("\n").find((line) => line.startsWith(`| ${size} | `) && line.includes(" M |"));
    expect(row).toBeDefined();
    const rates = [...row!.matchAll(/([\d.]+) M/g)].map((m) => Number(m[1]));
    expect(rates).toHaveLength(3);
    for (const rate of rates) expect(rate).toBeGreaterThan(0);
  }
  // Latency rows, memory, capacity (every connection held and reached) and start-up.
  expect(report).toMatch(/\| 12 \| [\d.]+ (µs|ms) \/ [\d.]+ (µs|ms) \/ [\d.]+ (µs|ms) \|/);
  expect(report).toMatch(/\| with 60 idle connections \| [\d.]+ MiB \| [\d.]+ MiB \| [\d.]+ MiB \|/);
  expect(report).toContain("| held | 80 | 80 | 80 |");
  expect(report).toContain("| received the broadcast | 80 | 80 | 80 |");
  expect(report).toMatch(/accepts its first WebSocket connection \d+ ms after it is started/);
  expect(finished.stdout).toContain(report.split("\n")[2]!);

  const chart = readFileSync(join(out, "throughput.svg"), "utf8");
  expect(chart).toStartWith("<svg ");
  expect(chart.match(/<rect [^>]*height="[\d.]+" fill="#/g)?.length).toBe(2 * 3 + 3); // bars, then the legend
  // The progress went to stderr as it ran, one line per measurement.
  expect(finished.stderr.match(/\] .* clients: [\d.]+ M deliveries\/s/g)?.length).toBe(2 * 3);
}, 150_000);

test("bad options are one line and exit code 2", async () => {
  const finished = await run([BUN, join(ROOT, "bench/run.ts"), "--runs", "many"]);
  expect(finished.exitCode).toBe(2);
  expect(finished.stderr.trim()).toBe(`${RUN.bun} bench/run.ts: --runs must be a positive number, not 'many'. Run '${RUN.bun} bench/run.ts --help' for usage.`);
});
