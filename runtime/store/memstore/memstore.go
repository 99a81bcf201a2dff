// Package memstore is the in-process session engine, the manager's
// default. Sessions live in this process's memory only: they vanish when
// it exits and are not shared with other processes.
//
// The map is split into shards, each behind its own lock, so requests for
// different sessions rarely wait for each other. Every value is copied on
// the way in and on the way out, so callers can never change a stored
// session behind the store's back.
//
// Expiry is enforced on every access: a session past its Expires is gone
// for Load and Update even before it is purged. A background goroutine
// purges expired sessions every minute by default (see
// [WithCleanupInterval]); [Store.Close] stops it.
//
// Every session carries its version (see [store.Record]), which
// [Store.Version] reports without copying the session. Sessions with an
// owner are also listed in an owner index (owner to set of keys), changed
// under the same lock as the session itself; [Store.Owned] reads it. The
// index drops a session when it is deleted, moved to another owner or
// purged, and [Store.Owned] drops the expired sessions it meets, so the
// index never holds more than the sessions in memory.
package memstore

import (
	"context"
	"fmt"
	"hash/maphash"
	"runtime"
	"sync"
	"time"

	"github.com/sessiongen/sessiongen/runtime/store"
)

// shardCount is the number of independently locked parts of the map.
const shardCount = 64

// Store is an in-memory [store.Store]. The zero value is not usable; call
// [New]. A Store is safe for concurrent use.
type Store struct {
	data      *shards
	stop      chan struct{} // closed to stop the janitor
	done      chan struct{} // closed when the janitor has stopped
	cleanup   runtime.Cleanup
	closeOnce sync.Once
}

// shards holds the data. It is separate from Store so the cleanup
// goroutine does not keep a forgotten Store reachable.
//
// Lock order: a shard's lock, then owners.mu. The owner index is only
// changed while the lock of the changed session's shard is held.
type shards struct {
	seed   maphash.Seed
	parts  [shardCount]shard
	owners owners
}

// owners is the owner index: the keys of the sessions of each owner.
type owners struct {
	mu sync.Mutex
	m  map[string]map[string]struct{}
}

// shard is one locked part of the map.
type shard struct {
	mu sync.RWMutex
	m  map[string]*entry
}

// entry is one stored session. Its field map and bytes are owned by the
// store and never handed out.
type entry struct {
	fields  map[string][]byte
	created time.Time
	expires time.Time
	version uint64
	owner   string
}

// Errors for input the store refuses; all wrap [store.ErrInvalid].
var (
	errEmptyKey      = fmt.Errorf("%w: empty key", store.ErrInvalid)
	errEmptyFieldKey = fmt.Errorf("%w: empty field key", store.ErrInvalid)
	errNoExpiry      = fmt.Errorf("%w: record has no expiry", store.ErrInvalid)
)

var (
	_ store.Store      = (*Store)(nil)
	_ store.Versioner  = (*Store)(nil)
	_ store.OwnerIndex = (*Store)(nil)
)

// New returns an empty Store. Unless [WithCleanupInterval] turns it off, a
// goroutine purges expired sessions in the background until [Store.Close]
// is called (or the Store becomes unreachable).
func New(opts ...Option) *Store {
	cfg := config{cleanupInterval: DefaultCleanupInterval}
	for _, o := range opts {
		if o != nil {
			o(&cfg)
		}
	}
	sh := &shards{seed: maphash.MakeSeed(), owners: owners{m: make(map[string]map[string]struct{})}}
	for i := range sh.parts {
		sh.parts[i].m = make(map[string]*entry)
	}
	s := &Store{data: sh, stop: make(chan struct{}), done: make(chan struct{})}
	if cfg.cleanupInterval <= 0 {
		close(s.done)
		return s
	}
	go sh.janitor(cfg.cleanupInterval, s.stop, s.done)
	// A Store dropped without Close still stops its goroutine.
	s.cleanup = runtime.AddCleanup(s, func(stop chan struct{}) { close(stop) }, s.stop)
	return s
}

// Close stops the background cleanup and waits for it to finish. The
// Store's data stays usable; Close exists so tests and programs that
// create many stores do not leak goroutines. Closing twice is fine.
func (s *Store) Close() error {
	s.closeOnce.Do(func() {
		select {
		case <-s.done: // no janitor was started
		default:
			s.cleanup.Stop()
			close(s.stop)
		}
	})
	<-s.done
	return nil
}

