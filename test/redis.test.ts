/**
 * Several server instances sharing one chat through a real redis-server (Debian's), started here
 * on a free port and stopped by its pid.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { SUBPROTOCOL } from "../common/events";
import {
  CuttableLink,
  jsonClient,
  pipeClient,
  type RunningServer,
  startRedis,
  startServer,
  TestSocket,
  unusedPort,
  waitFor,
} from "./helpers";

/**
 * A redis-server and two instances using it (with `args`), both connected to it, for `use`; all
 * stopped by their pids afterwards, even if `use` stopped some already.
 */
async function withTwoInstances(
  args: string[],
  use: (a: RunningServer, b: RunningServer, redis: Awaited<ReturnType<typeof startRedis>>) => Promise<void>,
): Promise<void> {
  const redis = await startRedis();
  const instances: RunningServer[] = [];
  try {
    for (let n = 0; n < 2; n++) instances.push(await startServer(["--redis", redis.url, ...args]));
    for (const instance of instances) await instance.waitForLog(/Redis: connected/);
    await use(instances[0]!, instances[1]!, redis);
  } finally {
    for (const instance of instances) await instance.stop();
    await redis.stop();
  }
}

const said = (socket: TestSocket) => socket.events.filter((e) => e.type === "message");

describe("instances sharing one Redis", () => {
  let redis: Awaited<ReturnType<typeof startRedis>>;
  const servers: RunningServer[] = [];
  beforeAll(async () => {
    redis = await startRedis();
    for (let n = 0; n < 3; n++)
      servers.push(await startServer(["--redis", redis.url, "--rate", "0", "--ip-rate", "0"]));
    for (const server of servers) await server.waitForLog(/Redis: connected/);
  });
  afterAll(async () => {
    for (const server of servers) await server.stop();
    await redis.stop();
  });

  test("three instances: every message reaches every client exactly once, in one order everywhere", async () => {
    const clients: TestSocket[] = [];
    for (const server of servers)
      for (let k = 0; k < 2; k++) clients.push(await TestSocket.open(`${server.url}/?room=everyone`, SUBPROTOCOL));
    const perClient = 20;
    clients.forEach((client, c) => {
      for (let n = 1; n <= perClient; n++) client.send(JSON.stringify({ type: "say", text: `c${c} m${n}` }));
    });
    const total = clients.length * perClient;
    await waitFor(
      () => `every client's ${total} messages (have ${clients.map((c) => said(c).length).join(",")})`,
      () => (clients.every((c) => said(c).length >= total) ? true : undefined),
      15_000,
    );
    const orders = clients.map((client) => said(client).map((e) => `${e.seq} ${e.text}`));
    for (const order of orders) {
      expect(order).toHaveLength(total); // nothing twice
      expect(order).toEqual(orders[0]!); // the same order on every instance
      expect(order.map((line) => Number(line.split(" ")[0]))).toEqual(Array.from({ length: total }, (_, n) => n + 1));
      clients.forEach((_, c) => {
        const mine = order
          .map((line) => new RegExp(`^\\d+ c${c} m(\\d+)$`).exec(line)?.[1])
          .filter((n) => n !== undefined)
          .map(Number);
        expect(mine).toEqual(Array.from({ length: perClient }, (_, n) => n + 1)); // each sender's order
      });
    }
    for (const client of clients) client.close();
  });

  test("notices cross instances; a plain-text client on one hears a JSON client on another", async () => {
    const text = await TestSocket.open(`${servers[0]!.url}/?room=mixed&name=txt`);
    const json = await TestSocket.open(`${servers[1]!.url}/?room=mixed&name=jsn`, SUBPROTOCOL);
    expect(await text.waitForMessage("the join from the other instance", (m) => m.includes("jsn"))).toMatch(
      /^\*\*\* jsn \(127\.0\.0\.1:\d+\) joined mixed$/,
    );
    json.send(JSON.stringify({ type: "say", text: "across" }));
    expect(await text.waitForMessage("the message", (m) => m.endsWith(": across"))).toMatch(
      /^jsn \(127\.0\.0\.1:\d+\): across$/,
    );
    json.close();
    expect(await text.waitForMessage("the leave", (m) => m.includes("left"))).toMatch(
      /^\*\*\* jsn \(127\.0\.0\.1:\d+\) left mixed$/,
    );
    text.close();
  });

  test("history and sequence numbers are shared: a client resumes on another instance without a hole", async () => {
    const writer = await TestSocket.open(`${servers[0]!.url}/?room=resume`, SUBPROTOCOL);
    for (let n = 1; n <= 5; n++) writer.send(JSON.stringify({ type: "say", text: `r${n}` }));
    await waitFor("the five messages", () => (said(writer).length >= 5 ? true : undefined));
    const late = await TestSocket.open(`${servers[1]!.url}/?room=resume`, SUBPROTOCOL);
    await waitFor("the history on another instance", () =>
      late.events.filter((e) => e.history === true).length >= 5 ? true : undefined,
    );
    expect(late.events.filter((e) => e.history === true).map((e) => [e.seq, e.text])).toEqual([
      [1, "r1"],
      [2, "r2"],
      [3, "r3"],
      [4, "r4"],
      [5, "r5"],
    ]);
    const resumer = await TestSocket.open(`${servers[2]!.url}/?room=resume&since=3`, SUBPROTOCOL);
    await waitFor("the resume", () =>
      resumer.events.filter((e) => e.history === true).length >= 2 ? true : undefined,
    );
    expect(resumer.events.filter((e) => e.history === true).map((e) => e.text)).toEqual(["r4", "r5"]);
    for (const s of [writer, late, resumer]) s.close();
  });
});

