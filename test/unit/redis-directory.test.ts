/**
 * The Redis directory's wiring (server/redis/directory.ts), the envelopes' format (envelopes.ts)
 * and the failures' count and log (failures.ts), against a fake link: while Redis is away the
 * directory answers as a single instance does; envelopes of another version are skipped.
 */
import { expect, test } from "bun:test";
import type { NoticeEvent, PrivateEvent, User } from "../../common/events";
import { LocalDirectory } from "../../server/directory";
import { History } from "../../server/history";
import { RedisDirectory } from "../../server/redis/directory";
import * as envelopes from "../../server/redis/envelopes";
import { Failures } from "../../server/redis/failures";
import { CLAIM_NAME_SCRIPT, SAY_SCRIPT } from "../../server/redis/keys";
import { aTurn, FakeLink, FakeSink, newMetrics, numberLikeRedis, said, testLog } from "./fake-link";

const alice: User = { name: "alice", address: "127.0.0.1:1" };
const bob: User = { name: "bob", address: "127.0.0.1:2" };
const join: NoticeEvent = {
  type: "notice",
  event: "join",
  room: "lobby",
  time: "2025-01-01T00:00:00.000Z",
  user: bob,
  text: "bob joined",
};

async function setUp() {
  const link = new FakeLink();
  const say = numberLikeRedis(link);
  link.answer = (command, args) => {
    if (command === "EVAL" && args[0] === SAY_SCRIPT) return say(args);
    if (command === "SCAN") return ["0", []];
    return command === "ZREVRANGE" || command === "MGET" ? [] : null;
  };
  const sink = new FakeSink();
  const metrics = newMetrics();
  const { log, lines } = testLog();
  const directory = new RedisDirectory(sink, new History(50), {
    link,
    log,
    metrics,
    historyBytes: 1 << 20,
    idleDays: 1,
  });
  await directory.start();
  return { link, sink, metrics, lines, directory };
}

test("while Redis is away, the directory answers as a single instance does, sending nothing", async () => {
  const { link, sink, directory } = await setUp();
  const local = new LocalDirectory(new FakeSink(), new History(50));
  expect(directory.health()).toEqual({ degraded: true, redis: "unreachable" });
  expect(directory.elsewhere("lobby")).toEqual(local.elsewhere("lobby"));
  expect([...directory.roomsElsewhere()]).toEqual([...local.roomsElsewhere()]);
  expect(directory.claimName("alice", alice.address, "t")).toBe(local.claimName("alice", alice.address, "t"));
  directory.present("lobby", alice);
  directory.notice(join);
  directory.releaseName("alice", alice.address, "t", 0);
  // What is said reaches this instance's people at once, provisionally.
  directory.say(said("lobby", "alone"));
  expect(sink.said.map((e) => [e.text, e.provisional])).toEqual([["alone", true]]);
  expect(link.sent).toEqual([]);
  expect(link.published).toEqual([]);
});

test("once connected, the shared chat answers: presence, notices and names go to Redis, what is said comes back numbered", async () => {
  const { link, sink, directory } = await setUp();
  sink.people = [{ room: "lobby", user: alice, tokenHash: "t" }];
  directory.say(said("lobby", "alone"));
  await link.connect();
  expect(directory.health()).toEqual({ degraded: false, redis: "connected" });
  // What was said alone was shared while catching up, and not delivered twice.
  expect(link.scripts(SAY_SCRIPT)).toHaveLength(1);
  expect(sink.said.map((e) => [e.text, e.seq, e.provisional])).toEqual([["alone", 0, true]]);

  const numbering = link.answer;
  link.answer = () => null;
  directory.claimName("carol", "127.0.0.1:3", "t3");
  directory.notice(join);
  link.hear(envelopes.presenceEnvelope("other", "lobby", bob.address, bob));
  expect(directory.elsewhere("lobby").count).toBe(1);
  expect(link.scripts(CLAIM_NAME_SCRIPT)).toHaveLength(1);
  expect(link.published.map((m) => JSON.parse(m))).toContainEqual({ v: 1, instance: directory.instance, notice: join });
  // Another instance's notice is delivered here; this instance's own is not (it was, already).
  link.hear(envelopes.noticeEnvelope("other", join));
  link.hear(envelopes.noticeEnvelope(directory.instance, join));
  expect(sink.notices).toEqual([join]);

  link.answer = numbering;
  directory.say(said("lobby", "shared"));
  await aTurn();
  // "alone" was numbered 1 as it was shared: recorded here, not delivered again.
  expect(sink.said.map((e) => [e.text, e.seq])).toEqual([
    ["alone", 0],
    ["shared", 2],
  ]);
});

test("an envelope of another version is counted and skipped, not misread; the log says so once", async () => {
  const { link, sink, metrics, lines, directory } = await setUp();
  await link.connect();
  link.hear(JSON.stringify({ v: 2, instance: "newer", batch: 1, first: [1] }));
  link.hear(JSON.stringify({ v: 2, batch: "newer:1", said: [said("lobby", "from the future")] }));
  link.hear(JSON.stringify({ instance: "older", event: join }));
  link.hear("not JSON");
  expect(sink.said).toEqual([]);
  expect(sink.notices).toEqual([]);
  expect(metrics.redisSkipped).toEqual(
    new Map([
      ["version", 3],
      ["malformed", 1],
    ]),
  );
  expect(lines().filter((line) => line.includes("skipped"))).toEqual([
    "Redis: skipped an envelope of another version of the format: is another release of the server sharing this Redis?",
    "Redis: skipped an envelope that is not one of ours",
  ]);
  directory.close();
});

