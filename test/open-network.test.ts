/**
 * The server as an attacker finds it, with its default limits unless a test says otherwise:
 * reconnecting does not refill a budget, memory stays within its bound under attack, replays stay
 * within --history, refusals say when to come back, and behind a proxy each client is itself.
 * Several clients here pose as different addresses through a trusted proxy's X-Forwarded-For.
 */
import { describe, expect, test } from "bun:test";
import { SUBPROTOCOL } from "../common/events";
import { CuttableLink, pipeClient, type RunningServer, startServer, TestSocket, waitFor } from "./helpers";

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

const upgradeHeaders = {
  Upgrade: "websocket",
  Connection: "Upgrade",
  "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ==",
  "Sec-WebSocket-Version": "13",
};

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
      expect(await answer.text()).toMatch(
        /^Too many new connections from your address \(2 a second at most\); try again in \d+ s\.\n$/,
      );
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
      await waitFor("the replay", () =>
        late.events.filter((e) => e.type === "message").length >= 50 ? true : undefined,
      );
      expect(late.events.filter((e) => e.type === "message").map((e) => e.text)[0]).toBe("m50");
      for (const socket of [talker, late]) socket.close();
    } finally {
      await server.stop();
    }
  });
});

describe("replays under attack", () => {
  test("20 loops of connect with ?since=0 and close get the address's replay budget, not 20 full replays", async () => {
    const server = await startServer(["--quiet", "--history", "50", "--rate", "0", "--trust-proxy", "127.0.0.1"]);
    try {
      const filler = await openAs(server, "198.51.100.9");
      const big = "r".repeat(60_000);
      for (let i = 0; i < 50; i++) filler.send(`${i} ${big}`);
      await filler.waitForChat(50, 10_000);
      const started = performance.now();
      let received = 0;
      for (let loop = 0; loop < 20; loop++) {
        const attacker = await TestSocket.open(`${server.url}/?since=0`, SUBPROTOCOL);
        await attacker.waitForEvent("joined", (e) => e.type === "joined");
        attacker.close();
        await waitFor("the close", () => attacker.closed);
        received += attacker.messages.reduce((sum, m) => sum + m.length, 0);
      }
      const seconds = (performance.now() - started) / 1000;
      const fullReplays = (20 * 50 * big.length) / 2 ** 20;
      // The budget counts about two bytes a character: 16 MiB at once, then 1 MiB a second.
      const allowed = (16 + seconds + 1) / 2;
      console.log(
        `replayed ${(received / 2 ** 20).toFixed(1)} MiB in ${seconds.toFixed(1)} s, where 20 full replays are ${fullReplays.toFixed(0)} MiB`,
      );
      expect(received / 2 ** 20).toBeLessThan(allowed);
      filler.close();
    } finally {
      await server.stop();
    }
  }, 30_000);
});

describe("memory under attack", () => {
  test("64 KiB messages into ever new rooms: history stays within --history-bytes and RSS within a bound", async () => {
    const budget = 16 * 1024 * 1024;
    const server = await startServer([
      "--quiet",
      "--rate",
      "0",
      "--ip-rate",
      "0",
      "--ip-changes",
      "0",
      "--history-bytes",
      String(budget),
      "--max-rooms",
      "500",
    ]);
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
        await waitFor(
          "the round's echoes",
          () => (attackers.every((a) => a.events.filter((e) => e.type === "message").length >= 10) ? true : undefined),
          20_000,
        );
        for (const attacker of attackers) attacker.messages.length = 0;
      }
      const said = sent * big.length;
      const history = await metric(server, "chat_history_bytes");
      const peak = await rssMiB(server);
      console.log(
        `said ${(said / 2 ** 20).toFixed(0)} MiB in ${sent} messages; history ${(history / 2 ** 20).toFixed(1)} MiB; RSS ${before.toFixed(0)} -> ${peak.toFixed(0)} MiB`,
      );
      expect(said).toBeGreaterThan(10 * budget);
      expect(history).toBeLessThanOrEqual(budget);
      expect(peak - before).toBeLessThan(200);
      for (const attacker of attackers) attacker.close();
      // The rooms go once their people have: asked every 50 ms for up to 5 s (the metric is fetched,
      // so waitFor's synchronous check cannot ask it).
      let rooms = Number.NaN;
      for (let ask = 0; ask < 100 && rooms !== 1; ask++) {
        rooms = await metric(server, "chat_rooms");
        if (rooms !== 1) await Bun.sleep(50);
      }
      expect(rooms).toBe(1);
    } finally {
      await server.stop();
    }
  }, 60_000);
});

