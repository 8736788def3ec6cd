/**
 * The chat core: rooms, names, presence, commands and the per-connection limits, with no Bun and
 * no sockets. It hears of connections opening, sending and closing (from the transport, or a unit
 * test), talks to each member through its MemberSocket and to a room through the Hub's pub/sub,
 * and to other instances only through its Directory.
 *
 * The path of a message: receive() checks the rate and size and reads the command; a `say` goes
 * to the directory, which numbers it (History here, a Lua script in Redis with several instances)
 * and hands it back to deliverSaid() on every instance; that publishes it once per format to the
 * room's topics, so everyone in the room, the sender included, gets it.
 */
import { type Clock, REAL_CLOCK } from "../common/clock";
import { CLOSE_BANNED, CLOSE_KICKED, type Refusal } from "../common/codes";
import {
  type ChatEvent,
  DEFAULT_ROOM,
  JOINED_MEMBERS,
  type NoticeEvent,
  type PrivateEvent,
  type SaidEvent,
  type User,
} from "../common/events";
import { toText } from "../common/plain-text";
import { describeUser, escapeControls, normalizeName, plural } from "../common/text";
import { type AccountOptions, Accounts, OPEN_ACCOUNTS } from "./accounts/accounts";
import { onePerPerson } from "./accounts/people";
import { AddressBudgets } from "./budgets";
import type { Limits } from "./config";
import type { ChatContext } from "./context";
import type { ChatSink, Directory, MakeDirectory } from "./directory";
import { eventBytes } from "./event-bytes";
import { roomProblem } from "./handlers";
import { handleFrame } from "./intake";
import { type Logger, printable } from "./log";
import { type Hub, Member, type MemberSocket, type RoomListeners, type Upgrade } from "./member";
import type { Metrics } from "./metrics";
import { Moderation, type ModerationOptions } from "./moderation/moderation";
import { lostNameRefusal, Names } from "./names";
import { isoNow, notice } from "./notice";
import { PrivateMessages } from "./private/private";
import { SlowReaders } from "./readers";
import { OUTSIDE, type Rooms, topic } from "./rooms";
import { LocalState } from "./state/local";
import type { SharedState } from "./state/state";

/** The two formats of a room's topics: plain text (false) and JSON (true). */
const FORMATS = [false, true] as const;
/** Close codes after which a name is freed at once, not held for its holder's return. */
const LET_GO = new Set([1000, 1001, CLOSE_KICKED, CLOSE_BANNED]);
/** Frames a client may send before it has entered its first room (while its name is claimed). */
const HELD_FRAMES = 100;

export interface ChatParts {
  limits: Limits;
  /** The server's pub/sub (Bun's Server, through the transport's ServerHub), or a test's fake. */
  hub: Hub;
  /** What budgets and buckets read time from; a test's clock moves by hand. */
  clock?: Clock;
  /** Who is in which room here: given, so that history can tell a room someone is in. */
  rooms: Rooms;
  /** Makes the directory, given the chat to deliver to (directory.ts). */
  directory: MakeDirectory;
  log: Logger;
  metrics: Metrics;
  /** Where accounts, bans and the like are kept and shared (state/); memory only when not given. */
  state?: SharedState;
  /** The operators named on the command line (--ops), and the wall clock bans and mutes end by. */
  moderation?: ModerationOptions;
  /** --guests and --registration (accounts/); guests and registration allowed when not given. */
  accounts?: AccountOptions;
  /** The server's version, for the welcome. */
  version: string;
}

export class Chat implements ChatSink, ChatContext {
  readonly rooms: Rooms;
  /** What each client address may still spend, whatever number of connections it uses. */
  readonly budgets: AddressBudgets;
  readonly readers: SlowReaders;
  readonly hub: Hub;
  readonly clock: Clock;
  readonly names: Names;
  readonly limits: Limits;
  /** The world beyond this instance's connections: names, presence, numbering (directory.ts). */
  readonly directory: Directory;
  readonly state: SharedState;
  readonly accounts: Accounts;
  readonly privates: PrivateMessages;
  readonly log: Logger;
  readonly metrics: Metrics;
  readonly moderation: Moderation;
  readonly #version: string;
  /** Who listens to rooms besides the connections: the HTTP API's, once it is made (api/). */
  listeners: RoomListeners | undefined;
  /** Set once the server is shutting down (closeAll). */
  #closing = false;

