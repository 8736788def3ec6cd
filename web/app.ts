/**
 * The chat in a browser, served by the chat server at `/`. It speaks the same JSON protocol as the
 * terminal client, over the same endpoint, through the same ChatSession (client/session/session.ts), so it
 * reconnects and resumes the same way. Everything people wrote goes on the page as text
 * (textContent), never as HTML; the page's Content-Security-Policy forbids inline script besides.
 */
import { ChatSession, ConnectError, NameRefusedError, type Status } from "../client/session/session";
import { type Command, CommandError, parseTyped } from "../common/commands";
import type { ChatEvent, SaidEvent, User } from "../common/events";
import { describeUser as describe, messagesWere, nameProblem, normalizeName } from "../common/text";
import { cameIn, mentions, notifyMention, titleRoom } from "./attention";
import { refused, setField, setMaxMessage, toldAlready, tooLong } from "./field";
import {
  add,
  append,
  appendPending,
  cameAndWent,
  clearLog,
  failPending,
  noteJoin,
  onScrolledUp,
  prependEarlier,
  saidItem,
  settlePending,
} from "./log";
import { FittingPlaceholder } from "./placeholder";

const element = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;
const welcome = element<HTMLFormElement>("welcome");
const nameInput = element<HTMLInputElement>("name");
const nameProblemLine = element<HTMLParagraphElement>("name-problem");
const tokenField = element<HTMLDivElement>("token-field");
const tokenInput = element<HTMLInputElement>("token");
const chat = element<HTMLDivElement>("chat");
const roomTitle = element<HTMLSpanElement>("room");
const status = element<HTMLParagraphElement>("status");
const membersList = element<HTMLUListElement>("members");
const membersTitle = element<HTMLHeadingElement>("members-title");
const roomsList = element<HTMLUListElement>("rooms");
const drawerToggle = element<HTMLButtonElement>("drawer-toggle");
const composer = element<HTMLFormElement>("composer");
const messageInput = element<HTMLTextAreaElement>("message");

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
  const problem = await formProblem(name);
  nameProblemLine.textContent = problem?.text ?? "";
  if (problem) return problem.field.focus();
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

