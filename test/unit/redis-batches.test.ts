/** Batching and numbering on the Redis side (server/redis/batches.ts), against a fake link. */
import { expect, test } from "bun:test";
import type { SaidEvent } from "../../common/events";
import { Batches, MAX_IN_FLIGHT_BYTES, type Unnumbered } from "../../server/redis/batches";
import { Failures } from "../../server/redis/failures";
import { MAX_BATCH, MAX_BATCH_BYTES, SAY_SCRIPT } from "../../server/redis/keys";
import { aTurn, FakeLink, newMetrics, numberLikeRedis, said, testLog } from "./fake-link";

const BOUNDS = { keep: 50, roomBytes: 1 << 20, totalBytes: 1 << 24, idleMs: 86_400_000 };

/** Batches on a connected fake link numbering like Redis, with what it hands back to its owner. */
async function setUp(instance = "me") {
  const link = new FakeLink();
  const say = numberLikeRedis(link);
  link.answer = (command, args) => (command === "EVAL" && args[0] === SAY_SCRIPT ? say(args) : null);
  const numbered: SaidEvent[] = [];
  const unsent: Unnumbered[] = [];
  const metrics = newMetrics();
  const { log, lines } = testLog();
  const owner = {
    instance,
    nextSeq: () => 1,
    numbered: (event: SaidEvent) => void numbered.push(event),
    unsent: (events: Unnumbered[]) => void unsent.push(...events),
  };
  const batches = new Batches(link, owner, BOUNDS, new Failures(log, metrics));
  await link.start({
    onConnect: async () => {},
    onMessage: (message) => {
      if (batches.take(message)) return;
      const header = JSON.parse(message);
      batches.header(header);
    },
    onState: () => {},
    onRetry: () => {},
  });
  await link.connect();
  return { link, batches, numbered, unsent, metrics, lines };
}

test("what is said in one turn goes to Redis in one script call, and comes back numbered room by room, in order", async () => {
  const { link, batches, numbered } = await setUp();
  const events = [said("a", "1"), said("b", "1"), said("a", "2"), said("a", "3"), said("b", "2")];
  for (const event of events) batches.say(event);
  expect(link.scripts(SAY_SCRIPT)).toHaveLength(0); // not before the turn ends
  await aTurn();
  expect(link.scripts(SAY_SCRIPT)).toHaveLength(1);
  expect(numbered.map((e) => `${e.room}${e.seq}:${e.text}`)).toEqual(["a1:1", "a2:2", "a3:3", "b1:1", "b2:2"]);
  // The instance's own batch is delivered from memory: the very events it said, numbered in place.
  expect(numbered[0]).toBe(events[0] as SaidEvent);
});

test("a turn of more than MAX_BATCH events, or MAX_BATCH_BYTES of their JSON, is cut into script calls under both, sent in order", async () => {
  const { link, batches, numbered } = await setUp();
  const big = "x".repeat(20_000);
  for (let n = 1; n <= 40; n++) batches.say(said("flood", `${n} ${big}`));
  for (let n = 1; n <= MAX_BATCH + 10; n++) batches.say(said("small", `${n}`));
  await aTurn();
  const calls = link.scripts(SAY_SCRIPT);
  // 40 events of 20 KB: 800 KB, so at least 4 calls; 1050 events in all, so at least one more.
  expect(calls.length).toBeGreaterThanOrEqual(5);
  for (const args of calls) {
    const keyCount = Number(args[0]);
    const argv = args.slice(1 + keyCount);
    const entries = argv.slice(7).filter((_, i) => i % 4 === 3);
    expect(entries.reduce((sum, entry) => sum + Buffer.byteLength(entry), 0)).toBeLessThanOrEqual(MAX_BATCH_BYTES);
    expect(entries.map((entry) => JSON.parse(entry).said.length).reduce((a, b) => a + b)).toBeLessThanOrEqual(
      MAX_BATCH,
    );
  }
  const flood = numbered.filter((e) => e.room === "flood");
  expect(flood.map((e) => e.seq)).toEqual(Array.from({ length: 40 }, (_, n) => n + 1));
  expect(flood.map((e) => Number(e.text.split(" ")[0]))).toEqual(Array.from({ length: 40 }, (_, n) => n + 1));
  expect(numbered.filter((e) => e.room === "small").map((e) => e.seq)).toEqual(
    Array.from({ length: MAX_BATCH + 10 }, (_, n) => n + 1),
  );
});

test("an event larger than MAX_BATCH_BYTES goes alone", async () => {
  const { link, batches, numbered } = await setUp();
  batches.say(said("a", "y".repeat(MAX_BATCH_BYTES + 1)));
  batches.say(said("a", "after"));
  await aTurn();
  expect(link.scripts(SAY_SCRIPT)).toHaveLength(2);
  expect(numbered.map((e) => e.seq)).toEqual([1, 2]);
});

