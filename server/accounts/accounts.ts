/**
 * Accounts as the chat core sees them: names people own (issue #23). A registered name, and every
 * look-alike of it, is its owner's alone, on every instance, at every moment (names.ts asks
 * `registeredAs`); a connection logged in to the account has it, several connections at once (a
 * phone and a laptop), each speaking with its own address.
 *
 * This file keeps who is logged in to what here, logs connections in and out, and follows the
 * accounts and sessions tables (store.ts) as they change on any instance or from the operators'
 * command line: a name registered takes it from a guest who had it; an account deleted, or a
 * session ended (/logout, /password, an operator's reset), logs out the connections it covers, on
 * every instance. What each command does is in commands.ts; hashing and guessing budgets in
 * passwords.ts and attempts.ts.
 *
 * With --guests no, a guest may connect but does nothing beyond logging in: it waits outside any
 * room (hearing nothing) until it does.
 */

import type { AccountEvent } from "../../common/account-events";
import type { Clock } from "../../common/clock";
import { type Refusal, refusal } from "../../common/codes";
import type { ChatEvent, NoticeEvent } from "../../common/events";
import { describeUser } from "../../common/text";
import type { Directory } from "../directory";
import type { Logger } from "../log";
import type { Member } from "../member";
import type { Moderation } from "../moderation/moderation";
import type { Names } from "../names";
import { notice } from "../notice";
import { OUTSIDE } from "../rooms";
import type { SharedState } from "../state/state";
import { Attempts } from "./attempts";
import { HashQueue, type Passwords } from "./passwords";
import { type Account, AccountStore, accountKey } from "./store";

export interface AccountOptions {
  /** false (--guests no): only people logged in may do anything beyond logging in. */
  guests: boolean;
  /** false (--registration closed): only an operator creates accounts (cli.ts). */
  registration: boolean;
  /** How passwords are hashed: argon2id unless a unit test gives a faster one. */
  passwords?: Passwords;
}

/** What accounts need of the chat (the chat's context, context.ts, has it all). */
export interface AccountChat {
  readonly state: SharedState;
  readonly clock: Clock;
  readonly names: Names;
  readonly log: Logger;
  /** Told when a member's login changes without a rename, so the other instances list it right. */
  readonly directory: Pick<Directory, "present" | "leases">;
  send(member: Member, event: ChatEvent): void;
  refuse(member: Member, refusal: Refusal): void;
  announce(event: NoticeEvent): void;
  enter(member: Member, room: string, how: { firstRoom: boolean; since?: number | null }): void;
  leaveRoom(member: Member): void;
  /** A banned account may not log in; logging in or out may change one's role (moderation/). */
  readonly moderation: Pick<Moderation, "isAccountBanned" | "accountChanged">;
}

export const OPEN_ACCOUNTS: AccountOptions = { guests: true, registration: true };

/** What a guest may send on a server without guests: the login step. */
const LOGIN_STEP = new Set(["login", "session", "help", "quit"]);

export function loginRequired(): Refusal {
  return refusal("login-required", "This server is for registered accounts only: log in with /login NAME PASSWORD.");
}

export function sessionInvalid(why: string): Refusal {
  return refusal("session-invalid", `${why} Log in with your password again: /login NAME PASSWORD.`);
}

export class Accounts {
  readonly store: AccountStore;
  readonly hashes: HashQueue;
  readonly attempts: Attempts;
  /** This instance's connections logged in, by account key, and by session key. */
  readonly #byAccount = new Map<string, Set<Member>>();
  readonly #bySession = new Map<string, Set<Member>>();
  readonly #sessionOf = new Map<Member, string>();
  /** Guests waiting outside every room (--guests no), with the room they asked for. */
  readonly #outside = new Map<Member, { room: string; since: number | null }>();
  /** Who registers which name right now: that name being registered does not take it from them. */
  readonly registering = new Map<string, Member>();
  /** Called once a connection has logged in with its password (set by the chat: private messages kept for it). */
  loggedIn: (member: Member) => void = () => {};

