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
  /** How many connections hold each name (by its skeleton), for a private message to find its person. */
  readonly #names = new Map<string, number>();

  enter(instance: string, room: string, user: User): void {
    let people = this.#rooms.get(room);
    if (!people) this.#rooms.set(room, (people = new Map()));
    this.#unname(people.get(user.address));
    people.set(user.address, { instance, user });
    if (user.name) {
      const key = nameSkeleton(user.name);
      this.#names.set(key, (this.#names.get(key) ?? 0) + 1);
    }
  }

  leave(room: string, address: string): void {
    const people = this.#rooms.get(room);
    this.#unname(people?.get(address));
    people?.delete(address);
    if (people?.size === 0) this.#rooms.delete(room);
  }

  /** True if someone here holds `name`, or a look-alike. */
  named(name: string): boolean {
    return this.#names.has(nameSkeleton(name));
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
    const count = (this.#names.get(key) ?? 0) - 1;
    if (count > 0) this.#names.set(key, count);
    else this.#names.delete(key);
  }
}

function* usersOf(people: Map<string, Someone> | undefined): Generator<User> {
  for (const { user } of people?.values() ?? []) yield user;
}
