/**
 * What a flood costs Redis, through a real redis-server: a script call carries at most
 * MAX_BATCH_BYTES of events, so one instance's flood does not stall the others; and the shared
 * history is bounded in bytes (--history-bytes) and its rooms' keys expire.
 */
import { expect, test } from "bun:test";
import { RedisClient } from "bun";
import { SUBPROTOCOL } from "../common/events";
import { MAX_BATCH_BYTES, SAY_SCRIPT } from "../server/redis/keys";
import { type RunningServer, startRedis, startServer, TestSocket, waitFor } from "./helpers";

const UNLIMITED = [
  "--rate",
  "0",
  "--ip-rate",
  "0",
  "--ip-changes",
  "0",
  "--ip-connect-rate",
  "0",
  "--max-per-ip",
  "500",
];

/** A redis-server and instances using it, all connected, for `use`; all stopped afterwards by their pids. */
async function withInstances(
  count: number,
  args: string[],
  use: (instances: RunningServer[], redis: RedisClient) => Promise<void>,
): Promise<void> {
  const redis = await startRedis();
  const client = new RedisClient(redis.url);
  const instances: RunningServer[] = [];
  try {
    for (let n = 0; n < count; n++) instances.push(await startServer(["--redis", redis.url, ...args]));
    for (const instance of instances) await instance.waitForLog(/Redis: connected/);
    await use(instances, client);
  } finally {
    client.close();
    for (const instance of instances) await instance.stop();
    await redis.stop();
  }
}

/** The size of an argument as SLOWLOG shows it: the first 128 bytes, then "... (N more bytes)". */
function slowlogSize(arg: string): number {
  const more = /\.\.\. \((\d+) more bytes\)$/.exec(arg);
  return more ? 128 + Number(more[1]) : Buffer.byteLength(arg);
}

const percentile = (values: number[], p: number) =>
  [...values].sort((a, b) => a - b)[Math.min(values.length - 1, Math.floor((p / 100) * values.length))] ?? 0;

test("a flood of big messages on one instance goes to Redis in script calls of at most MAX_BATCH_BYTES; a bystander on the other instance is measured", async () => {
  await withInstances(2, UNLIMITED, async ([a, b], redis) => {
    await redis.send("CONFIG", ["SET", "slowlog-log-slower-than", "0"]);
    await redis.send("CONFIG", ["SET", "slowlog-max-len", "100000"]);
    await redis.send("SLOWLOG", ["RESET"]);
    const flooders = await Promise.all([0, 1].map(() => TestSocket.open(`${a!.url}/?room=flood`, SUBPROTOCOL)));
    const bystander = await TestSocket.open(`${b!.url}/?room=calm`, SUBPROTOCOL);
    const big = "x".repeat(60_000);
    const rounds = 12;
    const perRound = 10;

    // The bystander says something every 50 ms and times its own message's return, during the flood.
    const sentAt = new Map<string, number>();
    const waits: number[] = [];
    bystander.socket.addEventListener("message", ({ data }) => {
      const text = /"text":"(ping \d+)"/.exec(String(data))?.[1];
      const at = text === undefined ? undefined : sentAt.get(text);
      if (at !== undefined && sentAt.delete(text!)) waits.push(performance.now() - at);
    });
    let pings = 0;
    const pinger = setInterval(() => {
      const text = `ping ${++pings}`;
      sentAt.set(text, performance.now());
      bystander.send(JSON.stringify({ type: "say", text }));
    }, 50);
    try {
      for (let round = 0; round < rounds; round++) {
        for (const [f, flooder] of flooders.entries())
          for (let n = 0; n < perRound; n++)
            flooder.send(JSON.stringify({ type: "say", text: `${f} ${round} ${n} ${big}` }));
        await Bun.sleep(100);
      }
      const total = rounds * perRound * flooders.length;
      for (const flooder of flooders)
        await waitFor(
          () => `the flood back (${flooder.messages.length})`,
          () => (flooder.messages.filter((m) => m.includes(big)).length >= total ? true : undefined),
          30_000,
        );
      await waitFor("the last pings back", () => (sentAt.size <= 1 ? true : undefined), 10_000);
    } finally {
      clearInterval(pinger);
    }

    const entries = (await redis.send("SLOWLOG", ["GET", "-1"])) as [number, number, number, string[]][];
    const evals = entries.filter(([, , , args]) => String(args[0]).toUpperCase() === "EVAL");
    const largest = Math.max(...evals.map(([, , , args]) => Math.max(...args.slice(3).map(slowlogSize))));
    const longest = Math.max(...evals.map(([, , duration]) => duration));
    console.log(
      `flood: ${evals.length} script calls, largest argument ${largest} bytes, longest ${(longest / 1000).toFixed(1)} ms; ` +
        `bystander on the other instance: p50 ${percentile(waits, 50).toFixed(0)} ms, p99 ${percentile(waits, 99).toFixed(0)} ms, max ${percentile(waits, 100).toFixed(0)} ms over ${waits.length} messages`,
    );
    expect(largest).toBeGreaterThan(50_000); // the flood's messages were there
    expect(largest).toBeLessThanOrEqual(MAX_BATCH_BYTES);
    for (const socket of [...flooders, bystander]) socket.close();
  });
}, 90_000);

