// Package redisstore is a session storage engine on Redis, built on
// github.com/redis/go-redis/v9. It works with a single server, Sentinel
// (redis.NewFailoverClient) and Redis Cluster (redis.NewClusterClient):
// [New] takes any redis.UniversalClient.
//
// # Layout
//
// Each session is one Redis hash named prefix + "{" + key + "}" (the
// default prefix is "sess:"). The braces make the key a Cluster hash tag,
// so everything of one session lives in one hash slot. The hash holds one
// field per session field, plus metadata fields whose names start with
// the byte 0xff (never part of a valid UTF-8 key, so they cannot collide
// with session fields): the creation and expiry times in Unix
// milliseconds ("\xffc", "\xffe"), the version ("\xffv"), and for a
// session with an owner the owner ("\xffo") and the score its owner-index
// entry is known to hold ("\xffi", see [Store.Owned]). A Move on a
// Cluster adds its own marks (see Move below).
//
// # Round trips and atomicity
//
// Load is one HGETALL. Create, Update and Delete are each one Lua script
// (EVALSHA, falling back to EVAL the first time a server has not seen the
// script); concurrent Creates and Updates share round trips (see "Group
// commit"). The Update script checks that the session exists and has not
// expired, then checks the change's conditions, before it writes
// anything: each field of [store.Change.Expect] is compared with HGET
// (byte for byte; an expected value of length 0 wants the field absent),
// and, when [store.Change.MaxSize] is set and the change sets fields, the
// session's size is summed over an HGETALL (session fields only, not the
// metadata) before and after the change, refusing exactly as
// [store.Change.Check] does. It answers a code for each refusal
// (ErrNotFound, then ErrConflict, then ErrTooLarge) and writes nothing
// then. Otherwise it writes only the changed fields (HSET), deletes the
// removed ones (HDEL), moves the expiry and adds 1 to the version
// (HINCRBY), all atomically; so two requests writing different fields of
// one session both survive, a compare-and-set never loses an update, the
// size limit holds across processes, an Update never brings back a
// deleted or expired session, and every successful Update gets a version
// of its own. Conditions cost no round trip of their own.
//
// [Store.Version] is one HMGET of four metadata fields. Delete is one
// script call, plus a ZREM of the session's owner-index entry when it had
// an owner.
//
// # Group commit
//
// Creates and Updates, of any sessions, are committed in groups. While
// two round trips of them are on their way to the server (on two
// connections of the client's pool), those that other goroutines start
// meanwhile wait, and go together in the next round trip, once one of
// the two has its answer: one pipeline of their EVALSHA calls (with the
// same NOSCRIPT fallback, for all the calls refused, in one more
// pipeline), each followed by its owner-index write when it has one. Two
// in flight rather than one keep the server busy while the answer of the
// other crosses the network and is read. There is no timer: a change that
// finds fewer than two in flight goes at once, alone, as one command
// exactly as described above, so a client alone sees the latency of a
// single change, and the groups grow with the load, up to [WithMaxGroup]
// changes ([DefaultMaxGroup], 64). WithMaxGroup(1) turns grouping off:
// each change then goes in a round trip of its own, concurrently with the
// others. Changes in two groups in flight at once come from concurrent
// calls, whose order is undefined anyway.
//
// Each call returns once its own change is done, with the result it
// would have alone: the server answers each command of a pipeline on its
// own, so a change refused (ErrNotFound, ErrConflict, ErrTooLarge,
// ErrExists, ErrCorrupt) or failing with a script error fails alone and
// its group-mates land. Two changes of one session in a group run in
// their arrival order, each seeing the one before: they are in one hash
// slot, so on a Cluster too they go to one master, in order (go-redis
// splits a Cluster pipeline per master and sends the parts in parallel).
// A pipeline refused as a whole before it is sent (by a hook of the
// client) is sent again change by change, alone. A network failure or
// the end of the context fails every change of the group that has no
// answer (as it would have failed alone); such a change may or may not
// have taken place, as after any lost reply, and is never reported done.
// A caller whose context ends while its change waits for a group gets
// the context's error and its change is not sent; a group's round trip
// ends early only when every caller in it has given up. The follow-ups
// of a group (on a Cluster, the owner-index writes of Creates with an
// owner and owner changes; raising owner-index entries, which is rare;
// see "Owner index") take one more round trip each for the whole group.
//
// Load, Version, Owned, Delete and Move stay one call per operation:
// reads commit nothing, a Delete's second command depends on the
// script's answer (the owner), and a Move is a sequence of dependent
// steps (on a Cluster, across two hash slots) that a pipeline cannot
// hold.
//
// # Move
//
// On a single server (a *redis.Client, also through Sentinel),
// [Store.Move] is one script, atomic: it checks that the old session is
// live and the change's conditions hold and that no live session has the
// new key, writes the new hash (the fields with the change applied, the
// old creation time, the new expiry by PEXPIREAT, version 1), moves the
// owner-index entry and deletes the old hash. The script must name the
// owner's index, which only the session knows: a Move that keeps the
// owner of a session that has one is sent twice (the first call, which
// writes nothing, learns the owner).
//
// On Redis Cluster (and with any other client) the two keys live in
// different hash slots, so no script can touch both. Move then takes
// three round trips, four when the session has an owner:
//
//  1. A script on the old key checks that it is live and the conditions
//     hold, then freezes it: it stores a random token ("\xffm"), keeps
//     its expiry aside ("\xffh") and cuts its expiry to at most 30
//     seconds ahead (the freeze). A frozen session reads as gone to
//     Load, Version, Update and Move (Create reports ErrExists); Owned
//     still lists it, so that a revocation can delete it, until the
//     freeze ends. The script returns the session's fields.
//  2. A script writes the new hash (as Create does, with the token in
//     "\xfft", where it stays); once it has, the owner-index entry is
//     written (not in parallel: a listing that finds the entry must find
//     the hash, else it could take the entry for a stray one and drop
//     it, and miss the session under both keys).
//  3. A script deletes the old hash only if it still carries the token,
//     pipelined with the removal of its owner-index entry. If the old
//     session is gone (deleted or revoked, or its freeze ended), Move
//     deletes the new hash (only if it carries the token) and its entry,
//     and fails with ErrNotFound.
//
// A Delete of the old key at any step thus makes the Move fail and
// leaves nothing under the new key; an Update of the old key either lands
// before step 1 (and is moved) or fails with ErrNotFound. When step 2
// finds a live session under the new key, or a step fails (an error, a
// lost reply, the context ending), Move undoes what it did, within five
// seconds even past the context: it deletes the new hash and then thaws
// the old one (its expiry restored); when the new hash cannot be deleted
// the old one stays frozen, so there are never two live copies.
//
// A crash of the process (or a failure of the undo) leaves, after step 1,
// a frozen old record that Redis purges when the freeze ends (the
// session is lost: its client holds an ID that reads as gone); after step
// 2, in addition, an orphan record under the new key that no client holds
// the ID of, listed under its owner until it expires or is deleted (a
// revocation through the owner index deletes it); after step 3, an
// orphan record only. Never two live copies, and no frozen record outlives
// its freeze.
//
// # Corrupt records
//
// A session key that holds another type than a hash, or a hash whose
// expiry is garbage, missing or not positive, or whose creation time or
// version is garbage or missing, is corrupt: Load, Version, Update and
// Move report an error wrapping [store.ErrCorrupt] naming the key and
// write nothing (an expired record is gone whatever else it holds, and
// Version reports ErrNotFound for a hash without any metadata, which its
// one HMGET cannot tell from none). Delete removes a corrupt record,
// Create replaces it, Owned leaves it out. Times and versions are parsed
// strictly (decimal digits only, the same rules in Go and in the
// scripts). A hash field whose name is not a valid session field key
// (empty, not UTF-8, a control character) is left out instead: Load
// does not return it, the size limit does not count it and Move leaves it
// behind.
//
// # Owner index
//
// [Store.Owned] lists an owner's sessions from a sorted set per owner,
// named prefix + "owner:{" + [store.Key](owner) + "}" (the owner hashed
// like a session ID: no brace in it can break the hash tag, and no user
// ID or e-mail address shows in key names). A member is a session key;
// its score is a Unix millisecond time from which the entry may be
// dropped: the session's expiry plus a slack of four times its remaining
// lifetime, at least an hour and at most a week.
//
// On Redis Cluster a session and its owner's set live in different hash
// slots, so no script can write both. A Create with an owner, and an
// Update that changes the owner, write the session first and the index
// entry after it, so that the index never lists a session before the
// session names its owner: on a single server both go in one pipeline
// (one round trip, run in order); on a Cluster, whose masters run a
// pipeline's commands in parallel, the index write goes in one more
// round trip once the session script answered that it wrote (or its
// answer was lost), for a whole group at once. The index write adds the
// entry or raises its score (scores never go down), drops the entries
// whose score has passed (ZREMRANGEBYSCORE) and sets the set's PEXPIREAT
// to its highest score. When the index write fails, the call fails (the
// session write may have taken place, as after a network error) and the
// session is marked so that its next Update writes the entry again.
//
// A Move lists the new key under its owner (in its script on a single
// server, in a round trip of its own after the second step on a
// Cluster) and removes the old key's entry (in the same script when the owner stays, else with
// one more command; on a Cluster in the pipeline of its last step).
//
// Every live session's entry keeps a score at or past the session's
// expiry: the session hash records the score ("\xffi"), and an Update
// that moves the expiry past it makes the Store raise the entry, one more
// command in the same call. That happens once the session has been
// renewed for about four times its remaining lifetime (with a 30-minute
// idle timeout, once per two hours of use), so the cost per request is
// one round trip in practice.
//
// Owned reads the set and then every listed session's owner, times and
// version (one pipelined HMGET per session), returns the live sessions
// that still belong to the owner, and removes the other entries: stray
// ones left by a Create refused with ErrExists or an Update of a missing
// session, and those of sessions deleted (when Delete's ZREM failed),
// moved away (when Move's removal failed), expired, corrupt, or given
// another owner or none (Update does not touch the old owner's set). A
// session frozen by a Move on a Cluster is listed until its freeze ends,
// with that as its expiry. It then reads the removed entries' sessions once more and
// restores any that a concurrent write has meanwhile given to the owner.
// Since a session's entry is written only after the session, an entry
// that Owned removes as stale is written again by the write making the
// session the owner's, when that write is still under way: a session
// whose Create or owner change returned before Owned began is listed by
// it, and by every later Owned while it stays the owner's.
//
// So the index cannot grow without bound: an entry is gone at the latest
// when its score passes (the set expires with its highest score) and,
// once stale, at the next Owned of its owner.
//
// # Expiry
//
// The hash carries a PEXPIREAT at the session's expiry, so Redis purges
// it. Load and Update also compare the stored expiry with the clock of the
// calling process, so a session counts as gone from the millisecond it
// expires even when Redis has not purged it yet.
//
// # Client settings
//
// Use a client that reads from masters (the default): reading from Cluster
// replicas (ReadOnly, RouteByLatency, RouteRandomly) may show a session as
// it was before the last write. go-redis bounds each command by the
// client's ReadTimeout and WriteTimeout; set ContextTimeoutEnabled in the
// client's options to have the deadline of the context given to each call
// bound it as well (a canceled context is always honoured).
//
// go-redis sends a command or pipeline again by itself (up to the
// client's MaxRetries) when the connection fails or times out after it
// was written, though the server may have run it. The store's script
// calls (Create, Update, Move and their follow-ups) opt out of that: run
// twice, an Update would apply its change twice or refuse its own first
// run as a conflict, a Create would report ErrExists for the session it
// just wrote and a Move ErrNotFound for the session it just moved. Such
// a call fails with the network's error instead: its change may or may
// not have taken place, never twice. Loads, Deletes and the owner index's
// reads, which are safe to repeat, keep the client's retries.
package redisstore

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/sessiongen/sessiongen/runtime/store"
	"github.com/sessiongen/sessiongen/runtime/store/internal/group"
)

