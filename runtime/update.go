package session

import (
	"context"
	"errors"
	"fmt"
	"hash/maphash"
	"math/rand/v2"
	"reflect"
	"sync"
	"time"

	"github.com/sessiongen/sessiongen/runtime/store"
)

// Same-key read-modify-write (compare-and-set).
//
// Two requests that read a counter and write it back lose an increment
// when they interleave, whatever the engine. Update and UpdateRaw do not:
// the write carries the bytes the read saw as an expectation, the engine
// applies it only if the key still holds them (in the same round trip as
// any write), and on a conflict the session is read again from the
// engine and the function called again with the fresh value. Other keys
// changing meanwhile cause no retry.

// MaxUpdateTries bounds the tries of one [Update] or [Session.UpdateRaw]
// under contention; after the last conflict it returns an error wrapping
// [ErrConflict]. Compare-and-sets of one session in one process take
// turns, so only other processes (and plain writes) can make a try
// conflict. A try after a conflict reads the session again and waits a
// random time below a ceiling that doubles with each try (1 ms, 2 ms,
// 4 ms... up to 16 ms). The bound is generous because a process whose
// own write just succeeded holds a fresh copy and tends to win the next
// round: a request on another process may have to wait until that
// process's queue of writers to the same session has drained. In the
// tests, 200 concurrent increments of one key split over two processes
// all succeed on every engine, also under the race detector.
const MaxUpdateTries = 64

// Update changes the value under key with fn, atomically: fn gets the
// current value (ok false when the key is absent; old is then T's zero
// value) and returns the new one, which is stored only if the key still
// holds what fn was given, checked by the engine. When another request
// or process changed the key in between, fn is called again with the
// fresh value, at most [MaxUpdateTries] times in all (so fn must have no
// other effects); then the error wraps [ErrConflict]. An error from fn
// is returned as it is and nothing is changed. fn may read the session
// (another key, say) but must not call Update or UpdateRaw on it: tries
// of one session take turns, so that would wait forever. Update returns
// the value stored.
//
// Update writes to the engine at once, whatever the flush mode: under
// [OnResponse] the request's pending changes go with it. A session that
// does not exist yet is created (its first Set). Values are encoded and
// decoded as by [Session.Set] and [Value]; a stored value that does not
// decode into a T gives an error wrapping [ErrDecode] without calling fn.
//
//	n, err := session.Update(ctx, s, "visits", func(n int, _ bool) (int, error) {
//		return n + 1, nil
//	})
func Update[T any](ctx context.Context, s *Session, key string, fn func(old T, ok bool) (T, error)) (T, error) {
	var stored T
	_, err := s.UpdateRaw(ctx, key, func(b []byte, ok bool) ([]byte, error) {
		var old T
		if ok {
			if err := decodeInto(&old, b); err != nil {
				return nil, decodeError(key, reflect.TypeFor[T](), err)
			}
		}
		v, err := fn(old, ok)
		if err != nil {
			return nil, err
		}
		nb, err := encode(v)
		if err != nil {
			return nil, opError("update", key, errEncode(v, err))
		}
		stored = v
		return nb, nil
	})
	if err != nil {
		var zero T
		return zero, err
	}
	return stored, nil
}

// UpdateRaw is the primitive under [Update], for generated code: fn gets
// the encoded bytes under key (shared with the cache: do not modify
// them) and returns the new encoded value, exactly one msgpack value
// ([ErrInvalidValue] otherwise), or nil to remove the key. It returns
// the bytes stored (nil when the key was removed). The size limit
// applies as for [Session.Set].
func (s *Session) UpdateRaw(ctx context.Context, key string, fn func(old []byte, ok bool) ([]byte, error)) ([]byte, error) {
	return s.updateRaw(ctx, key, nil, fn)
}

// UpdateRawRenamed is [Session.UpdateRaw] for a key renamed from the keys
// in was (generated code for a field tagged was=): when key is absent, fn
// gets the value under the first key of was that is present, and the
// change that stores the new value under key also removes every key of
// was. The engine applies it only if key and each key of was still hold
// what was read, so a write of an old key by a build that still uses it
// is not lost unseen: it makes the try conflict and fn run again.
func (s *Session) UpdateRawRenamed(ctx context.Context, key string, was []string, fn func(old []byte, ok bool) ([]byte, error)) ([]byte, error) {
	for _, w := range was {
		if !ValidKey(w) || w == key {
			return nil, opError("update", w, ErrInvalidKey)
		}
	}
	return s.updateRaw(ctx, key, was, fn)
}

// updateRaw is UpdateRaw and UpdateRawRenamed.
func (s *Session) updateRaw(ctx context.Context, key string, was []string, fn func(old []byte, ok bool) ([]byte, error)) ([]byte, error) {
	if s == nil {
		return nil, opError("update", key, ErrNoSession)
	}
	if !ValidKey(key) {
		return nil, opError("update", key, ErrInvalidKey)
	}
	ctx = s.context(ctx)
	var nb []byte
	err := s.compareAndSet(ctx, "update", key, func() error {
		var err error
		nb, err = s.updateOnce(ctx, key, was, fn)
		return err
	})
	if err != nil {
		return nil, err
	}
	return nb, nil
}

// compareAndSet runs try, one compare-and-set of the session, until it
// does not fail with ErrConflict, at most MaxUpdateTries times with a
// backoff between tries, counting the conflicts and retries in Stats.
// Compare-and-sets of one session in this process take turns, so they
// conflict only with other processes (and plain writes), not with each
// other.
func (s *Session) compareAndSet(ctx context.Context, op, key string, try func() error) error {
	if id := s.ID(); id != "" {
		mu := s.m.updateLock(id)
		mu.Lock()
		defer mu.Unlock()
	}
	var err error
	for n := range MaxUpdateTries {
		if n > 0 {
			s.m.retries.Add(1)
			if err := backoff(ctx, n); err != nil {
				return opError(op, key, err)
			}
		}
		if err = try(); !errors.Is(err, ErrConflict) {
			return err
		}
		s.m.conflicts.Add(1)
	}
	return err
}

