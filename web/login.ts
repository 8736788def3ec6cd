/**
 * Logging in on joining, on the page. The server refuses a registered name asked for on
 * connecting (`name-registered`) unless the connection presents a session token of its account
 * (the session library offers the one it is given); the connection then stays, without a name,
 * and logs in with the password (`login`). A server for registered accounts only (--guests no)
 * lets any connection without such a token in to log in, and nothing more (`login-required`).
 */
import type { ChatEvent, ErrorEvent } from "../common/events";

/** How long to wait for the server's answer to a login. */
export const LOGIN_WAIT_MS = 10_000;

/** The refusals that belong to logging in: the name form says them, the conversation does not. */
const LOGIN_REFUSALS = new Set(["name-registered", "login-required", "session-invalid", "login-failed", "banned"]);
/** What a login is answered with besides the account: each is said under the form, as it is. */
const LOGIN_ANSWERS = new Set(["login-failed", "password-invalid", "rate-limited", "banned", "unavailable"]);

/** Watches the events of a connection being joined: the refusal of the name, and the answer to a login. */
export class LoginWatch {
  /** The server's refusal of the name as a registered one, or of a guest (`login-required`), once heard. */
  refusal: ErrorEvent | undefined;
  /** The server's refusal of the session token offered, once heard. */
  sessionRefusal: ErrorEvent | undefined;
  /** The account (of the token offered, or logged in to) is banned: its words, once heard. */
  banned: ErrorEvent | undefined;
  #answer: ((failure: string | undefined) => void) | undefined;
  #joining = true;

  /** True if `event` is the watch's to take (not for the conversation). */
  takes(event: ChatEvent): boolean {
    if (event.type === "account" && event.name !== null) this.#answer?.(undefined);
    if (event.type !== "error" || !this.#joining) return false;
    if (event.code === "name-registered" || event.code === "login-required") this.refusal = event;
    if (event.code === "session-invalid") this.sessionRefusal = event;
    if (event.code === "banned") this.banned = event;
    if (LOGIN_ANSWERS.has(event.code)) this.#answer?.(event.message);
    return LOGIN_REFUSALS.has(event.code);
  }

  /** Waits for the answer to a login just sent: undefined once in, otherwise the server's words. */
  async answer(): Promise<string | undefined> {
    const { promise, resolve } = Promise.withResolvers<string | undefined>();
    const timer = setTimeout(() => resolve("The server did not answer the login. Try again."), LOGIN_WAIT_MS);
    this.#answer = resolve;
    try {
      return await promise;
    } finally {
      clearTimeout(timer);
      this.#answer = undefined;
    }
  }

  /** The server is for registered accounts only (--guests no): it wants a login, whatever the name. */
  get accountsOnly(): boolean {
    return this.refusal?.code === "login-required";
  }

  /** Joined: every event goes to the conversation from now on. */
  done(): void {
    this.#joining = false;
  }
}