test("/who lists the room's people on every instance; an instance killed with SIGKILL drops out within a bound", async () => {
  await withTwoInstances([], async (a, b) => {
    const alice = await TestSocket.open(`${a.url}/?room=who&name=alice`);
    const bob = await TestSocket.open(`${b.url}/?room=who&name=bob`);
    await alice.waitForMessage("bob's arrival", (m) => m.includes("bob") && m.includes("joined"));
    const who = async () => {
      const before = alice.messages.length;
      alice.send("/who");
      await alice.waitForMessages(before + 1);
      return alice.messages.slice(before).find((m) => m.startsWith("*** In who"))!;
    };
    expect(await who()).toMatch(/^\*\*\* In who \(2\): (alice \(\S+\), bob \(\S+\)|bob \(\S+\), alice \(\S+\))$/);
    alice.send("/rooms");
    expect(await alice.waitForMessage("the rooms", (m) => m.startsWith("*** Rooms"))).toBe(
      "*** Rooms: chat (0), who (2)",
    );
    await b.stop(); // SIGKILL: no goodbye, no leave notice from b
    const started = Date.now();
    let listed = "";
    for (let attempt = 0; attempt < 60 && !/^\*\*\* In who \(1\): alice/.test(listed); attempt++) {
      listed = await who();
      if (!/^\*\*\* In who \(1\)/.test(listed)) await Bun.sleep(250);
    }
    expect(listed).toMatch(/^\*\*\* In who \(1\): alice \(127\.0\.0\.1:\d+\)$/);
    expect(Date.now() - started).toBeLessThan(10_000); // the liveness window is 6 s
    alice.close();
    bob.close();
  });
}, 30_000);

test("names are unique across instances; a name is free again once its holder leaves, or its instance dies", async () => {
  // Names are free the moment their holder leaves (a grace period has a test of its own).
  await withTwoInstances(["--name-grace", "0"], async (a, b) => {
    const holder = await TestSocket.open(`${a.url}/?name=Unique`);
    await a.waitForLog(/Unique \(\S+\) joined chat/);
    const other = await TestSocket.open(`${b.url}/?name=unique`, SUBPROTOCOL);
    expect(await other.waitForEvent("the refusal", (e) => e.type === "error")).toEqual({
      type: "error",
      message: "The name 'unique' is taken; choose another.",
      code: "name-taken",
    });
    expect(other.events.find((e) => e.type === "welcome")!.you.name).toBeNull();
    other.send(JSON.stringify({ type: "nick", name: "UNIQUE" }));
    await other.waitForEvent("the second refusal", (e) => e.type === "error" && e.message.includes("UNIQUE"));
    holder.close();
    await a.waitForLog(/Connection from Unique \(\S+\) closed/);
    other.send(JSON.stringify({ type: "nick", name: "unique" }));
    await other.waitForEvent(
      "the rename",
      (e) => e.type === "notice" && e.event === "rename" && e.user.name === "unique",
    );

    // The holder's instance dies without a word: after its liveness window, the name is free.
    const third = await TestSocket.open(a.url, SUBPROTOCOL);
    await b.stop(); // SIGKILL, with "unique" held there
    const started = Date.now();
    let renamed = false;
    for (let attempt = 0; attempt < 40 && !renamed; attempt++) {
      third.send(JSON.stringify({ type: "nick", name: "unique" }));
      await Bun.sleep(250);
      renamed = third.events.some((e) => e.type === "notice" && e.event === "rename" && e.user.name === "unique");
    }
    expect(renamed).toBe(true);
    expect(Date.now() - started).toBeLessThan(10_000);
    third.close();
    other.close();
  });
}, 30_000);