// updateOnce is one try of UpdateRaw (of UpdateRawRenamed with was).
func (s *Session) updateOnce(ctx context.Context, key string, was []string, fn func(old []byte, ok bool) ([]byte, error)) ([]byte, error) {
	keys := append([]string{key}, was...)
	rd, err := s.readForUpdate(ctx, keys)
	if err != nil {
		return nil, err
	}
	// fn runs without the session's lock, so it may read the session
	// (another key, a limit); what it does is checked below.
	nb, err := fn(rd.old, rd.ok)
	if err != nil {
		return nil, err
	}
	if nb != nil && !wellFormed(nb) {
		return nil, opError("update", key, ErrInvalidValue)
	}
	nb = clone(nb)
	fs := []Field{{Key: key, Value: nb}}
	for _, w := range was {
		fs = append(fs, Field{Key: w})
	}
	if err := s.m.checkOwner("update", fs); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.err != nil {
		return nil, opError("update", key, s.err)
	}
	if s.e != rd.e {
		// The request renewed or destroyed its session while fn ran.
		return nil, opError("update", key, ErrConflict)
	}
	for i, k := range keys {
		if v, staged := s.pending[k]; staged != rd.keys[i].staged || string(v) != string(rd.keys[i].stagedValue) {
			// The request staged another value of the key while fn
			// ran: try again.
			return nil, opError("update", key, ErrConflict)
		}
	}
	var expect map[string][]byte
	if s.e != nil {
		expect = make(map[string][]byte, len(keys))
		for i, k := range keys {
			expect[k] = rd.keys[i].engine
		}
	}
	if err := s.send(ctx, "update", key, fs, expect); err != nil {
		return nil, err
	}
	return nb, nil
}

// updateRead is what one try of UpdateRaw read of the session.
type updateRead struct {
	e    *entry    // the request's entry (nil: no session in the engine yet)
	keys []keyRead // what was read of each key the try writes, in order
	old  []byte    // the value the request sees (its staged change first)
	ok   bool      // whether the request sees the key (or an old key) at all
}

// keyRead is what one try of UpdateRaw read of one key.
type keyRead struct {
	engine      []byte // the bytes under the key in the cached copy: the engine must still hold them
	staged      bool   // whether the request had staged a change of the key
	stagedValue []byte // that change (nil: a removal)
}

// readForUpdate reads, for one try of UpdateRaw, what the request and its
// cached copy hold under keys: the key updated, then the keys it was
// renamed from. The value fn gets is the first one the request sees. A
// copy known to be stale is read again from the engine first.
func (s *Session) readForUpdate(ctx context.Context, keys []string) (updateRead, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.resolve()
	if s.err != nil {
		return updateRead{}, opError("update", keys[0], s.err)
	}
	if s.e != nil && s.e.checked.Load() == invalid {
		// A conflict or a change message showed the cached copy stale:
		// read the session again first.
		if err := s.reload(ctx); err != nil {
			return updateRead{}, opError("update", keys[0], err)
		}
	}
	rd := updateRead{e: s.e, keys: make([]keyRead, len(keys))}
	sn := s.current()
	for i, k := range keys {
		kr := &rd.keys[i]
		if sn != nil {
			kr.engine, _ = sn.fields.get(k)
		}
		old := kr.engine
		if v, staged := s.pending[k]; staged {
			old, kr.staged, kr.stagedValue = v, true, v
		}
		if !rd.ok && old != nil {
			rd.old, rd.ok = old, true
		}
	}
	return rd, nil
}

// reload replaces the request's cached copy with the engine's current
// record. Called with mu held, s.e set.
func (s *Session) reload(ctx context.Context) error {
	m, e := s.m, s.e
	e.mu.Lock()
	defer e.mu.Unlock()
	start := m.stamp(m.now())
	key := e.key()
	rec, err := m.store.Load(ctx, key)
	if errors.Is(err, store.ErrCorrupt) {
		m.dropCorrupt(ctx, key, err)
		err = fmt.Errorf("%w: %w", ErrNotFound, err)
	}
	if errors.Is(err, ErrNotFound) {
		m.invalidateKey(key, true, 0)
		s.lost(e)
		s.pending, s.isNew = nil, false
		return err
	}
	if err != nil {
		return err
	}
	if cur := e.snap.Load(); cur.gone() {
		s.lost(e)
		return ErrNotFound
	}
	e.snap.Store(snapshotOf(rec))
	e.checked.Store(start)
	return nil
}

// updateLocks is the number of locks compare-and-sets of one manager
// share, by session.
const updateLocks = 256

// updateLock returns the lock that compare-and-sets of session id take
// in this process.
func (m *Manager) updateLock(id string) *sync.Mutex {
	return &m.updates[maphash.String(m.seed, id)%updateLocks]
}

// backoff waits before try number try (1 and up) of a compare-and-set: a
// random time below 2^(try-1) ms, at most 16 ms.
func backoff(ctx context.Context, try int) error {
	ceiling := time.Millisecond << min(try-1, 4)
	t := time.NewTimer(rand.N(ceiling))
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// decodeInto decodes b into *dst: the hot types without reflection,
// anything else with msgpack.
func decodeInto[T any](dst *T, b []byte) error {
	if handled, err := decodeFast(dst, b); handled {
		return err
	}
	return unmarshal(b, dst)
}
