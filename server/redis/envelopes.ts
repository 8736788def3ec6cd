/**
 * What instances say to each other on the channel, and what the shared history and the members
 * hashes keep: the one place that writes and reads them (two writers are in Lua, below, for the
 * scripts in keys.ts). Everything carries its format's version, `"v":1`: anything of another
 * version (another release of the server sharing the Redis) is counted and skipped, never misread.
 *
 * Version 1, by what an envelope carries besides `v`:
 * - a batch's header, `{"v":1,"instance":…,"batch":n,"first":[N,…]}`, published by SAY_SCRIPT
 *   and followed at once, in the same order, by each room's entry of the batch (nothing comes
 *   between them: a script runs alone);
 * - a room's entry, `{"v":1,"batch":"<instance>:<n>","said":[…]}`: the room's events as the
 *   instance wrote them, without their numbers (the header has each room's first). The shared
 *   history keeps the same entries, scored by their last number. It passes through Lua untouched,
 *   which is why the numbers come apart, in the header;
 * - a notice, `{"v":1,"instance":…,"notice":{…}}`;
 * - presence, `{"v":1,"instance":…,"presence":{"room":…,"address":…,"user":…}}`, without a user
 *   for someone who left;
 * - a name lost, `{"v":1,"instance":…,"nameLost":{"instance":…,"address":…,"name":…}}`, published
 *   by REGISTER_NAME_SCRIPT: the name's holder on that instance lost it to an earlier claim;
 * - a private message, `{"v":1,"instance":…,"dm":{…}}`, the event itself (common/events.ts): every
 *   instance, the sender's included, delivers it to the connections of its two people there.
 * - a message removed by a moderator, `{"v":1,"instance":…,"deleted":{"room":…,"seq":n}}`, published
 *   by DELETE_SCRIPT once the shared history no longer has it.
 * A members hash's value is `{"v":1,"instance":…,"user":…}`.
 */
import {
  type NoticeEvent,
  type PrivateEvent,
  type SaidEvent,
  type User,
  validEvent,
  validUser,
} from "../../common/events";

export const VERSION = 1;

type Unnumbered = Omit<SaidEvent, "seq">;

// --- Writing ---------------------------------------------------------------------------------

/** In SAY_SCRIPT: the header, from the instance (ARGV[1]), the batch's number (ARGV[2]) and the Lua table `firsts`. */
export const BATCH_HEADER_LUA = `'{"v":${VERSION},"instance":"' .. ARGV[1] .. '","batch":' .. ARGV[2] .. ',"first":[' .. table.concat(firsts, ',') .. ']}'`;

/** In REGISTER_NAME_SCRIPT: this instance (ARGV[1]) tells `instance` that its `address` lost the name ARGV[6]. */
export const NAME_LOST_LUA = `cjson.encode({v = ${VERSION}, instance = ARGV[1], nameLost = {instance = instance, address = address, name = ARGV[6]}})`;

/** How this instance's batch number `batch` is named in its rooms' entries. */
export const batchId = (instance: string, batch: number) => `${instance}:${batch}`;

/** A room's entry of a batch: its events, in order, without their numbers. */
export const roomEntry = (id: string, said: Unnumbered[]) => JSON.stringify({ v: VERSION, batch: id, said });

/** How every room entry of batch `id` starts (roomEntry writes `v` first, then `batch`). */
export const roomEntryPrefix = (id: string) => `{"v":${VERSION},"batch":${JSON.stringify(id)},`;

export const noticeEnvelope = (instance: string, notice: NoticeEvent) =>
  JSON.stringify({ v: VERSION, instance, notice });

export const privateEnvelope = (instance: string, event: PrivateEvent) =>
  JSON.stringify({ v: VERSION, instance, dm: event });

/** Someone of `instance` is in `room` as `user`, or (no user) left it. */
export const presenceEnvelope = (instance: string, room: string, address: string, user?: User) =>
  JSON.stringify({ v: VERSION, instance, presence: { room, address, user } });

/** Message `seq` of `room` was removed from the shared history. */
export const deletedEnvelope = (instance: string, room: string, seq: number) =>
  JSON.stringify({ v: VERSION, instance, deleted: { room, seq } });

export const memberEntry = (instance: string, user: User) => JSON.stringify({ v: VERSION, instance, user });

// --- Reading ---------------------------------------------------------------------------------

/** Why an envelope was skipped: another version of the format, or not one of ours at all. */
export type Skipped = { kind: "skipped"; reason: "version" | "malformed" };

