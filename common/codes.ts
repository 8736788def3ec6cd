/**
 * Every refusal the chat gives, by a stable machine code: the one table a client reads instead of
 * the wording. Error events carry the code (`{"type":"error","code":"name-taken","message":…}`);
 * the message is for people and may change. The README's wire-format section lists the same table.
 * The HTTP status is what an HTTP answer of the same refusal has.
 */

export const ERROR_CODES = {
  "bad-command": {
    status: 400,
    meaning: "the command is not one the server can read: not JSON, a missing or malformed field, a missing argument",
  },
  "unknown-command": { status: 400, meaning: "there is no command of that name" },
  "empty-message": { status: 400, meaning: "the message has no text besides control characters" },
  "too-long": { status: 413, meaning: "the message is longer than the server's --max-message; it was not sent" },
  "rate-limited": {
    status: 429,
    meaning: "too many messages, renames or room changes from this connection or address; wait and try again",
  },
  "name-invalid": {
    status: 400,
    meaning: "not a valid name (empty, too long, characters that are not letters or digits, mixed scripts)",
  },
  "name-taken": { status: 409, meaning: "someone connected has that name, or one that looks the same" },
  "name-held": {
    status: 409,
    meaning: "the name is held for someone who dropped and may come back; the message says for how long",
  },
  "name-lost": {
    status: 409,
    meaning:
      "two instances gave the same name while cut off from each other; the other claim was earlier, so this connection lost it",
  },
  "no-change": { status: 409, meaning: "you already have that name, or are already in that room" },
  "room-invalid": { status: 400, meaning: "not a valid room name" },
  "rooms-full": { status: 503, meaning: "the server has as many rooms as it allows; join one that has people in it" },
  "name-registered": {
    status: 409,
    meaning: "the name (or one that looks the same) belongs to a registered account: log in to use it",
  },
  "login-failed": { status: 401, meaning: "wrong name or password (the two are not told apart)" },
  "login-required": {
    status: 401,
    meaning: "this server (--guests no) or this command needs you to be logged in to a registered account",
  },
  "session-invalid": {
    status: 401,
    meaning: "the session token is unknown, revoked or expired: log in with the password again",
  },
  "password-invalid": { status: 400, meaning: "a password is 8 characters to 1,024 bytes, without control characters" },
  "already-registered": { status: 409, meaning: "that name is registered already" },
  "registration-closed": {
    status: 403,
    meaning: "on this server (--registration closed) only an operator creates accounts",
  },
  unavailable: {
    status: 503,
    meaning: "the server could not keep the change just now (its store or Redis is unreachable); try again in a moment",
  },
  forbidden: {
    status: 403,
    meaning: "your role does not allow that (or the person acted on has an equal or higher role)",
  },
  banned: { status: 403, meaning: "banned from this room or from the chat; the message says why and for how long" },
  muted: { status: 403, meaning: "muted in this room: you may read but not speak; the message says for how long" },
  "slow-mode": { status: 429, meaning: "the room is in slow mode: one message per N seconds; the message says when" },
  "not-here": { status: 404, meaning: "nobody of that name is connected (and it is not a registered name)" },
  "not-found": { status: 404, meaning: "no such room, person, message or route" },
  "method-not-allowed": {
    status: 405,
    meaning: "an API route asked with a method it does not take; its Allow header says which it does",
  },
  unauthorized: { status: 401, meaning: "an API request without an API key (Authorization: Bearer KEY)" },
  "bad-key": { status: 403, meaning: "an API key the server does not know, or one revoked" },
} as const satisfies Record<string, { status: number; meaning: string }>;

export type ErrorCode = keyof typeof ERROR_CODES;

/**
 * Close codes of the chat's own (RFC 6455 §7.4.2 leaves 4000–4999 to applications), for a
 * connection a moderator ended: the close reason says who and why, and a client does not
 * reconnect by itself after one (a kicked person may come back by hand; a banned one is refused).
 */
export const CLOSE_KICKED = 4001;
export const CLOSE_BANNED = 4003;

/** A refusal as a value: its code, for programs, and its message, for people. */
export interface Refusal {
  code: ErrorCode;
  message: string;
}

export const refusal = (code: ErrorCode, message: string): Refusal => ({ code, message });

/** The codes that refuse a name: a client asked for a name on connecting takes these as "ask again". */
export type NameRefusalCode = Extract<ErrorCode, "name-invalid" | "name-taken" | "name-held">;

export function refusesName(code: string | undefined): code is NameRefusalCode {
  return code === "name-invalid" || code === "name-taken" || code === "name-held";
}
