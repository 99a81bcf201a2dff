package redisstore

import "github.com/redis/go-redis/v9"

// The scripts spell the metadata field names of redisstore.go
// (fieldCreated, fieldExpires) as "\255c" and "\255e": Lua's decimal
// escape for the byte 0xff. Arguments are sent in chunks of at most 200 to
// stay well inside Lua's limit on unpack.

// createScript writes a new session unless a live one has the key.
//
//	KEYS[1]  the session hash
//	ARGV[1]  now, Unix ms
//	ARGV[2]  created, Unix ms
//	ARGV[3]  expires, Unix ms
//	ARGV[4…] field, value pairs
//
// It returns 1 when it wrote the session and 0 when a live one exists.
var createScript = redis.NewScript(`
local key = KEYS[1]
local e = tonumber(redis.call('HGET', key, '\255e'))
if e and e > tonumber(ARGV[1]) then
  return 0
end
redis.call('DEL', key)
redis.call('HSET', key, '\255c', ARGV[2], '\255e', ARGV[3])
local i, last = 4, #ARGV
while i <= last do
  local j = math.min(i + 199, last)
  redis.call('HSET', key, unpack(ARGV, i, j))
  i = j + 1
end
redis.call('PEXPIREAT', key, ARGV[3])
return 1
`)

// updateScript applies a change to a live session and writes nothing when
// the session is missing or expired.
//
//	KEYS[1]  the session hash
//	ARGV[1]  now, Unix ms
//	ARGV[2]  new expiry, Unix ms, or "" to keep it
//	ARGV[3]  n, the number of fields to set
//	ARGV[4 … 3+2n]  field, value pairs to set
//	ARGV[4+2n …]    fields to remove (after the sets, so removal wins)
//
// It returns 1 when it applied the change and 0 when the session is gone.
var updateScript = redis.NewScript(`
local key = KEYS[1]
local e = tonumber(redis.call('HGET', key, '\255e'))
if not e or e <= tonumber(ARGV[1]) then
  return 0
end
local last = 3 + 2 * tonumber(ARGV[3])
local i = 4
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
  redis.call('PEXPIREAT', key, ARGV[2])
end
return 1
`)
