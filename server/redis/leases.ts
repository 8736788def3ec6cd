/**
 * Shared buckets in Redis, for budgets that hold across instances (../leases.ts): one hash per
 * bucket, refilled by the clock of Redis itself (so instances' clocks do not matter), from which a
 * script hands out up to what was asked. A bucket nobody asks of expires once it would be full.
 */
import type { SharedBucket, SharedBudgets } from "../leases";

/**
 * KEYS: the bucket. ARGV: its rate a second, its size (burst), how many are wanted. Returns how
 * many were given. TIME is Redis's own clock; a script that reads it before writing is replicated
 * by its effects (Redis 5 and later).
 */
export const LEASE_SCRIPT = `
local rate, burst, wanted = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local kept = redis.call('HMGET', KEYS[1], 'tokens', 'at')
local tokens = tonumber(kept[1]) or burst
local at = tonumber(kept[2]) or now
tokens = math.min(burst, tokens + (now - at) * rate / 1000)
local given = math.max(0, math.min(wanted, math.floor(tokens)))
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens - given), 'at', tostring(now))
redis.call('PEXPIRE', KEYS[1], math.ceil(burst * 1000 / rate) + 1000)
return given`;

/**
 * KEYS: buckets. ARGV: 1 to take a token from each (all or none), -1 to give one back to each;
 * then each bucket's rate a second and size. Returns {0, 0} when done, or {ms to wait, index
 * (from 1) of the first bucket that had no token}, with nothing taken.
 */
export const ALL_OR_NONE_SCRIPT = `
local step = tonumber(ARGV[1])
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local tokens = {}
for i, key in ipairs(KEYS) do
  local rate, burst = tonumber(ARGV[2 * i]), tonumber(ARGV[2 * i + 1])
  local kept = redis.call('HMGET', key, 'tokens', 'at')
  local n = math.min(burst, (tonumber(kept[1]) or burst) + (now - (tonumber(kept[2]) or now)) * rate / 1000)
  if step > 0 and n < 1 then return {math.ceil((1 - n) * 1000 / rate), i} end
  tokens[i] = n
end
for i, key in ipairs(KEYS) do
  local rate, burst = tonumber(ARGV[2 * i]), tonumber(ARGV[2 * i + 1])
  redis.call('HSET', key, 'tokens', tostring(math.min(burst, tokens[i] - step)), 'at', tostring(now))
  redis.call('PEXPIRE', key, math.ceil(burst * 1000 / rate) + 1000)
end
return {0, 0}`;

/**
 * KEYS: a window (a sorted set of members by when last counted). ARGV: the member, the most
 * members, the window's length in ms. Returns 0 with the member counted now, or the ms until the
 * oldest leaves the window (nothing counted).
 */
export const DISTINCT_SCRIPT = `
local most, window = tonumber(ARGV[2]), tonumber(ARGV[3])
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window)
if not redis.call('ZSCORE', KEYS[1], ARGV[1]) and redis.call('ZCARD', KEYS[1]) >= most then
  local oldest = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
  return math.max(1, tonumber(oldest[2]) + window - now)
end
redis.call('ZADD', KEYS[1], now, ARGV[1])
redis.call('PEXPIRE', KEYS[1], window)
return 0`;

/** The key of an address's bucket of one kind (messages, changes, connections). */
export const leaseKey = (bucket: string) => `chat:budget:${bucket}`;

/** Leases from Redis while the link is up; `send` is the link's command channel. */
export class RedisLeases implements SharedBudgets {
  constructor(
    private readonly send: (command: string, args: string[]) => Promise<unknown>,
    private readonly connected: () => boolean,
  ) {}

  get available(): boolean {
    return this.connected();
  }

  async lease(key: string, rate: number, burst: number, wanted: number): Promise<number> {
    const given = await this.send("EVAL", [
      LEASE_SCRIPT,
      "1",
      leaseKey(key),
      String(rate),
      String(burst),
      String(wanted),
    ]);
    return Number(given) || 0;
  }

  async takeAll(buckets: SharedBucket[]): Promise<{ index: number; waitMs: number } | undefined> {
    const [waitMs, index] = (await this.#allOrNone(1, buckets)) as [number, number];
    return waitMs > 0 ? { index: index - 1, waitMs } : undefined;
  }

  async distinct(key: string, member: string, most: number, windowMs: number): Promise<number> {
    const args = [DISTINCT_SCRIPT, "1", leaseKey(key), member, String(most), String(windowMs)];
    return Number(await this.send("EVAL", args)) || 0;
  }

  async giveBack(buckets: SharedBucket[]): Promise<void> {
    await this.#allOrNone(-1, buckets);
  }

  #allOrNone(step: number, buckets: SharedBucket[]): Promise<unknown> {
    const keys = buckets.map(({ key }) => leaseKey(key));
    const sizes = buckets.flatMap(({ rate, burst }) => [String(rate), String(burst)]);
    return this.send("EVAL", [ALL_OR_NONE_SCRIPT, String(keys.length), ...keys, String(step), ...sizes]);
  }
}
