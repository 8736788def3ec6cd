/**
 * The parts of accounts that stand alone: the guessing budgets (attempts.ts), the hashing queue
 * (passwords.ts), lists of people (people.ts), and the --store file followed for the command
 * line's changes (state/local.ts).
 */
import { Database } from "bun:sqlite";
import { expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ManualClock } from "../../common/clock";
import { Attempts } from "../../server/accounts/attempts";
import { HashQueue, type Passwords, passwordProblem } from "../../server/accounts/passwords";
import { onePerPerson } from "../../server/accounts/people";
import { LocalState } from "../../server/state/local";

/** `count` attempts one after another, as they come in: their answers. */
async function inTurn<T>(count: number, attempt: (i: number) => Promise<T>): Promise<T[]> {
  const answers: T[] = [];
  for (let i = 0; i < count; i++) answers.push(await attempt(i));
  return answers;
}

test("a flood of guesses from elsewhere uses up the account's budget, yet the owner's own address still gets in", async () => {
  const clock = new ManualClock(0);
  const attempts = new Attempts(clock, new LocalState(undefined));
  try {
    attempts.succeeded("198.51.100.7", "alice"); // the owner logged in from home once
    // A botnet: 40 addresses, each trying alice until refused.
    let tried = 0;
    for (let n = 0; n < 40; n++) while ((await attempts.take(`203.0.113.${n}`, "alice", true)) === undefined) tried++;
    expect(tried).toBe(20); // the account's budget for addresses it does not know
    expect(await attempts.take("203.0.113.99", "alice", true)).toEqual({ waitSeconds: 30, whose: "this account" });
    // From home, the owner is not held up by the flood.
    expect(await attempts.take("198.51.100.7", "alice", true)).toBeUndefined();
    // Other accounts are not touched by it.
    expect(await attempts.take("203.0.113.99", "bob", true)).toBeUndefined();
    // Time refills it: one more guess every 30 s.
    clock.advance(30_000);
    expect(await attempts.take("203.0.113.98", "alice", true)).toBeUndefined();
  } finally {
    attempts.stop();
  }
});

test("one address: 5 guesses at one account, 10 at all accounts together, then it waits", async () => {
  const clock = new ManualClock(0);
  const attempts = new Attempts(clock, new LocalState(undefined));
  try {
    const results = await inTurn(6, () => attempts.take("192.0.2.1", "alice", true));
    expect(results.slice(0, 5)).toEqual([undefined, undefined, undefined, undefined, undefined]);
    expect(results[5]).toEqual({ waitSeconds: 60, whose: "your address for this name" });
    const others = await inTurn(6, (i) => attempts.take("192.0.2.1", `name${i}`, false));
    expect(others.filter((r) => r === undefined)).toHaveLength(5);
    expect(others[5]).toEqual({ waitSeconds: 6, whose: "your address" });
    // Forgotten once full again: memory comes back.
    clock.advance(3_600_000);
    attempts.forgetFull();
    expect(await attempts.take("192.0.2.1", "alice", true)).toBeUndefined();
  } finally {
    attempts.stop();
  }
});

test("the hashing queue runs a few at once, lets a trusted attempt go first, and refuses past its length", async () => {
  const started: string[] = [];
  const release: (() => void)[] = [];
  const passwords: Passwords = {
    hash: async (p) => p,
    verify: (p) =>
      new Promise((resolve) => {
        started.push(p);
        release.push(() => resolve(false));
      }),
  };
  const queue = new HashQueue(passwords, 1, 1);
  const running = [queue.verify("first", "h"), queue.verify("second", "h")];
  // The others' line is full; a trusted attempt has a line of its own.
  expect(queue.verify("fourth", "h")).toBeUndefined();
  running.push(queue.verify("trusted", "h", true));
  expect(queue.verify("trusted again", "h", true)).toBeUndefined();
  expect(started).toEqual(["first"]);
  for (let i = 0; i < 3; i++) {
    await Bun.sleep(1);
    release.shift()?.();
  }
  await Promise.all(running);
  expect(started).toEqual(["first", "trusted", "second"]);
});

