/**
 * Our login, as the session keeps it across reconnections: the account we are logged in to and
 * the session token the server gave us (never the password), offered on every connection as a
 * `session.<token>` subprotocol entry so that we are logged in before we ask for our name. It reads
 * what the server says of it (the `account` event and the refusals about logging in) and words it
 * as a status for the terminal and the page: logged in as X with token T, the token refused (to
 * forget, wherever it was kept), the name asked for belonging to an account, a login wanted.
 */

import { sessionProtocol } from "../../common/account-events";
import type { ChatEvent } from "../../common/events";

/** What happens to our login, for the user interface to show (and to keep the token, or forget it). */
export type LoginStatus =
  /** Logged in to `name` (null: logged out, a guest); `token`, after a login with the password, is the one to keep. */
  | { type: "account"; name: string | null; token?: string; temporary?: true; text?: string }
  /** The session token was refused or ended: forget it; log in with the password again. */
  | { type: "session-invalid"; message: string }
  /** The name we had or asked for belongs to a registered account: log in to it, or choose another. */
  | { type: "name-registered"; name: string; message: string }
  /** The server lets only people logged in do anything (--guests no): log in. */
  | { type: "login-required"; message: string };

export class Login {
  /** The account we are logged in to, as far as we know; null for a guest. */
  account: string | null = null;

  constructor(
    /** The session token to offer: one kept from an earlier login, then the last one the server gave. */
    public token: string | undefined,
  ) {}

  /** The subprotocol entries that log us in on connecting: the session token's, if we have one. */
  get protocols(): string[] {
    return this.token === undefined ? [] : [sessionProtocol(this.token)];
  }

  /** What `event` says of our login, as a status (`name`: the name we have or asked for); undefined if nothing. */
  observe(event: ChatEvent, name: string): LoginStatus | undefined {
    if (event.type === "account") {
      this.account = event.name;
      if (event.token !== undefined) this.token = event.token;
      // Logged out: this device's session has ended.
      if (event.name === null) this.token = undefined;
      const { type: _, ...rest } = event;
      return { type: "account", ...rest };
    }
    if (event.type !== "error") return undefined;
    switch (event.code) {
      case "session-invalid":
        this.token = undefined;
        this.account = null;
        return { type: "session-invalid", message: event.message };
      case "name-registered":
        return { type: "name-registered", name, message: event.message };
      case "login-required":
        return { type: "login-required", message: event.message };
      default:
        return undefined;
    }
  }
}
