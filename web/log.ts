/**
 * The page's conversation: the lines of its log (messages, notices, the page's own lines), the
 * copies of our messages that wait to go out, and a quick join and leave folded into one line
 * (older messages put above are paging.ts's). Everything people wrote goes in as text
 * (textContent), never as HTML.
 */
import type { SaidEvent, User } from "../common/events";
import { CAME_AND_WENT_MS, cameAndWentLine, clockTime, NAME_COLOURS, nameColour } from "../common/text";
import { deleteButton } from "./moderation";

const conversation = document.querySelector<HTMLElement>(".conversation")!;
const log = document.getElementById("log") as HTMLOListElement;
/** Where the page's own lines (answers, errors) go: the room's log, or a private conversation's on show. */
let shown = log;

/** The list on show in the conversation: the room's log (none given), or a private conversation's. */
export function showList(list: HTMLOListElement = log): void {
  shown = list;
}

/** Adds a line to the room's log (or `list`), keeping the newest in view unless the reader scrolled up. */
export function add(item: HTMLLIElement, list = log): void {
  const atBottom = conversation.scrollHeight - conversation.scrollTop - conversation.clientHeight < 40;
  list.append(item);
  if (atBottom) conversation.scrollTop = conversation.scrollHeight;
}

/** Another room: the conversation starts afresh. */
export function clearLog(): void {
  log.replaceChildren();
}

/**
 * A line of the page's own, or a notice from the server, at `time` (now if none): a notice in the
 * room's log, the others where the reader is looking.
 */
export function append(kind: "notice" | "info" | "error", text: string, time?: string): HTMLLIElement {
  const item = document.createElement("li");
  item.className = kind;
  const body = document.createElement("span");
  body.className = "text";
  body.textContent = text;
  item.append(timeElement(time), body);
  add(item, kind === "notice" ? log : shown);
  return item;
}

export function timeElement(time: string | undefined): HTMLTimeElement {
  const at = time ? new Date(time) : new Date();
  const element = document.createElement("time");
  element.dateTime = at.toISOString();
  element.textContent = clockTime(at);
  return element;
}

/**
 * Which of the name colours (style.css) a person gets on this page: the one nameColour gives the
 * name, as in the terminal, unless another name on this page has it already; then the next free
 * one, so that the first twelve people here all differ. Past twelve, colours repeat.
 */
const colours = new Map<string, number>();
export function colourOf(key: string): number {
  const known = colours.get(key);
  if (known !== undefined) return known;
  const taken = new Set(colours.values());
  const preferred = nameColour(key);
  let colour = preferred;
  for (let step = 0; step < NAME_COLOURS && taken.has(colour); step++) colour = (preferred + step + 1) % NAME_COLOURS;
  colours.set(key, colour);
  return colour;
}

/**
 * A message or action as an item of the log (not yet placed): ours, or one that mentions us, stands
 * out; a moderator has a button to delete it (one said while the server was cut off has no number yet).
 */
export function saidItem(
  { type, from, text, time, seq, history, provisional }: SaidEvent,
  { own, mention }: { own: boolean; mention: boolean },
): HTMLLIElement {
  const action = type === "action";
  const item = document.createElement("li");
  item.dataset.seq = String(seq);
  item.classList.add("said", action ? "action" : "message");
  if (history) item.classList.add("history");
  if (own) item.classList.add("own");
  else if (mention) item.classList.add("mention");
  const who = document.createElement("span");
  who.className = "who";
  who.textContent = from.name ?? from.address;
  who.classList.add(`name-${colourOf(from.name?.toLowerCase() ?? from.address)}`);
  const parts: Node[] = [timeElement(time)];
  if (action) parts.push(document.createTextNode("* "));
  parts.push(who);
  if (from.bot) {
    // Said through the HTTP API: marked, so that no key's name passes for a person's.
    const bot = document.createElement("span");
    bot.className = "bot";
    bot.textContent = "[bot]";
    parts.push(bot);
  }
  if (from.name) {
    const address = document.createElement("span");
    address.className = "address";
    address.textContent = `(${from.address})`;
    parts.push(address);
  }
  const body = document.createElement("span");
  body.className = "text";
  body.textContent = action ? ` ${text}` : `: ${text}`;
  parts.push(body);
  if (!provisional) parts.push(deleteButton(seq));
  item.append(...parts);
  return item;
}

// ---------------------------------------------------------------------------------------------
// Our messages typed while offline: shown at once, marked as waiting, until their echo comes back.

/** Our message `id` (the session's) waits to go out: it shows now. */
export function appendPending(text: string, id: string): void {
  const item = document.createElement("li");
  item.className = "said message own pending";
  item.dataset.id = id;
  item.dataset.text = text;
  item.textContent = text;
  add(item);
}

/** Our own message came back: the waiting copy of it goes (known by its id; by its text from a server that gives none). */
export function settlePending(id: string | undefined, text: string): void {
  const waiting = [...log.querySelectorAll<HTMLLIElement>("li.pending")];
  (id === undefined
    ? (waiting.find((item) => item.dataset.text === text) ??
      waiting.find((item) => item.dataset.text?.trim() === text.trim()))
    : waiting.find((item) => item.dataset.id === id)
  )?.remove();
}

/** Our message `id` will not go out: its waiting copy, if it has one, is marked so. */
export function failPendingMessage(id: string): void {
  for (const item of log.querySelectorAll<HTMLLIElement>("li.pending"))
    if (item.dataset.id === id) item.classList.replace("pending", "failed");
}

/** The first `count` waiting messages (all, without a count) will not go out: they are marked so. */
export function failPending(count = Infinity): void {
  for (const item of [...log.querySelectorAll("li.pending")].slice(0, count))
    item.classList.replace("pending", "failed");
}

// ---------------------------------------------------------------------------------------------
// Came and went.

/**
 * Someone who joined a moment ago and leaves again with nothing said since (a client that only
 * looked in, a reconnect that did not last) makes one line, not two: their join line becomes
 * "came and went". recentJoins is the page's record of the last few seconds' joins, by address.
 */
const recentJoins = new Map<string, { item: HTMLLIElement; at: number }>();

/** `item` is the line of `user`'s join, just shown. */
export function noteJoin(user: User, item: HTMLLIElement): void {
  recentJoins.set(user.address, { item, at: Date.now() });
}

/** True if `user`'s leave was folded into their join line, and needs no line of its own. */
export function cameAndWent(user: User): boolean {
  const joined = recentJoins.get(user.address);
  recentJoins.delete(user.address);
  for (const [address, { at }] of recentJoins) if (Date.now() - at > CAME_AND_WENT_MS) recentJoins.delete(address);
  if (!joined || Date.now() - joined.at > CAME_AND_WENT_MS || !joined.item.isConnected) return false;
  // Only if nothing was said since: the leave would otherwise be far from where it is read.
  for (let next = joined.item.nextElementSibling; next; next = next.nextElementSibling)
    if (!next.classList.contains("notice")) return false;
  const body = joined.item.querySelector(".text");
  if (body) body.textContent = cameAndWentLine(user);
  return true;
}