test("Redis unreachable at start: the instance serves its own clients, says so, and joins once Redis comes", async () => {
  const port = unusedPort();
  const alone = await startServer(["--redis", `redis://127.0.0.1:${port}`]);
  let redis: Awaited<ReturnType<typeof startRedis>> | undefined;
  let other: RunningServer | undefined;
  try {
    await alone.waitForLog(
      /Redis: Redis at redis:\/\/127\.0\.0\.1:\d+ is not answering .*; serving this instance's clients alone, retrying/,
    );
    expect(await (await fetch(`http://127.0.0.1:${alone.port}/healthz`)).json()).toMatchObject({
      status: "degraded",
      redis: "unreachable",
    });
    const local = await TestSocket.open(alone.url);
    local.send("still chatting");
    await local.waitForChat(1);
    // Each try that fails is counted; the log says so at most once in 10 s.
    expect(await metricsUntil(alone, /chat_redis_errors_total\{op="connect"\} [1-9]/)).toMatch(
      /# TYPE chat_redis_errors_total counter/,
    );

    redis = await startRedis(port);
    await alone.waitForLog(/Redis: connected/, 15_000);
    expect(await (await fetch(`http://127.0.0.1:${alone.port}/healthz`)).json()).toMatchObject({
      status: "ok",
      redis: "connected",
    });
    other = await startServer(["--redis", redis.url]);
    await other.waitForLog(/Redis: connected/);
    const remote = await TestSocket.open(other.url);
    remote.send("hello from the other instance");
    expect(
      await local.waitForMessage("the other instance's message", (m) => m.endsWith("hello from the other instance")),
    ).toMatch(/^127\.0\.0\.1:\d+: hello from the other instance$/);
    local.close();
    remote.close();
  } finally {
    await alone.stop();
    await other?.stop();
    await redis?.stop();
  }
}, 30_000);

test("Redis restarted under load: no crash, delivery across instances resumes, nothing twice", async () => {
  let restarted: Awaited<ReturnType<typeof startRedis>> | undefined;
  await withTwoInstances(["--rate", "0", "--ip-rate", "0"], async (a, b, redis) => {
    const onA = await TestSocket.open(a.url, SUBPROTOCOL);
    const onB = await TestSocket.open(b.url, SUBPROTOCOL);
    let sent = 0;
    const load = setInterval(() => onA.send(JSON.stringify({ type: "say", text: `load ${++sent}` })), 10);
    const flowing = (socket: TestSocket, beyond: number) =>
      waitFor("the load flowing across", () => (said(socket).length > beyond ? true : undefined), 10_000);
    await flowing(onB, 10);
    await redis.stop();
    await a.waitForLog(/Redis: lost Redis/);
    await Bun.sleep(300); // Redis stays down a while, with the load going on.
    restarted = await startRedis(redis.port);
    await a.waitForLog(/Redis: connected.*\n[\s\S]*Redis: connected/, 15_000);
    await b.waitForLog(/Redis: connected.*\n[\s\S]*Redis: connected/, 15_000);
    await flowing(onB, said(onB).length + 10);
    clearInterval(load);
    onA.send(JSON.stringify({ type: "say", text: "after the restart" }));
    await onB.waitForEvent("the message after the restart", (e) => e.text === "after the restart", 10_000);
    for (const socket of [onA, onB]) {
      const texts = said(socket).map((e) => e.text);
      expect(new Set(texts).size).toBe(texts.length); // nothing twice
    }
    // Both instances are still up.
    for (const server of [a, b])
      expect(
        ((await (await fetch(`http://127.0.0.1:${server.port}/healthz`)).json()) as { status: string }).status,
      ).toBe("ok");
    onA.close();
    onB.close();
  }).finally(() => restarted?.stop());
}, 40_000);

test("--reuse-port: two instances listen on one port and share the chat through Redis", async () => {
  const redis = await startRedis();
  const port = unusedPort();
  const first = await startServer(["--port", String(port), "--reuse-port", "--redis", redis.url]);
  const second = await startServer(["--port", String(port), "--reuse-port", "--redis", redis.url]);
  try {
    expect(second.port).toBe(first.port);
    await first.waitForLog(/Redis: connected/);
    await second.waitForLog(/Redis: connected/);
    // The kernel spreads connections over both listeners by a hash of their addresses: eight may
    // all land on one (CI saw it), so connections are opened until both have some, 64 at most.
    const onBoth = () => /New connection/.test(first.log()) && /New connection/.test(second.log());
    const clients: TestSocket[] = [];
    for (let n = 0; n < 64 && (n < 8 || !onBoth()); n++) clients.push(await TestSocket.open(`ws://127.0.0.1:${port}`));
    await waitFor("connections on both", () => (onBoth() ? true : undefined));
    clients[0]!.send("to everyone on the port");
    for (const client of clients)
      await client.waitForMessage("the message", (m) => m.endsWith("to everyone on the port"));
    for (const client of clients) client.close();
  } finally {
    await first.stop();
    await second.stop();
    await redis.stop();
  }
});

