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

/** What a command takes: the JSON field it goes in, and how help and errors show it. */
interface Argument {
  readonly field: "text" | "name" | "room" | "before";
  /** Shown in `/help`, e.g. `/nick NAME`. */
  readonly placeholder: string;
  /** For "/nick needs a name, e.g. /nick alice". */
  readonly what: string;
  readonly example: string;
  /** May be left out: `/older` alone pages back from the oldest message shown. */
  readonly optional?: true;
}

interface CommandSpec {
  readonly type: string;
  readonly argument?: Argument;
  readonly help: string;
  /** How `/help` shows it, when not `/<type> <PLACEHOLDER>`. */
  readonly usage?: string;
  /** A message is typed as itself, not as `/say`. */
  readonly typedWithoutSlash?: true;
}

/** Every command, in the order `/help` lists them. */
export const COMMANDS = [
  {
    type: "nick",
    argument: { field: "name", placeholder: "NAME", what: "a name", example: "alice" },
    help: "set your name (letters, digits, _ - .; up to 32)",
  },
  {
    type: "join",
    argument: { field: "room", placeholder: "ROOM", what: "a room", example: "dev" },
    help: "move to another room (same rules as names)",
  },
  { type: "rooms", help: "list the rooms and how many people are in each" },
  { type: "who", help: "list who is in your room" },
  {
    type: "older",
    argument: { field: "before", placeholder: "[N]", what: "a message number", example: "120", optional: true },
    help: "show earlier messages: before number N, or before the oldest shown (the page asks as you scroll up)",
  },
  {
    type: "me",
    argument: { field: "text", placeholder: "ACTION", what: "an action", example: "waves" },
    help: "say what you are doing, e.g. /me waves",
  },
  { type: "help", help: "list the commands" },
  { type: "quit", help: "leave the chat" },
  {
    type: "say",
    argument: { field: "text", placeholder: "TEXT", what: "some text", example: "hello" },
    usage: "//TEXT",
    help: "send a message that starts with /",
    typedWithoutSlash: true,
  },
] as const satisfies readonly CommandSpec[];

type Spec = (typeof COMMANDS)[number];
/** A command as the table defines it: its type, and its argument's field if it takes one. */
type CommandOf<S> = S extends { type: infer T; argument: { field: infer F extends string; optional: true } }
  ? { type: T } & { [K in F]?: string }
  : S extends { type: infer T extends "say" | "me"; argument: { field: infer F extends string } }
    ? { type: T; id?: string } & { [K in F]: string }
    : S extends { type: infer T; argument: { field: infer F extends string } }
      ? { type: T } & { [K in F]: string }
      : S extends { type: infer T }
        ? { type: T }
        : never;
export type Command = CommandOf<Spec>;
export type CommandType = Spec["type"];

const byType = new Map<string, CommandSpec>(COMMANDS.map((c) => [c.type, c]));

/** The `/help` list. */
export const HELP: { usage: string; help: string }[] = COMMANDS.map((c: CommandSpec) => ({
  usage: c.usage ?? `/${c.type}${c.argument ? ` ${c.argument.placeholder}` : ""}`,
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
  const spec = byType.get(typed.toLowerCase());
  if (!spec || spec.typedWithoutSlash) {
    throw new CommandError(
      "unknown-command",
      `There is no command /${typed}; /help lists the commands (start with // to send a message beginning with /).`,
    );
  }
  if (!spec.argument) return { type: spec.type } as Command;
  const argument = rest.trim();
  if (argument === "" && spec.argument.optional) return { type: spec.type } as Command;
  if (argument === "") {
    throw new CommandError(
      "bad-command",
      `/${typed} needs ${spec.argument.what}, e.g. /${typed} ${spec.argument.example}.`,
    );
  }
  return withArgument(spec.type, spec.argument.field, argument);
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
  const command = value as Record<string, unknown>;
  const spec = typeof command.type === "string" ? byType.get(command.type) : undefined;
  if (!spec) {
    throw new CommandError(
      "unknown-command",
      `Unknown command type ${JSON.stringify(command.type)}; known: ${COMMANDS.map((c) => c.type).join(", ")}.`,
    );
  }
  if (!spec.argument) return { type: spec.type } as Command;
  const { field } = spec.argument;
  // A message number may come as a JSON number.
  const argument = field === "before" && typeof command[field] === "number" ? String(command[field]) : command[field];
  if (argument === undefined && spec.argument.optional) return { type: spec.type } as Command;
  if (typeof argument !== "string" || argument.trim() === "") {
    throw new CommandError("bad-command", `The command "${spec.type}" needs a non-empty string "${field}".`);
  }
  if (field !== "text" || command.id === undefined) return withArgument(spec.type, field, argument);
  if (typeof command.id !== "string" || !MESSAGE_ID.test(command.id)) {
    throw new CommandError("bad-command", `A message's "id" is 1 to 64 letters, digits, '_' or '-'.`);
  }
  return { type: spec.type, text: argument, id: command.id } as Command;
}

/**
 * A command with its argument, built with a literal of its own shape for each field: every
 * message is one of these, and objects of one shape are what the engine handles fastest.
 */
function withArgument(type: string, field: Argument["field"], value: string): Command {
  switch (field) {
    case "text":
      return { type, text: value } as Command;
    case "name":
      return { type, name: value } as Command;
    case "room":
      return { type, room: value } as Command;
    case "before":
      return { type, before: value } as Command;
  }
}
