/**
 * Events as plain text, one frame each, for clients that asked for no subprotocol (and for the
 * terminal client's pipe mode, which prints the same lines).
 */
import type { AccountEvent, ChatEvent, PrivateEvent, User } from "./events";
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
    case "inbox": {
      const dropped =
        event.dropped > 0 ? ` (${plural(event.dropped, "older one was", "older ones were")} let go of)` : "";
      const came = `${plural(event.messages.length, "private message")} came while you were away${dropped}:`;
      return [`*** ${came}`, ...event.messages.map(privateLine)].join("\n");
    }
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
      return `*** You are in ${event.room} with ${plural(event.count - 1, "other")}.${missed}`;
    }
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

/** `[private] alice (127.0.0.1:5555) → bob: hi`: marked, so that it cannot pass for a room message. */
function privateLine({ from, to, text, kept }: PrivateEvent): string {
  const later = kept ? " (kept for their next login)" : "";
  return `[private] ${describeUser(from)} → ${to.name}${later}: ${text.replaceAll("\n", `\n${CONTINUATION}`)}`;
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
  return `You are logged in as ${name}.${kept} Your session token (log in again with /session TOKEN, without the password): ${token}`;
}
