/**
 * The server against hostile, broken and slow clients, and the client against a server that goes
 * away: real processes and sockets, hand-made frames, a proxy to cut the network. Every loop is
 * bounded in count and time.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { SUBPROTOCOL } from "../common/events";
import { BUN, pipeClient, Proxy, RawSocket, ROOT, run, startServer, TestSocket, unusedPort, waitFor, wsFrame, type RunningServer } from "./helpers";

const CLIENT = [BUN, join(ROOT, "client.ts")];
const SERVER = [BUN, join(ROOT, "server.ts")];
/** Anything a terminal would act on: C0 but newline, DEL, C1, bidi overrides and isolates. */
const CONTROL = /[\x00-\x09\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]/;

describe("limits on what clients send", () => {
  let server: RunningServer;
  beforeAll(async () => {
    server = await startServer(["--history", "0", "--rate", "0", "--max-message", "1000", "--max-frame", "4000"]);
  });
  afterAll(() => server.stop());

  test("a message over --max-message is refused to its sender alone; one at the limit goes", async () => {
    const sender = await TestSocket.open(server.url);
    const watcher = await TestSocket.open(server.url);
    sender.send("x".repeat(1001));
    expect(await sender.waitForMessage("the refusal", (m) => m.startsWith("*** Error"))).toBe("*** Error: That message is 1001 bytes; the limit is 1000. It was not sent.");
    sender.send("é".repeat(501)); // 1002 bytes of UTF-8 in 501 characters
    await sender.waitForMessage("the second refusal", (m) => m.includes("1002 bytes"));
    sender.send("y".repeat(1000));
    expect(await watcher.waitForMessage("the message at the limit", (m) => m.includes("yyy"))).toEndWith(`: ${"y".repeat(1000)}`);
    expect(watcher.chat).toHaveLength(1);
    sender.close();
    watcher.close();
  });

  test("a frame over --max-frame closes that connection with 1009 (RFC 6455 §7.4.1); the others go on", async () => {
    const big = await TestSocket.open(server.url);
    const other = await TestSocket.open(server.url);
    big.send("z".repeat(4001));
    const closed = await big.waitForClose();
    expect([closed.code, closed.reason]).toEqual([1009, "Received too big message"]);
    other.send("still fine");
    expect(await other.waitForMessage("its message", (m) => m.endsWith(": still fine"))).toBeTruthy();
    other.close();
  });

  test("control characters and escape sequences never reach others, in either protocol", async () => {
    const evil = await TestSocket.open(server.url);
    const text = await TestSocket.open(server.url);
    const json = await TestSocket.open(server.url, SUBPROTOCOL);
    await json.waitForEvent("joined", (e) => e.type === "joined");
    const attacks: [string, string][] = [
      ["\x1b]0;owned title\x07after OSC title", "after OSC title"],
      ["\x1b]52;c;ZXZpbA==\x07after OSC 52", "after OSC 52"],
      ["\x1b[2J\x1b[Hafter clear screen", "after clear screen"],
      ["\x9b2J\x9d0;t\x9cafter 8-bit CSI and OSC", "after 8-bit CSI and OSC"],
      ["ab\bc back", "abc back"],
      ["one\rtwo", "one\ntwo"],
      ["\u202Eevil bidi\u202C and \u2066isolate\u2069", "evil bidi and isolate"],
      ["hi\n127.0.0.1:1: I am someone else", "hi\n127.0.0.1:1: I am someone else"],
    ];
    for (const [attack] of attacks) evil.send(attack);
    const lines = await text.waitForChat(attacks.length);
    const events = (await waitFor("all events", () => {
      const said = json.events.filter((e) => e.type === "message");
      return said.length >= attacks.length ? said : undefined;
    })) as { text: string }[];
    attacks.forEach(([, clean], i) => expect(events[i]!.text).toBe(clean));
    for (const line of lines) {
      expect(line).not.toMatch(CONTROL);
      // Every line of a message after its first is indented: none can start like a sender's tag.
      for (const continuation of line.split("\n").slice(1)) expect(continuation).toStartWith("  ");
    }
    evil.send("/nick \x1b[31mred");
    expect(await evil.waitForMessage("the refused name", (m) => m.includes("red' has"))).toBe(
      "*** Error: A name can only have letters, digits, '_', '-' and '.'; '\\u001b[31mred' has other characters.",
    );
    evil.send("\x1b[31m\x07");
    expect(await evil.waitForMessage("the refusal", (m) => m.includes("needs some text"))).toBe("*** Error: A message needs some text besides control characters.");
    for (const s of [evil, text, json]) s.close();
  });

  test("malformed frames from a raw TCP socket leave the server up and the others chatting", async () => {
    const healthy = await TestSocket.open(server.url);
    const cases: [string, Uint8Array][] = [
      ["invalid UTF-8 in a text frame", wsFrame(0x1, new Uint8Array([0xc3, 0x28, 0xff]))],
      ["a reserved opcode", wsFrame(0x3, "??")],
      ["a length header of 2^62 bytes", wsFrame(0x1, "short", { declaredLength: 1n << 62n })],
      ["an unmasked client frame", wsFrame(0x1, "no mask", { mask: false })],
      ["a continuation frame with nothing to continue", wsFrame(0x0, "orphan")],
      ["a control frame over 125 bytes", wsFrame(0x9, "p".repeat(200))],
      ["garbage", new Uint8Array(Array.from({ length: 64 }, (_, i) => (i * 37 + 11) & 0xff))],
    ];
    for (const [what, bytes] of cases) {
      const raw = await RawSocket.open(server.port);
      raw.write(bytes);
      await waitFor(`the server to drop the connection that sent ${what}`, () => (raw.closed ? true : undefined));
      healthy.send(`after ${what}`);
      await healthy.waitForMessage(`the message after ${what}`, (m) => m.endsWith(`: after ${what}`));
    }
    healthy.close();
  });
});

