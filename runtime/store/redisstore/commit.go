package redisstore

import (
	"context"
	"errors"
	"fmt"

	"github.com/redis/go-redis/v9"

	"github.com/sessiongen/sessiongen/runtime/store"
)

// Group commit of Creates and Updates: see "Group commit" in the package
// documentation. Create and Update each build an op; do runs it through
// the Store's committer, which hands groups of concurrent ops to send.

// Operations an op can be, as error messages name them.
const (
	opCreate = "create"
	opUpdate = "update"
)

// op is one Create or Update on its way to the server.
type op struct {
	kind  string // opCreate or opUpdate
	key   string // the session key
	now   int64  // Unix ms, as the scripts were given it
	score int64  // the score index writes (when index is not nil)
	main  *call  // createScript or updateScript
	index *call  // the owner-index write sent beside main, or nil

	// Written by send (before do returns).
	sent    bool   // the op reached send: its error is final
	version uint64 // Update: the new version, once done
	raise   *call  // Update: the owner-index entry to raise after main
	raised  int64  // the score raise writes
	undo    *call  // unconfirmScript, after a failed owner-index write
}

// do runs o, in a group with the concurrent ops of other callers when
// grouping is on, and returns its error (wrapped with the operation).
func (s *Store) do(ctx context.Context, o *op) error {
	if s.commit == nil {
		return s.send(ctx, []*op{o})[0]
	}
	err := s.commit.Do(ctx, o)
	if err != nil && !o.sent {
		// ctx ended while o waited for a group: it was withdrawn unsent.
		return fmt.Errorf("redisstore: %s: %w", o.kind, err)
	}
	return err
}

// send sends ops, in their arrival order, in one round trip and returns
// their errors. A lone op goes exactly as it did before grouping: one
// script call, or one pipeline with its owner-index write. More go in one
// pipeline: each op's script call followed by its owner-index write, so
// ops of one session (one hash slot, one master) run in arrival order,
// each seeing the one before. The server answers each command on its own,
// so one op's refusal or script error fails that op only; the ops of a
// pipeline refused before it was sent (by a hook of the client) go again,
// each alone (see solo). Then come the rare follow-ups (raising an
// owner-index entry, undoing a failed index write), each kind in one more
// round trip for the whole group.
func (s *Store) send(ctx context.Context, ops []*op) []error {
	for _, o := range ops {
		o.sent = true
	}
	if s.onSend != nil {
		s.onSend(len(ops))
	}
	calls := make([]*call, 0, 2*len(ops))
	for _, o := range ops {
		calls = append(calls, s.firstRound(o)...)
	}
	if len(ops) == 1 {
		s.run(ctx, calls...)
	} else {
		s.runGroup(ctx, calls...)
		s.solo(ctx, ops)
	}
	return s.finish(ctx, ops)
}

// solo sends again, each alone and in arrival order, the ops of a group
// whose script call was not sent (its pipeline was refused as a whole),
// so that an op that really fails gets its own error and the others land.
// An op whose fate is unknown (a network failure or the end of ctx after
// the pipeline was written: it may have run) is not sent again: it fails
// with that error. Neither is an op when a later op of its session got an
// answer: run now, it would come after that one.
func (s *Store) solo(ctx context.Context, ops []*op) {
	answered := map[string]int{} // session key: its last op answered
	for i, o := range ops {
		if !unsent(o.main) {
			answered[o.key] = i
		}
	}
	for i, o := range ops {
		if !unsent(o.main) {
			continue
		}
		if j, ok := answered[o.key]; ok && j > i {
			continue
		}
		if ctx.Err() != nil {
			return
		}
		s.run(ctx, s.firstRound(o)...)
	}
}

// firstRound returns the calls o sends in its group's round trip: its
// script call and, on a single server, its owner-index write behind it
// (the server runs them in order, so the index never lists the session
// before it holds the owner). On a Cluster a pipeline's commands for
// different masters run in parallel, so the index write goes only after
// the script answered (see indexAfter).
func (s *Store) firstRound(o *op) []*call {
	if s.oneServer {
		return []*call{o.main, o.index} // run drops a nil index
	}
	return []*call{o.main}
}

