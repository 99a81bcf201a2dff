package session

import (
	"context"
	"errors"
	"time"

	"github.com/sessiongen/sessiongen/runtime/bus"
	"github.com/sessiongen/sessiongen/runtime/identity"
	"github.com/sessiongen/sessiongen/runtime/store"
)

// The write path, top to bottom: apply stages a change (OnResponse) or
// sends it now; send creates the session or commits the change to the
// engine; commit is the one place an existing session is written, with
// the engine checking the change's conditions (the size limit, and the
// expectations of a compare-and-set) atomically with it.

// apply makes the change fs (validated keys; a nil Value removes) to the
// session: staged for the response under OnResponse, sent to the engine
// now otherwise. op and key name the change in errors.
func (s *Session) apply(ctx context.Context, op, key string, fs []Field) error {
	if err := s.m.checkOwner(op, fs); err != nil {
		return err
	}
	ctx = s.context(ctx)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.resolve()
	if s.err != nil {
		return opError(op, key, s.err)
	}
	if s.m.mode == OnResponse && s.phase.Load() == phaseBefore && !s.detached {
		return s.stage(op, key, fs)
	}
	return s.send(ctx, op, key, fs, nil)
}

// context returns ctx, or the request's context when ctx is nil.
func (s *Session) context(ctx context.Context) context.Context {
	if ctx == nil {
		return s.ctx
	}
	return ctx
}

// stage adds fs to the request's pending changes (OnResponse, before the
// headers), checking the size the session will have.
func (s *Session) stage(op, key string, fs []Field) error {
	if s.e == nil && !s.isNew && !hasSet(fs) {
		return nil // nothing to remove from a session that does not exist
	}
	var base fieldSet
	if sn := s.current(); sn != nil {
		base = sn.fields
	}
	size := base.size()
	next := make(map[string][]byte, len(s.pending)+len(fs))
	for k, v := range s.pending {
		next[k] = v
	}
	for _, f := range fs {
		next[f.Key] = f.Value
	}
	if d := pendingDelta(base, next); hasSet(fs) && size+d > s.m.maxSize && d > 0 {
		return s.tooLarge(op, key, size+d)
	}
	if s.e == nil && !s.isNew {
		id, err := identity.NewID()
		if err != nil {
			return opError(op, key, err)
		}
		s.id, s.isNew, s.writeID = id, true, true
	}
	s.pending = next
	if s.isNew {
		s.status = StatusNew
	} else {
		s.modified()
	}
	return nil
}

// send writes fs to the engine now, together with the request's pending
// changes (which it clears on success): it creates the session when the
// engine has none yet, and commits the change otherwise. expect, when
// not nil, makes the change a compare-and-set (see commit). Called with
// mu held.
func (s *Session) send(ctx context.Context, op, key string, fs []Field, expect map[string][]byte) error {
	if len(s.pending) > 0 {
		fs = append(pendingFields(s.pending), fs...)
	}
	if s.e == nil {
		if err := s.create(ctx, op, key, fs); err != nil {
			return err
		}
		s.pending = nil
		return nil
	}
	if err := s.commit(ctx, op, key, fs, expect); err != nil {
		return err
	}
	s.pending = nil
	s.modified()
	return nil
}

// create writes a new session holding fs to the engine, under the ID
// chosen when the change was staged (OnResponse) or a new one. Called
// with mu held.
func (s *Session) create(ctx context.Context, op, key string, fs []Field) error {
	if !hasSet(fs) {
		if s.isNew { // every key set was removed again
			s.id, s.isNew, s.writeID = "", false, false
			s.status = StatusUnchanged
		}
		return nil
	}
	if s.detached {
		// No response can hand a new ID to the client (Manager.Load).
		return opError(op, key, ErrNotFound)
	}
	if !s.isNew && s.phase.Load() != phaseBefore {
		return opError(op, key, ErrHeadersWritten)
	}
	fields, size := recordFields(fs)
	if size > s.m.maxSize {
		return s.tooLarge(op, key, size)
	}
	id := s.id
	if !s.isNew {
		var err error
		if id, err = identity.NewID(); err != nil {
			return opError(op, key, err)
		}
	}
	e, err := s.m.create(ctx, id, fields, fieldSet(nil).with(fs))
	if err != nil {
		return opError(op, key, err)
	}
	s.e, s.id, s.isNew, s.writeID = e, id, false, true
	s.status = StatusNew
	return nil
}

// create writes a new session under id to the engine and caches it:
// fields as the record holds them, set as the snapshot does.
func (m *Manager) create(ctx context.Context, id string, fields map[string][]byte, set fieldSet) (*entry, error) {
	now := m.now()
	own := m.ownerOf(fields)
	expires := capped(set, m.expiresAt(unixNanos(now), now))
	sn := &snapshot{fields: set, created: unixNanos(now), expires: unixNanos(expires), version: 1, owner: own}
	e := m.newEntry(id, sn, m.stamp(now))
	key := e.key()
	rec := store.Record{Fields: fields, Created: now, Expires: expires, Owner: own}
	if err := m.store.Create(ctx, key, rec); err != nil {
		return nil, err
	}
	m.cacheNew(id, key, e)
	m.event(ctx, Event{Kind: EventCreated, Handle: key, Owner: own, At: now})
	return e, nil
}