describe("behind a reverse proxy", () => {
  test("with --ipv4-prefix 24, twenty addresses of one network share one --max-per-ip; another network still gets in", async () => {
    const server = await startServer([
      "--quiet",
      "--trust-proxy",
      "127.0.0.1",
      "--ipv4-prefix",
      "24",
      "--max-per-ip",
      "10",
      "--ip-connect-rate",
      "0",
    ]);
    const sockets: TestSocket[] = [];
    try {
      let refused = 0;
      for (let i = 1; i <= 20; i++) {
        const socket = await openAs(server, `203.0.113.${i}`).catch(() => undefined);
        if (socket) sockets.push(socket);
        else refused++;
      }
      expect([sockets.length, refused]).toEqual([10, 10]);
      sockets.push(await openAs(server, "198.51.100.1"));
    } finally {
      for (const socket of sockets) socket.close();
      await server.stop();
    }
  });

  test("with --trust-proxy, a client is tagged with the address the proxy names; without it, the header is ignored", async () => {
    const trusting = await startServer(["--trust-proxy", "127.0.0.1"]);
    const plain = await startServer([]);
    try {
      const viaProxy = await openAs(trusting, "203.0.113.50");
      viaProxy.send("hello");
      expect(await viaProxy.waitForMessage("its own message", (m) => m.endsWith(": hello"))).toMatch(
        /^203\.0\.113\.50:\d+: hello$/,
      );
      const spoofing = await openAs(plain, "203.0.113.50");
      spoofing.send("hello");
      expect(await spoofing.waitForMessage("its own message", (m) => m.endsWith(": hello"))).toMatch(
        /^127\.0\.0\.1:\d+: hello$/,
      );
      for (const socket of [viaProxy, spoofing]) socket.close();
    } finally {
      await Promise.all([trusting.stop(), plain.stop()]);
    }
  });
});

/** Sends `request` as raw bytes and returns the answer's head (status line and headers). */
async function rawHead(port: number, request: string): Promise<string> {
  let received = "";
  const socket = await Bun.connect({
    hostname: "127.0.0.1",
    port,
    socket: { data: (_s, data) => void (received += data.toString()) },
  });
  try {
    socket.write(request);
    return await waitFor("an answer", () =>
      received.includes("\r\n\r\n") ? received.slice(0, received.indexOf("\r\n\r\n")) : undefined,
    );
  } finally {
    socket.end();
  }
}

const handshake = (port: number, extra: string, host = `127.0.0.1:${port}`) =>
  `GET / HTTP/1.1\r\nHost: ${host}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n${extra}\r\n`;

describe("HTTP as an attacker sends it", () => {
  test("DNS rebinding (Host and Origin agreeing on another name) and https:// on an http server get 403; the server's own origins are let in", async () => {
    const server = await startServer([]);
    try {
      const port = server.port;
      expect(
        await rawHead(port, handshake(port, `Origin: http://evil.example:${port}\r\n`, `evil.example:${port}`)),
      ).toStartWith("HTTP/1.1 403");
      expect(await rawHead(port, handshake(port, `Origin: https://127.0.0.1:${port}\r\n`))).toStartWith("HTTP/1.1 403");
      for (const origin of [`http://127.0.0.1:${port}`, `http://localhost:${port}`, `http://[::1]:${port}`]) {
        expect(await rawHead(port, handshake(port, `Origin: ${origin}\r\n`))).toStartWith("HTTP/1.1 101");
      }
    } finally {
      await server.stop();
    }
  });

  test("the page comes with headers that forbid framing and sniffing; only GET and HEAD are answered", async () => {
    const server = await startServer([]);
    try {
      const page = await fetch(`http://127.0.0.1:${server.port}/`);
      expect(page.headers.get("content-security-policy")).toContain("frame-ancestors 'none'");
      expect(page.headers.get("x-frame-options")).toBe("DENY");
      expect(page.headers.get("x-content-type-options")).toBe("nosniff");
      expect(page.headers.get("referrer-policy")).toBe("no-referrer");
      for (const method of ["POST", "PUT", "DELETE"]) {
        const answer = await fetch(`http://127.0.0.1:${server.port}/`, { method });
        expect([answer.status, answer.headers.get("allow")]).toEqual([405, "GET, HEAD"]);
      }
    } finally {
      await server.stop();
    }
  });

  test("a malformed Host header is answered 400, with no stack trace, however often", async () => {
    const server = await startServer([]);
    try {
      for (const host of ["a b", "[::1", "x:99999"]) {
        expect(await rawHead(server.port, `GET / HTTP/1.1\r\nHost: ${host}\r\nConnection: close\r\n\r\n`)).toStartWith(
          "HTTP/1.1 400",
        );
      }
      const logBefore = server.log().length;
      for (let i = 0; i < 200; i++)
        await rawHead(server.port, `GET / HTTP/1.1\r\nHost: [::1\r\nConnection: close\r\n\r\n`);
      expect(server.log().length - logBefore).toBe(0);
      expect(server.stderr()).toBe("");
    } finally {
      await server.stop();
    }
  });

  test("only chat.v1.json, exactly, is answered as a subprotocol; anything else is not echoed", async () => {
    const server = await startServer([]);
    try {
      const protocolOf = async (offer: string) =>
        /^Sec-WebSocket-Protocol: (.*)$/im.exec(
          await rawHead(server.port, handshake(server.port, `Sec-WebSocket-Protocol: ${offer}\r\n`)),
        )?.[1];
      expect(await protocolOf("foo")).toBeUndefined();
      expect(await protocolOf("CHAT.V1.JSON")).toBeUndefined();
      expect(await protocolOf("token.czNjcmV0, foo")).toBeUndefined();
      expect(await protocolOf("foo, chat.v1.json")).toBe("chat.v1.json");
    } finally {
      await server.stop();
    }
  });

  test("with --token, /healthz and /metrics want it too, unless --public-status", async () => {
    const guarded = await startServer(["--token", "s3cret"]);
    const open = await startServer(["--token", "s3cret", "--public-status"]);
    try {
      const status = (server: RunningServer, path: string, token?: string) =>
        fetch(
          `http://127.0.0.1:${server.port}${path}`,
          token ? { headers: { Authorization: `Bearer ${token}` } } : {},
        ).then((r) => r.status);
      expect(await status(guarded, "/healthz")).toBe(401);
      expect(await status(guarded, "/metrics", "wrong")).toBe(401);
      expect(await status(guarded, "/healthz", "s3cret")).toBe(200);
      expect(await status(guarded, "/auth")).toBe(401);
      expect(await status(guarded, "/auth", "s3cret")).toBe(204);
      expect(await status(open, "/healthz")).toBe(200);
      expect(await status(open, "/metrics")).toBe(200);
    } finally {
      await Promise.all([guarded.stop(), open.stop()]);
    }
  });
});

