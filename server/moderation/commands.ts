/**
 * The moderation commands, one function each: each asks the one permission check (roles.ts), is
 * budgeted like a rename, writes the shared tables, and logs what it did (modlog.ts), which is how
 * the room, the person acted on, and every other instance hear of it (moderation.ts).
 */
import { type Refusal, refusal } from "../../common/codes";
import type { Command } from "../../common/commands";
import { DEFAULT_ROOM } from "../../common/events";
import { nameSkeleton } from "../../common/lookalikes";
import { cleanText } from "../../common/text";
import { mayChange } from "../changes";
import type { ChatContext } from "../context";
import type { Member } from "../member";
import { forHowLong, parseDuration } from "./durations";
import type { ModlogEntry } from "./modlog";
import { contains, parseNetwork, showNetwork } from "./networks";
import { type Person, targetOf } from "./people";
import { CHAT_SCOPE, MAX_ADDRESSES, type Restriction, type Restrictions, restrictionKey } from "./restrictions";
import { type Action, moderatorKey, outranks, permission, type Subject } from "./roles";

export type ModerationCommand = Extract<Command, { type: Action }>;

/** The longest topic, in characters. */
const MAX_TOPIC = 300;
/** The longest slow mode, in seconds: a day. */
const MAX_SLOW = 86_400;
/**
 * Bans, and mutes, one room may hold at once; and rooms one person may own. Anyone registered
 * may claim a room nobody owns, and every row is kept in every instance's memory and in Redis or
 * the store: without these, one account (from many addresses) could grow them without end.
 * Operators' bans of the whole chat are not counted: operators are the server's own people.
 */
const MAX_PER_ROOM = 1_000;
const MAX_OWNED = 10;
/** Bans and log entries listed at most. */
const MAX_LISTED = 200;
const LOG_LISTED = 50;

/** What a command works with: the chat, who typed it, where, and where they stand there. */
interface Act {
  chat: ChatContext;
  member: Member;
  room: string;
  /** The actor's account (a command that gets past the permission check has one). */
  by: string;
}

/**
 * Does a moderation command: refused (and nothing spent) without the role; otherwise it spends the
 * address's budget of renames and room changes, and acts.
 */
export function moderate(chat: ChatContext, member: Member, command: ModerationCommand): void {
  const act: Act = { chat, member, room: member.room, by: member.account ?? "" };
  const refused = permission(chat.moderation.rankOf(member), command.type, member.room);
  if (refused) return chat.refuse(member, refused);
  if (!mayChange(chat, member)) return;
  const done = perform(act, command);
  if (done) done.catch((error) => chat.refuse(member, unavailable(error)));
}

function perform(act: Act, command: ModerationCommand): Promise<unknown> | undefined {
  switch (command.type) {
    case "claim":
      return claim(act);
    case "mod":
    case "unmod":
      return appoint(act, command.type, command.name);
    case "kick":
      return kick(act, command.name, command.reason);
    case "ban":
      return ban(act, command.target, command.duration, command.reason);
    case "unban":
      return lift(act, "unban", command.target);
    case "mute":
      return mute(act, command.name, command.duration);
    case "unmute":
      return lift(act, "unmute", command.name);
    case "bans":
      return listBans(act);
    case "topic":
      return setTopic(act, command.text);
    case "slow":
      return slowMode(act, command.seconds);
    case "delete":
      return remove(act, command.seq);
    case "modlog":
      return listLog(act);
  }
}

function unavailable(error: unknown): Refusal {
  const why = error instanceof Error ? error.message : String(error);
  return refusal("unavailable", `That could not be kept (${why}); nothing was changed. Try again in a moment.`);
}

/** An action done: into the room's moderation log (every instance hears it), and the server's log. */
const logged = ({ chat, room, by }: Act, entry: Omit<ModlogEntry, "room" | "by" | "at">) => {
  chat.log.line(`Moderation in ${room}: ${entry.text}`);
  return chat.moderation.log.add({ room, by, ...entry });
};

const reasonOf = (reason: string | undefined) => {
  const cleaned = reason === undefined ? "" : cleanText(reason).replace(/\s+/g, " ").trim().slice(0, 200);
  return cleaned === "" ? undefined : cleaned;
};
const because = (reason: string | undefined) => (reason ? `: ${reason}` : "");

/** Where a person stands in `room`, for the permission check. */
function subject({ chat }: Act, person: Person, room: string): Subject {
  return { name: person.name, rank: chat.moderation.roles.rankOf(person.account, room) };
}

/** The person named, or undefined after telling the actor nobody has that name. */
function named(act: Act, name: string): Person | undefined {
  const person = act.chat.moderation.people.find(name);
  if (!person) act.chat.refuse(act.member, refusal("not-here", `Nobody named ${name} is connected or registered.`));
  else if (person.account === null && !person.network)
    act.chat.refuse(act.member, refusal("not-here", `${name}'s address cannot be told, so they cannot be acted on.`));
  else return person;
  return undefined;
}

