package redisstore

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/sessiongen/sessiongen/runtime/store"
)

// Move: one script on a single server; a freeze, a write and a finish
// (with compensating steps) where the two keys may live on different
// servers. See "Move" in the package documentation.

const (
	// moveFreeze bounds how long a Move on a Cluster keeps the old
	// session frozen: a Move that has not finished by then fails, and a
	// Move that crashed leaves a frozen record that Redis purges then.
	moveFreeze = 30 * time.Second
	// moveUndo bounds the compensating steps of a Move that gives up,
	// which run even when the caller's context has ended.
	moveUndo = 5 * time.Second
	// moveOwnerTries bounds how often a Move on a single server is sent
	// again because the session's owner changed under it.
	moveOwnerTries = 5
)

// Move gives the live session under from the key to, with c applied (see
// [store.Store.Move]), and returns the record now stored under to.
//
// On a single server (a *redis.Client: a standalone server or Sentinel)
// it is one script call, atomic; a Move that keeps the owner of a session
// that has one costs a second call (the first learns the owner, whose
// index the script must name). On Redis Cluster, and with any other
// client, it takes three round trips (four when the session has an
// owner) and compensates when it gives up:
// see "Move" in the package documentation.
//
// It returns an error wrapping [store.ErrNotFound] when from is missing,
// expired or being moved, [store.ErrExists] when a live session has the
// key to, [store.ErrConflict] or [store.ErrTooLarge] as [Store.Update]
// does, [store.ErrCorrupt] when from cannot be read, and
// [store.ErrInvalid] for an empty key, equal keys, a zero c.Expires or an
// invalid field key.
func (s *Store) Move(ctx context.Context, from, to string, c store.Change) (store.Record, error) {
	switch {
	case from == "" || to == "":
		return store.Record{}, fmt.Errorf("redisstore: move: %w: empty key", store.ErrInvalid)
	case from == to:
		return store.Record{}, fmt.Errorf("redisstore: move: %w: the keys are equal", store.ErrInvalid)
	case c.Expires.IsZero():
		return store.Record{}, fmt.Errorf("redisstore: move: %w: zero Expires", store.ErrInvalid)
	}
	tail, err := changeArgs(c)
	if err != nil {
		return store.Record{}, fmt.Errorf("redisstore: move: %w", err)
	}
	if err := ctx.Err(); err != nil {
		return store.Record{}, fmt.Errorf("redisstore: move: %w", err)
	}
	if s.oneServer {
		return s.moveAtomic(ctx, from, to, c, tail)
	}
	return s.moveSteps(ctx, from, to, c, tail)
}

// moveAtomic is Move on a single server: moveScript, sent again with the
// owner's index when the script answers that it needs it.
func (s *Store) moveAtomic(ctx context.Context, from, to string, c store.Change, tail []any) (store.Record, error) {
	now, expires := nowMillis(), c.Expires.UnixMilli()
	mode, owner := ownerMode(c)
	score := indexScore(expires, now)
	guess := owner // the owner whose index the script gets
	for range moveOwnerTries {
		keys := []string{s.redisKey(from), s.redisKey(to)}
		if guess != "" {
			keys = append(keys, s.indexKey(guess))
		}
		args := append([]any{now, expires, mode, owner, score, guess, from, to}, tail...)
		mv := &call{script: moveScript, keys: keys, args: args}
		s.run(ctx, mv)
		vals, err := mv.cmd.Slice()
		if err != nil {
			return store.Record{}, fmt.Errorf("redisstore: move: %w", err)
		}
		code, ok := vals[0].(int64)
		switch {
		case !ok:
			return store.Record{}, fmt.Errorf("redisstore: move: unexpected script answer %v", vals)
		case code == codeOwner && len(vals) == 2:
			if guess, ok = vals[1].(string); !ok || guess == "" {
				return store.Record{}, fmt.Errorf("redisstore: move: unexpected script answer %v", vals)
			}
			continue
		case code != 1:
			return store.Record{}, codeErr("move", from, code)
		}
		rec, old, err := movedRecord(vals, expires)
		if err != nil {
			return store.Record{}, fmt.Errorf("redisstore: move: %w", err)
		}
		switch mode {
		case ownerKeep:
			rec.Owner = old
		case ownerSet:
			rec.Owner = owner
		}
		if old != "" && old != rec.Owner {
			// The script removed the old entry only from the new owner's
			// index; Owned would drop this one too.
			_ = s.client.ZRem(ctx, s.indexKey(old), from).Err()
		}
		return rec, nil
	}
	return store.Record{}, fmt.Errorf("redisstore: move: the session's owner changed %d times during the move", moveOwnerTries)
}

// movedRecord reads a script's answer {1, created, owner, field, value,
// ...} as the moved record (Version 1, expiring at expires, without its
// owner) and the owner.
func movedRecord(vals []any, expires int64) (store.Record, string, error) {
	bad := fmt.Errorf("unexpected script answer of %d values", len(vals))
	if len(vals) < 3 || len(vals)%2 == 0 {
		return store.Record{}, "", bad
	}
	cs, ok1 := vals[1].(string)
	owner, ok2 := vals[2].(string)
	created, ok3 := parseMillis(cs)
	if !ok1 || !ok2 || !ok3 {
		return store.Record{}, "", bad
	}
	rec := store.Record{
		Fields:  make(map[string][]byte, (len(vals)-3)/2),
		Created: time.UnixMilli(created),
		Expires: time.UnixMilli(expires),
		Version: 1,
	}
	for i := 3; i < len(vals); i += 2 {
		k, ok1 := vals[i].(string)
		v, ok2 := vals[i+1].(string)
		if !ok1 || !ok2 {
			return store.Record{}, "", bad
		}
		rec.Fields[k] = []byte(v)
	}
	return rec, owner, nil
}

