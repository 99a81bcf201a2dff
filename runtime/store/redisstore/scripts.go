package redisstore

import (
	"context"

	"github.com/redis/go-redis/v9"

	"github.com/sessiongen/sessiongen/runtime/store"
)

// The scripts spell the metadata field names of redisstore.go
// (fieldCreated, fieldExpires, fieldVersion, fieldOwner, fieldIndexed,
// fieldMoving, fieldMovedIn) as "\255c", "\255e", "\255v", "\255o",
// "\255i", "\255m" and "\255t": Lua's decimal escape for the byte 0xff.
// Arguments are sent in chunks of at most 200 to stay well inside Lua's
// limit on unpack. Times are Unix milliseconds; Lua numbers (doubles)
// hold them exactly, and string.format('%.0f') writes them back without
// an exponent.
//
// Every script starts with luaLib, so they all read a session the same
// way as the Go code in record.go does.

// luaLib holds the functions the scripts share:
//
//   - ms(v), ver(v): v parsed as a time (an optional '-' and at most 15
//     digits) or a version (at most 18 digits), or nil: Lua's tonumber
//     alone would take "nan", "0x1f" or " 7" (see parseMillis and
//     parseVersion in record.go);
//   - valid(k): whether k is a session field name (not empty, valid
//     UTF-8, no control character; see validField in record.go).
//     Metadata names start with the byte 0xff and are never valid;
//   - load(key, now): the session read with one HGETALL: its state,
//     'none', 'corrupt' (not a hash, or metadata record.go would refuse),
//     'expired', 'moving' (frozen by a Move, see move.go) or 'live', and
//     for the last two its metadata fields by name (the stored strings)
//     and its fields (valid names only) as a table. Any error but
//     WRONGTYPE from HGETALL fails the script;
//   - inc(v): the version v (digits) plus one, exactly, as a string;
//   - change(first): the change encoded from ARGV[first] on (see
//     changeArgs in redisstore.go): its size limit, the fields to set,
//     the expectations and the fields to remove;
//   - check(f, c): the conditions of c against the session of fields f:
//     nil, or the code -1 (an expectation failed) or -2 (too large), as
//     store.Change.Check;
//   - apply(f, c): f with c's removals then its sets applied;
//   - hset(key, list): HSET of a flat name, value list in chunks;
//   - index(set, member, score, now): indexScript's work (see there).
const luaLib = `
local function ms(v)
  if type(v) ~= 'string' then return nil end
  local d = string.match(v, '^%-?(%d+)$')
  if not d or #d > 15 then return nil end
  return tonumber(v)
end
local function ver(v)
  if type(v) ~= 'string' then return nil end
  local d = string.match(v, '^(%d+)$')
  if not d or #d > 18 then return nil end
  return tonumber(v)
end
local function valid(k)
  local n = #k
  if n == 0 then return false end
  if not string.find(k, '[^\32-\126]') then return true end
  local i = 1
  while i <= n do
    local b = string.byte(k, i)
    if b < 32 or b == 127 then return false end
    if b < 128 then
      i = i + 1
    else
      local len, lo, hi = 0, 128, 191
      if b >= 194 and b <= 223 then
        len = 2
      elseif b >= 224 and b <= 239 then
        len = 3
        if b == 224 then lo = 160 elseif b == 237 then hi = 159 end
      elseif b >= 240 and b <= 244 then
        len = 4
        if b == 240 then lo = 144 elseif b == 244 then hi = 143 end
      else
        return false
      end
      if i + len - 1 > n then return false end
      local c = string.byte(k, i + 1)
      if c < lo or c > hi then return false end
      for j = i + 2, i + len - 1 do
        c = string.byte(k, j)
        if c < 128 or c > 191 then return false end
      end
      i = i + len
    end
  end
  return true
end
local function load(key, now)
  local all = redis.pcall('HGETALL', key)
  if all.err then
    if string.sub(all.err, 1, 9) == 'WRONGTYPE' then return 'corrupt' end
    error(all)
  end
  if #all == 0 then return 'none' end
  local m, f = {}, {}
  for i = 1, #all, 2 do
    local k, v = all[i], all[i + 1]
    if string.byte(k) == 255 then
      m[k] = v
    elseif valid(k) then
      f[k] = v
    end
  end
  local e = ms(m['\255e'])
  if not e or e <= 0 then return 'corrupt' end
  if e <= now then return 'expired' end
  if not ms(m['\255c']) or not ver(m['\255v']) then return 'corrupt' end
  if m['\255m'] then return 'moving', m, f end
  return 'live', m, f
end
local function inc(v)
  local i = #v
  while i > 0 and string.byte(v, i) == 57 do i = i - 1 end
  local nines = string.rep('0', #v - i)
  if i == 0 then return '1' .. nines end
  return string.sub(v, 1, i - 1) .. string.char(string.byte(v, i) + 1) .. nines
end
local function change(first)
  local c = {max = tonumber(ARGV[first]), set = {}, expect = {}, remove = {}}
  local nset, nexp = tonumber(ARGV[first + 1]), tonumber(ARGV[first + 2])
  local i = first + 3
  for j = 1, 2 * nset do c.set[j] = ARGV[i]; i = i + 1 end
  for j = 1, 2 * nexp do c.expect[j] = ARGV[i]; i = i + 1 end
  while i <= #ARGV do c.remove[#c.remove + 1] = ARGV[i]; i = i + 1 end
  return c
end
local function check(f, c)
  for i = 1, #c.expect, 2 do
    local k, want = c.expect[i], c.expect[i + 1]
    local got = f[k]
    if want == '' then
      if got then return -1 end
    elseif got ~= want then
      return -1
    end
  end
  if c.max > 0 and #c.set > 0 then
    local before = 0
    for k, v in pairs(f) do before = before + #k + #v end
    local after, gone = before, {}
    for _, k in ipairs(c.remove) do
      if f[k] and not gone[k] then
        after = after - #k - #f[k]
        gone[k] = true
      end
    end
    for i = 1, #c.set, 2 do
      local k, v = c.set[i], c.set[i + 1]
      if f[k] and not gone[k] then after = after - #k - #f[k] end
      after = after + #k + #v
    end
    if after > c.max and after > before then return -2 end
  end
  return nil
end
local function apply(f, c)
  for _, k in ipairs(c.remove) do f[k] = nil end
  for i = 1, #c.set, 2 do f[c.set[i]] = c.set[i + 1] end
  return f
end
local function hset(key, list)
  local i, last = 1, #list
  while i <= last do
    local j = math.min(i + 199, last)
    redis.call('HSET', key, unpack(list, i, j))
    i = j + 1
  end
end
local function index(set, member, score, now)
  local old = tonumber(redis.call('ZSCORE', set, member))
  if not old or old < tonumber(score) then
    redis.call('ZADD', set, score, member)
  end
  redis.call('ZREMRANGEBYSCORE', set, '-inf', now)
  local top = redis.call('ZRANGE', set, -1, -1, 'WITHSCORES')
  if top[2] then
    redis.call('PEXPIREAT', set, string.format('%.0f', tonumber(top[2])))
  end
end
`

