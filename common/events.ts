/**
 * Events, server to client: their types, and the one decoder that checks an event from outside
 * (the client's socket, the page's, and what comes back through Redis) before anything uses it.
 *
 * Two kinds of client share the same rooms:
 * - Plain-text clients (no WebSocket subprotocol): one line of text per frame. They type commands
 *   as `/nick alice`; they receive each event as one line (plain-text.ts).
 * - Rich clients ask for the subprotocol `chat.v1.json` and exchange JSON: commands one way
 *   (commands.ts), events the other.
 */

import { ACCOUNT_CHECKS, type AccountEvent } from "./account-events";
import type { ErrorCode } from "./codes";
import {
  type BansEvent,
  type DeletedEvent,
  isRole,
  MODERATION_CHECKS,
  type ModlogEvent,
  type Role,
  type RoleEvent,
  type TopicEvent,
} from "./moderation-events";

export const SUBPROTOCOL = "chat.v1.json";
/**
 * A browser cannot set headers on a WebSocket, and a token in the URL ends up in proxies' logs: the
 * page offers the token as one more subprotocol, `token.<base64url of its UTF-8>`, which the server
 * reads and never echoes.
 */
export const TOKEN_PROTOCOL = "token.";

/** Everyone starts here; it is also the pub/sub topic the plain-text clients of this room share. */
export const DEFAULT_ROOM = "chat";

/** Someone in the chat: the name they chose, if any, and the address the server saw. */
export interface User {
  name: string | null;
  /** `ip:port` as the server saw it; set by the server, never by the client. */
  address: string;
  /** The name is a registered account's, and this connection is logged in to it. */
  registered?: true;
  /** Said through the HTTP API, by a program. */
  bot?: true;
  /** In a list of people (`members`, `joined`): one person logged in on this many connections (more than 1). */
  connections?: number;
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
  /**
   * Said on an instance cut off from the others (its Redis was unreachable): delivered there at
   * once, with the last shared `seq` (it has no number of its own yet). Once the instance is back,
   * the message is numbered and reaches everyone; the numbered copy has the same `id`, so a client
   * that showed this one shows it only once.
   */
  provisional?: true;
  /**
   * The id the sender's client gave the message (so that it knows its own when it comes back), or,
   * on a message said while cut off, one the server gave it; its numbered copy keeps it.
   */
  id?: string;
}

/**
 * Someone joined, left or renamed, or a moderator acted (kicked, banned, muted… someone): announced
 * to the room, not kept in history. The person acted on gets their own, addressed to them.
 */