  constructor(
    private readonly chat: AccountChat,
    readonly options: AccountOptions,
  ) {
    this.store = new AccountStore(chat.state);
    this.hashes = new HashQueue(options.passwords);
    this.attempts = new Attempts(chat.clock, chat.state, chat.directory.leases);
    chat.names.registeredAs = (key) => this.store.accounts.get(key)?.name;
    this.store.accounts.onChange((key, row) => (row ? this.#registered(key) : this.#deleted(key)));
    this.store.sessions.onChange((session, row) => {
      if (!row) this.#ended(session);
    });
  }

  /** True when accounts are kept in memory only (no --store, no --redis): they last until the server stops. */
  get temporary(): boolean {
    return this.chat.state.where.startsWith("memory");
  }

  // --- A connection's life ----------------------------------------------------------------------

  /**
   * A connection opened: a session token it presented (a `session.` subprotocol entry) logs it in
   * before it claims a name, so that it asks for its own registered name as its owner. Returns the
   * name to claim, and what to tell it after its welcome.
   */
  arrive(member: Member): { name: string | null; said: ChatEvent[] } {
    const { session, name } = member.asked;
    const said: ChatEvent[] = [];
    if (session) {
      const found = this.store.session(session);
      const banned = found && this.chat.moderation.isAccountBanned(found.row.name);
      if (banned) said.push({ type: "error", ...banned });
      else if (found) {
        this.#track(member, found, found.session);
        said.push({ type: "account", name: found.row.name });
        this.chat.log.line(`${member.address} logged in as ${found.row.name} (session)`);
        return { name: found.row.name, said };
      }
      if (!found) {
        const { code, message } = sessionInvalid("That session token is unknown, ended or expired.");
        said.push({ type: "error", code, message });
      }
    }
    return { name: this.options.guests ? name : null, said };
  }

  /**
   * Whether `member`, let in, enters its room now. Not a guest on a server without guests: it
   * waits outside every room, told why, until it logs in.
   */
  mayEnter(member: Member, room: string, since: number | null): boolean {
    if (this.options.guests || member.account !== null) return true;
    this.#outside.set(member, { room, since });
    member.room = OUTSIDE;
    this.chat.refuse(member, loginRequired());
    return false;
  }

  /** Whether `member` may send a command of this type: with --guests no, a guest only logs in. */
  allows(member: Member, type: string): boolean {
    return this.options.guests || member.account !== null || LOGIN_STEP.has(type);
  }

  closed(member: Member): void {
    this.#untrack(member);
    this.#outside.delete(member);
  }

  /** How many other connections of `member`'s account are in its room here. */
  othersInRoom(member: Member): number {
    if (!member.account) return 0;
    let others = 0;
    for (const other of this.connectionsOf(accountKey(member.account)))
      if (other !== member && other.room === member.room) others++;
    return others;
  }

  /** This instance's connections logged in to the account under `key` (accountKey). */
  connectionsOf(key: string): Iterable<Member> {
    return this.#byAccount.get(key) ?? [];
  }

  /** The guests waiting outside every room (--guests no): connected, though in no room. */
  outside(): Iterable<Member> {
    return this.#outside.keys();
  }

  /** The session `member` logged in with, if any. */
  sessionOf(member: Member): string | undefined {
    return this.#sessionOf.get(member);
  }

  // --- Logging in and out ------------------------------------------------------------------------

  /**
   * `member`, a guest, is logged in to `account` now: it takes the account's name (its room is
   * told), hears of it (`event`), and enters the room it asked for if it waited outside.
   */
  logIn(member: Member, account: Account, session: string | undefined, event: AccountEvent): void {
    const previous = member.name;
    this.#track(member, account, session);
    // The account's own name is given at once (names.ts); "no-change" if it had it (a registration).
    this.chat.names.claim(member, account.row.name, () => {});
    this.chat.send(member, event);
    this.chat.log.line(`${member.address} logged in as ${account.row.name}`);
    if (member.name !== previous) this.#renamed(member, previous);
    // A registration: the same name, registered now, as the others instances' lists should say.
    else if (member.room !== OUTSIDE) this.chat.directory.present(member.room, member.user);
    this.chat.moderation.accountChanged(member, null);
    const waiting = this.#outside.get(member);
    if (waiting) {
      this.#outside.delete(member);
      this.chat.enter(member, waiting.room, { firstRoom: true, since: waiting.since });
    }
    this.loggedIn(member);
  }

  /**
   * `member` is a guest again, without a name (its name is the account's): it hears so (`event`),
   * and its room is told. On a server without guests, it leaves its room to wait outside.
   */
  logOut(member: Member, event: AccountEvent = { type: "account", name: null }): void {
    const previous = member.name;
    const account = member.account;
    this.#untrack(member);
    member.name = null;
    this.chat.send(member, event);
    this.chat.log.line(`${member.address} logged out of ${account}`);
    this.#renamed(member, previous);
    this.chat.moderation.accountChanged(member, account);
    if (this.options.guests || member.room === OUTSIDE) return;
    this.#outside.set(member, { room: member.room, since: null });
    this.chat.leaveRoom(member);
    this.chat.refuse(member, loginRequired());
  }

  /** Forgets which session `member` used, so that ending it does not log `member` out as well. */
  detach(member: Member): void {
    const session = this.#sessionOf.get(member);
    if (session === undefined) return;
    this.#sessionOf.delete(member);
    this.#bySession.get(session)?.delete(member);
    if (this.#bySession.get(session)?.size === 0) this.#bySession.delete(session);
  }

  #track(member: Member, { key, row }: Account, session: string | undefined): void {
    member.account = row.name;
    addTo(this.#byAccount, key, member);
    if (session === undefined) return;
    this.#sessionOf.set(member, session);
    addTo(this.#bySession, session, member);
  }

  #untrack(member: Member): void {
    if (member.account === null) return;
    this.detach(member);
    const key = accountKey(member.account);
    this.#byAccount.get(key)?.delete(member);
    if (this.#byAccount.get(key)?.size === 0) this.#byAccount.delete(key);
    member.account = null;
  }

  /** The room hears that `member` (named `previous` until now) has its name now, or none. */
  #renamed(member: Member, previous: string | null): void {
    if (member.room === OUTSIDE) return;
    const before = previous ? `${previous} (${member.address})` : member.address;
    const change = `${before} is now ${member.name ?? describeUser(member.user)}`;
    this.chat.announce(notice(member.room, "rename", member.user, change, previous));
    this.chat.log.line(change);
  }

  // --- Changes heard, from any instance or the command line ---------------------------------------

  /** An account was made (or changed): a guest here who has its name, or a look-alike, loses it. */
  #registered(key: string): void {
    const lost = this.chat.names.evict(key, this.registering.get(key));
    if (!lost) return;
    const owner = this.store.accounts.get(key)?.name ?? lost.name;
    this.chat.refuse(
      lost.member,
      refusal(
        "name-registered",
        `The name '${owner}' was just registered by its owner${lost.name === owner ? "" : ` (and '${lost.name}' looks like it)`}: you have no name now. Pick another with /nick.`,
      ),
    );
    this.#renamed(lost.member, lost.name);
  }

  /** An account was deleted: whoever is logged in to it here is a guest again. */
  #deleted(key: string): void {
    this.attempts.forget(key);
    for (const member of [...(this.#byAccount.get(key) ?? [])]) {
      this.chat.refuse(member, sessionInvalid("Your account was deleted."));
      this.logOut(member);
    }
  }

  /** A session ended (a logout, a password changed or reset): the connections that used it here are guests again. */
  #ended(session: string): void {
    for (const member of [...(this.#bySession.get(session) ?? [])]) {
      this.chat.refuse(
        member,
        sessionInvalid("Your session was ended: the password was changed or reset, or it was logged out elsewhere."),
      );
      this.logOut(member);
    }
  }
}

function addTo<K, V>(map: Map<K, Set<V>>, key: K, value: V): void {
  let set = map.get(key);
  if (!set) map.set(key, (set = new Set()));
  set.add(value);
}
