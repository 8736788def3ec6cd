/**
 * Whom this person ignores, as the server last said (`ignoring` events): the terminal and the page
 * hide these people's room messages (the server sends a room's messages once to everyone), and the
 * session drops a private message from them should one come. Names are compared as the server
 * compares them, whatever the case or look-alike letters.
 *
 * The server keeps a guest's list only as long as the connection: after a reconnection the
 * session sends it again, and the server's answers to that are not news for the user interface.
 */
import type { Command } from "../../common/commands";
import type { ChatEvent, User } from "../../common/events";
import { nameSkeleton } from "../../common/lookalikes";

export class IgnoreList {
  /** The names, as the server gave them. */
  names: readonly string[] = [];
  #skeletons = new Set<string>();
  /** Answers still to come to the list sent again after a reconnection. */
  #resent = 0;

  /** True if `user`'s messages are to be hidden. */
  hides(user: User): boolean {
    return user.name !== null && this.#skeletons.size > 0 && this.#skeletons.has(nameSkeleton(user.name));
  }

  /**
   * Follows the server's list; false for an event that is not news: an answer to the list sent
   * again, the last of which is the list (until then, the list here stands).
   */
  observe(event: ChatEvent): boolean {
    if (event.type !== "ignoring") return true;
    const resending = this.#resent > 0;
    if (resending && --this.#resent > 0) return false;
    this.names = event.names;
    this.#skeletons = new Set(event.names.map(nameSkeleton));
    return !resending;
  }

  /** After a reconnection: the commands that give the server the list again. */
  resend(): Command[] {
    const commands = this.names.map((name): Command => ({ type: "ignore", name }));
    this.#resent = commands.length;
    return commands;
  }
}
