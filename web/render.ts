/**
 * Each event from the server on the page: what it changes in the page's state, and what it shows
 * in the conversation, the side panel, the title and the notifications.
 */
import type { ChatEvent, JoinedEvent, NoticeEvent, SaidEvent } from "../common/events";
import { roleWords, toText } from "../common/plain-text";
import { messagesWere, plural } from "../common/text";
import type { AccountPanel } from "./account";
import { type Attention, mentions } from "./attention";
import { setMaxMessage, toldAlready } from "./field";
import { add, append, cameAndWent, clearLog, noteJoin, saidItem, settlePending } from "./log";
import { removeMessage, showRole, showTopic } from "./moderation";
import type { HistoryPaging } from "./paging";
import { describeListed, type PeoplePanel } from "./people";
import type { PrivateConversations } from "./private";
import type { PageState } from "./state";

const roomTitle = document.getElementById("room") as HTMLSpanElement;

/**
 * A message or action as a line of the log: ours, and those that mention us, stand out; one from
 * someone we ignore is there but hidden.
 */
export function saidLine(state: PageState, event: SaidEvent): HTMLLIElement {
  const own = state.isMe(event.from);
  const item = saidItem(event, { own, mention: !own && mentions(event.text, state.myName) });
  item.hidden = state.session?.ignoring.hides(event.from) ?? false;
  return item;
}

export class EventView {
  constructor(
    private readonly state: PageState,
    private readonly panel: PeoplePanel,
    private readonly paging: HistoryPaging,
    private readonly attention: Attention,
    private readonly privates: PrivateConversations,
    private readonly account: AccountPanel,
  ) {}

  /** Each event the session hands on, in the order it came. */
  show(event: ChatEvent): void {
    switch (event.type) {
      case "welcome":
        this.state.announceLimit = event.limits.announceLimit ?? Infinity;
        return setMaxMessage(event.limits.maxMessage);
      case "joined":
        return this.#joined(event);
      case "message":
      case "action":
        return this.#said(event);
      case "notice":
        return this.#notice(event);
      case "members":
        this.state.setMembers(event.members);
        this.panel.showMembers();
        return void append("info", `In ${event.room}: ${event.members.map(describeListed).join(", ")}`);
      case "rooms":
        return this.panel.roomsCame(event.rooms);
      case "earlier":
        return this.paging.earlier(event);
      case "dm":
        return this.privates.came(event);
      case "inbox":
        append(
          "info",
          `${plural(event.messages.length, "private message")} came while you were away${event.dropped > 0 ? ` (${plural(event.dropped, "older one was", "older ones were")} let go of)` : ""}: see Private.`,
        );
        return this.privates.inbox(event);
      case "ignoring":
        return void append(
          "info",
          event.names.length === 0
            ? "You ignore nobody."
            : `You ignore ${event.names.join(", ")} (their private and room messages are hidden).`,
        );
      case "help":
        return void append("info", ["Commands:", ...event.commands.map((c) => `${c.usage}  ${c.help}`)].join("\n"));
      case "error":
        if (toldAlready(event.id)) return; // the refused status said it, and which message
        if (this.account.refused(event)) return; // said under the form that asked
        return void append("error", event.message);
      case "account":
        this.account.account(event);
        // Our own line in the list gets its ✓ (or loses it): no notice says so.
        this.state.markMine(event.name !== null);
        return this.panel.showMembers();
      case "role":
        // Said as the terminal says it: being made a moderator (or no longer) is news to the person.
        showRole(this.state.session?.where.role);
        return void append(
          "notice",
          event.role
            ? `You are ${roleWords(event.role, event.room)} now: /help lists what you may do.`
            : `You have no role in ${event.room} now.`,
        );
      case "topic":
        showTopic(this.state.session?.where.topic);
        return void append("notice", `${event.by} set the topic: ${event.text}`, event.time);
      case "deleted":
        return removeMessage(event);
      case "bans":
      case "modlog":
        return void append("info", toText(event).replace(/^\*\*\* /, ""));
    }
  }

  /** We are in a room (again, after a reconnect, or another one: its own conversation). */
  #joined(event: JoinedEvent): void {
    if (event.room !== this.state.room) {
      clearLog();
      this.paging.restart();
    }
    this.state.room = event.room;
    roomTitle.textContent = event.room;
    showTopic(event.topic);
    showRole(event.role);
    this.attention.roomShown();
    this.state.setMembers(event.members, event.count);
    this.panel.showMembers();
    if (event.missed) append("info", `${messagesWere(event.missed)} missed, too far back to replay.`);
    this.account.show();
    this.panel.askRooms();
  }

  /** A message or action: ours settles its waiting copy; another's may call the reader back. */
  #said(event: SaidEvent): void {
    if (this.state.session?.ignoring.hides(event.from)) return void add(saidLine(this.state, event));
    if (!event.history && this.state.isMe(event.from)) settlePending(event.id, event.text);
    else if (!event.history) {
      this.attention.cameIn();
      if (mentions(event.text, this.state.myName)) this.attention.notifyMention(event.from, event.text);
    }
    add(saidLine(this.state, event));
  }

  /** Someone came, went or changed their name: the panel follows, and the conversation says so. */
  #notice(event: NoticeEvent): void {
    if (event.room === this.state.room && event.user) {
      this.state.memberChanged(event.user, event.event);
      this.panel.peopleChanged();
      if (event.event === "rename" && this.state.isMe(event.user)) this.account.show();
      if (event.event === "leave" && cameAndWent(event.user)) return;
    }
    const item = append("notice", event.text, event.time);
    if (event.event === "join" && event.user) noteJoin(event.user, item);
  }
}