test("the shared history is bounded in bytes by --history-bytes, and every room's keys expire", async () => {
  const historyBytes = 1 << 20;
  const args = [...UNLIMITED, "--history-bytes", String(historyBytes), "--max-message", "65536"];
  await withInstances(1, args, async ([server], redis) => {
    const usedMemory = async () => Number(/used_memory:(\d+)/.exec(String(await redis.send("INFO", ["memory"])))![1]);
    const before = await usedMemory();
    const rooms = 60;
    const perRoom = 20;
    const text = "y".repeat(20_000);
    const writers = await Promise.all(
      Array.from({ length: rooms }, (_, r) => TestSocket.open(`${server!.url}/?room=r${r}`, SUBPROTOCOL)),
    );
    for (const writer of writers)
      for (let n = 0; n < perRoom; n++) writer.send(JSON.stringify({ type: "say", text: `${n} ${text}` }));
    for (const writer of writers)
      await waitFor(
        () =>
          `every message back (${writer.messages.length}: ${writer.messages.slice(-2).map((m) => m.slice(0, 300))})`,
        () => (writer.messages.filter((m) => m.includes(text)).length >= perRoom ? true : undefined),
        30_000,
      );
    const said = rooms * perRoom * text.length;
    const after = await usedMemory();
    console.log(
      `said ${(said / 2 ** 20).toFixed(1)} MiB into ${rooms} rooms with --history-bytes ${historyBytes}: ` +
        `Redis used_memory ${(before / 2 ** 20).toFixed(1)} → ${(after / 2 ** 20).toFixed(1)} MiB`,
    );
    expect(after - before).toBeLessThan(4 * historyBytes);

    // Every room's keys expire: its numbering and its history.
    const keys = (await redis.send("KEYS", ["chat:*"])) as string[];
    const roomKeys = keys.filter((key) => /^chat:(seq|history):/.test(key));
    expect(roomKeys.length).toBeGreaterThan(0);
    const ttls = await Promise.all(roomKeys.map(async (key) => [key, await redis.send("PTTL", [key])] as const));
    expect(ttls.filter(([, ttl]) => !(Number(ttl) > 0))).toEqual([]);
    // The rooms written last keep their history; the least recently written lost theirs.
    const [newest] = (await redis.send("ZREVRANGE", ["chat:history-rooms", "0", "0"])) as string[];
    expect(Number(await redis.send("ZCARD", [`chat:history:${newest}`]))).toBeGreaterThan(0);
    expect(roomKeys.filter((key) => key.startsWith("chat:history:")).length).toBeLessThan(rooms);
    for (const socket of writers) socket.close();
  });
}, 90_000);

test("the script keeps each room's history under its share of bytes, and forgets rooms idle past their keys' life", async () => {
  const redis = await startRedis();
  const client = new RedisClient(redis.url);
  try {
    const day = 86_400_000;
    /** One batch of `count` events of `size` characters into `room`, as instance "i" sends it, at `now`. */
    const say = (batch: number, room: string, count: number, size: number, now: number, roomBytes = 64 * 1024) => {
      const entry = JSON.stringify({
        v: 1,
        batch: `i:${batch}`,
        said: Array.from({ length: count }, () => "z".repeat(size)),
      });
      const keys = ["chat:events", "chat:history-rooms", "chat:history-bytes", "chat:history-total"];
      const args = ["i", String(batch), "1000", String(roomBytes), String(1 << 30), String(day), String(now)];
      return client.send("EVAL", [
        SAY_SCRIPT,
        "6",
        ...keys,
        `chat:seq:${room}`,
        `chat:history:${room}`,
        ...args,
        "1",
        String(count),
        room,
        entry,
      ]);
    };
    const usage = async (room: string) =>
      Number(await client.send("MEMORY", ["USAGE", `chat:history:${room}`, "SAMPLES", "0"]));
    const now = Date.now();
    for (let batch = 1; batch <= 40; batch++) await say(batch, "busy", 1, 5_000, now);
    // 40 entries of 5 KB: 200 KB said, 64 KiB kept (the newest), numbering whole.
    expect(await usage("busy")).toBeLessThanOrEqual(64 * 1024);
    expect(Number(await client.send("ZCARD", ["chat:history:busy"]))).toBeGreaterThan(5);
    expect(await client.send("GET", ["chat:seq:busy"])).toBe("40");
    // A room of one entry bigger than its share keeps that entry.
    await say(41, "big", 1, 100_000, now);
    expect(Number(await client.send("ZCARD", ["chat:history:big"]))).toBe(1);
    const total = Number(await client.send("GET", ["chat:history-total"]));
    expect(total).toBeGreaterThan((await usage("busy")) + (await usage("big")));

    // A day and more later (the keys would have expired), the next 64th batch forgets them from the tallies.
    await say(64, "later", 1, 10, now + 2 * day);
    expect(await client.send("ZRANGE", ["chat:history-rooms", "0", "-1"])).toEqual(["later"]);
    expect(Number(await client.send("GET", ["chat:history-total"]))).toBe((await usage("later")) + 160);
  } finally {
    client.close();
    await redis.stop();
  }
});