async function claim({ chat, member, room, by }: Act): Promise<void> {
  const { roles, log } = chat.moderation;
  if (room === DEFAULT_ROOM)
    return chat.refuse(member, refusal("forbidden", `${room} belongs to the operators; claim a room of your own.`));
  const owner = roles.ownerOf(room);
  if (owner) return chat.refuse(member, refusal("forbidden", `${room} is owned by ${owner.name} already.`));
  const owned = ownedBy(chat, by);
  if (owned >= MAX_OWNED)
    return chat.refuse(member, refusal("forbidden", `You own ${owned} rooms already, the most one person may.`));
  // An owner whose account is gone (unregistered, deleted) left the room to be claimed again.
  if (roles.owners.has(room)) await roles.owners.delete(room);
  if (!(await roles.owners.create(room, roles.appointment(by, by))))
    return chat.refuse(member, refusal("forbidden", `${room} was claimed by someone else just now.`));
  // Claims at once (from many connections, on several instances) all counted fewer than the most
  // before any was made: counted again now, one too many gives its room back.
  if (ownedBy(chat, by) > MAX_OWNED) {
    await roles.owners.delete(room);
    return chat.refuse(member, refusal("forbidden", `You own ${MAX_OWNED} rooms already, the most one person may.`));
  }
  await log.add({ room, by, action: "claim", text: `${by} claimed ${room}: they own it now` });
}

/** How many rooms `account` owns. */
function ownedBy(chat: ChatContext, account: string): number {
  const { roles } = chat.moderation;
  const skeleton = nameSkeleton(account);
  return [...roles.owners.entries()].filter(([room]) => nameSkeleton(roles.ownerOf(room)?.name ?? "") === skeleton)
    .length;
}

async function appoint(act: Act, action: "mod" | "unmod", name: string): Promise<void> {
  const { chat, member, room, by } = act;
  const { people, roles } = chat.moderation;
  const account = people.account(name);
  if (account === undefined) {
    const guest = people.find(name);
    return chat.refuse(
      member,
      guest
        ? refusal("forbidden", `${guest.name} is a guest: only a registered name can be a moderator.`)
        : refusal("not-here", `Nobody named ${name} is connected or registered.`),
    );
  }
  const key = moderatorKey(room, account);
  const person: Person = { name: account, account, rooms: [] };
  const refused = permission(chat.moderation.rankOf(member), action, room, [
    action === "unmod" ? { name: account, rank: "moderator" } : subject(act, person, room),
  ]);
  if (refused) return chat.refuse(member, refused);
  if (roles.isModerator(room, account) === (action === "mod"))
    return chat.refuse(
      member,
      refusal("no-change", `${account} is ${action === "mod" ? "already" : "not"} a moderator of ${room}.`),
    );
  if (action === "mod") await roles.moderators.put(key, { room, ...roles.appointment(account, by) });
  else await roles.moderators.delete(key);
  const text =
    action === "mod"
      ? `${by} made ${account} a moderator of ${room}`
      : `${account} is no longer a moderator of ${room} (${by})`;
  await logged(act, { action, text, target: { name: account, account } });
}

async function kick(act: Act, name: string, given: string | undefined): Promise<void> {
  const { chat, member, room, by } = act;
  const person = named(act, name);
  if (!person) return;
  const chatWide = chat.moderation.rankOf(member) === "operator" || room === DEFAULT_ROOM;
  if (person.rooms.length === 0 || (!chatWide && !person.rooms.includes(room)))
    return chat.refuse(member, refusal("not-here", `${person.name} is not in ${chatWide ? "the chat" : room}.`));
  const refused = permission(chat.moderation.rankOf(member), "kick", room, [
    subject(act, person, chatWide ? DEFAULT_ROOM : room),
  ]);
  if (refused) return chat.refuse(member, refused);
  const reason = reasonOf(given);
  const from = chatWide ? "the chat" : room;
  await logged(act, {
    action: "kick",
    text: `${person.name} was kicked out of ${from} by ${by}${because(reason)}`,
    personal: `You were kicked out of ${from} by ${by}${because(reason)}`,
    target: { name: person.name, ...(person.account !== null && { account: person.account }) },
    ...(reason && { reason }),
    ...(chatWide && { chatWide: true }),
  });
}

/**
 * What a ban or mute of TARGET is on, and who it reaches (for the permission check): a name (its
 * account, or a guest's network), or an address or network typed as such.
 */
