/**
 * What accounts add to the wire: the `account` event, which tells a connection its login changed
 * (and gives a session token after a login with a password), and the subprotocol entry a session
 * token is presented in; with the event's check, which common/events.ts's one decoder uses like its
 * own. Kept apart from events.ts, which would otherwise grow past a file's length.
 */

/**
 * A session token (given by the `account` event after a login) goes as the subprotocol entry
 * `session.<token>`, never in the URL: the connection is then logged in before it claims its name.
 */
export const SESSION_PROTOCOL = "session.";

/** A session token as a subprotocol entry (see SESSION_PROTOCOL): it is base64url already. */
export function sessionProtocol(token: string): string {
  return SESSION_PROTOCOL + token;
}

/**
 * This connection's login changed: `name` is the account it is logged in to now (null: a guest).
 * After a login with a password (or a registration), `token` is a session token: a client keeps
 * it (never the password) and presents it on reconnecting (SESSION_PROTOCOL) or with `session`.
 * `temporary` says the server keeps accounts in memory only: this one lasts until it stops.
 * `text`, when there is one, says what happened for people ("Your password is changed…").
 */
/**
 * What a person without an account is told on a server for registered accounts only, by the
 * terminal and the page alike. Not a command line: the person runs a client, on a machine of
 * their own; the server's operator runs the command, however they run the server.
 */
export const NO_ACCOUNT =
  "No account? Ask the server's operator for one (they make it with its 'accounts create NAME').";

export interface AccountEvent {
  type: "account";
  name: string | null;
  token?: string;
  temporary?: true;
  text?: string;
  /** The id of the command it answers (a login, a /password…), when that command had one. */
  id?: string;
}

type Fields = Record<string, unknown>;
const isString = (v: unknown): v is string => typeof v === "string";

export const ACCOUNT_CHECKS = {
  account: (e: Fields): AccountEvent | undefined => {
    if (!(e.name === null || isString(e.name))) return undefined;
    return {
      type: "account",
      name: e.name,
      ...(isString(e.token) && { token: e.token }),
      ...(e.temporary === true && { temporary: true }),
      ...(isString(e.text) && { text: e.text }),
      ...(isString(e.id) && { id: e.id }),
    };
  },
};