test("kill -9 the instance holding a client, two instances on one port: the client comes back with its name", async () => {
  const redis = await startRedis();
  const port = unusedPort();
  const instances = [
    await startServer(["--port", String(port), "--reuse-port", "--redis", redis.url]),
    await startServer(["--port", String(port), "--reuse-port", "--redis", redis.url]),
  ];
  const client = pipeClient(["--name", "keeper", `127.0.0.1:${port}`]);
  try {
    for (const instance of instances) await instance.waitForLog(/Redis: connected/);
    const joined = /keeper \(\S+\) joined chat/;
    const holding = await waitFor("keeper to join one instance", () => instances.find((i) => joined.test(i.log())));
    const other = instances.find((i) => i !== holding)!;
    await holding.stop(); // SIGKILL: the instance says nothing to Redis
    await other.waitForLog(joined, 10_000);
    client.write("still keeper");
    await other.waitForLog(/Message from keeper \(\S+\) in chat: still keeper/);
    expect(client.out.stderr).not.toContain("taken");
  } finally {
    client.proc.kill("SIGKILL");
    for (const instance of instances) await instance.stop();
    await redis.stop();
  }
}, 20_000);

test("a message with a lone surrogate is made well-formed and delivered alike on every instance", async () => {
  await withTwoInstances([], async (a, b) => {
    const onA = await TestSocket.open(a.url, SUBPROTOCOL);
    const onB = await TestSocket.open(b.url, SUBPROTOCOL);
    onA.send('{"type":"say","text":"A\\ud800B"}');
    for (const socket of [onA, onB]) {
      expect((await socket.waitForEvent("the message", (e) => e.type === "message")).text).toBe("A\uFFFDB");
    }
    onA.close();
    onB.close();
  });
});

test("joined counts and lists the people of every instance", async () => {
  await withTwoInstances([], async (a, b) => {
    const present = [
      await TestSocket.open(`${a.url}/?name=a1`),
      await TestSocket.open(`${a.url}/?name=a2`),
      await TestSocket.open(`${b.url}/?name=b1`),
    ];
    for (const [server, name] of [
      [a, "a1"],
      [a, "a2"],
      [b, "b1"],
    ] as const)
      await server.waitForLog(new RegExp(`${name} \\(\\S+\\) joined chat`));
    // The presence of a1 and a2 reaches b through Redis: wait until b's /who lists them.
    const probe = await TestSocket.open(b.url);
    for (let asked = 0; asked < 50 && !/^\*\*\* In chat \(4\)/.test(probe.messages.at(-1) ?? ""); asked++) {
      probe.send("/who");
      await probe.waitForMessage(
        "an answer",
        (m) => m.startsWith("*** In chat") && probe.messages.filter((x) => x.startsWith("*** In chat")).length > asked,
      );
    }
    probe.close();
    await b.waitForLog(/Connection from 127\.0\.0\.1:\d+ closed/);
    const newcomer = await TestSocket.open(`${b.url}/?name=newcomer`, SUBPROTOCOL);
    const joined = await newcomer.waitForEvent("joined", (e) => e.type === "joined");
    expect(joined.count).toBe(4);
    expect(joined.members.map((m: { name: string }) => m.name).sort()).toEqual(["a1", "a2", "b1", "newcomer"]);
    expect(joined.members.at(-1).name).toBe("newcomer");
    for (const socket of [...present, newcomer]) socket.close();
  });
});

test("when an instance dies without a word, its people are told as leaving on the others", async () => {
  await withTwoInstances([], async (a, b) => {
    const watcher = await TestSocket.open(`${a.url}/?name=watcher`, SUBPROTOCOL);
    const doomed = await TestSocket.open(`${b.url}/?name=doomed`);
    await watcher.waitForEvent(
      "doomed joining",
      (e) => e.type === "notice" && e.event === "join" && e.user.name === "doomed",
    );
    const killed = Date.now();
    await b.stop(); // SIGKILL: b says nothing
    const left = await watcher.waitForEvent(
      "doomed leaving",
      (e) => e.type === "notice" && e.event === "leave" && e.user.name === "doomed",
      15_000,
    );
    expect(left.text).toMatch(/^doomed \(127\.0\.0\.1:\d+\) left chat$/);
    expect(Date.now() - killed).toBeLessThan(12_000); // alive for 6 s, checked every 2 s
    watcher.send(JSON.stringify({ type: "who" }));
    const who = await watcher.waitForEvent("the list", (e) => e.type === "members");
    expect(who.members.map((m: { name: string }) => m.name)).toEqual(["watcher"]);
    watcher.close();
    doomed.close();
  });
}, 30_000);

