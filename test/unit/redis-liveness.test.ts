/** Presence and liveness on the Redis side (server/redis/liveness.ts), against a fake link. */
import { expect, test } from "bun:test";
import type { User } from "../../common/events";
import { Failures } from "../../server/redis/failures";
import { Liveness } from "../../server/redis/liveness";
import { aTurn, FakeLink, newMetrics, testLog } from "./fake-link";

const alice: User = { name: "alice", address: "127.0.0.1:1" };
const bob: User = { name: "bob", address: "127.0.0.1:2" };

async function setUp(people: { room: string; user: User }[] = []) {
  const link = new FakeLink();
  const departed: [string, User][] = [];
  let beats = 0;
  const metrics = newMetrics();
  const { log, lines } = testLog();
  const owner = {
    instance: "me",
    everyone: () => people,
    departed: (room: string, user: User) => void departed.push([room, user]),
    beat: () => void beats++,
  };
  const liveness = new Liveness(link, owner, new Failures(log, metrics));
  await link.start({ onConnect: async () => {}, onMessage: () => {}, onState: () => {}, onRetry: () => {} });
  await link.connect();
  return { link, liveness, departed, beats: () => beats, metrics, lines };
}

test("someone entering or leaving is kept in the room's hash and told to the other instances", async () => {
  const { link, liveness } = await setUp();
  liveness.present("lobby", alice);
  liveness.absent("lobby", alice.address);
  await aTurn();
  expect(link.sent).toEqual([
    ["HSET", ["chat:members:lobby", alice.address, JSON.stringify({ v: 1, instance: "me", user: alice })]],
    ["HDEL", ["chat:members:lobby", alice.address]],
  ]);
  expect(link.published.map((m) => JSON.parse(m))).toEqual([
    { v: 1, instance: "me", presence: { room: "lobby", address: alice.address, user: alice } },
    { v: 1, instance: "me", presence: { room: "lobby", address: alice.address } },
  ]);
});

test("the other instances' people are mirrored as they come and go; this instance's own are not", async () => {
  const { liveness } = await setUp();
  liveness.heard("other", "lobby", alice.address, alice);
  liveness.heard("other", "lobby", bob.address, bob);
  liveness.heard("me", "lobby", "127.0.0.1:3", { name: "me", address: "127.0.0.1:3" });
  expect(liveness.others.inRoom("lobby").count).toBe(2);
  liveness.heard("other", "lobby", alice.address, undefined);
  expect([...liveness.others.inRoom("lobby").users]).toEqual([bob]);
  expect([...liveness.others.rooms()]).toEqual([["lobby", 1]]);
});

test("on connecting, the others' people are loaded from Redis, less those of instances no longer alive", async () => {
  const { link, liveness, departed } = await setUp();
  link.answer = (command, args) => {
    if (command === "SCAN") return ["0", ["chat:members:lobby"]];
    if (command === "HGETALL")
      return {
        [alice.address]: JSON.stringify({ v: 1, instance: "alive", user: alice }),
        [bob.address]: JSON.stringify({ v: 1, instance: "dead", user: bob }),
        "127.0.0.1:9": "not ours",
      };
    if (command === "MGET") return args.map((key) => (key.endsWith("alive") ? "1" : null));
    return null;
  };
  await liveness.load();
  expect([...liveness.others.inRoom("lobby").users]).toEqual([alice]);
  // Dropped from Redis too, but nobody is told: this instance never showed them.
  expect(link.commands("HDEL")).toEqual([["chat:members:lobby", bob.address]]);
  expect(departed).toEqual([]);
});

test("on registering, the instance says it is alive and who is here; each beat says so again and drops the dead, telling their rooms", async () => {
  const { link, liveness, departed, beats } = await setUp([{ room: "lobby", user: alice }]);
  await liveness.register();
  expect(link.sent[0]).toEqual(["SET", ["chat:instance:me", "1", "PX", "6000"]]);
  expect(link.commands("HSET")).toEqual([
    ["chat:members:lobby", alice.address, JSON.stringify({ v: 1, instance: "me", user: alice })],
  ]);
  liveness.heard("gone", "lobby", bob.address, bob);
  link.answer = (command, args) => (command === "MGET" ? args.map(() => null) : null);
  liveness.beat();
  await aTurn();
  expect(link.commands("SET")).toHaveLength(2);
  expect(departed).toEqual([["lobby", bob]]);
  expect(liveness.others.inRoom("lobby").count).toBe(0);
  expect(beats()).toBe(1);
  liveness.close();
  expect(link.commands("DEL")).toEqual([["chat:instance:me"]]);
});

test("a beat while Redis is away does nothing; a failed command is counted and logged once", async () => {
  const { link, liveness, metrics, lines, beats } = await setUp();
  link.lose();
  liveness.beat();
  expect(beats()).toBe(0);
  liveness.present("lobby", alice);
  await aTurn();
  expect(metrics.redisErrors.get("presence")).toBe(2);
  expect(lines()).toEqual(["Redis: presence failed (Connection closed)"]);
});
