/**
 * Commands, client to server, in one table: it drives reading a line typed by a person
 * (`/nick alice`), reading a JSON command from a rich client (`{"type":"nick","name":"alice"}`),
 * and the `/help` list, so the three can never disagree.
 *
 * A message or action sent as JSON may carry an `id` of the client's choosing: the server gives it
 * back in the event, so the sender knows its own message when it comes back, whatever the server
 * did to its text (client/session/resume.ts).
 */
import { type ErrorCode, refusal } from "./codes";

/** One argument of a command: the JSON field it goes in, and how help and errors show it. */
interface Argument {
  readonly field: string;
  /** Shown in `/help`, e.g. `/nick NAME`. */
  readonly placeholder: string;
  /** For "/nick needs a name, e.g. /nick alice". */
  readonly what: string;
  readonly example: string;
  /** May be left out: `/older` alone pages back from the oldest message shown. */
  readonly optional?: true;
  /**
   * An optional argument before others is taken only when the word typed looks like it: in
   * `/ban bob spam` there is no duration, so "spam" is the reason.
   */
  readonly looksLike?: RegExp;
  /** May come in JSON as a number (`"seq":123`); commands carry it as its decimal string. */
  readonly numeric?: true;
  /** A password: clients never show it, recall it or log it, and ask for it masked when left out. */
  readonly secret?: true;
}

interface CommandSpec {
  readonly type: string;
  /**
   * Typed, each argument is one word, but the last takes the rest of the line: a reason, a
   * message, or a password with spaces in it.
   */
  readonly arguments?: readonly Argument[];
  readonly help: string;
  /** Typed as `/<typed>` when that differs from its JSON type: `/msg` sends a `dm`. */
  readonly typed?: string;
  /** How `/help` shows it, when not `/<typed> <PLACEHOLDERS>`. */
  readonly usage?: string;
  /** A message is typed as itself, not as `/say`. */
  readonly typedWithoutSlash?: true;
}

const NAME = { field: "name", placeholder: "NAME", what: "a name", example: "alice" } as const;
const DURATION = {
  field: "duration",
  placeholder: "[DURATION]",
  what: "a duration",
  example: "2h",
  optional: true,
  looksLike: /^\d+[smhdw]$/i,
} as const;
const REASON = { field: "reason", placeholder: "[REASON]", what: "a reason", example: "spam", optional: true } as const;
const PASSWORD = {
  field: "password",
  placeholder: "PASSWORD",
  what: "a password",
  example: "correct-horse",
  secret: true,
} as const;