// cacheNew puts the entry e of a session this process just wrote to the
// engine (created or renewed) under id and engine key key in the cache.
// A deletion of the session announced between the engine write and now
// (a revocation on any node) found no entry to drop: the record of it is
// checked after the entry is indexed, as loader.Load does, so either the
// announcement finds the entry or this finds the announcement.
func (m *Manager) cacheNew(id, key string, e *entry) {
	m.keys.put(key, e)
	m.cache.Set(id, e)
	if mk, ok := m.marks.get(key); ok && mk.deleted {
		e.snap.Store(goneSnapshot)
		m.forget(e)
	}
}

// commit sends fs to the existing session s.e in one engine call, with a
// due sliding extension, and swaps in the new snapshot. An empty fs
// sends only the extension, if due. The change carries the size limit
// when it writes a value, so the engine refuses it when the stored
// session, whatever this process's cached copy holds, would pass the
// limit; and, when expect is not nil, the expectation that each key of
// expect still holds the given bytes (nil: absent) in the engine, so it
// fails with ErrConflict when another request or process changed them.
// Called with mu held.
func (s *Session) commit(ctx context.Context, op, key string, fs []Field, expect map[string][]byte) error {
	m, e := s.m, s.e
	e.mu.Lock()
	defer e.mu.Unlock()
	cur := e.snap.Load()
	now := m.now()
	if !m.live(cur, now) {
		m.expire(ctx, e, cur)
		s.lost(e)
		return opError(op, key, ErrNotFound)
	}
	for k, want := range expect {
		// A writer of this process changed the field since the caller
		// read it: a conflict, known without asking the engine.
		if got, ok := cur.fields.get(k); ok != (want != nil) || string(got) != string(want) {
			return opError(op, key, ErrConflict)
		}
	}
	next := *cur
	c := changeOf(fs)
	c.Expect = expect
	if len(fs) > 0 {
		next.fields = cur.fields.with(fs)
		if hasSet(fs) {
			if size := next.fields.size(); size > m.maxSize && size > cur.fields.size() {
				return s.tooLarge(op, key, size)
			}
			c.MaxSize = m.maxSize
		}
		if o, ok := m.ownerChange(fs); ok {
			c.Owner, next.owner = ptr(o), o
		}
	}
	if t := m.touchDue(cur, now); !t.IsZero() {
		c.Expires, next.expires = t, unixNanos(t)
	}
	if d, ok := deadlineOf(next.fields); ok && d < next.expires {
		// SetDeadline shortened the session: the engine forgets it then.
		c.Expires, next.expires = time.Unix(0, d), d
	}
	if c.Empty() {
		return nil
	}
	checked, start := e.checked.Load(), m.stamp(now)
	ek := e.key()
	v, err := m.store.Update(ctx, ek, c)
	if err != nil {
		switch {
		case errors.Is(err, store.ErrNotFound), errors.Is(err, store.ErrCorrupt):
			if errors.Is(err, store.ErrCorrupt) {
				m.dropCorrupt(ctx, ek, err)
			}
			// Gone in the engine: every copy of this process is gone too,
			// and nothing the request staged may go to a new session.
			m.invalidateKey(ek, true, 0)
			s.lost(e)
			s.pending, s.isNew = nil, false
		case errors.Is(err, store.ErrConflict), errors.Is(err, store.ErrTooLarge):
			// The engine holds what this copy does not: read it again
			// before the next use.
			e.checked.Store(invalid)
		default:
			m.unknownOutcome(ctx, e, ek, cur.version+1, err)
		}
		return opError(op, key, err)
	}
	next.version = v
	e.snap.Store(&next)
	m.settle(e, cur, v, checked, start)
	m.publish(ctx, bus.Changed, ek, v)
	if !c.Expires.IsZero() {
		s.extended = true
	}
	m.written(e, ek, v)
	return nil
}

// settle records what a successful write of this process tells about its
// cached copy e: when the engine's version went from cur's to v in one
// step, the new snapshot is exactly the engine's state, current as of the
// write's start (unless a change message invalidated e meanwhile);
// otherwise another process wrote in between, and the copy, built on
// cur, misses that change: the next read reloads it.
func (m *Manager) settle(e *entry, cur *snapshot, v uint64, checked, start int64) {
	if v != cur.version+1 {
		e.checked.Store(invalid)
		return
	}
	if checked != invalid && start > checked {
		e.checked.CompareAndSwap(checked, start)
	}
}