export interface NoticeEvent {
  type: "notice";
  room: string;
  time: string;
  event: "join" | "leave" | "rename" | "shutdown" | "moderation";
  /** Who joined, left or renamed; none for the server's own notices and for moderation. */
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
  /**
   * A secret for coming back as yourself: reconnect with `?resume=<it>` (on any instance) and your
   * name is yours again, even if you were gone for a while (the server's grace period, a minute by
   * default, during which nobody else can take it).
   */
  resume?: string;
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
  /** The room's topic, if it has one. */
  topic?: string;
  /** Your role in the room, if you have one: what moderation you may do here (`role` tells of changes). */
  role?: Role;
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

/**
 * Reply to `older`: the room's messages before a number, oldest first (at most --history of them),
 * and whether there are more before those. A page shows them above what it has.
 */
export interface EarlierEvent {
  type: "earlier";
  room: string;
  messages: SaidEvent[];
  /** True when nothing older is kept: the room's history starts here. */
  start: boolean;
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
  /** What was refused, for programs (common/codes.ts); the message is for people. */
  code: ErrorCode;
  /** The id of the refused message, when the client gave it one: the client knows which it was. */
  id?: string;
}

/**
 * A private message: it reaches every connection of its two people (the sender's too, so that a
 * second device shows what was sent) and nobody else, and no room's history keeps it.
 */
export interface PrivateEvent {
  type: "dm";
  from: User;
  /** Who it is for: the name they hold, and one of their connections' address ("" when offline). */
  to: User;
  text: string;
  /** Server time, ISO 8601. */
  time: string;
  /** The id the sender's client gave it, or one the server made: the sender knows its own by it. */
  id: string;
  /** Its recipient is a registered person not connected now: it is kept and given at their next login. */
  kept?: true;
}

/** The private messages kept for you while you were away, given at login, oldest first. */
export interface InboxEvent {
  type: "inbox";
  messages: PrivateEvent[];
  /** How many older ones were let go of, past what is kept for one person. */
  dropped: number;
}

/**
 * Whose private messages you refuse, by name (sent on each change, and at login when the list is
 * kept with your account). Your clients hide these people's room messages too.
 */
export interface IgnoringEvent {
  type: "ignoring";
  names: string[];
}

export type ChatEvent =
  | AccountEvent
  | SaidEvent
  | PrivateEvent
  | InboxEvent
  | IgnoringEvent
  | NoticeEvent
  | WelcomeEvent
  | JoinedEvent
  | MembersEvent
  | RoomsEvent
  | EarlierEvent
  | HelpEvent
  | ErrorEvent
  | RoleEvent
  | TopicEvent
  | DeletedEvent
  | BansEvent
  | ModlogEvent;

// ---------------------------------------------------------------------------------------------
// Decoding. Each check builds a fresh event of the known fields only, so nothing unexpected that
// came with it travels further.

type Fields = Record<string, unknown>;
const isObject = (v: unknown): v is Fields => typeof v === "object" && v !== null && !Array.isArray(v);
const isString = (v: unknown): v is string => typeof v === "string";
const isCount = (v: unknown): v is number => Number.isSafeInteger(v) && (v as number) >= 0;

/** A user as a value from outside, checked; undefined if it is not one. */
export function validUser(v: unknown): User | undefined {
  if (!isObject(v) || !isString(v.address) || !(v.name === null || isString(v.name))) return undefined;
  if (v.registered !== true && v.bot !== true && v.connections === undefined)
    return { name: v.name, address: v.address };
  return {
    name: v.name,
    address: v.address,
    ...(v.registered === true && { registered: true }),
    ...(v.bot === true && { bot: true }),
    ...(isCount(v.connections) && v.connections > 1 && { connections: v.connections }),
  };
}

function users(v: unknown): User[] | undefined {
  if (!Array.isArray(v)) return undefined;
  const list = v.map(validUser);
  return list.every((u) => u !== undefined) ? (list as User[]) : undefined;
}

const NOTICE_KINDS = new Set(["join", "leave", "rename", "shutdown", "moderation"]);

function said(e: Fields): SaidEvent | undefined {
  const from = validUser(e.from);
  if (!isString(e.room) || !isCount(e.seq) || !isString(e.time) || !isString(e.text) || !from) return undefined;
  const type = e.type as SaidEvent["type"];
  return {
    type,
    room: e.room,
    seq: e.seq,
    time: e.time,
    from,
    text: e.text,
    ...(e.history === true && { history: true }),
    ...(e.provisional === true && { provisional: true }),
    ...(isString(e.id) && { id: e.id }),
  };
}

function privateMessage(e: Fields): PrivateEvent | undefined {
  const [from, to] = [validUser(e.from), validUser(e.to)];
  if (!from || !to || !isString(e.text) || !isString(e.time) || !isString(e.id)) return undefined;
  return { type: "dm", from, to, text: e.text, time: e.time, id: e.id, ...(e.kept === true && { kept: true }) };
}

function notice(e: Fields): NoticeEvent | undefined {
  if (!isString(e.room) || !isString(e.time) || !isString(e.text) || !isString(e.event) || !NOTICE_KINDS.has(e.event))
    return undefined;
  const who = e.user === undefined ? undefined : validUser(e.user);
  if (e.user !== undefined && !who) return undefined;
  const previousName = isString(e.previousName) ? e.previousName : null;
  const event = e.event as NoticeEvent["event"];
  return {
    type: "notice",
    room: e.room,
    time: e.time,
    event,
    ...(who && { user: who }),
    text: e.text,
    ...(event === "rename" && { previousName }),
  };
}

function welcome(e: Fields): WelcomeEvent | undefined {
  const you = validUser(e.you);
  const l = e.limits;
  if (!you || !isString(e.version) || !isObject(l) || !isCount(l.rate) || !isCount(l.burst) || !isCount(l.maxMessage))
    return undefined;
  const limits = {
    rate: l.rate,
    burst: l.burst,
    maxMessage: l.maxMessage,
    ...(isCount(l.announceLimit) && { announceLimit: l.announceLimit }),
  };
  return { type: "welcome", you, version: e.version, limits, ...(isString(e.resume) && { resume: e.resume }) };
}

function joined(e: Fields): JoinedEvent | undefined {
  const members = users(e.members);
  if (!isString(e.room) || !members || !isCount(e.count) || !isCount(e.history) || !isCount(e.seq)) return undefined;
  return {
    type: "joined",
    room: e.room,
    members,
    count: e.count,
    history: e.history,
    seq: e.seq,
    ...(isCount(e.missed) && e.missed > 0 && { missed: e.missed }),
    ...(isString(e.topic) && { topic: e.topic }),
    ...(isRole(e.role) && { role: e.role }),
  };
}

function listOf<T>(v: unknown, item: (x: Fields) => T | undefined): T[] | undefined {
  if (!Array.isArray(v)) return undefined;
  const list = v.map((x) => (isObject(x) ? item(x) : undefined));
  return list.every((x) => x !== undefined) ? (list as T[]) : undefined;
}

const CHECKS: { [T in ChatEvent["type"]]: (e: Fields) => ChatEvent | undefined } = {
  ...ACCOUNT_CHECKS,
  message: said,
  action: said,
  dm: privateMessage,
  inbox: (e) => {
    const messages = listOf(e.messages, (m) => (m.type === "dm" ? privateMessage(m) : undefined));
    return messages && isCount(e.dropped) ? { type: "inbox", messages, dropped: e.dropped } : undefined;
  },
  ignoring: (e) =>
    Array.isArray(e.names) && e.names.every(isString) ? { type: "ignoring", names: [...e.names] } : undefined,
  notice,
  welcome,
  joined,
  members: (e) => {
    const members = users(e.members);
    return isString(e.room) && members ? { type: "members", room: e.room, members } : undefined;
  },
  rooms: (e) => {
    const rooms = listOf(e.rooms, (r) =>
      isString(r.name) && isCount(r.members) ? { name: r.name, members: r.members } : undefined,
    );
    return rooms ? { type: "rooms", rooms } : undefined;
  },
  earlier: (e) => {
    const messages = listOf(e.messages, (m) => (m.type === "message" || m.type === "action" ? said(m) : undefined));
    return isString(e.room) && messages && typeof e.start === "boolean"
      ? { type: "earlier", room: e.room, messages, start: e.start }
      : undefined;
  },
  help: (e) => {
    const commands = listOf(e.commands, (c) =>
      isString(c.usage) && isString(c.help) ? { usage: c.usage, help: c.help } : undefined,
    );
    return commands ? { type: "help", commands } : undefined;
  },
  ...MODERATION_CHECKS,
  error: (e) => {
    if (!isString(e.message)) return undefined;
    // A code this client does not know (a newer server's) is kept as it is: it matches no branch.
    const code = isString(e.code) && /^[a-z][a-z-]{0,39}$/.test(e.code) ? e.code : "unknown";
    return { type: "error", message: e.message, code: code as ErrorCode, ...(isString(e.id) && { id: e.id }) };
  },
};

/** An event as a value (already parsed), checked; undefined if it is not one of ours. */
export function validEvent(value: unknown): ChatEvent | undefined {
  if (!isObject(value) || !isString(value.type) || !Object.hasOwn(CHECKS, value.type)) return undefined;
  return CHECKS[value.type as ChatEvent["type"]](value);
}

/** An event as it came over the wire, parsed and checked; undefined if it is not one of ours. */
export function decodeEvent(raw: string): ChatEvent | undefined {
  try {
    return validEvent(JSON.parse(raw));
  } catch {
    return undefined;
  }
}

/** The page's token as a subprotocol entry (see TOKEN_PROTOCOL). */
export function tokenProtocol(token: string): string {
  const bytes = new TextEncoder().encode(token);
  return (
    TOKEN_PROTOCOL +
    btoa(String.fromCharCode(...bytes))
      .replace(/\+/g, "-")
      .replace(/\//g, "_")
      .replace(/=+$/, "")
  );
}
