/**
 * The moderation log: every action a moderator takes, as one row of the shared `modlog` table, by
 * room. It is also how an action reaches every instance: each hears the new row (onChange) and
 * tells its own people in the room, and acts on its own connections of the person acted on (a
 * kick). A room keeps its last KEEP entries; older ones, and any past MAX_AGE_MS, are deleted.
 */
import { randomBytes } from "node:crypto";
import type { SharedState, Table } from "../state/state";

/** Entries kept per room, and the oldest kept. */
const KEEP = 100;
const MAX_AGE_MS = 90 * 86_400_000;
/** An entry older than this when an instance hears of it (loaded at start, caught up after a cut) is not acted on again. */
const FRESH_MS = 60_000;

export interface ModlogEntry {
  room: string;
  /** The command: kick, ban, mute, topic… */
  action: string;
  /** Who did it: their account's name. */
  by: string;
  /** When, ISO 8601. */
  at: string;
  /** What the room is told, naming who did it and why: "bob was banned from dev by alice for 2h: spam". */
  text: string;
  reason?: string;
  /** Who it was done to, if anyone: their name, and their account or their guest network. */
  target?: { name: string; account?: string; network?: string };
  /** What the person acted on is told, addressed to them: "You were muted in dev by alice for 10m". */
  personal?: string;
  /** A kick out of the whole chat (their connections are closed), not only out of the room. */
  chatWide?: true;
}

function checkEntry(value: unknown): ModlogEntry | undefined {
  const row = value as Record<string, unknown> | null;
  if (typeof row !== "object" || row === null) return undefined;
  const strings = [row.room, row.action, row.by, row.at, row.text].every((v) => typeof v === "string");
  return strings ? (row as unknown as ModlogEntry) : undefined;
}

export class Modlog {
  readonly #table: Table<ModlogEntry>;
  /** Each room's entries' keys, oldest first. */
  readonly #byRoom = new Map<string, string[]>();

  constructor(
    state: SharedState,
    /** A new entry, heard once on every instance; `fresh` unless it is an old one loaded late. */
    onEntry: (entry: ModlogEntry, fresh: boolean) => void,
    private readonly now: () => number = Date.now,
  ) {
    this.#table = state.table("modlog", checkEntry);
    for (const [key] of this.#table.entries()) this.#keysOf(key).push(key);
    for (const keys of this.#byRoom.values()) keys.sort();
    this.#table.onChange((key, entry) => {
      const keys = this.#keysOf(key);
      const known = keys.indexOf(key);
      if (!entry) return void (known >= 0 && keys.splice(known, 1));
      if (known >= 0) return;
      keys.push(key);
      onEntry(entry, this.now() - Date.parse(entry.at) < FRESH_MS);
    });
  }

  /** Logs an action: every instance hears it. The room's oldest entries past KEEP go. */
  async add(entry: Omit<ModlogEntry, "at">): Promise<void> {
    const at = this.now();
    // Keys sort by time within a room: the time in base 36, of fixed width, then a random tail.
    const key = `${entry.room} ${at.toString(36).padStart(9, "0")}${randomBytes(4).toString("hex")}`;
    await this.#table.create(key, { ...entry, at: new Date(at).toISOString() });
    const keys = this.#keysOf(key);
    for (const old of keys.slice(0, Math.max(0, keys.length - KEEP))) await this.#table.delete(old);
  }

  /** The room's last `count` entries, oldest first. */
  recent(room: string, count: number): ModlogEntry[] {
    const keys = this.#byRoom.get(room) ?? [];
    return keys.slice(-count).flatMap((key) => this.#table.get(key) ?? []);
  }

  /** Deletes the entries past MAX_AGE_MS. */
  async sweep(): Promise<void> {
    const oldest = this.now() - MAX_AGE_MS;
    for (const [key, entry] of [...this.#table.entries()])
      if (Date.parse(entry.at) < oldest) await this.#table.delete(key).catch(() => false);
  }

  #keysOf(key: string): string[] {
    const room = key.slice(0, key.indexOf(" "));
    let keys = this.#byRoom.get(room);
    if (!keys) this.#byRoom.set(room, (keys = []));
    return keys;
  }
}