test("four instances on one port serve the page and its files alike from the first request", async () => {
  const port = unusedPort();
  const instances: RunningServer[] = [];
  try {
    for (let n = 0; n < 4; n++) instances.push(await startServer(["--port", String(port), "--reuse-port"]));
    // A new connection for each request, so that the kernel spreads them over the four.
    const get = (path: string) => fetch(`http://127.0.0.1:${port}${path}`, { headers: { Connection: "close" } });
    const html = await (await get("/")).text();
    const files = [...html.matchAll(/(?:src|href)="\.?(\/[^"]+)"/g)].map((m) => m[1]!);
    expect(files.length).toBe(2); // the script and the stylesheet
    const statuses: number[] = [];
    for (let n = 0; n < 16; n++) for (const path of ["/", ...files]) statuses.push((await get(path)).status);
    expect(statuses.filter((s) => s !== 200)).toEqual([]);
    expect(statuses).toHaveLength(48);
  } finally {
    for (const instance of instances) await instance.stop();
  }
});

test("a partition of 3 s with messages on both sides, then healed: every client on both instances ends with every message exactly once", async () => {
  const redis = await startRedis();
  const cable = new CuttableLink(redis.port); // between instance a and Redis, to cut and heal
  const instances: RunningServer[] = [];
  try {
    const a = await startServer(["--redis", `redis://127.0.0.1:${cable.port}`]);
    instances.push(a);
    const b = await startServer(["--redis", redis.url]);
    instances.push(b);
    for (const instance of instances) await instance.waitForLog(/Redis: connected/);
    // On each side, a JSON client and a plain-text one.
    const clients = [
      await TestSocket.open(a.url, SUBPROTOCOL),
      await TestSocket.open(a.url),
      await TestSocket.open(b.url, SUBPROTOCOL),
      await TestSocket.open(b.url),
    ];
    const texts = (socket: TestSocket) =>
      socket.socket.protocol === SUBPROTOCOL
        ? said(socket).map((e) => e.text as string)
        : socket.chat.map((line) => line.slice(line.lastIndexOf(": ") + 2));
    const say = (socket: TestSocket, text: string) => socket.send(JSON.stringify({ type: "say", text }));
    say(clients[0]!, "before");
    for (const client of clients)
      await waitFor("the first message everywhere", () => (texts(client).includes("before") ? true : undefined));

    cable.cut();
    await a.waitForLog(/Redis: lost Redis/);
    for (let n = 0; n < 6; n++) {
      say(clients[0]!, `a${n}`);
      say(clients[2]!, `b${n}`);
      await Bun.sleep(500); // the split lasts 3 s, with both sides talking throughout
    }
    // Meanwhile each side hears only itself.
    await waitFor("a's side to hear a5", () => (texts(clients[1]!).includes("a5") ? true : undefined));
    expect(texts(clients[1]!).filter((t) => /^b\d$/.test(t))).toEqual([]);
    cable.restore();
    await a.waitForLog(/Redis: connected[\s\S]*Redis: connected/, 15_000);

    const expected = ["before", ...[0, 1, 2, 3, 4, 5].map((n) => `a${n}`), ...[0, 1, 2, 3, 4, 5].map((n) => `b${n}`)];
    for (const client of clients) {
      await waitFor(
        () => `every message on every client (${texts(client).join(" ")})`,
        () => (expected.every((t) => texts(client).includes(t)) ? true : undefined),
        10_000,
      );
    }
    for (const client of clients) {
      const seen = texts(client);
      expect([...seen].sort()).toEqual([...expected].sort()); // each exactly once
      // Each side's messages come in the order they were said.
      for (const side of [/^a\d$/, /^b\d$/])
        expect(seen.filter((t) => side.test(t))).toEqual(expected.filter((t) => side.test(t)));
    }
    expect(a.log()).toMatch(/Redis: caught up 6 messages said on other instances meanwhile/);
    expect(a.log()).toMatch(/Redis: shared 6 messages said here while cut off/);
    for (const client of clients) client.close();
  } finally {
    cable.stop();
    for (const instance of instances) await instance.stop();
    await redis.stop();
  }
}, 40_000);

