/**
 * A --store file for the benchmark's `ours-bans` set-up, with bans in force from the start (as
 * the server keeps them: rows of the shared state's `bans` table), and an empty one for
 * `ours-store`, the same server without them. None of the bans covers 127.0.0.1, where every
 * benchmark client comes from: each upgrade and each entering of a room is checked against them
 * all, and let through. And the check itself, timed in this process against none and against many.
 */
import { Database } from "bun:sqlite";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DEFAULT_ROOM } from "../common/events";
import { addressOf } from "../server/moderation/networks";
import { CHAT_SCOPE, type Restriction, Restrictions, restrictionKey } from "../server/moderation/restrictions";
import { LocalState } from "../server/state/local";
import { median } from "./stats";

/** The folders made here: deleted when the benchmark ends, however it ends. */
const folders: string[] = [];
process.on("exit", () => {
  for (const folder of folders) rmSync(folder, { recursive: true, force: true });
});

/** A fresh --store file with `count` bans in it (none: an empty one). */
export function storeWithBans(count: number): string {
  const folder = mkdtempSync(join(tmpdir(), "chat-bench-store-"));
  folders.push(folder);
  const file = join(folder, "chat.db");
  const db = new Database(file, { create: true, strict: true });
  db.run(`CREATE TABLE IF NOT EXISTS state (
    tbl TEXT NOT NULL, key TEXT NOT NULL, value TEXT NOT NULL,
    PRIMARY KEY (tbl, key)) WITHOUT ROWID`);
  const insert = db.prepare("INSERT OR REPLACE INTO state (tbl, key, value) VALUES ('bans', ?, ?)");
  db.transaction(() => {
    for (let i = 0; i < count; i++) {
      const ban = banNumber(i);
      insert.run(restrictionKey(ban), JSON.stringify(ban));
    }
  })();
  db.close();
  return file;
}

/**
 * The i-th ban, of the kinds a real list has: most on single IPv4 addresses, some on /24s and on
 * IPv6 /64s, some on accounts, and some in the default room, which counts as the whole chat.
 */
function banNumber(i: number): Restriction {
  const at = new Date().toISOString();
  const made = { by: "bench", reason: "benchmark", at };
  const [a, b, c] = [(i >> 16) & 255, (i >> 8) & 255, i & 255];
  switch (i % 10) {
    case 0:
      return { scope: CHAT_SCOPE, kind: "address", target: `198.${a}.${b}.0/24`, ...made };
    case 1:
      return { scope: CHAT_SCOPE, kind: "address", target: `2001:db8:${i.toString(16)}::/64`, ...made };
    case 2:
      return { scope: CHAT_SCOPE, kind: "account", target: `spammer${i}`, ...made };
    case 3:
      return { scope: DEFAULT_ROOM, kind: "address", target: `100.${a}.${b}.${c}`, ...made };
    default:
      return { scope: CHAT_SCOPE, kind: "address", target: `10.${a}.${b}.${c}`, ...made };
  }
}

export interface BanCheckFigures {
  /** Nanoseconds one upgrade's check takes with no bans, with a handful (FEW), and with `count` of them. */
  none: number;
  few: number;
  many: number;
  count: number;
}

/** A handful of bans, of the same kinds as the many: the check's cost once there are any. */
const FEW = 10;

/**
 * The check an upgrade makes, timed in this process: is the client's address banned from the chat
 * (or from its default room)? Against no bans, a handful, and `count`, each the median of several
 * rounds, for figures free of the machine's noise between two servers. With any ban of a kind in
 * force, the check looks up each prefix length in use: a handful and 10,000 should cost the same.
 */
export async function measureBanCheck(count: number, rounds = 7, checks = 200_000): Promise<BanCheckFigures> {
  const timed = async (bans: number) => {
    const restrictions = new Restrictions(new LocalState(undefined), "bans", Date.now);
    for (let i = 0; i < bans; i++) {
      const ban = banNumber(i);
      await restrictions.table.put(restrictionKey(ban), ban);
    }
    const times: number[] = [];
    for (let round = 0; round < rounds; round++) {
      const started = performance.now();
      for (let i = 0; i < checks; i++) {
        const address = addressOf(`127.0.0.1:${40000 + (i & 1023)}`);
        if (restrictions.find(CHAT_SCOPE, null, address) ?? restrictions.find(DEFAULT_ROOM, null, address))
          throw new Error("the benchmark's client is banned");
      }
      times.push(((performance.now() - started) * 1e6) / checks);
    }
    return median(times);
  };
  return { none: await timed(0), few: await timed(FEW), many: await timed(count), count };
}
