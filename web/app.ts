/**
 * The chat in a browser, served by the chat server at `/`. It speaks the same JSON protocol as the
 * terminal client, over the same endpoint, through the same ChatSession (client/session/session.ts), so it
 * reconnects and resumes the same way. Everything people wrote goes on the page as text
 * (textContent), never as HTML; the page's Content-Security-Policy forbids inline script besides.
 */
import { ChatSession, ConnectError, NameRefusedError, type Status } from "../client/session/session";
import { CommandError, parseTyped } from "../common/commands";
import type { ChatEvent, SaidEvent, User } from "../common/events";
import { describeUser as describe, messagesWere, nameHash, nameProblem, normalizeName } from "../common/text";

const element = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;
const welcome = element<HTMLFormElement>("welcome");
const nameInput = element<HTMLInputElement>("name");
const nameProblemLine = element<HTMLParagraphElement>("name-problem");
const tokenField = element<HTMLDivElement>("token-field");
const tokenInput = element<HTMLInputElement>("token");
const chat = element<HTMLDivElement>("chat");
const roomTitle = element<HTMLSpanElement>("room");
const status = element<HTMLParagraphElement>("status");
const conversation = document.querySelector<HTMLElement>(".conversation")!;
const log = element<HTMLOListElement>("log");
const membersList = element<HTMLUListElement>("members");
const membersTitle = element<HTMLHeadingElement>("members-title");
const roomsList = element<HTMLUListElement>("rooms");
const drawerToggle = element<HTMLButtonElement>("drawer-toggle");
const notifyToggle = element<HTMLButtonElement>("notify-toggle");
const composer = element<HTMLFormElement>("composer");
const messageInput = element<HTMLTextAreaElement>("message");
const lengthLeft = element<HTMLSpanElement>("length-left");

/** The name is remembered in this browser for the next visit. */
const NAME_KEY = "chat.name";

// 1. A name, or none: Enter in the field joins. A server with a token asks for it here too (GET
//    /auth says whether it wants one, and whether one is right); it goes in no URL.
nameInput.value = localStorage.getItem(NAME_KEY) ?? "";
const tokenWanted = fetch("/auth").then(
  (answer) => answer.status === 401,
  () => false,
);
void tokenWanted.then((wanted) => (tokenField.hidden = !wanted));

welcome.addEventListener("submit", async (event) => {
  event.preventDefault();
  const name = normalizeName(nameInput.value);
  const problem = name === "" ? undefined : (nameProblem(name) ?? (await tokenProblem()));
  nameProblemLine.textContent = problem ?? "";
  if (problem) return (tokenField.hidden || !problem.includes("token") ? nameInput : tokenInput).focus();
  localStorage.setItem(NAME_KEY, name);
  // The chat shows once the server has let us in; a name it refuses is asked for again here.
  const refused = await join(name === "" ? undefined : name);
  if (refused) {
    nameProblemLine.textContent = refused;
    return nameInput.focus();
  }
  welcome.hidden = true;
  chat.hidden = false;
  messageInput.focus();
});

// 2. Connect, then show what happens.
let session: ChatSession | undefined;
/** The room on show: when a `joined` names another, the conversation starts afresh. */
let shownRoom = "";
const members = new Map<string, User>();
/** Rooms bigger than this hear no joins and leaves (from the server's welcome). */
let announceLimit = Infinity;
/** How many people the room had when last told (a big room's `joined` lists only the first of them). */
let roomCount = 0;

/** Connects and listens; returns the server's reason if it refused the name, to ask again. */
async function join(name: string | undefined): Promise<string | undefined> {
  const url = `${location.protocol === "https:" ? "wss" : "ws"}://${location.host}/`;
  try {
    session = await ChatSession.open({
      url,
      ...(name && { name }),
      ...(!tokenField.hidden && { token: tokenInput.value }),
      reconnect: true,
    });
  } catch (error) {
    if (error instanceof NameRefusedError) return error.reason;
    if (!(error instanceof ConnectError)) throw error;
    setStatus("offline", "Not connected");
    append("error", error.message);
    return undefined;
  }
  setStatus("online", "Connected");
  session.listen(show, onStatus);
  return undefined;
}

