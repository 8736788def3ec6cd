/**
 * Who is in each room of this instance, in the order they came. The default room always exists;
 * any other room is forgotten when its last person leaves.
 */
import { DEFAULT_ROOM, type User } from "../common/events";
import type { RoomCount } from "./directory";
import type { Member } from "./member";

/**
 * The room of a member in none: a guest waiting to log in on a server without guests (accounts/).
 * No room can have this name, so it is never anyone's topic.
 */
export const OUTSIDE = "";

/** Each room is two pub/sub topics, one per format: `<room>` for plain text, `json:<room>` for JSON. */
export const topic = (room: string, json: boolean) => (json ? `json:${room}` : room);

export class Rooms {
  readonly #rooms = new Map<string, Set<Member>>([[DEFAULT_ROOM, new Set()]]);

  /** Puts `member` in `room` (it must have left its old one); returns who is there now. */
  add(member: Member, room: string): Set<Member> {
    let members = this.#rooms.get(room);
    if (!members) this.#rooms.set(room, (members = new Set()));
    members.add(member);
    return members;
  }

  /** Takes `member` out of its room. */
  remove(member: Member): void {
    const members = this.#rooms.get(member.room);
    members?.delete(member);
    if (member.room !== DEFAULT_ROOM && members?.size === 0) this.#rooms.delete(member.room);
  }

  /** Who is in `room`, in the order they came (none for a room nobody is in). */
  members(room: string): ReadonlySet<Member> {
    return this.#rooms.get(room) ?? new Set();
  }

  size(room: string): number {
    return this.#rooms.get(room)?.size ?? 0;
  }

  /** How many rooms there are, the default room included. */
  get count(): number {
    return this.#rooms.size;
  }

  names(): string[] {
    return [...this.#rooms.keys()];
  }

  /**
   * The rooms with people in them, here and (`elsewhere`) on other instances, with their counts:
   * the default room first, always, then by name; `limit` of them at most.
   */
  listed(elsewhere: Iterable<[name: string, count: number]>, limit: number): RoomCount[] {
    const counts = new Map<string, number>([[DEFAULT_ROOM, 0]]);
    for (const [name, members] of this.#rooms) if (members.size > 0) counts.set(name, members.size);
    for (const [name, count] of elsewhere) counts.set(name, (counts.get(name) ?? 0) + count);
    const list = [...counts].map(([name, members]) => ({ name, members }));
    list.sort((a, b) => (a.name === DEFAULT_ROOM ? -1 : b.name === DEFAULT_ROOM ? 1 : a.name.localeCompare(b.name)));
    return list.slice(0, limit);
  }

  /** Everyone, by room. */
  *everyone(): Generator<[room: string, member: Member]> {
    for (const [room, members] of this.#rooms) for (const member of members) yield [room, member];
  }

  /**
   * The first `limit` people of `room` but `except` (this instance's, then `elsewhere`), then
   * `except`: the order `joined` lists them. Stops at `limit`, however big the room.
   */
  firstOf(room: string, limit: number, except: Member, elsewhere: Iterable<User> = []): User[] {
    const others: User[] = [];
    for (const member of this.members(room)) {
      if (others.length === limit - 1) return [...others, except.user];
      if (member !== except) others.push(member.user);
    }
    for (const user of elsewhere) {
      if (others.length === limit - 1) break;
      others.push(user);
    }
    return [...others, except.user];
  }
}
