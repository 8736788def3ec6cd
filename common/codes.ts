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
} as const satisfies Record<string, { status: number; meaning: string }>;

export type ErrorCode = keyof typeof ERROR_CODES;

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
