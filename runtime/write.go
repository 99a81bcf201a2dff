package session

import (
	"context"
	"errors"
	"fmt"

	"github.com/sessiongen/sessiongen/runtime/bus"
	"github.com/sessiongen/sessiongen/runtime/identity"
	"github.com/sessiongen/sessiongen/runtime/store"
)

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
	if s.m.mode == OnResponse && s.phase.Load() == phaseBefore {
		return s.stage(op, key, fs)
	}
	if s.e == nil {
		return s.create(ctx, op, key, fs)
	}
	return s.update(ctx, op, key, fs)
}

// context returns ctx, or the request's context when ctx is nil.
func (s *Session) context(ctx context.Context) context.Context {
	if ctx == nil {
		return s.ctx
	}
	return ctx
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

// stage adds fs to the request's pending changes (OnResponse, before the
// headers), checking the size the session will have.
func (s *Session) stage(op, key string, fs []Field) error {
	if s.e == nil && !s.isNew && !hasSet(fs) {
		return nil // nothing to remove from a session that does not exist
	}
	var base map[string][]byte
	size := 0
	if sn := s.current(); sn != nil {
		base, size = sn.fields, sn.size
	}
	next := make(map[string][]byte, len(s.pending)+len(fs))
	for k, v := range s.pending {
		next[k] = v
	}
	for _, f := range fs {
		next[f.Key] = f.Value
	}
	if hasSet(fs) && size+pendingDelta(base, next) > s.m.maxSize {
		return opError(op, key, ErrTooLarge)
	}
	if s.e == nil && !s.isNew {
		id, err := identity.NewID()
		if err != nil {
			return opError(op, key, err)
		}
		s.id, s.isNew, s.writeID = id, true, true
	}
	s.pending = next
	return nil
}

// create writes a new session holding fs to the engine (Immediate, or
// after the headers under OnResponse).
func (s *Session) create(ctx context.Context, op, key string, fs []Field) error {
	if !hasSet(fs) {
		return nil
	}
	if s.phase.Load() != phaseBefore {
		return opError(op, key, ErrHeadersWritten)
	}
	fields, size := applyFields(nil, fs)
	if size > s.m.maxSize {
		return opError(op, key, ErrTooLarge)
	}
	id, err := identity.NewID()
	if err != nil {
		return opError(op, key, err)
	}
	e, err := s.m.create(ctx, id, fields, size)
	if err != nil {
		return opError(op, key, err)
	}
	s.e, s.id, s.writeID = e, id, true
	return nil
}

// create writes a new session with the given fields under id to the
// engine and caches it.
func (m *Manager) create(ctx context.Context, id string, fields map[string][]byte, size int) (*entry, error) {
	now := m.now()
	own := m.ownerOf(fields)
	sn := &snapshot{fields: fields, size: size, created: now, expires: m.expiresAt(now, now), version: 1, owner: own}
	e := m.newEntry(id, sn, m.stamp(now))
	rec := store.Record{Fields: fields, Created: sn.created, Expires: sn.expires, Owner: own}
	if err := m.store.Create(ctx, e.key, rec); err != nil {
		return nil, err
	}
	m.keys.Store(e.key, e)
	m.cache.Set(id, e)
	m.event(ctx, Event{Kind: EventCreated, Handle: e.key, Owner: own, At: now})
	return e, nil
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

// update sends fs to the engine for the existing session and swaps in the
// new snapshot. A due sliding extension goes with it.
func (s *Session) update(ctx context.Context, op, key string, fs []Field) error {
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
	fields, size := applyFields(cur.fields, fs)
	if hasSet(fs) && size > m.maxSize {
		return opError(op, key, ErrTooLarge)
	}
	c := changeFor(fields, fs)
	own := cur.owner
	if o, ok := m.ownerChange(fs); ok {
		c.Owner, own = ptr(o), o
	}
	expires := cur.expires
	if t := m.touchDue(cur, now); !t.IsZero() {
		c.Expires, expires = t, t
	}
	checked, start := e.checked.Load(), m.stamp(now)
	v, err := m.store.Update(ctx, e.key, c)
	if err != nil {
		if errors.Is(err, store.ErrNotFound) {
			s.lost(e)
		}
		return opError(op, key, err)
	}
	e.snap.Store(&snapshot{fields: fields, size: size, created: cur.created, expires: expires, version: v, owner: own})
	m.settle(e, cur, v, checked, start)
	m.publish(ctx, bus.Changed, e.key, v)
	if !c.Expires.IsZero() {
		s.extended = true
	}
	m.written(e, v)
	return nil
}

// renew moves the session to a new ID: create under the new key, delete
// the old one, then move the cache entry. Called with mu held, s.e set.
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
	fields, size, own := cur.fields, cur.size, cur.owner
	if len(s.pending) > 0 {
		fs := pendingFields(s.pending)
		fields, size = applyFields(cur.fields, fs)
		if size > m.maxSize {
			return opError("renew", "", ErrTooLarge)
		}
		if o, ok := m.ownerChange(fs); ok {
			own = o
		}
	}
	id, err := identity.NewID()
	if err != nil {
		return opError("renew", "", err)
	}
	sn := &snapshot{fields: fields, size: size, created: cur.created, expires: m.expiresAt(cur.created, now), version: 1, owner: own}
	ne := m.newEntry(id, sn, m.stamp(now))
	rec := store.Record{Fields: fields, Created: sn.created, Expires: sn.expires, Owner: own}
	if err := m.store.Create(ctx, ne.key, rec); err != nil {
		return opError("renew", "", err)
	}
	if err := m.store.Delete(ctx, e.key); err != nil {
		// The old ID must not keep working: undo, report, change nothing.
		if derr := m.store.Delete(context.WithoutCancel(ctx), ne.key); derr != nil {
			err = errors.Join(err, fmt.Errorf("removing the new copy: %w", derr))
		}
		return opError("renew", "", err)
	}
	e.snap.Store(goneSnapshot)
	m.marks.put(e.key, true, 0)
	m.forget(e)
	m.keys.Store(ne.key, ne)
	m.cache.Set(id, ne)
	m.publish(ctx, bus.Deleted, e.key, 0)
	m.event(ctx, Event{Kind: EventRenewed, Handle: ne.key, Previous: e.key, Owner: own, At: now})
	s.e, s.id, s.pending, s.writeID = ne, id, nil, true
	return nil
}

// destroy deletes the session everywhere. Called with mu held.
func (s *Session) destroy(ctx context.Context) error {
	if s.e == nil {
		s.pending, s.isNew, s.writeID = nil, false, false
		s.id, s.clearID = "", s.hadID
		return nil
	}
	m, e := s.m, s.e
	e.mu.Lock()
	defer e.mu.Unlock()
	if err := m.store.Delete(ctx, e.key); err != nil {
		return opError("destroy", "", err)
	}
	if cur := e.snap.Load(); !cur.gone {
		m.marks.put(e.key, true, 0)
		m.publish(ctx, bus.Deleted, e.key, 0)
		m.event(ctx, Event{Kind: EventDestroyed, Handle: e.key, Owner: cur.owner})
	}
	s.lost(e)
	s.pending, s.isNew, s.writeID, s.extended, s.clearID = nil, false, false, false, true
	return nil
}

// pendingFields turns pending changes into fields.
func pendingFields(p map[string][]byte) []Field {
	fs := make([]Field, 0, len(p))
	for k, v := range p {
		fs = append(fs, Field{Key: k, Value: v})
	}
	return fs
}