// Metadata field names inside a session hash. They start with 0xff, which
// never occurs in valid UTF-8, so no session field can have these names.
// The Lua scripts in scripts.go spell the same names with Lua's decimal
// escape for the byte 0xff ("\255c", "\255e", ...).
const (
	fieldCreated = "\xffc" // Unix ms
	fieldExpires = "\xffe" // Unix ms
	fieldVersion = "\xffv" // decimal, 1 after Create
	fieldOwner   = "\xffo" // the owner, absent for none
	fieldIndexed = "\xffi" // score of the owner-index entry, Unix ms
	fieldMoving  = "\xffm" // token of the Move that froze the session (Cluster)
	fieldHeld    = "\xffh" // the expiry a frozen session had (Cluster)
	fieldMovedIn = "\xfft" // token of the Move that wrote the session (Cluster)
)

// DefaultPrefix is the key prefix used when [WithPrefix] is not given.
const DefaultPrefix = "sess:"

// errInvalid reports arguments New refuses. Calls the Store refuses
// before any round trip wrap [store.ErrInvalid].
var errInvalid = errors.New("invalid argument")

// Store is a session storage engine on Redis. It is safe for concurrent
// use; create it with [New].
type Store struct {
	client redis.UniversalClient
	prefix string
	// oneServer: client is a *redis.Client (one server, or its master
	// through Sentinel), which runs a pipeline's commands in order.
	oneServer bool
	// commit groups Creates and Updates (see commit.go); nil with
	// WithMaxGroup(1), when each change goes alone.
	commit *group.Committer[*op]
	// onSend, nil outside this package's tests (see export_test.go), is
	// called as each group starts, with its size.
	onSend func(n int)
}

