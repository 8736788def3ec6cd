/**
 * Accounts and their sessions as the shared state keeps them (server/state/): two tables, read
 * from every instance's copy in memory and changed through the state, so that every instance (and
 * the operators' command line, cli.ts) sees the same accounts.
 *
 * - `accounts`, by the name's look-alike skeleton (common/lookalikes.ts, as names are compared):
 *   `{name, hash, created}`, the name as registered, its password's argon2id hash (never the
 *   password), and when it was made.
 * - `sessions`, by the SHA-256 of the session token (never the token): `{account, since, created}`,
 *   the account's key, the account's own `created` (so that a token outlives no account of the
 *   same name made later), and when the session began. A token is 256 random bits, so a plain
 *   hash is enough: nobody can guess one to try against it, and the key reveals nothing.
 */
import { createHash, randomBytes } from "node:crypto";
import { nameSkeleton } from "../../common/lookalikes";
import { normalizeName } from "../../common/text";
import type { SharedState, Table } from "../state/state";

export interface AccountRow {
  name: string;
  hash: string;
  created: string;
}

export interface SessionRow {
  account: string;
  since: string;
  created: string;
}

/** A session lasts this long after its login; then the password is asked for again. */
export const SESSION_DAYS = 90;
/** Sessions one account may have at once; a login past this ends its oldest. */
export const MAX_SESSIONS = 20;
/** What a session token looks like: 32 random bytes in base64url. Anything else is no token of ours. */
const SESSION_TOKEN = /^[A-Za-z0-9_-]{43}$/;

const isString = (v: unknown): v is string => typeof v === "string";

function accountRow(v: unknown): AccountRow | undefined {
  const { name, hash, created } = (v ?? {}) as Record<string, unknown>;
  return isString(name) && isString(hash) && isString(created) ? { name, hash, created } : undefined;
}

function sessionRow(v: unknown): SessionRow | undefined {
  const { account, since, created } = (v ?? {}) as Record<string, unknown>;
  return isString(account) && isString(since) && isString(created) ? { account, since, created } : undefined;
}

/** An account found, with its key in the table. */
export interface Account {
  key: string;
  row: AccountRow;
}

/** The key a name (or any look-alike of it) has in the accounts table. */
export const accountKey = (name: string): string => nameSkeleton(normalizeName(name));

/** What is kept of a session token: its SHA-256. */
export const sessionKey = (token: string): string => createHash("sha256").update(token).digest("base64url");

export class AccountStore {
  readonly accounts: Table<AccountRow>;
  readonly sessions: Table<SessionRow>;

  constructor(state: SharedState) {
    this.accounts = state.table("accounts", accountRow);
    this.sessions = state.table("sessions", sessionRow);
  }

  /** The account `name`, or a look-alike of it, is; undefined if none is registered. */
  find(name: string): Account | undefined {
    const key = accountKey(name);
    const row = this.accounts.get(key);
    return row && { key, row };
  }

  /** Registers `name` with a password's hash; false if it (or a look-alike) is registered already. */
  create(name: string, hash: string): Promise<boolean> {
    return this.accounts.create(accountKey(name), { name, hash, created: new Date().toISOString() });
  }

  /** The account a session token logs in to, if the token is one, of an account that still exists, and not too old. */
  session(token: string): (Account & { session: string }) | undefined {
    if (!SESSION_TOKEN.test(token)) return undefined;
    const session = sessionKey(token);
    const found = this.sessions.get(session);
    const row = found && this.accounts.get(found.account);
    if (!found || !row || row.created !== found.since || expired(found)) return undefined;
    return { key: found.account, row, session };
  }

  /** A new session of the account: its token (kept by the client alone; its hash is kept here). */
  async newSession({ key, row }: Account): Promise<{ token: string; session: string }> {
    const token = randomBytes(32).toString("base64url");
    const session = sessionKey(token);
    await this.sessions.put(session, { account: key, since: row.created, created: new Date().toISOString() });
    // The oldest go past the bound, and any that expired: one account cannot fill the table.
    const mine = this.sessionsOf(key).sort(([, a], [, b]) => b.created.localeCompare(a.created));
    for (const [old] of mine.slice(MAX_SESSIONS)) await this.sessions.delete(old);
    for (const [old, oldRow] of mine.slice(0, MAX_SESSIONS)) if (expired(oldRow)) await this.sessions.delete(old);
    return { token, session };
  }

  /** The sessions of an account, by key. */
  sessionsOf(account: string): [string, SessionRow][] {
    return [...this.sessions.entries()].filter(([, row]) => row.account === account);
  }

  /** Ends every session of an account but `except`; how many it ended. */
  async endSessions(account: string, except?: string): Promise<number> {
    let ended = 0;
    for (const [session] of this.sessionsOf(account)) {
      if (session !== except && (await this.sessions.delete(session))) ended++;
    }
    return ended;
  }
}

function expired(row: SessionRow): boolean {
  return Date.now() - Date.parse(row.created) > SESSION_DAYS * 86_400_000;
}
