/**
 * The HTTP API (/api/) end to end: real server processes, curl-like requests over real sockets,
 * WebSocket clients in the same rooms, event streams read as they come, the operator's keys
 * command, and with --redis two instances sharing a real redis-server.
 */
import { afterAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type ApiAnswer, api, EventStreamReader, KEY, keyFile } from "./api-client";
import { BUN, jsonClient, ROOT, type RunningServer, run, startServer, TestSocket, waitFor } from "./helpers";

const dir = mkdtempSync(join(tmpdir(), "chat-api-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** A server with the tests' key (and `args`), for `use`; stopped by its pid afterwards. */
async function withServer(args: string[], use: (server: RunningServer) => Promise<void>): Promise<void> {
  const server = await startServer(["--api-keys", keyFile(dir), ...args]);
  try {
    await use(server);
  } finally {
    await server.stop();
  }
}

const post = (port: number, room: string, text: string, key = KEY) =>
  api(port, `/api/rooms/${room}/messages`, { method: "POST", body: { text }, key });

describe("keys", () => {
  test("without a key 401, with a wrong one 403, each a JSON error of the WebSocket's codes", async () => {
    await withServer([], async ({ port }) => {
      const none = await api(port, "/api/rooms", { key: null });
      expect(none.status).toBe(401);
      expect(none.headers.get("www-authenticate")).toContain("Bearer");
      expect(await none.json()).toEqual({
        error: { code: "unauthorized", message: expect.stringContaining("Bearer") },
      });
      // The key without its scheme: told what is missing, not that there is no key.
      const bare = await api(port, "/api/rooms", { key: null, headers: { Authorization: KEY } });
      expect([bare.status, (await bare.json()).error.message]).toEqual([
        401,
        "The Authorization header is not 'Bearer <key>': put 'Bearer ' before the key.",
      ]);
      const wrong = await api(port, "/api/rooms", { key: "not-the-key-0123456789" });
      expect(wrong.status).toBe(403);
      expect((await wrong.json()).error.code).toBe("bad-key");
      const right = await api(port, "/api/rooms");
      expect(right.status).toBe(200);
      // The document needs no key.
      expect((await api(port, "/api/openapi.json", { key: null })).status).toBe(200);
    });
  });

  test("wrong keys spend the address's budget, as wrong tokens at /auth do, and meet 429 with Retry-After; the right key is never slowed", async () => {
    await withServer([], async ({ port }) => {
      const statuses: Record<number, number> = {};
      let retryAfter: string | null = null;
      const started = performance.now();
      const worker = async (key: string) => {
        for (let n = 0; n < 2000 && performance.now() - started < 1500; n++) {
          const answer = await api(port, "/api/rooms", { key });
          await answer.arrayBuffer();
          statuses[answer.status] = (statuses[answer.status] ?? 0) + 1;
          if (answer.status === 429) retryAfter = answer.headers.get("retry-after");
        }
      };
      await Promise.all(Array.from({ length: 8 }, (_, i) => worker(`guess-${i}-0123456789abcdef`)));
      const seconds = (performance.now() - started) / 1000;
      console.log(
        `wrong keys: ${statuses[403] ?? 0} answered 403 in ${seconds.toFixed(1)} s, ${statuses[429] ?? 0} refused 429`,
      );
      // The address's new-connection budget: 30 at once, then --ip-connect-rate (2) a second.
      expect(statuses[403] ?? 0).toBeLessThanOrEqual(30 + Math.ceil(2 * seconds) + 1);
      expect(statuses[429] ?? 0).toBeGreaterThan(0);
      expect(Number(retryAfter)).toBeGreaterThanOrEqual(1);
      const limited = await api(port, "/api/rooms", { key: null });
      expect(limited.status).toBe(429);
      expect((await limited.json()).error.code).toBe("rate-limited");
      for (let n = 0; n < 50; n++) expect((await api(port, "/api/rooms")).status).toBe(200);
    });
  });

  test("keys add prints a key once that a running --store server takes within seconds; keys revoke ends it, and its streams", async () => {
    const store = join(dir, "keys.db");
    const keys = (...args: string[]) => run([BUN, join(ROOT, "server.ts"), "keys", ...args, "--store", store]);
    const added = await keys("add", "ops");
    expect(added.exitCode).toBe(0);
    const opsKey = added.stdout.trim();
    expect(opsKey).toMatch(/^[A-Za-z0-9_-]{32}$/);
    expect(added.stderr).toContain("shown this once");
    await withServer(["--store", store], async ({ port }) => {
      expect((await api(port, "/api/rooms", { key: opsKey })).status).toBe(200);
      const later = (await keys("add", "deploy")).stdout.trim();
      // Made while the server runs: taken from the file within a second or so.
      let status = 0;
      for (let tries = 0; tries < 50 && status !== 200; tries++) {
        if (tries > 0) await Bun.sleep(100);
        status = (await api(port, "/api/rooms", { key: later })).status;
      }
      expect(status).toBe(200);
      const stream = await EventStreamReader.open(port, "?rooms=dev", {}, later);
      await stream.waitForEvent("ready", (e) => e.data.type === "ready");
      expect((await keys("list")).stdout).toMatch(/^deploy {2}created \S+\nops {2}created \S+\n$/);
      expect((await keys("revoke", "deploy")).stdout).toBe("Revoked the key of deploy.\n");
      await stream.waitForEvent("the stream told why it ends", (e) => e.data.code === "bad-key");
      await waitFor("the stream to end", () => (stream.ended ? true : undefined));
      expect((await api(port, "/api/rooms", { key: later })).status).toBe(403);
      expect((await api(port, "/api/rooms", { key: opsKey })).status).toBe(200);
      const again = await keys("add", "ops");
      expect(again.exitCode).toBe(1);
      expect(again.stderr).toContain("ops has a key already; revoke it first");
    });
    const nowhere = await run([BUN, join(ROOT, "server.ts"), "keys", "add", "x"]);
    expect(nowhere.exitCode).toBe(2);
    expect(nowhere.stderr).toContain("Give the server's --store FILE or its --redis URL (one of them)");
  });

  test("a bad --api-keys file is one line and exit code 2", async () => {
    const file = keyFile(dir, { ci: "short" });
    const started = await run([BUN, join(ROOT, "server.ts"), "--port", "0", "--api-keys", file]);
    expect(started.exitCode).toBe(2);
    expect(started.stderr).toContain(`--api-keys '${file}', line 2: a key must be at least 16 characters`);
    expect(started.stderr.trim().split("\n")).toHaveLength(1);
  });
});

describe("rooms", () => {
  test("a post appears in the room for WebSocket clients from the key's name, marked as a bot, tagged with the caller's address", async () => {
    await withServer([], async (server) => {
      const plain = await TestSocket.open(`${server.url}/?name=ana&room=dev`);
      const { socket: json } = await jsonClient(server, "?name=bea&room=dev");
      await json.waitForEvent("joined", (e) => e.type === "joined");
      const answer = await post(server.port, "dev", "build green");
      expect(answer.status).toBe(201);
      const body = await answer.json();
      expect(body).toEqual({
        room: "dev",
        seq: 1,
        time: expect.stringMatching(/^\d{4}-\d\d-\d\dT/),
        id: expect.any(String),
      });
      const line = await plain.waitForMessage("the bot's line", (m) => m.endsWith("build green"));
      expect(line).toMatch(/^ci \[bot\] \(127\.0\.0\.1:\d+\): build green$/);
      const event = await json.waitForEvent("the bot's message", (e) => e.type === "message");
      expect(event).toMatchObject({ room: "dev", seq: 1, time: body.time, text: "build green", id: body.id });
      expect(event.from).toEqual({ name: "ci", address: expect.stringMatching(/^127\.0\.0\.1:\d+$/), bot: true });
      await server.waitForLog(/Message from ci \[bot\] \(127\.0\.0\.1:\d+\) in dev: build green/);
      plain.close();
      json.close();
    });
  });

  test("history pages back with before and limit; people and rooms list who is where", async () => {
    await withServer(["--history", "3"], async (server) => {
      const { socket: ana } = await jsonClient(server, "?name=ana&room=dev");
      for (const text of ["one", "two", "three", "four"]) ana.send(JSON.stringify({ type: "say", text }));
      await ana.waitForEvent("the fourth", (e) => e.text === "four");
      expect((await post(server.port, "dev", "five")).status).toBe(201);
      const texts = async (query: string) => {
        const page = await (await api(server.port, `/api/rooms/dev/messages${query}`)).json();
        return { texts: page.messages.map((m: { text: string }) => m.text), start: page.start };
      };
      expect(await texts("")).toEqual({ texts: ["three", "four", "five"], start: false });
      expect(await texts("?before=3")).toEqual({ texts: ["one", "two"], start: true });
      expect(await texts("?before=5&limit=1")).toEqual({ texts: ["four"], start: false });
      const page = await (await api(server.port, "/api/rooms/dev/messages?limit=1")).json();
      expect(page.messages[0]).toEqual({
        type: "message",
        room: "dev",
        seq: 5,
        time: expect.any(String),
        from: { name: "ci", address: expect.any(String), bot: true },
        text: "five",
        id: expect.any(String),
      });
      expect(await (await api(server.port, "/api/rooms/dev/people")).json()).toEqual({
        room: "dev",
        people: [{ name: "ana", address: expect.any(String) }],
      });
      expect(await (await api(server.port, "/api/rooms")).json()).toEqual({
        rooms: [
          { name: "chat", members: 0 },
          { name: "dev", members: 1 },
        ],
      });
      ana.close();
    });
  });

  test("refusals: each with its code and status, one sentence saying what to do", async () => {
    await withServer(["--max-message", "100", "--rate", "1", "--burst", "5"], async ({ port }) => {
      const refused = async (answer: Promise<ApiAnswer>) => {
        const response = await answer;
        return [response.status, (await response.json()).error.code];
      };
      const raw = (body: string) => api(port, "/api/rooms/dev/messages", { method: "POST", body });
      expect(await refused(raw("not json"))).toEqual([400, "bad-command"]);
      expect(await refused(raw('{"words":"hi"}'))).toEqual([400, "bad-command"]);
      expect(await refused(post(port, "dev", "\u0007 "))).toEqual([400, "empty-message"]);
      expect(await refused(post(port, "no%20spaces", "hi"))).toEqual([400, "room-invalid"]);
      expect(await refused(api(port, "/api/rooms/no%20spaces/people"))).toEqual([400, "room-invalid"]);
      expect(await refused(api(port, "/api/rooms/dev/messages?before=x"))).toEqual([400, "bad-command"]);
      expect(await refused(api(port, "/api/nothing"))).toEqual([404, "not-found"]);
      const wrongMethod = await api(port, "/api/rooms", { method: "DELETE" });
      expect(wrongMethod.headers.get("allow")).toBe("GET");
      expect(await refused(Promise.resolve(wrongMethod))).toEqual([405, "method-not-allowed"]);
      // The key's own budget, --rate 1 --burst 5: each message read spends one, refused or not.
      const tooLong = await post(port, "dev", "x".repeat(101));
      expect(tooLong.status).toBe(413);
      expect((await tooLong.json()).error).toEqual({
        code: "too-long",
        message: "That message is 101 bytes; the limit is 100. It was not sent.",
      });
      expect((await post(port, "dev", "fits")).status).toBe(201);
      const fast = await post(port, "dev", "too fast");
      expect(fast.status).toBe(429);
      expect(fast.headers.get("retry-after")).toBe("1");
      expect((await fast.json()).error.code).toBe("rate-limited");
    });
  });
});

describe("event streams", () => {
  test("a stream gets what is said over WebSocket within a second, and resumes with Last-Event-ID without a hole or a duplicate", async () => {
    await withServer([], async (server) => {
      const { socket: ana } = await jsonClient(server, "?name=ana&room=dev");
      const say = (text: string) => ana.send(JSON.stringify({ type: "say", text }));
      say("before");
      await ana.waitForEvent("before", (e) => e.text === "before");
      const stream = await EventStreamReader.open(server.port, "?rooms=dev,ops");
      expect(stream.status).toBe(200);
      const ready = await stream.waitForEvent("ready", (e) => e.data.type === "ready");
      expect(ready).toEqual({
        id: "dev:1,ops:0",
        data: {
          type: "ready",
          rooms: [
            { room: "dev", seq: 1 },
            { room: "ops", seq: 0 },
          ],
        },
      });
      const sent = performance.now();
      say("one");
      const one = await stream.waitForEvent("one", (e) => e.data.text === "one", 1_000);
      console.log(`a WebSocket message reached the event stream in ${(performance.now() - sent).toFixed(1)} ms`);
      expect(one.id).toBe("dev:2,ops:0");
      expect(one.data).toMatchObject({ type: "message", room: "dev", seq: 2, from: { name: "ana" } });
      // Another room of the stream moves its own number; a notice has no id, so the last one stays.
      expect((await post(server.port, "ops", "deployed")).status).toBe(201);
      await stream.waitForEvent("ops", (e) => e.data.text === "deployed" && e.id === "dev:2,ops:1");
      const { socket: bob } = await jsonClient(server, "?name=bob&room=dev");
      await stream.waitForEvent("bob's join", (e) => e.data.type === "notice" && e.data.event === "join");
      await server.waitForLog(/Event stream of ci \(127\.0\.0\.1:\d+\) opened on dev, ops\n/);
      const lastId = stream.lastId!;
      expect(lastId).toBe("dev:2,ops:1");
      stream.close();

      await server.waitForLog(/Event stream of ci \(127\.0\.0\.1:\d+\) ended\n/);
      for (const text of ["two", "three"]) say(text);
      await ana.waitForEvent("three", (e) => e.text === "three");
      const resumed = await EventStreamReader.open(server.port, "?rooms=dev,ops", { "Last-Event-ID": lastId });
      await resumed.waitForEvent("three, replayed", (e) => e.data.text === "three");
      say("four");
      await resumed.waitForEvent("four", (e) => e.data.text === "four");
      const said = resumed.events.filter((e) => e.data.type === "message");
      expect(said.map((e) => [e.id, e.data.text, e.data.history ?? false])).toEqual([
        ["dev:3,ops:1", "two", true],
        ["dev:4,ops:1", "three", true],
        ["dev:5,ops:1", "four", false],
      ]);
      expect(resumed.events[0]!.data).toEqual({
        type: "ready",
        rooms: [
          { room: "dev", seq: 2 },
          { room: "ops", seq: 1 },
        ],
      });
      resumed.close();
      ana.close();
      bob.close();
    });
  });

  test("resuming from further back than history reaches says how many were missed; a bad Last-Event-ID is refused", async () => {
    await withServer(["--history", "2"], async (server) => {
      for (const text of ["a", "b", "c", "d"]) expect((await post(server.port, "dev", text)).status).toBe(201);
      const resumed = await EventStreamReader.open(server.port, "?rooms=dev", { "Last-Event-ID": "dev:0" });
      await resumed.waitForEvent("d", (e) => e.data.text === "d");
      expect(resumed.events.map((e) => e.data.text ?? e.data.rooms)).toEqual([
        [{ room: "dev", seq: 0, missed: 2 }],
        "c",
        "d",
      ]);
      resumed.close();
      const bad = await api(server.port, "/api/events?rooms=dev", { headers: { "Last-Event-ID": "yesterday" } });
      expect(bad.status).toBe(400);
      expect((await bad.json()).error.code).toBe("bad-command");
      const badRoom = await api(server.port, "/api/events?rooms=dev,a%20b");
      expect([badRoom.status, (await badRoom.json()).error.code]).toEqual([400, "room-invalid"]);
      // Rooms whose ids could not be given back to resume (Devanagari names percent-encode to 9
      // bytes a letter): refused in words; fewer of them stream, and resume from their own id.
      const long = (n: number) => `${String.fromCharCode(0x915 + n)}${"क".repeat(31)}`;
      const rooms = (count: number) => Array.from({ length: count }, (_, n) => encodeURIComponent(long(n))).join(",");
      const tooLong = await api(server.port, `/api/events?rooms=${rooms(14)}`);
      expect([tooLong.status, (await tooLong.json()).error.message]).toEqual([
        400,
        expect.stringContaining("too long to follow in one stream"),
      ]);
      const three = await EventStreamReader.open(server.port, `?rooms=${rooms(3)}`);
      await three.waitForEvent("ready", (e) => e.data.type === "ready");
      const id = three.events[0]!.id!;
      three.close();
      const again = await EventStreamReader.open(server.port, `?rooms=${rooms(3)}`, { "Last-Event-ID": id });
      await again.waitForEvent("ready", (e) => e.data.type === "ready");
      expect(again.status).toBe(200);
      again.close();
    });
  });

  test("streams are bounded per key (--api-streams), and a reader that stops reading is cut as a slow WebSocket reader is", async () => {
    const args = [
      "--api-streams",
      "2",
      "--max-backlog",
      "65536",
      "--rate",
      "0",
      "--ip-rate",
      "0",
      "--max-message",
      "60000",
    ];
    await withServer(args, async (server) => {
      // A reader that asks, then reads nothing more (its socket paused), and a reader that keeps up.
      const stalled = await Bun.connect({
        hostname: "127.0.0.1",
        port: server.port,
        socket: { data: (socket) => socket.pause() },
      });
      stalled.write(`GET /api/events?rooms=dev HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer ${KEY}\r\n\r\n`);
      const reading = await EventStreamReader.open(server.port, "?rooms=dev");
      await reading.waitForEvent("ready", (e) => e.data.type === "ready");
      const third = await api(server.port, "/api/events?rooms=dev");
      expect(third.status).toBe(429);
      expect((await third.json()).error.message).toContain("has 2 event streams open");
      const open = await (await fetch(`http://127.0.0.1:${server.port}/metrics`)).text();
      expect(open).toContain("\nchat_event_streams 2\n");

      const { socket: ana } = await jsonClient(server, "?name=ana&room=dev");
      const big = "x".repeat(50_000);
      let sent = 0;
      for (; sent < 400 && !/Closing the event stream of ci/.test(server.log()); sent++) {
        ana.send(JSON.stringify({ type: "say", text: `${sent} ${big}` }));
        if (sent % 20 === 19) await ana.waitForEvent(`message ${sent}`, (e) => e.text?.startsWith(`${sent} `));
      }
      const [line] = await server.waitForLog(
        /Closing the event stream of ci \(127\.0\.0\.1:\d+\): too slow, \d+ bytes waiting/,
      );
      console.log(`${line}, after ${sent} messages of 50 KB`);
      // The reader that keeps up is not cut, and has every message, in order.
      await reading.waitForEvent("the last", (e) => e.data.text?.startsWith(`${sent - 1} `), 10_000);
      const got = reading.events.filter((e) => e.data.type === "message").map((e) => Number(e.data.text.split(" ")[0]));
      expect(got).toEqual(Array.from({ length: sent }, (_, i) => i));
      expect(reading.ended).toBe(false);
      // A stream was let go of: another may open.
      expect((await api(server.port, "/api/events?rooms=dev")).status).toBe(200);
      const metrics = await (await fetch(`http://127.0.0.1:${server.port}/metrics`)).text();
      expect(metrics).toContain('chat_closed_connections_total{reason="slow"} 1');
      stalled.terminate();
      reading.close();
      ana.close();
    });
  });

  test("a reader that takes nothing for --stall-timeout is cut, however little waits for it", async () => {
    const args = ["--stall-timeout", "1", "--rate", "0", "--ip-rate", "0", "--max-message", "60000"];
    await withServer(args, async (server) => {
      const stalled = await Bun.connect({
        hostname: "127.0.0.1",
        port: server.port,
        socket: { data: (socket) => socket.pause() },
      });
      stalled.write(`GET /api/events?rooms=dev HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer ${KEY}\r\n\r\n`);
      await server.waitForLog(/Event stream of ci \(127\.0\.0\.1:\d+\) opened on dev\n/);
      // Enough to fill what the kernel and Bun take, so that some waits in the stream: far below --max-backlog.
      const { socket: ana } = await jsonClient(server, "?name=ana&room=dev");
      const big = "x".repeat(50_000);
      for (let sent = 0; sent < 200; sent++) {
        ana.send(JSON.stringify({ type: "say", text: `${sent} ${big}` }));
        if (sent % 20 === 19) await ana.waitForEvent(`message ${sent}`, (e) => e.text?.startsWith(`${sent} `));
      }
      const [line] = await server.waitForLog(
        /Closing the event stream of ci \(127\.0\.0\.1:\d+\): reading nothing for 1 s, (\d+) bytes waiting/,
        8_000,
      );
      console.log(line);
      const metrics = await (await fetch(`http://127.0.0.1:${server.port}/metrics`)).text();
      expect(metrics).toContain('chat_closed_connections_total{reason="stalled"} 1');
      stalled.terminate();
      ana.close();
    });
  });
});