// luaScript is a script with its source, which a call sends by EVAL
// when the server has not cached it.
type luaScript struct {
	*redis.Script
	src string
}

// newScript returns the script of src.
func newScript(src string) *luaScript {
	return &luaScript{Script: redis.NewScript(src), src: src}
}

// script returns a script made of luaLib and body.
func script(body string) *luaScript {
	return newScript(luaLib + body)
}

// createScript writes a new session unless a live one (or one being
// moved away) has the key. A record the store cannot read (corrupt, or
// not a hash) is replaced.
//
//	KEYS[1]  the session hash
//	ARGV[1]  now
//	ARGV[2]  created
//	ARGV[3]  expires
//	ARGV[4]  owner, or "" for none
//	ARGV[5]  score of the owner-index entry written beside the script
//	ARGV[6]  "" or, for the record a Move writes on a Cluster, its token
//	ARGV[7…] field, value pairs
//
// It returns 1 when it wrote the session and 0 when a live one exists.
var createScript = script(`
local key = KEYS[1]
local st = load(key, tonumber(ARGV[1]))
if st == 'live' or st == 'moving' then
  return 0
end
redis.call('DEL', key)
redis.call('HSET', key, '\255c', ARGV[2], '\255e', ARGV[3], '\255v', '1')
if ARGV[4] ~= '' then
  redis.call('HSET', key, '\255o', ARGV[4], '\255i', ARGV[5])
end
if ARGV[6] ~= '' then
  redis.call('HSET', key, '\255t', ARGV[6])
end
local i, last = 7, #ARGV
while i <= last do
  local j = math.min(i + 199, last)
  redis.call('HSET', key, unpack(ARGV, i, j))
  i = j + 1
end
redis.call('PEXPIREAT', key, ARGV[3])
return 1
`)

