/**
 * Time as the chat reads it: a monotonic clock in milliseconds. The server's budgets and buckets
 * read it through this, so that a unit test can move time on instead of sleeping.
 */
export interface Clock {
  now(): number;
}

/** The real clock: performance.now(), which never goes back when the system's time is set. */
export const REAL_CLOCK: Clock = { now: () => performance.now() };

/** A clock a test moves by hand. */
export class ManualClock implements Clock {
  constructor(private ms = 0) {}

  now(): number {
    return this.ms;
  }

  advance(ms: number): void {
    this.ms += ms;
  }
}