describe("a full server, as our clients meet it", () => {
  test("a dropped client whose reconnect meets 503 keeps trying, and gets back in once there is room", async () => {
    const server = await startServer(["--max-clients", "1"]);
    const proxy = new CuttableLink(server.port);
    const client = pipeClient(["--name", "patient", `127.0.0.1:${proxy.port}`]);
    let squatter: TestSocket | undefined;
    try {
      await server.waitForLog(/patient \(\S+\) joined chat/);
      proxy.cut();
      await client.waitForStderr("the client noticing", (e) => e.includes("Connection lost"));
      // Its slot is taken while it is away (once the server has seen it go): its reconnects meet 503.
      await server.waitForLog(/patient \(\S+\) closed/);
      squatter = await TestSocket.open(server.url);
      const answer = await fetch(`http://127.0.0.1:${server.port}/`, { headers: upgradeHeaders });
      expect([answer.status, answer.headers.get("retry-after")]).toEqual([503, "10"]);
      proxy.restore();
      await client.waitForStderr("a reconnect meeting 503", (e) => e.includes("the server is full (503)"), 15_000);
      expect(client.proc.exitCode).toBeNull();
      squatter.close();
      await client.waitForStderr("the reconnection", (e) => e.includes("Reconnected"), 20_000);
      client.proc.stdin.write("back again\n");
      await client.waitForOutput("its message", (o) => o.includes("patient (") && o.includes("back again"));
    } finally {
      squatter?.close();
      client.proc.kill("SIGKILL");
      proxy.stop();
      await server.stop();
    }
  }, 40_000);
});

describe("names nobody can pass for", () => {
  test("look-alikes of a name in use are taken, mixed scripts and invisible names refused, any script's letters with their marks allowed", async () => {
    const server = await startServer([]);
    try {
      const alice = await TestSocket.open(`${server.url}/?name=alice`, SUBPROTOCOL);
      await alice.waitForEvent("joined", (e) => e.type === "joined");
      const attempt = async (name: string) => {
        const socket = await TestSocket.open(`${server.url}/?name=${encodeURIComponent(name)}`, SUBPROTOCOL);
        const welcome = await socket.waitForEvent("joined", (e) => e.type === "joined");
        const error = socket.events.find((e) => e.type === "error")?.message as string | undefined;
        socket.close();
        return error ?? `joined as ${socket.events.find((e) => e.type === "welcome")!.you.name ?? welcome.room}`;
      };
      expect(await attempt("alıce")).toBe("The name 'alıce' is taken; choose another.");
      expect(await attempt("ａｌｉｃｅ")).toBe("The name 'alice' is taken; choose another.");
      expect(await attempt("AIice")).toBe("The name 'AIice' is taken; choose another.");
      expect(await attempt("аlice")).toBe(
        "A name cannot mix scripts (Cyrillic and Latin in 'аlice'): letters from two scripts let one name pass for another.",
      );
      expect(await attempt("\u3164")).toBe("A name cannot have characters that show as nothing.");
      expect(await attempt("अनिल")).toBe("joined as अनिल");
      alice.close();
    } finally {
      await server.stop();
    }
  });
});
