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
// field per session field, plus two metadata fields whose names start
// with the byte 0xff (never part of a valid UTF-8 key, so they cannot
// collide with session fields): the creation and expiry times in Unix
// milliseconds.
//
// # Round trips and atomicity
//
// Every operation is one command: Load is HGETALL, Delete is DEL, and
// Create and Update are each one Lua script (EVALSHA, falling back to
// EVAL the first time a server has not seen the script). The Update script
// checks that the session exists and has not expired before it writes
// anything, then writes only the changed fields (HSET), deletes the
// removed ones (HDEL) and moves the expiry; so two requests writing
// different fields of one session both survive, and an Update never
// brings back a deleted or expired session.
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
package redisstore

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/redis/go-redis/v9"

	"github.com/sessiongen/sessiongen/runtime/store"
)

// Metadata field names inside a session hash. They start with 0xff, which
// never occurs in valid UTF-8, so no session field can have these names.
// The Lua scripts in scripts.go spell the same names as "\255c" and "\255e".
const (
	fieldCreated = "\xffc"
	fieldExpires = "\xffe"
)

// DefaultPrefix is the key prefix used when [WithPrefix] is not given.
const DefaultPrefix = "sess:"

// errInvalid reports arguments an engine refuses before any round trip.
var errInvalid = errors.New("invalid argument")

// Store is a session storage engine on Redis. It is safe for concurrent
// use; create it with [New].
type Store struct {
	client redis.UniversalClient
	prefix string
}

var _ store.Store = (*Store)(nil)

// New returns a Store that keeps sessions in client. It checks its
// arguments but does not contact the server: the first operation does.
// The client stays owned by the caller, who closes it after the last use
// of the Store.
func New(client redis.UniversalClient, opts ...Option) (*Store, error) {
	if isNilClient(client) {
		return nil, fmt.Errorf("redisstore: new: %w: nil client", errInvalid)
	}
	cfg := config{prefix: DefaultPrefix}
	for _, opt := range opts {
		if opt != nil {
			opt(&cfg)
		}
	}
	if strings.ContainsAny(cfg.prefix, "{}") {
		return nil, fmt.Errorf("redisstore: new: %w: prefix %q holds a brace, which would break the Cluster hash tag", errInvalid, cfg.prefix)
	}
	return &Store{client: client, prefix: cfg.prefix}, nil
}

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
// [store.ErrNotFound] when there is none or it has expired. It costs one
// HGETALL.
func (s *Store) Load(ctx context.Context, key string) (store.Record, error) {
	if key == "" {
		return store.Record{}, fmt.Errorf("redisstore: load: %w: empty key", errInvalid)
	}
	m, err := s.client.HGetAll(ctx, s.redisKey(key)).Result()
	if err != nil {
		return store.Record{}, fmt.Errorf("redisstore: load: %w", err)
	}
	if len(m) == 0 {
		return store.Record{}, fmt.Errorf("redisstore: load: %w", store.ErrNotFound)
	}
	rec := store.Record{Fields: make(map[string][]byte, len(m))}
	var haveCreated, haveExpires bool
	for k, v := range m {
		switch {
		case k == fieldCreated:
			rec.Created, haveCreated = parseMillis(v)
		case k == fieldExpires:
			rec.Expires, haveExpires = parseMillis(v)
		case strings.HasPrefix(k, "\xff"):
			// Metadata of a later version: not a session field.
		default:
			rec.Fields[k] = []byte(v)
		}
	}
	if !haveCreated || !haveExpires {
		return store.Record{}, errors.New("redisstore: load: session hash lacks valid metadata (not written by redisstore?)")
	}
	if !rec.Expires.After(time.Now()) {
		return store.Record{}, fmt.Errorf("redisstore: load: %w", store.ErrNotFound)
	}
	return rec, nil
}

// Create stores rec under key, replacing an expired session, and returns
// an error wrapping [store.ErrExists] when a live session has the key. It
// costs one script call.
func (s *Store) Create(ctx context.Context, key string, rec store.Record) error {
	if key == "" {
		return fmt.Errorf("redisstore: create: %w: empty key", errInvalid)
	}
	if rec.Expires.IsZero() {
		return fmt.Errorf("redisstore: create: %w: zero Expires", errInvalid)
	}
	args := make([]any, 0, 3+2*len(rec.Fields))
	args = append(args, nowMillis(), rec.Created.UnixMilli(), rec.Expires.UnixMilli())
	for k, v := range rec.Fields {
		if err := checkField(k); err != nil {
			return fmt.Errorf("redisstore: create: %w", err)
		}
		args = append(args, k, v)
	}
	n, err := createScript.Run(ctx, s.client, []string{s.redisKey(key)}, args...).Int()
	if err != nil {
		return fmt.Errorf("redisstore: create: %w", err)
	}
	if n == 0 {
		return fmt.Errorf("redisstore: create: %w", store.ErrExists)
	}
	return nil
}

// Update applies c to the live session under key in one script call. It
// returns an error wrapping [store.ErrNotFound], having written nothing,
// when the session does not exist or has expired. A key both set and
// removed by c ends up set, as [store.Change] documents.
func (s *Store) Update(ctx context.Context, key string, c store.Change) error {
	if key == "" {
		return fmt.Errorf("redisstore: update: %w: empty key", errInvalid)
	}
	expires := ""
	if !c.Expires.IsZero() {
		expires = strconv.FormatInt(c.Expires.UnixMilli(), 10)
	}
	args := make([]any, 0, 3+2*len(c.Set)+len(c.Remove))
	args = append(args, nowMillis(), expires, len(c.Set))
	for k, v := range c.Set {
		if err := checkField(k); err != nil {
			return fmt.Errorf("redisstore: update: %w", err)
		}
		args = append(args, k, v)
	}
	for _, k := range c.Remove {
		if err := checkField(k); err != nil {
			return fmt.Errorf("redisstore: update: %w", err)
		}
		if _, set := c.Set[k]; set {
			continue // Set wins over Remove (store.Change)
		}
		args = append(args, k)
	}
	n, err := updateScript.Run(ctx, s.client, []string{s.redisKey(key)}, args...).Int()
	if err != nil {
		return fmt.Errorf("redisstore: update: %w", err)
	}
	if n == 0 {
		return fmt.Errorf("redisstore: update: %w", store.ErrNotFound)
	}
	return nil
}

// Delete removes the session under key with one DEL. Deleting a missing
// session is not an error.
func (s *Store) Delete(ctx context.Context, key string) error {
	if key == "" {
		return fmt.Errorf("redisstore: delete: %w: empty key", errInvalid)
	}
	if err := s.client.Del(ctx, s.redisKey(key)).Err(); err != nil {
		return fmt.Errorf("redisstore: delete: %w", err)
	}
	return nil
}

// checkField refuses field keys that are empty or not valid UTF-8: the
// manager never sends them, and they could collide with the metadata.
func checkField(k string) error {
	if k == "" || !utf8.ValidString(k) {
		return fmt.Errorf("%w: field key is empty or not valid UTF-8", errInvalid)
	}
	return nil
}

// nowMillis returns the current time in Unix milliseconds.
func nowMillis() int64 {
	return time.Now().UnixMilli()
}

// parseMillis parses a decimal Unix millisecond time.
func parseMillis(v string) (time.Time, bool) {
	ms, err := strconv.ParseInt(v, 10, 64)
	if err != nil {
		return time.Time{}, false
	}
	return time.UnixMilli(ms), true
}
