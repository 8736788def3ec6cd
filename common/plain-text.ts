/**
 * Events as plain text, one frame each, for clients that asked for no subprotocol (and for the
 * terminal client's pipe mode, which prints the same lines).
 */
import type { AccountEvent } from "./account-events";
import type { ChatEvent, InboxEvent, PrivateEvent, User } from "./events";
import type { BanEntry, BansEvent, Role } from "./moderation-events";
import { describeUser, messagesWere, plural } from "./text";

/** Starts each line of a message after its first, in plain text: a line from a sender never does. */
const CONTINUATION = "  ";

/**
 * One event as one text frame. Messages keep the core's form (`<sender>: <text>`); everything the
 * server says itself starts with `*** `, which no message can, since a message starts with its
 * sender. History is marked `[history] `, and a private message `[private] `, which no room message
 * can start with either.
 */
export function toText(event: ChatEvent): string {
  switch (event.type) {
    case "message":
    case "action": {
      // Lines after the first are indented, so no line of a message can pass for another message.
      const text = event.text.replaceAll("\n", `\n${CONTINUATION}`);
      const line =
        event.type === "message" ? `${describeUser(event.from)}: ${text}` : `* ${describeUser(event.from)} ${text}`;
      return event.history ? `[history] ${line}` : line;
    }
    case "dm":
      return privateLine(event);
    case "inbox":
      return [`*** ${cameWhileAway(event)}`, ...event.messages.map(privateLine)].join("\n");
    case "ignoring":
      return event.names.length === 0
        ? "*** You ignore nobody."
        : `*** You ignore ${event.names.join(", ")} (their private messages are refused).`;
    case "notice":
      return `*** ${event.text}`;
    case "welcome":
      return `*** Welcome, ${describeUser(event.you)}. /help lists the commands.`;
    case "joined": {
      const missed = event.missed ? ` ${messagesWere(event.missed)} missed, too far back to replay.` : "";
      const topic = event.topic ? ` Topic: ${event.topic}` : "";
      const role = event.role ? ` You are ${roleWords(event.role, event.room)}.` : "";
      return `*** You are in ${event.room} with ${plural(event.count - 1, "other")}.${missed}${role}${topic}`;
    }
    case "role":
    case "topic":
    case "deleted":
    case "bans":
    case "modlog":
      return moderationText(event);
    case "members":
      return `*** In ${event.room} (${event.members.length}): ${event.members.map(describeListed).join(", ")}`;
    case "rooms":
      return `*** Rooms: ${event.rooms.map((r) => `${r.name} (${r.members})`).join(", ")}`;
    case "earlier":
      if (event.messages.length === 0) return `*** Nothing earlier in ${event.room}.`;
      return [`*** Earlier in ${event.room}:`, ...event.messages.map((m) => toText({ ...m, history: true }))].join(
        "\n",
      );
    case "help":
      return ["*** Commands:", ...event.commands.map((c) => `${c.usage.padEnd(12)} ${c.help}`)].join("\n");
    case "error":
      return `*** Error: ${event.message}`;
    case "account":
      return `*** ${describeAccount(event)}`;
  }
}

/** What moderation says: a role, a topic, a removed message, the bans and the log. */
function moderationText(event: Extract<ChatEvent, { type: "role" | "topic" | "deleted" | "bans" | "modlog" }>): string {
  switch (event.type) {
    case "role":
      return `*** ${event.role ? `You are ${roleWords(event.role, event.room)}` : `You have no role in ${event.room} now`}.`;
    case "topic":
      return `*** ${event.by} set the topic of ${event.room}: ${event.text}`;
    case "deleted":
      return `*** Message #${event.seq} in ${event.room} was removed by a moderator.`;
    case "bans":
      return banLines(event);
    case "modlog":
      if (event.entries.length === 0) return `*** No moderation in ${event.room} yet.`;
      return [`*** Moderation in ${event.room}:`, ...event.entries.map((e) => `  ${utc(e.time)}  ${e.text}`)].join(
        "\n",
      );
  }
}

/** "2 private messages came while you were away (1 older one was let go of):" */
export function cameWhileAway({ messages, dropped }: InboxEvent): string {
  const lost = dropped > 0 ? ` (${plural(dropped, "older one was", "older ones were")} let go of)` : "";
  return `${plural(messages.length, "private message")} came while you were away${lost}:`;
}

/** `[private] alice (127.0.0.1:5555) → bob: hi`: marked, so that it cannot pass for a room message. */
function privateLine({ from, to, text, kept }: PrivateEvent): string {
  const later = kept ? " (kept for their next login)" : "";
  return `[private] ${describeUser(from)} → ${to.name}${later}: ${text.replaceAll("\n", `\n${CONTINUATION}`)}`;
}

/** "a moderator of dev", "the owner of dev", "an operator". */
export function roleWords(role: Role, room: string): string {
  if (role === "operator") return "an operator";
  return role === "owner" ? `the owner of ${room}` : `a moderator of ${room}`;
}

/** An ISO 8601 time to the minute, as plain text shows it: "2026-12-04 14:05 UTC". */
const utc = (time: string) => `${time.slice(0, 16).replace("T", " ")} UTC`;

/** One ban as a line: what, where, by whom, until when, why. */
export function banLine(ban: BanEntry): string {
  const who = ban.name ? `${ban.target} (${ban.name})` : ban.target;
  const until = ban.until ? ` until ${utc(ban.until)}` : "";
  return `${who}: ${ban.scope === "chat" ? "the whole chat" : "this room"}, by ${ban.by}${until}${ban.reason ? `: ${ban.reason}` : ""}`;
}

function banLines({ room, bans, count }: BansEvent): string {
  if (bans.length === 0) return `*** No bans in force in ${room}.`;
  const more = count > bans.length ? ` (the first ${bans.length} of ${count})` : "";
  return [`*** Bans in force in ${room}${more}:`, ...bans.map((ban) => `  ${banLine(ban)}`)].join("\n");
}

/** Someone in a list of people: a person logged in on several connections is listed once, saying so. */
function describeListed(user: User): string {
  return user.connections ? `${describeUser(user)} on ${user.connections} connections` : describeUser(user);
}

/** A login, a logout, and the session token a plain-text client keeps to log in again without its password. */
function describeAccount({ name, token, temporary, text }: AccountEvent): string {
  if (text !== undefined && token === undefined) return text;
  if (name === null) return "You are logged out: you are a guest now.";
  const kept = temporary ? " This server keeps accounts in memory only: yours lasts until it stops." : "";
  if (token === undefined) return `You are logged in as ${name}.${kept}`;
  if (text !== undefined)
    return `${text} Your session token (log in again with /session TOKEN, without the password): ${token}`;
  return `You are logged in as ${name}.${kept} Your session token (log in again with /session TOKEN, without the password): ${token}`;
}
