/**
 * A chat core (server/chat.ts) to drive without Bun.serve or sockets: fake members record what the
 * core sends them, and a fake hub does what Bun's pub/sub does (publish to a topic's subscribers).
 */
import { ManualClock } from "../../common/clock";
import type { ChatEvent } from "../../common/events";
import type { AccountOptions } from "../../server/accounts/accounts";
import { Chat } from "../../server/chat";
import type { Limits } from "../../server/config";
import { type ChatSink, type Directory, LocalDirectory } from "../../server/directory";
import { History, type HistoryOptions } from "../../server/history";
import { Logger } from "../../server/log";
import type { Hub, Member, MemberSocket, Upgrade } from "../../server/member";
import { Metrics } from "../../server/metrics";
import type { ModerationOptions } from "../../server/moderation/moderation";
import { Rooms } from "../../server/rooms";
import type { SharedState } from "../../server/state/state";

/** The event whose `type` can be T (a message or an action are one kind of event, SaidEvent). */
export type EventOf<T extends ChatEvent["type"]> = ChatEvent extends infer E
  ? E extends { type: infer K }
    ? T extends K
      ? E
      : never
    : never
  : never;

export class FakeHub implements Hub {
  readonly topics = new Map<string, Set<FakeSocket>>();
  /** What publish returns: -1 says some reader has a backlog, as Bun does. */
  result = 1;

  publish(topic: string, frame: string): number {
    for (const socket of this.topics.get(topic) ?? []) socket.frames.push(frame);
    return this.result;
  }

  subscriberCount(topic: string): number {
    return this.topics.get(topic)?.size ?? 0;
  }
}

export class FakeSocket implements MemberSocket {
  readonly frames: string[] = [];
  readyState = 1;
  closedWith: { code?: number; reason?: string } | undefined;
  buffered = 0;
  readonly #topics = new Set<string>();
  /** Bun's close handler: the transport's, which tells the chat (set by chatWith). */
  onClose: (code: number, reason: string) => void = () => {};

  constructor(private readonly hub: FakeHub) {}

  send(frame: string): void {
    this.frames.push(frame);
  }

  publish(topic: string, frame: string): number {
    for (const socket of this.hub.topics.get(topic) ?? []) if (socket !== this) socket.frames.push(frame);
    return this.hub.result;
  }

  subscribe(topic: string): void {
    const subscribers = this.hub.topics.get(topic) ?? new Set();
    this.hub.topics.set(topic, subscribers.add(this));
    this.#topics.add(topic);
  }

  unsubscribe(topic: string): void {
    this.hub.topics.get(topic)?.delete(this);
    this.#topics.delete(topic);
  }

  /**
   * Bun unsubscribes a closed socket from everything, then calls the close handler, whoever closed
   * it: the server (the chat core closing a flooder) or the client.
   */
  close(code?: number, reason?: string): void {
    if (this.readyState === 3) return;
    this.readyState = 3;
    this.closedWith = { code, reason };
    for (const topic of this.#topics) this.unsubscribe(topic);
    this.onClose(code ?? 1005, reason ?? "");
  }

  /** Bun's terminate: no close frame, the backlog dropped, the close handler told 1006. */
  terminate(): void {
    if (this.readyState === 3) return;
    this.buffered = 0;
    this.close(1006, "");
    this.closedWith = { code: 1006, reason: "terminated" };
  }

  getBufferedAmount(): number {
    return this.buffered;
  }

  /** Everything received, as JSON events. */
  get events(): ChatEvent[] {
    return this.frames.map((frame) => JSON.parse(frame));
  }

  eventsOf<T extends ChatEvent["type"]>(type: T): EventOf<T>[] {
    return this.events.filter((event): event is EventOf<T> => event.type === type);
  }
}

export const LIMITS: Limits = {
  maxMessage: 1000,
  maxFrame: 2000,
  rate: 0,
  burst: 20,
  maxClients: 100,
  maxPerIp: 100,
  ipRate: 0,
  ipChanges: 0,
  ipConnectRate: 0,
  ipReplay: 0,
  ipv4Prefix: 32,
  ipv6Prefix: 64,
  maxBacklog: 10_000,
  maxUnsent: 1_000_000,
  stallTimeout: 30,
  maxRooms: 1000,
  announceLimit: 100,
  idleTimeout: 60,
  nameGrace: 60,
  allowedOrigins: new Set(),
  token: undefined,
  trustedProxies: [],
  proxyHeader: "x-forwarded-for",
  publicStatus: false,
};

/** A chat core with a local directory, in-memory history, a log kept in a string and a clock moved by hand. */
export function chatWith(
  limits: Partial<Limits> = {},
  historyOptions: HistoryOptions = {},
  /** The directory, when a test needs one of its own (a slow one, say). */
  makeDirectory: (sink: ChatSink, history: History) => Directory = (sink, history) => new LocalDirectory(sink, history),
  /** Accounts' options (--guests, --registration, a fast hasher), where they are kept, and moderation's (--ops, the wall clock). */
  {
    accounts,
    state,
    moderation,
  }: { accounts?: AccountOptions; state?: SharedState; moderation?: ModerationOptions } = {},
) {
  const hub = new FakeHub();
  const clock = new ManualClock(1_000_000);
  const rooms = new Rooms();
  const history = new History(50, undefined, { isOccupied: (room) => rooms.size(room) > 0, ...historyOptions });
  const log = { text: "", writableLength: 0, write: (text: string) => void (log.text += text) };
  const metrics = new Metrics();
  const chat = new Chat({
    limits: { ...LIMITS, ...limits },
    hub,
    clock,
    rooms,
    directory: (sink) => makeDirectory(sink, history),
    log: new Logger(log),
    metrics,
    version: "test",
    accounts,
    state,
    ...(moderation && { moderation }),
  });
  let port = 40000;
  /** A member connecting, as the transport would open it. */
  const connect = ({
    name = null,
    room = null,
    json = true,
    resume = null,
    since = null,
    ip = "10.0.0.1",
    session = null,
  }: {
    name?: string | null;
    room?: string | null;
    json?: boolean;
    resume?: string | null;
    since?: number | null;
    ip?: string;
    session?: string | null;
  } = {}) => {
    const socket = new FakeSocket(hub);
    // As the transport writes it: an IPv6 address in brackets before its port.
    const address = `${ip.includes(":") ? `[${ip}]` : ip}:${++port}`;
    const asked = { name, room, since, resume, session };
    const member = open(chat, socket, { address, ip, json, asked });
    return { member, socket, say: (frame: string) => chat.receive(member, frame) };
  };
  /** The member's client closes its connection (1000 unless said otherwise: 1006 is a drop). */
  const disconnect = (member: Member, code = 1000) => member.socket.close(code);
  return { chat, hub, clock, history, connect, disconnect, metrics, log };
}

/** Opens a fake socket on `chat` as the transport opens Bun's: its close handler tells the chat. */
function open(chat: Chat, socket: FakeSocket, upgrade: Upgrade): Member {
  const member = chat.newMember(socket, upgrade);
  socket.onClose = (code, reason) => chat.closed(member, code, reason);
  chat.open(member);
  return member;
}

export const say = (text: string) => JSON.stringify({ type: "say", text });