test("what one instance hears in one turn is numbered in one script call, room by room, and an instance started later replays the last --history of it", async () => {
  await withTwoInstances(["--history", "5", "--rate", "0", "--ip-rate", "0"], async (a, b, redis) => {
    const rooms = ["burst", "other"];
    const writers = await Promise.all(
      [0, 1, 2, 3].map((w) => TestSocket.open(`${a.url}/?room=${rooms[w % 2]}`, SUBPROTOCOL)),
    );
    const readers = await Promise.all(rooms.map((room) => TestSocket.open(`${b.url}/?room=${room}`, SUBPROTOCOL)));
    const evalsBefore = evalCalls(redis.port);
    // 4 × 50 messages into two rooms, written at once: they reach the instance in a few reads, not 200.
    writers.forEach((writer, w) => {
      for (let n = 1; n <= 50; n++) writer.send(JSON.stringify({ type: "say", text: `w${w} ${n}` }));
    });
    for (const reader of readers) {
      await waitFor(
        () => `100 messages on the other instance (have ${said(reader).length})`,
        () => (said(reader).length >= 100 ? true : undefined),
        15_000,
      );
      expect(said(reader).map((e) => e.seq)).toEqual(Array.from({ length: 100 }, (_, n) => n + 1));
    }
    for (const [w, writer] of writers.entries()) {
      await waitFor(
        () => `the room's 100 messages back on the writer's instance (have ${said(writer).length})`,
        () => (said(writer).length >= 100 ? true : undefined),
        15_000,
      );
      const mine = said(writer).filter((e) => (e.text as string).startsWith(`w${w} `));
      expect(mine.map((e) => e.text)).toEqual(Array.from({ length: 50 }, (_, n) => `w${w} ${n + 1}`));
    }
    const evals = evalCalls(redis.port) - evalsBefore;
    expect(evals).toBeGreaterThan(0);
    expect(evals).toBeLessThan(100);

    // A third instance, started now, loads the shared history from Redis: the last 5, numbered.
    const late = await startServer(["--redis", redis.url, "--history", "5"]);
    try {
      await late.waitForLog(/Redis: connected/);
      const newcomer = await TestSocket.open(`${late.url}/?room=burst`, SUBPROTOCOL);
      await waitFor("the history", () =>
        newcomer.events.filter((e) => e.history === true).length >= 5 ? true : undefined,
      );
      const last = said(readers[0]!).slice(-5);
      expect(newcomer.events.filter((e) => e.history === true).map((e) => [e.seq, e.text])).toEqual(
        last.map((e) => [e.seq, e.text]),
      );
      newcomer.close();
    } finally {
      await late.stop();
    }
    for (const socket of [...writers, ...readers]) socket.close();
  });
});

test("an instance shut down with SIGTERM tells Redis it is gone, and its people's leaving reaches the others at once", async () => {
  await withTwoInstances([], async (a, b, redis) => {
    const watcher = await TestSocket.open(`${b.url}/?room=bye&name=watcher`);
    await TestSocket.open(`${a.url}/?room=bye&name=leaver`);
    await watcher.waitForMessage("the join", (m) => m.includes("leaver") && m.includes("joined"));
    const alive = () =>
      Bun.spawnSync(["redis-cli", "-p", String(redis.port), "KEYS", "chat:instance:*"])
        .stdout.toString()
        .trim()
        .split("\n");
    expect(alive()).toHaveLength(2);
    a.process.kill("SIGTERM");
    await a.process.exited;
    expect(alive()).toHaveLength(1);
    await watcher.waitForMessage("the leave", (m) => m.includes("leaver") && m.includes("left"), 1_000);
    watcher.close();
  });
});

/** GET /metrics until it matches `pattern`, within 10 s; returns it. */
async function metricsUntil(server: RunningServer, pattern: RegExp): Promise<string> {
  let text = "";
  for (let tries = 0; tries < 50 && !pattern.test(text); tries++) {
    if (tries > 0) await Bun.sleep(200);
    text = await (await fetch(`http://127.0.0.1:${server.port}/metrics`)).text();
  }
  return text;
}

