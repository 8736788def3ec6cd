/**
 * Bans and mutes: each a shared table (state/) of restrictions, and an index of it in memory that
 * answers "is this person restricted here?" with map look-ups: by account, and by network, one
 * look-up per prefix length in use (networks.ts). A restriction is on an account (a registered
 * name) or on an address or network (a guest's, who could take another name), in one room or, for
 * a ban, in the whole chat (scope `*`). One that has expired counts for nothing, and a sweep
 * deletes it.
 */
import { nameSkeleton } from "../../common/lookalikes";
import type { SharedState, Table } from "../state/state";
import { type Address, type Network, NetworkMap, parseNetwork } from "./networks";

/** The scope of a ban from the whole chat. */
export const CHAT_SCOPE = "*";

export interface Restriction {
  /** A room, or CHAT_SCOPE. */
  scope: string;
  kind: "account" | "address";
  /** The account's name as registered, or the network as shown (`203.0.113.0/24`, `198.51.100.7`). */
  target: string;
  /** For the address of a guest named by a moderator: the name they had. */
  name?: string;
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
  const { scope, kind, target, name, by, reason, at, until } = row;
  const strings = [scope, target, by, at].every((v) => typeof v === "string");
  const optional = [name, reason].every((v) => v === undefined || typeof v === "string");
  if (!strings || !optional || (kind !== "account" && kind !== "address")) return undefined;
  if (until !== undefined && !Number.isSafeInteger(until)) return undefined;
  return row as unknown as Restriction;
}

/** One scope's restrictions, indexed. */
interface Scope {
  accounts: Map<string, Restriction>;
  networks: NetworkMap<Restriction>;
}

export class Restrictions {
  readonly table: Table<Restriction>;
  readonly #scopes = new Map<string, Scope>();

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
    return indexed.networks.find(address, this.#inForce);
  }

  readonly #inForce = (restriction: Restriction) => restriction.until === undefined || restriction.until > this.now();

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

  /** The index follows the table: a row in, or (undefined) out, by what its key says it is on. */
  #indexed(key: string, row: Restriction | undefined): void {
    const [scope = "", on = ""] = key.split(" ");
    const [kind, value = ""] = [on.slice(0, on.indexOf(":")), on.slice(on.indexOf(":") + 1)];
    let indexed = this.#scopes.get(scope);
    if (!indexed && !row) return;
    if (!indexed) this.#scopes.set(scope, (indexed = { accounts: new Map(), networks: new NetworkMap() }));
    if (kind === "account") {
      if (row) indexed.accounts.set(value, row);
      else indexed.accounts.delete(value);
    } else {
      const network = parseNetwork(value);
      if (!network || "problem" in network) return;
      if (row) indexed.networks.set(network as Network, row);
      else indexed.networks.delete(network as Network);
    }
    if (indexed.accounts.size === 0 && indexed.networks.empty) this.#scopes.delete(scope);
  }
}
