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
/**
 * A room's shared history: a sorted set of batches, each `{"batch":"<instance>:<n>","said":[…]}`
 * (events without their seq), scored by the last number in it: the batch's events are numbered up
 * to its score.
 */
export const historyKey = (room: string) => `${PREFIX}history:${room}`;
export const HISTORY_PATTERN = `${PREFIX}history:*`;
/** Who is in a room: a hash from address to `{instance, user}` (JSON). */
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
 * batch is published as a header, `{"instance":…,"batch":n,"first":[N,…]}`, with each room's
 * first number, followed at once by each room's events, `{"batch":"<instance>:<n>","said":[…]}`,
 * in the same order. Nothing comes between them: a script runs alone.
 *
 * KEYS: the channel, then for each room its sequence key and its history key.
 * ARGV: this instance's id, the batch's number, how many events to keep per room, then for each
 * room: the lowest seq allowed (one past what this instance has seen, so numbering never goes back
 * after it served alone while Redis was down), how many events it has, and the events.
 */
export const SAY_SCRIPT = `
local keep = tonumber(ARGV[3])
local firsts = {}
for k = 2, #KEYS, 2 do
  local at = 4 + (k / 2 - 1) * 3
  local floor, count = tonumber(ARGV[at]), tonumber(ARGV[at + 1])
  local last = redis.call('INCRBY', KEYS[k], count)
  if last - count + 1 < floor then
    last = floor + count - 1
    redis.call('SET', KEYS[k], last)
  end
  firsts[#firsts + 1] = last - count + 1
  redis.call('ZADD', KEYS[k + 1], last, ARGV[at + 2])
  redis.call('ZREMRANGEBYSCORE', KEYS[k + 1], '-inf', last - keep)
end
redis.call('PUBLISH', KEYS[1], '{"instance":"' .. ARGV[1] .. '","batch":' .. ARGV[2] .. ',"first":[' .. table.concat(firsts, ',') .. ']}')
for k = 2, #KEYS, 2 do
  redis.call('PUBLISH', KEYS[1], ARGV[4 + (k / 2 - 1) * 3 + 2])
end
return #firsts`;
/** Events numbered in one script call at most, to keep one publish a reasonable size. */
export const MAX_BATCH = 1000;

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
 * (`{"instance":…,"nameLost":{"instance":…,"address":…,"name":…}}`) to take it from its holder;
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
    redis.call('PUBLISH', KEYS[2], cjson.encode({instance = ARGV[1], nameLost = {instance = instance, address = address, name = ARGV[6]}}))
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

/** KEYS: a room's sequence key. ARGV: a number it must be at least. */
export const RAISE_SCRIPT = `
local current = tonumber(redis.call('GET', KEYS[1]) or '0')
if current < tonumber(ARGV[1]) then redis.call('SET', KEYS[1], ARGV[1]) end
return 0`;
