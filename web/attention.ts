/**
 * What calls the reader back: messages that came while the tab was hidden are counted in its
 * title; a message naming the reader is a mention; and, if the reader turned them on, a mention
 * while the tab is hidden is a desktop notification.
 */
import type { User } from "../common/events";
import { describeUser } from "../common/text";
import { append } from "./log";

const notifyToggle = document.getElementById("notify-toggle") as HTMLButtonElement;

let room = "";
let unread = 0;

/** The room on show is `shown`: the title says so, with nothing unread. */
export function titleRoom(shown: string): void {
  room = shown;
  showUnread(0);
}

/** Someone else's message came: counted in the title while the tab is hidden. */
export function cameIn(): void {
  if (document.hidden) showUnread(unread + 1);
}

function showUnread(count: number): void {
  unread = count;
  document.title = `${count > 0 ? `(${count}) ` : ""}#${room} · Chat`;
}
document.addEventListener("visibilitychange", () => void (document.hidden || showUnread(0)));

/** True if `text` names `name` (as a word, whatever its case). */
let mention: { name: string; pattern: RegExp } | undefined;
export function mentions(text: string, name: string | null | undefined): boolean {
  if (!name) return false;
  if (mention?.name !== name) {
    const escaped = name.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
    mention = { name, pattern: new RegExp(`(^|[^\\p{L}\\p{N}_])@?${escaped}($|[^\\p{L}\\p{N}_])`, "iu") };
  }
  return mention.pattern.test(text);
}

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

export function notifyMention(from: User, text: string): void {
  if (!notifying || !document.hidden) return;
  new Notification(`${describeUser(from)} mentioned you in #${room}`, {
    body: text.slice(0, 200),
    tag: "chat-mention",
  });
}