// updateScript applies a change to a live session, adds 1 to its version
// and writes nothing when the session is missing, expired, being moved
// or corrupt, or when the change's conditions fail.
//
//	KEYS[1]  the session hash
//	ARGV[1]  now
//	ARGV[2]  new expiry, or "" to keep it
//	ARGV[3]  owner mode: "k" keep, "c" clear, "s" set to ARGV[4]
//	ARGV[4]  the new owner (mode "s")
//	ARGV[5]  score of the owner-index entry written beside the script
//	         (mode "s")
//	ARGV[6…] the change (see luaLib's change)
//
// It returns {0} when the session is gone, {-1} when an expectation
// failed, {-2} when the change would pass the size limit, {-3} when the
// record is corrupt, and {version} after the change, the version as a
// string of digits (Lua's numbers would round one past 2^53). It reads
// the session with one HGETALL and writes it with one HSET (and an HDEL
// for removals, a PEXPIREAT for a new expiry): every redis.call costs the
// server a few microseconds, more than the command itself, and the server
// runs one script at a time for every client. When the session has
// an owner and its expiry has passed the score its owner-index entry is
// known to hold ("\255i"), it records a new score (expiry plus a slack,
// see indexScore in owner.go, whose constants it repeats) and returns
// {version, owner, score}: the caller then raises the index entry to that
// score. The PEXPIREAT comes last, so an expiry in the past deletes the
// whole hash.
var updateScript = script(`
local key = KEYS[1]
local now = tonumber(ARGV[1])
local st, m, f = load(key, now)
if st == 'corrupt' then return {-3} end
if st ~= 'live' then return {0} end
local e = tonumber(m['\255e'])
local c = change(6)
local code = check(f, c)
if code then return {code} end
local i, last = 1, #c.remove
while i <= last do
  local j = math.min(i + 199, last)
  redis.call('HDEL', key, unpack(c.remove, i, j))
  i = j + 1
end
local v = inc(m['\255v'])
local list = c.set
list[#list + 1] = '\255v'
list[#list + 1] = v
if ARGV[2] ~= '' then
  list[#list + 1] = '\255e'
  list[#list + 1] = ARGV[2]
  e = tonumber(ARGV[2])
end
local o, idx = m['\255o'], m['\255i']
if ARGV[3] == 'c' then
  if o or idx then redis.call('HDEL', key, '\255o', '\255i') end
  o = nil
elseif ARGV[3] == 's' then
  o, idx = ARGV[4], ARGV[5]
  list[#list + 1] = '\255o'
  list[#list + 1] = o
end
local res = {v}
if o then
  local ix = ms(idx)
  if not ix or e > ix then
    local slack = math.min(math.max(4 * (e - now), 3600000), 604800000)
    idx = string.format('%.0f', e + slack)
    res = {v, o, tonumber(idx)}
  end
  if idx ~= m['\255i'] then
    list[#list + 1] = '\255i'
    list[#list + 1] = idx
  end
end
hset(key, list)
if ARGV[2] ~= '' then
  redis.call('PEXPIREAT', key, ARGV[2])
end
return res
`)