/** An envelope from the channel, checked (except a room's entry: see readRoomEntry). */
export type Envelope =
  | { kind: "header"; instance: string; batch: number; first: number[] }
  | { kind: "notice"; instance: string; notice: NoticeEvent }
  | { kind: "presence"; instance: string; room: string; address: string; user: User | undefined }
  | { kind: "nameLost"; instance: string; address: string; name: string }
  | { kind: "private"; instance: string; event: PrivateEvent }
  | { kind: "deleted"; instance: string; room: string; seq: number }
  | Skipped;

const MALFORMED: Skipped = { kind: "skipped", reason: "malformed" };
const OTHER_VERSION: Skipped = { kind: "skipped", reason: "version" };
export const isSkipped = (value: unknown): value is Skipped => value === MALFORMED || value === OTHER_VERSION;

/** An envelope of version 1 as an object, or why not. */
function versioned(text: string): Record<string, unknown> | Skipped {
  const value = parse(text);
  if (typeof value !== "object" || value === null || Array.isArray(value)) return MALFORMED;
  return (value as { v?: unknown }).v === VERSION ? (value as Record<string, unknown>) : OTHER_VERSION;
}

export function readEnvelope(message: string): Envelope {
  const envelope = versioned(message);
  if (isSkipped(envelope)) return envelope;
  const { instance, batch, first, notice, presence, nameLost, dm, deleted } = envelope;
  if (typeof instance !== "string") return MALFORMED;
  if (Number.isSafeInteger(batch) && Array.isArray(first) && first.every(Number.isSafeInteger))
    return { kind: "header", instance, batch: batch as number, first: first as number[] };
  if (notice !== undefined) {
    const event = validEvent(notice);
    if (event?.type !== "notice" || event.event === "shutdown" || !event.user) return MALFORMED;
    return { kind: "notice", instance, notice: event };
  }
  if (isObject(presence)) {
    const { room, address, user } = presence;
    const checked = user === undefined ? undefined : validUser(user);
    if (typeof room !== "string" || typeof address !== "string" || (user !== undefined && !checked)) return MALFORMED;
    return { kind: "presence", instance, room, address, user: checked };
  }
  if (dm !== undefined) {
    const event = validEvent(dm);
    return event?.type === "dm" ? { kind: "private", instance, event } : MALFORMED;
  }
  if (isObject(nameLost)) {
    const { instance: holder, address, name } = nameLost;
    if (typeof holder !== "string" || typeof address !== "string" || typeof name !== "string") return MALFORMED;
    return { kind: "nameLost", instance: holder, address, name };
  }
  if (isObject(deleted)) {
    const { room, seq } = deleted;
    if (typeof room !== "string" || !Number.isSafeInteger(seq) || (seq as number) < 1) return MALFORMED;
    return { kind: "deleted", instance, room, seq: seq as number };
  }
  return MALFORMED;
}

/** The events of a room's entry whose first is numbered `first`, numbered and checked; or why not. */
export function readRoomEntry(message: string, first: number): SaidEvent[] | Skipped {
  const entry = versioned(message);
  if (isSkipped(entry)) return entry;
  return Array.isArray(entry.said) ? numberedFrom(entry.said, first) : MALFORMED;
}

/**
 * A history entry (ZRANGE … WITHSCORES) whose last event is numbered `last`: its events, numbered
 * and checked. Entries kept before the format had a version are read too, as they were written:
 * a batch without `v`, or (before batches) one event with its number.
 */
export function readHistoryEntry(text: string, last: number): SaidEvent[] {
  const entry = parse(text);
  if (!isObject(entry)) return [];
  if (entry.v !== undefined && entry.v !== VERSION) return [];
  if (Array.isArray(entry.said)) return numberedFrom(entry.said, last - entry.said.length + 1);
  const said = entry.v === undefined ? saidOf(entry) : undefined;
  return said ? [said] : [];
}

/** A members hash's value: who, and on which instance; or why not. */
export function readMember(text: string): { instance: string; user: User } | Skipped {
  const entry = versioned(text);
  if (isSkipped(entry)) return entry;
  const user = validUser(entry.user);
  return user && typeof entry.instance === "string" ? { instance: entry.instance, user } : MALFORMED;
}

/** Events numbered `first`, `first` + 1, …; those that are not a message or an action are left out. */
function numberedFrom(said: unknown[], first: number): SaidEvent[] {
  const events: SaidEvent[] = [];
  for (const [i, value] of said.entries()) {
    const event = isObject(value) ? saidOf({ ...value, seq: first + i }) : undefined;
    if (event) events.push(event);
  }
  return events;
}

/** A message or action, checked as client input is; undefined for anything else. */
function saidOf(value: unknown): SaidEvent | undefined {
  const event = validEvent(value);
  if (event?.type !== "message" && event?.type !== "action") return undefined;
  // Never provisional, nor marked as replayed: what comes through Redis is numbered and live.
  const { history: _replayed, provisional: _provisional, ...said } = event;
  return said;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function parse(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}