test("every envelope written is read back as written", () => {
  const notice = envelopes.readEnvelope(envelopes.noticeEnvelope("i", join));
  expect(notice).toEqual({ kind: "notice", instance: "i", notice: join });
  expect(envelopes.readEnvelope(envelopes.presenceEnvelope("i", "lobby", alice.address, alice))).toEqual({
    kind: "presence",
    instance: "i",
    room: "lobby",
    address: alice.address,
    user: alice,
  });
  expect(envelopes.readEnvelope(envelopes.presenceEnvelope("i", "lobby", alice.address)).kind).toBe("presence");
  const dm: PrivateEvent = { type: "dm", from: alice, to: bob, text: "x", time: "t", id: "d", kept: true };
  expect(envelopes.readEnvelope(envelopes.privateEnvelope("i", dm))).toEqual({
    kind: "private",
    instance: "i",
    event: dm,
  });
  expect(envelopes.readMember(envelopes.memberEntry("i", alice))).toEqual({ instance: "i", user: alice });
  const id = envelopes.batchId("i", 3);
  const entry = envelopes.roomEntry(id, [said("lobby", "x")]);
  expect(entry.startsWith(envelopes.roomEntryPrefix(id))).toBe(true);
  expect(envelopes.readRoomEntry(entry, 10)).toEqual([{ ...said("lobby", "x"), seq: 10 }]);
  expect(envelopes.readHistoryEntry(entry, 10)).toEqual([{ ...said("lobby", "x"), seq: 10 }]);
  // What SAY_SCRIPT and REGISTER_NAME_SCRIPT write in Lua carries the version too.
  expect(envelopes.BATCH_HEADER_LUA).toStartWith(`'{"v":${envelopes.VERSION},`);
  expect(envelopes.NAME_LOST_LUA).toContain(`v = ${envelopes.VERSION}`);
  // A presence whose user is not one is not taken for someone leaving.
  const bad = JSON.stringify({ v: 1, instance: "i", presence: { room: "r", address: "a", user: { name: 5 } } });
  expect(envelopes.readEnvelope(bad)).toEqual({ kind: "skipped", reason: "malformed" });
});

test("failures are counted each time and logged at most once per kind every 10 s, with how many more there were", () => {
  let now = 0;
  const metrics = newMetrics();
  const { log, lines } = testLog();
  const failures = new Failures(log, metrics, () => now);
  for (let n = 0; n < 5; n++) failures.count("presence", new Error("Connection closed"));
  failures.count("say", new Error("OOM"));
  now = 9_000;
  failures.count("presence", new Error("Connection closed"));
  now = 12_000;
  failures.count("presence", new Error("Connection closed"));
  expect(metrics.redisErrors).toEqual(
    new Map([
      ["presence", 7],
      ["say", 1],
    ]),
  );
  expect(lines()).toEqual([
    "Redis: presence failed (Connection closed)",
    "Redis: say failed (OOM)",
    "Redis: presence failed (Connection closed) (and 5 more like it in the last 12 s)",
  ]);
});

test("a private message: delivered here at once while Redis is away; once connected, published, and delivered as it comes back", async () => {
  const { link, sink, metrics, directory } = await setUp();
  const message: PrivateEvent = {
    type: "dm",
    from: alice,
    to: bob,
    text: "psst",
    time: "2025-01-01T00:00:00.000Z",
    id: "p1",
  };
  directory.tell(message);
  expect(sink.privates).toEqual([message]);
  expect(link.published).toEqual([]);

  await link.connect();
  // Who holds which name elsewhere, from presence: renames and leaving follow.
  link.hear(envelopes.presenceEnvelope("other", "lobby", bob.address, bob));
  expect(directory.namedElsewhere("BOB")).toEqual(bob);
  link.hear(envelopes.presenceEnvelope("other", "lobby", bob.address, { ...bob, name: "robert" }));
  expect(directory.namedElsewhere("bob")).toBeUndefined();
  expect(directory.namedElsewhere("robert")).toEqual({ ...bob, name: "robert" });
  link.hear(envelopes.presenceEnvelope("other", "lobby", bob.address));
  expect(directory.namedElsewhere("robert")).toBeUndefined();

  directory.tell({ ...message, id: "p2" });
  expect(link.published.map((m) => JSON.parse(m))).toEqual([
    { v: 1, instance: directory.instance, dm: { ...message, id: "p2" } },
  ]);
  expect(sink.privates).toHaveLength(1); // not yet: it comes back through the channel, as everyone's
  link.hear(link.published[0]!);
  link.hear(envelopes.privateEnvelope("other", { ...message, id: "p3", from: bob, to: alice }));
  expect(sink.privates.map((e) => e.id)).toEqual(["p1", "p2", "p3"]);
  // A private envelope that is not a private message is skipped, and counted.
  link.hear(JSON.stringify({ v: 1, instance: "other", dm: { type: "message", text: "x" } }));
  expect(sink.privates).toHaveLength(3);
  expect(metrics.redisSkipped.get("malformed")).toBe(1);
});