describe("floods and slow readers", () => {
  test("a flooder is refused, then closed with 1008; a healthy client next to it keeps its full delivery", async () => {
    const server = await startServer(["--history", "0"]); // the default rate: 5 a second, 20 at once
    try {
      const flooder = await TestSocket.open(server.url);
      const healthy = await TestSocket.open(server.url);
      for (let n = 0; n < 60; n++) flooder.send(`flood ${n}`);
      const closed = await flooder.waitForClose();
      expect([closed.code, closed.reason]).toEqual([1008, "flooding: more than 5 messages a second"]);
      expect(flooder.messages.filter((m) => m.startsWith("*** Error: You are sending too fast")).length).toBe(19);
      for (let n = 0; n < 5; n++) {
        healthy.send(`healthy ${n}`);
        await Bun.sleep(50);
      }
      const own = await waitFor("the healthy client's messages", () => {
        const mine = healthy.chat.filter((m) => m.includes(": healthy "));
        return mine.length === 5 ? mine : undefined;
      });
      expect(own.map((m) => m.replace(/^.*: /, ""))).toEqual(["healthy 0", "healthy 1", "healthy 2", "healthy 3", "healthy 4"]);
      expect(healthy.chat.filter((m) => m.includes(": flood "))).toHaveLength(20);
      const metrics = await (await fetch(`http://127.0.0.1:${server.port}/metrics`)).text();
      expect(metrics).toContain('chat_refused_messages_total{reason="rate"} 20');
      expect(metrics).toContain('chat_closed_connections_total{reason="flooding"} 1');
      healthy.close();
    } finally {
      await server.stop();
    }
  });

  test("a client stopped with SIGSTOP is closed once its backlog passes --max-backlog; memory stays bounded; the healthy one loses nothing", async () => {
    const server = await startServer(["--quiet", "--history", "0", "--rate", "0", "--max-backlog", "1048576"]);
    const stopped = pipeClient(["--no-reconnect", "--name", "sleeper", server.url]);
    try {
      await server.waitForLog(/sleeper \(\S+\) joined chat/);
      stopped.proc.kill("SIGSTOP");
      const healthy = await TestSocket.open(server.url);
      const producer = await TestSocket.open(server.url);
      const rss = async () => Number(/VmRSS:\s+(\d+)/.exec(await Bun.file(`/proc/${server.process.pid}/status`).text())![1]) * 1024;
      const before = await rss();
      // Send in batches of 3 MB until the server gives up on the sleeper. The kernel takes the first
      // tens of megabytes into its socket buffers (up to 32 MB here), so it takes a while; at most
      // 2000 messages, 120 MB.
      const chunk = "m".repeat(60_000);
      const closedAsSlow = /Closing sleeper \(\S+\): too slow, \d+ bytes waiting/;
      let count = 0;
      while (count < 2000 && !closedAsSlow.test(server.log())) {
        for (let n = 0; n < 50; n++) producer.send(`${count++} ${chunk}`);
        await healthy.waitForChat(count, 20_000); // a healthy reader keeps up
      }
      expect(server.log()).toMatch(closedAsSlow);
      const received = await healthy.waitForChat(count, 20_000);
      expect(received.map((m) => Number(m.split(": ")[1]!.split(" ")[0]))).toEqual(Array.from({ length: count }, (_, n) => n));
      const grown = (await rss()) - before;
      expect(grown).toBeLessThan(150 * 1024 * 1024);
      await server.waitForLog(/Connection from sleeper \(\S+\) closed \((1013 too slow: messages piled up unread|1006)\)/);
      const metrics = await (await fetch(`http://127.0.0.1:${server.port}/metrics`)).text();
      expect(metrics).toContain('chat_closed_connections_total{reason="slow"} 1');
      healthy.close();
      producer.close();
    } finally {
      stopped.proc.kill("SIGCONT");
      stopped.proc.kill("SIGKILL");
      await server.stop();
    }
  }, 60_000);

  test("a peer that goes silent (no pongs, no close) is closed after --idle-timeout", async () => {
    const server = await startServer(["--idle-timeout", "2"]);
    try {
      const raw = await RawSocket.open(server.port);
      await waitFor("the server to give up on the silent peer", () => (raw.closed ? true : undefined), 15_000);
    } finally {
      await server.stop();
    }
  }, 20_000);
});

