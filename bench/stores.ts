/**
 * The --store files of the benchmark's set-ups that have one (`ours-store`, `ours-accounts`,
 * `ours-bans`), written as the server writes them, so that the server starts with them loaded: what
 * 1,000 accounts and 10,000 bans cost is measured against the same server with an empty file. None
 * of the bans covers 127.0.0.1, where every benchmark client comes from: each upgrade and each
 * entering of a room is checked against them all, and let through. And the ban check itself, timed
 * in this process against none and against many.
 */
import { Database } from "bun:sqlite";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DEFAULT_ROOM } from "../common/events";
import { AccountStore } from "../server/accounts/store";
import { addressOf } from "../server/moderation/networks";
import { CHAT_SCOPE, type Restriction, Restrictions, restrictionKey } from "../server/moderation/restrictions";
import { LocalState } from "../server/state/local";
import { median } from "./stats";

/** Writes `count` bans into a --store file's shared state, as the server keeps them. */
export function writeBans(db: Database, count: number): void {
  const insert = db.prepare("INSERT OR REPLACE INTO state (tbl, key, value) VALUES ('bans', ?, ?)");
  db.transaction(() => {
    for (let i = 0; i < count; i++) {
      const ban = banNumber(i);
      insert.run(restrictionKey(ban), JSON.stringify(ban));
    }
  })();
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

/** One real argon2id hash, given to every account of a fresh store: making a thousand would take minutes. */
let benchHash: Promise<string> | undefined;

/**
 * A new --store file with `accounts` registered accounts (bench-0, bench-1…) and `bans` bans,
 * written as the server writes them, so that the server starts with them loaded.
 */
export async function freshStore({ accounts, bans = 0 }: { accounts: number; bans?: number }): Promise<string> {
  const file = join(tmpdir(), `chat-bench-${process.pid}-${Date.now()}-${Math.random().toString(36).slice(2)}.sqlite`);
  const db = new Database(file, { create: true, strict: true });
  try {
    const store = new AccountStore(new LocalState(db));
    benchHash ??= Bun.password.hash("bench-password", { algorithm: "argon2id" });
    const hash = await benchHash;
    for (let n = 0; n < accounts; n++) await store.create(`bench-${n}`, hash);
    writeBans(db, bans);
  } finally {
    db.close();
  }
  return file;
}
