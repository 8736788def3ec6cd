/**
 * Bans and mutes: each a shared table (state/) of restrictions, and an index of it in memory that
 * answers "is this person restricted here?" with map look-ups: by account, and by network, one
 * look-up per prefix length in use (networks.ts). A restriction is on an account (a registered
 * name) or on an address or network (a guest's, who could take another name), in one room or, for
 * a ban, in the whole chat (scope `*`). One that has expired counts for nothing, and a sweep
 * deletes it. A restriction on an account also holds the addresses (as a guest's: IPv4 address,
 * IPv6 /64) its connections had when it was made, indexed beside the account: logging out and
 * taking another name does not dodge it, and the one row lifts both.
 */
import { nameSkeleton } from "../../common/lookalikes";
import type { SharedState, Table } from "../state/state";
import { type Address, type Network, NetworkMap, parseNetwork, showNetwork } from "./networks";

/** The scope of a ban from the whole chat. */
export const CHAT_SCOPE = "*";
/** The addresses an account's restriction holds at most: an account has a few connections, not hundreds. */
export const MAX_ADDRESSES = 16;

export interface Restriction {
  /** A room, or CHAT_SCOPE. */
  scope: string;
  kind: "account" | "address";
  /** The account's name as registered, or the network as shown (`203.0.113.0/24`, `198.51.100.7`). */
  target: string;
  /** For the address of a guest named by a moderator: the name they had. */
  name?: string;
  /**
   * For an account: the networks (as shown) its connections came from when it was made, covered
   * too. Rows written before it was kept have none.
   */
  addresses?: string[];
  by: string;
  reason?: string;
  /** When it was made, ISO 8601. */
  at: string;
  /** When it ends, in ms since the epoch; none: until lifted. */
  until?: number;
}

/** A restriction's key: its scope, and what it is on. */
export function restrictionKey({ scope, kind, target }: Pick<Restriction, "scope" | "kind" | "target">): string {
  return `${scope} ${kind}:${kind === "account" ? nameSkeleton(target) : target}`;
}

function checkRestriction(value: unknown): Restriction | undefined {
  const row = value as Record<string, unknown> | null;
  if (typeof row !== "object" || row === null) return undefined;
  const { scope, kind, target, name, by, reason, at, until, addresses } = row;
  const strings = [scope, target, by, at].every((v) => typeof v === "string");
  const optional = [name, reason].every((v) => v === undefined || typeof v === "string");
  if (!strings || !optional || (kind !== "account" && kind !== "address")) return undefined;
  if (until !== undefined && !Number.isSafeInteger(until)) return undefined;
  const listed = Array.isArray(addresses) && addresses.length <= MAX_ADDRESSES;
  if (addresses !== undefined && !(listed && addresses.every((a) => typeof a === "string"))) return undefined;
  return row as unknown as Restriction;
}

/**
 * One scope's restrictions, indexed. A network may be an address restriction's and an account
 * restriction's at once: it holds each row by its key, and deleting one leaves the other.
 */
interface Scope {
  accounts: Map<string, Restriction>;
  networks: NetworkMap<Map<string, Restriction>>;
}

export class Restrictions {
  readonly table: Table<Restriction>;
  readonly #scopes = new Map<string, Scope>();
  /** The networks each row is indexed under now: what to take out when it changes or goes. */
  readonly #indexedUnder = new Map<string, Network[]>();

