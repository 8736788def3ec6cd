/**
 * The connection to Redis and its life: a publisher for commands, and the subscription to one
 * channel on a connection of its own, made anew after each loss (Bun's RedisClient reconnects
 * without subscribing again, and subscribing again on a reconnected client could deliver twice).
 * If Redis is down, at start or later, it says so and tries again with backoff, forever, until
 * closed.
 *
 * The parts of the Redis side see only `Link`: a command, a publish on the channel, and (through
 * the directory) what comes back on it; their unit tests drive them through a fake one.
 */
import { RedisClient } from "bun";
import { backoffDelay } from "../../common/backoff";
import { CHANNEL } from "./keys";

const BACKOFF = { firstMs: 500, maxMs: 5_000 };

/** What the parts of the Redis side need of it. */
export interface Link {
  /** True once caught up after connecting, until the connection is lost. */
  readonly connected: boolean;
  /** One command; rejects if Redis is away or refuses it (nothing is queued while it is away). */
  send(command: string, args: string[]): Promise<unknown>;
  /** Publishes on the link's channel, to every instance subscribed, this one included. */
  publish(message: string): Promise<unknown>;
}

/** A link whose life its owner drives: RedisLink, or a fake in unit tests. */
export interface LinkLife extends Link {
  /** Connects; resolves once connected or once the first try failed (it goes on trying then). */
  start(handlers: LinkHandlers): Promise<void>;
  close(): void;
}

export interface LinkHandlers {
  /**
   * On every (re)connection, once subscribed (what arrives meanwhile is handed to onMessage as
   * usual): catch up and register. Connected once it resolves.
   */
  onConnect(): Promise<void>;
  /** A message on the channel. */
  onMessage(message: string): void;
  /** Redis came or went: for the log and /healthz. */
  onState(connected: boolean, detail: string): void;
  /** A try to connect (or to catch up) failed; it is tried again after a while. */
  onRetry(error: unknown): void;
}

export class RedisLink implements LinkLife {
  connected = false;
  /** For commands; it reconnects by itself and queues nothing while offline. */
  readonly #publisher: RedisClient;
  #subscriber: RedisClient | undefined;
  #closing = false;
  #handlers: LinkHandlers | undefined;

  constructor(
    private readonly url: string,
    /** What it subscribes to and publishes on: the chat's, or shared state's (state/redis.ts). */
    private readonly channel = CHANNEL,
  ) {
    this.#publisher = new RedisClient(url, { autoReconnect: true, enableOfflineQueue: false });
  }

  send(command: string, args: string[]): Promise<unknown> {
    return this.#publisher.send(command, args);
  }

  publish(message: string): Promise<unknown> {
    return this.#publisher.publish(this.channel, message);
  }

  /** Connects; resolves once connected or once the first try failed (it goes on trying then). */
  start(handlers: LinkHandlers): Promise<void> {
    this.#handlers = handlers;
    return new Promise((resolve) => void this.#subscribe(resolve));
  }

  close(): void {
    this.#closing = true;
    this.#subscriber?.close();
    this.#publisher.close();
  }

  /**
   * Subscribes on a fresh connection, and comes back here after every loss: one such loop at a
   * time, so one line in the log and one subscription per connection. `firstTried` is there only
   * on starting; after a loss, its first failed try has been said already ("lost Redis").
   */
  async #subscribe(firstTried?: () => void): Promise<void> {
    const handlers = this.#handlers!;
    for (let attempt = 1; !this.#closing; attempt++) {
      const subscriber = new RedisClient(this.url, { autoReconnect: false, enableOfflineQueue: false });
      try {
        await subscriber.connect();
        // The publisher connects on its first command, which, with no offline queue, would fail.
        if (!this.#publisher.connected) await this.#publisher.connect();
        // Subscribed first, so that nothing said while catching up is missed.
        await subscriber.subscribe(this.channel, (message) => handlers.onMessage(message));
        subscriber.onclose = (error) => this.#lost(subscriber, error);
        this.#subscriber = subscriber;
        await handlers.onConnect();
        // Lost while catching up: this loop tries again (#lost left that to it).
        if (this.#subscriber !== subscriber) throw new Error("Connection closed while catching up");
        this.connected = true;
        handlers.onState(true, `connected to ${this.#shownUrl}`);
        return firstTried?.();
      } catch (error) {
        if (this.#subscriber === subscriber) this.#subscriber = undefined;
        subscriber.close();
        if (attempt === 1 && firstTried) {
          handlers.onState(
            false,
            `Redis at ${this.#shownUrl} is not answering (${describe(error)}); serving this instance's clients alone, retrying`,
          );
          firstTried();
        } else handlers.onRetry(error);
        await Bun.sleep(backoffDelay(attempt, BACKOFF));
      }
    }
  }

  #lost(subscriber: RedisClient, error: unknown): void {
    if (this.#subscriber !== subscriber || this.#closing) return;
    this.#subscriber = undefined;
    // Not connected yet: the loop that made this subscriber is still catching up, and tries again.
    if (!this.connected) return;
    this.connected = false;
    this.#handlers!.onState(
      false,
      `lost Redis at ${this.#shownUrl} (${describe(error)}); serving this instance's clients alone, retrying`,
    );
    void this.#subscribe();
  }

  /** The URL without a password, for the log. */
  get #shownUrl(): string {
    return this.url.replace(/\/\/[^@/]*@/, "//");
  }
}

const describe = (error: unknown) => (error instanceof Error ? error.message : String(error));
