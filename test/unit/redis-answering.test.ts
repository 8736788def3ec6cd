/**
 * Whether a connection to Redis is still answering (server/redis/answering.ts): a Redis that stops
 * with its connections open is noticed within the deadline; a busy one that answers slowly is not.
 */
import { expect, test } from "bun:test";
import { ManualClock } from "../../common/clock";
import { AnsweringWatch, STALL_MS } from "../../server/redis/answering";

/** A reply the test settles. */
function reply() {
  let settle!: () => void;
  const promise = new Promise<void>((resolve) => (settle = resolve));
  return { promise, settle };
}

test("a command outstanding with no answer for the deadline: stalled", async () => {
  const clock = new ManualClock(0);
  const watch = new AnsweringWatch(() => clock.now());
  expect(watch.stalled).toBe(false);
  watch.track(reply().promise);
  clock.advance(STALL_MS);
  expect(watch.stalled).toBe(false);
  clock.advance(1);
  expect(watch.stalled).toBe(true);
});

test("idle, nothing outstanding: never stalled, however long", () => {
  const clock = new ManualClock(0);
  const watch = new AnsweringWatch(() => clock.now());
  clock.advance(10 * STALL_MS);
  expect(watch.stalled).toBe(false);
  expect(watch.waiting).toBe(false);
});

test("a busy Redis that answers, however much is queued, is not stalled", async () => {
  const clock = new ManualClock(0);
  const watch = new AnsweringWatch(() => clock.now());
  const queued = Array.from({ length: 100 }, () => reply());
  for (const r of queued) watch.track(r.promise);
  // One answer a second: the queue takes 100 s to drain, and each answer proves Redis alive.
  for (const r of queued.slice(0, 99)) {
    clock.advance(1_000);
    r.settle();
    await Promise.resolve();
    await Promise.resolve();
    expect(watch.stalled).toBe(false);
  }
  expect(watch.waiting).toBe(true);
});

test("a message on the subscription counts as an answer", () => {
  const clock = new ManualClock(0);
  const watch = new AnsweringWatch(() => clock.now());
  watch.track(reply().promise);
  clock.advance(STALL_MS - 1);
  watch.heard();
  clock.advance(STALL_MS - 1);
  expect(watch.stalled).toBe(false);
});

test("a command asked after a long idle time is given the whole deadline", async () => {
  const clock = new ManualClock(0);
  const watch = new AnsweringWatch(() => clock.now());
  clock.advance(60_000);
  watch.track(reply().promise);
  clock.advance(STALL_MS - 1);
  expect(watch.stalled).toBe(false);
});
