/**
 * What the page knows of the chat, in one object: app.ts makes it once and gives it to each part
 * that reads or changes it (the connection, typing, the panel, paging, notifications, the view).
 * What only one part keeps track of (the panel's pacing of its asks, a page of history on its
 * way, the unread count) stays in that part's own object.
 */
import type { ChatSession } from "../client/session/session";
import type { NoticeEvent, RoomsEvent, User } from "../common/events";

export type RoomCount = RoomsEvent["rooms"][number];

export class PageState {
  /** The connection: none before joining, nor when the server could not be reached. */
  session: ChatSession | undefined = undefined;
  /** Connected now; offline, what is typed waits in the session's outbox. */
  online = false;
  /** The room on show: when a `joined` names another, the conversation starts afresh. */
  room = "";
  /** The people in the room on show, by address, as last told. */
  readonly members = new Map<string, User>();
  /** How many people the room had when last told (a big room's `joined` lists only the first of them). */
  roomCount = 0;
  /** Rooms bigger than this hear no joins and leaves (from the server's welcome). */
  announceLimit = Infinity;
  /** The rooms with people in them, as last told, and how many. */
  rooms: RoomCount[] = [];
  /** The person whose private conversation is on show instead of the room's, if any (private.ts). */
  privateWith: string | undefined = undefined;
  /** The registered account this connection is logged in to (from `account` events); null: a guest. */
  account: string | null = null;
  /** The server keeps accounts in memory only: this one lasts until it stops. */
  temporaryAccount = false;
  /** The server is for registered accounts only (--guests no): a guest there does nothing but log in. */
  accountsOnly = false;

  /** True if `user` is us. */
  isMe(user: User): boolean {
    return this.session?.where.isMe(user) ?? false;
  }

  /** Our name, if we have one. */
  get myName(): string | undefined {
    return this.session?.where.me?.name ?? undefined;
  }

  /** The people in the room, as a `joined` (the first of them, and how many) or a `members` lists them. */
  setMembers(members: User[], count?: number): void {
    this.members.clear();
    for (const member of members) this.members.set(member.address, member);
    this.roomCount = count ?? this.members.size;
  }

  /** We logged in to our name (or out of it): our line in the list of people shows it. */
  markMine(registered: boolean): void {
    for (const [address, member] of this.members) {
      if (!this.isMe(member)) continue;
      const { registered: _was, ...rest } = member;
      this.members.set(address, registered && member.name !== null ? { ...rest, registered: true } : rest);
    }
  }

  /** Someone in the room on show joined, left, or changed their name. */
  memberChanged(user: User, event: NoticeEvent["event"]): void {
    if (event === "leave") {
      this.members.delete(user.address);
      this.roomCount--;
      return;
    }
    if (event === "join") this.roomCount++;
    this.members.set(user.address, user);
  }
}