/** Every command, in the order `/help` lists them. */
export const COMMANDS = [
  { type: "nick", arguments: [NAME], help: "set your name (letters, digits, _ - .; up to 32)" },
  {
    type: "join",
    arguments: [{ field: "room", placeholder: "ROOM", what: "a room", example: "dev" }],
    help: "move to another room (same rules as names)",
  },
  { type: "rooms", help: "list the rooms and how many people are in each" },
  { type: "who", help: "list who is in your room" },
  {
    type: "older",
    arguments: [
      { field: "before", placeholder: "[N]", what: "a message number", example: "120", optional: true, numeric: true },
    ],
    help: "show the messages before number N, or before the oldest shown",
  },
  {
    type: "me",
    arguments: [{ field: "text", placeholder: "ACTION", what: "an action", example: "waves" }],
    help: "say what you are doing, e.g. /me waves",
  },
  {
    type: "dm",
    typed: "msg",
    arguments: [
      { field: "to", placeholder: "NAME", what: "a name", example: "bob" },
      { field: "text", placeholder: "TEXT", what: "a message", example: "hi" },
    ],
    help: "say something to one person only",
  },
  {
    type: "reply",
    typed: "r",
    arguments: [{ field: "text", placeholder: "TEXT", what: "a message", example: "thanks" }],
    help: "answer the last person who wrote to you privately",
  },
  { type: "ignore", arguments: [NAME], help: "refuse NAME's private messages, hide their room ones" },
  { type: "unignore", arguments: [NAME], help: "stop ignoring NAME" },
  { type: "register", arguments: [PASSWORD], help: "make the name you hold yours, kept with a password" },
  {
    type: "login",
    arguments: [NAME, PASSWORD],
    help: "take your registered name (on several devices at once)",
  },
  {
    type: "session",
    arguments: [{ ...PASSWORD, field: "token", placeholder: "TOKEN", what: "a session token", example: "Zm9vYmFy" }],
    help: "log in with a kept session token (clients do it for you)",
  },
  { type: "logout", help: "back to being a guest; this device's session ends" },
  {
    type: "password",
    arguments: [
      { ...PASSWORD, field: "old", placeholder: "OLD", what: "your password", example: "correct-horse" },
      { ...PASSWORD, field: "new", placeholder: "NEW", what: "a new password", example: "battery-staple" },
    ],
    help: "change your password (every other session ends)",
  },
  { type: "unregister", arguments: [PASSWORD], help: "give up your registered name" },
  { type: "claim", help: "own the room you are in, if nobody owns it" },
  { type: "mod", arguments: [NAME], help: "owners: make NAME a moderator of this room" },
  { type: "unmod", arguments: [NAME], help: "owners: NAME is no longer a moderator of this room" },
  {
    type: "kick",
    arguments: [NAME, REASON],
    help: "moderators: send NAME out of the room (operators: the chat)",
  },
  {
    type: "ban",
    arguments: [
      { field: "target", placeholder: "TARGET", what: "a name or an address", example: "bob" },
      DURATION,
      REASON,
    ],
    help: "moderators: ban a name or address here (operators: everywhere)",
  },
  {
    type: "unban",
    arguments: [{ field: "target", placeholder: "TARGET", what: "a name or an address", example: "bob" }],
    help: "moderators: lift a ban",
  },
  { type: "bans", help: "moderators: list the bans in force here" },
  { type: "mute", arguments: [NAME, DURATION], help: "moderators: NAME stays and reads but cannot speak here" },
  { type: "unmute", arguments: [NAME], help: "moderators: NAME may speak again" },
  {
    type: "topic",
    arguments: [{ field: "text", placeholder: "TEXT", what: "a topic", example: "release planning" }],
    help: "moderators: set the room's topic",
  },
  {
    type: "slow",
    arguments: [
      { field: "seconds", placeholder: "SECONDS", what: "a number of seconds", example: "30", numeric: true },
    ],
    help: "moderators: one message per SECONDS each (0 ends it)",
  },
  {
    type: "delete",
    arguments: [{ field: "seq", placeholder: "N", what: "a message number", example: "123", numeric: true }],
    help: "moderators: remove message number N, everywhere",
  },
  { type: "modlog", help: "moderators: the room's recent moderation actions" },
  { type: "help", help: "list the commands" },
  { type: "quit", help: "leave the chat" },
  {
    type: "say",
    arguments: [{ field: "text", placeholder: "TEXT", what: "some text", example: "hello" }],
    usage: "//TEXT",
    help: "send a message that starts with /",
    typedWithoutSlash: true,
  },
] as const satisfies readonly CommandSpec[];

type Spec = (typeof COMMANDS)[number];
type Simplify<T> = { [K in keyof T]: T[K] } & {};
/** One argument's field in a command: a string, missing when the argument is optional. */
type FieldOf<A> = A extends { field: infer F extends string; optional: true }
  ? { [K in F]?: string }
  : A extends { field: infer F extends string }
    ? { [K in F]: string }
    : never;
type FieldsOf<As> = As extends readonly [infer First, ...infer Rest] ? FieldOf<First> & FieldsOf<Rest> : unknown;
/**
 * The commands whose event comes back to the sender, so they may carry an id of its choosing;
 * and the account commands, whose answer (an `account` event or a refusal) carries it back.
 */
type WithId = "say" | "me" | "dm" | "reply" | AccountCommandType;
/** The account commands: answered later than the commands sent after them (a password is hashed first). */
export type AccountCommandType = "register" | "login" | "session" | "logout" | "password" | "unregister";
export const ACCOUNT_COMMANDS = new Set<string>([
  "register",
  "login",
  "session",
  "logout",
  "password",
  "unregister",
] satisfies AccountCommandType[]);
type CommandOf<S> = S extends { type: infer T extends string }
  ? Simplify<
      { type: T } & (S extends { arguments: infer As } ? FieldsOf<As> : unknown) &
        (T extends WithId ? { id?: string } : unknown) &
        (T extends "login" ? { session?: false } : unknown)
    >
  : never;
