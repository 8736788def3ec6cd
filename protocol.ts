/**
 * The chat's protocol, shared by the server and the clients.
 *
 * Two kinds of client share the same rooms:
 * - Plain-text clients (no WebSocket subprotocol): one line of text per frame. They type commands
 *   as `/nick alice`; they receive each event as one line (`alice (127.0.0.1:54321): hello`).
 * - Rich clients ask for the subprotocol `chat.v1.json` and exchange JSON: commands one way
 *   (`{"type":"say","text":"hello"}`), events the other.
 */

export const SUBPROTOCOL = "chat.v1.json";
/** Everyone starts here; it is also the pub/sub topic the plain-text clients of this room share. */
export const DEFAULT_ROOM = "chat";

// ---------------------------------------------------------------------------------------------
// Events: server to client.

/** Someone in the chat: the name they chose, if any, and the address the server saw. */
export interface User {
  name: string | null;
  /** `ip:port` as the server saw it; set by the server, never by the client. */
  address: string;
}

/** Something said in a room. Numbered per room (`seq`) and kept in the room's history. */
export interface SaidEvent {
  type: "message" | "action";
  room: string;
  seq: number;
  /** Server time, ISO 8601. */
  time: string;
  from: User;
  text: string;
  /** Present on events replayed from history when a client enters a room. */
  history?: true;
}

/** Someone joined, left or renamed: announced to the room, not kept in history. */
export interface NoticeEvent {
  type: "notice";
  room: string;
  time: string;
  event: "join" | "leave" | "rename" | "shutdown";
  /** Who joined, left or renamed; none for the server's own notices. */
  user?: User;
  /** For a rename: the name before it (null: there was none). */
  previousName?: string | null;
  /** The notice worded for people, e.g. `alice (127.0.0.1:54321) joined chat`. */
  text: string;
}

/** First event on a connection: who the server takes you for, and what it allows. */
export interface WelcomeEvent {
  type: "welcome";
  you: User;
  version: string;
  /**
   * Messages a second (0: no limit) and at once, and the longest message in bytes: clients pace
   * themselves to these. Rooms of more than announceLimit people hear no joins and leaves, so a
   * list of the people there is only as fresh as the last `joined` or `members`.
   */
  limits: { rate: number; burst: number; maxMessage: number; announceLimit?: number };
}

/** You entered a room: who is there; `history` events of the room's history follow. */
export interface JoinedEvent {
  type: "joined";
  room: string;
  /** Who is there: everyone in a room of up to JOINED_MEMBERS people, the first of them in a bigger one. */
  members: User[];
  /** How many people are in the room, you included. */
  count: number;
  history: number;
  /** The room's last sequence number now; lower than one you saw means the server started over. */
  seq: number;
  /** Resuming (`?since=`): how many messages you missed that history no longer has. */
  missed?: number;
}

/**
 * The most people a `joined` event lists. Listing everyone would make a room of N people entering
 * at once (a restart) cost N² in JSON; past this, `count` says how many and `who` lists them all.
 */
export const JOINED_MEMBERS = 100;

/** Reply to `who`. */
export interface MembersEvent {
  type: "members";
  room: string;
  members: User[];
}

/** Reply to `rooms`: rooms with people in them (and always the default room). */
export interface RoomsEvent {
  type: "rooms";
  rooms: { name: string; members: number }[];
}

/** Reply to `help`. */
export interface HelpEvent {
  type: "help";
  commands: { usage: string; help: string }[];
}

/** A command was refused; only its sender is told. The connection stays open. */
export interface ErrorEvent {
  type: "error";
  message: string;
}

export type ChatEvent = SaidEvent | NoticeEvent | WelcomeEvent | JoinedEvent | MembersEvent | RoomsEvent | HelpEvent | ErrorEvent;

// ---------------------------------------------------------------------------------------------
// Commands: client to server.

export type Command =
  | { type: "say"; text: string }
  | { type: "me"; text: string }
  | { type: "nick"; name: string }
  | { type: "join"; room: string }
  | { type: "who" }
  | { type: "rooms" }
  | { type: "help" }
  | { type: "quit" };

