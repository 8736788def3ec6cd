/**
 * The connection to Redis and its life: a publisher for commands, and the subscription to one
 * channel on a connection of its own, made anew after each loss (Bun's RedisClient reconnects
 * without subscribing again, and subscribing again on a reconnected client could deliver twice).
 * If Redis is down, at start or later, it says so and tries again with backoff, forever, until
 * closed. A Redis that stops answering with its connections open counts as down once it has not
 * answered for STALL_MS (answering.ts): its connections are dropped and made anew, as after a loss.
 *
 * The parts of the Redis side see only `Link`: a command, a publish on the channel, and (through
 * the directory) what comes back on it; their unit tests drive them through a fake one.
 */
import { RedisClient } from "bun";
import { backoffDelay } from "../../common/backoff";
import { AnsweringWatch, PROBE_MS, STALL_MS } from "./answering";
import { CHANNEL } from "./keys";

const BACKOFF = { firstMs: 500, maxMs: 5_000 };
/** A connection that Redis accepts but does not greet within this long is tried again. */
const CONNECT_TIMEOUT_MS = STALL_MS;

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
  /** The publisher's commands outstanding; made anew with each connection, as the subscriber's. */
  #publisherWatch = new AnsweringWatch();
  #subscriber: RedisClient | undefined;
  #subscriberWatch = new AnsweringWatch();
  #probe: Timer | undefined;
  #closing = false;
  #handlers: LinkHandlers | undefined;

  constructor(
    private readonly url: string,
    /** What it subscribes to and publishes on: the chat's, or shared state's (state/redis.ts). */
    private readonly channel = CHANNEL,
  ) {
    this.#publisher = new RedisClient(url, {
      autoReconnect: true,
      enableOfflineQueue: false,
      connectionTimeout: CONNECT_TIMEOUT_MS,
    });
  }

  send(command: string, args: string[]): Promise<unknown> {
    return this.#publisherWatch.track(this.#publisher.send(command, args));
  }

  publish(message: string): Promise<unknown> {
    return this.#publisherWatch.track(this.#publisher.publish(this.channel, message));
  }

  /** Connects; resolves once connected or once the first try failed (it goes on trying then). */
  start(handlers: LinkHandlers): Promise<void> {
    this.#handlers = handlers;
    this.#probe = setInterval(() => this.#checkAnswering(), PROBE_MS);
    this.#probe.unref();
    return new Promise((resolve) => void this.#subscribe(resolve));
  }

  close(): void {
    this.#closing = true;
    clearInterval(this.#probe);
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
      const subscriber = new RedisClient(this.url, {
        autoReconnect: false,
        enableOfflineQueue: false,
        connectionTimeout: CONNECT_TIMEOUT_MS,
      });
      const watch = new AnsweringWatch();
      try {
        await subscriber.connect();
        // The publisher connects on its first command, which, with no offline queue, would fail.
        if (!this.#publisher.connected) await this.#publisher.connect();
        // Watched from here: if Redis stops answering now, what follows fails and this loop tries again.
        this.#subscriber = subscriber;
        this.#subscriberWatch = watch;
        // Subscribed first, so that nothing said while catching up is missed.
        await watch.track(
          subscriber.subscribe(this.channel, (message) => {
            watch.heard();
            handlers.onMessage(message);
          }),
        );
        if (this.#subscriber !== subscriber) throw new Error("Redis stopped answering while subscribing");
        subscriber.onclose = (error) => this.#lost(subscriber, error);
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

  /**
   * Every PROBE_MS: a PING on each connection that has nothing outstanding, so that an idle one is
   * watched too; a connection that has stopped answering is dropped. Connected, that is a loss (said
   * once); while connecting or catching up, the commands waiting fail and the loop tries again.
   */
  #checkAnswering(): void {
    const subscriber = this.#subscriber;
    const stalled = this.#publisherWatch.stalled || (subscriber !== undefined && this.#subscriberWatch.stalled);
    if (stalled) return this.#stalled();
    if (this.#publisher.connected && !this.#publisherWatch.waiting)
      this.#publisherWatch.track(this.#publisher.send("PING", [])).catch(() => undefined);
    if (subscriber?.connected && !this.#subscriberWatch.waiting)
      this.#subscriberWatch.track(subscriber.send("PING", [])).catch(() => undefined);
  }

  /** Redis has not answered for STALL_MS: its connections are dropped (what waits on them fails) and made anew. */
  #stalled(): void {
    const subscriber = this.#subscriber;
    this.#subscriber = undefined;
    this.#publisherWatch = new AnsweringWatch();
    this.#subscriberWatch = new AnsweringWatch();
    const wasConnected = this.connected;
    this.connected = false;
    if (wasConnected)
      this.#handlers!.onState(
        false,
        `Redis at ${this.#shownUrl} stopped answering (nothing back for ${STALL_MS / 1000} s); serving this instance's clients alone, retrying`,
      );
    subscriber?.close();
    this.#publisher.close();
    // Not connected: the loop that is connecting or catching up sees its commands fail, and tries again.
    if (wasConnected) void this.#subscribe();
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
