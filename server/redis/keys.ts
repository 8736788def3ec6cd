/**
 * Where the chat keeps its shared state in Redis, and the Lua scripts that change it atomically.
 * Channels and keys are fixed by the server (a prefix and validated room names); nothing is
 * pattern-subscribed.
 */
import { nameSkeleton } from "../../common/lookalikes";
import { BATCH_HEADER_LUA, NAME_LOST_LUA } from "./envelopes";

export const PREFIX = "chat:";
/** Every instance publishes here and subscribes here. */
export const CHANNEL = `${PREFIX}events`;
/** A room's last sequence number. */
export const seqKey = (room: string) => `${PREFIX}seq:${room}`;
/**
 * A room's shared history: a sorted set of the room's entries of batches (envelopes.ts), scored by
 * the last number in each: an entry's events are numbered up to its score.
 */
export const HISTORY_PREFIX = `${PREFIX}history:`;
export const historyKey = (room: string) => `${HISTORY_PREFIX}${room}`;
/**
 * What the shared history takes, kept by SAY_SCRIPT: the rooms with history, scored by when their
 * keys' life was last renewed (ms since the epoch, about when they were last written); for each,
 * `<bytes> <that time>`; and the bytes of all of them together.
 */
export const HISTORY_ROOMS = `${PREFIX}history-rooms`;
export const HISTORY_BYTES = `${PREFIX}history-bytes`;
export const HISTORY_TOTAL = `${PREFIX}history-total`;
/** What a room with history takes besides its entries, by estimate: its place in the tallies. */
const ROOM_OVERHEAD = 160;
/** Who is in a room: a hash from address to a member entry (envelopes.ts): who, on which instance. */
export const membersKey = (room: string) => `${PREFIX}members:${room}`;
export const MEMBERS_PREFIX = `${PREFIX}members:`;
/**
 * Who holds a name (any case, any look-alike): `<instance> <address> <token hash> <claimed at>`,
 * or, for a person who left and may come back, `held - <token hash> <claimed at>`, expiring at the
 * end of the grace period. The claim's time (ms since the epoch, by the claiming instance's clock)
 * settles who keeps a name two instances gave while cut off from each other: the earlier claim.
 * (Values written before claims had a time have none; they count as the earliest.)
 */
export const nameKey = (name: string) => `${PREFIX}name:${nameSkeleton(name)}`;
/** Present while an instance is alive; it expires if the instance dies without a word. */
export const ALIVE_PREFIX = `${PREFIX}instance:`;
export const aliveKey = (instance: string) => `${ALIVE_PREFIX}${instance}`;

/**
 * Numbers a batch of events (what one instance heard in one turn of its event loop), keeps them in
 * the shared history and publishes them to every instance, in one step, so sequence numbers are
 * shared and every instance sees the messages in the same order. Each room's events are numbered
 * at once (one INCRBY) and kept as one entry of its history.
 *
 * Lua in Redis reads every byte of every string it makes (about 2 ns a byte here): a batch's
 * events pass through untouched, as the instance wrote them, one JSON string per room. So the
 * batch is published as a header with each room's first number, followed at once by each room's
 * entry, in the same order (envelopes.ts). Nothing comes between them: a script runs alone.
 *
 * History is bounded: per room, by events (--history) and by bytes (its entries, as MEMORY USAGE
 * counts them, the oldest let go first; the newest entry stays whatever its size); in all, by
 * bytes: past that, the rooms written least recently lose their history. Their numbering stays
 * (a sequence key is a few dozen bytes): taken away, it could start again under a batch already
 * on its way, or under an instance that remembers the room. A room's keys expire once it has been
 * idle for their time to live (none: they do not), and the rooms idle that long are forgotten
 * here. Each room counts ROOM_OVERHEAD bytes more than its entries, for its place in the tallies.
 * A room's time to live, and its place among the least recently written, are renewed every 64th
 * of that time (every minute without one), not on every batch: this script runs for every batch,
 * and each command in it costs a microsecond or two.
 *
 * KEYS: the channel, HISTORY_ROOMS, HISTORY_BYTES, HISTORY_TOTAL, then for each room its sequence
 * key and its history key.
 * ARGV: this instance's id, the batch's number, how many events to keep per room, bytes per room,
 * bytes in all, the time to live of an idle room's keys (ms; 0: none), the time now (ms), then
 * for each room: the lowest seq allowed (one past what this instance has seen, so numbering never
 * goes back after it served alone while Redis was down), how many events it has, its name, and
 * its entry.
 */
