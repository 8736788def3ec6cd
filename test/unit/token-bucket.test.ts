/** The token bucket (common/token-bucket.ts) and the backoff (common/backoff.ts), on a clock of our own. */
import { expect, test } from "bun:test";
import { backoffDelay } from "../../common/backoff";
import { ManualClock } from "../../common/clock";
import { TokenBucket } from "../../common/token-bucket";

test("a bucket gives its burst at once, then one token per 1/rate seconds", () => {
  const bucket = new TokenBucket(2, 3, new ManualClock());
  expect([bucket.take(0), bucket.take(0), bucket.take(0), bucket.take(0)]).toEqual([true, true, true, false]);
  expect(bucket.waitMs(0)).toBe(500);
  expect(bucket.take(499)).toBe(false);
  expect(bucket.take(500)).toBe(true);
  expect(bucket.take(500)).toBe(false);
});

test("a bucket never holds more than its burst, however long it waited", () => {
  const bucket = new TokenBucket(10, 2, new ManualClock());
  bucket.take(0);
  bucket.take(0);
  const after = [1, 2, 3].map(() => bucket.take(60_000));
  expect(after).toEqual([true, true, false]);
});

test("rate 0 is no limit", () => {
  const bucket = new TokenBucket(0, 1, new ManualClock());
  expect(Array.from({ length: 1000 }, () => bucket.take(0)).every(Boolean)).toBe(true);
  expect(bucket.waitMs(0)).toBe(0);
});

test("reset takes new numbers and starts full", () => {
  const bucket = new TokenBucket(0, 1, new ManualClock());
  bucket.reset(1, 2, 0);
  expect([bucket.take(0), bucket.take(0), bucket.take(0)]).toEqual([true, true, false]);
});

test("backoff doubles up to its ceiling, with the delay between half the ceiling and all of it", () => {
  const backoff = { firstMs: 100, maxMs: 1000 };
  const low = [1, 2, 3, 4, 5, 50].map((attempt) => backoffDelay(attempt, backoff, () => 0));
  const high = [1, 2, 3, 4, 5, 50].map((attempt) => backoffDelay(attempt, backoff, () => 1));
  expect(low).toEqual([50, 100, 200, 400, 500, 500]);
  expect(high).toEqual([100, 200, 400, 800, 1000, 1000]);
});
