/**
 * The account commands: /register, /login, /session, /logout, /password and /unregister, each
 * refused with its code (common/codes.ts) or done through Accounts (accounts.ts).
 *
 * A password is only ever hashed (off the event loop, a few at a time: passwords.ts), after its
 * guess budgets allow it (attempts.ts); it is never kept, logged or quoted back. Each of these
 * commands counts as a rename for its address's budget (--ip-changes): a login renames, and the
 * others are as rare. A wrong password and an unknown name get the same answer, in the same time.
 */
import { type Refusal, refusal } from "../../common/codes";
import type { AccountCommandType, Command } from "../../common/commands";
import { nameProblem, normalizeName } from "../../common/text";
import { mayChange } from "../changes";
import type { ChatContext } from "../context";
import { printable } from "../log";
import type { Member } from "../member";
import type { Accounts } from "./accounts";
import type { TooMany } from "./attempts";
import { passwordProblem } from "./passwords";
import { type Account, accountKey } from "./store";

/** A name is at most 32 characters, each with a few marks: anything longer is not one. */
const MAX_NAME_UNITS = 256;

type AccountCommand = Extract<Command, { type: AccountCommandType }>;

export function performAccount(chat: ChatContext, member: Member, command: AccountCommand): void {
  const done = (() => {
    switch (command.type) {
      case "register":
        return register(chat, member, command.password, command.id);
      case "login":
        return login(chat, member, command, command.id);
      case "session":
        return session(chat, member, command.token, command.id);
      case "logout":
        return logout(chat, member, command.id);
      case "password":
        return changePassword(chat, member, command.old, command.new, command.id);
      case "unregister":
        return unregister(chat, member, command.password, command.id);
    }
  })();
  // What fails unforeseen is one line in the log, never an unhandled rejection.
  void Promise.resolve(done).catch((error) =>
    chat.log.line(`Error in /${command.type}: ${error instanceof Error ? error.message : String(error)}`),
  );
}

async function register(chat: ChatContext, member: Member, password: string, id?: string): Promise<void> {
  const { accounts } = chat;
  const name = member.name;
  const refused = registrationProblem(accounts, member, name, password);
  if (refused) return chat.refuse(member, refused, id);
  if (!mayChange(chat, member, id)) return;
  const tooMany = await accounts.attempts.register(member.budget.prefix);
  if (tooMany) return chat.refuse(member, rateLimited(tooMany, "New accounts"), id);
  if (!member.open) return;
  const hashing = accounts.hashes.hash(password);
  if (!hashing) return chat.refuse(member, busy(), id);
  const hash = await hashing;
  if (!member.open || member.account !== null) return;
  if (member.name !== name)
    return chat.refuse(member, refusal("no-change", `You are not ${name} any more: nothing was registered.`), id);
  const key = accountKey(name!);
  accounts.registering.set(key, member);
  let created: boolean;
  try {
    created = await accounts.store.create(name!, hash);
  } catch (error) {
    return chat.refuse(member, unavailable(error), id);
  } finally {
    accounts.registering.delete(key);
  }
  if (!created)
    return chat.refuse(member, refusal("already-registered", `The name '${name}' is registered already.`), id);
  // The name is the account's now: no longer a guest's claim, here or in the directory.
  chat.names.release(member, true);
  accounts.attempts.trust(member.budget.prefix, key);
  const account = { key, row: accounts.store.accounts.get(key)! };
  chat.log.line(`${member.address} registered ${name}`);
  const kept = accounts.temporary ? " (until the server stops: it keeps accounts in memory only)" : "";
  const text = `${name} is registered to you now${kept}.`;
  await startSession(chat, member, account, { temporary: accounts.temporary, text, id });
}

function registrationProblem(
  accounts: Accounts,
  member: Member,
  name: string | null,
  password: string,
): Refusal | undefined {
  if (!accounts.options.registration)
    return refusal("registration-closed", "On this server only an operator creates accounts; ask one for yours.");
  if (member.account !== null)
    return refusal("already-registered", `You are logged in as ${member.account}, a registered name already.`);
  if (name === null)
    return refusal("name-invalid", "You have no name to register: take one with /nick NAME, then /register PASSWORD.");
  if (accounts.store.find(name)) return refusal("already-registered", `The name '${name}' is registered already.`);
  const problem = passwordProblem(password);
  return problem ? refusal("password-invalid", problem) : undefined;
}

