/**
 * Logging in to a registered name on starting, for the terminal and pipe modes alike. A
 * registered name asked for on connecting is refused (`name-registered`) unless the connection
 * presents a session token that is the account's; with a password instead, the connection starts
 * without a name and logs in to it (`login`), and is in once the server says so (`account`).
 */
import type { ChatEvent } from "../../common/events";
import { ChatSession, NameRefusedError, type SessionOptions, type Status } from "../session/session";
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

/** How to log in on connecting: the session token kept from before, or the name and its password. */
export type Login = { session: string } | { name: string; password: string };

/** The login was refused: a wrong password (or no such account; the server does not tell them apart). */
export class LoginFailedError extends Error {
  constructor(
    /** The server's words. */
    readonly reason: string,
    readonly account: string,
  ) {
    super(`Could not log in as '${account}': ${reason}`);
  }
}

/** True when the server refused the name asked for because it is registered: log in to have it. */
export function refusedAsRegistered(error: unknown): error is NameRefusedError {
  return error instanceof NameRefusedError && (error.code as string) === "name-registered";
}

/** A session, opened, and what it heard while logging in: to be handed on before anything else. */
export interface Opened {
  session: ChatSession;
  /** Listens as ChatSession.listen does, the events heard while logging in first. */
  listen(onEvent: (event: ChatEvent, raw: string) => void, onStatus: (status: Status) => void): void;
}

/**
 * Opens the session, logged in as `login` says: a session token goes with the connection (the name
 * asked for stays in `options`); a password is sent once in, on a connection without a name.
 * Throws as ChatSession.open does, and LoginFailedError for a wrong password.
 */
export async function openLoggedIn(options: SessionOptions, login: Login | undefined): Promise<Opened> {
  if (!login || "session" in login) {
    const session = await ChatSession.open({ ...options, ...(login && { session: login.session }) });
    return { session, listen: (onEvent, onStatus) => session.listen(onEvent, onStatus) };
  }
  const { name: _asked, ...nameless } = options;
  const session = await ChatSession.open(nameless);
  const heard: [ChatEvent, string][] = [];
  const statuses: Status[] = [];
  const answer = Promise.withResolvers<string | undefined>();
  const timer = setTimeout(() => answer.resolve("the server did not answer the login."), LOGIN_WAIT_MS);
  session.listen(
    (event, raw) => {
      heard.push([event, raw]);
      if (event.type === "account" && event.name !== null) answer.resolve(undefined);
      if (event.type === "error" && (event.code === "login-failed" || event.code === "password-invalid"))
        answer.resolve(event.message);
    },
    (status) => {
      statuses.push(status);
      if (status.type === "ended") answer.resolve(status.message);
    },
  );
  session.send({ type: "login", name: login.name, password: login.password });
  const failed = await answer.promise;
  clearTimeout(timer);
  if (failed !== undefined) {
    await session.close();
    throw new LoginFailedError(failed, login.name);
  }
  return {
    session,
    listen(onEvent, onStatus) {
      for (const [event, raw] of heard) onEvent(event, raw);
      for (const status of statuses) onStatus(status);
      session.listen(onEvent, onStatus);
    },
  };
}
