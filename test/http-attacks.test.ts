/**
 * Plain HTTP as an attacker finds it: the token cannot be guessed through /healthz and /metrics
 * faster than through /auth, a trusted proxy's one header names the client and a second header the
 * client wrote does not, a request with two Host headers is refused, and the compiled executable
 * answers odd methods and serves its scripts and styles just as `bun server.ts` does.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { BUN, ROOT, RUN, type RunningServer, run, startServer, TestSocket, waitFor } from "./helpers";

/** Whether `received` holds a whole answer: its head, and as much body as its Content-Length says. */
function isWhole(received: string): boolean {
  const end = received.indexOf("\r\n\r\n");
  if (end < 0) return false;
  const length = Number(/^content-length: (\d+)$/im.exec(received.slice(0, end))?.[1] ?? 0);
  return Buffer.byteLength(received.slice(end + 4)) >= length;
}

/**
 * Sends `request` as raw bytes and returns the answer once it is whole, or all that came before
 * the server closed ("" when it closed without a word).
 */
async function rawExchange(port: number, request: string, timeoutMs = 3_000): Promise<string> {
  let received = "";
  let closed = false;
  const socket = await Bun.connect({
    hostname: "127.0.0.1",
    port,
    socket: {
      data: (_s, data) => void (received += data.toString()),
      close: () => void (closed = true),
      error: () => void (closed = true),
    },
  });
  try {
    socket.write(request);
    await waitFor(
      "an answer, or the server to close",
      () => (closed || isWhole(received) ? true : undefined),
      timeoutMs,
    );
    return received;
  } finally {
    socket.end();
  }
}

/** The status line of a raw answer, or "" when the server closed without one. */
const statusLine = (answer: string) => answer.split("\r\n")[0]!;

interface Guessing {
  /** How many answers had each status. */
  statuses: Record<number, number>;
  seconds: number;
  /** Retry-After of the last 429, if any. */
  retryAfter: string | null;
}

/** Asks `path` with `headers` as fast as 8 requests at a time allow, for `seconds` or 60,000 requests. */
async function hammer(port: number, path: string, headers: Record<string, string>, seconds = 2): Promise<Guessing> {
  const statuses: Record<number, number> = {};
  let retryAfter: string | null = null;
  let sent = 0;
  const started = performance.now();
  const deadline = started + seconds * 1000;
  const worker = async () => {
    while (performance.now() < deadline && sent < 60_000) {
      sent++;
      const answer = await fetch(`http://127.0.0.1:${port}${path}`, { headers });
      await answer.arrayBuffer();
      statuses[answer.status] = (statuses[answer.status] ?? 0) + 1;
      if (answer.status === 429) retryAfter = answer.headers.get("retry-after");
    }
  };
  await Promise.all(Array.from({ length: 8 }, worker));
  return { statuses, seconds: (performance.now() - started) / 1000, retryAfter };
}

const describeGuessing = ({ statuses, seconds }: Guessing) =>
  `${statuses[401] ?? 0} answered 401 in ${seconds.toFixed(1)} s (${((statuses[401] ?? 0) / seconds).toFixed(0)} guesses a second), ${statuses[429] ?? 0} refused 429`;

