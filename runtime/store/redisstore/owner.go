package redisstore

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/sessiongen/sessiongen/runtime/store"
	"github.com/sessiongen/sessiongen/runtime/store/internal/ownerlist"
)

// The owner index: see "Owner index" in the package documentation for
// the layout, the invariant (a live session's entry has a score at or
// past its expiry) and the races covered.

// Bounds of the slack added to a session's expiry to give the score of
// its owner-index entry. updateScript repeats them in milliseconds.
const (
	minIndexSlack = int64(time.Hour / time.Millisecond)
	maxIndexSlack = int64(7 * 24 * time.Hour / time.Millisecond)
)

// indexScore returns the score of the owner-index entry of a session
// expiring at expires (both Unix ms): the expiry plus four times the
// session's remaining lifetime, at least an hour and at most a week.
func indexScore(expires, now int64) int64 {
	slack := min(max(4*(expires-now), minIndexSlack), maxIndexSlack)
	return expires + slack
}

// indexKey returns the name of the sorted set listing owner's sessions.
func (s *Store) indexKey(owner string) string {
	return s.prefix + "owner:{" + store.Key(owner) + "}"
}

// indexCall returns the call of indexScript that lists the session key
// under owner with score.
func (s *Store) indexCall(owner, key string, score, now int64) *call {
	return &call{script: indexScript, keys: []string{s.indexKey(owner)}, args: []any{now, key, score}}
}

// unconfirmCall returns the call of unconfirmScript that clears the score
// recorded in the session under key for its owner-index entry when it is
// still score, after the index write failed. It is best effort: the
// caller reports the index failure either way.
func (s *Store) unconfirmCall(key string, score int64) *call {
	return &call{script: unconfirmScript, keys: []string{s.redisKey(key)}, args: []any{score}}
}

// Owned returns the live sessions of owner, in no particular order. It
// costs two round trips (the owner's sorted set, then one pipelined HMGET
// per listed session); when it meets stale entries, two more remove them
// and check the sessions again, and the index is read again for entries
// not seen yet (a session renewed meanwhile is listed under its new key). The empty owner (none) is refused with an
// error wrapping [store.ErrInvalid]. See "Owner index" in the package
// documentation for the guarantees.
func (s *Store) Owned(ctx context.Context, owner string) ([]store.Owned, error) {
	if owner == "" {
		return nil, fmt.Errorf("redisstore: owned: %w: empty owner", store.ErrInvalid)
	}
	zkey := s.indexKey(owner)
	scores := map[string]float64{}
	index := func(ctx context.Context) ([]string, error) {
		pipe := s.client.Pipeline()
		pipe.ZRemRangeByScore(ctx, zkey, "-inf", strconv.FormatInt(nowMillis(), 10))
		zr := pipe.ZRangeWithScores(ctx, zkey, 0, -1)
		if _, err := pipe.Exec(ctx); err != nil {
			return nil, err
		}
		keys := make([]string, len(zr.Val()))
		for i, z := range zr.Val() {
			k, ok := z.Member.(string)
			if !ok {
				return nil, fmt.Errorf("index member of type %T", z.Member)
			}
			keys[i] = k
			scores[k] = z.Score
		}
		return keys, nil
	}
	read := func(ctx context.Context, keys []string) ([]store.Owned, bool, error) {
		return s.readOwnedPass(ctx, owner, keys, scores)
	}
	out, err := ownerlist.List(ctx, index, read)
	if err != nil {
		return nil, fmt.Errorf("redisstore: owned: %w", err)
	}
	return out, nil
}

