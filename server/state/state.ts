/**
 * Shared, durable state: what the chat must keep across restarts and share between instances
 * (accounts, bans, room owners, topics…), as named tables of JSON rows. Each feature adds a table
 * and says what its rows look like; none adds a code path of its own through the chat core.
 *
 * Every instance keeps a whole copy of each table in memory, so that reading a row (is this name
 * registered? is this address banned?) is a map look-up that never waits: the chat's hot paths
 * read, and only changes travel. A change is written where the state is kept (SQLite with --store,
 * Redis with --redis, nowhere otherwise) and reaches every instance's copy; `create` is atomic
 * across instances, for what two people may try at once (registering one name).
 *
 * local.ts keeps tables for one instance (memory, or the --store file); redis.ts shares them
 * through Redis.
 */

/** Checks a row read back from storage (another instance, an older version wrote it). */
export type RowCheck<T> = (value: unknown) => T | undefined;

/** A row changed, here or on another instance: its key and new value (undefined: deleted). */
export type ChangeListener<T> = (key: string, value: T | undefined) => void;

export interface Table<T> {
  readonly name: string;
  /** The row, from this instance's copy. */
  get(key: string): T | undefined;
  has(key: string): boolean;
  entries(): IterableIterator<[string, T]>;
  readonly size: number;
  /** Writes the row; resolves once it is kept (rejects if it could not be: Redis unreachable). */
  put(key: string, value: T): Promise<void>;
  /** Writes the row only if there is none anywhere; false if there was one. Atomic across instances. */
  create(key: string, value: T): Promise<boolean>;
  /** Deletes the row; false if there was none. */
  delete(key: string): Promise<boolean>;
  /** Hears of every change to the table, this instance's own included, once it is kept. */
  onChange(listener: ChangeListener<T>): void;
}

export interface SharedState {
  /** The table of that name; rows that fail `check` (or are not JSON) are left out. */
  table<T>(name: string, check: RowCheck<T>): Table<T>;
  /** Where tables are kept, for the start-up log: "memory", "the --store file", "Redis". */
  readonly where: string;
  /** Loads every table asked for so far; with Redis, also follows the others' changes. */
  start(): Promise<void>;
  close(): void;
}

/** A table name or key must be plain: it becomes part of a SQLite value or a Redis key. */
export function checkName(kind: string, name: string): void {
  if (!/^[a-z][a-z0-9-]{0,31}$/.test(name)) throw new Error(`Bad ${kind} name for shared state: '${name}'`);
}

/** JSON text as a row, checked; undefined for anything else. */
export function parseRow<T>(text: string, check: RowCheck<T>): T | undefined {
  try {
    return check(JSON.parse(text));
  } catch {
    return undefined;
  }
}

/**
 * A table as this instance holds it: a whole copy in memory, and its listeners. Reading never
 * waits; how a change is kept (put, create, delete) is the storage's own, which calls `changed`
 * once it is kept, and `replaceAll` when it loads the whole table.
 */
export abstract class CopiedTable<T> implements Table<T> {
  readonly #rows = new Map<string, T>();
  readonly #listeners: ChangeListener<T>[] = [];

  constructor(
    readonly name: string,
    readonly check: RowCheck<T>,
  ) {
    checkName("table", name);
  }

  get(key: string): T | undefined {
    return this.#rows.get(key);
  }

  has(key: string): boolean {
    return this.#rows.has(key);
  }

  entries(): IterableIterator<[string, T]> {
    return this.#rows.entries();
  }

  get size(): number {
    return this.#rows.size;
  }

  onChange(listener: ChangeListener<T>): void {
    this.#listeners.push(listener);
  }

  /** A change is kept: the copy follows, and everyone listening hears of it. */
  changed(key: string, value: T | undefined): void {
    if (value === undefined) this.#rows.delete(key);
    else this.#rows.set(key, value);
    for (const listener of this.#listeners) listener(key, value);
  }

  /** The whole table as storage has it now (on start, and after Redis comes back). */
  replaceAll(rows: Iterable<[string, T]>): void {
    const fresh = new Map(rows);
    for (const key of this.#rows.keys()) if (!fresh.has(key)) this.changed(key, undefined);
    for (const [key, value] of fresh) {
      if (JSON.stringify(this.#rows.get(key)) !== JSON.stringify(value)) this.changed(key, value);
    }
  }

  abstract put(key: string, value: T): Promise<void>;
  abstract create(key: string, value: T): Promise<boolean>;
  abstract delete(key: string): Promise<boolean>;
}
