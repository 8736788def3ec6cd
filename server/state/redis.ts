/**
 * Shared state through Redis (--redis): each table is a hash, `chat:state:<table>`, from key to
 * JSON row, and every instance keeps a whole copy of it in memory (state.ts). A change is one
 * script: HSET (create: HSETNX, atomic across instances; delete: HDEL) and, if it changed
 * anything, a publish on `chat:state` numbered by one counter (`chat:state-version`). Every
 * instance applies the changes it hears; the writer applies its own as soon as Redis answers,
 * which may be before or after it hears it, or a later change: a copy skips a change older than
 * what it has of that key. On start and on every reconnection each table is loaded whole (HGETALL,
 * in one script with the counter) and replaces the copy. While Redis is away, rows are read from
 * the copy and writes are refused.
 *
 * It has a RedisLink of its own, on a channel of its own, rather than going through the chat's
 * directory: it is whole by itself (its tests need no chat), and the chat's hot path never looks
 * at a change of state. That costs two more connections to Redis per instance. Redis must persist
 * (RDB or AOF) for this state to outlive a restart of Redis.
 */
import type { Logger } from "../log";
import { describe } from "../redis/failures";
import { PREFIX } from "../redis/keys";
import { RedisLink } from "../redis/link";
import { CopiedTable, parseRow, type RowCheck, type SharedState, type Table } from "./state";

export const STATE_CHANNEL = `${PREFIX}state`;
const VERSION_KEY = `${PREFIX}state-version`;
const tableKey = (table: string) => `${PREFIX}state:${table}`;
/** The format of a change published on STATE_CHANNEL; another version is skipped. */
const FORMAT = 1;

/**
 * KEYS: the table's hash, the version counter, the channel. ARGV: put, create or delete, the
 * table's name, the key, the row (JSON). Returns the change's version, or 0 if nothing changed.
 */
const WRITE_SCRIPT = `
local mode, key, value = ARGV[1], ARGV[3], ARGV[4]
local changed = 1
if mode == 'put' then redis.call('HSET', KEYS[1], key, value)
elseif mode == 'create' then changed = redis.call('HSETNX', KEYS[1], key, value)
else changed = redis.call('HDEL', KEYS[1], key) end
if changed == 0 then return 0 end
local version = redis.call('INCR', KEYS[2])
local change = {v = ${FORMAT}, table = ARGV[2], key = key, version = version}
if mode ~= 'delete' then change.row = value end
redis.call('PUBLISH', KEYS[3], cjson.encode(change))
return version`;

/** KEYS: the table's hash, the version counter. Returns the counter and the whole table, as of one moment. */
const LOAD_SCRIPT = `return {tonumber(redis.call('GET', KEYS[2]) or '0'), redis.call('HGETALL', KEYS[1])}`;

type Mode = "put" | "create" | "delete";

export class RedisState implements SharedState {
  readonly where = "Redis";
  readonly #tables = new Map<string, RedisTable<unknown>>();
  readonly #link: RedisLink;

  constructor(
    url: string,
    private readonly log: Logger,
  ) {
    this.#link = new RedisLink(url, STATE_CHANNEL);
  }

  /** Whether Redis answers now (rows can be changed). */
  get connected(): boolean {
    return this.#link.connected;
  }

  table<T>(name: string, check: RowCheck<T>): Table<T> {
    const known = this.#tables.get(name);
    if (known) return known as RedisTable<T>;
    const table = new RedisTable(name, check, (mode, key, row) => this.#write(name, mode, key, row));
    this.#tables.set(name, table as RedisTable<unknown>);
    // Asked for once connected: loaded now (until it is, it reads as empty).
    if (this.#link.connected)
      this.#load(table as RedisTable<unknown>).catch((error) =>
        this.log.line(
          `Redis state: could not load the table ${name} (${describe(error)}); it is loaded again on reconnecting`,
        ),
      );
    return table;
  }

  /** Connects and loads every table asked for so far; resolves once loaded, or once the first try failed. */
  start(): Promise<void> {
    return this.#link.start({
      onConnect: async () => {
        for (const table of this.#tables.values()) table.forgetVersions();
        for (const table of this.#tables.values()) await this.#load(table);
      },
      onMessage: (message) => this.#heard(message),
      onState: (_connected, detail) => this.log.line(`Redis state: ${detail}`),
      // Said once by onState when Redis goes; each retry while it stays away is not news.
      onRetry: () => {},
    });
  }

  close(): void {
    this.#link.close();
  }

  async #load(table: RedisTable<unknown>): Promise<void> {
    const [version, flat] = (await this.#link.send("EVAL", [LOAD_SCRIPT, "2", tableKey(table.name), VERSION_KEY])) as [
      number,
      string[],
    ];
    const rows: [string, string][] = [];
    for (let i = 0; i + 1 < flat.length; i += 2) rows.push([flat[i]!, flat[i + 1]!]);
    table.loaded(Number(version), rows);
  }

