/**
 * What an attacker with many addresses still gets through, against the real server: readers that
 * never read while a flood fills their backlogs, and the server's memory and a bystander's
 * latency meanwhile; and what each idle connection costs, next to a bare Bun server. Clients pose
 * as different addresses through a trusted proxy's X-Forwarded-For, as in open-network.test.ts.
 * Every loop is bounded in count and time.
 */
import { describe, expect, test } from "bun:test";
import { join } from "node:path";
import type { Socket } from "bun";
import { BUN, ROOT, type RunningServer, startServer, TestSocket, waitFor } from "./helpers";

const MiB = 2 ** 20;

const upgradeHeaders = {
  Upgrade: "websocket",
  Connection: "Upgrade",
  "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ==",
  "Sec-WebSocket-Version": "13",
};

/** A WebSocket that says, through the trusted proxy header, that it comes from `ip`. */
function openAs(server: RunningServer, ip: string, path = "/"): Promise<TestSocket> {
  return TestSocket.open(`${server.url}${path}`, undefined, 5_000, { "X-Forwarded-For": ip });
}

/**
 * A reader that completes the handshake from `ip` and then reads nothing: its TCP socket is paused,
 * so what the server sends piles up, first in the kernel's buffers, then in the server's memory.
 * It can still write: `say` sends a masked text frame.
 */
async function nonReader(port: number, ip: string, path: string) {
  let head = "";
  let closed = false;
  const socket: Socket = await Bun.connect({
    hostname: "127.0.0.1",
    port,
    socket: {
      data: (_socket, data) => void (head += data.toString("latin1")),
      close: () => void (closed = true),
      error: () => void (closed = true),
    },
  });
  socket.write(
    `GET ${path} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\nX-Forwarded-For: ${ip}\r\n\r\n`,
  );
  await waitFor("the handshake", () => (head.includes("\r\n\r\n") || closed ? true : undefined));
  if (!head.startsWith("HTTP/1.1 101")) throw new Error(`handshake refused: ${head.split("\r\n")[0]}`);
  socket.pause();
  return {
    /** Sends a close frame (1000), masked as a client's must be; reads nothing still. */
    close: () => void socket.write(new Uint8Array([0x88, 0x82, 1, 2, 3, 4, 0x03 ^ 1, 0xe8 ^ 2])),
    destroy: () => socket.terminate(),
  };
}

/** The server's resident memory now (VmRSS) and at its highest so far (VmHWM), in MiB. */
async function memory(server: RunningServer): Promise<{ rss: number; peak: number }> {
  const status = await Bun.file(`/proc/${server.process.pid}/status`).text();
  const kib = (field: string) => Number(new RegExp(`${field}:\\s+(\\d+) kB`).exec(status)![1]);
  return { rss: kib("VmRSS") / 1024, peak: kib("VmHWM") / 1024 };
}

/** The `q` quantile of `values`, in their unit. */
function quantile(values: number[], q: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? Number.NaN;
}

/**
 * A bystander in a room of its own: says something every `everyMs` and notes how long each took to
 * come back, until stopped; the latencies in ms.
 */
function bystander(socket: TestSocket, everyMs: number) {
  const sentAt = new Map<string, number>();
  const latencies: number[] = [];
  socket.socket.addEventListener("message", ({ data }) => {
    const text = String(data).replace(/^.*?: /, "");
    const at = sentAt.get(text);
    if (at !== undefined) latencies.push(performance.now() - at);
  });
  let n = 0;
  const timer = setInterval(() => {
    const text = `ping ${n++}`;
    sentAt.set(text, performance.now());
    socket.send(text);
  }, everyMs);
  return {
    latencies,
    /** Stops, and counts what never came back as taking until now. */
    stop(): number[] {
      clearInterval(timer);
      const now = performance.now();
      const answered = latencies.length;
      for (const at of [...sentAt.values()].slice(answered)) latencies.push(now - at);
      return latencies;
    },
  };
}

