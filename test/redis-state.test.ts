/**
 * Shared state through Redis (server/state/redis.ts): two RedisState instances on a real
 * redis-server, started here on a free port and stopped by its pid, see each other's changes;
 * `create` is atomic across them; both reload after a restart of Redis.
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Logger } from "../server/log";
import { RedisState } from "../server/state/redis";
import type { RowCheck, Table } from "../server/state/state";
import { type RunningRedis, startRedis, waitFor } from "./helpers";

interface Ban {
  reason: string;
}
const isBan: RowCheck<Ban> = (v) => (typeof (v as Ban | null)?.reason === "string" ? (v as Ban) : undefined);

/** Where redis-server keeps its dump: the same across a restart, so that it loads what it saved. */
const dir = mkdtempSync(join(tmpdir(), "chat-redis-state-"));
let redis: RunningRedis;
const states: RedisState[] = [];
let logs: string[] = [];

/** A RedisState started on the test's Redis, and its bans table. */
async function instance(): Promise<{ state: RedisState; bans: Table<Ban> }> {
  const state = new RedisState(redis.url, new Logger({ write: (text: string) => logs.push(text), writableLength: 0 }));
  states.push(state);
  const bans = state.table("bans", isBan);
  await state.start();
  return { state, bans };
}

const redisCli = (...args: string[]) =>
  Bun.spawnSync(["redis-cli", "-p", String(redis.port), ...args])
    .stdout.toString()
    .trim();

/** Waits until `check` holds, within 5 s. */
const until = (what: string, check: () => boolean) => waitFor(what, () => (check() ? true : undefined));

beforeAll(async () => {
  redis = await startRedis(undefined, (command) => [...command, "--dir", dir]);
});
afterAll(async () => {
  for (const state of states) state.close();
  await redis.stop();
  rmSync(dir, { recursive: true, force: true });
});

test("a row put on one instance is read on the other; a deletion crosses too; each hears every change", async () => {
  const [a, b] = [await instance(), await instance()];
  const heard: [string, Ban | undefined][] = [];
  b.bans.onChange((key, value) => heard.push([key, value]));
  await a.bans.put("203.0.113.0/24", { reason: "spam" });
  // Read at once where it was written, and on the other within a bound.
  expect(a.bans.get("203.0.113.0/24")).toEqual({ reason: "spam" });
  await until("the row on the other instance", () => b.bans.has("203.0.113.0/24"));
  expect(b.bans.get("203.0.113.0/24")).toEqual({ reason: "spam" });
  expect(redisCli("HGET", "chat:state:bans", "203.0.113.0/24")).toBe('{"reason":"spam"}');

  await b.bans.put("203.0.113.0/24", { reason: "spam, again" });
  await until("the change on the first instance", () => a.bans.get("203.0.113.0/24")?.reason === "spam, again");
  expect(await a.bans.delete("203.0.113.0/24")).toBe(true);
  expect(await a.bans.delete("203.0.113.0/24")).toBe(false);
  await until("the deletion on the other instance", () => !b.bans.has("203.0.113.0/24"));
  expect(heard).toEqual([
    ["203.0.113.0/24", { reason: "spam" }],
    ["203.0.113.0/24", { reason: "spam, again" }],
    ["203.0.113.0/24", undefined],
  ]);
});

test("create of the same key on both instances at once: exactly one succeeds, and both copies hold its row", async () => {
  const [a, b] = [await instance(), await instance()];
  for (let round = 0; round < 20; round++) {
    const key = `name-${round}`;
    const results = await Promise.all([a.bans.create(key, { reason: "a" }), b.bans.create(key, { reason: "b" })]);
    expect(results.filter(Boolean)).toHaveLength(1);
    const winner = results[0] ? "a" : "b";
    await until(
      `both copies of ${key}`,
      () => a.bans.get(key)?.reason === winner && b.bans.get(key)?.reason === winner,
    );
  }
});

test("while Redis is away, rows are still read and writes are refused with a sentence saying why; after a restart of Redis, both instances reload what it has", async () => {
  const [a, b] = [await instance(), await instance()];
  await a.bans.put("kept", { reason: "before the restart" });
  await a.bans.put("dropped", { reason: "deleted behind our back" });
  await until("the rows on the other instance", () => b.bans.has("kept") && b.bans.has("dropped"));
  // What Redis will have after its restart, changed behind the instances' backs (nothing published).
  redisCli("HSET", "chat:state:bans", "restored", '{"reason":"only in the dump"}');
  redisCli("HDEL", "chat:state:bans", "dropped");
  expect(redisCli("SAVE")).toBe("OK");
  logs = [];
  await redis.stop();
  await until("both instances to lose Redis", () => logs.filter((l) => l.includes("lost Redis")).length >= 2);

  expect(b.bans.get("kept")).toEqual({ reason: "before the restart" });
  await expect(a.bans.put("new", { reason: "x" })).rejects.toThrow(/^Redis is unreachable/);
  await expect(b.bans.create("new", { reason: "x" })).rejects.toThrow(
    "Redis is unreachable: the change to bans was not kept. Try again once it is back.",
  );

  redis = await startRedis(redis.port, (command) => [...command, "--dir", dir]);
  for (const { bans } of [a, b])
    await until("the reload", () => bans.has("restored") && !bans.has("dropped") && bans.has("kept"));
  // Changes flow again, numbered by the restarted Redis from where its dump left off.
  await b.bans.put("after", { reason: "the restart" });
  await until("a change after the restart", () => a.bans.get("after")?.reason === "the restart");
}, 30_000);