/** Why the token typed will not do, or undefined if it will (or none is wanted). */
async function tokenProblem(): Promise<string | undefined> {
  if (!(await tokenWanted)) return undefined;
  if (tokenInput.value === "") return "This server wants a token: type it above.";
  const answer = await fetch("/auth", { headers: { Authorization: `Bearer ${tokenInput.value}` } }).catch(
    () => undefined,
  );
  if (answer?.status === 401) return "That token is not this server's. Check it with the server's operator.";
  return answer?.ok ? undefined : "The server could not be reached to check the token. Try again in a moment.";
}

function onStatus(change: Status): void {
  switch (change.type) {
    case "lost":
      return setStatus("reconnecting", `Reconnecting… (attempt ${change.attempt})`);
    case "reconnected":
      return setStatus("online", "Connected");
    case "not-sent":
      for (const item of [...log.querySelectorAll("li.pending")].slice(0, change.count))
        item.classList.replace("pending", "failed");
      return void append("error", `${messagesWere(change.count)} not sent: ${change.why}.`);
    case "ended":
      setStatus("offline", "Disconnected");
      messageInput.disabled = true;
      for (const item of log.querySelectorAll("li.pending")) item.classList.replace("pending", "failed");
      append("error", change.message);
      return offerRetry();
  }
}

/** The session gave up: a button to try again (the page keeps the name; a reload would too). */
function offerRetry(): void {
  const button = document.createElement("button");
  button.type = "button";
  button.className = "retry";
  button.textContent = "Reconnect";
  button.addEventListener("click", async () => {
    button.disabled = true;
    setStatus("reconnecting", "Reconnecting…");
    await join(session?.where.me?.name ?? undefined);
    if (online) {
      button.closest("li")?.remove();
      messageInput.disabled = false;
      messageInput.focus();
    } else button.disabled = false;
  });
  const item = document.createElement("li");
  item.className = "info";
  item.append(button);
  add(item);
}

/** A message typed while offline, shown until its echo arrives (see show()). */
function appendPending(text: string): void {
  const item = document.createElement("li");
  item.className = "said message own pending";
  item.dataset.text = text;
  item.textContent = text;
  add(item);
}

/** Our own message came back: the waiting copy of it goes. */
function settlePending(text: string): void {
  const waiting = [...log.querySelectorAll<HTMLLIElement>("li.pending")];
  (
    waiting.find((item) => item.dataset.text === text) ??
    waiting.find((item) => item.dataset.text?.trim() === text.trim())
  )?.remove();
}

let online = false;

function setStatus(state: "online" | "reconnecting" | "offline", text: string): void {
  online = state === "online";
  // Offline, the field stays usable, and says what becomes of what is typed.
  messageInput.placeholder = narrow.matches
    ? online
      ? "Message"
      : "Offline: messages wait"
    : online
      ? "Message · Shift+Enter for a new line · /help lists the commands"
      : "Offline: what you type waits, and goes out on reconnecting";
  status.className = `status ${state}`;
  status.textContent = text;
}

// 3. Typing: Enter sends, Shift+Enter starts a new line of the same message (a pasted block stays
//    one message too); slash commands as in the terminal client. Focus stays in the field, which
//    grows with its lines up to a point.
messageInput.addEventListener("keydown", (event) => {
  if (event.key !== "Enter" || event.shiftKey || event.isComposing) return;
  event.preventDefault();
  composer.requestSubmit();
});
messageInput.addEventListener("input", fitMessageInput);
function fitMessageInput(): void {
  messageInput.style.height = "auto";
  messageInput.style.height = `${messageInput.scrollHeight + 2}px`;
}

composer.addEventListener("submit", (event) => {
  event.preventDefault();
  const line = messageInput.value;
  if (line.trim() === "" || !session) return;
  messageInput.value = "";
  fitMessageInput();
  messageInput.focus();
  try {
    const command = parseTyped(line);
    if (command.type === "quit") {
      void session.close();
      messageInput.disabled = true;
      setStatus("offline", "Left");
      return append("info", "You left the chat. Reload the page to come back.");
    }
    session.send(command);
    // Offline, what is typed waits in the session's outbox: it shows at once, marked as waiting,
    // until its echo comes back.
    if (!online && (command.type === "say" || command.type === "me")) appendPending(command.text);
  } catch (error) {
    if (!(error instanceof CommandError)) throw error;
    append("error", error.message);
  }
});

