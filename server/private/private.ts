/**
 * Private messages: one person writes to another by name (`/msg bob hi`). The message reaches
 * every connection of that person, on every instance (through the directory: with Redis, an
 * envelope on the chat's channel), and every connection of the sender, so that a second device
 * shows what was sent; nobody else, and no room's history keeps it.
 *
 * - To a guest who is not connected: refused, `not-here`.
 * - To a registered person who is not connected: kept (inbox.ts) and given at their next login.
 * - To someone who ignores the sender (ignores.ts): it reaches only the sender's own connections.
 *   The sender is not told: their message looks delivered, as any other, so that ignoring someone
 *   does not tell them so (and cannot be probed for).
 *
 * `sendPrivate` is the one way in, for a connection's `/msg` and `/r` (commands.ts) and for the
 * HTTP API, whose sender is not a connection.
 */
import type { Clock } from "../../common/clock";
import { type Refusal, refusal } from "../../common/codes";
import type { ChatEvent, PrivateEvent, User } from "../../common/events";
import { nameSkeleton } from "../../common/lookalikes";
import { cleanText, describeUser, nameProblem, normalizeName } from "../../common/text";
import type { Accounts } from "../accounts/accounts";
import { accountKey } from "../accounts/store";
import type { Answer, Directory } from "../directory";
import type { Logger } from "../log";
import type { Member } from "../member";
import type { Names } from "../names";
import { isoNow } from "../notice";
import type { SharedState } from "../state/state";
import { Ignores } from "./ignores";
import { Inbox } from "./inbox";
import { RecipientBudgets } from "./recipients";

/** What private messages need of the chat (the Chat has it all). */
export interface PrivateChat {
  readonly names: Names;
  /** Who is logged in to which account here, and the accounts table. */
  readonly accounts: Pick<Accounts, "connectionsOf" | "store">;
  readonly directory: Directory;
  readonly state: SharedState;
  readonly log: Logger;
  readonly clock: Clock;
  send(member: Member, event: ChatEvent): void;
}

/** An id for a private message whose sender gave none. */
const messageId = () => crypto.randomUUID().replaceAll("-", "");

/**
 * Sends a private message from `from` to the person named `toName`: the event as it was sent, or
 * why it was refused; at once, or (kept for a registered person who is away) once the state has
 * it. `id` is the sender's, given back in the event.
 */
export function sendPrivate(
  chat: { readonly privates: PrivateMessages },
  from: User,
  toName: string,
  text: string,
  id?: string,
): Answer<Refusal | PrivateEvent> {
  return chat.privates.send(from, toName, text, id);
}

export class PrivateMessages {
  readonly ignores: Ignores;
  /** How many different people each address writes to (a connection's budget; the API keeps its own). */
  readonly recipients: RecipientBudgets;
  readonly #inbox: Inbox;
  /** Who last wrote to each connection privately: `/r` answers them (not a bot: it cannot be answered). */
  readonly #lastFrom = new WeakMap<Member, User>();

