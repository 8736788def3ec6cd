/** Name claims on the Redis side and their reconciliation (server/redis/claims.ts), against a fake link. */
import { expect, test } from "bun:test";
import { NameClaims } from "../../server/redis/claims";
import { Failures } from "../../server/redis/failures";
import { CLAIM_NAME_SCRIPT, REGISTER_NAME_SCRIPT, RELEASE_NAME_SCRIPT } from "../../server/redis/keys";
import { FakeLink, newMetrics, testLog } from "./fake-link";

async function setUp() {
  const link = new FakeLink();
  const metrics = newMetrics();
  const { log, lines } = testLog();
  const claims = new NameClaims("me", link, new Failures(log, metrics));
  await link.start({ onConnect: async () => {}, onMessage: () => {}, onState: () => {}, onRetry: () => {} });
  await link.connect();
  return { link, claims, metrics, lines };
}

test("a claim asks Redis, which answers free, taken, or held for someone's return", async () => {
  const { link, claims } = await setUp();
  const replies: unknown[] = [null, "taken", "held 1500"];
  link.answer = () => replies.shift();
  expect(await claims.claim("alice", "127.0.0.1:1", "t1")).toBe("free");
  expect(await claims.claim("bob", "127.0.0.1:2", "t2")).toBe("taken");
  expect(await claims.claim("carol", "127.0.0.1:3", "t3")).toEqual({ heldMs: 1500 });
  const [first] = link.scripts(CLAIM_NAME_SCRIPT);
  expect(first!.slice(0, 6)).toEqual(["1", "chat:name:alice", "me", "127.0.0.1:1", "chat:instance:", "t1"]);
  // Only the name given is this instance's to forget later.
  expect(claims.forget("alice", "127.0.0.1:1")).toBe(true);
  expect(claims.forget("bob", "127.0.0.1:2")).toBe(false);
});

test("names given while cut off are registered once Redis is back; the earlier claim elsewhere keeps a name given twice", async () => {
  const { link, claims } = await setUp();
  claims.claimedAlone("twin", "127.0.0.1:1", "t1");
  claims.claimedAlone("solo", "127.0.0.1:2", "t2");
  link.answer = (_command, args) => (args[2] === "chat:name:twin" ? "lost" : "kept");
  const people = [
    { name: "twin", address: "127.0.0.1:1", tokenHash: "t1" },
    { name: "solo", address: "127.0.0.1:2", tokenHash: "t2" },
  ];
  expect(await claims.register(people)).toEqual([{ name: "twin", address: "127.0.0.1:1" }]);
  expect(link.scripts(REGISTER_NAME_SCRIPT).map((args) => args[1])).toEqual(["chat:name:twin", "chat:name:solo"]);
  // The lost name is no longer this instance's; the kept one still is.
  expect(claims.forget("twin", "127.0.0.1:1")).toBe(false);
  expect(claims.forget("solo", "127.0.0.1:2")).toBe(true);
});

test("a name let go of while cut off is let go of in Redis once it is back, held for what is left of its grace", async () => {
  const { link, claims } = await setUp();
  claims.claimedAlone("gone", "127.0.0.1:1", "t1");
  claims.releasedAlone("gone", "127.0.0.1:1", "t1", 60_000);
  await claims.register([]);
  const [release] = link.scripts(RELEASE_NAME_SCRIPT);
  expect(release!.slice(0, 5)).toEqual(["1", "chat:name:gone", "me", "127.0.0.1:1", "t1"]);
  expect(Number(release![5])).toBeGreaterThan(59_000);
  expect(Number(release![5])).toBeLessThanOrEqual(60_000);
  // Once only.
  await claims.settle();
  expect(link.scripts(RELEASE_NAME_SCRIPT)).toHaveLength(1);
});

test("a claim Redis fails is given here as if cut off, counted, and registered at the next settling", async () => {
  const { link, claims, metrics, lines } = await setUp();
  link.answer = () => {
    throw new Error("READONLY");
  };
  await expect(claims.claim("alice", "127.0.0.1:1", "t1")).rejects.toThrow("READONLY");
  expect(metrics.redisErrors.get("name-claim")).toBe(1);
  expect(lines()).toEqual(["Redis: name-claim failed (READONLY)"]);
  link.answer = () => "kept";
  expect(await claims.settle()).toEqual([]);
  expect(link.scripts(REGISTER_NAME_SCRIPT).map((args) => args[1])).toEqual(["chat:name:alice"]);
});

test("a release Redis fails is counted, not thrown", async () => {
  const { link, claims, metrics } = await setUp();
  link.lose();
  claims.release("alice", "127.0.0.1:1", "t1", 0);
  await Bun.sleep(0);
  expect(metrics.redisErrors.get("name-release")).toBe(1);
});