// renew moves the session to a new ID in the engine, from the engine's
// live record (with the request's pending changes applied on the way),
// then moves the cache entry. When the session was deleted meanwhile
// (revoked, destroyed or renewed elsewhere) nothing is revived: the
// request is left without a session, as after Destroy. Called with mu
// held, s.e set.
func (s *Session) renew(ctx context.Context) error {
	m, e := s.m, s.e
	e.mu.Lock()
	defer e.mu.Unlock()
	cur := e.snap.Load()
	now := m.now()
	if !m.live(cur, now) {
		m.expire(ctx, e, cur)
		s.lost(e)
		return opError("renew", "", ErrNotFound)
	}
	var c store.Change
	if len(s.pending) > 0 {
		fs := pendingFields(s.pending)
		c = changeOf(fs)
		if hasSet(fs) {
			c.MaxSize = m.maxSize
		}
		if o, ok := m.ownerChange(fs); ok {
			c.Owner = ptr(o)
		}
	}
	c.Expires = m.expiresAt(cur.created, now)
	if len(s.pending) > 0 {
		c.Expires = capped(cur.fields.with(pendingFields(s.pending)), c.Expires)
	} else {
		c.Expires = capped(cur.fields, c.Expires)
	}
	id, err := identity.NewID()
	if err != nil {
		return opError("renew", "", err)
	}
	old, key := e.key(), store.Key(id)
	rec, err := m.store.Move(ctx, old, key, c)
	if err != nil {
		switch {
		case errors.Is(err, store.ErrNotFound), errors.Is(err, store.ErrCorrupt):
			if errors.Is(err, store.ErrCorrupt) {
				m.dropCorrupt(ctx, old, err)
			}
			m.invalidateKey(old, true, 0)
			s.lost(e)
			s.pending, s.isNew, s.writeID, s.extended, s.clearID = nil, false, false, false, true
		case errors.Is(err, store.ErrTooLarge):
			e.checked.Store(invalid)
		default:
			m.unknownOutcome(ctx, e, old, cur.version+1, err)
		}
		return opError("renew", "", err)
	}
	// The engine moved what it held, fields it cannot have written
	// included (an engine that filters them returns none).
	ne := m.newEntry(id, snapshotOf(m.validFields(ctx, key, rec)), m.stamp(now))
	// Every copy of the old ID in this process is gone: the request's own
	// entry, and another one a concurrent request may have loaded after
	// this entry left the cache.
	e.snap.Store(goneSnapshot)
	m.invalidateKey(old, true, 0)
	m.forget(e)
	m.cacheNew(id, key, ne)
	m.publish(ctx, bus.Deleted, old, 0)
	m.event(ctx, Event{Kind: EventRenewed, Handle: key, Previous: old, Owner: rec.Owner, At: now})
	s.e, s.id, s.pending, s.writeID = ne, id, nil, true
	s.modified()
	return nil
}

// destroy deletes the session everywhere. Called with mu held.
func (s *Session) destroy(ctx context.Context) error {
	if s.e == nil {
		if s.isNew || s.hadID {
			s.status = StatusDestroyed
		}
		s.pending, s.isNew, s.writeID = nil, false, false
		s.id, s.clearID = "", s.hadID
		return nil
	}
	m, e := s.m, s.e
	e.mu.Lock()
	defer e.mu.Unlock()
	key := e.key()
	if err := m.store.Delete(ctx, key); err != nil {
		m.unknownOutcome(ctx, e, key, e.snap.Load().version+1, err)
		return opError("destroy", "", err)
	}
	cur := e.snap.Load()
	m.invalidateKey(key, true, 0) // every copy of this process, not only e
	if !cur.gone() {
		m.publish(ctx, bus.Deleted, key, 0)
		m.event(ctx, Event{Kind: EventDestroyed, Handle: key, Owner: cur.owner})
	}
	s.lost(e)
	s.pending, s.isNew, s.writeID, s.extended, s.clearID = nil, false, false, false, true
	s.status = StatusDestroyed
	return nil
}

// tooLarge returns the error for a change that would make the session
// size bytes large, over the limit.
func (s *Session) tooLarge(op, key string, size int) error {
	return opError(op, key, &sizeError{size: size, limit: s.m.maxSize})
}

// hasSet reports whether fs writes at least one value.
func hasSet(fs []Field) bool {
	for _, f := range fs {
		if f.Value != nil {
			return true
		}
	}
	return false
}

// changeOf returns the engine change that applies fs in order (a nil
// Value removes its key; a later field with the same key wins).
func changeOf(fs []Field) store.Change {
	var c store.Change
	for _, f := range fs {
		if f.Value != nil {
			if c.Set == nil {
				c.Set = make(map[string][]byte, len(fs))
			}
			c.Set[f.Key] = f.Value
			for i, k := range c.Remove {
				if k == f.Key {
					c.Remove = append(c.Remove[:i], c.Remove[i+1:]...)
					break
				}
			}
			continue
		}
		delete(c.Set, f.Key)
		dup := false
		for _, k := range c.Remove {
			if k == f.Key {
				dup = true
				break
			}
		}
		if !dup {
			c.Remove = append(c.Remove, f.Key)
		}
	}
	return c
}

// pendingFields turns pending changes into fields.
func pendingFields(p map[string][]byte) []Field {
	fs := make([]Field, 0, len(p))
	for k, v := range p {
		fs = append(fs, Field{Key: k, Value: v})
	}
	return fs
}