export type Command = CommandOf<Spec>;
export type CommandType = Spec["type"];

const byType = new Map<string, CommandSpec>(COMMANDS.map((c) => [c.type, c]));
const byTyped = new Map<string, CommandSpec>(
  COMMANDS.filter((c: CommandSpec) => !c.typedWithoutSlash).map((c: CommandSpec) => [c.typed ?? c.type, c]),
);
/** A command that may carry an id of the sender's choosing, which comes back with its event or answer. */
export type CommandWithId = Extract<Command, { type: WithId }>;
export const mayCarryId = (command: Command): command is CommandWithId => MAY_CARRY_ID.has(command.type);
const MAY_CARRY_ID = new Set<string>([...(["say", "me", "dm", "reply"] satisfies WithId[]), ...ACCOUNT_COMMANDS]);

/** The `/help` list. */
export const HELP: { usage: string; help: string }[] = COMMANDS.map((c: CommandSpec) => ({
  usage: c.usage ?? [`/${c.typed ?? c.type}`, ...(c.arguments ?? []).map((a) => a.placeholder)].join(" "),
  help: c.help,
}));

/** A refused command, worded for the person who typed it, with its code for programs. */
export class CommandError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
  ) {
    super(message);
  }

  get refusal() {
    return refusal(this.code, this.message);
  }
}

/** A message id a client may choose: short, and safe anywhere it is shown or kept. */
const MESSAGE_ID = /^[A-Za-z0-9_-]{1,64}$/;

/**
 * Reads a line typed by a person: `/nick alice` is a command, `//x` is the message `/x`, anything
 * else is a message. Throws CommandError for an unknown command or a missing argument.
 */
export function parseTyped(line: string): Command {
  if (!line.startsWith("/")) return { type: "say", text: line };
  if (line.startsWith("//")) return { type: "say", text: line.slice(1) };
  const [, typed = "", rest = ""] = /^\/(\S*)\s*([\s\S]*)$/.exec(line) ?? [];
  const spec = typedSpec(typed);
  if (!spec) {
    throw new CommandError(
      "unknown-command",
      `There is no command /${typed}; /help lists the commands (start with // to send a message beginning with /).`,
    );
  }
  const command: Record<string, string | false> = { type: spec.type };
  const missing: Argument[] = [];
  let remaining = rest.trim();
  const args = spec.arguments ?? [];
  args.forEach((argument, index) => {
    const last = index === args.length - 1;
    const [word = "", after = ""] = last ? [remaining, ""] : splitWord(remaining);
    const fits = word !== "" && (!argument.looksLike || argument.looksLike.test(word));
    if (fits) {
      command[argument.field] = word;
      remaining = after;
    } else if (!argument.optional) missing.push(argument);
  });
  if (missing.length > 0) throw missingArguments(spec, missing);
  return command as unknown as Command;
}

/** The first word of `text`, and the rest after the spaces that follow it. */
function splitWord(text: string): [string, string] {
  const space = text.search(/\s/);
  return space < 0 ? [text, ""] : [text.slice(0, space), text.slice(space).trimStart()];
}

/** The command typed as `/<typed>` (any case), if there is one. */
export function typedSpec(typed: string): CommandSpec | undefined {
  return byTyped.get(typed.toLowerCase());
}

/**
 * The command on a typed line that leaves out a password it needs (`/login alice`), for a client
 * to ask for it masked instead of sending the line; undefined for any other line.
 */
export function missingSecret(line: string): { type: string; secrets: string[]; given: string[] } | undefined {
  const [, typed = "", rest = ""] = /^\/(\S*)\s*([\s\S]*)$/.exec(line) ?? [];
  const spec = line.startsWith("//") ? undefined : typedSpec(typed);
  const secrets = (spec?.arguments ?? []).filter((a) => a.secret);
  if (!spec || secrets.length === 0) return undefined;
  const plain = (spec.arguments ?? []).filter((a) => !a.secret);
  const given = rest.trim() === "" ? [] : rest.trim().split(/\s+/);
  if (given.length > plain.length) return undefined;
  return { type: spec.type, secrets: secrets.map((a) => a.what), given };
}

