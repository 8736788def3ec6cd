/**
 * The side panel: who is in the room, and the rooms with people in them (a button each, to go
 * there). On a phone it is a drawer that the top bar's button opens and closes; Escape closes it,
 * and so does choosing a room. The list of rooms is asked for on entering a room, and again now and
 * then while people come and go; a /rooms the user typed is answered in the conversation too.
 */
import type { User } from "../common/events";
import { personMarks } from "../common/text";
import { append } from "./log";
import { personMenu } from "./moderation";
import type { PageState, RoomCount } from "./state";

const chat = document.getElementById("chat") as HTMLDivElement;
const membersList = document.getElementById("members") as HTMLUListElement;
const membersTitle = document.getElementById("members-title") as HTMLHeadingElement;
const roomsList = document.getElementById("rooms") as HTMLUListElement;
const drawerToggle = document.getElementById("drawer-toggle") as HTMLButtonElement;
const messageInput = document.getElementById("message") as HTMLTextAreaElement;

/**
 * A person in the list: the name and address, a ✓ after a registered name (its owner is logged
 * in: nobody else can take it), and ×2 after one person on two connections.
 */
function personLabel(user: User): (string | HTMLElement)[] {
  const { registered, connections } = personMarks(user);
  const mark = (text: string, className: string, title: string) => {
    const span = document.createElement("span");
    span.className = className;
    span.textContent = text;
    span.title = title;
    return span;
  };
  const name = user.name ?? user.address;
  return [
    name,
    ...(registered ? [mark(registered, "registered", "a registered name: its owner is logged in")] : []),
    ...(user.name ? [` (${user.address})`] : []),
    ...(connections ? [mark(connections, "connections", `on ${connections.slice(1)} connections`)] : []),
  ];
}

/** A person in a line of text, marked as in the list. */
export function describeListed(user: User): string {
  const { registered, connections } = personMarks(user);
  const name = registered ? `${user.name} ${registered}` : (user.name ?? user.address);
  return [user.name ? `${name} (${user.address})` : name, connections].filter(Boolean).join(" ");
}

/** How often at most the list of rooms is asked for while people come and go. */
const ROOMS_REFRESH_MS = 30_000;

export class PeoplePanel {
  /**
   * How many /rooms the user typed that are not answered yet: those answers show in the
   * conversation too, since the side panel is hidden on a phone. The panel's own asks keep it
   * current, and say nothing there.
   */
  #roomsTyped = 0;
  /** When the panel last asked for the rooms, and the ask it has planned, if any. */
  #roomsAskedAt = 0;
  #roomsRefresh: ReturnType<typeof setTimeout> | undefined;

  constructor(private readonly state: PageState) {
    drawerToggle.addEventListener("click", () => this.openDrawer(!chat.classList.contains("drawer-open")));
    document.addEventListener("keydown", (event) => void (event.key === "Escape" && this.openDrawer(false)));
  }

  /** On a phone: opens or closes the drawer. */
  openDrawer(open: boolean): void {
    chat.classList.toggle("drawer-open", open);
    drawerToggle.setAttribute("aria-expanded", String(open));
  }

  /** The people in the room, as the page's state has them. */
  showMembers(): void {
    // A room bigger than the server's announce limit hears no joins and leaves: say the list is as
    // it was on entering (or at the last /who) rather than pass it off as live.
    const { members, roomCount, announceLimit } = this.state;
    const count = Math.max(roomCount, members.size);
    membersTitle.textContent =
      count > announceLimit || count > members.size ? `${count} here when you looked (/who to refresh)` : "Here now";
    membersList.replaceChildren(
      ...this.#people().map(({ member, me }) => {
        const item = document.createElement("li");
        item.append(...personLabel(member));
        if (me) item.append(" · you");
        // Moderation commands take a name: someone who goes by their address alone has no menu.
        if (!me && member.name) item.append(personMenu(member.name));
        return item;
      }),
    );
  }

  /**
   * The people in the room, one entry a person: connections logged in to one registered name are
   * one person, ×N, as the server lists them (it does; a login here after the list came would
   * otherwise show this connection apart from the same person's others).
   */
  #people(): { member: User; me: boolean }[] {
    const people = new Map<string, { member: User; me: boolean }>();
    for (const member of this.state.members.values()) {
      const me = this.state.isMe(member);
      const key = member.registered && member.name ? `registered ${member.name.toLowerCase()}` : member.address;
      const known = people.get(key);
      if (!known) {
        people.set(key, { member, me });
        continue;
      }
      const connections = (known.member.connections ?? 1) + (member.connections ?? 1);
      people.set(key, { member: { ...(me ? member : known.member), connections }, me: known.me || me });
    }
    return [...people.values()];
  }

  /** A room was entered: the list of rooms is asked for, its counts having changed. */
  askRooms(): void {
    this.#roomsAskedAt = Date.now();
    this.state.session?.send({ type: "rooms" });
  }

  /** The user typed /rooms: its answer shows in the conversation too. */
  roomsTyped(): void {
    this.#roomsTyped++;
  }

  /** The server's list of rooms: in the panel, and in the conversation if the user asked for it. */
  roomsCame(rooms: RoomCount[]): void {
    this.#showRooms(rooms);
    if (this.#roomsTyped === 0) return; // the panel's own ask
    this.#roomsTyped--;
    append("info", `Rooms: ${rooms.map((r) => `#${r.name} (${r.members})`).join(", ")}`);
  }

  /** Someone came into or left the room on show (or changed their name): both lists follow. */
  peopleChanged(): void {
    this.showMembers();
    // This room's count is known here; the others' are asked for now and then, not at every
    // notice: each ask spends the user's own rate budget, and others' comings and goings must not
    // use it up.
    const { room, roomCount } = this.state;
    this.#showRooms(this.state.rooms.map((shown) => (shown.name === room ? { ...shown, members: roomCount } : shown)));
    this.#refreshRoomsSoon();
  }

  #refreshRoomsSoon(): void {
    if (this.#roomsRefresh) return;
    this.#roomsRefresh = setTimeout(
      () => {
        this.#roomsRefresh = undefined;
        this.askRooms();
      },
      Math.max(0, this.#roomsAskedAt + ROOMS_REFRESH_MS - Date.now()),
    );
  }

  #showRooms(rooms: RoomCount[]): void {
    this.state.rooms = rooms;
    roomsList.replaceChildren(
      ...rooms.map(({ name, members }) => {
        const item = document.createElement("li");
        const button = document.createElement("button");
        button.type = "button";
        button.textContent = `#${name} (${members})`;
        button.setAttribute("aria-current", String(name === this.state.room));
        button.addEventListener("click", () => {
          if (name !== this.state.room) this.state.session?.send({ type: "join", room: name });
          this.openDrawer(false);
          messageInput.focus();
        });
        item.append(button);
        return item;
      }),
    );
  }
}