// Len returns the number of live (not expired) sessions.
func (s *Store) Len() int {
	now := time.Now()
	n := 0
	for i := range s.data.parts {
		p := &s.data.parts[i]
		p.mu.RLock()
		for _, e := range p.m {
			if e.live(now) {
				n++
			}
		}
		p.mu.RUnlock()
	}
	return n
}

// Load returns a copy of the session stored under key, or
// [store.ErrNotFound] when there is none or it has expired.
func (s *Store) Load(ctx context.Context, key string) (store.Record, error) {
	if err := ctx.Err(); err != nil {
		return store.Record{}, fmt.Errorf("memstore: load: %w", err)
	}
	p := s.data.shard(key)
	p.mu.RLock()
	e, ok := p.m[key]
	if !ok || !e.live(time.Now()) {
		p.mu.RUnlock()
		return store.Record{}, fmt.Errorf("memstore: load: %w", store.ErrNotFound)
	}
	rec := store.Record{
		Fields:  copyFields(e.fields),
		Created: e.created,
		Expires: e.expires,
		Version: e.version,
		Owner:   e.owner,
	}
	p.mu.RUnlock()
	return rec, nil
}

// Version returns the version of the live session under key, or
// [store.ErrNotFound] when there is none or it has expired.
func (s *Store) Version(ctx context.Context, key string) (uint64, error) {
	if err := ctx.Err(); err != nil {
		return 0, fmt.Errorf("memstore: version: %w", err)
	}
	p := s.data.shard(key)
	p.mu.RLock()
	defer p.mu.RUnlock()
	e, ok := p.m[key]
	if !ok || !e.live(time.Now()) {
		return 0, fmt.Errorf("memstore: version: %w", store.ErrNotFound)
	}
	return e.version, nil
}

// Create stores a copy of rec under key, with version 1 and rec's owner.
// It returns [store.ErrExists] when a live session has the key; an expired
// one is replaced.
func (s *Store) Create(ctx context.Context, key string, rec store.Record) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("memstore: create: %w", err)
	}
	if key == "" {
		return fmt.Errorf("memstore: create: %w", errEmptyKey)
	}
	if rec.Expires.IsZero() {
		return fmt.Errorf("memstore: create: %w", errNoExpiry)
	}
	if err := checkFieldKeys(rec.Fields); err != nil {
		return fmt.Errorf("memstore: create: %w", err)
	}
	e := &entry{
		fields:  copyFields(rec.Fields),
		created: rec.Created,
		expires: rec.Expires,
		version: 1,
		owner:   rec.Owner,
	}
	p := s.data.shard(key)
	p.mu.Lock()
	defer p.mu.Unlock()
	old, ok := p.m[key]
	if ok && old.live(time.Now()) {
		return fmt.Errorf("memstore: create: %w", store.ErrExists)
	}
	oldOwner := ""
	if ok {
		oldOwner = old.owner
	}
	s.data.owners.move(key, oldOwner, e.owner)
	p.m[key] = e
	return nil
}

// Update applies c to the live session under key, all of it or nothing,
// and returns the session's new version. It returns [store.ErrNotFound]
// and changes nothing when the session is missing or has expired.
func (s *Store) Update(ctx context.Context, key string, c store.Change) (uint64, error) {
	if err := ctx.Err(); err != nil {
		return 0, fmt.Errorf("memstore: update: %w", err)
	}
	if key == "" {
		return 0, fmt.Errorf("memstore: update: %w", errEmptyKey)
	}
	if err := checkFieldKeys(c.Set); err != nil {
		return 0, fmt.Errorf("memstore: update: %w", err)
	}
	// Copy outside the lock; the copies share one buffer.
	var set map[string][]byte
	if len(c.Set) > 0 {
		set = copyFields(c.Set)
	}
	p := s.data.shard(key)
	p.mu.Lock()
	defer p.mu.Unlock()
	e, ok := p.m[key]
	if !ok {
		return 0, fmt.Errorf("memstore: update: %w", store.ErrNotFound)
	}
	if !e.live(time.Now()) {
		s.data.drop(p, key, e)
		return 0, fmt.Errorf("memstore: update: %w", store.ErrNotFound)
	}
	if err := c.Check(e.fields); err != nil {
		return 0, fmt.Errorf("memstore: update: %w", err)
	}
	// Remove goes first, so a key both removed and set ends up set.
	for _, k := range c.Remove {
		delete(e.fields, k)
	}
	for k, v := range set {
		e.fields[k] = v
	}
	if !c.Expires.IsZero() {
		e.expires = c.Expires
	}
	if c.Owner != nil && *c.Owner != e.owner {
		s.data.owners.move(key, e.owner, *c.Owner)
		e.owner = *c.Owner
	}
	e.version++
	return e.version, nil
}