test("an envelope of another version of the format on the channel is counted and skipped, and nothing is misread", async () => {
  await withTwoInstances([], async (a, b, redis) => {
    const onA = await TestSocket.open(a.url, SUBPROTOCOL);
    const cli = (...args: string[]) => Bun.spawnSync(["redis-cli", "-p", String(redis.port), ...args]);
    const said = {
      type: "message",
      room: "chat",
      time: new Date().toISOString(),
      from: { name: null, address: "127.0.0.1:9" },
    };
    // A header and its room's entry, as a later release might write them.
    cli("PUBLISH", "chat:events", JSON.stringify({ v: 2, instance: "newer", batch: 1, first: [1] }));
    cli("PUBLISH", "chat:events", JSON.stringify({ v: 2, batch: "newer:1", said: [{ ...said, text: "from v2" }] }));
    expect(await metricsUntil(a, /chat_redis_skipped_total\{reason="version"\} 2/)).toMatch(
      /chat_redis_skipped_total\{reason="version"\} 2/,
    );
    await a.waitForLog(
      /Redis: skipped an envelope of another version of the format: is another release of the server sharing this Redis\?/,
    );
    // The chat goes on, and the skipped message never showed.
    const onB = await TestSocket.open(b.url, SUBPROTOCOL);
    onB.send(JSON.stringify({ type: "say", text: "from v1" }));
    await onA.waitForEvent("the message from the other instance", (e) => e.text === "from v1");
    expect(onA.events.filter((e) => e.text === "from v2")).toEqual([]);
    onA.close();
    onB.close();
  });
});

/** How many EVALs the redis-server on `port` has run. */
function evalCalls(port: number): number {
  const stats = Bun.spawnSync(["redis-cli", "-p", String(port), "INFO", "commandstats"]).stdout.toString();
  return Number(/cmdstat_eval:calls=(\d+)/.exec(stats)?.[1] ?? 0);
}

/**
 * Two instances, each behind a link to Redis of its own that the test cuts and restores, with
 * `use`; all stopped afterwards.
 */
async function withTwoCutOffInstances(
  use: (a: RunningServer, b: RunningServer, cables: [CuttableLink, CuttableLink]) => Promise<void>,
): Promise<void> {
  const redis = await startRedis();
  const cables: [CuttableLink, CuttableLink] = [new CuttableLink(redis.port), new CuttableLink(redis.port)];
  const instances: RunningServer[] = [];
  try {
    for (const cable of cables) instances.push(await startServer(["--redis", `redis://127.0.0.1:${cable.port}`]));
    for (const instance of instances) await instance.waitForLog(/Redis: connected/);
    await use(instances[0]!, instances[1]!, cables);
  } finally {
    for (const cable of cables) cable.stop();
    for (const instance of instances) await instance.stop();
    await redis.stop();
  }
}

/** Cuts `cable` and waits until `server` knows it is cut off. */
async function cutOff(server: RunningServer, cable: CuttableLink): Promise<void> {
  const lost = server.log().match(/Redis: lost Redis/g)?.length ?? 0;
  cable.cut();
  await waitFor("the instance to lose Redis", () =>
    (server.log().match(/Redis: lost Redis/g)?.length ?? 0) > lost ? true : undefined,
  );
}

/** Restores `cable` and waits until `server` has caught up with Redis again. */
async function reconnect(server: RunningServer, cable: CuttableLink): Promise<void> {
  const connected = server.log().match(/Redis: connected/g)?.length ?? 0;
  cable.restore();
  await waitFor(
    "the instance to connect to Redis again",
    () => ((server.log().match(/Redis: connected/g)?.length ?? 0) > connected ? true : undefined),
    15_000,
  );
}

/**
 * Asks /who (JSON) until the room's list, as names (or addresses, for people without one), is
 * what `wanted` accepts, within a bound; returns the last list.
 */
async function whoUntil(socket: TestSocket, wanted: (listed: string[]) => boolean): Promise<string[]> {
  const lists = () => socket.events.filter((e) => e.type === "members");
  let listed: string[] = [];
  for (let asked = lists().length + 1, tries = 0; tries < 40; asked++, tries++) {
    socket.send(JSON.stringify({ type: "who" }));
    await waitFor("the list", () => (lists().length >= asked ? true : undefined));
    listed = lists()
      .at(-1)!
      .members.map((m: { name: string | null; address: string }) => m.name ?? m.address);
    if (wanted(listed)) break;
    await Bun.sleep(250);
  }
  return listed;
}