  constructor(private readonly chat: PrivateChat) {
    this.ignores = new Ignores(chat.state);
    this.recipients = new RecipientBudgets(chat.clock, chat.directory.leases);
    this.#inbox = new Inbox(chat.state);
    // A registered person's list changed (on another device, another instance): their connections here hear it.
    this.ignores.onChange((key, names) => {
      for (const member of this.chat.accounts.connectionsOf(key)) this.chat.send(member, { type: "ignoring", names });
    });
    // An account unregistered or deleted (here, elsewhere, or by the command line) takes its kept
    // messages and its ignore list with it. Every instance hears of it and tries: deleting twice is harmless.
    chat.state
      .table("accounts", (row) => row)
      .onChange((key, row) => {
        if (row !== undefined) return;
        void Promise.all([this.#inbox.forget(key), this.ignores.forget(key)]).catch((error) =>
          this.chat.log.line(`Could not forget the kept messages of a removed account: ${String(error)}`),
        );
      });
  }

  /** Who holds `name` now, here or on another instance, if anyone. */
  holderOf(name: string): User | undefined {
    return this.#connections(name)[0]?.user ?? this.chat.directory.namedElsewhere(name);
  }

  /**
   * Sends a private message (see sendPrivate). It is sent at once when its person is connected
   * anywhere; kept for a registered person who is not, once the state has it.
   */
  send(from: User, toName: string, typed: string, id = messageId()): Answer<Refusal | PrivateEvent> {
    if (!from.name)
      return refusal("name-invalid", "Choose a name first (/nick NAME): a private message is answered by name.");
    const text = cleanText(typed);
    if (text.trim() === "") return refusal("empty-message", "A message needs some text besides control characters.");
    const name = normalizeName(toName);
    const problem = nameProblem(name);
    if (problem) return refusal("name-invalid", problem);
    if (nameSkeleton(name) === nameSkeleton(from.name))
      return refusal("bad-command", "That is you: write to someone else.");
    // Connected here, or elsewhere: it goes at once.
    const here = this.holderOf(name);
    const event: PrivateEvent = { type: "dm", from, to: { name, address: "" }, text, time: isoNow(), id };
    if (here) {
      event.to = here;
      this.chat.directory.tell(event);
      this.chat.log.line(`Private message from ${describeUser(from)} to ${event.to.name}`);
      return event;
    }
    const account = this.chat.accounts.store.accounts.get(accountKey(name));
    if (!account) return refusal("not-here", `Nobody called ${name} is here (and it is not a registered name).`);
    return this.#keep(account.name, { ...event, to: { name: account.name, address: "" }, kept: true });
  }

  /** For a registered person who is not connected: kept for their next login, and the sender's devices shown it. */
  async #keep(account: string, event: PrivateEvent): Promise<Refusal | PrivateEvent> {
    // Ignored: it looks kept to the sender, as it would look delivered.
    if (!Ignores.has(this.ignores.kept(account), event.from.name!)) {
      try {
        await this.#inbox.keep(account, event);
      } catch (error) {
        const why = error instanceof Error ? error.message : String(error);
        return refusal(
          "unavailable",
          `${account} is not connected, and the message could not be kept for them: ${why}`,
        );
      }
    }
    this.chat.directory.tell(event);
    this.chat.log.line(`Private message from ${describeUser(event.from)} kept for ${account}`);
    return event;
  }

  /**
   * A private message from any instance: to this instance's connections of its recipient (unless
   * they ignore its sender, or it was kept for them) and of its sender.
   */
  deliver(event: PrivateEvent): void {
    const from = event.from.name;
    if (!from) return;
    if (!event.kept) {
      for (const member of this.#connections(event.to.name ?? "")) {
        if (Ignores.has(this.ignores.of(member), from)) continue;
        this.#lastFrom.set(member, event.from);
        this.chat.send(member, event);
      }
    }
    // A bot (the HTTP API) has no connections: whoever holds its name here is someone else.
    if (event.from.bot) return;
    for (const member of this.#connections(from)) this.chat.send(member, event);
  }

  /** Who last wrote to `member` privately, if anyone. */
  lastFrom(member: Member): User | undefined {
    return this.#lastFrom.get(member);
  }

  /**
   * `member` just logged in to its account: it is told whom it ignores, and given what was kept
   * for it while it was away (the accounts module calls this).
   */
  async loggedIn(member: Member): Promise<void> {
    const account = member.account;
    if (account === null) return;
    const names = this.ignores.kept(account);
    if (names.length > 0) this.chat.send(member, { type: "ignoring", names });
    let kept: Awaited<ReturnType<Inbox["take"]>>;
    try {
      kept = await this.#inbox.take(account);
    } catch (error) {
      const why = error instanceof Error ? error.message : String(error);
      return this.chat.log.line(`Could not give ${account} the private messages kept for them yet: ${why}`);
    }
    if (!kept) return;
    // Gone while the row was taken: kept again for the next login (the count of those let go of aside).
    if (!member.open) {
      for (const message of kept.messages) await this.#inbox.keep(account, message).catch(() => {});
      return;
    }
    const last = kept.messages.at(-1);
    if (last?.from.name) this.#lastFrom.set(member, last.from);
    this.chat.send(member, { type: "inbox", messages: kept.messages, dropped: kept.dropped });
  }

  /**
   * This instance's connections of the person named `name`: every one logged in to the account of
   * that name, or the guest who holds it.
   */
  #connections(name: string): Member[] {
    const loggedIn = [...this.chat.accounts.connectionsOf(accountKey(name))];
    return loggedIn.length > 0 ? loggedIn : this.chat.names.holdersOf(name);
  }
}