export const SAY_SCRIPT = `
local keep, roomCap, totalCap = tonumber(ARGV[3]), tonumber(ARGV[4]), tonumber(ARGV[5])
local ttl, now = tonumber(ARGV[6]), tonumber(ARGV[7])
local renewEvery = ttl > 0 and ttl / 64 or 60000
local firsts, written, grown = {}, {}, 0
local function tally(room)
  local bytes, renewed = string.match(redis.call('HGET', KEYS[3], room) or '', '^(%d+) (%d+)$')
  return tonumber(bytes) or 0, tonumber(renewed) or 0
end
local function usage(key)
  return (redis.call('MEMORY', 'USAGE', key, 'SAMPLES', '0') or 0) + ${ROOM_OVERHEAD}
end
local function trim(key)
  local bytes = usage(key)
  for _ = 1, 8 do
    if bytes <= roomCap then break end
    local entries = redis.call('ZCARD', key)
    if entries <= 1 then break end
    local drop = math.min(entries - 1, math.ceil(entries * (bytes - 0.9 * roomCap) / bytes))
    redis.call('ZREMRANGEBYRANK', key, 0, drop - 1)
    bytes = usage(key)
  end
  return bytes
end
local function forget(room)
  redis.call('DECRBY', KEYS[4], (tally(room)))
  redis.call('HDEL', KEYS[3], room)
  redis.call('ZREM', KEYS[2], room)
end
for k = 5, #KEYS, 2 do
  local at = 8 + (k - 5) * 2
  local floor, count, room = tonumber(ARGV[at]), tonumber(ARGV[at + 1]), ARGV[at + 2]
  local last = redis.call('INCRBY', KEYS[k], count)
  if last - count + 1 < floor then
    last = floor + count - 1
    redis.call('SET', KEYS[k], last, 'KEEPTTL')
  end
  firsts[#firsts + 1] = last - count + 1
  redis.call('ZADD', KEYS[k + 1], last, ARGV[at + 3])
  redis.call('ZREMRANGEBYSCORE', KEYS[k + 1], '-inf', last - keep)
  local bytes = trim(KEYS[k + 1])
  local before, renewed = tally(room)
  if now - renewed >= renewEvery then
    renewed = now
    redis.call('ZADD', KEYS[2], now, room)
    if ttl > 0 then
      redis.call('PEXPIRE', KEYS[k], ttl)
      redis.call('PEXPIRE', KEYS[k + 1], ttl)
    end
  end
  redis.call('HSET', KEYS[3], room, bytes .. ' ' .. renewed)
  grown = grown + bytes - before
  written[room] = true
end
if ttl > 0 and tonumber(ARGV[2]) % 64 == 0 then
  for _, room in ipairs(redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', now - ttl, 'LIMIT', 0, 100)) do forget(room) end
end
local total = redis.call('INCRBY', KEYS[4], grown)
for _ = 1, 100 do
  if total <= totalCap then break end
  local oldest = redis.call('ZRANGE', KEYS[2], 0, 0)[1]
  if not oldest or written[oldest] then break end
  redis.call('DEL', '${HISTORY_PREFIX}' .. oldest)
  total = total - tally(oldest)
  forget(oldest)
end
redis.call('PUBLISH', KEYS[1], ${BATCH_HEADER_LUA})
for k = 5, #KEYS, 2 do
  redis.call('PUBLISH', KEYS[1], ARGV[8 + (k - 5) * 2 + 3])
end
return #firsts`;
/** Events numbered in one script call at most, to keep one publish a reasonable size. */
export const MAX_BATCH = 1000;
/**
 * Bytes of events (their JSON) in one script call at most. Redis runs a script alone, and Lua
 * reads every byte it is given: one call with a whole flood (4 MB of 64 KB messages: 33 ms) made
 * every other instance wait. A larger event goes alone.
 */
export const MAX_BATCH_BYTES = 256 * 1024;

/** A name key's value, in Lua: holder (an instance, or `held`), address, token hash, claim time (may be empty). */
const HOLDER = `local instance, address, token, at = string.match(redis.call('GET', KEYS[1]) or '', '^(%S+) (%S+) (%S+) ?(%d*)$')`;

/**
 * KEYS: the name's key. ARGV: this instance, the claimer's address, the prefix of liveness keys,
 * the claimer's token hash, the time of the claim. The same person (the same token) always gets
 * their name back: their old connection is gone, even if its instance does not know yet (it was
 * killed a moment ago). Otherwise the name is taken while it is held for someone's return, or held
 * by another instance that is alive. (Within one instance, the instance itself keeps names
 * unique.) Returns "taken", "held <ms>" for a name held for someone's return that long, or false
 * when the name is now the claimer's.
 */