// Near the length limit, the field says how much is left (in UTF-8 bytes, as the server counts).
let maxMessage = Infinity;
messageInput.addEventListener("input", () => {
  const left = maxMessage - new TextEncoder().encode(messageInput.value).length;
  lengthLeft.hidden = left > Math.min(200, maxMessage / 10);
  lengthLeft.textContent = left >= 0 ? `${left} left` : `${-left} too long`;
  lengthLeft.classList.toggle("over", left < 0);
});

// Messages that came while the tab was hidden are counted in its title until it is shown again.
let unread = 0;
function showUnread(count: number): void {
  unread = count;
  document.title = `${count > 0 ? `(${count}) ` : ""}#${shownRoom} · Chat`;
}
document.addEventListener("visibilitychange", () => void (document.hidden || showUnread(0)));

// Desktop notifications of mentions are opt-in: the button asks the browser's permission once; the
// choice is remembered here. They come only while the tab is hidden.
const NOTIFY_KEY = "chat.notify";
let notifying =
  typeof Notification !== "undefined" &&
  Notification.permission === "granted" &&
  localStorage.getItem(NOTIFY_KEY) === "on";
notifyToggle.hidden = typeof Notification === "undefined";
notifyToggle.setAttribute("aria-pressed", String(notifying));
notifyToggle.addEventListener("click", async () => {
  const wanted = !notifying;
  notifying =
    wanted && (Notification.permission === "granted" || (await Notification.requestPermission()) === "granted");
  localStorage.setItem(NOTIFY_KEY, notifying ? "on" : "off");
  notifyToggle.setAttribute("aria-pressed", String(notifying));
  if (wanted && !notifying) append("info", "The browser did not allow notifications; its site settings can.");
});

function notifyMention(from: User, text: string): void {
  if (!notifying || !document.hidden) return;
  new Notification(`${describe(from)} mentioned you in #${shownRoom}`, {
    body: text.slice(0, 200),
    tag: "chat-mention",
  });
}

/** True if `text` names me (my name as a word, whatever its case). */
let mention: { name: string; pattern: RegExp } | undefined;
function mentions(text: string): boolean {
  const name = session?.where.me?.name;
  if (!name) return false;
  if (mention?.name !== name) {
    const escaped = name.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
    mention = { name, pattern: new RegExp(`(^|[^\\p{L}\\p{N}_])@?${escaped}($|[^\\p{L}\\p{N}_])`, "iu") };
  }
  return mention.pattern.test(text);
}

/**
 * Which of the twelve name colours (style.css) a person gets. Each prefers the one its name hashes
 * to, the same in every browser; on this page, a colour another name already has goes to the next
 * free one, so that the first twelve people all differ. Past twelve, colours repeat.
 */
const NAME_COLOURS = 12;
const colours = new Map<string, number>();
function colourOf(key: string): number {
  const known = colours.get(key);
  if (known !== undefined) return known;
  const taken = new Set(colours.values());
  const preferred = nameHash(key) % NAME_COLOURS;
  let colour = preferred;
  for (let step = 0; step < NAME_COLOURS && taken.has(colour); step++) colour = (preferred + step + 1) % NAME_COLOURS;
  colours.set(key, colour);
  return colour;
}

// On a phone the people and rooms are a drawer: the top bar's button opens and closes it, Escape
// closes it, and so does choosing a room. The field's hint is shorter where it would be cut off.
function openDrawer(open: boolean): void {
  chat.classList.toggle("drawer-open", open);
  drawerToggle.setAttribute("aria-expanded", String(open));
}
drawerToggle.addEventListener("click", () => openDrawer(!chat.classList.contains("drawer-open")));
document.addEventListener("keydown", (event) => void (event.key === "Escape" && openDrawer(false)));
const narrow = matchMedia("(max-width: 40rem)");

