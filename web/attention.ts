/**
 * What calls the reader back: messages that came while the tab was hidden are counted in its
 * title; a message naming the reader is a mention; and, if the reader turned them on, a mention
 * while the tab is hidden is a desktop notification.
 */
import type { User } from "../common/events";
import { describeUser } from "../common/text";
import { append } from "./log";
import type { PageState } from "./state";

const notifyToggle = document.getElementById("notify-toggle") as HTMLButtonElement;

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

export class Attention {
  /** Messages from others that came while the tab was hidden. */
  #unread = 0;
  /** The reader turned notifications on, and the browser allows them. */
  #notifying =
    typeof Notification !== "undefined" &&
    Notification.permission === "granted" &&
    localStorage.getItem(NOTIFY_KEY) === "on";

  /** For the page whose state is `state` (the room on show is its `room`). */
  constructor(private readonly state: PageState) {
    document.addEventListener("visibilitychange", () => void (document.hidden || this.#showUnread(0)));
    notifyToggle.hidden = typeof Notification === "undefined";
    notifyToggle.setAttribute("aria-pressed", String(this.#notifying));
    notifyToggle.addEventListener("click", () => void this.#toggleNotifying());
  }

  /** A room is on show: the title says which, with nothing unread. */
  roomShown(): void {
    this.#showUnread(0);
  }

  /** Someone else's message came: counted in the title while the tab is hidden. */
  cameIn(): void {
    if (document.hidden) this.#showUnread(this.#unread + 1);
  }

  /** Someone mentioned the reader: a notification, if they are on and the tab is hidden. */
  notifyMention(from: User, text: string): void {
    if (!this.#notifying || !document.hidden) return;
    new Notification(`${describeUser(from)} mentioned you in #${this.state.room}`, {
      body: text.slice(0, 200),
      tag: "chat-mention",
    });
  }

  #showUnread(count: number): void {
    this.#unread = count;
    document.title = `${count > 0 ? `(${count}) ` : ""}#${this.state.room} · Chat`;
  }

  async #toggleNotifying(): Promise<void> {
    const wanted = !this.#notifying;
    this.#notifying =
      wanted && (Notification.permission === "granted" || (await Notification.requestPermission()) === "granted");
    localStorage.setItem(NOTIFY_KEY, this.#notifying ? "on" : "off");
    notifyToggle.setAttribute("aria-pressed", String(this.#notifying));
    if (wanted && !this.#notifying) append("info", "The browser did not allow notifications; its site settings can.");
  }
}
