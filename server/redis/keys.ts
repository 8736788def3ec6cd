/**
 * Where the chat keeps its shared state in Redis, and the Lua scripts that change it atomically.
 * Channels and keys are fixed by the server (a prefix and validated room names); nothing is
 * pattern-subscribed.
 */
import { nameSkeleton } from "../../common/lookalikes";

export const PREFIX = "chat:";
/** Every instance publishes here and subscribes here. */
export const CHANNEL = `${PREFIX}events`;
/** A room's last sequence number. */
export const seqKey = (room: string) => `${PREFIX}seq:${room}`;
/** A room's shared history: a sorted set of events (JSON) scored by sequence number. */
export const historyKey = (room: string) => `${PREFIX}history:${room}`;
export const HISTORY_PATTERN = `${PREFIX}history:*`;
/** Who is in a room: a hash from address to `{instance, user}` (JSON). */
export const membersKey = (room: string) => `${PREFIX}members:${room}`;
export const MEMBERS_PREFIX = `${PREFIX}members:`;
/**
 * Who holds a name (any case): `<instance> <address> <token hash>`, or, for a person who left
 * and may come back, `held - <token hash>`, expiring at the end of the grace period.
 */
export const nameKey = (name: string) => `${PREFIX}name:${nameSkeleton(name)}`;
/** Present while an instance is alive; it expires if the instance dies without a word. */
export const ALIVE_PREFIX = `${PREFIX}instance:`;
export const aliveKey = (instance: string) => `${ALIVE_PREFIX}${instance}`;

/**
 * Numbers an event, keeps it in the shared history and publishes it to every instance, in one
 * step, so sequence numbers are shared and every instance sees the messages in the same order.
 * KEYS: the room's sequence key, its history key, the channel. ARGV: the event without its seq
 * (JSON), how many to keep, this instance's id, the lowest seq allowed (one past what this
 * instance has seen, so numbering never goes back after it served alone while Redis was down).
 */
export const SAY_SCRIPT = `
local seq = redis.call('INCR', KEYS[1])
local floor = tonumber(ARGV[4])
if seq < floor then seq = floor; redis.call('SET', KEYS[1], seq) end
local event = cjson.decode(ARGV[1])
event['seq'] = seq
local json = cjson.encode(event)
redis.call('ZADD', KEYS[2], seq, json)
redis.call('ZREMRANGEBYRANK', KEYS[2], 0, -(tonumber(ARGV[2]) + 1))
redis.call('PUBLISH', KEYS[3], cjson.encode({ instance = ARGV[3], event = event }))
return seq`;

/**
 * KEYS: the name's key. ARGV: this instance, the claimer's address, the prefix of liveness keys,
 * the claimer's token hash. The same person (the same token) always gets their name back: their
 * old connection is gone, even if its instance does not know yet (it was killed a moment ago).
 * Otherwise the name is taken while it is held for someone's return, or held by another instance
 * that is alive. (Within one instance, the instance itself keeps names unique.) Returns "taken",
 * or false when the name is now the claimer's.
 */
export const CLAIM_NAME_SCRIPT = `
local holder = redis.call('GET', KEYS[1])
if holder then
  local instance, address, token = string.match(holder, '^(%S+) (%S+) (%S+)$')
  if token ~= ARGV[4] then
    if instance == 'held' then return 'taken' end
    if instance and instance ~= ARGV[1] and redis.call('EXISTS', ARGV[3] .. instance) == 1 then return 'taken' end
  end
end
redis.call('SET', KEYS[1], ARGV[1] .. ' ' .. ARGV[2] .. ' ' .. ARGV[4])
return false`;

/**
 * KEYS: the name's key. ARGV: this instance, the holder's address, its token hash, how long to
 * hold the name for that token (ms; 0: not at all). Changes it only if it is ours.
 */
export const RELEASE_NAME_SCRIPT = `
if redis.call('GET', KEYS[1]) ~= ARGV[1] .. ' ' .. ARGV[2] .. ' ' .. ARGV[3] then return 0 end
if tonumber(ARGV[4]) > 0 then redis.call('SET', KEYS[1], 'held - ' .. ARGV[3], 'PX', ARGV[4])
else redis.call('DEL', KEYS[1]) end
return 0`;

/** KEYS: a room's sequence key. ARGV: a number it must be at least. */
export const RAISE_SCRIPT = `
local current = tonumber(redis.call('GET', KEYS[1]) or '0')
if current < tonumber(ARGV[1]) then redis.call('SET', KEYS[1], ARGV[1]) end
return 0`;