// 4. Events on the page.
function show(event: ChatEvent): void {
  switch (event.type) {
    case "welcome":
      announceLimit = event.limits.announceLimit ?? Infinity;
      maxMessage = event.limits.maxMessage;
      return;
    case "joined": {
      if (event.room !== shownRoom) {
        log.replaceChildren(); // a new room: its own conversation
        [oldestSeq, historyStart, askingOlder] = [Infinity, false, false];
      }
      shownRoom = event.room;
      roomTitle.textContent = event.room;
      showUnread(0);
      members.clear();
      for (const member of event.members) members.set(member.address, member);
      roomCount = event.count;
      renderMembers();
      if (event.missed) append("info", `${messagesWere(event.missed)} missed, too far back to replay.`);
      roomsAskedAt = Date.now();
      session?.send({ type: "rooms" });
      return;
    }
    case "message":
    case "action":
      if (!event.history && session?.where.isMe(event.from)) settlePending(event.text);
      if (!event.history && document.hidden && !session?.where.isMe(event.from)) showUnread(unread + 1);
      if (!event.history && !session?.where.isMe(event.from) && mentions(event.text))
        notifyMention(event.from, event.text);
      return add(saidItem(event));
    case "notice": {
      if (event.room === shownRoom && event.user) {
        if (event.event === "leave") {
          members.delete(event.user.address);
          roomCount--;
        } else {
          if (event.event === "join") roomCount++;
          members.set(event.user.address, event.user);
        }
        renderMembers();
        // This room's count is known here; the others' are asked for now and then, not at every
        // notice: each ask spends the user's own rate budget, and others' comings and goings
        // must not use it up.
        renderRooms(shownRooms.map((room) => (room.name === shownRoom ? { ...room, members: roomCount } : room)));
        refreshRoomsSoon();
        if (event.event === "leave" && cameAndWent(event.user, event.text)) return;
      }
      const item = append("notice", event.text, event.time);
      if (event.event === "join" && event.user) recentJoins.set(event.user.address, { item, at: Date.now() });
      return;
    }
    case "members":
      members.clear();
      for (const member of event.members) members.set(member.address, member);
      roomCount = members.size;
      renderMembers();
      return void append("info", `In ${event.room}: ${event.members.map(describe).join(", ")}`);
    case "rooms":
      return renderRooms(event.rooms);
    case "earlier":
      return event.room === shownRoom ? prependEarlier(event.messages, event.start) : undefined;
    case "help":
      return void append("info", ["Commands:", ...event.commands.map((c) => `${c.usage}  ${c.help}`)].join("\n"));
    case "error":
      return void append("error", event.message);
  }
}

// Scrolling to the top asks the server for what came before the oldest message shown, until the
// room's history starts; what comes is put above, the view staying where it was.
let oldestSeq = Infinity;
let historyStart = false;
let askingOlder = false;
conversation.addEventListener("scroll", () => {
  if (
    conversation.scrollTop > 40 ||
    askingOlder ||
    historyStart ||
    !Number.isFinite(oldestSeq) ||
    oldestSeq <= 1 ||
    !online
  )
    return;
  askingOlder = true;
  session?.send({ type: "older", before: String(oldestSeq) });
});

function prependEarlier(messages: SaidEvent[], start: boolean): void {
  askingOlder = false;
  historyStart = start || messages.length === 0;
  const first = log.querySelector("li.said");
  const shown = messages.filter((m) => m.seq < oldestSeq);
  const items: HTMLLIElement[] = shown.map(saidItem);
  if (historyStart) {
    const item = document.createElement("li");
    item.className = "info";
    item.textContent = `The start of #${shownRoom}'s history.`;
    items.unshift(item);
  }
  const height = conversation.scrollHeight;
  if (first) first.before(...items);
  else log.prepend(...items);
  conversation.scrollTop += conversation.scrollHeight - height;
}

/** Adds a line to the conversation, keeping the newest in view unless the reader scrolled up. */
function add(item: HTMLLIElement): void {
  const atBottom = conversation.scrollHeight - conversation.scrollTop - conversation.clientHeight < 40;
  log.append(item);
  if (atBottom) conversation.scrollTop = conversation.scrollHeight;
}

function timeElement(time: string | undefined): HTMLTimeElement {
  const at = time ? new Date(time) : new Date();
  const element = document.createElement("time");
  element.dateTime = at.toISOString();
  element.textContent = `${String(at.getHours()).padStart(2, "0")}:${String(at.getMinutes()).padStart(2, "0")}`;
  return element;
}

