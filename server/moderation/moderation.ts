/**
 * Moderation as the chat core sees it: the shared tables (roles, bans, mutes, topics, slow mode,
 * the log), the questions the core asks of them on its paths (may this address connect, this
 * person enter this room, speak here?), and what every instance does when a table changes,
 * whichever instance changed it: a ban closes the connections it covers here, a new topic is
 * shown to the room, a new log entry is told to the room and to the person acted on. The commands
 * themselves are in commands.ts.
 */
import { CLOSE_BANNED, CLOSE_KICKED, type Refusal, refusal } from "../../common/codes";
import { type ChatEvent, DEFAULT_ROOM } from "../../common/events";
import { nameSkeleton } from "../../common/lookalikes";
import type { Role, TopicEvent } from "../../common/moderation-events";
import type { Member } from "../member";
import { isoNow } from "../notice";
import type { Table } from "../state/state";
import { timeLeft } from "./durations";
import { Modlog, type ModlogEntry } from "./modlog";
import { addressOf, contains, guestNetwork, parseNetwork, showNetwork } from "./networks";
import { checkAccount, type ModerationChat, People, type Person } from "./people";
import { CHAT_SCOPE, type Restriction, Restrictions } from "./restrictions";
import { type Rank, Roles } from "./roles";

/** How often ended bans and mutes, and old log entries, are deleted (they count for nothing meanwhile). */
const SWEEP_MS = 60_000;
/** A banned address refused at the upgrade is logged once a minute at most, and so many addresses at once. */
const REFUSAL_LOG_MS = 60_000;
const REFUSALS_REMEMBERED = 1_000;
/** A close reason is at most 123 bytes (RFC 6455 §5.5): what is longer is cut. */
const CLOSE_REASON_BYTES = 123;

export interface Topic {
  text: string;
  by: string;
  at: string;
}
export interface SlowMode {
  seconds: number;
  by: string;
  at: string;
}
const checkTopic = (v: unknown) => (typeof (v as Topic | null)?.text === "string" ? (v as Topic) : undefined);
const checkSlow = (v: unknown) => (Number.isSafeInteger((v as SlowMode | null)?.seconds) ? (v as SlowMode) : undefined);

export interface ModerationOptions {
  /** Accounts that are operators (--ops), registered or not yet. */
  ops?: readonly string[];
  /** The wall clock, in ms since the epoch, for when bans and mutes end. */
  now?: () => number;
}

export class Moderation {
  readonly roles: Roles;
  readonly bans: Restrictions;
  readonly mutes: Restrictions;
  readonly topics: Table<Topic>;
  readonly slow: Table<SlowMode>;
  readonly log: Modlog;
  readonly people: People;
  readonly now: () => number;
  /** In slow rooms: when each person last spoke (by account or guest network), on the chat's clock. */
  readonly #spoke = new Map<string, Map<string, number>>();
  /** Banned addresses refused lately, and when each was last logged (on the wall clock). */
  readonly #refusalsLogged = new Map<string, number>();
  readonly #sweep: ReturnType<typeof setInterval>;

