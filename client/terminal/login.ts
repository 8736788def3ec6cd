/**
 * Logging in to a registered name on starting, for the terminal and pipe modes alike. The server
 * refuses a registered name asked for on connecting (`name-registered`) unless the connection
 * presents a session token of its account (the session library offers the one it is given, and
 * then the one of its last login); the connection then stays, without a name, and logs in to it
 * with the password (`login`): it is in once the server says so (`account`). A server without
 * guests (`--guests no`) lets a connection without such a token in to log in only
 * (`login-required`): the name asked for is logged in to the same way.
 *
 * An account banned from the chat is told so (`banned`, with who banned it, for how long and why)
 * when its kept session token is presented, or when its password is right: that is final, and
 * no password is asked for (again).
 */
import type { ChatEvent, ErrorEvent } from "../../common/events";
import { ChatSession, NameRefusedError } from "../session/session";
import type { SessionOptions, Status } from "../session/status";
import type { KeptLogins } from "./kept-logins";

/** What the command line says about logging in. */
export interface Accounts {
  /** The logins kept between runs. */
  kept: KeptLogins;
  /** --forget: the login kept for this server is dropped before connecting. */
  forget: boolean;
  /** From --password-file or CHAT_PASSWORD: tried once, before asking. */
  password: string | undefined;
}

/** How long to wait for the server's answer to a login. */
const LOGIN_WAIT_MS = 10_000;

/** The refusals that belong to logging in on starting: said by the asking, not shown with the chat. */
const LOGIN_REFUSALS = new Set(["name-registered", "login-required", "session-invalid", "login-failed"]);

/**
 * Asks for the password of the registered `name`; undefined to log in no further. `refusal` is
 * why it is asked: the name is registered (`name-registered`), the server is for registered
 * accounts only (`login-required`), the kept token was not taken (`session-invalid`), or the last
 * password was wrong (`login-failed`), with the server's words.
 */
export type AskPassword = (name: string, refusal: ErrorEvent) => Promise<string | undefined>;

/**
 * The name is registered, or the server lets in only accounts, and no password was given (or the
 * last one was wrong); `account` undefined: no name was asked for, on a server for accounts only.
 * Or the account is banned from the chat (`refusal.code` "banned"): no password will do.
 */
export class NotLoggedInError extends Error {
  constructor(
    /** Why: the server's last refusal. */
    readonly refusal: ErrorEvent,
    readonly account: string | undefined,
  ) {
    super(notLoggedIn(refusal, account));
  }
}

/** The server's words for a refused name tell a person to type /login: ours say what a script does instead. */
function notLoggedIn(refusal: ErrorEvent, account: string | undefined): string {
  const as = account === undefined ? "" : ` as '${account}'`;
  switch (refusal.code) {
    case "login-required":
      return `Could not join${as}: this server is for registered accounts only.`;
    case "name-registered":
    case "session-invalid":
      return `Could not join${as}: the name belongs to a registered account.`;
    default:
      return `Could not log in${as}: ${refusal.message}`;
  }
}

/** A session, opened, and what it heard while logging in: to be handed on before anything else. */
export interface Opened {
  session: ChatSession;
  /** Listens as ChatSession.listen does, the events heard while logging in first. */
  listen(onEvent: (event: ChatEvent, raw: string) => void, onStatus: (status: Status) => void): void;
}

/**
 * Opens the session; if the server refuses the name as registered, or wants a login before
 * anything (the token presented, if any, being none of its account's), logs in to the name asked
 * for with the passwords `ask` gives, until one is right. Throws as ChatSession.open does, and
 * NotLoggedInError when `ask` gives up, when the server wants a login and no name was asked for,
 * or when the account is banned from the chat.
 */