function append(kind: "notice" | "info" | "error", text: string, time?: string): HTMLLIElement {
  const item = document.createElement("li");
  item.className = kind;
  const body = document.createElement("span");
  body.className = "text";
  body.textContent = text;
  item.append(timeElement(time), body);
  add(item);
  return item;
}

/**
 * Someone who joined a moment ago and leaves again with nothing said since (a client that only
 * looked in, a reconnect that did not last) makes one line, not two: their join line becomes
 * "came and went". recentJoins is the page's record of the last few seconds' joins, by address.
 */
const CAME_AND_WENT_MS = 15_000;
const recentJoins = new Map<string, { item: HTMLLIElement; at: number }>();
function cameAndWent(user: User, leaveText: string): boolean {
  const joined = recentJoins.get(user.address);
  recentJoins.delete(user.address);
  for (const [address, { at }] of recentJoins) if (Date.now() - at > CAME_AND_WENT_MS) recentJoins.delete(address);
  if (!joined || Date.now() - joined.at > CAME_AND_WENT_MS || !joined.item.isConnected) return false;
  // Only if nothing was said since: the leave would otherwise be far from where it is read.
  for (let next = joined.item.nextElementSibling; next; next = next.nextElementSibling)
    if (!next.classList.contains("notice")) return false;
  const body = joined.item.querySelector(".text");
  if (body) body.textContent = leaveText.replace(/ left (\S+)$/, " came and went");
  return true;
}

/** A message or action as an item of the log (not yet placed). */
function saidItem({ type, from, text, time, seq, history }: SaidEvent): HTMLLIElement {
  const action = type === "action";
  const item = document.createElement("li");
  item.dataset.seq = String(seq);
  oldestSeq = Math.min(oldestSeq, seq);
  item.classList.add("said", action ? "action" : "message");
  if (history) item.classList.add("history");
  if (session?.where.isMe(from)) item.classList.add("own");
  else if (mentions(text)) item.classList.add("mention");
  const who = document.createElement("span");
  who.className = "who";
  who.textContent = from.name ?? from.address;
  who.classList.add(`name-${colourOf(from.name?.toLowerCase() ?? from.address)}`);
  const parts: Node[] = [timeElement(time)];
  if (action) parts.push(document.createTextNode("* "));
  parts.push(who);
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
  item.append(...parts);
  return item;
}

function renderMembers(): void {
  // A room bigger than the server's announce limit hears no joins and leaves: say the list is as
  // it was on entering (or at the last /who) rather than pass it off as live.
  const count = Math.max(roomCount, members.size);
  membersTitle.textContent =
    count > announceLimit || count > members.size ? `${count} here when you looked (/who to refresh)` : "Here now";
  membersList.replaceChildren(
    ...[...members.values()].map((member) => {
      const item = document.createElement("li");
      item.textContent = session?.where.isMe(member) ? `${describe(member)} · you` : describe(member);
      return item;
    }),
  );
}

/** How often at most the list of rooms is asked for while people come and go. */
const ROOMS_REFRESH_MS = 30_000;
let roomsAskedAt = 0;
let roomsRefresh: ReturnType<typeof setTimeout> | undefined;
let shownRooms: { name: string; members: number }[] = [];

function refreshRoomsSoon(): void {
  if (roomsRefresh) return;
  roomsRefresh = setTimeout(
    () => {
      roomsRefresh = undefined;
      roomsAskedAt = Date.now();
      session?.send({ type: "rooms" });
    },
    Math.max(0, roomsAskedAt + ROOMS_REFRESH_MS - Date.now()),
  );
}

function renderRooms(rooms: { name: string; members: number }[]): void {
  shownRooms = rooms;
  roomsList.replaceChildren(
    ...rooms.map(({ name, members: count }) => {
      const item = document.createElement("li");
      const button = document.createElement("button");
      button.type = "button";
      button.textContent = `#${name} (${count})`;
      button.setAttribute("aria-current", String(name === shownRoom));
      button.addEventListener("click", () => {
        if (name !== shownRoom) session?.send({ type: "join", room: name });
        openDrawer(false);
        messageInput.focus();
      });
      item.append(button);
      return item;
    }),
  );
}