var (
	_ store.Store      = (*Store)(nil)
	_ store.Versioner  = (*Store)(nil)
	_ store.OwnerIndex = (*Store)(nil)
)

// New returns a Store that keeps sessions in client. It checks its
// arguments but does not contact the server: the first operation does.
// The client stays owned by the caller, who closes it after the last use
// of the Store.
func New(client redis.UniversalClient, opts ...Option) (*Store, error) {
	if isNilClient(client) {
		return nil, fmt.Errorf("redisstore: new: %w: nil client", errInvalid)
	}
	cfg := config{prefix: DefaultPrefix, maxGroup: DefaultMaxGroup}
	for _, opt := range opts {
		if opt != nil {
			opt(&cfg)
		}
	}
	if strings.ContainsAny(cfg.prefix, "{}") {
		return nil, fmt.Errorf("redisstore: new: %w: prefix %q holds a brace, which would break the Cluster hash tag", errInvalid, cfg.prefix)
	}
	if cfg.maxGroup < 1 {
		return nil, fmt.Errorf("redisstore: new: %w: max group %d is below 1 (1 turns grouping off)", errInvalid, cfg.maxGroup)
	}
	_, oneServer := client.(*redis.Client)
	s := &Store{client: client, prefix: cfg.prefix, oneServer: oneServer}
	if cfg.maxGroup > 1 {
		s.commit = group.NewLanes(cfg.maxGroup, groupLanes, s.send)
	}
	return s, nil
}