// moveSteps is Move where the two keys may live on different servers:
// freeze from (freezeScript), write to (createScript, marked with the
// Move's token), then its owner-index entry (indexScript), then delete from if it is still frozen by this Move
// (finishScript, pipelined with the removal of from's index entry). When
// it gives up after the freeze it deletes what it wrote under to
// (dropScript) and thaws from (thawScript).
func (s *Store) moveSteps(ctx context.Context, from, to string, c store.Change, tail []any) (store.Record, error) {
	token, err := newToken()
	if err != nil {
		return store.Record{}, fmt.Errorf("redisstore: move: %w", err)
	}
	now, expires := nowMillis(), c.Expires.UnixMilli()

	// 1. Freeze from and read it.
	args := append([]any{now, now + moveFreeze.Milliseconds(), token}, tail...)
	freeze := &call{script: freezeScript, keys: []string{s.redisKey(from)}, args: args}
	s.run(ctx, freeze)
	vals, err := freeze.cmd.Slice()
	if err != nil {
		s.undo(ctx, from, "", token, "") // the freeze may have taken place
		return store.Record{}, fmt.Errorf("redisstore: move: %w", err)
	}
	if code, ok := vals[0].(int64); !ok || code != 1 {
		if !ok {
			return store.Record{}, fmt.Errorf("redisstore: move: unexpected script answer %v", vals)
		}
		return store.Record{}, codeErr("move", from, code)
	}
	rec, old, err := movedRecord(vals, expires)
	if err != nil {
		s.undo(ctx, from, "", token, "")
		return store.Record{}, fmt.Errorf("redisstore: move: %w", err)
	}
	rec.Fields = c.Apply(rec.Fields)
	for k, v := range c.Set {
		rec.Fields[k] = bytes.Clone(v) // the caller keeps its own
	}
	rec.Owner = old
	if c.Owner != nil {
		rec.Owner = *c.Owner
	}

	// 2. Write to, listed under its owner.
	var score int64
	if rec.Owner != "" {
		score = indexScore(expires, now)
	}
	args = make([]any, 0, 6+2*len(rec.Fields))
	args = append(args, now, rec.Created.UnixMilli(), expires, rec.Owner, score, token)
	for k, v := range rec.Fields {
		args = append(args, k, v)
	}
	// The index entry is written once the record exists, never in
	// parallel with it: a listing that finds the entry then finds the
	// session, and does not take the entry for a stray one.
	create := &call{script: createScript, keys: []string{s.redisKey(to)}, args: args}
	s.run(ctx, create)
	n, err := create.cmd.Int()
	switch {
	case err != nil:
		s.undo(ctx, from, to, token, rec.Owner)
		return store.Record{}, fmt.Errorf("redisstore: move: %w", err)
	case n == 0:
		s.undo(ctx, from, "", token, "")
		return store.Record{}, fmt.Errorf("redisstore: move: %w", store.ErrExists)
	}
	if rec.Owner != "" {
		index := s.indexCall(rec.Owner, to, score, now)
		s.run(ctx, index)
		if err := index.cmd.Err(); err != nil {
			s.undo(ctx, from, to, token, rec.Owner)
			return store.Record{}, fmt.Errorf("redisstore: move: owner index: %w", err)
		}
	}

	// 3. Delete from, unless it was deleted (revoked) or its freeze
	// ended meanwhile. Its index entry goes in the same round trip: by
	// now from is frozen by this Move or gone, so the entry is stale
	// either way.
	finish := &call{script: finishScript, keys: []string{s.redisKey(from)}, args: []any{token}}
	var unlist func(redis.Pipeliner)
	if old != "" {
		unlist = func(p redis.Pipeliner) { p.ZRem(ctx, s.indexKey(old), from) }
	}
	s.runWith(ctx, unlist, finish)
	n, err = finish.cmd.Int()
	switch {
	case err != nil:
		s.undo(ctx, from, to, token, rec.Owner)
		return store.Record{}, fmt.Errorf("redisstore: move: %w", err)
	case n == 0:
		s.undo(ctx, "", to, token, rec.Owner)
		return store.Record{}, fmt.Errorf("redisstore: move: %w", store.ErrNotFound)
	}
	return rec, nil
}

// undo are the compensating steps of a Move on a Cluster that gives up:
// it deletes the record the Move wrote under to (when to is not "") and
// its entry in owner's index, then thaws from (when from is not ""),
// each only where the Move's token shows the record is this Move's. From
// is thawed only once nothing of the Move's is left under to, so there
// are never two live copies: when the drop fails, from stays frozen
// until its freeze ends. It is best effort and runs even when ctx has
// ended, within moveUndo.
func (s *Store) undo(ctx context.Context, from, to, token, owner string) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), moveUndo)
	defer cancel()
	if to != "" {
		drop := &call{script: dropScript, keys: []string{s.redisKey(to)}, args: []any{token}}
		s.run(ctx, drop)
		n, err := drop.cmd.Int()
		if err != nil {
			return
		}
		if n == 1 && owner != "" {
			_ = s.client.ZRem(ctx, s.indexKey(owner), to).Err()
		}
	}
	if from != "" {
		thaw := &call{script: thawScript, keys: []string{s.redisKey(from)}, args: []any{token}}
		s.run(ctx, thaw)
	}
}

// newToken returns a random token naming one Move.
func newToken() (string, error) {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", err
	}
	return hex.EncodeToString(b[:]), nil
}
