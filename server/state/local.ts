/**
 * Shared state for a single instance: kept in the --store SQLite file (one table, `state`, of
 * table name, key and JSON value), or, without one, in memory only, until the server stops.
 * Writes are synchronous: SQLite writes a row in microseconds, so `create` is atomic by being one
 * statement.
 *
 * One other writer may share the file: the operators' command line (`bun server.ts accounts …`)
 * while the server runs. SQLite counts the changes other connections commit (PRAGMA
 * data_version); the server looks every RELOAD_EVERY_MS and, when it moved, loads every table
 * again, so that its copy (and its listeners) hear of an account deleted from the command line.
 */
import type { Database } from "bun:sqlite";
import { CopiedTable, parseRow, type RowCheck, type SharedState, type Table } from "./state";

/** How often the file is looked at for changes another process made. */
const RELOAD_EVERY_MS = 1_000;
/** How long a write waits for another process's write to the file to finish, at most. */
const BUSY_TIMEOUT_MS = 2_000;

export class LocalState implements SharedState {
  readonly #tables = new Map<string, LocalTable<unknown>>();
  #version = 0;
  #watch: ReturnType<typeof setInterval> | undefined;

  /** @param db the --store file's database, or undefined to keep tables in memory only */
  constructor(private readonly db: Database | undefined) {
    db?.run(`PRAGMA busy_timeout = ${BUSY_TIMEOUT_MS}`);
    db?.run(`CREATE TABLE IF NOT EXISTS state (
      tbl TEXT NOT NULL, key TEXT NOT NULL, value TEXT NOT NULL,
      PRIMARY KEY (tbl, key)) WITHOUT ROWID`);
    if (db) this.#version = this.#dataVersion(db);
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

  /** Follows the file for changes another process makes (the command line). */
  async start(): Promise<void> {
    const db = this.db;
    if (!db || this.#watch) return;
    this.#watch = setInterval(() => this.reloadIfChanged(), RELOAD_EVERY_MS);
    this.#watch.unref();
  }

  close(): void {
    clearInterval(this.#watch);
    this.#watch = undefined;
  }

  /** Loads every table again if another process changed the file since last looked; true if so. */
  reloadIfChanged(): boolean {
    if (!this.db) return false;
    const version = this.#dataVersion(this.db);
    if (version === this.#version) return false;
    this.#version = version;
    for (const table of this.#tables.values()) this.#load(table);
    return true;
  }

  #dataVersion(db: Database): number {
    return Number(Object.values(db.query("PRAGMA data_version").get() as object)[0]);
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
    const written = this.db
      ?.query("INSERT OR IGNORE INTO state (tbl, key, value) VALUES (?, ?, ?)")
      .run(this.name, key, JSON.stringify(value));
    // Another process (the command line) made it a moment ago: this copy hears of it on its next look.
    if (written?.changes === 0) return false;
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