function restrictionOf(act: Act, target: string, scopeRoom: string, addresses: boolean) {
  const { chat, member } = act;
  const network = addresses ? parseNetwork(target) : undefined;
  if (network && "problem" in network) return void chat.refuse(member, refusal("bad-command", network.problem));
  if (network) {
    const covers = (address: Parameters<typeof contains>[1]) => contains(network, address);
    const reached = [...chat.moderation.people.inNetwork(covers)].map((p) => ({
      name: p.name,
      rank: chat.moderation.roles.rankOf(p.account, scopeRoom),
    }));
    return { on: { kind: "address" as const, target: showNetwork(network) }, shown: showNetwork(network), reached };
  }
  const person = named(act, target);
  if (!person) return undefined;
  const on: Pick<Restriction, "kind" | "target" | "name" | "addresses"> = targetOf(person);
  // Never an address where someone the actor does not outrank is connected (the actor included).
  const { people, roles } = chat.moderation;
  const actor = chat.moderation.rankOf(member);
  const reachable = (account: string | null) => outranks(actor, roles.rankOf(account, scopeRoom));
  const covered = person.account === null ? [] : people.networksOf(person.account, reachable);
  if (covered.length > 0) on.addresses = covered.slice(0, MAX_ADDRESSES).map(showNetwork);
  return { on, shown: person.name, reached: [subject(act, person, scopeRoom)], person };
}

async function ban(act: Act, target: string, duration: string | undefined, given: string | undefined): Promise<void> {
  const { chat, member, room, by } = act;
  const operator = chat.moderation.rankOf(member) === "operator";
  const scope = operator ? CHAT_SCOPE : room;
  // An address ban in the default room bars the upgrade, before anyone logs in: an operator too.
  if (!operator && parseNetwork(target) !== undefined)
    return chat.refuse(
      member,
      refusal(
        "forbidden",
        "Only operators may ban an address or network: ban a person by name (a guest's name bans the address they came from).",
      ),
    );
  const until = untilOf(act, duration);
  if (until === null) return;
  const restriction = restrictionOf(act, target, operator ? DEFAULT_ROOM : room, true);
  if (!restriction) return;
  const refused = permission(chat.moderation.rankOf(member), "ban", room, restriction.reached);
  if (refused) return chat.refuse(member, refused);
  const reason = reasonOf(given);
  const row: Restriction = { scope, ...restriction.on, by, at: new Date().toISOString() };
  if (reason) row.reason = reason;
  if (until !== undefined) row.until = until;
  if (!operator && isFull(act, chat.moderation.bans, row, "bans")) return;
  await chat.moderation.bans.table.put(restrictionKey(row), row);
  const from = operator ? "the chat" : room;
  await logged(act, {
    action: "ban",
    text: `${restriction.shown} was banned from ${from} by ${by}${forHowLong(duration)}${because(reason)}`,
    ...(reason && { reason }),
  });
}

/** True (and said) if the room holds MAX_PER_ROOM bans or mutes already and `row` would be one more. */
function isFull(act: Act, restrictions: Restrictions, row: Restriction, what: string): boolean {
  if (restrictions.table.has(restrictionKey(row)) || restrictions.count(row.scope) < MAX_PER_ROOM) return false;
  const full = `${act.room} holds ${MAX_PER_ROOM} ${what} already, the most a room may: /un${what.slice(0, -1)} some first.`;
  act.chat.refuse(act.member, refusal("forbidden", full));
  return true;
}

async function mute(act: Act, name: string, duration: string | undefined): Promise<void> {
  const { chat, member, room, by } = act;
  const until = untilOf(act, duration);
  if (until === null) return;
  const restriction = restrictionOf(act, name, room, false);
  if (!restriction?.person) return;
  const refused = permission(chat.moderation.rankOf(member), "mute", room, restriction.reached);
  if (refused) return chat.refuse(member, refused);
  const row: Restriction = { scope: room, ...restriction.on, by, at: new Date().toISOString() };
  if (until !== undefined) row.until = until;
  if (isFull(act, chat.moderation.mutes, row, "mutes")) return;
  await chat.moderation.mutes.table.put(restrictionKey(row), row);
  const { person } = restriction;
  await logged(act, {
    action: "mute",
    text: `${person.name} was muted in ${room} by ${by}${forHowLong(duration)}`,
    personal: `You were muted in ${room} by ${by}${forHowLong(duration)}: you can read but not speak here`,
    target: { name: person.name, ...(person.account !== null && { account: person.account }) },
  });
}

/** The end of a ban or mute given for `duration` (ms since the epoch); undefined: none; null: refused. */
function untilOf({ chat, member }: Act, duration: string | undefined): number | undefined | null {
  if (duration === undefined) return undefined;
  const ms = parseDuration(duration);
  if (typeof ms === "number") return chat.moderation.now() + ms;
  chat.refuse(member, refusal("bad-command", ms.problem));
  return null;
}