// groupLanes is how many round trips of changes are in flight at once
// (see "Group commit" in the package documentation).
const groupLanes = 2

// isNilClient reports whether c is nil or a nil pointer of one of
// go-redis's client types.
func isNilClient(c redis.UniversalClient) bool {
	switch v := c.(type) {
	case nil:
		return true
	case *redis.Client:
		return v == nil
	case *redis.ClusterClient:
		return v == nil
	case *redis.Ring:
		return v == nil
	}
	return false
}

// redisKey returns the name of the hash holding the session key.
func (s *Store) redisKey(key string) string {
	return s.prefix + "{" + key + "}"
}

// Load returns the session stored under key, or an error wrapping
// [store.ErrNotFound] when there is none or it has expired, or
// [store.ErrCorrupt] when the key holds something the Store cannot read.
// It costs one HGETALL.
func (s *Store) Load(ctx context.Context, key string) (store.Record, error) {
	if key == "" {
		return store.Record{}, fmt.Errorf("redisstore: load: %w: empty key", store.ErrInvalid)
	}
	m, err := s.client.HGetAll(ctx, s.redisKey(key)).Result()
	if isWrongType(err) {
		return store.Record{}, corruptErr("load", key, err.Error())
	}
	if err != nil {
		return store.Record{}, fmt.Errorf("redisstore: load: %w", err)
	}
	if len(m) == 0 {
		return store.Record{}, fmt.Errorf("redisstore: load: %w", store.ErrNotFound)
	}
	md, st, why := parseMeta(func(name string) (string, bool) {
		v, ok := m[name]
		return v, ok
	}, nowMillis())
	switch st {
	case statusGone:
		return store.Record{}, fmt.Errorf("redisstore: load: %w", store.ErrNotFound)
	case statusCorrupt:
		return store.Record{}, corruptErr("load", key, why)
	}
	rec := store.Record{
		Fields:  make(map[string][]byte, len(m)),
		Created: time.UnixMilli(md.created),
		Expires: time.UnixMilli(md.expires),
		Version: md.version,
		Owner:   m[fieldOwner],
	}
	for k, v := range m {
		if validField(k) { // metadata and planted names are left out
			rec.Fields[k] = []byte(v)
		}
	}
	return rec, nil
}

