/**
 * What the benchmark measures, each against a fresh server: throughput at saturation and latency
 * at a fixed rate (measureLoad), memory with idle connections, capacity (connections held with a
 * broadcast still reaching every one), and the compiled executable's start-up time and size.
 */
import { mkdtempSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { BUN, ROOT, unusedPort } from "../tools/processes";
import type { DeliveryCheck } from "./delivery";
import type { Reply } from "./load";
import {
  connectAll,
  cpuSeconds,
  DELIVERIES_IN_FLIGHT,
  SERVERS,
  type ServerName,
  serverCpuSeconds,
  serverMemory,
  spawnChild,
  withServer,
} from "./servers";
import { count, median } from "./stats";

export interface LoadFigures {
  /** Deliveries a second at saturation. */
  throughput: number;
  /** Share of one core the server (its instances together), the load generator and Redis used while counting. */
  serverCpu: number;
  generatorCpu: number;
  redisCpu: number;
  /** Whether every client got every flood message exactly once and in order. */
  delivery: DeliveryCheck;
  latency: { p50: number; p99: number; max: number };
  /** VmHWM after the load: the most memory the server has held. */
  peakRss: number;
  /** How long the room's clients took to connect and enter it (each upgrade checked against the bans, if any). */
  connectMs: number;
}

/** Throughput, then latency, on one server with `clients` connected clients in one room. */
export function measureLoad(
  name: ServerName,
  clients: number,
  seconds: number,
  latencyRate: number,
): Promise<LoadFigures> {
  return withServer(name, clients, async (server, generators) => {
    const generator = generators[0]!;
    const connecting = performance.now();
    await connectAll(server, [generator], clients);
    const connectMs = performance.now() - connecting;
    await Bun.sleep(200); // Let the joining settle.
    const messagesInFlight = Math.ceil(DELIVERIES_IN_FLIGHT / clients);
    const window = Math.min(64, Math.ceil(messagesInFlight / clients));
    const senders = Math.min(clients, Math.ceil(messagesInFlight / window));
    const warmupMs = 500;
    const durationMs = seconds * 1000;
    const flooded = generator.ask({ type: "flood", senders, window, warmupMs, durationMs }, "flooded");
    await Bun.sleep(warmupMs);
    const before = await Promise.all([serverCpuSeconds(server), cpuSeconds(generator.process.pid)]);
    const started = performance.now();
    await Bun.sleep(durationMs);
    const after = await Promise.all([serverCpuSeconds(server), cpuSeconds(generator.process.pid)]);
    const wall = (performance.now() - started) / 1000;
    const flood = await flooded;
    if (flood.closed > 0) throw new Error(`${SERVERS[name].label} closed ${flood.closed} connections during the flood`);

    // Twice as long as the flood: at a thousand clients, a second at this rate is only 25 messages.
    const measured = await generator.ask(
      { type: "latency", perSecond: latencyRate, population: clients, durationMs: 2 * durationMs },
      "latencies",
    );
    if (measured.closed > 0)
      throw new Error(`${SERVERS[name].label} closed ${measured.closed} connections while measuring latency`);
    const expected = measured.sent * clients;
    if (measured.micros.length !== expected)
      throw new Error(
        `${SERVERS[name].label}: ${measured.micros.length} of ${expected} deliveries arrived while measuring latency`,
      );
    const sorted = Float64Array.from(measured.micros).sort();
    const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
    return {
      throughput: flood.deliveries / flood.seconds,
      serverCpu: (after[0].instances - before[0].instances) / wall,
      generatorCpu: (after[1]! - before[1]!) / wall,
      redisCpu: (after[0].redis - before[0].redis) / wall,
      delivery: flood.delivery,
      latency: { p50: at(0.5), p99: at(0.99), max: sorted[sorted.length - 1]! },
      peakRss: (await serverMemory(server)).peak,
      connectMs,
    };
  });
}

export interface MemoryFigures {
  startRss: number;
  idleRss: number;
  perConnection: number;
}

/** Server memory at start and with `count` idle connections, a second after the last one opened. */
export function measureIdleMemory(name: ServerName, connections: number): Promise<MemoryFigures> {
  return withServer(name, connections, async (server, generators) => {
    await Bun.sleep(300);
    const { rss: startRss } = await serverMemory(server);
    await connectAll(server, generators, connections);
    await Bun.sleep(1000);
    const { rss: idleRss } = await serverMemory(server);
    return { startRss, idleRss, perConnection: (idleRss - startRss) / connections };
  });
}

export interface CapacityFigures {
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
export function measureCapacity(
  name: ServerName,
  target: number,
  onStep: (held: number) => void,
): Promise<CapacityFigures> {
  const step = Math.max(1, Math.ceil(target / 4));
  return withServer(name, target, async (server, generators) => {
    let best: CapacityFigures = { held: 0, delivered: 0 };
    for (let open = 0, probe = 1; open < target; probe++) {
      const adding = Math.min(step, target - open);
      const failed = await connectAll(server, generators, adding).then(
        () => undefined,
        (error: Error) => error.message,
      );
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
        const stopped =
          failed ??
          (held < open + adding
            ? `${count(open + adding - held)} connections were closed`
            : `${count(held - delivered)} clients did not receive the broadcast in 20 s`);
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

export interface StartupFigures {
  milliseconds: number;
  bytes: number;
}

/**
 * Builds the server executable (into a temporary directory, leaving the repository's dist/ alone),
 * then times it from spawning to its first accepted WebSocket connection.
 */
export async function measureStartup(runs: number): Promise<StartupFigures> {
  const folder = mkdtempSync(join(tmpdir(), "chat-bench-build-"));
  try {
    return await timeStartup(join(folder, "chat-server"), runs);
  } finally {
    rmSync(folder, { recursive: true, force: true });
  }
}

async function timeStartup(executable: string, runs: number): Promise<StartupFigures> {
  const build = Bun.spawnSync([BUN, "build", "--compile", join(ROOT, "server.ts"), "--outfile", executable], {
    cwd: ROOT,
    stdout: "ignore",
    stderr: "pipe",
  });
  if (build.exitCode !== 0) throw new Error(`bun build --compile failed: ${build.stderr.toString().trim()}`);
  const times: number[] = [];
  for (let run = 0; run < runs; run++) {
    const port = unusedPort();
    const started = performance.now();
    const server = spawnChild([executable, "--port", String(port), "--quiet"], { stdout: "ignore", stderr: "ignore" });
    try {
      for (let attempt = 0; ; attempt++) {
        if (attempt === 2000) throw new Error("the compiled server did not accept a connection in 10 s");
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
    socket.onopen = () => {
      socket.close();
      resolve(true);
    };
    socket.onerror = () => resolve(false);
  });
}