describe("unsent bytes under attack", () => {
  test("non-readers from ten addresses under a 64 KiB flood, some closing: RSS stays within --max-unsent, a bystander keeps its milliseconds", async () => {
    const cap = 16 * MiB;
    const server = await startServer([
      "--quiet",
      "--trust-proxy",
      "127.0.0.1",
      "--history",
      "0",
      "--rate",
      "0",
      "--ip-rate",
      "0",
      "--max-backlog",
      String(4 * MiB),
      "--max-unsent",
      String(cap),
    ]);
    const readers: Awaited<ReturnType<typeof nonReader>>[] = [];
    try {
      const quiet = await openAs(server, "198.51.100.250", "/?room=quiet");
      const flooder = await openAs(server, "198.51.100.251", "/?room=attack");
      const pings = bystander(quiet, 20);
      const big = "x".repeat(64 * 1024 - 100);
      await Bun.sleep(300);
      const baseline = (await memory(server)).rss;
      const metricsTimes: number[] = [];
      // Ten rounds: ten new non-readers, one from each address, then 130 messages of 64 KiB, one
      // every 5 ms: 8 MiB for each of them, past what the kernel buffers (about 4 MB a socket here)
      // and past --max-backlog. Half of them close (a close frame they can write, though they read
      // nothing) with part of it still waiting.
      for (let round = 0; round < 10; round++) {
        const opened = await Promise.all(
          Array.from({ length: 10 }, (_, i) => nonReader(server.port, `203.0.113.${1 + i}`, "/?room=attack")),
        );
        readers.push(...opened);
        for (let m = 0; m < 130; m++) {
          flooder.send(`${round}.${m} ${big}`);
          if (m === 90) for (const reader of opened.slice(5)) reader.close();
          await Bun.sleep(5);
        }
        const asked = performance.now();
        await fetch(`http://127.0.0.1:${server.port}/metrics`);
        metricsTimes.push(performance.now() - asked);
      }
      const latencies = pings.stop();
      const { rss, peak } = await memory(server);
      const p99 = quantile(latencies, 0.99);
      console.log(
        `RSS ${baseline.toFixed(0)} MiB at the start, peak ${peak.toFixed(0)} MiB, ${rss.toFixed(0)} MiB at the end; ` +
          `bystander p50 ${quantile(latencies, 0.5).toFixed(1)} ms, p95 ${quantile(latencies, 0.95).toFixed(1)} ms, p99 ${p99.toFixed(1)} ms, max ${Math.max(...latencies).toFixed(0)} ms ` +
          `(${latencies.length} pings); /metrics max ${Math.max(...metricsTimes).toFixed(0)} ms`,
      );
      expect(peak - baseline).toBeLessThan(cap / MiB + 48);
      expect(p99).toBeLessThan(200);
      for (const socket of [quiet, flooder]) socket.close();
    } finally {
      for (const reader of readers) reader.destroy();
      await server.stop();
    }
  }, 60_000);
});

/**
 * Opens `count` WebSocket connections to `port` that then say nothing, 200 handshakes at a time;
 * returns them, to be destroyed.
 */
async function idleConnections(port: number, count: number): Promise<Socket[]> {
  const sockets: Socket[] = [];
  for (let opened = 0; opened < count; opened += 200) {
    const batch = Array.from({ length: Math.min(200, count - opened) }, async () => {
      let head = "";
      const socket = await Bun.connect({
        hostname: "127.0.0.1",
        port,
        socket: { data: (_socket, data) => void (head += data.toString("latin1")) },
      });
      sockets.push(socket);
      socket.write(
        `GET / HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n`,
      );
      await waitFor("a handshake", () => (head.includes("\r\n\r\n") ? true : undefined), 10_000);
      if (!head.startsWith("HTTP/1.1 101")) throw new Error(`handshake refused: ${head.split("\r\n")[0]}`);
    });
    await Promise.all(batch);
  }
  return sockets;
}

/**
 * What `count` idle connections add to a server's RSS, each, in KiB, three seconds after the last
 * opened: Bun gives back some of what opening them took within about two.
 */