/** The slash commands, as typed by people; drives parsing and `/help`. */
export const SLASH_COMMANDS = [
  { name: "nick", argument: "NAME", help: "set your name (letters, digits, _ - .; up to 32)" },
  { name: "join", argument: "ROOM", help: "move to another room (same rules as names)" },
  { name: "rooms", help: "list the rooms and how many people are in each" },
  { name: "who", help: "list who is in your room" },
  { name: "me", argument: "ACTION", help: "say what you are doing, e.g. /me waves" },
  { name: "help", help: "list the commands" },
  { name: "quit", help: "leave the chat" },
] as const;

export const HELP: HelpEvent["commands"] = [
  ...SLASH_COMMANDS.map((c) => ({ usage: `/${c.name}${"argument" in c ? ` ${c.argument}` : ""}`, help: c.help })),
  { usage: "//TEXT", help: "send a message that starts with /" },
];

/** A refused command, worded for the person who typed it. */
export class CommandError extends Error {}

/**
 * Reads a line typed by a person: `/nick alice` is a command, `//x` is the message `/x`, anything
 * else is a message. Throws CommandError for an unknown command or a missing argument.
 */
export function parseTyped(line: string): Command {
  if (!line.startsWith("/")) return { type: "say", text: line };
  if (line.startsWith("//")) return { type: "say", text: line.slice(1) };
  const [, name = "", rest = ""] = /^\/(\S*)\s*([\s\S]*)$/.exec(line) ?? [];
  const argument = rest.trim();
  const needs = (what: string) => {
    if (argument === "") throw new CommandError(`/${name} needs ${what}, e.g. /${name} ${what === "a name" ? "alice" : what === "a room" ? "dev" : "waves"}.`);
    return argument;
  };
  switch (name.toLowerCase()) {
    case "nick":
      return { type: "nick", name: needs("a name") };
    case "join":
      return { type: "join", room: needs("a room") };
    case "me":
      return { type: "me", text: needs("an action") };
    case "rooms":
    case "who":
    case "help":
    case "quit":
      return { type: name.toLowerCase() as "rooms" | "who" | "help" | "quit" };
    default:
      throw new CommandError(`There is no command /${name}; /help lists the commands (start with // to send a message beginning with /).`);
  }
}

/** Reads a JSON command from a rich client. Throws CommandError saying what is wrong with it. */
export function decodeCommand(frame: string): Command {
  let value: unknown;
  try {
    value = JSON.parse(frame);
  } catch {
    throw new CommandError(`Not JSON: expected a command such as {"type":"say","text":"hello"}.`);
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw new CommandError(`A command is a JSON object such as {"type":"say","text":"hello"}.`);
  }
  const command = value as Record<string, unknown>;
  const text = (field: string): string => {
    const v = command[field];
    if (typeof v !== "string" || v.trim() === "") throw new CommandError(`The command "${String(command.type)}" needs a non-empty string "${field}".`);
    return v;
  };
  switch (command.type) {
    case "say":
    case "me":
      return { type: command.type, text: text("text") };
    case "nick":
      return { type: "nick", name: text("name") };
    case "join":
      return { type: "join", room: text("room") };
    case "who":
    case "rooms":
    case "help":
    case "quit":
      return { type: command.type };
    default:
      throw new CommandError(
        `Unknown command type ${JSON.stringify(command.type)}; known: say, me, nick, join, who, rooms, help, quit.`,
      );
  }
}

// ---------------------------------------------------------------------------------------------
// Names and rooms.

const NAME_PATTERN = /^[\p{L}\p{Nd}_.\-]{1,32}$/u;

/**
 * A number for a name, the same in every client and for every case of it (FNV-1a): the terminal
 * and the page derive a person's colour from it, so a name keeps its colour everywhere.
 */
export function nameHash(name: string): number {
  let hash = 2166136261;
  for (const char of name.toLowerCase()) hash = Math.imul(hash ^ char.codePointAt(0)!, 16777619);
  return hash >>> 0;
}

/** Names and rooms are compared in NFC, so that é typed two ways is one name. */
export function normalizeName(name: string): string {
  return name.trim().normalize("NFC");
}

/** Why `name` cannot be a name (or room, per `what`), or undefined if it can. */
export function nameProblem(name: string, what: "name" | "room" = "name"): string | undefined {
  if (NAME_PATTERN.test(name)) return undefined;
  const length = Array.from(name).length;
  if (length === 0) return `A ${what} cannot be empty.`;
  if (length > 32) return `A ${what} can be at most 32 characters; '${name.slice(0, 40)}' has ${length}.`;
  return `A ${what} can only have letters, digits, '_', '-' and '.'; '${name}' has other characters.`;
}