describe("the token cannot be guessed through the status pages", () => {
  test("wrong tokens at /healthz and /metrics spend the address's budget, as at /auth, and meet 429 with Retry-After", async () => {
    const server = await startServer(["--token", "s3cret"]);
    try {
      const healthz = await hammer(server.port, "/healthz", { Authorization: "Bearer wrong" });
      console.log(`/healthz with a wrong token: ${describeGuessing(healthz)}`);
      // The address's new-connection budget: 30 at once, then --ip-connect-rate (2) a second.
      expect(healthz.statuses[401]).toBeGreaterThan(0);
      expect(healthz.statuses[401]).toBeLessThanOrEqual(30 + Math.ceil(2 * healthz.seconds) + 1);
      expect(healthz.statuses[429] ?? 0).toBeGreaterThan(0);
      expect(Number(healthz.retryAfter)).toBeGreaterThanOrEqual(1);
      // No token at all is a guess too, at either page; and it is the budget /auth spends.
      const metrics = await hammer(server.port, "/metrics", {}, 0.5);
      console.log(`/metrics with no token: ${describeGuessing(metrics)}`);
      expect(metrics.statuses[401] ?? 0).toBeLessThanOrEqual(2);
      const auth = await hammer(server.port, "/auth", { Authorization: "Bearer wrong" }, 0.5);
      expect(auth.statuses[401] ?? 0).toBeLessThanOrEqual(2);
      expect(auth.statuses[429] ?? 0).toBeGreaterThan(0);
    } finally {
      await server.stop();
    }
  });

  test("the right token, or --public-status, is never slowed: a load balancer polls at will", async () => {
    const guarded = await startServer(["--token", "s3cret"]);
    const open = await startServer(["--token", "s3cret", "--public-status"]);
    try {
      const spent = await hammer(guarded.port, "/healthz", { Authorization: "Bearer wrong" }, 1);
      expect(spent.statuses[429] ?? 0).toBeGreaterThan(0);
      const polling = await hammer(guarded.port, "/healthz", { Authorization: "Bearer s3cret" }, 1);
      const metrics = await hammer(guarded.port, "/metrics", { Authorization: "Bearer s3cret" }, 0.5);
      const publicPolling = await hammer(open.port, "/healthz", {}, 1);
      for (const { statuses } of [polling, metrics, publicPolling]) {
        expect(Object.keys(statuses)).toEqual(["200"]);
        expect(statuses[200]).toBeGreaterThan(100);
      }
    } finally {
      await Promise.all([guarded.stop(), open.stop()]);
    }
  });
});

describe("behind a proxy, only the header it writes names the client", () => {
  /** The address the server tags a client with that sends `headers` through the trusted proxy 127.0.0.1. */
  async function tagOf(server: RunningServer, headers: Record<string, string>): Promise<string> {
    const socket = await TestSocket.open(server.url, undefined, 5_000, headers);
    try {
      socket.send("who am I");
      const line = await socket.waitForMessage("its own message", (m) => m.endsWith(": who am I"));
      return line.slice(0, -": who am I".length).replace(/:\d+$/, ":port");
    } finally {
      socket.close();
    }
  }

  test("--proxy-header forwarded believes Forwarded alone: a client's own X-Forwarded-For is ignored", async () => {
    const server = await startServer(["--history", "0", "--trust-proxy", "127.0.0.1", "--proxy-header", "forwarded"]);
    try {
      const spoofed = { Forwarded: "for=203.0.113.5", "X-Forwarded-For": "198.51.100.99:4444" };
      expect(await tagOf(server, spoofed)).toBe("203.0.113.5:port");
      expect(await tagOf(server, { Forwarded: 'for="[2001:db8::5]:7000"' })).toBe("[2001:db8::5]:port");
      expect(await tagOf(server, { "X-Forwarded-For": "198.51.100.99:4444" })).toBe("127.0.0.1:port");
    } finally {
      await server.stop();
    }
  });

  test("by default X-Forwarded-For alone is believed: a client's own Forwarded is ignored", async () => {
    const server = await startServer(["--history", "0", "--trust-proxy", "127.0.0.1"]);
    try {
      expect(await tagOf(server, { "X-Forwarded-For": "203.0.113.5", Forwarded: "for=198.51.100.99" })).toBe(
        "203.0.113.5:port",
      );
      expect(await tagOf(server, { Forwarded: "for=198.51.100.99:4444" })).toBe("127.0.0.1:port");
    } finally {
      await server.stop();
    }
  });

  test("--proxy-header names one of the two headers, and says so in one line otherwise", async () => {
    const server = [BUN, join(ROOT, "server.ts")];
    expect(await run([...server, "--proxy-header", "x-real-ip"])).toEqual({
      exitCode: 2,
      stdout: "",
      stderr: `${RUN.server}: --proxy-header must be forwarded or x-forwarded-for, not 'x-real-ip'. Run '${RUN.server} --help' for usage.\n`,
    });
    expect((await run([...server, "--help"])).stdout).toMatch(/--proxy-header HEADER +.*forwarded.*x-forwarded-for/);
  });
});