async function login(
  chat: ChatContext,
  member: Member,
  { name, password, session }: { name: string; password: string; session?: false },
  id?: string,
): Promise<void> {
  const { accounts } = chat;
  if (member.account !== null) return chat.refuse(member, loggedInAlready(member.account), id);
  if (!mayChange(chat, member, id)) return;
  // No account has a name that is no name (or a megabyte long): wrong, without looking further.
  if (name.length > MAX_NAME_UNITS || nameProblem(normalizeName(name))) return chat.refuse(member, loginFailed(), id);
  const account = accounts.store.find(name);
  const wrong = await checkPassword(chat, member, accountKey(name), account, password, loginFailed());
  if (!member.open || member.account !== null) return;
  if (wrong) {
    if (wrong.code === "login-failed") chat.log.line(`${member.address} failed to log in as ${printable(name)}`);
    return chat.refuse(member, wrong, id);
  }
  // Told only to who knows the password: a ban is nobody else's business.
  const banned = chat.moderation.isAccountBanned(account!.row.name);
  if (banned) return chat.refuse(member, banned, id);
  await startSession(chat, member, account!, { temporary: false, id, keep: session !== false });
}

/**
 * Logs `member` in to `account` with a new session token, unless it asked for none (`keep`
 * false: a script's login, for this connection alone). A token that could not be kept (Redis
 * unreachable) is not given: the login holds for this connection, and the client asks for the
 * password again next time.
 */
async function startSession(
  chat: ChatContext,
  member: Member,
  account: Account,
  { temporary, text, id, keep = true }: { temporary: boolean; text?: string; id: string | undefined; keep?: boolean },
): Promise<void> {
  const { accounts } = chat;
  let started: { token: string; session: string } | undefined;
  try {
    if (keep) started = await accounts.store.newSession(account);
  } catch (error) {
    chat.log.line(
      `No session token for ${account.row.name}: ${error instanceof Error ? error.message : String(error)}`,
    );
  }
  if (!member.open || member.account !== null) {
    if (started) await accounts.store.sessions.delete(started.session).catch(() => {});
    return;
  }
  accounts.logIn(member, account, started?.session, {
    type: "account",
    name: account.row.name,
    ...(started && { token: started.token }),
    ...(temporary && { temporary: true }),
    ...(text !== undefined && { text }),
    ...(id !== undefined && { id }),
  });
}

function session(chat: ChatContext, member: Member, token: string, id?: string): void {
  const { accounts } = chat;
  if (member.account !== null) return chat.refuse(member, loggedInAlready(member.account), id);
  if (!mayChange(chat, member, id)) return;
  const found = accounts.store.session(token);
  if (!found) {
    return chat.refuse(
      member,
      refusal("session-invalid", "That session token is unknown, ended or expired: log in with your password again."),
    );
  }
  const banned = chat.moderation.isAccountBanned(found.row.name);
  if (banned) return chat.refuse(member, banned, id);
  accounts.logIn(member, found, found.session, { type: "account", name: found.row.name, ...(id && { id }) });
}

async function logout(chat: ChatContext, member: Member, id?: string): Promise<void> {
  const { accounts } = chat;
  if (member.account === null) return chat.refuse(member, notLoggedIn(), id);
  if (!mayChange(chat, member, id)) return;
  const session = accounts.sessionOf(member);
  // Forgotten first: the session's end, heard back, is then not news to this connection.
  accounts.detach(member);
  accounts.logOut(member, { type: "account", name: null, ...(id && { id }) });
  if (session === undefined) return;
  try {
    await accounts.store.sessions.delete(session);
  } catch (error) {
    chat.refuse(member, unavailable(error, "You are logged out here, but your session token could not be ended"), id);
  }
}