test("a password is 8 characters to 1,024 bytes", () => {
  expect(passwordProblem("1234567")).toBe("A password needs at least 8 characters; that one has 7.");
  expect(passwordProblem("ääääääää")).toBeUndefined();
  expect(passwordProblem("é".repeat(513))).toBe("A password can be at most 1024 bytes; that one has 1026.");
  expect(passwordProblem("\0".repeat(10))).toBe("A password cannot have control characters (tabs, line breaks, NUL…).");
  expect(passwordProblem("correct horse")).toBeUndefined();
});

test("a list of people has each registered name once, with its connections, where its last one was", () => {
  const alice = (address: string) => ({ name: "alice", address, registered: true as const });
  const users = [alice("a:1"), { name: "bob", address: "b:1" }, alice("a:2"), { name: null, address: "c:1" }];
  expect(onePerPerson(users)).toEqual([
    { name: "bob", address: "b:1" },
    { ...alice("a:2"), connections: 2 },
    { name: null, address: "c:1" },
  ]);
  const guests = [{ name: "bob", address: "b:1" }];
  expect(onePerPerson(guests)).toBe(guests);
});

test("the --store file's tables follow what another process (the command line) writes to it", async () => {
  const dir = mkdtempSync(join(tmpdir(), "state-"));
  const server = new Database(join(dir, "chat.db"));
  const cli = new Database(join(dir, "chat.db"));
  try {
    const ours = new LocalState(server);
    const table = ours.table<{ name: string }>("accounts", (v) => v as { name: string });
    const heard: [string, unknown][] = [];
    table.onChange((key, value) => heard.push([key, value]));
    expect(ours.reloadIfChanged()).toBe(false);
    await new LocalState(cli)
      .table<{ name: string }>("accounts", (v) => v as { name: string })
      .put("bob", { name: "bob" });
    expect(ours.reloadIfChanged()).toBe(true);
    expect(heard).toEqual([["bob", { name: "bob" }]]);
    // Its own writes are not news.
    await table.put("carol", { name: "carol" });
    expect(ours.reloadIfChanged()).toBe(false);
    // A row the other process made a moment ago, not yet heard of here, is not made twice.
    await new LocalState(cli)
      .table<{ name: string }>("accounts", (v) => v as { name: string })
      .put("dave", { name: "cli" });
    expect(await table.create("dave", { name: "server" })).toBe(false);
    ours.reloadIfChanged();
    expect(table.get("dave")).toEqual({ name: "cli" });
  } finally {
    server.close();
    cli.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test("a right password gives back what it took: the owner's script logging in again and again never runs out", async () => {
  const clock = new ManualClock(0);
  const attempts = new Attempts(clock, new LocalState(undefined));
  try {
    for (let n = 0; n < 30; n++) {
      expect(await attempts.take("192.0.2.1", "alice", true)).toBeUndefined();
      attempts.succeeded("192.0.2.1", "alice");
    }
    // Wrong guesses from the same address are still budgeted: 5 at this account, then a wait.
    const wrong = await inTurn(6, () => attempts.take("192.0.2.1", "alice", true));
    expect(wrong.filter((r) => r === undefined)).toHaveLength(5);
    expect(wrong[5]).toEqual({ waitSeconds: 60, whose: "your address for this name" });
  } finally {
    attempts.stop();
  }
});

test("a flood from more addresses than the budgets' table holds never locks the owner out", async () => {
  const clock = new ManualClock(0);
  const attempts = new Attempts(clock, new LocalState(undefined));
  try {
    attempts.succeeded("198.51.100.7", "alice");
    // 60,000 addresses, each guessing a name of its own: 120,000 budgets, more than are kept.
    for (let n = 0; n < 60_000; n++)
      await attempts.take(`10.${n >> 16}.${(n >> 8) & 255}.${n & 255}`, `name${n}`, false);
    expect(await attempts.take("198.51.100.7", "alice", true)).toBeUndefined();
    expect(await attempts.register("192.0.2.50")).toBeUndefined();
  } finally {
    attempts.stop();
  }
});