test("an instance flooded faster than it reads its own batches back is not dropped by Redis: every message comes back", async () => {
  // The flooders read 36 MB each; on a loaded machine the test process can fall behind the server's
  // writes, and a reader past --max-backlog is cut off by design. That is not what this test is
  // about, so the readers get room enough for the whole flood.
  const roomForReaders = ["--max-backlog", String(256 << 20), "--max-unsent", String(1 << 30), "--stall-timeout", "60"];
  await withInstances(1, [...UNLIMITED, ...roomForReaders, "--history", "5"], async ([server], redis) => {
    // Redis drops a subscriber this far behind (its default is 32 MB; lower here, to flood less).
    await redis.send("CONFIG", ["SET", "client-output-buffer-limit", "pubsub 16mb 8mb 60"]);
    const flooders = await Promise.all([0, 1].map(() => TestSocket.open(`${server!.url}/?room=flood`, SUBPROTOCOL)));
    const big = "v".repeat(60_000);
    const perFlooder = 300; // 36 MB in all, said at once
    for (const [f, flooder] of flooders.entries())
      for (let n = 0; n < perFlooder; n++) flooder.send(JSON.stringify({ type: "say", text: `${f} ${n} ${big}` }));
    for (const flooder of flooders)
      await waitFor(
        () => `every message back (${flooder.messages.filter((m) => m.includes(big)).length})`,
        () => {
          if (flooder.closed) throw new Error(`a flooder was closed (${flooder.closed.code}): ${server!.log()}`);
          return flooder.messages.filter((m) => m.includes(big)).length >= 2 * perFlooder ? true : undefined;
        },
        60_000,
      );
    expect(server!.log()).not.toContain("lost Redis");
    for (const flooder of flooders) flooder.close();
  });
}, 90_000);

test("an address's message budget holds across instances: two instances give it one budget, not two", async () => {
  const args = ["--rate", "0", "--ip-rate", "20", "--burst", "20", "--trust-proxy", "127.0.0.1", "--quiet"];
  await withInstances(2, args, async ([a, b]) => {
    const watcher = await TestSocket.open(`${a!.url}/?room=counted`, SUBPROTOCOL);
    const headers = { "X-Forwarded-For": "198.51.100.7" };
    const senders = await Promise.all(
      [a!, b!].map((instance) => TestSocket.open(`${instance.url}/?room=counted`, SUBPROTOCOL, 5_000, headers)),
    );
    // 25 a second to each instance for 10 s: 500 asked of an address allowed 20 a second (bursts of 60).
    const seconds = 10;
    for (let tick = 0; tick < seconds * 25; tick++) {
      for (const [i, sender] of senders.entries()) sender.send(JSON.stringify({ type: "say", text: `${i}.${tick}` }));
      await Bun.sleep(40);
    }
    await Bun.sleep(500);
    const delivered = watcher.events.filter(
      (e) => e.type === "message" && e.from.address.startsWith("198.51.100.7"),
    ).length;
    const budget = 20 * seconds + 60;
    console.log(
      `one address through two instances: ${delivered} delivered of ${seconds * 50} asked; its budget is ${budget}`,
    );
    expect(delivered).toBeGreaterThan(0.85 * budget);
    expect(delivered).toBeLessThan(1.15 * budget);
    for (const socket of [watcher, ...senders]) socket.close();
  });
}, 60_000);