export const CLAIM_NAME_SCRIPT = `
${HOLDER}
if instance and token ~= ARGV[4] then
  if instance == 'held' then return 'held ' .. redis.call('PTTL', KEYS[1]) end
  if instance ~= ARGV[1] and redis.call('EXISTS', ARGV[3] .. instance) == 1 then return 'taken' end
end
redis.call('SET', KEYS[1], ARGV[1] .. ' ' .. ARGV[2] .. ' ' .. ARGV[4] .. ' ' .. ARGV[5])
return false`;

/**
 * Registers a name given while Redis was away (or again after Redis lost it), and settles a
 * conflict: two instances cut off from each other may both have given it. The earlier claim keeps
 * it (on equal times, the instance whose id sorts first). If that is this one, the name becomes
 * its holder's, and the other holder's instance is told on the channel
 * (a name lost, envelopes.ts) to take it from its holder;
 * if not, "lost": this instance takes it from its own. The same token is the same person: no
 * conflict. A holder on an instance that is no longer alive has no claim left.
 *
 * KEYS: the name's key, the channel. ARGV: this instance, the holder's address, its token hash,
 * the time of its claim, the prefix of liveness keys, the name. Returns "lost" or "kept".
 */
export const REGISTER_NAME_SCRIPT = `
${HOLDER}
if instance and instance ~= ARGV[1] and token ~= ARGV[3] and (instance == 'held' or redis.call('EXISTS', ARGV[5] .. instance) == 1) then
  local theirs, ours = tonumber(at) or 0, tonumber(ARGV[4])
  if theirs < ours or (theirs == ours and instance < ARGV[1]) then return 'lost' end
  if instance ~= 'held' then
    redis.call('PUBLISH', KEYS[2], ${NAME_LOST_LUA})
  end
end
redis.call('SET', KEYS[1], ARGV[1] .. ' ' .. ARGV[2] .. ' ' .. ARGV[3] .. ' ' .. ARGV[4])
return 'kept'`;

/**
 * KEYS: the name's key. ARGV: this instance, the holder's address, its token hash, how long to
 * hold the name for that token (ms; 0: not at all). Changes it only if it is ours. A held name
 * keeps its claim's time.
 */
export const RELEASE_NAME_SCRIPT = `
${HOLDER}
if instance ~= ARGV[1] or address ~= ARGV[2] or token ~= ARGV[3] then return 0 end
if tonumber(ARGV[4]) > 0 then redis.call('SET', KEYS[1], 'held - ' .. token .. ' ' .. (at == '' and '0' or at), 'PX', ARGV[4])
else redis.call('DEL', KEYS[1]) end
return 0`;

/** KEYS: a room's sequence key. ARGV: a number it must be at least, the time to live of an idle room's keys (ms; 0: none). */
export const RAISE_SCRIPT = `
local current = tonumber(redis.call('GET', KEYS[1]) or '0')
if current < tonumber(ARGV[1]) then
  if tonumber(ARGV[2]) > 0 then redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
  else redis.call('SET', KEYS[1], ARGV[1]) end
end
return 0`;

/**
 * Removes one message from a room's shared history and tells every instance. The entry holding it
 * (the first scored at or above its number: entries are scored by their last) has the message
 * replaced by null, which readers skip while still counting its place, so the numbers of the
 * others stay as they were. KEYS: the room's history key, the channel. ARGV: the message's number,
 * the envelope to publish (envelopes.ts). Returns 1 if the message was found.
 */
export const DELETE_SCRIPT = `
local seq = tonumber(ARGV[1])
local found = redis.call('ZRANGEBYSCORE', KEYS[1], seq, '+inf', 'WITHSCORES', 'LIMIT', 0, 1)
local removed = 0
if found[1] then
  local entry, last = found[1], tonumber(found[2])
  local ok, decoded = pcall(cjson.decode, entry)
  if ok and type(decoded) == 'table' and type(decoded.said) == 'table' then
    local index = #decoded.said - (last - seq)
    if index >= 1 and decoded.said[index] ~= cjson.null then
      decoded.said[index] = cjson.null
      redis.call('ZREM', KEYS[1], entry)
      redis.call('ZADD', KEYS[1], last, cjson.encode(decoded))
      removed = 1
    end
  end
end
redis.call('PUBLISH', KEYS[2], ARGV[2])
return removed`;
