package redisstore

import (
	"context"
	"errors"
	"fmt"

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
		calls = append(calls, o.main, o.index) // run drops a nil index
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
		s.run(ctx, o.main, o.index)
	}
}

// unsent reports whether c's command failed before it was sent.
func unsent(c *call) bool {
	var u unsentError
	return errors.As(c.cmd.Err(), &u)
}

// finish reads the answers of ops and returns their errors, after the
// follow-ups their answers call for: raising owner-index entries (one
// round trip for the group), then clearing the scores recorded for index
// writes that failed (one more, best effort).
func (s *Store) finish(ctx context.Context, ops []*op) []error {
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
		if err != nil {
			return fmt.Errorf("redisstore: create: %w", err)
		}
		if n == 0 {
			// A stray index entry the pipeline may have written is
			// harmless: Owned checks every entry against the session.
			return fmt.Errorf("redisstore: create: %w", store.ErrExists)
		}
		if o.index != nil {
			if err := o.index.cmd.Err(); err != nil {
				o.undo = s.unconfirmCall(o.key, o.score)
				return fmt.Errorf("redisstore: create: owner index: %w", err)
			}
		}
		return nil
	}
	res, err := parseUpdate(o.main.cmd)
	if err != nil {
		return fmt.Errorf("redisstore: update: %w", err)
	}
	if res.code <= 0 {
		// As in Create, a stray index entry is harmless.
		return codeErr("update", o.key, res.code)
	}
	if o.index != nil {
		if err := o.index.cmd.Err(); err != nil {
			recorded := o.score
			if res.owner != "" {
				recorded = res.score // the script raised it already
			}
			o.undo = s.unconfirmCall(o.key, recorded)
			return fmt.Errorf("redisstore: update: owner index: %w", err)
		}
	}
	if res.owner != "" {
		// The session outlived its index entry's score: raise it.
		o.raise, o.raised = s.indexCall(res.owner, o.key, res.score, o.now), res.score
	}
	o.version = uint64(res.code)
	return nil
}