// ---------------------------------------------------------------------------------------------
// Text from users.

/**
 * Terminal control sequences, whole: CSI (`ESC [` or 8-bit 0x9B, e.g. `ESC[2J` clears the
 * screen), OSC (`ESC ]` or 0x9D, up to BEL or ST; e.g. OSC 0 sets the title, OSC 52 writes the
 * clipboard), DCS/SOS/PM/APC strings, and two-byte escapes. Removed whole, so that no half of
 * one (`[2J`) is left behind.
 */
const CONTROL_SEQUENCE =
  /(?:\x1b\[|\x9b)[0-?]*[ -/]*[@-~]|(?:\x1b[\]PX^_]|[\x9d\x90\x98\x9e\x9f])[^\x07\x1b\x9c]*(?:\x07|\x1b\\|\x9c)?|\x1b[ -~]?/g;
/** C0 and C1 controls but newline, DEL, and the bidi overrides and isolates (U+202A–U+202E, U+2066–U+2069). */
const CONTROL_CHARACTER = /[\x00-\x09\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]/g;

/**
 * What the server lets through of a user's text: no escape sequences, no control characters, no
 * bidi overrides, so nobody can clear others' screens, set their titles, write to their clipboards,
 * or reorder what they read. Newlines stay (CR LF and lone CR become LF); a tab becomes a space.
 */
export function cleanText(text: string): string {
  // Every sequence and character changed below starts with a CONTROL_CHARACTER (CR, tab, ESC and
  // the 8-bit introducers among them). Most messages have none: one scan for them costs a quarter
  // of the four replacements. (search() ignores the /g flag's lastIndex.)
  if (text.search(CONTROL_CHARACTER) === -1) return text;
  return text.replace(/\r\n?/g, "\n").replace(/\t/g, " ").replace(CONTROL_SEQUENCE, "").replace(CONTROL_CHARACTER, "");
}

/**
 * A server-written text that may quote what a user sent (an error naming a refused name or
 * command), with every character a terminal would act on shown escaped: `\u001b`.
 */
export function escapeControls(text: string): string {
  return text.replace(/[\x00-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`);
}

// ---------------------------------------------------------------------------------------------
// Plain-text rendering, for clients that asked for no subprotocol.

/** `alice (127.0.0.1:54321)`, or just the address for someone without a name. */
export function describeUser(user: User): string {
  return user.name ? `${user.name} (${user.address})` : user.address;
}

/** Starts each line of a message after its first, in plain text: a line from a sender never does. */
const CONTINUATION = "  ";

/**
 * One event as one text frame. Messages keep the core's form (`<sender>: <text>`); everything the
 * server says itself starts with `*** `, which no message can, since a message starts with its
 * sender. History is marked `[history] `.
 */
export function toText(event: ChatEvent): string {
  switch (event.type) {
    case "message":
    case "action": {
      // Lines after the first are indented, so no line of a message can pass for another message.
      const text = event.text.replaceAll("\n", `\n${CONTINUATION}`);
      const line = event.type === "message" ? `${describeUser(event.from)}: ${text}` : `* ${describeUser(event.from)} ${text}`;
      return event.history ? `[history] ${line}` : line;
    }
    case "notice":
      return `*** ${event.text}`;
    case "welcome":
      return `*** Welcome, ${describeUser(event.you)}. /help lists the commands.`;
    case "joined": {
      const missed = event.missed ? ` ${event.missed} message${event.missed === 1 ? " was" : "s were"} missed, too far back to replay.` : "";
      return `*** You are in ${event.room} with ${event.count - 1} other${event.count === 2 ? "" : "s"}.${missed}`;
    }
    case "members":
      return `*** In ${event.room} (${event.members.length}): ${event.members.map(describeUser).join(", ")}`;
    case "rooms":
      return `*** Rooms: ${event.rooms.map((r) => `${r.name} (${r.members})`).join(", ")}`;
    case "help":
      return ["*** Commands:", ...event.commands.map((c) => `${c.usage.padEnd(12)} ${c.help}`)].join("\n");
    case "error":
      return `*** Error: ${event.message}`;
  }
}
