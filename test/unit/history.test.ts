/** History (server/history.ts): numbering, replay, resuming, and the SQLite store across a restart. */

import { Database } from "bun:sqlite";
import { afterAll, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { SaidEvent } from "../../common/events";
import { History } from "../../server/history";

const said = (room: string, text: string): Omit<SaidEvent, "seq"> => ({
  type: "message",
  room,
  time: "t",
  from: { name: null, address: "a:1" },
  text,
});
const dir = mkdtempSync(join(tmpdir(), "chat-history-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

test("each room numbers its messages from 1", () => {
  const history = new History(10);
  expect([history.add(said("a", "1")).seq, history.add(said("a", "2")).seq, history.add(said("b", "1")).seq]).toEqual([
    1, 2, 1,
  ]);
  expect(history.lastSeq("a")).toBe(2);
  expect(history.lastSeq("nobody")).toBe(0);
});

test("recent() replays at most the limit, oldest first, marked as history", () => {
  const history = new History(3);
  for (let i = 1; i <= 10; i++) history.add(said("a", String(i)));
  expect(history.recent("a").map((e) => [e.text, e.history])).toEqual([
    ["8", true],
    ["9", true],
    ["10", true],
  ]);
  expect(new History(0).recent("a")).toEqual([]);
});

test("since() gives what a resuming client missed, and counts what is too far back", () => {
  const history = new History(3);
  for (let i = 1; i <= 10; i++) history.add(said("a", String(i)));
  expect(history.since("a", 8).events.map((e) => e.seq)).toEqual([9, 10]);
  expect(history.since("a", 8).missed).toBe(0);
  const far = history.since("a", 2);
  // What is given runs without a gap up to the newest; what is missed is exactly the rest.
  const seqs = far.events.map((e) => e.seq);
  expect(seqs).toEqual(Array.from({ length: seqs.length }, (_, i) => 11 - seqs.length + i));
  expect(far.missed + seqs.length).toBe(10 - 2);
  // A seq beyond the room's own: the server started over; answered like a first visit.
  expect(history.since("a", 99)).toEqual({ events: history.recent("a"), missed: 0 });
});

test("record() keeps events numbered elsewhere once, in order", () => {
  const history = new History(10);
  const event = { ...said("a", "x"), seq: 5 };
  expect(history.record(event)).toBe(true);
  expect(history.record(event)).toBe(false);
  expect(history.record({ ...event, seq: 4 })).toBe(false);
  expect(history.add(said("a", "next")).seq).toBe(6);
});

test("with a store, history and numbering survive a restart", () => {
  const file = join(dir, "store.sqlite");
  const first = new History(5, file);
  for (let i = 1; i <= 7; i++) first.add(said("a", String(i)));
  first.close();
  const second = new History(5, file);
  expect(second.lastSeq("a")).toBe(7);
  expect(second.recent("a").map((e) => e.text)).toEqual(["3", "4", "5", "6", "7"]);
  expect(second.add(said("a", "8")).seq).toBe(8);
  second.close();
});

test("a bot's message (the HTTP API) is kept marked in the store, and a store made before the mark opens", () => {
  const file = join(dir, "bots.sqlite");
  // A store as it was before the bot column: its rows are people's.
  const old = new Database(file, { create: true });
  old.run(`CREATE TABLE events (room TEXT NOT NULL, seq INTEGER NOT NULL, time TEXT NOT NULL, type TEXT NOT NULL,
    name TEXT, address TEXT NOT NULL, text TEXT NOT NULL, id TEXT, PRIMARY KEY (room, seq)) WITHOUT ROWID`);
  old.run("INSERT INTO events VALUES ('a', 1, 't', 'message', 'ana', '127.0.0.1:1', 'hi', NULL)");
  old.close();
  const first = new History(5, file);
  first.add({ ...said("a", "build green"), from: { name: "ci", address: "127.0.0.1:5555", bot: true } });
  first.close();
  const second = new History(5, file);
  expect(second.recent("a").map((e) => e.from)).toEqual([
    { name: "ana", address: "127.0.0.1:1" },
    { name: "ci", address: "127.0.0.1:5555", bot: true },
  ]);
  second.close();
});

test("the store keeps at most --store-keep messages per room and none older than --store-days; numbering survives", () => {
  const file = join(dir, "retention.sqlite");
  const history = new History(5, file, { storeKeep: { perRoom: 10, days: 30 } });
  const old = new Date(Date.now() - 40 * 86_400_000).toISOString();
  for (let i = 1; i <= 3; i++) history.add({ ...said("b", `old ${i}`), time: old });
  for (let i = 1; i <= 25; i++) history.add({ ...said("a", String(i)), time: new Date().toISOString() });
  history.flush();
  history.pruneOld();
  history.close();
  const db = new Database(file, { readonly: true });
  try {
    const rows = db
      .query<{ room: string; n: number; low: number; high: number }, []>(
        "SELECT room, count(*) AS n, min(seq) AS low, max(seq) AS high FROM events GROUP BY room",
      )
      .all();
    expect(rows).toEqual([{ room: "a", n: 10, low: 16, high: 25 }]);
  } finally {
    db.close();
  }
  const reopened = new History(5, file);
  expect(reopened.add(said("a", "26")).seq).toBe(26);
  reopened.close();
});

test("older messages page backwards: from memory without a store, from the store with one, --history at a time", () => {
  const memory = new History(3);
  for (let i = 1; i <= 5; i++) memory.add(said("a", String(i)));
  // Memory keeps up to twice --history between trims: 1 to 5 here.
  expect(memory.before("a", 5)).toEqual({
    events: ["2", "3", "4"].map((text, i) => expect.objectContaining({ seq: i + 2, text, history: true })),
    start: false,
  });
  expect(memory.before("a", 2).events.map((e) => e.seq)).toEqual([1]);
  expect(memory.before("a", 2).start).toBe(true);
  const file = join(dir, "paging.sqlite");
  const stored = new History(3, file);
  for (let i = 1; i <= 20; i++) stored.add(said("a", String(i)));
  expect(stored.before("a", 10).events.map((e) => e.seq)).toEqual([7, 8, 9]);
  expect(stored.before("a", 3)).toMatchObject({ start: true });
  expect(stored.before("a", 3).events.map((e) => e.seq)).toEqual([1, 2]);
  stored.close();
});

test("the store is bounded in bytes (--store-bytes): past it the oldest messages go first, and the file stops growing", () => {
  const file = join(dir, "bounded.db");
  const bound = 2 * 2 ** 20;
  const history = new History(5, file, { storeKeep: { perRoom: 100_000, days: 0, bytes: bound } });
  const big = "y".repeat(8_000);
  // 10 MiB said into 40 rooms, the oldest rooms first: five times the bound.
  for (let room = 0; room < 40; room++) {
    for (let n = 0; n < 33; n++)
      history.add({
        ...said(`r${room}`, `${n} ${big}`),
        time: new Date(Date.UTC(2026, 0, 1, 0, room, n)).toISOString(),
      });
    history.flush();
  }
  expect(history.storeBytes()).toBeLessThanOrEqual(bound);
  history.close();
  const db = new Database(file, { readonly: true });
  const rooms = db
    .query<{ room: string }, []>("SELECT DISTINCT room FROM events ORDER BY room")
    .all()
    .map((r) => r.room);
  db.close();
  // The newest rooms kept theirs; the oldest lost theirs.
  expect(rooms).toContain("r39");
  expect(rooms).not.toContain("r0");
  const onDisk = Bun.file(file).size + (Bun.file(`${file}-wal`).size || 0);
  expect(onDisk).toBeLessThan(4 * bound);
});