/** /unban and /unmute: the restriction on TARGET here (an operator's: in the whole chat first) is lifted. */
async function lift(act: Act, action: "unban" | "unmute", target: string): Promise<void> {
  const { chat, member, room, by } = act;
  const { bans, mutes } = chat.moderation;
  const operator = chat.moderation.rankOf(member) === "operator";
  const restrictions = action === "unban" ? bans : mutes;
  const scopes = action === "unban" && operator ? [CHAT_SCOPE, DEFAULT_ROOM, room] : [room];
  const account = chat.moderation.people.account(target);
  const found = scopes.map((scope) => restrictions.named(scope, target, account)).find((key) => key);
  if (!found) {
    const what = action === "unban" ? "banned" : "muted";
    return chat.refuse(
      member,
      refusal(
        "not-found",
        `${target} is not ${what} ${action === "unban" && operator ? "here or in the chat" : `in ${room}`}.`,
      ),
    );
  }
  await restrictions.table.delete(found.key);
  const shown = found.row.name ?? found.row.target;
  const where = found.row.scope === CHAT_SCOPE ? "the chat" : found.row.scope;
  await logged(act, {
    action,
    text:
      action === "unban"
        ? `${shown} is no longer banned from ${where} (${by})`
        : `${shown} may speak in ${where} again (unmuted by ${by})`,
    personal:
      action === "unban"
        ? `You are no longer banned from ${where} (unbanned by ${by})`
        : `You may speak in ${where} again (unmuted by ${by})`,
    target: { name: shown, ...(found.row.kind === "account" && { account: found.row.target }) },
  });
}

async function listBans({ chat, member, room }: Act): Promise<void> {
  const { bans } = chat.moderation;
  const operator = chat.moderation.rankOf(member) === "operator";
  const scopes = operator ? [room, CHAT_SCOPE, ...(room === DEFAULT_ROOM ? [] : [DEFAULT_ROOM])] : [room];
  const all = scopes.flatMap((scope) => [...bans.inScope(scope)]);
  const listed = all.slice(0, MAX_LISTED).map((ban) => ({
    target: ban.target,
    ...(ban.name && { name: ban.name }),
    scope: ban.scope === CHAT_SCOPE || ban.scope === DEFAULT_ROOM ? ("chat" as const) : ("room" as const),
    by: ban.by,
    ...(ban.reason && { reason: ban.reason }),
    ...(ban.until !== undefined && { until: new Date(ban.until).toISOString() }),
  }));
  chat.send(member, { type: "bans", room, bans: listed, count: all.length });
}

async function setTopic(act: Act, given: string): Promise<void> {
  const { chat, member, room, by } = act;
  const text = cleanText(given).replace(/\s+/g, " ").trim();
  const length = Array.from(text).length;
  if (length === 0) return chat.refuse(member, refusal("empty-message", "A topic needs some text."));
  if (length > MAX_TOPIC)
    return chat.refuse(
      member,
      refusal("too-long", `A topic is at most ${MAX_TOPIC} characters; that one has ${length}.`),
    );
  await chat.moderation.topics.put(room, { text, by, at: new Date().toISOString() });
  await logged(act, { action: "topic", text: `${by} set the topic: ${text}` });
}

async function slowMode(act: Act, given: string): Promise<void> {
  const { chat, member, room, by } = act;
  const seconds = /^\d{1,6}$/.test(given) ? Number(given) : Number.NaN;
  if (!(seconds <= MAX_SLOW))
    return chat.refuse(
      member,
      refusal("bad-command", `/slow takes seconds, 0 to ${MAX_SLOW} (0 ends it), not '${given}'.`),
    );
  const { slow } = chat.moderation;
  if (seconds === 0 && !slow.has(room))
    return chat.refuse(member, refusal("no-change", `${room} is not in slow mode.`));
  if (seconds === 0) await slow.delete(room);
  else await slow.put(room, { seconds, by, at: new Date().toISOString() });
  const text =
    seconds === 0
      ? `${by} ended slow mode in ${room}`
      : `${by} put ${room} in slow mode: one message every ${seconds} s each (moderators excepted)`;
  await logged(act, { action: "slow", text });
}

async function remove(act: Act, given: string): Promise<void> {
  const { chat, member, room, by } = act;
  const seq = /^\d{1,15}$/.test(given) ? Number(given) : Number.NaN;
  if (!(seq >= 1 && seq <= chat.directory.lastSeq(room)))
    return chat.refuse(member, refusal("not-found", `${room} has no message #${given}.`));
  chat.directory.remove(room, seq);
  await logged(act, { action: "delete", text: `${by} removed message #${seq}` });
}

async function listLog({ chat, member, room }: Act): Promise<void> {
  const entries = chat.moderation.log.recent(room, LOG_LISTED).map((e) => ({ time: e.at, by: e.by, text: e.text }));
  chat.send(member, { type: "modlog", room, entries });
}