  constructor(parts: ChatParts) {
    const { limits, hub, clock = REAL_CLOCK, rooms, directory, log, metrics, version, state, moderation } = parts;
    this.state = state ?? new LocalState(undefined);
    this.rooms = rooms;
    this.hub = hub;
    this.clock = clock;
    this.limits = limits;
    this.log = log;
    this.metrics = metrics;
    this.#version = version;
    this.directory = directory(this);
    this.names = new Names(this.directory, limits.nameGrace * 1000);
    this.accounts = new Accounts(this, parts.accounts ?? OPEN_ACCOUNTS);
    this.budgets = new AddressBudgets(limits, clock, this.directory.leases);
    this.readers = new SlowReaders(limits, metrics, log);
    // Their tables are asked for before the state starts, so that they are loaded with the rest.
    this.privates = new PrivateMessages(this);
    this.accounts.loggedIn = (member) => void this.privates.loggedIn(member);
    this.moderation = new Moderation(this, moderation);
  }

  /** What history takes in memory, for /metrics. */
  get historyUsage(): { bytes: number; rooms: number } {
    return this.directory.usage;
  }

  /** Starts the directory; with Redis, resolves once connected or once the first try failed. */
  async start(): Promise<void> {
    await Promise.all([this.directory.start(), this.state.start()]);
  }

  /** The member for a connection that just opened; open() lets it in. */
  newMember(socket: MemberSocket, upgrade: Upgrade): Member {
    return new Member(socket, upgrade, this.limits, this.budgets.of(upgrade.ip));
  }

  // --- A connection's life ----------------------------------------------------------------------

  /**
   * A member connected. The name and room it asked for are taken before it enters, so that the
   * room hears of "alice joined", not of an address joining and then being renamed. Claiming a
   * name may wait for Redis; what the member sends meanwhile is held, then handled.
   */
  open(member: Member): void {
    this.log.line(`New connection from ${member.address}`);
    // A session token presented logs in first: the account's own name is then the one claimed.
    const { name, said } = this.accounts.arrive(member);
    if (name === null) return this.#admit(member, undefined, said);
    member.held = [];
    this.names.claim(member, name, (refused) => this.#admit(member, refused, said));
  }

  #admit(member: Member, nameRefused: Refusal | undefined, said: ChatEvent[]): void {
    const { room, since } = member.asked;
    const roomRefused =
      room === null
        ? undefined
        : (roomProblem(this, normalizeName(room)) ?? this.moderation.mayEnter(member, normalizeName(room)));
    if (member.json) {
      const { rate, burst, maxMessage, announceLimit } = this.limits;
      const limits = { rate, burst, maxMessage, announceLimit };
      this.send(member, {
        type: "welcome",
        you: member.user,
        version: this.#version,
        limits,
        resume: member.resumeToken,
      });
    }
    for (const event of said) this.send(member, event);
    // Logged in with a session token on arriving: what was kept for it while it was away.
    if (member.account !== null) void this.privates.loggedIn(member);
    if (nameRefused) this.refuse(member, nameRefused);
    if (roomRefused) this.refuse(member, roomRefused);
    const entering = room === null || roomRefused ? DEFAULT_ROOM : normalizeName(room);
    if (this.accounts.mayEnter(member, entering, since)) this.enter(member, entering, { firstRoom: true, since });
    const held = member.held ?? [];
    member.held = undefined;
    for (const frame of held) handleFrame(this, member, frame);
  }

  /** A text frame from a member: a command, in either protocol. */
  receive(member: Member, frame: string): void {
    this.metrics.messagesIn++;
    this.metrics.bytesIn += frame.length;
    if (member.held) {
      // RFC 6455 §7.4.1: 1008, policy: a client may not pile up frames before it is let in.
      if (member.held.length >= HELD_FRAMES) return member.socket.close(1008, "too many messages before joining");
      return void member.held.push(frame);
    }
    handleFrame(this, member, frame);
  }

  /**
   * A member's connection closed (its socket is unsubscribed from everything already). A person who
   * left on purpose (a normal closure, 1000, from /quit or the end of a pipe's input; 1001 from a
   * browser tab going away) frees their name at once, and so does one a moderator kicked or banned
   * (their client does not come back by itself); a dropped connection's name is held for their
   * return (RFC 6455 §7.4.1 for the codes).
   */
  closed(member: Member, code: number, reason: string): void {
    const leftOnPurpose = LET_GO.has(code) && !this.#closing;
    this.names.release(member, leftOnPurpose);
    if (member.room !== OUTSIDE) this.#leave(member);
    this.accounts.closed(member);
    this.log.line(
      `Connection from ${describeUser(member.user)} closed (${code}${reason ? ` ${printable(reason)}` : ""})`,
    );
  }