describe("who may connect", () => {
  test("a browser page from another origin gets 403; the server's own origin, --allow-origin and no Origin are let in", async () => {
    const server = await startServer(["--allow-origin", "https://chat.example"]);
    try {
      const upgrade = (origin?: string) =>
        fetch(`http://127.0.0.1:${server.port}/`, {
          headers: { Upgrade: "websocket", Connection: "Upgrade", "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ==", "Sec-WebSocket-Version": "13", ...(origin && { Origin: origin }) },
        }).catch((error: Error) => ({ status: 101, text: async () => String(error) }));
      const evil = await upgrade("https://evil.example");
      expect(evil.status).toBe(403);
      expect(await evil.text()).toBe("Origin https://evil.example is not allowed here; the server's operator can allow it with --allow-origin.\n");
      for (const origin of [`http://127.0.0.1:${server.port}`, "https://chat.example", undefined]) {
        const socket = new WebSocket(server.url, origin ? ({ headers: { Origin: origin } } as unknown as string) : undefined);
        await new Promise((resolve, reject) => {
          socket.onopen = resolve;
          socket.onerror = () => reject(new Error(`origin ${origin} was refused`));
        });
        socket.close();
      }
    } finally {
      await server.stop();
    }
  });

  test("with --token, a wrong or missing token gets 401; the client says so, exits 3, and does not retry", async () => {
    const server = await startServer(["--token", "s3cret"]);
    try {
      const refused = await run([...CLIENT, server.url], { input: "hi\n" });
      expect(refused).toEqual({
        exitCode: 3,
        stdout: "",
        stderr: `Could not connect to ${server.url}: the server wants a valid token (401). Pass it with --token or CHAT_TOKEN.\n`,
      });
      expect(await run([...CLIENT, "--token", "wrong", server.url], { input: "hi\n" })).toMatchObject({ exitCode: 3 });
      const allowed = await run([...CLIENT, server.url], { input: "hi\n", env: { CHAT_TOKEN: "s3cret" } });
      expect(allowed.stdout).toMatch(/^From server: 127\.0\.0\.1:\d+: hi\n$/);
      const viaQuery = await TestSocket.open(`${server.url}/?token=s3cret`);
      viaQuery.close();
    } finally {
      await server.stop();
    }
  });

  test("past --max-clients the upgrade gets 503, past --max-per-ip 429; the client says so and exits 3", async () => {
    const server = await startServer(["--max-clients", "2", "--max-per-ip", "1"]);
    try {
      const first = await TestSocket.open(server.url);
      const perIp = await run([...CLIENT, server.url], { input: "hi\n" });
      expect(perIp).toEqual({ exitCode: 3, stdout: "", stderr: `Could not connect to ${server.url}: too many connections from this address (429). Close some and try again.\n` });
      first.close();
      await first.waitForClose();
    } finally {
      await server.stop();
    }
    const full = await startServer(["--max-clients", "1"]);
    try {
      const only = await TestSocket.open(full.url);
      const refused = await run([...CLIENT, full.url], { input: "hi\n" });
      expect(refused).toEqual({ exitCode: 3, stdout: "", stderr: `Could not connect to ${full.url}: the server is full (503). Try again later.\n` });
      only.close();
    } finally {
      await full.stop();
    }
  });

  test("TLS: --tls-cert/--tls-key serve wss://; the client trusts a self-signed certificate given with --ca", async () => {
    const dir = mkdtempSync(join(tmpdir(), "chat-tls-"));
    const [cert, key] = [join(dir, "cert.pem"), join(dir, "key.pem")];
    try {
      const made = await run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", cert, "-days", "1", "-subj", "/CN=localhost", "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost"]);
      expect(made.exitCode).toBe(0);
      const server = await startServer(["--tls-cert", cert, "--tls-key", key]);
      try {
        expect(server.url).toStartWith("wss://127.0.0.1:");
        const trusted = await run([...CLIENT, "--ca", cert, server.url], { input: "over tls\n" });
        expect(trusted.stdout).toMatch(/^From server: 127\.0\.0\.1:\d+: over tls\n$/);
        const untrusted = await run([...CLIENT, server.url], { input: "hi\n" });
        expect(untrusted.exitCode).toBe(1);
        expect(untrusted.stderr).toBe(
          `Could not connect to ${server.url}: its TLS certificate is not trusted (DEPTH_ZERO_SELF_SIGNED_CERT). For a self-signed certificate, pass it with --ca FILE.\n`,
        );
      } finally {
        await server.stop();
      }
      expect(await run([...SERVER, "--tls-cert", cert])).toMatchObject({ exitCode: 2, stderr: "bun server.ts: --tls-cert and --tls-key go together: give both or neither. Run 'bun server.ts --help' for usage.\n" });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe("health, metrics and shutdown", () => {
  test("GET /healthz and /metrics", async () => {
    const server = await startServer();
    try {
      const client = await TestSocket.open(`${server.url}/?room=metered`);
      client.send("counted");
      await client.waitForChat(1);
      const health = await (await fetch(`http://127.0.0.1:${server.port}/healthz`)).json();
      expect(health).toEqual({ status: "ok", connections: 1, rooms: 2, uptime: expect.any(Number) });
      const metrics = await (await fetch(`http://127.0.0.1:${server.port}/metrics`)).text();
      expect(metrics).toContain("# TYPE chat_connections gauge\nchat_connections 1\n");
      expect(metrics).toContain("chat_messages_received_total 1\n");
      expect(metrics).toContain("chat_deliveries_total 1\n");
      expect(metrics).toMatch(/chat_sent_bytes_total \d+/);
      expect(metrics).toContain('chat_refused_messages_total{reason="size"} 0\n');
      client.close();
    } finally {
      await server.stop();
    }
  });

  test("SIGTERM with clients attached: a notice, close 1001, the store written, exit 0", async () => {
    const dir = mkdtempSync(join(tmpdir(), "chat-term-"));
    const store = join(dir, "h.sqlite");
    try {
      const server = await startServer(["--store", store]);
      const text = await TestSocket.open(server.url);
      const json = await TestSocket.open(server.url, SUBPROTOCOL);
      for (let n = 0; n < 5; n++) text.send(`kept ${n}`);
      await json.waitForEvent("the last message", (e) => e.text === "kept 4");
      const started = Date.now();
      server.process.kill("SIGTERM");
      expect(await server.process.exited).toBe(0);
      expect(Date.now() - started).toBeLessThan(3_000);
      expect(await text.waitForMessage("the notice", (m) => m.startsWith("*** The server"))).toBe("*** The server is shutting down; reconnect in a moment.");
      expect(await json.waitForEvent("the notice", (e) => e.type === "notice")).toMatchObject({ event: "shutdown", room: "chat" });
      for (const socket of [text, json]) expect([(await socket.waitForClose()).code, socket.closed!.reason]).toEqual([1001, "server shutting down"]);
      const again = await startServer(["--store", store]);
      try {
        const late = await TestSocket.open(again.url);
        expect((await late.waitForChat(5)).map((m) => m.replace(/^\[history\] \S+: /, ""))).toEqual(["kept 0", "kept 1", "kept 2", "kept 3", "kept 4"]);
        late.close();
      } finally {
        await again.stop();
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe("the client: nothing lost", () => {
  test("a server killed and restarted under a connected client: it reconnects and nothing is lost or doubled", async () => {
    const dir = mkdtempSync(join(tmpdir(), "chat-restart-"));
    const store = join(dir, "h.sqlite");
    const port = unusedPort();
    const args = ["--store", store, "--rate", "0"];
    let server = await startServer([...args, "--port", String(port)]);
    const client = pipeClient(["--name", "stayer", `127.0.0.1:${port}`]);
    try {
      client.write("m1");
      await client.waitForOutput("m1 back", (o) => o.includes(": m1\n"));
      await Bun.sleep(200); // the store writes in batches every 50 ms; SIGKILL gives it no chance to
      await server.stop(); // SIGKILL
      await client.waitForStderr("the reconnecting line", (e) => /Connection lost \(code 1006.*\); reconnecting in [\d.]+ s \(attempt 1\)\./.test(e));
      client.write("m2"); // typed while the server is down: queued
      server = await startServer([...args, "--port", String(port)]);
      await client.waitForStderr("the reconnection", (e) => e.includes(`Reconnected to ws://127.0.0.1:${port}.`));
      client.write("m3");
      client.proc.stdin.end();
      expect(await client.proc.exited).toBe(0);
      const said = client.out.stdout.split("\n").filter((l) => /: m\d$/.test(l)).map((l) => l.slice(-2));
      expect(said).toEqual(["m1", "m2", "m3"]);
      const late = await TestSocket.open(`127.0.0.1:${port}`.replace(/^/, "ws://"), SUBPROTOCOL);
      const history = await waitFor("the history", () => {
        const replayed = late.events.filter((e) => e.history === true);
        return replayed.length >= 3 ? replayed : undefined;
      });
      expect(history.map((e) => [e.seq, e.text, e.from.name])).toEqual([[1, "m1", "stayer"], [2, "m2", "stayer"], [3, "m3", "stayer"]]);
      late.close();
    } finally {
      client.proc.kill("SIGKILL");
      await server.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  }, 30_000);

  test("after a network cut the client resumes: what it missed is replayed once, and a gap beyond history is counted", async () => {
    const server = await startServer(["--history", "3", "--rate", "0"]);
    const proxy = new Proxy(server.port);
    const client = pipeClient(["--name", "cut", "--room", "blips", `127.0.0.1:${proxy.port}`]);
    try {
      await server.waitForLog(/cut \(\S+\) joined blips/);
      const talker = await TestSocket.open(`${server.url}/?room=blips&name=talker`);
      talker.send("before the cut");
      await client.waitForOutput("the first message", (o) => o.includes("before the cut"));
      proxy.cut();
      await client.waitForStderr("the client noticing", (e) => e.includes("Connection lost"));
      for (let n = 1; n <= 5; n++) talker.send(`during the cut ${n}`);
      await talker.waitForChat(6);
      proxy.restore();
      await client.waitForStderr("the reconnection", (e) => e.includes("Reconnected"));
      await client.waitForStderr("the count of missed messages", (e) => e.includes("2 messages were missed while disconnected, too far back for the server's history."));
      talker.send("after the cut");
      await client.waitForOutput("the live message", (o) => o.includes("after the cut"));
      const said = client.out.stdout.split("\n").filter((l) => l.includes("talker (") && !l.startsWith("From server: ***")).map((l) => l.replace(/^From server: (\[history\] )?talker \(\S+\): /, "$1"));
      expect(said).toEqual(["before the cut", "[history] during the cut 3", "[history] during the cut 4", "[history] during the cut 5", "after the cut"]);
      talker.close();
    } finally {
      client.proc.kill("SIGKILL");
      proxy.stop();
      await server.stop();
    }
  }, 30_000);

  test("--no-reconnect leaves at the first drop", async () => {
    const server = await startServer();
    const client = pipeClient(["--no-reconnect", server.url]);
    try {
      await server.waitForLog(/joined chat/);
      await server.stop();
      expect(await client.proc.exited).toBe(1);
      expect(client.out.stderr).toContain("Lost the connection to");
      expect(client.out.stderr).not.toContain("reconnecting");
    } finally {
      client.proc.kill("SIGKILL");
    }
  });
});
