/**
 * How long to wait before trying again: exponential backoff with jitter. Used by the client
 * reconnecting to a server and by the server reconnecting to Redis.
 */

export interface Backoff {
  /** The first delay's ceiling. */
  firstMs: number;
  /** The ceiling no delay goes past. */
  maxMs: number;
}

/**
 * The delay before try number `attempt` (1 for the first retry): the ceiling doubles with each
 * attempt up to `maxMs`, and the delay is anywhere from half the ceiling to all of it, so that the
 * many clients of a restarted server do not all come back at the same moment.
 */
export function backoffDelay(attempt: number, { firstMs, maxMs }: Backoff, random = Math.random): number {
  const ceiling = Math.min(maxMs, firstMs * 2 ** Math.min(Math.max(attempt - 1, 0), 30));
  return Math.round(ceiling / 2 + (random() * ceiling) / 2);
}
