/**
 * What each command does, one function per command of the table (common/commands.ts): saying
 * something, renaming, moving rooms, listing people and rooms, paging back through history. They
 * act through the chat's context (context.ts), so a new command adds a function here, or a module
 * of its own, and a line in `perform`, not a path through the chat core.
 */
import { type Refusal, refusal } from "../common/codes";
import { type Command, HELP } from "../common/commands";
import { DEFAULT_ROOM, type SaidEvent } from "../common/events";
import { cleanText, nameProblem, normalizeName } from "../common/text";
import { loginRequired } from "./accounts/accounts";
import { performAccount } from "./accounts/commands";
import { onePerPerson } from "./accounts/people";
import { mayChange } from "./changes";
import type { ChatContext } from "./context";
import type { Member } from "./member";
import { moderate } from "./moderation/commands";
import { isoNow, notice } from "./notice";
import { privateCommand } from "./private/commands";

/** Replay budget an address needs for `older` to read anything: about one short message. */
const MIN_PAGE_BYTES = 256;
/** /rooms lists at most this many rooms, so that its answer stays one reasonable frame. */
const MAX_ROOMS_LISTED = 1000;

export function perform(chat: ChatContext, member: Member, command: Command): void {
  if (!chat.accounts.allows(member, command.type)) return chat.refuse(member, loginRequired());
  switch (command.type) {
    case "say":
    case "me":
      return say(chat, member, command.type, command.text, command.id);
    case "nick":
      return rename(chat, member, command.name);
    case "join":
      return join(chat, member, command.room);
    case "who":
      return who(chat, member);
    case "rooms":
      return listRooms(chat, member);
    case "older":
      return older(chat, member, command.before);
    case "dm":
    case "reply":
    case "ignore":
    case "unignore":
      return privateCommand(chat, member, command);
    case "help":
      return chat.send(member, { type: "help", commands: HELP });
    case "quit":
      return member.socket.close(1000, "bye"); // RFC 6455 §7.4.1: 1000, a normal closure.
    case "claim":
    case "mod":
    case "unmod":
    case "kick":
    case "ban":
    case "unban":
    case "bans":
    case "mute":
    case "unmute":
    case "topic":
    case "slow":
    case "delete":
    case "modlog":
      return moderate(chat, member, command);
    case "register":
    case "login":
    case "session":
    case "logout":
    case "password":
    case "unregister":
      return performAccount(chat, member, command);
  }
}

function say(chat: ChatContext, member: Member, type: "say" | "me", typed: string, id: string | undefined): void {
  const text = cleanText(typed);
  if (text.trim() === "") {
    return chat.refuse(member, refusal("empty-message", "A message needs some text besides control characters."), id);
  }
  const silenced = chat.moderation.maySpeak(member);
  if (silenced) return chat.refuse(member, silenced, id);
  const said = {
    type: type === "say" ? "message" : "action",
    room: member.room,
    time: isoNow(),
    from: member.user,
    text,
  };
  // The sender's own id comes back with it, so that it knows its message whatever became of the text.
  chat.directory.say(id === undefined ? (said as Omit<SaidEvent, "seq">) : ({ ...said, id } as Omit<SaidEvent, "seq">));
}

function rename(chat: ChatContext, member: Member, wanted: string): void {
  if (!mayChange(chat, member)) return;
  const previous = member.name;
  chat.names.claim(member, wanted, (problem) => {
    if (problem) return chat.refuse(member, problem);
    const before = previous ? `${previous} (${member.address})` : member.address;
    chat.announce(notice(member.room, "rename", member.user, `${before} is now ${member.name}`, previous));
    chat.log.line(`${before} is now ${member.name}`);
  });
}

function join(chat: ChatContext, member: Member, wanted: string): void {
  const room = normalizeName(wanted);
  const problem = roomProblem(chat, room);
  if (problem) return chat.refuse(member, problem);
  if (room === member.room) return chat.refuse(member, refusal("no-change", `You are already in ${room}.`));
  const banned = chat.moderation.mayEnter(member, room);
  if (banned) return chat.refuse(member, banned);
  if (!mayChange(chat, member)) return;
  chat.enter(member, room, { firstRoom: false });
}

/** Why `room` cannot be entered: a bad name, or a new room when the server has all it allows. */
export function roomProblem(chat: ChatContext, room: string): Refusal | undefined {
  const problem = nameProblem(room, "room");
  if (problem) return refusal("room-invalid", problem);
  if (chat.rooms.size(room) > 0 || room === DEFAULT_ROOM || chat.rooms.count < chat.limits.maxRooms) return undefined;
  chat.metrics.refusedRooms++;
  return refusal(
    "rooms-full",
    `The server has as many rooms as it allows (${chat.limits.maxRooms}); join one that has people in it (/rooms lists them).`,
  );
}

/** Everyone in the member's room, on every instance. */
function who(chat: ChatContext, member: Member): void {
  const room = member.room;
  const here = [...chat.rooms.members(room)].map((m) => m.user);
  const everyone = [...here, ...chat.directory.elsewhere(room).users];
  chat.send(member, { type: "members", room, members: onePerPerson(everyone) });
}

/**
 * The room's messages before number `before` (or, without one, before the oldest this member was
 * given in this room), for a page scrolling up or `/older` typed again and again: as many as
 * --history and the address's replay budget allow, the newest of them first to be kept.
 */
function older(chat: ChatContext, member: Member, beforeText: string | undefined): void {
  const before = beforeText === undefined ? member.oldestGiven : Number(beforeText);
  if (!Number.isSafeInteger(before) || before < 1) {
    return chat.refuse(
      member,
      refusal("bad-command", `/older needs a message number, e.g. /older 120, not '${beforeText}'.`),
    );
  }
  // The store is not read for an address that may be replayed nothing now: refused before any work.
  const budget = member.budget.replayBytes.available();
  if (budget < MIN_PAGE_BYTES) {
    chat.metrics.replaysCut++;
    return chat.refuse(
      member,
      refusal("rate-limited", "Too much history asked for from your address just now; wait a moment and try again."),
    );
  }
  const { events, start } = chat.directory.before(member.room, before, budget);
  const cut = chat.beyondReplayBudget(member, events);
  const given = events.slice(cut);
  member.oldestGiven = given[0]?.seq ?? before;
  chat.send(member, { type: "earlier", room: member.room, messages: given, start: start && cut === 0 });
}

/** The rooms of every instance with people in them, the default room first. */
function listRooms(chat: ChatContext, member: Member): void {
  chat.send(member, { type: "rooms", rooms: chat.rooms.listed(chat.directory.roomsElsewhere(), MAX_ROOMS_LISTED) });
}