  constructor(
    state: SharedState,
    name: "bans" | "mutes",
    /** The time now, in ms since the epoch: restrictions end by the wall clock, the same on every instance. */
    private readonly now: () => number,
  ) {
    this.table = state.table(name, checkRestriction);
    // A table kept in the --store file is loaded as it is made, before anyone could listen.
    for (const [key, row] of this.table.entries()) this.#indexed(key, row);
    this.table.onChange((key, row) => this.#indexed(key, row));
  }

  /** The restriction in force in `scope` on the account (if any) or the address, if there is one. */
  find(scope: string, account: string | null, address: Address | undefined): Restriction | undefined {
    const indexed = this.#scopes.get(scope);
    if (!indexed) return undefined;
    if (account !== null) {
      const onAccount = indexed.accounts.get(nameSkeleton(account));
      if (onAccount && this.#inForce(onAccount)) return onAccount;
    }
    if (!address || indexed.networks.empty) return undefined;
    const rows = indexed.networks.find(address, (rows) => this.#firstInForce(rows) !== undefined);
    return rows && this.#firstInForce(rows);
  }

  readonly #inForce = (restriction: Restriction) => restriction.until === undefined || restriction.until > this.now();

  #firstInForce(rows: Map<string, Restriction>): Restriction | undefined {
    for (const row of rows.values()) if (this.#inForce(row)) return row;
    return undefined;
  }

  /**
   * The row in `scope` on TARGET as typed to lift it: an address or network, an account (`account`,
   * if TARGET is registered), or a guest by the name they had.
   */
  named(scope: string, target: string, account: string | undefined): { key: string; row: Restriction } | undefined {
    const network = parseNetwork(target);
    const key =
      network && !("problem" in network)
        ? restrictionKey({ scope, kind: "address", target: showNetwork(network) })
        : account !== undefined
          ? restrictionKey({ scope, kind: "account", target: account })
          : undefined;
    const row = key === undefined ? undefined : this.table.get(key);
    if (key !== undefined && row) return { key, row };
    const skeleton = nameSkeleton(target);
    for (const row of this.inScope(scope))
      if (row.name !== undefined && nameSkeleton(row.name) === skeleton) return { key: restrictionKey(row), row };
    return undefined;
  }

  /** True if `scope` has any restriction, in force or not (a quick no for the common case). */
  any(scope: string): boolean {
    return this.#scopes.has(scope);
  }

  /** The restrictions in force in `scope`. */
  *inScope(scope: string): Generator<Restriction> {
    const now = this.now();
    for (const [key, row] of this.table.entries())
      if (key.startsWith(`${scope} `) && (row.until === undefined || row.until > now)) yield row;
  }

  /** How many rows `scope` holds, ended or not (the sweep deletes the ended ones). */
  count(scope: string): number {
    let rows = 0;
    for (const key of this.table.entries()) if (key[0].startsWith(`${scope} `)) rows++;
    return rows;
  }

  /** Deletes the restrictions that have ended (on every instance that sweeps: a second delete does nothing). */
  async sweep(): Promise<void> {
    const now = this.now();
    const ended = [...this.table.entries()].filter(([, row]) => row.until !== undefined && row.until <= now);
    for (const [key] of ended) await this.table.delete(key).catch(() => false);
  }

  /** The index follows the table: a row in, or (undefined) out, under its account and its networks. */
  #indexed(key: string, row: Restriction | undefined): void {
    const [scope = "", on = ""] = key.split(" ");
    const [kind, value = ""] = [on.slice(0, on.indexOf(":")), on.slice(on.indexOf(":") + 1)];
    let indexed = this.#scopes.get(scope);
    if (!indexed && !row) return;
    if (!indexed) this.#scopes.set(scope, (indexed = { accounts: new Map(), networks: new NetworkMap() }));
    if (kind === "account") {
      if (row) indexed.accounts.set(value, row);
      else indexed.accounts.delete(value);
    }
    for (const network of this.#indexedUnder.get(key) ?? []) {
      const rows = indexed.networks.get(network);
      rows?.delete(key);
      if (rows?.size === 0) indexed.networks.delete(network);
    }
    const networks = row ? networksOf(kind === "account" ? (row.addresses ?? []) : [value]) : [];
    for (const network of networks) {
      const rows = indexed.networks.get(network) ?? new Map<string, Restriction>();
      if (rows.size === 0) indexed.networks.set(network, rows);
      rows.set(key, row!);
    }
    if (networks.length > 0) this.#indexedUnder.set(key, networks);
    else this.#indexedUnder.delete(key);
    if (indexed.accounts.size === 0 && indexed.networks.empty) this.#scopes.delete(scope);
  }
}

/** The networks written in a row, those that read as such. */
function networksOf(shown: string[]): Network[] {
  return shown
    .map(parseNetwork)
    .filter((network): network is Network => network !== undefined && !("problem" in network));
}
