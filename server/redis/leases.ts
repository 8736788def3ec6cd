/**
 * Shared buckets in Redis, for budgets that hold across instances (../leases.ts): one hash per
 * bucket, refilled by the clock of Redis itself (so instances' clocks do not matter), from which a
 * script hands out up to what was asked. A bucket nobody asks of expires once it would be full.
 */
import type { LeaseSource } from "../leases";

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

/** The key of an address's bucket of one kind (messages, changes, connections). */
export const leaseKey = (bucket: string) => `chat:budget:${bucket}`;

/** Leases from Redis while the link is up; `send` is the link's command channel. */
export class RedisLeases implements LeaseSource {
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
}