test("another instance's batch is parsed and checked as client input: what is not a message is left out", async () => {
  const { link, numbered } = await setUp();
  link.hear(JSON.stringify({ v: 1, instance: "other", batch: 7, first: [41] }));
  const good = said("a", "hello");
  link.hear(JSON.stringify({ v: 1, batch: "other:7", said: [good, { type: "message", text: 5 }, good] }));
  expect(numbered).toEqual([
    { ...good, seq: 41 },
    { ...good, seq: 43 },
  ]);
});

test("a message that is not the entry the header announced ends the batch, and is read as an envelope", async () => {
  const { link, batches, numbered } = await setUp();
  batches.header({ instance: "other", batch: 1, first: [1, 1] });
  expect(batches.take(JSON.stringify({ v: 1, batch: "other:2", said: [said("a", "x")] }))).toBe(false);
  expect(batches.take(JSON.stringify({ v: 1, batch: "other:1", said: [said("a", "x")] }))).toBe(false);
  link.hear(JSON.stringify({ v: 1, instance: "other", batch: 3, first: [9] }));
  link.hear(JSON.stringify({ v: 1, batch: "other:3", said: [said("a", "late")] }));
  expect(numbered.map((e) => [e.seq, e.text])).toEqual([[9, "late"]]);
});

test("if Redis fails the script, the batch is delivered here provisionally, and the failure counted and logged once", async () => {
  const { link, batches, unsent, metrics, lines } = await setUp();
  link.answer = () => {
    throw new Error("NOSCRIPT or worse");
  };
  batches.say(said("a", "1"));
  await aTurn();
  batches.say(said("a", "2"));
  await aTurn();
  expect(unsent.map((e) => e.text)).toEqual(["1", "2"]);
  expect(metrics.redisErrors.get("say")).toBe(2);
  expect(lines()).toEqual(["Redis: say failed (NOSCRIPT or worse)"]);
});

test("cut off from Redis, what is said in a turn goes back to the directory at once, unsent", async () => {
  const { link, batches, unsent } = await setUp();
  batches.say(said("a", "1"));
  link.lose();
  batches.flush();
  expect(unsent.map((e) => e.text)).toEqual(["1"]);
  expect(link.scripts(SAY_SCRIPT)).toEqual([]);
});

test("the script is given the history's bounds, and each room's floor, name and entry", async () => {
  const { link, batches } = await setUp("inst");
  batches.say(said("room", "hi"));
  await aTurn();
  const [args] = link.scripts(SAY_SCRIPT);
  expect(args!.slice(0, 7)).toEqual([
    "6",
    "chat:events",
    "chat:history-rooms",
    "chat:history-bytes",
    "chat:history-total",
    "chat:seq:room",
    "chat:history:room",
  ]);
  const argv = args!.slice(7);
  expect(argv.slice(0, 6)).toEqual(["inst", "1", "50", String(1 << 20), String(1 << 24), "86400000"]);
  expect(argv.slice(7, 10)).toEqual(["1", "1", "room"]);
  expect(JSON.parse(argv[10]!)).toEqual({ v: 1, batch: "inst:1", said: [said("room", "hi")] });
});

test("an instance has at most MAX_IN_FLIGHT_BYTES of its own on their way: the rest waits until batches come back", async () => {
  const { link, batches, numbered } = await setUp();
  // Redis numbers at once but the subscription hands the batches back only when the test says.
  const say = numberLikeRedis(link);
  const held: string[] = [];
  const answer = link.answer;
  link.answer = (command, args) => {
    if (command !== "EVAL") return answer(command, args);
    const hear = link.hear.bind(link);
    link.hear = (message) => void held.push(message);
    try {
      return say(args);
    } finally {
      link.hear = hear;
    }
  };
  const big = "w".repeat(200_000);
  for (let n = 1; n <= 40; n++) batches.say(said("flood", `${n} ${big}`)); // 8 MB
  await aTurn();
  const sentBytes = () =>
    link
      .scripts(SAY_SCRIPT)
      .flatMap((args) => args.slice(1 + Number(args[0]) + 7).filter((_, i) => i % 4 === 3))
      .reduce((sum, entry) => sum + Buffer.byteLength(entry), 0);
  expect(sentBytes()).toBeGreaterThanOrEqual(MAX_IN_FLIGHT_BYTES);
  expect(sentBytes()).toBeLessThan(MAX_IN_FLIGHT_BYTES + MAX_BATCH_BYTES * 2);
  // Batches come back: what waited goes, until all of it is numbered, in order.
  for (let round = 0; round < 20 && numbered.length < 40; round++) {
    for (const message of held.splice(0)) link.hear(message);
    await aTurn();
  }
  expect(numbered.map((e) => e.seq)).toEqual(Array.from({ length: 40 }, (_, n) => n + 1));
  expect(numbered.map((e) => Number(e.text.split(" ")[0]))).toEqual(Array.from({ length: 40 }, (_, n) => n + 1));
});
