/**
 * Private conversations on the page: the side panel lists them, one per person written to or
 * heard from, each with how many of its messages are unread; clicking one shows it in place of the
 * room's conversation, and what is typed there goes to that person (`/msg` is still typed as
 * anywhere). Messages from someone ignored are dropped by the session; their room messages are
 * hidden by render.ts. The conversations last as long as the page: the server keeps no history of
 * private messages.
 */
import type { InboxEvent, PrivateEvent } from "../common/events";
import { nameSkeleton } from "../common/lookalikes";
import type { Attention } from "./attention";
import { add, colourOf, showList, timeElement } from "./log";
import type { PageState } from "./state";

const section = document.getElementById("private-section") as HTMLElement;
const list = document.getElementById("conversations") as HTMLUListElement;
const privateLog = document.getElementById("private-log") as HTMLOListElement;
const roomLog = document.getElementById("log") as HTMLOListElement;
const head = document.getElementById("private-head") as HTMLDivElement;
const withWhom = document.getElementById("private-with") as HTMLSpanElement;
const backButton = document.getElementById("private-back") as HTMLButtonElement;
const drawerToggle = document.getElementById("drawer-toggle") as HTMLButtonElement;
const messageInput = document.getElementById("message") as HTMLTextAreaElement;

/** Messages kept per conversation on the page, at most: the newest. */
const KEPT = 500;

interface Conversation {
  /** The other person's name, as last seen. */
  name: string;
  messages: PrivateEvent[];
  unread: number;
}

export class PrivateConversations {
  /** By the skeleton of the other person's name, most recent first. */
  readonly #conversations = new Map<string, Conversation>();

  constructor(
    private readonly state: PageState,
    private readonly attention: Attention,
    /** Closes the drawer on a phone, once a conversation is chosen. */
    private readonly closeDrawer: () => void,
  ) {
    backButton.addEventListener("click", () => this.close());
  }

  /** A private message, ours or to us: into its conversation, shown there or counted unread. */
  came(event: PrivateEvent): void {
    const ours = this.#ours(event);
    const conversation = this.#conversation(ours ? (event.to.name ?? "") : (event.from.name ?? ""));
    conversation.messages.push(event);
    if (conversation.messages.length > KEPT) conversation.messages.shift();
    if (this.#isOpen(conversation)) add(this.#item(event, ours), privateLog);
    if (!ours) {
      this.attention.cameIn();
      if (!this.#isOpen(conversation)) conversation.unread++;
    }
    this.#showList();
  }

  /** What was kept for us while we were away: each to its conversation, unread. */
  inbox(event: InboxEvent): void {
    for (const message of event.messages) this.came(message);
  }

  /** Shows the conversation with `name` in place of the room's, its unread read. */
  open(name: string): void {
    const conversation = this.#conversation(name);
    conversation.unread = 0;
    this.state.privateWith = conversation.name;
    withWhom.textContent = conversation.name;
    backButton.textContent = `Back to #${this.state.room}`;
    privateLog.replaceChildren(...conversation.messages.map((m) => this.#item(m, this.#ours(m))));
    roomLog.hidden = true;
    privateLog.hidden = head.hidden = false;
    showList(privateLog);
    privateLog.lastElementChild?.scrollIntoView({ block: "end" });
    this.#showList();
  }

  /** Back to the room's conversation. */
  close(): void {
    this.state.privateWith = undefined;
    roomLog.hidden = false;
    privateLog.hidden = head.hidden = true;
    showList();
    roomLog.lastElementChild?.scrollIntoView({ block: "end" });
    this.#showList();
  }

  #isOpen(conversation: Conversation): boolean {
    const open = this.state.privateWith;
    return open !== undefined && nameSkeleton(open) === nameSkeleton(conversation.name);
  }

  /** Ours: sent from this page, or from another device of ours (the same name). */
  #ours(event: PrivateEvent): boolean {
    const mine = this.state.myName;
    return (
      this.state.isMe(event.from) ||
      (!!mine && !!event.from.name && nameSkeleton(event.from.name) === nameSkeleton(mine))
    );
  }

  /** The conversation with `name`, made if new, and moved to the top of the list. */
  #conversation(name: string): Conversation {
    const key = nameSkeleton(name);
    const conversation = this.#conversations.get(key) ?? { name, messages: [], unread: 0 };
    conversation.name = name;
    this.#conversations.delete(key);
    this.#conversations.set(key, conversation);
    return conversation;
  }

  #showList(): void {
    const conversations = [...this.#conversations.values()].reverse();
    section.hidden = conversations.length === 0;
    list.replaceChildren(
      ...conversations.map((conversation) => {
        const button = document.createElement("button");
        button.type = "button";
        button.textContent = conversation.name;
        button.setAttribute("aria-current", String(this.#isOpen(conversation)));
        if (conversation.unread > 0) {
          const unread = document.createElement("span");
          unread.className = "unread";
          unread.textContent = String(conversation.unread);
          unread.setAttribute("aria-label", `${conversation.unread} unread`);
          button.append(" ", unread);
        }
        button.addEventListener("click", () => {
          this.open(conversation.name);
          this.closeDrawer();
          messageInput.focus();
        });
        const item = document.createElement("li");
        item.append(button);
        return item;
      }),
    );
    const unread = conversations.reduce((sum, c) => sum + c.unread, 0);
    if (unread > 0) drawerToggle.dataset.unread = String(unread);
    else delete drawerToggle.dataset.unread;
  }

  /** A private message as a line of its conversation: `alice → you: hi`, or `you → bob: hi`. */
  #item(event: PrivateEvent, ours: boolean): HTMLLIElement {
    const item = document.createElement("li");
    item.className = "said message private";
    if (ours) item.classList.add("own");
    const who = document.createElement("span");
    who.className = "who";
    const other = ours ? event.to.name : event.from.name;
    who.textContent = ours ? "you" : (other ?? event.from.address);
    if (!ours) who.classList.add(`name-${colourOf(other?.toLowerCase() ?? event.from.address)}`);
    const arrow = document.createElement("span");
    arrow.className = "arrow";
    arrow.textContent = ours ? ` → ${other}` : " → you";
    const body = document.createElement("span");
    body.className = "text";
    body.textContent = `: ${event.text}`;
    item.append(timeElement(event.time), who, arrow, body);
    if (event.kept) item.classList.add("kept");
    return item;
  }
}
