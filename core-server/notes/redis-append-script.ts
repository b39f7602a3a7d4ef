/**
 * The Redis note store's one write: append a note, apply the limits, read the location's list, in
 * one Lua script (one round trip, atomic: no other command runs between its steps, on any core).
 *
 * Keys (under the deployment's prefix P):
 *   P loc:LAT,LNG  list of "SEQ:MESSAGE", oldest first (one per location)
 *   P order        sorted set of "SEQ|LAT,LNG" scored by SEQ: the oldest note anywhere is its minimum
 *   P stats        hash: notes, bytes, locations (the totals the limits compare against)
 *   P seq          counter giving every note its place in the deployment-wide order
 * A note evicted by its location's cap leaves the order set at once (ZREM), so the set holds
 * exactly the live notes and needs no compaction, unlike the memory store's FIFO.
 *
 * `#!lua` (Redis 7 function flags, none set) makes Redis refuse the whole script before it runs
 * when it could not write (out of memory, a read-only replica after a failover) instead of failing
 * at its first write. Every key's type is checked before the first write, and the eviction loop
 * reads other locations with pcall, so the script cannot fail half-way: a note is stored with its
 * order entry and totals, or not at all.
 *
 * The script also PUBLISHes the note on the live-notes channel (P notes), which every core's note
 * bus subscribes to: inside the script, the publications follow the store's order exactly,
 * whichever core ran each append, and a note that was not stored is never published.
 *
 * Idempotent appends (note-dedup.ts) add a fifth key, the producer session's records:
 *   P dedup:SESSION  hash of SEQUENCE -> "STORESEQ|DIGEST" (STORESEQ: the note's SEQ above)
 * A recorded SEQUENCE with the same digest is a resend: the script writes nothing but the hash's
 * TTL, publishes nothing, and answers the location's notes still held up to STORESEQ, ending with
 * the note (re-made from the request once evicted). Otherwise the note is appended as above and
 * its record written in the same script: a note and its record exist together or not at all.
 * Recording SEQUENCE also forgets SEQUENCE - window (the caller passes that field, or '').
 * The session's hash is checked by its first use (HGET, before any write), not by TYPE.
 *
 * KEYS: loc, order, stats, seq[, session]. ARGV: message, LAT,LNG, max per location, max total
 * notes, max total bytes, the location key prefix (P loc:), the live-notes channel and the note as
 * published there (live-note-wire.ts)[, then with a session: SEQUENCE, digest, TTL in ms, the field
 * to forget]. Returns {{notes, bytes, locations}, list, outcome}, outcome 'stored', 'duplicate'
 * or 'conflict' (the SEQUENCE is recorded for another digest; nothing written, list empty).
 */
export const APPEND_NOTE_LUA = `#!lua
local loc, order, stats, seqKey, session = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5]
local message, id = ARGV[1], ARGV[2]
local maxPer, maxTotal, maxBytes = tonumber(ARGV[3]), tonumber(ARGV[4]), tonumber(ARGV[5])
local locPrefix = ARGV[6]
local liveChannel, liveNote = ARGV[7], ARGV[8]
local sequence, digest, ttl, forget = ARGV[9], ARGV[10], ARGV[11], ARGV[12]

-- The session's hash needs no check here: HGET reads it before the first write, and fails the
-- whole script on a wrong type just as this check would.
local expected = { [loc] = 'list', [order] = 'zset', [stats] = 'hash', [seqKey] = 'string' }
for key, kind in pairs(expected) do
  local actual = redis.call('TYPE', key).ok
  if actual ~= 'none' and actual ~= kind then
    return redis.error_reply('WRONGTYPE note store key ' .. key .. ' holds a ' .. actual)
  end
end
local totals = redis.call('HMGET', stats, 'notes', 'bytes', 'locations')
local notes = tonumber(totals[1]) or 0
local bytes = tonumber(totals[2]) or 0
local locations = tonumber(totals[3]) or 0

if session then
  local record = redis.call('HGET', session, sequence)
  if record then
    local bar = string.find(record, '|', 1, true)
    local first = string.sub(record, 1, bar - 1)
    if string.sub(record, bar + 1) ~= digest then return { { notes, bytes, locations }, {}, 'conflict' } end
    -- A resend keeps its session's records alive like a new note does.
    redis.call('PEXPIRE', session, ttl)
    local firstSeq, reply, last = tonumber(first), {}, nil
    for _, entry in ipairs(redis.call('LRANGE', loc, 0, -1)) do
      local entrySeq = tonumber(string.sub(entry, 1, string.find(entry, ':', 1, true) - 1))
      if entrySeq > firstSeq then break end
      reply[#reply + 1] = entry
      last = entrySeq
    end
    if last ~= firstSeq then reply[#reply + 1] = first .. ':' .. message end
    return { { notes, bytes, locations }, reply, 'duplicate' }
  end
end

local seq = string.format('%d', redis.call('INCR', seqKey))
if redis.call('RPUSH', loc, seq .. ':' .. message) == 1 then locations = locations + 1 end
redis.call('ZADD', order, seq, seq .. '|' .. id)
notes = notes + 1
bytes = bytes + #message

-- The location's own cap: its oldest notes go first (never the new one: maxPer >= 1).
while redis.call('LLEN', loc) > maxPer do
  local old = redis.call('LPOP', loc)
  local colon = string.find(old, ':', 1, true)
  redis.call('ZREM', order, string.sub(old, 1, colon - 1) .. '|' .. id)
  notes = notes - 1
  bytes = bytes - (#old - colon)
end

-- The totals: the oldest note anywhere goes first; the byte cap never evicts the last note.
while notes > maxTotal or (bytes > maxBytes and notes > 1) do
  local popped = redis.call('ZPOPMIN', order)
  if #popped == 0 then break end
  local member = popped[1]
  local bar = string.find(member, '|', 1, true)
  local oldSeq, key = string.sub(member, 1, bar - 1), locPrefix .. string.sub(member, bar + 1)
  local head = redis.pcall('LINDEX', key, 0)
  if type(head) == 'string' and string.sub(head, 1, #oldSeq + 1) == oldSeq .. ':' then
    redis.call('LPOP', key)
    notes = notes - 1
    bytes = bytes - (#head - #oldSeq - 1)
    if redis.call('LLEN', key) == 0 then locations = locations - 1 end
  end
end

redis.call('HSET', stats, 'notes', notes, 'bytes', bytes, 'locations', locations)
if session then
  -- Forget first: a hash that never holds more than the window (128 by default) stays a listpack.
  if forget ~= '' then redis.call('HDEL', session, forget) end
  redis.call('HSET', session, sequence, seq .. '|' .. digest)
  redis.call('PEXPIRE', session, ttl)
end
redis.call('PUBLISH', liveChannel, liveNote)
return { { notes, bytes, locations }, redis.call('LRANGE', loc, 0, -1), 'stored' }
`;
