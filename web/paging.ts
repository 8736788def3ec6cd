/**
 * Paging back through a room's history: scrolling to the top of the conversation asks the server
 * for what came before the oldest message shown, until the room's history starts; what comes is
 * put above, the view staying where it was.
 */
import type { EarlierEvent, SaidEvent } from "../common/events";
import type { PageState } from "./state";

const conversation = document.querySelector<HTMLElement>(".conversation")!;
const log = document.getElementById("log") as HTMLOListElement;

/** The lowest number of a message in the conversation; Infinity when it shows none. */
function oldestShown(): number {
  let oldest = Infinity;
  for (const item of log.querySelectorAll<HTMLLIElement>("li[data-seq]"))
    oldest = Math.min(oldest, Number(item.dataset.seq));
  return oldest;
}

export class HistoryPaging {
  /** An ask for older messages is on its way. */
  #asking = false;
  /** The room's history starts in the conversation: there is nothing older to ask for. */
  #atStart = false;

  /** Paging for the page whose state is `state`; `itemOf` makes a message a line of the log. */
  constructor(
    private readonly state: PageState,
    private readonly itemOf: (message: SaidEvent) => HTMLLIElement,
  ) {
    conversation.addEventListener("scroll", () => this.#scrolled());
  }

  /** Another room is on show: its history is paged from the start. */
  restart(): void {
    this.#asking = false;
    this.#atStart = false;
  }

  /** Near the top, the server is asked for the messages before the oldest shown (if online). */
  #scrolled(): void {
    if (conversation.scrollTop > 40 || this.#asking || this.#atStart) return;
    const oldest = oldestShown();
    if (!Number.isFinite(oldest) || oldest <= 1) return;
    const { online, session, privateWith } = this.state;
    // A private conversation on show has no history to page through.
    if (!online || !session || privateWith !== undefined) return;
    session.send({ type: "older", before: String(oldest) });
    this.#asking = true;
  }

  /** The server's answer to an ask for older messages: put above what is shown. */
  earlier({ room, messages, start }: EarlierEvent): void {
    if (room !== this.state.room) return;
    this.#asking = false;
    this.#atStart = start || messages.length === 0;
    const oldest = oldestShown();
    const items = messages.filter((m) => m.seq < oldest).map(this.itemOf);
    if (this.#atStart) {
      const item = document.createElement("li");
      item.className = "info";
      item.textContent = `The start of #${room}'s history.`;
      items.unshift(item);
    }
    const first = log.querySelector("li.said");
    const height = conversation.scrollHeight;
    if (first) first.before(...items);
    else log.prepend(...items);
    conversation.scrollTop += conversation.scrollHeight - height;
  }
}