/** What keeps the form from joining, and the field to put right; undefined if nothing does. */
async function formProblem(name: string): Promise<{ text: string; field: HTMLInputElement } | undefined> {
  const wrongName = name === "" ? undefined : nameProblem(name); // none: going by the address
  if (wrongName) return { text: wrongName, field: nameInput };
  const wrongToken = await tokenProblem();
  return wrongToken === undefined ? undefined : { text: wrongToken, field: tokenInput };
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
      failPending(change.count);
      return void append("error", `${messagesWere(change.count)} not sent: ${change.why}.`);
    case "ended":
      setStatus("offline", "Disconnected");
      messageInput.disabled = true;
      failPending();
      append("error", change.message);
      return offerRetry();
    case "refused":
      return refused(change);
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

let online = false;

/**
 * The field's hint, as long as its width allows (placeholder.ts). Offline, the field stays usable,
 * and says what becomes of what is typed.
 */
const hint = new FittingPlaceholder(messageInput);
const HINTS = {
  online: [
    "Message · Shift+Enter for a new line · /help lists the commands",
    "Message · /help lists the commands",
    "Message",
  ],
  offline: [
    "Offline: what you type waits, and goes out on reconnecting",
    "Offline: what you type waits",
    "Offline: messages wait",
    "Offline",
  ],
};

function setStatus(state: "online" | "reconnecting" | "offline", text: string): void {
  online = state === "online";
  hint.wordings = online ? HINTS.online : HINTS.offline;
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

composer.addEventListener("submit", (event) => {
  event.preventDefault();
  const line = messageInput.value;
  if (line.trim() === "" || !session) return;
  messageInput.focus();
  const command = parseLine(line);
  if (!command) return;
  const isMessage = command.type === "say" || command.type === "me";
  if (isMessage && tooLong(command.text)) return; // it stays in the field, to be shortened
  setField("");
  if (command.type === "quit") {
    void session.close();
    messageInput.disabled = true;
    setStatus("offline", "Left");
    return void append("info", "You left the chat. Reload the page to come back.");
  }
  const id = session.send(command);
  if (command.type === "rooms") roomsTyped++;
  // Offline, what is typed waits in the session's outbox: it shows at once, marked as waiting,
  // until its echo comes back.
  if (!online && isMessage && id !== undefined) appendPending(command.text, id);
});

/** The command typed, or undefined after saying what is wrong with it (the field is emptied). */
function parseLine(line: string): Command | undefined {
  try {
    return parseTyped(line);
  } catch (error) {
    if (!(error instanceof CommandError)) throw error;
    setField("");
    append("error", error.message);
    return undefined;
  }
}

// On a phone the people and rooms are a drawer: the top bar's button opens and closes it, Escape
// closes it, and so does choosing a room.
function openDrawer(open: boolean): void {
  chat.classList.toggle("drawer-open", open);
  drawerToggle.setAttribute("aria-expanded", String(open));
}
drawerToggle.addEventListener("click", () => openDrawer(!chat.classList.contains("drawer-open")));
document.addEventListener("keydown", (event) => void (event.key === "Escape" && openDrawer(false)));

// 4. Events on the page.
function show(event: ChatEvent): void {
  switch (event.type) {
    case "welcome":
      announceLimit = event.limits.announceLimit ?? Infinity;
      setMaxMessage(event.limits.maxMessage);
      return;
    case "joined": {
      if (event.room !== shownRoom) clearLog(); // a new room: its own conversation
      shownRoom = event.room;
      roomTitle.textContent = event.room;
      titleRoom(event.room);
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
      if (!event.history && session?.where.isMe(event.from)) settlePending(event.id, event.text);
      else if (!event.history) {
        cameIn();
        if (mentions(event.text, session?.where.me?.name)) notifyMention(event.from, event.text);
      }
      return add(said(event));
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
        if (event.event === "leave" && cameAndWent(event.user)) return;
      }
      const item = append("notice", event.text, event.time);
      if (event.event === "join" && event.user) noteJoin(event.user, item);
      return;
    }
    case "members":
      members.clear();
      for (const member of event.members) members.set(member.address, member);
      roomCount = members.size;
      renderMembers();
      return void append("info", `In ${event.room}: ${event.members.map(describe).join(", ")}`);
    case "rooms":
      renderRooms(event.rooms);
      if (roomsTyped === 0) return; // the page's own ask, for the side panel
      roomsTyped--;
      return void append("info", `Rooms: ${event.rooms.map((r) => `#${r.name} (${r.members})`).join(", ")}`);
    case "earlier":
      return event.room === shownRoom ? prependEarlier(event.messages, event.start, shownRoom, said) : undefined;
    case "help":
      return void append("info", ["Commands:", ...event.commands.map((c) => `${c.usage}  ${c.help}`)].join("\n"));
    case "error":
      if (toldAlready(event.id)) return; // the refused status said it, and which message
      return void append("error", event.message);
  }
}

/** A message or action as a line of the log: ours and those that mention us stand out. */
function said(event: SaidEvent): HTMLLIElement {
  const own = session?.where.isMe(event.from) ?? false;
  return saidItem(event, { own, mention: !own && mentions(event.text, session?.where.me?.name) });
}

// Scrolling to the top asks for what came before the oldest message shown (log.ts).
onScrolledUp((before) => {
  if (!online || !session) return false;
  session.send({ type: "older", before: String(before) });
  return true;
});

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

/**
 * How many /rooms the user typed that are not answered yet: those answers show in the
 * conversation too, since the side panel is hidden on a phone. The page's own asks keep the panel
 * current, and say nothing there.
 */
let roomsTyped = 0;
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
