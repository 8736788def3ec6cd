/**
 * What the client has to send: commands wait here while the rate the server announced does not
 * allow them yet, or while the connection is down, and go out in order as soon as they may. It
 * holds at most MAX_QUEUED, so a script piping in a file is paced, never refused as a flooder.
 */
import type { Command } from "../../common/commands";
import { TokenBucket } from "../../common/token-bucket";

/** Commands kept waiting; more than this and the user is told they were not sent. */
export const MAX_QUEUED = 100;

/** Where the outbox sends: ready() is false while offline or resuming. */
export interface Channel {
  ready(): boolean;
  transmit(command: Command): void;
}

export class Outbox {
  #queue: Command[] = [];
  /** Until the server's welcome says otherwise: no limit. */
  readonly #bucket = new TokenBucket(0, 1);
  #timer: ReturnType<typeof setTimeout> | undefined;

  constructor(private readonly channel: Channel) {}

  /** False, and nothing queued, if MAX_QUEUED are waiting already. */
  add(command: Command): boolean {
    if (this.#queue.length >= MAX_QUEUED) return false;
    this.#queue.push(command);
    this.flush();
    return true;
  }

  /** Puts commands back at the front, ahead of what was typed since (a resume's resend). */
  putBack(commands: Command[]): void {
    this.#queue.unshift(...commands);
  }

  /** The server's rate and burst, from its welcome. */
  pace(rate: number, burst: number): void {
    this.#bucket.reset(rate, Math.max(1, burst));
  }

  get length(): number {
    return this.#queue.length;
  }

  /** Messages and actions still waiting. */
  get waitingSaid(): number {
    return this.#queue.filter((c) => c.type === "say" || c.type === "me").length;
  }

  /** Sends what the rate allows now, and comes back when it allows more. */
  flush(): void {
    clearTimeout(this.#timer);
    while (this.#queue.length > 0 && this.channel.ready()) {
      const wait = this.#bucket.waitMs();
      if (wait > 0) {
        this.#timer = setTimeout(() => this.flush(), wait + 5);
        return;
      }
      this.#bucket.take();
      this.channel.transmit(this.#queue.shift()!);
    }
  }

  stop(): void {
    clearTimeout(this.#timer);
  }
}
