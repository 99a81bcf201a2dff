package redisstore

import (
	"context"

	"github.com/redis/go-redis/v9"
)

// The scripts spell the metadata field names of redisstore.go
// (fieldCreated, fieldExpires, fieldVersion, fieldOwner, fieldIndexed) as
// "\255c", "\255e", "\255v", "\255o" and "\255i": Lua's decimal escape for
// the byte 0xff. Arguments are sent in chunks of at most 200 to stay well
// inside Lua's limit on unpack. Times are Unix milliseconds; Lua numbers
// (doubles) hold them exactly, and string.format('%.0f') writes them back
// without an exponent.

// createScript writes a new session unless a live one has the key.
//
//	KEYS[1]  the session hash
//	ARGV[1]  now
//	ARGV[2]  created
//	ARGV[3]  expires
//	ARGV[4]  owner, or "" for none
//	ARGV[5]  score of the owner-index entry written beside the script
//	ARGV[6…] field, value pairs
//
// It returns 1 when it wrote the session and 0 when a live one exists.
var createScript = redis.NewScript(`
local key = KEYS[1]
local e = tonumber(redis.call('HGET', key, '\255e'))
if e and e > tonumber(ARGV[1]) then
  return 0
end
redis.call('DEL', key)
redis.call('HSET', key, '\255c', ARGV[2], '\255e', ARGV[3], '\255v', '1')
if ARGV[4] ~= '' then
  redis.call('HSET', key, '\255o', ARGV[4], '\255i', ARGV[5])
end
local i, last = 6, #ARGV
while i <= last do
  local j = math.min(i + 199, last)
  redis.call('HSET', key, unpack(ARGV, i, j))
  i = j + 1
end
redis.call('PEXPIREAT', key, ARGV[3])
return 1
`)

// updateScript applies a change to a live session, adds 1 to its version
// and writes nothing when the session is missing or expired.
//
//	KEYS[1]  the session hash
//	ARGV[1]  now
//	ARGV[2]  new expiry, or "" to keep it
//	ARGV[3]  owner mode: "k" keep, "c" clear, "s" set to ARGV[4]
//	ARGV[4]  the new owner (mode "s")
//	ARGV[5]  score of the owner-index entry written beside the script
//	         (mode "s")
//	ARGV[6]  n, the number of fields to set
//	ARGV[7 … 6+2n]  field, value pairs to set
//	ARGV[7+2n …]    fields to remove
//
// It returns {0} when the session is gone and {version} after the change.
// When the session has an owner and its expiry has passed the score its
// owner-index entry is known to hold ("\255i"), it records a new score
// (expiry plus a slack, see indexScore in owner.go, whose constants it
// repeats) and returns {version, owner, score}: the caller then raises the
// index entry to that score. The PEXPIREAT comes last, so an expiry in the
// past deletes the whole hash.
var updateScript = redis.NewScript(`
local key = KEYS[1]
local now = tonumber(ARGV[1])
local e = tonumber(redis.call('HGET', key, '\255e'))
if not e or e <= now then
  return {0}
end
local last = 6 + 2 * tonumber(ARGV[6])
local i = 7
while i <= last do
  local j = math.min(i + 199, last)
  redis.call('HSET', key, unpack(ARGV, i, j))
  i = j + 1
end
i = last + 1
while i <= #ARGV do
  local j = math.min(i + 199, #ARGV)
  redis.call('HDEL', key, unpack(ARGV, i, j))
  i = j + 1
end
if ARGV[2] ~= '' then
  redis.call('HSET', key, '\255e', ARGV[2])
  e = tonumber(ARGV[2])
end
local v = redis.call('HINCRBY', key, '\255v', 1)
if ARGV[3] == 'c' then
  redis.call('HDEL', key, '\255o', '\255i')
elseif ARGV[3] == 's' then
  redis.call('HSET', key, '\255o', ARGV[4], '\255i', ARGV[5])
end
local res = {v}
local o = redis.call('HGET', key, '\255o')
if o then
  local idx = tonumber(redis.call('HGET', key, '\255i'))
  if not idx or e > idx then
    local slack = math.min(math.max(4 * (e - now), 3600000), 604800000)
    local score = string.format('%.0f', e + slack)
    redis.call('HSET', key, '\255i', score)
    res = {v, o, tonumber(score)}
  end
end
if ARGV[2] ~= '' then
  redis.call('PEXPIREAT', key, ARGV[2])
end
return res
`)

// deleteScript deletes a session and returns its owner (nil for none).
//
//	KEYS[1]  the session hash
var deleteScript = redis.NewScript(`
local key = KEYS[1]
local o = false
if redis.call('TYPE', key).ok == 'hash' then
  o = redis.call('HGET', key, '\255o')
end
redis.call('DEL', key)
return o
`)

// indexScript adds or raises one entry of an owner index, drops the
// entries whose score has passed, and moves the index's PEXPIREAT to its
// highest score. An entry's score never goes down.
//
//	KEYS[1]  the owner's sorted set
//	ARGV[1]  now
//	ARGV[2]  the member (a session key)
//	ARGV[3]  its score
var indexScript = redis.NewScript(`
local key = KEYS[1]
local old = tonumber(redis.call('ZSCORE', key, ARGV[2]))
if not old or old < tonumber(ARGV[3]) then
  redis.call('ZADD', key, ARGV[3], ARGV[2])
end
redis.call('ZREMRANGEBYSCORE', key, '-inf', ARGV[1])
local top = redis.call('ZRANGE', key, -1, -1, 'WITHSCORES')
if top[2] then
  redis.call('PEXPIREAT', key, string.format('%.0f', tonumber(top[2])))
end
return 1
`)

// unconfirmScript forgets the score recorded in a session for its
// owner-index entry when it is still ARGV[1], so that the session's next
// Update writes the entry again.
//
//	KEYS[1]  the session hash
//	ARGV[1]  the score that could not be written to the index
var unconfirmScript = redis.NewScript(`
if redis.call('HGET', KEYS[1], '\255i') == ARGV[1] then
  redis.call('HDEL', KEYS[1], '\255i')
end
return 1
`)

// call is one script call of [Store.run]; cmd holds its result after the
// run.
type call struct {
	script *redis.Script
	keys   []string
	args   []any
	cmd    *redis.Cmd
}

// run sends the calls that are not nil: a single one as one command, more
// in one pipeline (one round trip). Each call runs by EVALSHA; a call a
// server answers NOSCRIPT (it has not cached the script, so the call did
// nothing) is sent again with the script's source. The results are in
// each call's cmd.
func (s *Store) run(ctx context.Context, calls ...*call) {
	live := calls[:0:0]
	for _, c := range calls {
		if c != nil {
			live = append(live, c)
		}
	}
	if len(live) == 1 {
		c := live[0]
		c.cmd = c.script.Run(ctx, s.client, c.keys, c.args...)
		return
	}
	pipe := s.client.Pipeline()
	for _, c := range live {
		c.cmd = c.script.EvalSha(ctx, pipe, c.keys, c.args...)
	}
	_, _ = pipe.Exec(ctx) // each command keeps its own error
	for _, c := range live {
		if redis.HasErrorPrefix(c.cmd.Err(), "NOSCRIPT") {
			c.cmd = c.script.Eval(ctx, s.client, c.keys, c.args...)
		}
	}
}