/** True if a typed line carries a password: it must not be recalled, shown or logged. */
export function carriesSecret(line: string): boolean {
  const [, typed = ""] = /^\/(\S*)/.exec(line) ?? [];
  return !line.startsWith("//") && (typedSpec(typed)?.arguments ?? []).some((a) => a.secret);
}

/**
 * Where the password begins on a typed line (`/login alice ` → after the space that follows alice):
 * the command, its plain arguments and the spaces after them come first. Undefined for a line
 * that carries no password, or has not reached it yet (`/login ali`), so that a client can take
 * what comes next into a masked field.
 */
export function secretStart(line: string): number | undefined {
  if (!carriesSecret(line)) return undefined;
  const [command = ""] = /^\/\S*/.exec(line) ?? [];
  const plain = (typedSpec(command.slice(1))?.arguments ?? []).filter((a) => !a.secret);
  let at = command.length;
  for (const _ of plain) {
    const word = /^\s+\S+/.exec(line.slice(at))?.[0];
    if (word === undefined) return undefined;
    at += word.length;
  }
  const spaces = /^\s+/.exec(line.slice(at))?.[0];
  return spaces === undefined ? undefined : at + spaces.length;
}

function missingArguments(spec: CommandSpec, missing: Argument[]): CommandError {
  const typed = spec.typed ?? spec.type;
  const whats = missing.map((a) => a.what);
  const needs = whats.length === 1 ? whats[0] : `${whats.slice(0, -1).join(", ")} and ${whats.at(-1)}`;
  const example = (spec.arguments ?? []).filter((a) => !a.optional).map((a) => a.example);
  return new CommandError("bad-command", `/${typed} needs ${needs}, e.g. /${typed} ${example.join(" ")}.`);
}

/** Reads a JSON command from a rich client. Throws CommandError saying what is wrong with it. */
export function decodeCommand(frame: string): Command {
  let value: unknown;
  try {
    value = JSON.parse(frame);
  } catch {
    throw new CommandError("bad-command", `Not JSON: expected a command such as {"type":"say","text":"hello"}.`);
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw new CommandError("bad-command", `A command is a JSON object such as {"type":"say","text":"hello"}.`);
  }
  const given = value as Record<string, unknown>;
  const spec = typeof given.type === "string" ? byType.get(given.type) : undefined;
  if (!spec) {
    throw new CommandError(
      "unknown-command",
      `Unknown command type ${JSON.stringify(given.type)}; known: ${COMMANDS.map((c) => c.type).join(", ")}.`,
    );
  }
  // A message, the command sent most by far, is built as a literal of one shape: objects of one
  // shape are what the engine handles fastest.
  if (spec.type === "say" || spec.type === "me") return message(spec.type, given);
  const command: Record<string, string | false> = { type: spec.type };
  for (const argument of spec.arguments ?? []) {
    const field = argument.field;
    const value = argument.numeric && typeof given[field] === "number" ? String(given[field]) : given[field];
    if (value === undefined && argument.optional) continue;
    if (typeof value !== "string" || value.trim() === "") {
      throw new CommandError("bad-command", `The command "${spec.type}" needs a non-empty string "${field}".`);
    }
    command[field] = value;
  }
  if (MAY_CARRY_ID.has(spec.type) && given.id !== undefined) command.id = checkedId(given.id);
  // A login for this connection alone (a script's, which keeps no token): no session is made.
  if (spec.type === "login" && given.session === false) command.session = false;
  return command as unknown as Command;
}

function message(type: "say" | "me", given: Record<string, unknown>): Command {
  const text = given.text;
  if (typeof text !== "string" || text.trim() === "") {
    throw new CommandError("bad-command", `The command "${type}" needs a non-empty string "text".`);
  }
  return given.id === undefined ? { type, text } : { type, text, id: checkedId(given.id) };
}

function checkedId(id: unknown): string {
  if (typeof id !== "string" || !MESSAGE_ID.test(id)) {
    throw new CommandError("bad-command", `A message's "id" is 1 to 64 letters, digits, '_' or '-'.`);
  }
  return id;
}
