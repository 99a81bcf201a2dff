package memstore

import (
	"context"
	"fmt"
	"time"

	"github.com/sessiongen/sessiongen/runtime/store"
	"github.com/sessiongen/sessiongen/runtime/store/internal/ownerlist"
)

// Owned returns the live sessions of owner, in no particular order, from
// the owner index; it never looks at other sessions. Expired sessions it
// meets are purged on the way, with their index entries. An owner with no
// sessions, and the empty owner, give an empty list. A session renewed
// (Move) while it is listed is listed under its old key or its new one:
// Move renames the index entry in the same step as the session.
func (s *Store) Owned(ctx context.Context, owner string) ([]store.Owned, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("memstore: owned: %w", err)
	}
	if owner == "" {
		return []store.Owned{}, nil
	}
	index := func(context.Context) ([]string, error) { return s.data.owners.keys(owner), nil }
	return ownerlist.List(ctx, index, func(_ context.Context, keys []string) ([]store.Owned, bool, error) {
		var out []store.Owned
		var stale []string
		now := time.Now()
		for _, key := range keys {
			p := s.data.shard(key)
			p.mu.RLock()
			e, ok := p.m[key]
			if ok && e.owner == owner && e.live(now) {
				out = append(out, store.Owned{Key: key, Created: e.created, Expires: e.expires, Version: e.version})
			} else {
				stale = append(stale, key)
			}
			p.mu.RUnlock()
		}
		for _, key := range stale {
			s.data.dropStale(key, owner, now)
		}
		return out, len(stale) > 0, nil
	})
}

// dropStale removes key from owner's index entries unless, looked at
// again under its shard's lock, it is a live session of owner after all.
// An expired session is purged whole.
func (sh *shards) dropStale(key, owner string, now time.Time) {
	p := sh.shard(key)
	p.mu.Lock()
	defer p.mu.Unlock()
	e, ok := p.m[key]
	switch {
	case ok && !e.live(now):
		sh.drop(p, key, e)
	case ok && e.owner == owner:
		// Live and still owner's (written since the check): keep it.
	default:
		// Missing or owned by someone else: only the entry is stale. The
		// index is kept in step with the sessions, so this does not
		// happen, but a stale entry must never outlive a look at it.
		sh.owners.remove(owner, key)
	}
}

// move moves key from owner from to owner to in the index; "" is no
// owner. The caller holds the lock of key's shard.
func (o *owners) move(key, from, to string) {
	if from == to {
		return
	}
	o.rename(key, from, key, to)
}

// rename replaces the entry of key from under owner fromOwner by one of
// key to under owner toOwner, in one step under the index lock ("" is no
// owner). The caller holds the locks of both keys' shards.
func (o *owners) rename(from, fromOwner, to, toOwner string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if fromOwner != "" {
		o.removeLocked(fromOwner, from)
	}
	if toOwner != "" {
		set := o.m[toOwner]
		if set == nil {
			set = make(map[string]struct{})
			o.m[toOwner] = set
		}
		set[to] = struct{}{}
	}
}

// remove takes key out of owner's entries.
func (o *owners) remove(owner, key string) {
	o.mu.Lock()
	o.removeLocked(owner, key)
	o.mu.Unlock()
}

// removeLocked takes key out of owner's entries, and owner out of the
// index when that was its last one. The caller holds o.mu.
func (o *owners) removeLocked(owner, key string) {
	set := o.m[owner]
	delete(set, key)
	if len(set) == 0 {
		delete(o.m, owner)
	}
}

// keys returns a snapshot of the keys listed under owner.
func (o *owners) keys(owner string) []string {
	o.mu.Lock()
	defer o.mu.Unlock()
	set := o.m[owner]
	out := make([]string, 0, len(set))
	for k := range set {
		out = append(out, k)
	}
	return out
}

// count returns the number of index entries of owner, stale ones
// included.
func (o *owners) count(owner string) int {
	o.mu.Lock()
	defer o.mu.Unlock()
	return len(o.m[owner])
}