async function idleCost(server: RunningServer, count: number): Promise<number> {
  await Bun.sleep(300);
  const before = (await memory(server)).rss;
  const sockets = await idleConnections(server.port, count);
  try {
    await Bun.sleep(3000);
    return (((await memory(server)).rss - before) * 1024) / count;
  } finally {
    for (const socket of sockets) socket.terminate();
  }
}

describe("memory per idle connection", () => {
  test("an idle connection costs this server at most 0.7 KiB more than a bare Bun pub/sub server", async () => {
    const count = 10_000;
    const ours = await startServer([
      "--quiet",
      "--ip-connect-rate",
      "0",
      "--max-clients",
      "100000",
      "--max-per-ip",
      "100000",
    ]);
    let oursKiB: number;
    try {
      oursKiB = await idleCost(ours, count);
    } finally {
      await ours.stop();
    }
    // bench/ceiling-server.ts takes its port as its one argument.
    const bare = await startServer(["0"], {
      command: [BUN, join(ROOT, "bench/ceiling-server.ts")],
      env: { PORT: "0" },
    });
    let bareKiB: number;
    try {
      bareKiB = await idleCost(bare, count);
    } finally {
      await bare.stop();
    }
    console.log(
      `${count} idle connections: ${oursKiB.toFixed(2)} KiB each here, ${bareKiB.toFixed(2)} KiB in bare Bun`,
    );
    expect(oursKiB - bareKiB).toBeLessThan(0.7);
  }, 60_000);
});

describe("a full server", () => {
  test("four addresses holding every slot lock nobody out: a newcomer gets in, the quietest of the biggest holders is closed with 1013", async () => {
    const server = await startServer([
      "--quiet",
      "--trust-proxy",
      "127.0.0.1",
      "--max-clients",
      "20",
      "--max-per-ip",
      "5",
      "--ip-connect-rate",
      "0",
    ]);
    const sockets: TestSocket[] = [];
    try {
      const hogs: TestSocket[][] = [];
      for (let a = 1; a <= 4; a++) {
        const own: TestSocket[] = [];
        for (let c = 0; c < 5; c++) own.push(await openAs(server, `203.0.113.${a}`));
        hogs.push(own);
        sockets.push(...own);
      }
      // Everyone says something but one, which is then the quietest.
      const quiet = hogs[2]![1]!;
      for (const socket of sockets) if (socket !== quiet) socket.send(`hello from ${sockets.indexOf(socket)}`);
      for (const socket of sockets)
        if (socket !== quiet)
          await socket.waitForMessage("its own hello", (m) => m.endsWith(`: hello from ${sockets.indexOf(socket)}`));
      const newcomer = await openAs(server, "198.51.100.5");
      sockets.push(newcomer);
      const closed = await quiet.waitForClose();
      expect([closed.code, closed.reason]).toEqual([
        1013,
        "the server is full: your address holds the most connections; this one was the quietest",
      ]);
      expect(sockets.filter((s) => s.closed !== undefined)).toEqual([quiet]);

      // An address at --max-per-ip is told so (429), full server or not.
      const perIp = await fetch(`http://127.0.0.1:${server.port}/`, {
        headers: { ...upgradeHeaders, "X-Forwarded-For": "203.0.113.1" },
      });
      expect(perIp.status).toBe(429);
      // 203.0.113.3 now holds 4, one fewer than the most: it is not let in at another's cost.
      const within = await fetch(`http://127.0.0.1:${server.port}/`, {
        headers: { ...upgradeHeaders, "X-Forwarded-For": "203.0.113.3" },
      });
      expect(within.status).toBe(503);
      // The newcomer's address holds 1: a second connection from it still gets in.
      sockets.push(await openAs(server, "198.51.100.5"));
      const metrics = await (await fetch(`http://127.0.0.1:${server.port}/metrics`)).text();
      expect(metrics).toContain('chat_closed_connections_total{reason="room_for_others"} 2');
      expect(metrics).toContain("chat_connections 20");
    } finally {
      for (const socket of sockets) socket.close();
      await server.stop();
    }
  }, 30_000);
});
