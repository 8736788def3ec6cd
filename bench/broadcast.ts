/**
 * Broadcast throughput: how many messages per second the server delivers when CLIENTS clients each
 * send MESSAGES messages as fast as they can, everyone receiving everything. Three servers are
 * measured in the same run, in turn, ROUNDS times each, and compared by their medians:
 *   baseline  bench/baseline-server.ts, a bare Bun pub/sub chat
 *   quiet     server.ts --quiet
 *   logging   server.ts, logging every message (to a file)
 *   store     server.ts --quiet --store FILE, history written to SQLite
 * The machines this runs on are shared and noisy, so read the ratios, not the absolute numbers.
 *
 * Usage: bun bench/broadcast.ts [--clients 32] [--messages 1000] [--rounds 7]
 */
import { parseArgs } from "node:util";
import { join } from "node:path";
import { tmpdir } from "node:os";
import { rmSync } from "node:fs";

const { values } = parseArgs({
  options: { clients: { type: "string", default: "32" }, messages: { type: "string", default: "1000" }, rounds: { type: "string", default: "7" } },
});
const CLIENTS = Number(values.clients);
const MESSAGES = Number(values.messages);
const ROUNDS = Number(values.rounds);
const ROOT = join(import.meta.dir, "..");

const STORE = join(tmpdir(), `chat-bench-${process.pid}.sqlite`);
const SERVERS = {
  baseline: [process.execPath, join(ROOT, "bench/baseline-server.ts"), "0"],
  // No rate limit: each client sends as fast as it can, which is the point here.
  quiet: [process.execPath, join(ROOT, "server.ts"), "--port", "0", "--quiet", "--rate", "0"],
  logging: [process.execPath, join(ROOT, "server.ts"), "--port", "0", "--rate", "0"],
  store: [process.execPath, join(ROOT, "server.ts"), "--port", "0", "--quiet", "--rate", "0", "--store", STORE],
} as const;
type Variant = keyof typeof SERVERS;

interface Round {
  /** Messages delivered to clients per second of wall-clock time. */
  perSecond: number;
  /** CPU time the server process spent during the load, user and system, per 1000 messages delivered. */
  cpuMicrosPerThousand: number;
}

/** Starts a server, runs one round of load against it, stops it. */
async function measure(variant: Variant): Promise<Round> {
  const logFile = join(tmpdir(), `chat-bench-${process.pid}-${variant}-${Date.now()}.log`);
  const server = Bun.spawn([...SERVERS[variant]], { stdout: Bun.file(logFile), stderr: "inherit" });
  try {
    const url = await waitForUrl(logFile);
    const sockets = await Promise.all(Array.from({ length: CLIENTS }, () => open(url)));
    const expected = CLIENTS * MESSAGES;
    const cpuBefore = await cpuTicks(server.pid);
    const start = performance.now();
    const done = Promise.all(
      sockets.map(
        (socket) =>
          new Promise<void>((resolve, reject) => {
            let received = 0;
            const timer = setTimeout(() => reject(new Error(`${variant}: a client got ${received} of ${expected} in 60 s`)), 60_000);
            socket.addEventListener("message", () => {
              if (++received === expected) clearTimeout(timer), resolve();
            });
          }),
      ),
    );
    for (let n = 0; n < MESSAGES; n++) for (const socket of sockets) socket.send(`message number ${n} with some text in it`);
    await done;
    const seconds = (performance.now() - start) / 1000;
    const cpuSeconds = ((await cpuTicks(server.pid)) - cpuBefore) / CLOCK_TICKS_PER_SECOND;
    for (const socket of sockets) socket.close();
    const deliveries = expected * CLIENTS;
    return { perSecond: deliveries / seconds, cpuMicrosPerThousand: ((cpuSeconds * 1e6) / deliveries) * 1000 };
  } finally {
    server.kill("SIGKILL");
    await server.exited;
    rmSync(logFile, { force: true });
  }
}

/** Linux counts a process's CPU time in clock ticks of 1/100 s (USER_HZ). */
const CLOCK_TICKS_PER_SECOND = 100;

/** User plus system CPU time of a process so far, in clock ticks (proc(5): fields 14 and 15). */
async function cpuTicks(pid: number): Promise<number> {
  const stat = await Bun.file(`/proc/${pid}/stat`).text();
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return Number(fields[11]) + Number(fields[12]);
}

async function waitForUrl(logFile: string): Promise<string> {
  for (let attempt = 0; attempt < 200; attempt++) {
    const text = await Bun.file(logFile).text().catch(() => "");
    const url = /Listening on (ws:\/\/\S+)\n/.exec(text)?.[1];
    if (url) return url;
    await Bun.sleep(25);
  }
  throw new Error(`the server did not start: ${logFile}`);
}

function open(url: string): Promise<WebSocket> {
  return new Promise((resolve, reject) => {
    const socket = new WebSocket(url);
    socket.addEventListener("open", () => resolve(socket), { once: true });
    socket.addEventListener("error", (e) => reject(new Error(`could not open ${url}: ${(e as ErrorEvent).message}`)), { once: true });
  });
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

const results: Record<Variant, Round[]> = { baseline: [], quiet: [], logging: [], store: [] };
for (let round = 1; round <= ROUNDS; round++) {
  // Alternate the order so that a slow spell on the machine does not always hit the same variant.
  const order = (Object.keys(SERVERS) as Variant[]).sort(() => (round % 2 ? 1 : -1));
  for (const variant of order) results[variant].push(await measure(variant));
  process.stderr.write(`round ${round}/${ROUNDS} done\n`);
}

for (const suffix of ["", "-wal", "-shm"]) rmSync(STORE + suffix, { force: true });

console.log(`${CLIENTS} clients x ${MESSAGES} messages each, every client receiving all ${CLIENTS * MESSAGES}; medians of ${ROUNDS} rounds`);
console.log("(server CPU is counted over the load only; it is the steadier measure on a shared machine)");
const baseRate = median(results.baseline.map((r) => r.perSecond));
const baseCpu = median(results.baseline.map((r) => r.cpuMicrosPerThousand));
for (const variant of Object.keys(SERVERS) as Variant[]) {
  const rate = median(results[variant].map((r) => r.perSecond));
  const cpu = median(results[variant].map((r) => r.cpuMicrosPerThousand));
  console.log(
    `${variant.padEnd(9)} ${Math.round(rate).toLocaleString("en").padStart(10)} deliveries/s (${(rate / baseRate).toFixed(2)} x baseline)` +
      `   server CPU ${Math.round(cpu).toString().padStart(5)} µs per 1000 deliveries (${(cpu / baseCpu).toFixed(2)} x baseline)`,
  );
}
