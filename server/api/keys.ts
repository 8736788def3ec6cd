/**
 * API keys: who may use the HTTP API, and under which name its messages appear. A key is a random
 * secret; the server keeps only its SHA-256, so a copy of the store or of Redis gives no key away.
 * Keys come from two places: the --api-keys file (lines `NAME KEY`, read at start), and the
 * shared-state table `api-keys` (name → hash), which operators change with `bun server.ts keys`
 * (keys-command.ts) and every instance follows. A key revoked there is told to whoever holds
 * something open with it (its event streams end).
 *
 * Each key's name has a message budget of its own, as a connection has (--rate, --burst); with
 * several instances it is leased from one shared bucket, as an address's budgets are.
 */
import { createHash, randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import { UsageError } from "../../common/cli";
import type { Clock } from "../../common/clock";
import { nameProblem, normalizeName } from "../../common/text";
import { TokenBucket } from "../../common/token-bucket";
import { type Bucket, LeasedBucket, type LeaseSource } from "../leases";
import type { SharedState, Table } from "../state/state";

export const KEYS_TABLE = "api-keys";

/** A key as the table keeps it, by its name: never the key itself. */
export interface KeyRow {
  /** SHA-256 of the key, hex. */
  hash: string;
  /** When it was made, ISO 8601. */
  created: string;
}

const checkRow = (value: unknown): KeyRow | undefined => {
  const row = value as Partial<KeyRow> | null;
  return typeof row?.hash === "string" && /^[0-9a-f]{64}$/.test(row.hash) && typeof row.created === "string"
    ? { hash: row.hash, created: row.created }
    : undefined;
};

/** A key given in the --api-keys file must be at least this long: a short one could be guessed. */
export const MIN_KEY_LENGTH = 16;

export const hashKey = (key: string) => createHash("sha256").update(key).digest("hex");

/** A new key: 192 random bits, URL-safe, so that it goes in a header or a shell variable as it is. */
export const newKey = () => randomBytes(24).toString("base64url");

/** The table of keys in the shared state (the server's, or an operator's command's). */
export const keysTable = (state: SharedState): Table<KeyRow> => state.table(KEYS_TABLE, checkRow);

/** A key's name, normalised, or why it cannot be one (the rules of people's names). */
export function keyName(given: string): { name: string } | { problem: string } {
  const name = normalizeName(given);
  const problem = nameProblem(name);
  return problem ? { problem } : { name };
}

/** The --api-keys file: one `NAME KEY` a line; blank lines and lines starting with # are skipped. */
export function readKeyFile(file: string): [name: string, key: string][] {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (error) {
    throw new UsageError(`--api-keys '${file}' could not be read: ${(error as { code?: string }).code ?? error}.`);
  }
  const keys: [string, string][] = [];
  for (const [index, raw] of text.split("\n").entries()) {
    const line = raw.trim();
    if (line === "" || line.startsWith("#")) continue;
    const where = `--api-keys '${file}', line ${index + 1}`;
    const [given, key, ...rest] = line.split(/\s+/);
    if (key === undefined || rest.length > 0)
      throw new UsageError(`${where}: a line is a name and a key, 'NAME KEY', with nothing else.`);
    const named = keyName(given!);
    if ("problem" in named) throw new UsageError(`${where}: ${named.problem}`);
    if (key.length < MIN_KEY_LENGTH)
      throw new UsageError(
        `${where}: a key must be at least ${MIN_KEY_LENGTH} characters (make one with: openssl rand -hex 24).`,
      );
    keys.push([named.name, key]);
  }
  return keys;
}

export interface KeyOptions {
  state: SharedState;
  /** The --api-keys file's keys. */
  fileKeys: [name: string, key: string][];
  /** --rate and --burst: each key's budget, as a connection's. */
  rate: number;
  burst: number;
  clock: Clock;
  /** With several instances, where the shared budgets lease from. */
  leases: LeaseSource | undefined;
}

export class ApiKeys {
  /** Hash → name, of the file's keys and the table's. */
  readonly #names = new Map<string, string>();
  /** Name → hash, of the table's keys. */
  readonly #hashOf = new Map<string, string>();
  readonly #table: Table<KeyRow>;
  readonly #budgets = new Map<string, Bucket>();
  readonly #revoked: ((hash: string) => void)[] = [];

  constructor(private readonly options: KeyOptions) {
    for (const [name, key] of options.fileKeys) this.#names.set(hashKey(key), name);
    this.#table = keysTable(options.state);
    // What the table's copy has already (the --store file's keys), then every change to it.
    for (const [name, row] of this.#table.entries()) this.#changed(name, row);
    this.#table.onChange((name, row) => this.#changed(name, row));
  }

  /** The table's row for `name` changed: a key replaced or deleted is revoked. */
  #changed(name: string, row: KeyRow | undefined): void {
    const before = this.#hashOf.get(name);
    if (before !== undefined && before !== row?.hash) {
      this.#names.delete(before);
      for (const listener of this.#revoked) listener(before);
    }
    if (row) {
      this.#hashOf.set(name, row.hash);
      this.#names.set(row.hash, name);
    } else this.#hashOf.delete(name);
  }

  /** The name of the key `key`, or undefined for a key the server does not know (or one revoked). */
  nameOf(key: string): { name: string; hash: string } | undefined {
    const hash = hashKey(key);
    const name = this.#names.get(hash);
    return name === undefined ? undefined : { name, hash };
  }

  /** Hears of every key revoked (or replaced), by its hash. */
  onRevoked(listener: (hash: string) => void): void {
    this.#revoked.push(listener);
  }

  /** What the key's name may still say: --rate a second, --burst at once. */
  budget(name: string): Bucket {
    let budget = this.#budgets.get(name);
    if (!budget) {
      const { rate, burst, clock, leases } = this.options;
      budget = leases
        ? new LeasedBucket(`api:${name}`, rate, burst, leases, clock)
        : new TokenBucket(rate, burst, clock);
      this.#budgets.set(name, budget);
    }
    return budget;
  }
}