// Move gives the live session under from the key to, with c applied,
// in one step under the locks of both keys' shards (see
// [store.Store.Move]).
func (s *Store) Move(ctx context.Context, from, to string, c store.Change) (store.Record, error) {
	if err := ctx.Err(); err != nil {
		return store.Record{}, fmt.Errorf("memstore: move: %w", err)
	}
	switch {
	case from == "" || to == "":
		return store.Record{}, fmt.Errorf("memstore: move: %w", errEmptyKey)
	case from == to:
		return store.Record{}, fmt.Errorf("memstore: move: %w: the keys are equal", store.ErrInvalid)
	case c.Expires.IsZero():
		return store.Record{}, fmt.Errorf("memstore: move: %w", errNoExpiry)
	}
	if err := checkFieldKeys(c.Set); err != nil {
		return store.Record{}, fmt.Errorf("memstore: move: %w", err)
	}
	i, j := s.data.index(from), s.data.index(to)
	pf, pt := &s.data.parts[i], &s.data.parts[j]
	// Lock the shards in index order so two moves never deadlock.
	first, second := pf, pt
	if j < i {
		first, second = second, first
	}
	first.mu.Lock()
	defer first.mu.Unlock()
	if second != first {
		second.mu.Lock()
		defer second.mu.Unlock()
	}
	now := time.Now()
	e, ok := pf.m[from]
	if !ok || !e.live(now) {
		if ok {
			s.data.drop(pf, from, e)
		}
		return store.Record{}, fmt.Errorf("memstore: move: %w", store.ErrNotFound)
	}
	old, exists := pt.m[to]
	if exists && old.live(now) {
		return store.Record{}, fmt.Errorf("memstore: move: %w", store.ErrExists)
	}
	if err := c.Check(e.fields); err != nil {
		return store.Record{}, fmt.Errorf("memstore: move: %w", err)
	}
	ne := &entry{
		fields:  copyFields(c.Apply(e.fields)),
		created: e.created,
		expires: c.Expires,
		version: 1,
		owner:   e.owner,
	}
	if c.Owner != nil {
		ne.owner = *c.Owner
	}
	if exists {
		s.data.drop(pt, to, old)
	}
	// The index moves in one step: a listing of the owner (Owned) sees
	// the old key or the new one, never neither, so a revocation that
	// lists the owner's sessions cannot miss a session being renewed.
	delete(pf.m, from)
	s.data.owners.rename(from, e.owner, to, ne.owner)
	pt.m[to] = ne
	return store.Record{
		Fields:  copyFields(ne.fields),
		Created: ne.created,
		Expires: ne.expires,
		Version: ne.version,
		Owner:   ne.owner,
	}, nil
}

// Delete removes the session under key. A missing key is not an error.
func (s *Store) Delete(ctx context.Context, key string) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("memstore: delete: %w", err)
	}
	p := s.data.shard(key)
	p.mu.Lock()
	if e, ok := p.m[key]; ok {
		s.data.drop(p, key, e)
	}
	p.mu.Unlock()
	return nil
}

// drop removes e, stored under key in p, and its owner index entry. The
// caller holds p.mu.
func (sh *shards) drop(p *shard, key string, e *entry) {
	delete(p.m, key)
	sh.owners.move(key, e.owner, "")
}

// shard returns the part of the map that holds key.
func (sh *shards) shard(key string) *shard {
	return &sh.parts[sh.index(key)]
}

// index returns the number of the shard that holds key.
func (sh *shards) index(key string) uint64 {
	return maphash.String(sh.seed, key) % shardCount
}

// live reports whether the entry has not expired at now.
func (e *entry) live(now time.Time) bool {
	return now.Before(e.expires)
}

// checkFieldKeys refuses an empty field key.
func checkFieldKeys(m map[string][]byte) error {
	if _, ok := m[""]; ok {
		return errEmptyFieldKey
	}
	return nil
}

// copyFields returns a deep copy of m that is never nil. All values share
// one backing array, each capped to its own length so appending to one
// cannot overwrite another.
func copyFields(m map[string][]byte) map[string][]byte {
	out := make(map[string][]byte, len(m))
	n := 0
	for _, v := range m {
		n += len(v)
	}
	buf := make([]byte, 0, n)
	for k, v := range m {
		start := len(buf)
		buf = append(buf, v...)
		out[k] = buf[start:len(buf):len(buf)]
	}
	return out
}
