/**
 * Failures on the Redis side, none swallowed: each is counted in /metrics
 * (`chat_redis_errors_total{op}`, `chat_redis_skipped_total{reason}`) and logged, at most one line
 * per kind every LOG_EVERY_MS, saying how many more there were since. While Redis is away, commands
 * fail by the hundred; the log says so once in a while, not for each.
 */
import type { Logger } from "../log";
import type { Metrics } from "../metrics";

const LOG_EVERY_MS = 10_000;

export class Failures {
  /** By kind: when its last line was written, and how many failures were not written since. */
  readonly #logged = new Map<string, { at: number; unsaid: number }>();

  constructor(
    private readonly log: Logger,
    private readonly metrics: Pick<Metrics, "redisErrors" | "redisSkipped">,
    private readonly now: () => number = Date.now,
  ) {}

  /** `op` failed: counted, and logged unless a line about it was written in the last LOG_EVERY_MS. */
  count(op: string, error: unknown): void {
    this.metrics.redisErrors.set(op, (this.metrics.redisErrors.get(op) ?? 0) + 1);
    this.#say(op, `Redis: ${op} failed (${describe(error)})`);
  }

  /** Counts `promise`'s failure as `op`, for a command nothing waits on. */
  watch(op: string, promise: Promise<unknown>): void {
    promise.then(undefined, (error) => this.count(op, error));
  }

  /** Something came from Redis that this instance does not read: another version of the format, or not ours. */
  skipped(reason: "version" | "malformed"): void {
    this.metrics.redisSkipped.set(reason, (this.metrics.redisSkipped.get(reason) ?? 0) + 1);
    this.#say(
      `skipped ${reason}`,
      reason === "version"
        ? "Redis: skipped an envelope of another version of the format: is another release of the server sharing this Redis?"
        : "Redis: skipped an envelope that is not one of ours",
    );
  }

  #say(kind: string, line: string): void {
    const now = this.now();
    const last = this.#logged.get(kind);
    if (last && now - last.at < LOG_EVERY_MS) return void last.unsaid++;
    const more = last?.unsaid
      ? ` (and ${last.unsaid} more like it in the last ${Math.round((now - last.at) / 1000)} s)`
      : "";
    this.log.line(`${line}${more}`);
    this.#logged.set(kind, { at: now, unsaid: 0 });
  }
}

export const describe = (error: unknown) => (error instanceof Error ? error.message : String(error));
