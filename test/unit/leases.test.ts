/**
 * An address's budget leased from one shared bucket by several instances (server/leases.ts): the
 * address gets its one budget, not one per instance, within about a lease per instance; messages
 * seldom wait for a lease; while the source is away each instance's own bucket decides.
 */
import { expect, test } from "bun:test";
import { ManualClock } from "../../common/clock";
import { TokenBucket } from "../../common/token-bucket";
import { LEASE_PATIENCE_MS, LeasedBucket, type LeaseSource } from "../../server/leases";

/** A shared bucket as Redis keeps it, answering leases after `delayMs` of simulated time. */
class FakeRedis implements LeaseSource {
  available = true;
  calls = 0;
  readonly #buckets = new Map<string, TokenBucket>();
  readonly #waiting: { at: number; answer: () => void }[] = [];
  constructor(
    private readonly clock: ManualClock,
    private readonly delayMs = 1,
  ) {}

  lease(key: string, rate: number, burst: number, wanted: number): Promise<number> {
    this.calls++;
    return new Promise((resolve) => {
      this.#waiting.push({
        at: this.clock.now() + this.delayMs,
        answer: () => {
          let bucket = this.#buckets.get(key);
          if (!bucket) this.#buckets.set(key, (bucket = new TokenBucket(rate, burst, this.clock)));
          const given = Math.min(wanted, Math.floor(bucket.available()));
          bucket.spend(given);
          resolve(given);
        },
      });
    });
  }

  /** Moves time on by 1 ms, answering what is due. */
  async tick(clock: ManualClock): Promise<void> {
    clock.advance(1);
    const due = this.#waiting.filter((w) => w.at <= clock.now());
    for (const w of due) this.#waiting.splice(this.#waiting.indexOf(w), 1);
    for (const w of due) w.answer();
    await Promise.resolve();
  }
}

test("two instances sharing an address's budget give it one budget, within a lease each", async () => {
  const clock = new ManualClock(0);
  const redis = new FakeRedis(clock, 2);
  const [rate, burst] = [20, 60];
  const instances = [0, 1].map(() => new LeasedBucket("10.0.0.1/32", rate, burst, redis, clock));
  let allowed = 0;
  // 10 seconds of an address sending 50 messages a second to each instance: 100 a second asked.
  for (let ms = 0; ms < 10_000; ms++) {
    if (ms % 20 === 0) for (const bucket of instances) if (bucket.take()) allowed++;
    await redis.tick(clock);
  }
  const budget = rate * 10 + burst; // 260
  console.log(`leased: ${allowed} allowed of a budget of ${budget}, ${redis.calls} leases asked`);
  expect(allowed).toBeGreaterThan(0.9 * budget);
  expect(allowed).toBeLessThan(1.1 * budget);
  // Far fewer calls to Redis than messages.
  expect(redis.calls).toBeLessThan(allowed);
});

test("within the budget, no message waits for a lease: the first ones run ahead on a little debt", async () => {
  const clock = new ManualClock(0);
  const redis = new FakeRedis(clock, 5);
  const bucket = new LeasedBucket("10.0.0.2/32", 20, 60, redis, clock);
  const firstFew = [bucket.take(), bucket.take(), bucket.take()];
  expect(firstFew).toEqual([true, true, true]);
});

test("without the source (Redis away), the instance's own bucket decides", () => {
  const clock = new ManualClock(0);
  const redis = new FakeRedis(clock);
  redis.available = false;
  const bucket = new LeasedBucket("10.0.0.3/32", 1, 3, redis, clock);
  expect([bucket.take(), bucket.take(), bucket.take(), bucket.take()]).toEqual([true, true, true, false]);
  expect(redis.calls).toBe(0);
});

/** A source that is there but never answers: Redis stopped, its connection still open. */
class SilentRedis implements LeaseSource {
  available = true;
  calls = 0;
  lease(): Promise<number> {
    this.calls++;
    return new Promise(() => {});
  }
}

test("a lease that does not come back within its patience counts as none: the local bucket decides, nobody is refused for Redis being slow", () => {
  const clock = new ManualClock(0);
  const redis = new SilentRedis();
  const [rate, burst] = [20, 60];
  const bucket = new LeasedBucket("10.0.0.4/32", rate, burst, redis, clock);
  // 10 s at 5 messages a second, well within the budget: every one goes through.
  const refused: number[] = [];
  for (let ms = 0; ms < 10_000; ms += 200) {
    clock.advance(200);
    if (!bucket.take()) refused.push(ms);
  }
  expect(refused).toEqual([]);
  expect(redis.calls).toBe(1);
  // Past its own budget, the local bucket still refuses, as a single instance would.
  let allowed = 0;
  for (let n = 0; n < 200; n++) if (bucket.take()) allowed++;
  expect(allowed).toBeLessThanOrEqual(burst);
});

test("within its patience, a lease on its way is waited for with a little debt, as before", () => {
  const clock = new ManualClock(0);
  const redis = new SilentRedis();
  const bucket = new LeasedBucket("10.0.0.5/32", 20, 60, redis, clock);
  // A lease is 15: a debt of one lease, then refused until the lease comes or the patience runs out.
  const first = Array.from({ length: 20 }, () => bucket.take());
  expect(first.filter(Boolean)).toHaveLength(15);
  clock.advance(LEASE_PATIENCE_MS + 1);
  expect(bucket.take()).toBe(true);
});
