/**
 * What a chat session is given (SessionOptions) and what it tells the user interface of its
 * connection (Status): the two shapes the terminal and the page program against, apart from the
 * session's workings (session.ts).
 */
import type { FailureCode, OpenWebSocket } from "./connect";
import type { LoginStatus } from "./login";
import type { Said } from "./resume";

export interface SessionOptions {
  /** The server's URL, without the name, room and token. */
  url: string;
  name?: string;
  room?: string;
  /** A shared secret the server wants (sent as Authorization: Bearer, or as a subprotocol entry). */
  token?: string;
  /**
   * A session token kept from an earlier login (the `account` status's `token`): offered on
   * connecting, as a `session.<token>` subprotocol entry, so that we are logged in before we ask
   * for our name. Never the password.
   */
  session?: string;
  /** How to make a WebSocket; by default the standard one, as in a browser (connect.ts). */
  openWebSocket?: OpenWebSocket;
  /** Reconnect after a lost connection (true unless --no-reconnect). */
  reconnect: boolean;
}

/** What happens to the connection, for the user interface to show. */
export type Status =
  /** Reconnecting: why the last try failed (the drop, then, say, a full server), as words and as a code. */
  | { type: "lost"; reason: string; code: FailureCode; attempt: number; delayMs: number }
  | { type: "reconnected" }
  | { type: "not-sent"; count: number; why: string }
  /** The server refused one of our messages (too long, too fast…): which, and why; it was not sent. */
  | { type: "refused"; command: Said; message: string; code: string }
  /** The session is over for good: why, as words and as a code. */
  | { type: "ended"; message: string; code: FailureCode }
  /** Our login: logged in (with a token to keep), logged out, the token refused, a name registered, a login wanted. */
  | LoginStatus;
