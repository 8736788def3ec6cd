/** Healing a partition on the Redis side (server/redis/healing.ts), against a fake link. */
import { expect, test } from "bun:test";
import { History } from "../../server/history";
import type { Unnumbered } from "../../server/redis/batches";
import { Healing } from "../../server/redis/healing";
import { RAISE_SCRIPT } from "../../server/redis/keys";
import { FakeLink, FakeSink, said, testLog } from "./fake-link";

async function setUp(limit = 50) {
  const link = new FakeLink();
  const history = new History(limit);
  const sink = new FakeSink();
  const { log, lines } = testLog();
  const healing = new Healing(link, history, sink, log, 86_400_000);
  await link.start({ onConnect: async () => {}, onMessage: () => {}, onState: () => {}, onRetry: () => {} });
  await link.connect();
  return { link, history, sink, healing, lines };
}

test("cut off, what is said is delivered at once, provisionally, with the last shared number and an id", async () => {
  const { history, sink, healing } = await setUp();
  history.record({ ...said("a", "shared"), seq: 7 });
  healing.sayAlone({ ...said("a", "mine"), id: "client-id" });
  healing.sayAlone(said("a", "no id"));
  expect(sink.said.map((e) => [e.seq, e.text, e.provisional, e.id])).toEqual([
    [7, "mine", true, "client-id"],
    [7, "no id", true, expect.any(String)],
  ]);
});

test("once back, what was said alone is numbered in order, and its numbered copies are not delivered twice", async () => {
  const { sink, healing, lines } = await setUp();
  for (let n = 1; n <= 5; n++) healing.sayAlone({ ...said("a", `m${n}`), id: `i${n}` });
  const numbered: Unnumbered[][] = [];
  await healing.share(async (events) => void numbered.push(events), 2);
  expect(numbered.map((part) => part.map((e) => e.text))).toEqual([["m1", "m2"], ["m3", "m4"], ["m5"]]);
  // Nothing provisional goes to Redis.
  expect(numbered.flat().some((e) => "provisional" in e || "seq" in e)).toBe(false);
  expect(lines()).toEqual(["Redis: shared 5 messages said here while cut off"]);
  const back = { ...said("a", "m1"), id: "i1", seq: 12 };
  expect(healing.healed(back)).toBe(true);
  expect(healing.healed(back)).toBe(false);
  // Another sender's message with the same id is not ours.
  expect(healing.healed({ ...back, from: { name: null, address: "127.0.0.1:9" } })).toBe(false);
  expect(sink.said).toHaveLength(5);
});

test("on connecting, numbers used here are raised in Redis, and the shared history is loaded; after a partition, what was missed is delivered", async () => {
  const { link, history, sink, healing, lines } = await setUp(3);
  history.record({ ...said("a", "seen"), seq: 4 });
  const batch = (id: string, texts: string[]) =>
    JSON.stringify({ v: 1, batch: id, said: texts.map((t) => said("a", t)) });
  link.answer = (command) => {
    if (command === "ZREVRANGE") return ["a"];
    if (command === "ZRANGE")
      return [
        // Kept before the format had a version: one event with its number.
        [JSON.stringify({ ...said("a", "old"), seq: 3 }), 3],
        [batch("x:1", ["seen", "five", "six"]), 6],
        [JSON.stringify({ v: 9, batch: "future", said: [said("a", "unread")] }), 7],
      ];
    return null;
  };
  await healing.catchUp(true);
  expect(link.scripts(RAISE_SCRIPT)).toEqual([["1", "chat:seq:a", "4", "86400000"]]);
  expect(link.commands("ZRANGE")).toEqual([["chat:history:a", "-3", "-1", "WITHSCORES"]]);
  expect(sink.said.map((e) => [e.seq, e.text])).toEqual([
    [5, "five"],
    [6, "six"],
  ]);
  expect(history.recent("a").map((e) => e.text)).toEqual(["seen", "five", "six"]);
  expect(lines()).toEqual(["Redis: caught up 2 messages said on other instances meanwhile"]);
});

test("on first connecting, the shared history is only recorded, for replay: nobody here missed it", async () => {
  const { link, history, sink, healing } = await setUp();
  link.answer = (command) => {
    if (command === "ZREVRANGE") return ["a"];
    // RESP2's flat list of member, score.
    if (command === "ZRANGE") return [JSON.stringify({ v: 1, batch: "x:1", said: [said("a", "hi")] }), "1"];
    return null;
  };
  await healing.catchUp(false);
  expect(sink.said).toEqual([]);
  expect(history.lastSeq("a")).toBe(1);
});

test("a provisional message that Redis took after all (on its way when Redis stopped answering) is not shared, nor delivered, again", async () => {
  const { link, sink, healing } = await setUp();
  // Two messages on their way when the link was dropped: delivered here provisionally.
  healing.sayAlone({ ...said("a", "ran late"), id: "late" });
  healing.sayAlone(said("a", "plain text, no id"));
  healing.sayAlone({ ...said("a", "never ran"), id: "never" });
  // Redis ran the first two once it woke: they are in the shared history, numbered.
  link.answer = (command) => {
    if (command === "ZREVRANGE") return ["a"];
    if (command === "ZRANGE")
      return [
        [JSON.stringify({ v: 1, batch: "me:9", said: [{ ...said("a", "ran late"), id: "late" }] }), 1],
        [JSON.stringify({ v: 1, batch: "me:10", said: [said("a", "plain text, no id")] }), 2],
      ];
    return null;
  };
  await healing.catchUp(true);
  const numbered: Unnumbered[][] = [];
  await healing.share(async (events) => void numbered.push(events), 10);
  expect(numbered.flat().map((e) => e.text)).toEqual(["never ran"]);
  // Only the three provisional copies reached this instance's people.
  expect(sink.said.map((e) => [e.text, e.provisional])).toEqual([
    ["ran late", true],
    ["plain text, no id", true],
    ["never ran", true],
  ]);
});