  constructor(
    private readonly chat: ModerationChat,
    { ops = [], now = Date.now }: ModerationOptions = {},
  ) {
    const { state } = chat;
    this.now = now;
    const accounts = state.table("accounts", checkAccount);
    this.roles = new Roles(state, ops, (skeleton) => accounts.get(skeleton)?.created);
    this.bans = new Restrictions(state, "bans", now);
    this.mutes = new Restrictions(state, "mutes", now);
    this.topics = state.table("topics", checkTopic);
    this.slow = state.table("slow", checkSlow);
    this.people = new People(chat, accounts);
    this.log = new Modlog(state, (entry, fresh) => fresh && this.#heard(entry), now);
    this.bans.table.onChange((_key, ban) => ban && this.#enforce(ban));
    this.topics.onChange((room, topic) => topic && chat.tell(room, { type: "topic", room, time: topic.at, ...topic }));
    this.slow.onChange((room, slow) => slow || this.#spoke.delete(room));
    this.roles.operators.onChange((skeleton) => this.#roleChanged(undefined, skeleton));
    this.roles.owners.onChange((room, owner) => owner && this.#roleChanged(room, nameSkeleton(owner.name)));
    this.roles.moderators.onChange((key) => this.#roleChanged(...(key.split(" ") as [string, string])));
    this.#sweep = setInterval(() => void this.sweep(), SWEEP_MS).unref();
  }

  stop(): void {
    clearInterval(this.#sweep);
  }

  /** Deletes the bans and mutes that have ended, and old log entries. */
  async sweep(): Promise<void> {
    await Promise.all([this.bans.sweep(), this.mutes.sweep(), this.log.sweep()]);
    for (const [address, at] of this.#refusalsLogged)
      if (this.now() - at >= REFUSAL_LOG_MS) this.#refusalsLogged.delete(address);
    const now = this.chat.clock.now();
    for (const [room, spoke] of this.#spoke) {
      const gap = (this.slow.get(room)?.seconds ?? 0) * 1000;
      for (const [who, at] of spoke) if (now - at >= gap) spoke.delete(who);
    }
  }

  // --- What the core asks ------------------------------------------------------------------------

  /** Where `member` stands in `room` (its own by default). */
  rankOf(member: Member, room = member.room): Rank {
    return this.roles.rankOf(member.account, room);
  }

  /** Why an upgrade from `ip` is refused (403), if its address is banned from the chat. */
  admission(ip: string): string | undefined {
    const address = addressOf(ip);
    const ban = this.bans.find(CHAT_SCOPE, null, address) ?? this.bans.find(DEFAULT_ROOM, null, address);
    if (!ban) return undefined;
    this.#logRefusal(address ? showNetwork(address) : ip, ban);
    return `${this.banWords(ban, "You are")}.`;
  }

  /**
   * One line in the server's log for a banned address refused, at most once a minute for each
   * (a client that retries is not a line per try), and for at most REFUSALS_REMEMBERED at once.
   */
  #logRefusal(address: string, ban: Restriction): void {
    const now = this.now();
    const last = this.#refusalsLogged.get(address);
    if (last !== undefined && now - last < REFUSAL_LOG_MS) return;
    if (last === undefined && this.#refusalsLogged.size >= REFUSALS_REMEMBERED) {
      for (const [other, at] of this.#refusalsLogged)
        if (now - at >= REFUSAL_LOG_MS) this.#refusalsLogged.delete(other);
      if (this.#refusalsLogged.size >= REFUSALS_REMEMBERED) return;
    }
    this.#refusalsLogged.delete(address);
    this.#refusalsLogged.set(address, now);
    // "Refused banned address 203.0.113.7 (gus's): banned by root until 2026-12-04T14:00:00.000Z: spam"
    const whose = ban.kind === "account" ? ban.target : ban.name;
    const within = ban.kind === "address" && ban.target !== address ? ` (in ${ban.target})` : "";
    const until = ban.until === undefined ? "until lifted" : `until ${new Date(ban.until).toISOString()}`;
    const reason = ban.reason ? `: ${ban.reason}` : "";
    this.chat.log.line(
      `Refused banned address ${address}${within}${whose ? ` (${whose}'s)` : ""}: banned by ${ban.by} ${until}${reason}`,
    );
  }

  /** Why the account may not log in: it is banned from the chat. For the accounts code, at login. */
  isAccountBanned(account: string): Refusal | undefined {
    const ban = this.bans.find(CHAT_SCOPE, account, undefined) ?? this.bans.find(DEFAULT_ROOM, account, undefined);
    return ban && refusal("banned", `${this.banWords(ban, `${account} is`)}.`);
  }

  /** Why `member` may not enter `room`: a ban of its account or address there (moderators are spared). */
  mayEnter(member: Member, room: string): Refusal | undefined {
    if (!this.bans.any(room) || Roles.exempt(this.rankOf(member, room))) return undefined;
    const ban = this.bans.find(room, member.account, addressOf(member.address));
    return ban && refusal("banned", `${this.banWords(ban, "You are")}.`);
  }

  /** Why `member` may not speak in its room now: muted, or slow mode (moderators are spared both). */
  maySpeak(member: Member): Refusal | undefined {
    const room = member.room;
    const slow = this.slow.get(room);
    if (!slow && !this.mutes.any(room)) return undefined;
    if (Roles.exempt(this.rankOf(member))) return undefined;
    const mute = this.mutes.find(room, member.account, addressOf(member.address));
    if (mute) {
      const left = mute.until === undefined ? "until a moderator lifts it" : `${timeLeft(mute.until, this.now())} more`;
      return refusal("muted", `You are muted in ${room} (${left}): you can read but not speak here.`);
    }
    return slow && this.#slowDown(member, slow.seconds);
  }

  /** What someone entering `room` is told of it: its topic, and their role there. */
  roomInfo(member: Member, room: string): { topic?: string; role?: Role } {
    const topic = this.topics.get(room)?.text;
    const role = this.roles.roleOf(member.account, room);
    return { ...(topic && { topic }), ...(role && { role }) };
  }

  /** The room's topic as the event that tells it, if it has one: for who enters with no `joined` to carry it. */
  topicEvent(room: string): TopicEvent | undefined {
    const topic = this.topics.get(room);
    return topic && { type: "topic", room, time: topic.at, text: topic.text, by: topic.by };
  }

  /** The member logged in or out (accounts), having been logged in to `before`: it is told if its role in its room changed. */
  accountChanged(member: Member, before: string | null): void {
    const [was, is] = [this.roles.roleOf(before, member.room), this.roles.roleOf(member.account, member.room)];
    if (was !== is) this.chat.send(member, { type: "role", room: member.room, role: is ?? null });
  }

  /** Slow mode: refused if the person spoke in the room less than `seconds` ago; otherwise noted. */
  #slowDown(member: Member, seconds: number): Refusal | undefined {
    // A person is their account and their network (a guest's, as bans take it): neither another
    // name nor logging in or out starts the wait over.
    const address = addressOf(member.address);
    const keys = [address ? showNetwork(guestNetwork(address)) : member.address];
    if (member.account !== null) keys.push(nameSkeleton(member.account));
    let spoke = this.#spoke.get(member.room);
    if (!spoke) this.#spoke.set(member.room, (spoke = new Map()));
    const now = this.chat.clock.now();
    const last = Math.max(...keys.map((key) => spoke.get(key) ?? Number.NEGATIVE_INFINITY));
    if (now - last < seconds * 1000) {
      const wait = Math.ceil((last + seconds * 1000 - now) / 1000);
      return refusal(
        "slow-mode",
        `${member.room} is in slow mode: one message every ${seconds} s each. You may speak again in ${wait} s.`,
      );
    }
    for (const key of keys) spoke.set(key, now);
    return undefined;
  }

  /** "You are banned from dev by alice (2 h more): spam": whom, where, by whom, how long, why. */
  banWords(ban: Restriction, subject: string): string {
    const where = ban.scope === CHAT_SCOPE || ban.scope === DEFAULT_ROOM ? "this chat" : ban.scope;
    const left = ban.until === undefined ? "" : ` (${timeLeft(ban.until, this.now())} more)`;
    return `${subject} banned from ${where} by ${ban.by}${left}${ban.reason ? `: ${ban.reason}` : ""}`;
  }

  // --- What every instance does when a table changes ---------------------------------------------

  /**
   * A ban, made here or on another instance: this instance's connections it covers are told, then
   * closed (from the chat, or from its default room) or moved to the default room (from another).
   */
  #enforce(ban: Restriction): void {
    if (ban.until !== undefined && ban.until <= this.now()) return;
    const chatWide = ban.scope === CHAT_SCOPE || ban.scope === DEFAULT_ROOM;
    for (const [room, member] of [...this.chat.rooms.everyone()]) {
      if (!chatWide && room !== ban.scope) continue;
      const rank = this.rankOf(member, chatWide ? DEFAULT_ROOM : room);
      if (chatWide ? rank === "operator" : Roles.exempt(rank)) continue;
      const covered = coveredBy(ban, member);
      if (!covered) continue;
      // Someone else on an address banned with a person is told it was not about them: whose it was.
      const subject =
        covered.whose !== undefined
          ? `Your address (${covered.network}), which ${covered.whose} came from, was`
          : "You were";
      const words = this.banWords(ban, subject);
      if (!chatWide) this.chat.enter(member, DEFAULT_ROOM, { firstRoom: false });
      this.#tellPersonally(member, ban.scope === CHAT_SCOPE ? DEFAULT_ROOM : ban.scope, `${words}.`);
      if (chatWide) member.socket.close(CLOSE_BANNED, closeReason(words));
    }
  }

  /** A new log entry: the person acted on is told (and, for a kick, moved or closed), then the room. */
  #heard(entry: ModlogEntry): void {
    const targets = entry.target ? this.people.here(personOf(entry.target)) : [];
    const inRoom = targets.filter((member) => member.room === entry.room);
    if (entry.action === "kick") {
      for (const member of entry.chatWide ? targets : inRoom) {
        if (!entry.chatWide) this.chat.enter(member, DEFAULT_ROOM, { firstRoom: false });
        this.#tellPersonally(member, entry.room, entry.personal ?? entry.text);
        if (entry.chatWide) member.socket.close(CLOSE_KICKED, closeReason(entry.personal ?? entry.text));
      }
    } else if (entry.personal) {
      // Whoever a ban kept out of the room is elsewhere: an unban finds them wherever they are.
      for (const member of entry.action === "unban" ? targets : inRoom)
        this.#tellPersonally(member, entry.room, entry.personal);
    }
    // A topic and a deleted message are shown as themselves (their own events), not as a line.
    if (entry.action === "topic" || entry.action === "delete") return;
    const notice: ChatEvent = {
      type: "notice",
      room: entry.room,
      time: entry.at,
      event: "moderation",
      text: entry.text,
    };
    const skipped = new Set(inRoom.filter((member) => member.room === entry.room && member.open));
    if (skipped.size <= 1) return this.chat.tell(entry.room, notice, [...skipped][0]);
    for (const member of this.chat.rooms.members(entry.room)) if (!skipped.has(member)) this.chat.send(member, notice);
  }

  #tellPersonally(member: Member, room: string, text: string): void {
    if (member.open) this.chat.send(member, { type: "notice", room, time: isoNow(), event: "moderation", text });
  }

  /**
   * The role of the account whose name has `skeleton` changed in `room` (in every room, for an
   * operator): its connections here in that room are told their role now.
   */
  #roleChanged(room: string | undefined, skeleton: string): void {
    for (const [where, member] of this.chat.rooms.everyone()) {
      if (member.account === null || (room !== undefined && where !== room)) continue;
      if (nameSkeleton(member.account) !== skeleton) continue;
      this.chat.send(member, { type: "role", room: where, role: this.roles.roleOf(member.account, where) ?? null });
    }
  }
}

/**
 * Whether `ban` covers `member`: by its account, or by an address it holds (a guest's, or those of
 * the account banned). `whose` names the person the address was banned with, when that is not the
 * member: a guest under another name, or anyone not logged in to the account banned.
 */
function coveredBy(ban: Restriction, member: Member): { network?: string; whose?: string } | undefined {
  const sameName = (name: string | null, other: string) => name !== null && nameSkeleton(name) === nameSkeleton(other);
  if (ban.kind === "account" && sameName(member.account, ban.target)) return {};
  const address = addressOf(member.address);
  if (!address) return undefined;
  const shown = ban.kind === "account" ? (ban.addresses ?? []) : [ban.target];
  const network = shown.find((text) => {
    const parsed = parseNetwork(text);
    return parsed !== undefined && !("problem" in parsed) && contains(parsed, address);
  });
  if (network === undefined) return undefined;
  const whose = ban.kind === "account" ? ban.target : ban.name;
  if (whose === undefined || (ban.kind === "address" && (member.name === null || sameName(member.name, whose))))
    return { network };
  return { network, whose };
}

function personOf(target: NonNullable<ModlogEntry["target"]>): Person {
  return { name: target.name, account: target.account ?? null, rooms: [] };
}

/** A close reason of at most CLOSE_REASON_BYTES bytes, cut at a character. */
export function closeReason(text: string): string {
  if (Buffer.byteLength(text) <= CLOSE_REASON_BYTES) return text;
  const chars = Array.from(text);
  while (Buffer.byteLength(`${chars.join("")}…`) > CLOSE_REASON_BYTES) chars.pop();
  return `${chars.join("")}…`;
}