// readOwnedPass reads the sessions of keys, which owner's index listed
// with the given scores, and returns the live ones and whether any had
// gone. It removes the entries of sessions that are gone, and repairs
// entries whose score is below their session's expiry.
func (s *Store) readOwnedPass(ctx context.Context, owner string, keys []string, scores map[string]float64) ([]store.Owned, bool, error) {
	now := nowMillis()
	metas, err := s.readOwned(ctx, keys, now)
	if err != nil {
		return nil, false, err
	}
	var out []store.Owned
	var stale []string
	var raise []*call
	for i, m := range metas {
		if !m.ownedBy(owner, now) {
			stale = append(stale, keys[i])
			continue
		}
		out = append(out, m.owned(keys[i]))
		if e := m.expires; scores[keys[i]] < float64(e) {
			// The invariant was broken (an index write lost after its
			// session write): repair it.
			raise = append(raise, s.indexCall(owner, keys[i], indexScore(e, now), now))
		}
	}
	if len(stale) > 0 {
		members := make([]any, len(stale))
		for i, k := range stale {
			members[i] = k
		}
		if err := s.client.ZRem(ctx, s.indexKey(owner), members...).Err(); err != nil {
			return nil, false, fmt.Errorf("remove stale entries: %w", err)
		}
		// A session write racing with this call may have made a session
		// the owner's after it was read: look again, restore its entry.
		now = nowMillis()
		again, err := s.readOwned(ctx, stale, now)
		if err != nil {
			return nil, false, fmt.Errorf("check removed entries: %w", err)
		}
		for i, m := range again {
			if m.ownedBy(owner, now) {
				out = append(out, m.owned(stale[i]))
				raise = append(raise, s.indexCall(owner, stale[i], indexScore(m.expires, now), now))
			}
		}
	}
	if len(raise) > 0 {
		s.run(ctx, raise...)
		for _, c := range raise {
			if err := c.cmd.Err(); err != nil {
				return nil, false, fmt.Errorf("repair entries: %w", err)
			}
		}
	}
	return out, len(stale) > 0, nil
}

// ownedMeta is the metadata of one session as [Store.readOwned] reads
// it.
type ownedMeta struct {
	owner    string
	hasOwner bool
	st       status // statusCorrupt for a missing session
	meta
}

// ownedBy reports whether m is a live session of owner at now. A session
// frozen by a Move on a Cluster counts as live until its freeze ends
// (see move.go): listed, it can still be revoked, which makes the Move
// fail.
func (m ownedMeta) ownedBy(owner string, now int64) bool {
	return m.st == statusLive && m.hasOwner && m.owner == owner && m.expires > now
}

// owned returns m as the description of the session key.
func (m ownedMeta) owned(key string) store.Owned {
	return store.Owned{Key: key, Created: time.UnixMilli(m.created), Expires: time.UnixMilli(m.expires), Version: m.version}
}

// readOwned reads owner, times and version of each session in keys with
// one pipelined HMGET per session (one round trip), at now (Unix ms). A
// missing, expired or corrupt session (garbage metadata, a key of another
// type) reads as a meta that is not live.
func (s *Store) readOwned(ctx context.Context, keys []string, now int64) ([]ownedMeta, error) {
	pipe := s.client.Pipeline()
	cmds := make([]*redis.SliceCmd, len(keys))
	for i, k := range keys {
		cmds[i] = pipe.HMGet(ctx, s.redisKey(k), fieldOwner, fieldCreated, fieldExpires, fieldVersion)
	}
	_, _ = pipe.Exec(ctx) // each command keeps its own error
	metas := make([]ownedMeta, len(keys))
	for i, cmd := range cmds {
		m := &metas[i]
		m.st = statusCorrupt
		vals, err := cmd.Result()
		if isWrongType(err) {
			continue
		}
		if err != nil {
			return nil, err
		}
		if len(vals) != 4 {
			continue
		}
		m.owner, m.hasOwner = vals[0].(string)
		names := [...]string{fieldCreated, fieldExpires, fieldVersion}
		get := func(name string) (string, bool) {
			for j, n := range names {
				if n == name {
					v, ok := vals[1+j].(string)
					return v, ok
				}
			}
			return "", false
		}
		m.meta, m.st, _ = parseMeta(get, now)
	}
	return metas, nil
}