export async function openLoggedIn(
  options: SessionOptions,
  ask: AskPassword,
  /** False for a script, which keeps no token: its login makes no session on the server. */
  keepSession = true,
): Promise<Opened> {
  let session: ChatSession;
  try {
    session = await ChatSession.open(options);
  } catch (error) {
    // A library that ends the connection on the refusal: a connection without a name logs in.
    if (!(error instanceof NameRefusedError) || (error.code as string) !== "name-registered") throw error;
    const { name: _refused, ...nameless } = options;
    session = await ChatSession.open(nameless);
  }
  const heard = new Heard(session);
  const name = options.name;
  const banned = options.session === undefined ? undefined : heard.tokenBanned();
  if (banned) return closeRefused(session, banned, name);
  let refusal = heard.refusal("name-registered") ?? heard.refusal("login-required");
  if (!refusal) return heard.opened();
  if (name === undefined) return closeRefused(session, refusal, undefined);
  refusal = heard.refusal("session-invalid") ?? refusal;
  for (;;) {
    const password = await ask(name, refusal);
    if (password === undefined) return closeRefused(session, refusal, name);
    const id = session.send({ type: "login", name, password, ...(!keepSession && { session: false as const }) });
    const answer = await heard.next(
      (event) => (event.type === "account" && event.name !== null) || (event.type === "error" && event.id === id),
    );
    if (answer?.type === "account") return heard.opened();
    if (answer?.type === "error" && answer.code === "banned") return closeRefused(session, answer, name);
    if (answer?.type === "error") heard.answered(answer);
    refusal = answer?.type === "error" ? answer : { type: "error", code: "unavailable", message: "No answer." };
  }
}

/** Closes the session, and throws NotLoggedInError for `refusal`. */
async function closeRefused(session: ChatSession, refusal: ErrorEvent, account: string | undefined): Promise<never> {
  await session.close();
  throw new NotLoggedInError(refusal, account);
}

/** What a session heard while logging in, kept to be handed on; and a wait for the next event of a kind. */
class Heard {
  readonly #events: [ChatEvent, string][] = [];
  readonly #statuses: Status[] = [];
  readonly #answers = new Set<ChatEvent>();
  #waiting: ((event: ChatEvent | undefined) => void) | undefined;

  constructor(private readonly session: ChatSession) {
    session.listen(
      (event, raw) => {
        this.#events.push([event, raw]);
        this.#waiting?.(event);
      },
      (status) => {
        this.#statuses.push(status);
        if (status.type === "ended") this.#waiting?.(undefined);
      },
    );
  }

  /** The refusal of this code heard so far, if any. */
  refusal(code: string): ErrorEvent | undefined {
    return this.#events.map(([event]) => event).find((e): e is ErrorEvent => e.type === "error" && e.code === code);
  }

  /**
   * The ban from the chat that the session token presented on connecting was answered with, if
   * the answer was one: the first of `account` (in), `session-invalid` and `banned`, since the
   * server answers the token before anything else. A `banned` after it is the room asked for
   * refusing us (we are in the default room instead), which is not final.
   */
  tokenBanned(): ErrorEvent | undefined {
    const answer = this.#events
      .map(([event]) => event)
      .find(
        (e) => e.type === "account" || (e.type === "error" && (e.code === "session-invalid" || e.code === "banned")),
      );
    return answer?.type === "error" && answer.code === "banned" ? answer : undefined;
  }

  /** A refusal the login was answered with: told then, so not handed on with the rest. */
  answered(refusal: ErrorEvent): void {
    this.#answers.add(refusal);
  }

  /** The next event that `wanted` takes; undefined if the session ended or nothing came in time. */
  next(wanted: (event: ChatEvent) => boolean): Promise<ChatEvent | undefined> {
    const { promise, resolve } = Promise.withResolvers<ChatEvent | undefined>();
    const timer = setTimeout(() => resolve(undefined), LOGIN_WAIT_MS);
    this.#waiting = (event) => {
      if (event !== undefined && !wanted(event)) return;
      clearTimeout(timer);
      this.#waiting = undefined;
      resolve(event);
    };
    return promise;
  }

  /** The session, its listeners to be given what it heard (less the refusals the login answered) first. */
  opened(): Opened {
    const { session } = this;
    const events = this.#events.filter(
      ([event]) => !(event.type === "error" && (LOGIN_REFUSALS.has(event.code) || this.#answers.has(event))),
    );
    const statuses = this.#statuses;
    return {
      session,
      listen(onEvent, onStatus) {
        for (const [event, raw] of events) onEvent(event, raw);
        for (const status of statuses) onStatus(status);
        session.listen(onEvent, onStatus);
      },
    };
  }
}
