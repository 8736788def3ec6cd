/** Shared, durable state (server/state/): tables of rows, kept in memory or in the --store file. */
import { Database } from "bun:sqlite";
import { describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { LocalState } from "../../server/state/local";
import type { RowCheck } from "../../server/state/state";
import { waitFor } from "../../tools/processes";

interface Ban {
  reason: string;
  until: number | null;
}
const isBan: RowCheck<Ban> = (v) => {
  const row = v as Partial<Ban> | null;
  return typeof row?.reason === "string" && (row.until === null || typeof row.until === "number")
    ? (row as Ban)
    : undefined;
};

describe("state in memory", () => {
  test("rows are written, read at once, created only once, deleted; every change is heard", async () => {
    const state = new LocalState(undefined);
    const bans = state.table("bans", isBan);
    const heard: [string, Ban | undefined][] = [];
    bans.onChange((key, value) => heard.push([key, value]));
    await bans.put("203.0.113.0/24", { reason: "spam", until: null });
    expect(bans.get("203.0.113.0/24")).toEqual({ reason: "spam", until: null });
    expect(await bans.create("203.0.113.0/24", { reason: "again", until: 5 })).toBe(false);
    expect(await bans.create("alice", { reason: "rude", until: 5 })).toBe(true);
    expect(bans.size).toBe(2);
    expect(await bans.delete("alice")).toBe(true);
    expect(await bans.delete("alice")).toBe(false);
    expect(heard).toEqual([
      ["203.0.113.0/24", { reason: "spam", until: null }],
      ["alice", { reason: "rude", until: 5 }],
      ["alice", undefined],
    ]);
    expect(state.table("bans", isBan)).toBe(bans);
  });

  test("a table name that could not be a key is refused", () => {
    expect(() => new LocalState(undefined).table("Bans; DROP", isBan)).toThrow("Bad table name");
  });
});

describe("state in the --store file", () => {
  test("rows outlive the server; a row that is not what the table expects is left out", async () => {
    const dir = mkdtempSync(join(tmpdir(), "chat-state-"));
    const file = join(dir, "store.db");
    try {
      const db = new Database(file, { create: true, strict: true });
      const bans = new LocalState(db).table("bans", isBan);
      await bans.put("alice", { reason: "rude", until: 99 });
      await bans.put("bob", { reason: "spam", until: null });
      db.query("INSERT INTO state (tbl, key, value) VALUES ('bans', 'mallory', '{\"reason\":42}')").run();
      db.close();

      const reopened = new Database(file, { strict: true });
      const again = new LocalState(reopened).table("bans", isBan);
      expect([...again.entries()].sort()).toEqual([
        ["alice", { reason: "rude", until: 99 }],
        ["bob", { reason: "spam", until: null }],
      ]);
      await again.delete("alice");
      reopened.close();
      const third = new Database(file, { strict: true });
      expect(new LocalState(third).table("bans", isBan).has("alice")).toBe(false);
      third.close();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test("a change another process makes to the file (an operator's command) reaches a running server's copy", async () => {
    const dir = mkdtempSync(join(tmpdir(), "chat-state-"));
    const file = join(dir, "store.db");
    const db = new Database(file, { create: true, strict: true });
    const state = new LocalState(db);
    try {
      const bans = state.table("bans", isBan);
      const heard: string[] = [];
      bans.onChange((key, value) => heard.push(`${key} ${value ? "put" : "deleted"}`));
      await state.start();
      await bans.put("alice", { reason: "rude", until: null });
      // Another process: its own connection to the file.
      const operator = new Database(file, { strict: true });
      const theirs = new LocalState(operator).table("bans", isBan);
      await theirs.put("bob", { reason: "spam", until: null });
      await theirs.delete("alice");
      operator.close();
      await waitFor("the change to reach the copy", () => (bans.has("bob") && !bans.has("alice") ? true : undefined));
      expect(heard).toEqual(["alice put", "alice deleted", "bob put"]);
    } finally {
      state.close();
      db.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