  /** Tells every room the server is going, and closes every connection with 1001 (going away). */
  closeAll(): void {
    // Everyone here is about to be closed: telling each of them of every other one leaving would
    // be a line per person on every screen, about people who will be back in a moment.
    this.#closing = true;
    const everyone = [...this.rooms.everyone()].map(([, member]) => member);
    for (const room of this.rooms.names()) {
      this.#broadcast(room, {
        type: "notice",
        room,
        time: isoNow(),
        event: "shutdown",
        text: "The server is shutting down; reconnect in a moment.",
      });
    }
    for (const member of everyone) member.socket.close(1001, "server shutting down");
  }

  // --- What the directory delivers, and asks ---------------------------------------------------

  deliverSaid(event: SaidEvent, quietly = false): void {
    this.#broadcast(event.room, event);
    if (!quietly) this.log.said(event);
  }

  deliverNotice(event: NoticeEvent): void {
    this.#broadcast(event.room, event);
  }

  deliverPrivate(event: PrivateEvent): void {
    this.privates.deliver(event);
  }

  deliverDeleted(room: string, seq: number): void {
    this.#broadcast(room, { type: "deleted", room, seq });
  }

  departed(room: string, user: User): void {
    if (this.rooms.size(room) > this.limits.announceLimit) return;
    this.#broadcast(room, notice(room, "leave", user, `${describeUser(user)} left ${room}`));
  }

  nameLost(address: string, name: string): void {
    const lost = this.names.lose(name, address);
    if (!lost) return;
    const { member } = lost;
    this.refuse(member, lostNameRefusal(lost.name));
    const change = `${lost.name} (${address}) is now ${describeUser(member.user)}`;
    this.announce(notice(member.room, "rename", member.user, change, lost.name));
    this.log.line(`${change}: another instance's claim of the name was earlier`);
  }

  *everyone(): Generator<{ room: string; user: User; tokenHash: string }> {
    for (const [room, member] of this.rooms.everyone()) yield { room, user: member.user, tokenHash: member.tokenHash };
  }

  // --- Slow readers (readers.ts) ---------------------------------------------------------------

  /** Looks over every reader for a backlog too big or stalled, and all of them for too much in all. */
  sweepSlowReaders(): void {
    this.readers.sweep([...this.connected()], this.clock.now());
  }

  /** Every member connected here: in a room, or waiting outside to log in (accounts/). */
  *connected(): Generator<Member> {
    for (const [, member] of this.rooms.everyone()) yield member;
    yield* this.accounts.outside();
  }

  // --- Sending ----------------------------------------------------------------------------------

  send(member: Member, event: ChatEvent): void {
    const frame = member.json ? JSON.stringify(event) : toText(event);
    this.metrics.bytesOut += frame.length;
    if (member.socket.send(frame) === -1) this.readers.closeOverLimit([member]);
  }

  /** An error may quote what the client sent (a refused name, an unknown command): escaped here. */
  refuse(member: Member, { code, message }: Refusal, id?: string): void {
    this.send(member, { type: "error", code, message: escapeControls(message), ...(id !== undefined && { id }) });
  }

  tell(room: string, event: ChatEvent, except?: Member): void {
    this.#broadcast(room, event, except);
  }

  /**
   * Sends `event` to everyone in `room`, or everyone but `except`: the hub's publish includes the
   * sender, a member's publish leaves it out. Each format is encoded once, and only if someone in
   * the room uses it. A result of -1 means some recipient has a backlog: the room's readers are
   * checked at once, so a slow one is closed before a burst can pile more on it.
   */
  #broadcast(room: string, event: ChatEvent, except?: Member): void {
    for (const json of FORMATS) {
      const name = topic(room, json);
      const recipients = this.hub.subscriberCount(name) - (except?.json === json ? 1 : 0);
      // The API's listeners hear the JSON, whoever else does.
      const listening = json && this.listeners ? this.listeners.count(room) : 0;
      if (recipients <= 0 && listening === 0) continue;
      const frame = json ? JSON.stringify(event) : toText(event);
      if (listening > 0) this.listeners!.deliver(room, event, frame);
      if (recipients <= 0) continue;
      this.metrics.deliveries += recipients;
      this.metrics.bytesOut += frame.length * recipients;
      const sent = except ? except.socket.publish(name, frame) : this.hub.publish(name, frame);
      if (sent === -1) this.readers.closeOverLimit(this.rooms.members(room));
    }
  }

  /**
   * A notice goes to this instance's people at once, and through the directory to the other
   * instances'; the room's list of people there (for /who everywhere) follows it.
   *
   * Joins and leaves are told only in rooms of up to --announce-limit people (this instance's
   * count). In a bigger room they would drown the conversation, and they cost the square of its
   * size when everyone comes back at once after a restart: 10,000 people reconnecting would be 50
   * million notices. /who still lists everyone, and renames are always told.
   */
  announce(event: NoticeEvent, except?: Member): void {
    const told = event.event === "rename" || this.rooms.size(event.room) <= this.limits.announceLimit;
    if (told) {
      if (!this.#closing) this.#broadcast(event.room, event, except);
      this.directory.notice(event);
    }
    if (!event.user) return;
    if (event.event === "leave") this.directory.absent(event.room, event.user.address);
    else this.directory.present(event.room, event.user);
  }

  // --- Rooms ------------------------------------------------------------------------------------

  /**
   * Moves `member` into `room`: leaves the old one, tells both rooms, and replays the new one's
   * history: the last messages, or, for a client resuming (`since`), all it missed that history
   * still has.
   */
  enter(member: Member, room: string, { firstRoom, since }: { firstRoom: boolean; since?: number | null }): void {
    const user = member.user;
    if (!firstRoom) {
      member.socket.unsubscribe(topic(member.room, member.json));
      this.#leave(member);
    }
    member.room = room;
    const members = this.rooms.add(member, room);
    member.socket.subscribe(topic(room, member.json));
    this.announce(notice(room, "join", user, `${describeUser(user)} joined ${room}`), member);
    const { events, missed } = this.#replay(member, room, since);
    member.oldestGiven = events[0]?.seq ?? this.directory.lastSeq(room) + 1;
    // A plain-text client entering its first room gets no greeting: the core chat had none, and
    // scripts that read its output expect only messages.
    if (member.json || !firstRoom) {
      const elsewhere = this.directory.elsewhere(room);
      const first = this.rooms.firstOf(room, JOINED_MEMBERS, member, elsewhere.users);
      // Someone logged in on several connections is one person (as far as the list goes).
      const listed = onePerPerson(first);
      const count = members.size + elsewhere.count - (first.length - listed.length);
      const seq = this.directory.lastSeq(room);
      this.send(member, {
        type: "joined",
        room,
        members: listed,
        count,
        history: events.length,
        seq,
        ...(missed > 0 && { missed }),
        ...this.moderation.roomInfo(member, room),
      });
    } else {
      // Nor a `joined` to carry the topic: the topic is told apart, when the room has one.
      const topic = this.moderation.topicEvent(room);
      if (topic) this.send(member, topic);
    }
    for (const event of events) this.send(member, event);
    this.log.line(`${describeUser(user)} joined ${room}`);
  }

  /**
   * The history a member entering `room` gets: the last messages, or what it missed since `since`,
   * as far as its address's replay budget goes: the newest first, the rest counted as missed.
   */
  #replay(member: Member, room: string, since: number | null | undefined): { events: SaidEvent[]; missed: number } {
    const { events, missed } =
      since == null ? { events: this.directory.recent(room), missed: 0 } : this.directory.since(room, since);
    const cut = this.beyondReplayBudget(member, events);
    return { events: events.slice(cut), missed: since == null ? missed : missed + cut };
  }

  /** How many of `events`, oldest first, the address's replay budget does not cover (the newest are). */
  beyondReplayBudget(member: Member, events: SaidEvent[]): number {
    let cut = events.length;
    while (cut > 0 && member.budget.replayBytes.spend(eventBytes(events[cut - 1]!))) cut--;
    if (cut > 0) this.metrics.replaysCut++;
    return cut;
  }

  /** Takes `member` out of its room, to wait outside every room until it logs in (accounts/). */
  leaveRoom(member: Member): void {
    if (member.room === OUTSIDE) return;
    member.socket.unsubscribe(topic(member.room, member.json));
    this.#leave(member);
    member.room = OUTSIDE;
  }

  /** Takes `member` out of its room (on /join or on closing), and tells the room. */
  #leave(member: Member): void {
    this.rooms.remove(member);
    const [user, others] = [member.user, this.accounts.othersInRoom(member)];
    // One device of someone logged in on several: the room is told they are still here.
    const still = others > 0 ? ` (still here on ${plural(others, "other connection")})` : "";
    this.announce(notice(member.room, "leave", user, `${describeUser(user)} left ${member.room}${still}`));
  }
}