  async #write(table: string, mode: Mode, key: string, row: string): Promise<number> {
    if (!this.#link.connected) throw unreachable(table);
    try {
      const args = [WRITE_SCRIPT, "3", tableKey(table), VERSION_KEY, STATE_CHANNEL, mode, table, key, row];
      return Number(await this.#link.send("EVAL", args));
    } catch (error) {
      throw unreachable(table, error);
    }
  }

  /** Another instance's change, or this one's. */
  #heard(message: string): void {
    const change = readChange(message);
    if (change) this.#tables.get(change.table)?.heard(change.key, change.row, change.version);
  }
}

/**
 * A change as WRITE_SCRIPT publishes it; undefined for anything else. A change of another format
 * (another release of the server) is skipped here: the copy gets the row on its next load, which
 * reads the hash itself.
 */
function readChange(
  message: string,
): { table: string; key: string; row: string | undefined; version: number } | undefined {
  let change: Record<string, unknown>;
  try {
    change = JSON.parse(message);
  } catch {
    // Not JSON: nobody publishes that here; skipped as a change of another format is.
    return undefined;
  }
  const { v, table, key, row, version } = change ?? {};
  if (v !== FORMAT || typeof table !== "string" || typeof key !== "string" || !Number.isSafeInteger(version))
    return undefined;
  if (row !== undefined && typeof row !== "string") return undefined;
  return { table, key, row, version: version as number };
}

function unreachable(table: string, error?: unknown): Error {
  const why = error === undefined ? "" : ` (${describe(error)})`;
  return new Error(`Redis is unreachable${why}: the change to ${table} was not kept. Try again once it is back.`);
}

/** A table kept in a Redis hash: a change is written there first, then applied to the copy. */
class RedisTable<T> extends CopiedTable<T> {
  /** The version the copy was loaded at, and of each key changed since: an older change is skipped. */
  #loadedAt = 0;
  #versions = new Map<string, number>();

  constructor(
    name: string,
    check: RowCheck<T>,
    private readonly write: (mode: Mode, key: string, row: string) => Promise<number>,
  ) {
    super(name, check);
  }

  async put(key: string, value: T): Promise<void> {
    this.#apply(key, value, await this.write("put", key, JSON.stringify(value)));
  }

  async create(key: string, value: T): Promise<boolean> {
    const version = await this.write("create", key, JSON.stringify(value));
    this.#apply(key, value, version);
    return version > 0;
  }

  async delete(key: string): Promise<boolean> {
    const version = await this.write("delete", key, "");
    this.#apply(key, undefined, version);
    return version > 0;
  }

  /** A change published on the channel (this instance's own too): the row as JSON, or none for a deletion. */
  heard(key: string, row: string | undefined, version: number): void {
    // A row that fails its check is left out, as if deleted.
    this.#apply(key, row === undefined ? undefined : parseRow(row, this.check), version);
  }

  /** Reconnecting: the versions counted so far may be from a Redis that has since restarted. */
  forgetVersions(): void {
    this.#versions.clear();
  }

  /** The whole table as of `version`; changes heard since (newer) are kept over it. */
  loaded(version: number, rows: [string, string][]): void {
    const fresh = new Map<string, T>();
    for (const [key, text] of rows) {
      const row = parseRow(text, this.check);
      if (row !== undefined) fresh.set(key, row);
    }
    for (const [key, seen] of this.#versions) {
      if (seen <= version) continue;
      const current = this.get(key);
      if (current === undefined) fresh.delete(key);
      else fresh.set(key, current);
    }
    this.#versions = new Map([...this.#versions].filter(([, seen]) => seen > version));
    this.#loadedAt = version;
    this.replaceAll(fresh);
  }

  #apply(key: string, value: T | undefined, version: number): void {
    if (version <= (this.#versions.get(key) ?? this.#loadedAt)) return;
    this.#versions.set(key, version);
    this.changed(key, value);
  }
}