// Create stores rec under key with version 1, replacing an expired
// session, and returns an error wrapping [store.ErrExists] when a live
// session has the key. It costs one script call; with an owner, one
// pipeline of the script and the owner-index write. Concurrent Creates
// and Updates go together in one pipeline (see "Group commit" in the
// package documentation); Create returns once its own write is done.
func (s *Store) Create(ctx context.Context, key string, rec store.Record) error {
	if key == "" {
		return fmt.Errorf("redisstore: create: %w: empty key", store.ErrInvalid)
	}
	if rec.Expires.IsZero() {
		return fmt.Errorf("redisstore: create: %w: zero Expires", store.ErrInvalid)
	}
	o, err := s.createOp(key, rec)
	if err != nil {
		return fmt.Errorf("redisstore: create: %w", err)
	}
	return s.do(ctx, o)
}

// createOp returns the op of a Create: createScript, and the owner-index
// write beside it when rec has an owner.
func (s *Store) createOp(key string, rec store.Record) (*op, error) {
	now, expires := nowMillis(), rec.Expires.UnixMilli()
	var score int64
	if rec.Owner != "" {
		score = indexScore(expires, now)
	}
	args := make([]any, 0, 6+2*len(rec.Fields))
	args = append(args, now, rec.Created.UnixMilli(), expires, rec.Owner, score, "")
	for k, v := range rec.Fields {
		if err := checkField(k); err != nil {
			return nil, err
		}
		args = append(args, k, v)
	}
	o := &op{kind: opCreate, key: key, now: now, score: score,
		main: &call{script: createScript, keys: []string{s.redisKey(key)}, args: args}}
	if rec.Owner != "" {
		o.index = s.indexCall(rec.Owner, key, score, now)
	}
	return o, nil
}

// Owner modes of the Update and Move scripts (ARGV[3]).
const (
	ownerKeep  = "k"
	ownerClear = "c"
	ownerSet   = "s"
)

// ownerMode returns the owner mode of c and the new owner (mode
// ownerSet).
func ownerMode(c store.Change) (mode, owner string) {
	switch {
	case c.Owner == nil:
		return ownerKeep, ""
	case *c.Owner == "":
		return ownerClear, ""
	}
	return ownerSet, *c.Owner
}

// changeArgs returns the script arguments encoding c's fields and
// conditions, as luaLib's change reads them: the size limit (0 for none,
// and for a change that sets nothing), the number of fields to set, the
// number of expectations, the field, value pairs to set, the field, value
// pairs expected (an empty value: absent), and the fields to remove
// (those not also set: Set wins). It refuses field keys that are not
// valid.
func changeArgs(c store.Change) ([]any, error) {
	limit := 0
	if c.MaxSize > 0 && len(c.Set) > 0 {
		limit = c.MaxSize
	}
	args := make([]any, 0, 3+2*len(c.Set)+2*len(c.Expect)+len(c.Remove))
	args = append(args, limit, len(c.Set), len(c.Expect))
	for k, v := range c.Set {
		if err := checkField(k); err != nil {
			return nil, err
		}
		args = append(args, k, v)
	}
	for k, v := range c.Expect {
		if err := checkField(k); err != nil {
			return nil, err
		}
		args = append(args, k, v)
	}
	for _, k := range c.Remove {
		if err := checkField(k); err != nil {
			return nil, err
		}
		if _, set := c.Set[k]; !set {
			args = append(args, k)
		}
	}
	return args, nil
}

// Codes the scripts answer instead of a result.
const (
	codeGone     = 0  // missing, expired or frozen by a Move
	codeConflict = -1 // an expectation failed
	codeTooLarge = -2 // the size limit would be passed
	codeCorrupt  = -3 // the record cannot be read
	codeExists   = -4 // Move: a live session has the new key
	codeOwner    = -5 // Move: the script needs the owner's index
)

// codeErr returns the error of operation op on key for a script's code.
func codeErr(op, key string, code int64) error {
	switch code {
	case codeGone:
		return fmt.Errorf("redisstore: %s: %w", op, store.ErrNotFound)
	case codeConflict:
		return fmt.Errorf("redisstore: %s: %w", op, store.ErrConflict)
	case codeTooLarge:
		return fmt.Errorf("redisstore: %s: %w", op, store.ErrTooLarge)
	case codeCorrupt:
		return corruptErr(op, key, "unreadable metadata or not a hash")
	case codeExists:
		return fmt.Errorf("redisstore: %s: %w", op, store.ErrExists)
	}
	return fmt.Errorf("redisstore: %s: unexpected script answer %d", op, code)
}

