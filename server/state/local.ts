/**
 * Shared state for a single instance: kept in the --store SQLite file (one table, `state`, of
 * table name, key and JSON value), or, without one, in memory only, until the server stops.
 * Writes are synchronous: SQLite writes a row in microseconds, and nothing else can race this
 * instance, so `create` is atomic by being one statement.
 *
 * An operator's command may change the file while the server runs (`bun server.ts keys add`, in
 * a process of its own): the server looks every WATCH_MS at SQLite's data_version, which moves
 * only when another connection has written, and then loads its tables again.
 */
import type { Database } from "bun:sqlite";
import { CopiedTable, parseRow, type RowCheck, type SharedState, type Table } from "./state";

/** How often the --store file is looked at for another process's changes: a key added is usable within it. */
const WATCH_MS = 1000;

export class LocalState implements SharedState {
  readonly #tables = new Map<string, LocalTable<unknown>>();
  #watch: Timer | undefined;
  #dataVersion = 0;

  /** @param db the --store file's database, or undefined to keep tables in memory only */
  constructor(private readonly db: Database | undefined) {
    db?.run(`CREATE TABLE IF NOT EXISTS state (
      tbl TEXT NOT NULL, key TEXT NOT NULL, value TEXT NOT NULL,
      PRIMARY KEY (tbl, key)) WITHOUT ROWID`);
  }

  get where(): string {
    return this.db ? "the --store file" : "memory (until the server stops)";
  }

  table<T>(name: string, check: RowCheck<T>): Table<T> {
    const known = this.#tables.get(name);
    if (known) return known as LocalTable<T>;
    const table = new LocalTable(name, check, this.db);
    this.#load(table);
    this.#tables.set(name, table as LocalTable<unknown>);
    return table;
  }

  async start(): Promise<void> {
    if (!this.db) return;
    this.#dataVersion = this.#readDataVersion();
    this.#watch = setInterval(() => this.#reloadIfChanged(), WATCH_MS);
    this.#watch.unref();
  }

  close(): void {
    clearInterval(this.#watch);
  }

  /** SQLite's count of writes by other connections to the file (ours do not move it). */
  #readDataVersion(): number {
    return this.db!.query<{ data_version: number }, []>("PRAGMA data_version").get()!.data_version;
  }

  #reloadIfChanged(): void {
    const version = this.#readDataVersion();
    if (version === this.#dataVersion) return;
    this.#dataVersion = version;
    for (const table of this.#tables.values()) this.#load(table);
  }

  #load<T>(table: LocalTable<T>): void {
    if (!this.db) return;
    const rows = this.db.query<{ key: string; value: string }, [string]>("SELECT key, value FROM state WHERE tbl = ?");
    const loaded: [string, T][] = [];
    for (const { key, value } of rows.all(table.name)) {
      const row = parseRow(value, table.check);
      if (row !== undefined) loaded.push([key, row]);
    }
    table.replaceAll(loaded);
  }
}

class LocalTable<T> extends CopiedTable<T> {
  constructor(
    name: string,
    check: RowCheck<T>,
    private readonly db: Database | undefined,
  ) {
    super(name, check);
  }

  async put(key: string, value: T): Promise<void> {
    this.db
      ?.query("INSERT OR REPLACE INTO state (tbl, key, value) VALUES (?, ?, ?)")
      .run(this.name, key, JSON.stringify(value));
    this.changed(key, value);
  }

  async create(key: string, value: T): Promise<boolean> {
    if (this.has(key)) return false;
    this.db
      ?.query("INSERT OR IGNORE INTO state (tbl, key, value) VALUES (?, ?, ?)")
      .run(this.name, key, JSON.stringify(value));
    this.changed(key, value);
    return true;
  }

  async delete(key: string): Promise<boolean> {
    if (!this.has(key)) return false;
    this.db?.query("DELETE FROM state WHERE tbl = ? AND key = ?").run(this.name, key);
    this.changed(key, undefined);
    return true;
  }
}
