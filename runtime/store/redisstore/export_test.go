package redisstore

import (
	"context"

	"github.com/sessiongen/sessiongen/runtime/store"
)

// GroupStats returns the number of groups s has sent and of changes they
// held (0, 0 with grouping off).
func GroupStats(s *Store) (groups, items uint64) {
	if s.commit == nil {
		return 0, 0
	}
	return s.commit.Stats()
}

// OnSend makes s call f as each group starts, with its size, before it
// is sent (with grouping off, as each change starts). f may block to hold
// the group: changes started meanwhile wait for the next one. Call it
// before s is in use.
func OnSend(s *Store, f func(n int)) { s.onSend = f }

// GroupOp is one change of [SendGroup]: a Create of Key with Record when
// Create is set, else an Update of Key by Change.
type GroupOp struct {
	Key    string
	Create bool
	Record store.Record
	Change store.Change
}

// SendGroup sends ops as one group, in order, the way the committer sends
// a group of concurrent Creates and Updates, and returns what each Update
// (its version) or Create would return. A change with an invalid field
// key makes it send nothing and return that error alone.
func SendGroup(ctx context.Context, s *Store, ops []GroupOp) ([]uint64, []error) {
	group := make([]*op, len(ops))
	for i, g := range ops {
		var err error
		if g.Create {
			group[i], err = s.createOp(g.Key, g.Record)
		} else {
			group[i], err = s.updateOp(g.Key, g.Change)
		}
		if err != nil {
			return nil, []error{err}
		}
	}
	errs := s.send(ctx, group)
	versions := make([]uint64, len(ops))
	for i, o := range group {
		if errs[i] == nil {
			versions[i] = o.version
		}
	}
	return versions, errs
}
