package session

import (
	"context"
	"errors"
	"sync/atomic"

	"github.com/sessiongen/sessiongen/runtime/store"
)

// EngineOp names a call of the manager to its storage engine, for
// [Stats] and [Observer].
type EngineOp uint8

// The engine calls the manager makes.
const (
	OpLoad    EngineOp = iota // store.Store.Load
	OpCreate                  // store.Store.Create
	OpUpdate                  // store.Store.Update
	OpDelete                  // store.Store.Delete
	OpMove                    // store.Store.Move (Renew)
	OpVersion                 // store.Versioner.Version (revalidation)
	OpOwned                   // store.OwnerIndex.Owned (Sessions, RevokeAll)
	numEngineOps
)

// String returns the operation's name as metrics label it: "load",
// "create", "update", "delete", "move", "version" or "owned".
func (o EngineOp) String() string {
	if o < numEngineOps {
		return engineOpNames[o]
	}
	return "unknown"
}

var engineOpNames = [numEngineOps]string{"load", "create", "update", "delete", "move", "version", "owned"}

// EngineOps lists every [EngineOp], in order.
func EngineOps() []EngineOp {
	ops := make([]EngineOp, numEngineOps)
	for i := range ops {
		ops[i] = EngineOp(i)
	}
	return ops
}

// Outcome is how an engine call ended, for [Stats] and [Observer].
type Outcome uint8

// The outcomes of an engine call.
const (
	// OutcomeOK is a call that succeeded.
	OutcomeOK Outcome = iota
	// OutcomeNotFound is a call that found no live session
	// (store.ErrNotFound): a normal answer for a load of an unknown ID.
	OutcomeNotFound
	// OutcomeRefused is a call whose condition failed: store.ErrExists,
	// store.ErrConflict or store.ErrTooLarge. Nothing was written.
	OutcomeRefused
	// OutcomeError is any other failure: the engine unreachable, a
	// context deadline, a corrupt record.
	OutcomeError
	numOutcomes
)

// String returns the outcome's name as metrics label it: "ok",
// "not_found", "refused" or "error".
func (o Outcome) String() string {
	if o < numOutcomes {
		return outcomeNames[o]
	}
	return "unknown"
}

var outcomeNames = [numOutcomes]string{"ok", "not_found", "refused", "error"}

// Outcomes lists every [Outcome], in order.
func Outcomes() []Outcome {
	os := make([]Outcome, numOutcomes)
	for i := range os {
		os[i] = Outcome(i)
	}
	return os
}

// OutcomeOf classifies the error an engine call returned.
func OutcomeOf(err error) Outcome {
	switch {
	case err == nil:
		return OutcomeOK
	case errors.Is(err, store.ErrNotFound):
		return OutcomeNotFound
	case errors.Is(err, store.ErrExists), errors.Is(err, store.ErrConflict), errors.Is(err, store.ErrTooLarge):
		return OutcomeRefused
	}
	return OutcomeError
}

// engineCounts counts engine calls by operation and outcome.
type engineCounts [numEngineOps][numOutcomes]atomic.Uint64

// metered wraps the manager's engine: it counts every call for Stats and
// tells the observer, if any, about it. It implements store.Versioner and
// store.OwnerIndex by forwarding; the manager uses those only when the
// engine has them.
type metered struct {
	st     store.Store
	ver    store.Versioner  // nil when the engine has none
	owners store.OwnerIndex // nil when the engine has none
	obs    Observer         // nil without WithObserver
	counts *engineCounts
}

// begin starts the engine call op: the context to pass on and the
// function that records its end.
func (s *metered) begin(ctx context.Context, op EngineOp) (context.Context, func(error)) {
	if s.obs == nil {
		return ctx, func(err error) { s.counts[op][OutcomeOf(err)].Add(1) }
	}
	ctx, end := s.obs.EngineCall(ctx, op)
	return ctx, func(err error) {
		s.counts[op][OutcomeOf(err)].Add(1)
		end(err)
	}
}

// Load implements store.Store.
func (s *metered) Load(ctx context.Context, key string) (store.Record, error) {
	ctx, end := s.begin(ctx, OpLoad)
	rec, err := s.st.Load(ctx, key)
	end(err)
	return rec, err
}

// Create implements store.Store.
func (s *metered) Create(ctx context.Context, key string, rec store.Record) error {
	ctx, end := s.begin(ctx, OpCreate)
	err := s.st.Create(ctx, key, rec)
	end(err)
	return err
}

// Update implements store.Store.
func (s *metered) Update(ctx context.Context, key string, c store.Change) (uint64, error) {
	ctx, end := s.begin(ctx, OpUpdate)
	v, err := s.st.Update(ctx, key, c)
	end(err)
	return v, err
}

// Delete implements store.Store.
func (s *metered) Delete(ctx context.Context, key string) error {
	ctx, end := s.begin(ctx, OpDelete)
	err := s.st.Delete(ctx, key)
	end(err)
	return err
}

// Move implements store.Store.
func (s *metered) Move(ctx context.Context, from, to string, c store.Change) (store.Record, error) {
	ctx, end := s.begin(ctx, OpMove)
	rec, err := s.st.Move(ctx, from, to, c)
	end(err)
	return rec, err
}

// Version implements store.Versioner.
func (s *metered) Version(ctx context.Context, key string) (uint64, error) {
	ctx, end := s.begin(ctx, OpVersion)
	v, err := s.ver.Version(ctx, key)
	end(err)
	return v, err
}

// Owned implements store.OwnerIndex.
func (s *metered) Owned(ctx context.Context, owner string) ([]store.Owned, error) {
	ctx, end := s.begin(ctx, OpOwned)
	o, err := s.owners.Owned(ctx, owner)
	end(err)
	return o, err
}
