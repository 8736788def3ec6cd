/**
 * The people of the other instances, by room, as this instance knows them: loaded from Redis on
 * each (re)connection and kept up to date by the presence envelopes every instance publishes, so
 * that counting a room or listing it never waits for Redis.
 */
import type { User } from "../../common/events";
import { nameSkeleton } from "../../common/lookalikes";

interface Someone {
  instance: string;
  user: User;
}

export class Presence {
  /** Room → address → who, and on which instance. */
  readonly #rooms = new Map<string, Map<string, Someone>>();
  /** Who holds each name (by its skeleton), by address: for a private message to find its person. */
  readonly #names = new Map<string, Map<string, User>>();

  enter(instance: string, room: string, user: User): void {
    let people = this.#rooms.get(room);
    if (!people) this.#rooms.set(room, (people = new Map()));
    this.#unname(people.get(user.address));
    people.set(user.address, { instance, user });
    if (user.name) {
      const key = nameSkeleton(user.name);
      let holders = this.#names.get(key);
      if (!holders) this.#names.set(key, (holders = new Map()));
      holders.set(user.address, user);
    }
  }

  leave(room: string, address: string): void {
    const people = this.#rooms.get(room);
    this.#unname(people?.get(address));
    people?.delete(address);
    if (people?.size === 0) this.#rooms.delete(room);
  }

  /** Someone here who holds `name`, or a look-alike, if anyone does. */
  named(name: string): User | undefined {
    return this.#names.get(nameSkeleton(name))?.values().next().value;
  }

  /** How many people `room` has, and who, read as far as wanted (joined lists only the first). */
  inRoom(room: string): { count: number; users: Iterable<User> } {
    const people = this.#rooms.get(room);
    return { count: people?.size ?? 0, users: usersOf(people) };
  }

  *rooms(): Generator<[room: string, count: number]> {
    for (const [room, people] of this.#rooms) yield [room, people.size];
  }

  /** The instances that have anyone here. */
  instances(): string[] {
    const seen = new Set<string>();
    for (const people of this.#rooms.values()) for (const { instance } of people.values()) seen.add(instance);
    return [...seen];
  }

  /** Forgets everyone of `instance`; returns who they were, and where. */
  dropInstance(instance: string): { room: string; user: User }[] {
    const dropped: { room: string; user: User }[] = [];
    for (const [room, people] of this.#rooms) {
      for (const [address, someone] of people) {
        if (someone.instance !== instance) continue;
        this.#unname(someone);
        people.delete(address);
        dropped.push({ room, user: someone.user });
      }
      if (people.size === 0) this.#rooms.delete(room);
    }
    return dropped;
  }

  clear(): void {
    this.#rooms.clear();
    this.#names.clear();
  }

  #unname(someone: Someone | undefined): void {
    if (!someone?.user.name) return;
    const key = nameSkeleton(someone.user.name);
    const holders = this.#names.get(key);
    holders?.delete(someone.user.address);
    if (holders?.size === 0) this.#names.delete(key);
  }
}

function* usersOf(people: Map<string, Someone> | undefined): Generator<User> {
  for (const { user } of people?.values() ?? []) yield user;
}