// indexAfter sends, in one round trip, the owner-index writes of the ops
// whose script call may have written its session, when the Store is not
// on a single server. An op whose script answered that it wrote nothing
// (a refused condition, a server error) or was not sent writes no entry.
func (s *Store) indexAfter(ctx context.Context, ops []*op) {
	if s.oneServer {
		return
	}
	var index []*call
	for _, o := range ops {
		if o.index != nil && mayHaveWritten(o) {
			index = append(index, o.index)
		}
	}
	s.run(ctx, index...)
	if len(index) > 1 {
		// A pipeline refused as a whole (see solo): each write alone.
		for _, c := range index {
			if unsent(c) && ctx.Err() == nil {
				s.run(ctx, c)
			}
		}
	}
}

// mayHaveWritten reports whether o's script call wrote its session or
// may have (its answer was lost).
func mayHaveWritten(o *op) bool {
	err := o.main.cmd.Err()
	var refused redis.Error
	switch {
	case unsent(o.main), errors.As(err, &refused):
		return false
	case err != nil:
		return true // a network failure or the end of ctx: unknown
	case o.kind == opCreate:
		n, err := o.main.cmd.Int()
		return err == nil && n == 1
	}
	res, err := parseUpdate(o.main.cmd)
	return err == nil && res.code > 0
}

// indexFailed reports whether o's owner-index write was sent and failed.
func indexFailed(o *op) bool {
	return o.index != nil && o.index.cmd != nil && o.index.cmd.Err() != nil
}

// unsent reports whether c's command failed before it was sent.
func unsent(c *call) bool {
	var u unsentError
	return errors.As(c.cmd.Err(), &u)
}

// finish reads the answers of ops and returns their errors, after the
// follow-ups their answers call for: on a Cluster the owner-index writes
// (one round trip for the group), raising owner-index entries (one more),
// then clearing the scores recorded for index
// writes that failed (one more, best effort).
func (s *Store) finish(ctx context.Context, ops []*op) []error {
	s.indexAfter(ctx, ops)
	errs := make([]error, len(ops))
	var raise, undo []*call
	for i, o := range ops {
		errs[i] = s.settle(o)
		if o.raise != nil {
			raise = append(raise, o.raise)
		}
	}
	s.run(ctx, raise...)
	for i, o := range ops {
		if o.raise == nil {
			continue
		}
		if err := o.raise.cmd.Err(); err != nil {
			o.undo = s.unconfirmCall(o.key, o.raised)
			errs[i] = fmt.Errorf("redisstore: update: owner index: %w", err)
		}
	}
	for _, o := range ops {
		if o.undo != nil {
			undo = append(undo, o.undo)
		}
	}
	s.run(ctx, undo...)
	return errs
}

// settle reads the answers to o's script call and owner-index write and
// returns o's error, setting o.version, o.raise and o.undo.
func (s *Store) settle(o *op) error {
	if o.kind == opCreate {
		n, err := o.main.cmd.Int()
		switch {
		case err != nil:
			s.undoLost(o)
			return fmt.Errorf("redisstore: create: %w", err)
		case n == 0:
			// A stray index entry written beside the script (on a
			// single server) is harmless: Owned checks every entry
			// against the session.
			return fmt.Errorf("redisstore: create: %w", store.ErrExists)
		case indexFailed(o):
			o.undo = s.unconfirmCall(o.key, o.score)
			return fmt.Errorf("redisstore: create: owner index: %w", o.index.cmd.Err())
		}
		return nil
	}
	res, err := parseUpdate(o.main.cmd)
	if err != nil {
		s.undoLost(o)
		return fmt.Errorf("redisstore: update: %w", err)
	}
	if res.code <= 0 {
		// As in Create, a stray index entry is harmless.
		return codeErr("update", o.key, res.code)
	}
	if indexFailed(o) {
		recorded := o.score
		if res.owner != "" {
			recorded = res.score // the script raised it already
		}
		o.undo = s.unconfirmCall(o.key, recorded)
		return fmt.Errorf("redisstore: update: owner index: %w", o.index.cmd.Err())
	}
	if res.owner != "" {
		// The session outlived its index entry's score: raise it.
		o.raise, o.raised = s.indexCall(res.owner, o.key, res.score, o.now), res.score
	}
	o.version = uint64(res.code)
	return nil
}

// undoLost sets o.undo when the answer to o's script call was lost (the
// session may have been written and its index entry recorded as written)
// and its owner-index write failed, so that the session's next Update
// writes the entry again. An Update's script may have recorded a raised
// score instead, which the undo, keyed on o.score, leaves alone.
func (s *Store) undoLost(o *op) {
	if mayHaveWritten(o) && indexFailed(o) {
		o.undo = s.unconfirmCall(o.key, o.score)
	}
}