describe("requests no client sends", () => {
  test("two Host headers are answered 400, and neither is echoed", async () => {
    const server = await startServer([]);
    try {
      for (const request of [
        "GET /nowhere HTTP/1.1\r\nHost: a.example\r\nHost: evil.example\r\nConnection: close\r\n\r\n",
        `GET / HTTP/1.1\r\nHost: 127.0.0.1:${server.port}\r\nHost: evil.example\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n`,
      ]) {
        const answer = await rawExchange(server.port, request);
        expect(statusLine(answer)).toBe("HTTP/1.1 400 Bad Request");
        expect(answer).not.toContain("evil.example");
      }
      expect(server.stderr()).toBe("");
    } finally {
      await server.stop();
    }
  });
});

describe("the compiled executable, as `bun server.ts` answers", () => {
  const binDir = mkdtempSync(join(tmpdir(), "chat-http-bin-"));
  const chatServer = join(binDir, "chat-server");
  let compiled: RunningServer;
  let source: RunningServer;

  beforeAll(async () => {
    const build = await run([BUN, "build", "--compile", join(ROOT, "server.ts"), "--outfile", chatServer], {
      timeoutMs: 60_000,
    });
    if (build.exitCode !== 0) throw new Error(`bun build --compile server.ts failed:\n${build.stderr}`);
    [compiled, source] = await Promise.all([startServer([], { command: [chatServer], cwd: binDir }), startServer([])]);
  }, 90_000);

  afterAll(async () => {
    await Promise.all([compiled?.stop(), source?.stop()]);
    rmSync(binDir, { recursive: true, force: true });
  });

  test("unknown and malformed methods are not answered as GET", async () => {
    for (const [method, path] of [
      ["FOO", "/"],
      ["GETT", "/nowhere"],
      ["get", "/healthz"],
      ["PATCH", "/"],
    ] as const) {
      const request = `${method} ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n`;
      const [fromCompiled, fromSource] = [
        statusLine(await rawExchange(compiled.port, request)),
        statusLine(await rawExchange(source.port, request)),
      ];
      // Bun itself closes on a method it does not know; one it knows is ours to refuse.
      expect([method, fromCompiled]).toEqual([method, fromSource]);
      expect(["", "HTTP/1.1 400 Bad Request", "HTTP/1.1 405 Method Not Allowed"]).toContain(fromCompiled);
    }
  });

  test("its scripts and styles come with the page's security headers", async () => {
    const page = await (await fetch(`http://127.0.0.1:${compiled.port}/`)).text();
    const files = [...page.matchAll(/(?:src|href)="(\/[^"]+\.(?:js|css))"/g)].map((m) => m[1]!);
    expect(files.length).toBeGreaterThanOrEqual(2);
    for (const file of files) {
      const answer = await fetch(`http://127.0.0.1:${compiled.port}${file}`);
      expect([file, answer.status]).toEqual([file, 200]);
      expect([file, answer.headers.get("x-content-type-options")]).toEqual([file, "nosniff"]);
      expect(answer.headers.get("content-security-policy")).toContain("frame-ancestors 'none'");
      expect(answer.headers.get("x-frame-options")).toBe("DENY");
      expect(answer.headers.get("referrer-policy")).toBe("no-referrer");
      expect(answer.headers.get("content-type")).toStartWith(file.endsWith(".js") ? "text/javascript" : "text/css");
      expect((await answer.text()).length).toBeGreaterThan(100);
    }
  });
});
