/**
 * Who the server takes this client for, and which room it is in: kept in one place, from the
 * events as they arrive (the welcome, each `joined`, our own renames), and read by the session,
 * the terminal view and the page alike.
 */
import type { ChatEvent, User } from "../../common/events";
import type { Role } from "../../common/moderation-events";

export class Whereabouts {
  me: User | undefined;
  room: string | undefined;
  /** Our role in the room (a moderator sees message numbers, and the page a menu on people and messages). */
  role: Role | undefined;
  /** The room's topic, if it has one. */
  topic: string | undefined;
  /** Addresses we have had: after a reconnect, our earlier messages carry the earlier address. */
  readonly #ownAddresses = new Set<string>();

  observe(event: ChatEvent): void {
    switch (event.type) {
      case "welcome":
        this.me = event.you;
        this.#ownAddresses.add(event.you.address);
        return;
      case "joined":
        this.room = event.room;
        this.role = event.role;
        this.topic = event.topic;
        return;
      case "role":
        if (event.room === this.room) this.role = event.role ?? undefined;
        return;
      case "topic":
        if (event.room === this.room) this.topic = event.text;
        return;
      case "notice":
        if (event.event === "rename" && event.user && event.user.address === this.me?.address) this.me = event.user;
        return;
      // Logged in, we have the account's name; logged out, none (also outside every room, where no rename is told).
      case "account":
        if (!this.me) return;
        this.me =
          event.name === null
            ? { name: null, address: this.me.address }
            : { name: event.name, address: this.me.address, registered: true };
        return;
    }
  }

  /** True for us as we are now. */
  isMe(user: User): boolean {
    return user.address === this.me?.address;
  }

  /** True for us under any address we have had (our messages from before a reconnect). */
  wasMe(user: User): boolean {
    return this.#ownAddresses.has(user.address);
  }
}
