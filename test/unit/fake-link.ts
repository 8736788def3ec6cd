/**
 * A fake link to Redis for the unit tests of server/redis/: it records every command and publish,
 * answers commands through a function the test gives, and lets the test say what comes back on
 * the channel (`hear`). `numberLikeRedis` plays SAY_SCRIPT's part: the numbers and what it
 * publishes, without the history. Also a sink, a log and metrics to hand the parts.
 */
import type { NoticeEvent, PrivateEvent, SaidEvent, User } from "../../common/events";
import type { ChatSink } from "../../server/directory";
import { Logger } from "../../server/log";
import type { LinkHandlers, LinkLife } from "../../server/redis/link";

export class FakeLink implements LinkLife {
  connected = false;
  readonly sent: [command: string, args: string[]][] = [];
  readonly published: string[] = [];
  /** What a command gets back; it may throw, to fail the command. Commands answer null by default. */
  answer: (command: string, args: string[]) => unknown = () => null;
  #handlers: LinkHandlers | undefined;

  async send(command: string, args: string[]): Promise<unknown> {
    if (!this.#reachable) throw new Error("Connection closed");
    this.sent.push([command, args]);
    return this.answer(command, args);
  }

  async publish(message: string): Promise<unknown> {
    if (!this.#reachable) throw new Error("Connection closed");
    this.published.push(message);
    return 1;
  }

  /** A message on the channel, as the subscription hands it over. */
  hear(message: string): void {
    this.#handlers?.onMessage(message);
  }

  /** Starts unreachable, as when Redis is down at start; `connect()` brings it. */
  async start(handlers: LinkHandlers): Promise<void> {
    this.#handlers = handlers;
  }

  /** Redis answers: the owner catches up, and the link counts as connected once it has. */
  async connect(): Promise<void> {
    this.#reachable = true;
    await this.#handlers!.onConnect();
    this.connected = true;
    this.#handlers!.onState(true, "connected");
  }

  lose(): void {
    this.#reachable = false;
    this.connected = false;
    this.#handlers?.onState(false, "lost");
  }

  close(): void {
    this.lose();
  }

  /** Commands may be sent while catching up, before the link counts as connected. */
  #reachable = false;

  /** The commands sent named `command`, their arguments. */
  commands(command: string): string[][] {
    return this.sent.filter(([name]) => name === command).map(([, args]) => args);
  }

  /** The script calls of `script`, their arguments after the script. */
  scripts(script: string): string[][] {
    return this.commands("EVAL")
      .filter((args) => args[0] === script)
      .map((args) => args.slice(1));
  }
}

/**
 * SAY_SCRIPT's numbering and publishing (not its history): each room's events numbered from one
 * past its last, or from the instance's floor if that is higher; the header, then each room's entry,
 * come back on the channel at once.
 */
export function numberLikeRedis(link: FakeLink): (args: string[]) => number {
  const seqs = new Map<string, number>();
  return (args) => {
    const keyCount = Number(args[1]);
    const keys = args.slice(2, 2 + keyCount);
    const argv = args.slice(2 + keyCount);
    const firsts: number[] = [];
    const entries: string[] = [];
    for (let k = 4; k < keys.length; k += 2) {
      const at = 7 + (k - 4) * 2;
      const [floor, count] = [Number(argv[at]), Number(argv[at + 1])];
      let last = (seqs.get(keys[k]!) ?? 0) + count;
      if (last - count + 1 < floor) last = floor + count - 1;
      seqs.set(keys[k]!, last);
      firsts.push(last - count + 1);
      entries.push(argv[at + 3]!);
    }
    link.hear(JSON.stringify({ v: 1, instance: argv[0], batch: Number(argv[1]), first: firsts }));
    for (const entry of entries) link.hear(entry);
    return firsts.length;
  };
}

/** What a chat core hears from its directory. */
export class FakeSink implements ChatSink {
  readonly said: SaidEvent[] = [];
  readonly notices: NoticeEvent[] = [];
  readonly privates: PrivateEvent[] = [];
  readonly departures: [room: string, user: User][] = [];
  readonly namesLost: [address: string, name: string][] = [];
  readonly deleted: [room: string, seq: number][] = [];
  people: { room: string; user: User; tokenHash: string }[] = [];

  deliverSaid(event: SaidEvent): void {
    this.said.push(event);
  }
  deliverNotice(event: NoticeEvent): void {
    this.notices.push(event);
  }
  deliverPrivate(event: PrivateEvent): void {
    this.privates.push(event);
  }

  deliverDeleted(room: string, seq: number): void {
    this.deleted.push([room, seq]);
  }
  departed(room: string, user: User): void {
    this.departures.push([room, user]);
  }
  nameLost(address: string, name: string): void {
    this.namesLost.push([address, name]);
  }
  everyone() {
    return this.people;
  }
}

/** A logger whose lines the test reads; written at once. */
export function testLog(): { log: Logger; lines: () => string[] } {
  let text = "";
  const log = new Logger({ write: (chunk: string) => (text += chunk), writableLength: 0 });
  return {
    log,
    lines: () => {
      log.flush();
      return text.split("\n").filter(Boolean);
    },
  };
}

export const newMetrics = () => ({ redisErrors: new Map<string, number>(), redisSkipped: new Map<string, number>() });

export const said = (room: string, text: string, address = "127.0.0.1:1"): Omit<SaidEvent, "seq"> => ({
  type: "message",
  room,
  time: "2025-01-01T00:00:00.000Z",
  from: { name: null, address },
  text,
});

/** Lets setImmediate callbacks and promise reactions run. */
export const aTurn = () => new Promise((resolve) => setImmediate(resolve));
