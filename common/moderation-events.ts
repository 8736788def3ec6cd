/**
 * The events moderation adds (server/moderation/): your role in a room, its topic, a message
 * removed, the bans in force and the moderation log; and their checks, which common/events.ts's one
 * decoder uses like its own. Kept apart from events.ts, which would otherwise grow past a file's
 * length; like it, each check builds a fresh event of the known fields only.
 */

/** A role, from the lowest: a room's moderator, its owner, an operator of the whole chat. */
export type Role = "moderator" | "owner" | "operator";
export const ROLES: readonly Role[] = ["moderator", "owner", "operator"];

/** Your role in the room you are in changed (you were made a moderator, you logged in…); null: none. */
export interface RoleEvent {
  type: "role";
  room: string;
  role: Role | null;
}

/** The room's topic was set, by `by`: shown to everyone in it. */
export interface TopicEvent {
  type: "topic";
  room: string;
  time: string;
  text: string;
  by: string;
}

/** A moderator removed message `seq` from the room: clients take it off the screen. */
export interface DeletedEvent {
  type: "deleted";
  room: string;
  seq: number;
}

/** One ban, as /bans lists it. */
export interface BanEntry {
  /** A name (a registered account) or an address prefix, e.g. `203.0.113.0/24`. */
  target: string;
  /** For a ban of a guest's address: the name they had. */
  name?: string;
  /** The room's ban, or one from the whole chat (an operator's). */
  scope: "room" | "chat";
  by: string;
  reason?: string;
  /** When it ends (ISO 8601); none: until lifted. */
  until?: string;
}

/** Reply to `bans`: the bans in force in the room (and, for an operator, in the whole chat). */
export interface BansEvent {
  type: "bans";
  room: string;
  bans: BanEntry[];
  /** How many there are in all, when more than are listed. */
  count: number;
}

/** Reply to `modlog`: the room's recent moderation actions, oldest first. */
export interface ModlogEvent {
  type: "modlog";
  room: string;
  entries: { time: string; by: string; text: string }[];
}

type Fields = Record<string, unknown>;
const isObject = (v: unknown): v is Fields => typeof v === "object" && v !== null && !Array.isArray(v);
const isString = (v: unknown): v is string => typeof v === "string";
const isCount = (v: unknown): v is number => Number.isSafeInteger(v) && (v as number) >= 0;
export const isRole = (v: unknown): v is Role => ROLES.includes(v as Role);

function listOf<T>(v: unknown, item: (x: Fields) => T | undefined): T[] | undefined {
  if (!Array.isArray(v)) return undefined;
  const list = v.map((x) => (isObject(x) ? item(x) : undefined));
  return list.every((x) => x !== undefined) ? (list as T[]) : undefined;
}

function banEntry(b: Fields): BanEntry | undefined {
  if (!isString(b.target) || !isString(b.by) || (b.scope !== "room" && b.scope !== "chat")) return undefined;
  return {
    target: b.target,
    ...(isString(b.name) && { name: b.name }),
    scope: b.scope,
    by: b.by,
    ...(isString(b.reason) && { reason: b.reason }),
    ...(isString(b.until) && { until: b.until }),
  };
}

type ModerationEvent = RoleEvent | TopicEvent | DeletedEvent | BansEvent | ModlogEvent;

/** The checks of moderation's events, by type, for the one decoder (events.ts). */
export const MODERATION_CHECKS: { [T in ModerationEvent["type"]]: (e: Fields) => ModerationEvent | undefined } = {
  role: (e) =>
    isString(e.room) && (e.role === null || isRole(e.role)) ? { type: "role", room: e.room, role: e.role } : undefined,
  topic: (e) =>
    isString(e.room) && isString(e.time) && isString(e.text) && isString(e.by)
      ? { type: "topic", room: e.room, time: e.time, text: e.text, by: e.by }
      : undefined,
  deleted: (e) => (isString(e.room) && isCount(e.seq) ? { type: "deleted", room: e.room, seq: e.seq } : undefined),
  bans: (e) => {
    const bans = listOf(e.bans, banEntry);
    return isString(e.room) && bans && isCount(e.count)
      ? { type: "bans", room: e.room, bans, count: e.count }
      : undefined;
  },
  modlog: (e) => {
    const entries = listOf(e.entries, (x) =>
      isString(x.time) && isString(x.by) && isString(x.text) ? { time: x.time, by: x.by, text: x.text } : undefined,
    );
    return isString(e.room) && entries ? { type: "modlog", room: e.room, entries } : undefined;
  },
};
