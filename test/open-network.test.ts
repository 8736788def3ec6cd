/**
 * The server as an attacker finds it, with its default limits unless a test says otherwise:
 * reconnecting does not refill a budget, memory stays within its bound under attack, replays stay
 * within --history, refusals say when to come back, and behind a proxy each client is itself.
 * Several clients here pose as different addresses through a trusted proxy's X-Forwarded-For.
 */
import { describe, expect, test } from "bun:test";
import { SUBPROTOCOL } from "../common/events";
import { startServer, TestSocket, waitFor, type RunningServer } from "./helpers";

/** A WebSocket that says, through the trusted proxy header, that it comes from `ip`. */
function openAs(server: RunningServer, ip: string, path = "/", protocol?: string): Promise<TestSocket> {
  return TestSocket.open(`${server.url}${path}`, protocol, 5_000, { "X-Forwarded-For": ip });
}

/** The server's resident memory, in MiB, from /proc. */
async function rssMiB(server: RunningServer): Promise<number> {
  const status = await Bun.file(`/proc/${server.process.pid}/status`).text();
  return Number(/VmRSS:\s+(\d+) kB/.exec(status)![1]) / 1024;
}

/** One gauge or counter from /metrics. */
async function metric(server: RunningServer, name: string): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${server.port}/metrics`)).text();
  return Number(new RegExp(`^${name} (\\S+)$`, "m").exec(text)![1]);
}

const upgradeHeaders = { Upgrade: "websocket", Connection: "Upgrade", "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ==", "Sec-WebSocket-Version": "13" };

describe("budgets that survive reconnecting", () => {
  test("40 loops of connect, send 20, close deliver no more than the address's budget, and the loops meet 429 with Retry-After", async () => {
    const server = await startServer(["--quiet", "--history", "0", "--trust-proxy", "127.0.0.1"]);
    try {
      const watcher = await openAs(server, "198.51.100.7");
      const started = performance.now();
      let refused = 0;
      for (let loop = 0; loop < 40; loop++) {
        const attacker = await TestSocket.open(server.url).catch(() => undefined);
        if (!attacker) {
          refused++;
          continue;
        }
        for (let i = 0; i < 20; i++) attacker.send(`loop ${loop} message ${i}`);
        attacker.close();
        await waitFor("the loop's connection to close", () => attacker.closed, 5_000);
      }
      const seconds = (performance.now() - started) / 1000;
      watcher.send("done");
      await watcher.waitForMessage("the watcher's own marker", (m) => m.endsWith(": done"));
      const delivered = watcher.chat.filter((m) => m.includes(": loop ")).length;
      // The address's bucket: 3 × --burst (60) at once, then --ip-rate (20) a second.
      expect(delivered).toBeGreaterThan(0);
      expect(delivered).toBeLessThanOrEqual(60 + Math.ceil(20 * seconds) + 1);
      // New connections: 30 at once, then 2 a second: some loops were turned away.
      expect(refused).toBeGreaterThan(0);
      const answer = await fetch(`http://127.0.0.1:${server.port}/`, { headers: upgradeHeaders });
      expect(answer.status).toBe(429);
      expect(Number(answer.headers.get("retry-after"))).toBeGreaterThanOrEqual(1);
      expect(await answer.text()).toMatch(/^Too many new connections from your address \(2 a second at most\); try again in \d+ s\.\n$/);
      watcher.close();
    } finally {
      await server.stop();
    }
  });

  test("a replay never gives more than --history, whatever `since` asks", async () => {
    const server = await startServer(["--quiet", "--history", "50", "--rate", "0", "--ip-rate", "0"]);
    try {
      const talker = await TestSocket.open(server.url);
      for (let i = 1; i <= 99; i++) talker.send(`m${i}`);
      await talker.waitForChat(99);
      const late = await TestSocket.open(`${server.url}/?since=0`, SUBPROTOCOL);
      const joined = await late.waitForEvent("joined", (e) => e.type === "joined");
      expect(joined).toMatchObject({ history: 50, missed: 49 });
      await waitFor("the replay", () => (late.events.filter((e) => e.type === "message").length >= 50 ? true : undefined));
      expect(late.events.filter((e) => e.type === "message").map((e) => e.text)[0]).toBe("m50");
      for (const socket of [talker, late]) socket.close();
    } finally {
      await server.stop();
    }
  });
});

describe("memory under attack", () => {
  test("64 KiB messages into ever new rooms: history stays within --history-bytes and RSS within a bound", async () => {
    const budget = 16 * 1024 * 1024;
    const server = await startServer(["--quiet", "--rate", "0", "--ip-rate", "0", "--ip-changes", "0", "--history-bytes", String(budget), "--max-rooms", "500"]);
    try {
      const before = await rssMiB(server);
      const attackers = await Promise.all(Array.from({ length: 8 }, () => TestSocket.open(server.url, SUBPROTOCOL)));
      const big = "x".repeat(64 * 1024 - 100);
      let sent = 0;
      for (let round = 0; round < 40; round++) {
        for (const [i, attacker] of attackers.entries()) {
          attacker.send(JSON.stringify({ type: "join", room: `flood-${round}-${i}` }));
          for (let m = 0; m < 10; m++) attacker.send(JSON.stringify({ type: "say", text: big }));
          sent += 10;
        }
        // Let the attackers read, so that their backlogs are not what is measured.
        await waitFor("the round's echoes", () => (attackers.every((a) => a.events.filter((e) => e.type === "message").length >= 10) ? true : undefined), 20_000);
        for (const attacker of attackers) attacker.messages.length = 0;
      }
      const said = sent * big.length;
      const history = await metric(server, "chat_history_bytes");
      const peak = await rssMiB(server);
      console.log(`said ${(said / 2 ** 20).toFixed(0)} MiB in ${sent} messages; history ${(history / 2 ** 20).toFixed(1)} MiB; RSS ${before.toFixed(0)} -> ${peak.toFixed(0)} MiB`);
      expect(said).toBeGreaterThan(10 * budget);
      expect(history).toBeLessThanOrEqual(budget);
      expect(peak - before).toBeLessThan(200);
      for (const attacker of attackers) attacker.close();
      const rooms = await waitFor("the attackers' rooms to go", async () => ((await metric(server, "chat_rooms")) === 1 ? true : undefined), 5_000);
      expect(rooms).toBe(true);
    } finally {
      await server.stop();
    }
  }, 60_000);
});

describe("behind a reverse proxy", () => {
  test("with --trust-proxy, a client is tagged with the address the proxy names; without it, the header is ignored", async () => {
    const trusting = await startServer(["--trust-proxy", "127.0.0.1"]);
    const plain = await startServer([]);
    try {
      const viaProxy = await openAs(trusting, "203.0.113.50");
      viaProxy.send("hello");
      expect(await viaProxy.waitForMessage("its own message", (m) => m.endsWith(": hello"))).toMatch(/^203\.0\.113\.50:\d+: hello$/);
      const spoofing = await openAs(plain, "203.0.113.50");
      spoofing.send("hello");
      expect(await spoofing.waitForMessage("its own message", (m) => m.endsWith(": hello"))).toMatch(/^127\.0\.0\.1:\d+: hello$/);
      for (const socket of [viaProxy, spoofing]) socket.close();
    } finally {
      await Promise.all([trusting.stop(), plain.stop()]);
    }
  });
});