// Update applies c to the live session under key in one script call (one
// pipeline with the owner-index write when c sets an owner) and returns
// the session's new version. The script checks c's conditions (Expect,
// MaxSize) before it writes anything. It returns an error wrapping
// [store.ErrNotFound] when the session does not exist or has expired,
// [store.ErrConflict] or [store.ErrTooLarge] when a condition fails, and
// [store.ErrCorrupt] when the record cannot be read; in each case it has
// written nothing. A key both set and removed by c ends up set, as
// [store.Change] documents. Concurrent Creates and Updates go together in
// one pipeline (see "Group commit" in the package documentation); Update
// returns once its own change is done, with its own result.
//
// Rarely, when a session with an owner has lived long past the score of
// its owner-index entry, the Update costs a second command that raises
// the score (see [Store.Owned]).
func (s *Store) Update(ctx context.Context, key string, c store.Change) (uint64, error) {
	if key == "" {
		return 0, fmt.Errorf("redisstore: update: %w: empty key", store.ErrInvalid)
	}
	o, err := s.updateOp(key, c)
	if err != nil {
		return 0, fmt.Errorf("redisstore: update: %w", err)
	}
	if err := s.do(ctx, o); err != nil {
		return 0, err
	}
	return o.version, nil
}

// updateOp returns the op of an Update: updateScript, and the
// owner-index write beside it when c sets an owner.
func (s *Store) updateOp(key string, c store.Change) (*op, error) {
	now := nowMillis()
	expires := ""
	if !c.Expires.IsZero() {
		expires = strconv.FormatInt(c.Expires.UnixMilli(), 10)
	}
	mode, owner := ownerMode(c)
	score := int64(0)
	if mode == ownerSet {
		if c.Expires.IsZero() {
			score = now + maxIndexSlack // the expiry is unknown here
		} else {
			score = indexScore(c.Expires.UnixMilli(), now)
		}
	}
	tail, err := changeArgs(c)
	if err != nil {
		return nil, err
	}
	args := append([]any{now, expires, mode, owner, score}, tail...)
	o := &op{kind: opUpdate, key: key, now: now, score: score,
		main: &call{script: updateScript, keys: []string{s.redisKey(key)}, args: args}}
	if mode == ownerSet {
		o.index = s.indexCall(owner, key, score, now)
	}
	return o, nil
}

// updateResult is what the Update script answers.
type updateResult struct {
	code  int64  // the new version, or a code (codeGone...) when <= 0
	owner string // not "": the owner-index entry needs score
	score int64
}

// parseUpdate reads the Update script's answer: {code} when the session
// is gone or a condition failed, {version} (a string) after a change, {version,
// owner, score} when the owner-index entry must be raised to score.
func parseUpdate(cmd *redis.Cmd) (updateResult, error) {
	vals, err := cmd.Slice()
	if err != nil {
		return updateResult{}, err
	}
	var r updateResult
	bad := func() (updateResult, error) {
		return updateResult{}, fmt.Errorf("unexpected script answer %v", vals)
	}
	if len(vals) != 1 && len(vals) != 3 {
		return bad()
	}
	var ok bool
	switch v := vals[0].(type) {
	case int64: // a code
		if r.code = v; v > 0 {
			return bad()
		}
	case string: // the new version
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n <= 0 {
			return bad()
		}
		r.code = n
	default:
		return bad()
	}
	if len(vals) == 3 {
		if r.owner, ok = vals[1].(string); !ok || r.code <= 0 {
			return bad()
		}
		if r.score, ok = vals[2].(int64); !ok {
			return bad()
		}
	}
	return r, nil
}

// Delete removes the session under key with one script call. When the
// session had an owner, a second command removes its owner-index entry;
// should that fail, the entry is removed later (see [Store.Owned]), so
// Delete still succeeds. Deleting a missing session is not an error.
func (s *Store) Delete(ctx context.Context, key string) error {
	if key == "" {
		return fmt.Errorf("redisstore: delete: %w: empty key", store.ErrInvalid)
	}
	owner, err := deleteScript.Run(ctx, s.client, []string{s.redisKey(key)}).Text()
	if errors.Is(err, redis.Nil) {
		return nil // no owner
	}
	if err != nil {
		return fmt.Errorf("redisstore: delete: %w", err)
	}
	_ = s.client.ZRem(ctx, s.indexKey(owner), key).Err() // best effort, see above
	return nil
}

// nowMillis returns the current time in Unix milliseconds.
func nowMillis() int64 {
	return time.Now().UnixMilli()
}
