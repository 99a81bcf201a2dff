package redisstore

// The scripts of Move (see move.go). They start with luaLib (scripts.go).

// moveScript moves a session in one step, on a single server (both keys
// and the owner's index on one server).
//
//	KEYS[1]  the session hash to move
//	KEYS[2]  the new session hash
//	KEYS[3]  the sorted set of the owner ARGV[6] (absent when ARGV[6] is "")
//	ARGV[1]  now
//	ARGV[2]  the new expiry
//	ARGV[3]  owner mode: "k" keep, "c" clear, "s" set to ARGV[4]
//	ARGV[4]  the new owner (mode "s")
//	ARGV[5]  score of the new owner-index entry
//	ARGV[6]  the owner whose index is KEYS[3], or ""
//	ARGV[7]  the session key moved (its index entry's member)
//	ARGV[8]  the new session key
//	ARGV[9…] the change (see luaLib's change)
//
// It answers {0} when the session is gone (missing, expired, frozen),
// {-1} or {-2} when a condition fails, {-3} when the record is corrupt,
// {-4} when a live session has the new key, {-5, owner} when the new
// record's owner is not ARGV[6] (the caller sends the call again with
// that owner's index) and, after the move, {1, created, old owner or "",
// field, value, ...} with the moved record's fields. It writes nothing
// unless it answers 1. The old owner-index entry is removed when the old
// owner is the new one; otherwise the caller removes it.
var moveScript = script(`
local from, to = KEYS[1], KEYS[2]
local now = tonumber(ARGV[1])
local st, m, f = load(from, now)
if st == 'corrupt' then return {-3} end
if st ~= 'live' then return {0} end
local created = m['\255c']
local c = change(9)
local code = check(f, c)
if code then return {code} end
local ts = load(to, now)
if ts == 'live' or ts == 'moving' then return {-4} end
local old = m['\255o'] or false
if old == '' then old = false end
local o = old
if ARGV[3] == 'c' then o = false elseif ARGV[3] == 's' then o = ARGV[4] end
if o and o ~= ARGV[6] then return {-5, o} end
f = apply(f, c)
local list = {}
for k, v in pairs(f) do
  list[#list + 1] = k
  list[#list + 1] = v
end
redis.call('DEL', to)
redis.call('HSET', to, '\255c', created, '\255e', ARGV[2], '\255v', '1')
hset(to, list)
if o then
  redis.call('HSET', to, '\255o', o, '\255i', ARGV[5])
  if old == o then redis.call('ZREM', KEYS[3], ARGV[7]) end
  index(KEYS[3], ARGV[8], ARGV[5], ARGV[1])
end
redis.call('PEXPIREAT', to, ARGV[2])
redis.call('DEL', from)
local res = {1, created, old or ''}
for i = 1, #list do res[#res + 1] = list[i] end
return res
`)

// freezeScript is step 1 of a Move on a Cluster: it checks that the
// session is live and that the change's conditions hold, then freezes it
// (from now on it reads as gone) until the Move finishes or the freeze
// ends, and returns its data.
//
//	KEYS[1]  the session hash to move
//	ARGV[1]  now
//	ARGV[2]  when the freeze ends at the latest
//	ARGV[3]  the Move's token
//	ARGV[4…] the change (see luaLib's change)
//
// It answers {code} as moveScript does (0, -1, -2, -3) and writes
// nothing, or {1, created, owner or "", field, value, ...} with the
// session's fields before the change. Frozen, the hash holds the token
// ("\255m") and its expiry before the freeze ("\255h"); its expiry
// ("\255e" and PEXPIREAT) is cut to ARGV[2] when that comes first.
var freezeScript = script(`
local key = KEYS[1]
local now = tonumber(ARGV[1])
local st, m, f = load(key, now)
if st == 'corrupt' then return {-3} end
if st ~= 'live' then return {0} end
local e, created = m['\255e'], m['\255c']
local c = change(4)
local code = check(f, c)
if code then return {code} end
local hold = e
if tonumber(ARGV[2]) < tonumber(e) then hold = ARGV[2] end
redis.call('HSET', key, '\255m', ARGV[3], '\255h', e, '\255e', hold)
redis.call('PEXPIREAT', key, hold)
local res = {1, created, m['\255o'] or ''}
for k, v in pairs(f) do
  res[#res + 1] = k
  res[#res + 1] = v
end
return res
`)

// finishScript is the last step of a Move on a Cluster: it deletes the
// old session if it is still frozen by this Move.
//
//	KEYS[1]  the session hash moved
//	ARGV[1]  the Move's token
//
// It answers 1 when it deleted the session, 0 when the session is gone
// (deleted, or its freeze ended) or is not frozen by this Move.
var finishScript = script(`
if redis.call('TYPE', KEYS[1]).ok ~= 'hash' or redis.call('HGET', KEYS[1], '\255m') ~= ARGV[1] then
  return 0
end
redis.call('DEL', KEYS[1])
return 1
`)

// thawScript undoes a freeze (a Move on a Cluster that gave up): when the
// session is still frozen by this Move, it gets back its expiry and
// reads as live again.
//
//	KEYS[1]  the session hash
//	ARGV[1]  the Move's token
//
// It answers 1 when it thawed the session, else 0.
var thawScript = script(`
local key = KEYS[1]
if redis.call('TYPE', key).ok ~= 'hash' or redis.call('HGET', key, '\255m') ~= ARGV[1] then
  return 0
end
local e = redis.call('HGET', key, '\255h')
redis.call('HDEL', key, '\255m', '\255h')
if ms(e) then
  redis.call('HSET', key, '\255e', e)
  redis.call('PEXPIREAT', key, e)
end
return 1
`)

// dropScript deletes the record a Move on a Cluster wrote under the new
// key, when the Move gives up: only if the record carries the Move's
// token ("\255t"), so that nothing else is ever deleted.
//
//	KEYS[1]  the new session hash
//	ARGV[1]  the Move's token
//
// It answers 1 when it deleted the record, else 0.
var dropScript = script(`
if redis.call('TYPE', KEYS[1]).ok ~= 'hash' or redis.call('HGET', KEYS[1], '\255t') ~= ARGV[1] then
  return 0
end
redis.call('DEL', KEYS[1])
return 1
`)