test("two instances cut off from Redis both give out `twin`; once back, the earlier claim keeps it even if its instance returns last, and the other is told and left without a name", async () => {
  await withTwoCutOffInstances(async (a, b, [toA, toB]) => {
    await cutOff(a, toA);
    await cutOff(b, toB);
    const { socket: first } = await jsonClient(a, "?name=twin");
    expect(first.events.find((e) => e.type === "welcome")!.you.name).toBe("twin");
    await Bun.sleep(20); // the claims are a clear few milliseconds apart
    const { socket: second, address: secondAddress } = await jsonClient(b, "?name=twin");
    expect(second.events.find((e) => e.type === "welcome")!.you.name).toBe("twin");

    // b returns first and registers its `twin`; a returns with the earlier claim: b's holder loses it.
    await reconnect(b, toB);
    await reconnect(a, toA);
    const lost = await second.waitForEvent("the name lost", (e) => e.type === "error", 10_000);
    expect(lost).toEqual({
      type: "error",
      code: "name-lost",
      message:
        "The name 'twin' was also given to someone on another server while the servers were cut off from each other, and their claim was earlier: you have no name now. Pick another with /nick.",
    });
    const renamed = await second.waitForEvent("the rename", (e) => e.type === "notice" && e.event === "rename");
    expect(renamed).toMatchObject({ user: { name: null, address: secondAddress }, previousName: "twin" });
    expect(renamed.text).toBe(`twin (${secondAddress}) is now ${secondAddress}`);
    // The room on the other instance hears of it too.
    await first.waitForEvent(
      "the rename on the other instance",
      (e) => e.type === "notice" && e.event === "rename" && e.user.address === secondAddress,
    );
    expect(first.events.filter((e) => e.type === "error")).toEqual([]);

    const third = (await jsonClient(a, "?name=third")).socket;
    const listed = await whoUntil(third, (names) => names.length === 3 && names.includes(secondAddress));
    expect(listed.sort()).toEqual([secondAddress, "third", "twin"].sort());
    for (const socket of [first, second, third]) socket.close();
  });
}, 40_000);

test("after a partition, the instance that returns with the later claim of a name takes it from its own client: a plain-text client and a pipe client are told", async () => {
  await withTwoCutOffInstances(async (a, b, [toA, toB]) => {
    await cutOff(a, toA);
    await cutOff(b, toB);
    const first = (await jsonClient(a, "?name=twin")).socket;
    const early = (await jsonClient(a, "?name=twain")).socket;
    await Bun.sleep(20);
    const text = await TestSocket.open(`${b.url}/?name=twin`);
    await b.waitForLog(/twin \(\S+\) joined chat/);
    const piped = pipeClient(["--name", "twain", `127.0.0.1:${b.port}`]);
    try {
      await b.waitForLog(/twain \(\S+\) joined chat/);

      // a returns first with the earlier claims; b, returning, finds them and its own clients lose.
      await reconnect(a, toA);
      await reconnect(b, toB);
      const message =
        "The name 'twin' was also given to someone on another server while the servers were cut off from each other, and their claim was earlier: you have no name now. Pick another with /nick.";
      expect(await text.waitForMessage("the error", (m) => m.startsWith("*** Error"), 10_000)).toBe(
        `*** Error: ${message}`,
      );
      expect(await text.waitForMessage("the rename", (m) => m.includes(" is now "))).toMatch(
        /^\*\*\* twin \((127\.0\.0\.1:\d+)\) is now \1$/,
      );
      await piped.waitForOutput("the pipe client's error", (out) =>
        out.includes(`From server: *** Error: ${message.replaceAll("twin", "twain")}`),
      );
      await piped.waitForOutput("the pipe client's rename", (out) =>
        /From server: \*\*\* twain \((127\.0\.0\.1:\d+)\) is now \1/.test(out),
      );
      for (const socket of [first, early]) expect(socket.events.filter((e) => e.type === "error")).toEqual([]);
      const third = (await jsonClient(b)).socket;
      const once = (names: string[]) =>
        names.length === 5 && names.filter((n) => n === "twin" || n === "twain").length === 2;
      const listed = await whoUntil(third, once);
      expect(listed.filter((n) => n === "twin")).toHaveLength(1);
      expect(listed.filter((n) => n === "twain")).toHaveLength(1);
      for (const socket of [first, early, text, third]) socket.close();
    } finally {
      piped.proc.kill("SIGKILL");
    }
  });
}, 40_000);

test("a name let go of while the instance was cut off from Redis is free on the other instances once it is back", async () => {
  await withTwoCutOffInstances(async (a, b, [toA]) => {
    const holder = (await jsonClient(a, "?name=twin")).socket;
    await cutOff(a, toA);
    holder.close(); // on purpose: the name is free at once
    await a.waitForLog(/Connection from twin \(\S+\) closed/);
    await reconnect(a, toA);
    const { socket: later } = await jsonClient(b, "?name=twin");
    await later.waitForEvent("joined", (e) => e.type === "joined");
    expect(later.events.filter((e) => e.type === "error")).toEqual([]);
    expect(later.events.find((e) => e.type === "welcome")!.you.name).toBe("twin");
    later.close();
  });
}, 30_000);