async function changePassword(
  chat: ChatContext,
  member: Member,
  old: string,
  next: string,
  id?: string,
): Promise<void> {
  const { accounts } = chat;
  if (member.account === null) return chat.refuse(member, notLoggedIn(), id);
  const problem = passwordProblem(next);
  if (problem) return chat.refuse(member, refusal("password-invalid", problem), id);
  if (!mayChange(chat, member, id)) return;
  const key = accountKey(member.account);
  const account = accounts.store.find(member.account);
  const wrong = await checkPassword(chat, member, key, account, old, notYours());
  if (wrong) return member.open ? chat.refuse(member, wrong, id) : undefined;
  const hashing = accounts.hashes.hash(next);
  if (!hashing) return chat.refuse(member, busy(), id);
  const hash = await hashing;
  const row = accounts.store.accounts.get(key);
  // Deleted or changed meanwhile (its listeners told everyone what became of it): not changed here.
  if (row?.hash !== account!.row.hash)
    return chat.refuse(member, refusal("no-change", "The account changed meanwhile: nothing was changed."), id);
  try {
    await accounts.store.accounts.put(key, { ...row, hash });
    const ended = await accounts.store.endSessions(key, accounts.sessionOf(member));
    const others = ended === 1 ? "1 other session was" : `${ended} other sessions were`;
    const text = `Your password is changed; ${others} ended.`;
    chat.send(member, { type: "account", name: row.name, text, ...(id && { id }) });
    chat.log.line(`${member.address} changed the password of ${row.name}`);
  } catch (error) {
    chat.refuse(member, unavailable(error), id);
  }
}

async function unregister(chat: ChatContext, member: Member, password: string, id?: string): Promise<void> {
  const { accounts } = chat;
  if (member.account === null) return chat.refuse(member, notLoggedIn(), id);
  if (!mayChange(chat, member, id)) return;
  const key = accountKey(member.account);
  const account = accounts.store.find(member.account);
  const wrong = await checkPassword(chat, member, key, account, password, notYours());
  if (wrong) return member.open ? chat.refuse(member, wrong, id) : undefined;
  const name = account!.row.name;
  try {
    // This connection's own logout is told below, in its own words, not as a deletion heard.
    accounts.logOut(member, { type: "account", name: null, text: unregistered(name), ...(id && { id }) });
    await accounts.store.accounts.delete(key);
    await accounts.store.endSessions(key);
    chat.log.line(`${member.address} unregistered ${name}`);
  } catch (error) {
    chat.refuse(member, unavailable(error), id);
  }
}

/**
 * Whether `password` is the account's (undefined) or why not: after the guess budgets allow an
 * attempt, its hash is checked off the event loop. An unknown name is checked against a decoy,
 * and gets `wrong` as a wrong password does.
 */
async function checkPassword(
  chat: ChatContext,
  member: Member,
  key: string,
  account: Account | undefined,
  password: string,
  wrong: Refusal,
): Promise<Refusal | undefined> {
  const { accounts } = chat;
  const prefix = member.budget.prefix;
  const tooMany = await accounts.attempts.take(prefix, key, account !== undefined);
  if (tooMany) {
    chat.metrics.refusedRate++;
    return rateLimited(tooMany, "Password attempts");
  }
  // No password of any account is this short or long: wrong, without hashing a megabyte.
  if (passwordProblem(password)) return wrong;
  const hash = account?.row.hash;
  const checking = accounts.hashes.verify(
    password,
    hash,
    account !== undefined && accounts.attempts.isTrusted(key, prefix),
  );
  if (!checking) return busy();
  const right = await checking;
  // The account may have changed while the hash ran (deleted, its password changed).
  if (!right || hash === undefined || accounts.store.accounts.get(key)?.hash !== hash) return wrong;
  accounts.attempts.succeeded(prefix, key);
  return undefined;
}

function loginFailed(): Refusal {
  return refusal("login-failed", "Wrong name or password.");
}

function notYours(): Refusal {
  return refusal("login-failed", "That is not your password; nothing was changed.");
}

function notLoggedIn(): Refusal {
  return refusal("login-required", "You are not logged in: /login NAME PASSWORD first.");
}

function loggedInAlready(account: string): Refusal {
  return refusal("forbidden", `You are logged in as ${account} already: /logout first to log in as someone else.`);
}

function unregistered(name: string): string {
  return `${name} is no longer registered: you are a guest without a name now, and anyone may take ${name}.`;
}

function rateLimited({ waitSeconds, whose }: TooMany, what: string): Refusal {
  return refusal("rate-limited", `${what} from ${whose} are used up for now: wait ${waitSeconds} s and try again.`);
}

function busy(): Refusal {
  return refusal("rate-limited", "The server is checking too many passwords just now: try again in a few seconds.");
}

function unavailable(error: unknown, what = "The change could not be kept"): Refusal {
  const why = error instanceof Error ? error.message : String(error);
  return refusal("unavailable", `${what}: ${why}`);
}