// deleteScript deletes a session and returns its owner (nil for none).
//
//	KEYS[1]  the session hash
var deleteScript = newScript(`
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
var indexScript = script(`
index(KEYS[1], ARGV[2], ARGV[3], ARGV[1])
return 1
`)

// unconfirmScript forgets the score recorded in a session for its
// owner-index entry when it is still ARGV[1], so that the session's next
// Update writes the entry again.
//
//	KEYS[1]  the session hash
//	ARGV[1]  the score that could not be written to the index
var unconfirmScript = newScript(`
if redis.call('TYPE', KEYS[1]).ok == 'hash' and redis.call('HGET', KEYS[1], '\255i') == ARGV[1] then
  redis.call('HDEL', KEYS[1], '\255i')
end
return 1
`)

// call is one script call of [Store.run]; cmd holds its result after the
// run.
type call struct {
	script *luaScript
	keys   []string
	args   []any
	cmd    *redis.Cmd
}

// run sends the calls that are not nil: a single one as one command, more
// in one pipeline (one round trip). Each call runs by EVALSHA; a call a
// server answers NOSCRIPT (it has not cached the script, so the call did
// nothing) is sent again with the script's source. The results are in
// each call's cmd.
//
// go-redis sends a command or pipeline again by itself when the
// connection fails or times out after writing it (up to the client's
// MaxRetries), though the server may have run it: a script call run
// twice would apply its change twice, or refuse its own first run (an
// Update's expectations, a Create's key, a Move's old key). So every
// call goes as a command go-redis never sends again ([once]): such a
// call fails with the network's error, its fate unknown, as the store
// contract says.
func (s *Store) run(ctx context.Context, calls ...*call) {
	s.runWith(ctx, nil, calls...)
}

// runWith is run with more commands, queued by extra when it is not nil,
// in the same pipeline; their results are in the commands extra queued.
func (s *Store) runWith(ctx context.Context, extra func(redis.Pipeliner), calls ...*call) {
	s.pipeline(ctx, extra, false, calls)
}

// runGroup is run for the calls of a group of changes: the calls
// answered NOSCRIPT go again together, in their order, in one more
// pipeline (run sends them one by one).
func (s *Store) runGroup(ctx context.Context, calls ...*call) {
	s.pipeline(ctx, nil, true, calls)
}

// pipeline does the work of run, runWith and runGroup.
func (s *Store) pipeline(ctx context.Context, extra func(redis.Pipeliner), group bool, calls []*call) {
	live := calls[:0:0]
	for _, c := range calls {
		if c != nil {
			live = append(live, c)
		}
	}
	if len(live) == 0 && extra == nil {
		return
	}
	if len(live) == 1 && extra == nil {
		c := live[0]
		c.send(ctx, s.client, false)
		if redis.HasErrorPrefix(c.cmd.Err(), "NOSCRIPT") {
			c.send(ctx, s.client, true)
		}
		return
	}
	pipe := s.client.Pipeline()
	for _, c := range live {
		c.send(ctx, pipe, false)
	}
	if extra != nil {
		extra(pipe)
	}
	s.exec(ctx, pipe, live)
	var again []*call
	for _, c := range live {
		if redis.HasErrorPrefix(c.cmd.Err(), "NOSCRIPT") {
			again = append(again, c)
		}
	}
	if group && len(again) > 1 {
		pipe := s.client.Pipeline()
		for _, c := range again {
			c.send(ctx, pipe, true)
		}
		s.exec(ctx, pipe, again)
		return
	}
	for _, c := range again {
		c.send(ctx, s.client, true)
	}
}

// processor is what sends or queues a command: a client or a pipeline.
type processor interface {
	Process(ctx context.Context, cmd redis.Cmder) error
}

// send sends c to p (a pipeline queues it) as EVALSHA, or as EVAL with
// the script's source when eval is set, in a command go-redis never
// sends again by itself ([once]); c.cmd holds the result once it is
// done. The command is the one go-redis's own Script.EvalSha and Eval
// build.
func (c *call) send(ctx context.Context, p processor, eval bool) {
	args := make([]any, 3, 3+len(c.keys)+len(c.args))
	if eval {
		args[0], args[1] = "eval", c.script.src
	} else {
		args[0], args[1] = "evalsha", c.script.Hash()
	}
	args[2] = len(c.keys)
	for _, k := range c.keys {
		args = append(args, k)
	}
	args = append(args, c.args...)
	c.cmd = redis.NewCmd(ctx, args...)
	if len(c.keys) > 0 {
		c.cmd.SetFirstKeyPos(3) // where a cluster finds the key
	}
	_ = p.Process(ctx, once{c.cmd})
}

// once is a command that go-redis must not send again by itself after a
// failure (see [Store.run]): what it reports is the first send's fate.
type once struct{ *redis.Cmd }

// NoRetry tells go-redis that the command, and the pipeline holding it,
// must not be sent again.
func (once) NoRetry() bool { return true }

// exec sends pipe, whose first commands are those of calls; each command
// keeps its own error. When the pipeline fails as a whole before it is
// sent (a hook of the client refused it), the calls' commands hold no
// answer and no error: exec gives them an [unsentError].
func (s *Store) exec(ctx context.Context, pipe redis.Pipeliner, calls []*call) {
	_, err := pipe.Exec(ctx)
	if err == nil {
		return
	}
	for _, c := range calls {
		if c.cmd.Err() == nil && c.cmd.Val() == nil {
			c.cmd.SetErr(unsentError{err})
		}
	}
}

// unsentError is the error of a script call whose pipeline failed before
// it was sent: the call did nothing. It wraps the pipeline's failure and
// [store.ErrNotSent].
type unsentError struct{ err error }

func (e unsentError) Error() string   { return e.err.Error() }
func (e unsentError) Unwrap() []error { return []error{e.err, store.ErrNotSent} }
