package mysqlstore

import (
	"cmp"
	"context"
	"database/sql"
	"errors"
	"slices"
	"sync/atomic"

	"github.com/go-sql-driver/mysql"

	"github.com/sessiongen/sessiongen/runtime/store"
)

// Group commit (see the package documentation): Updates and Creates go
// through the store's committer, which calls send with each group.

// kind tells what a [change] does.
type kind uint8

const (
	kindUpdate kind = iota // an Update: stmt and args
	kindCreate             // a Create: the record's columns
)

// change is one Update or Create, checked and ready to send: what a
// group is made of.
type change struct {
	kind kind
	key  string

	// An Update: its sealed statement (prepared) and shape, that one's
	// arguments (the "now" one at nowAt filled in on each run), how many
	// of them the full-check statement shares (see [fullArgs]), whether
	// it has conditions, and the Change, for explaining a refusal and
	// for the full check's arguments.
	stmt        *sql.Stmt
	shape       [3]int
	args        []any
	common      int
	nowAt       int
	conditional bool
	change      store.Change

	// A Create: the new row's columns.
	created, expires int64
	owner            any
	data             string
	size             int64 // store.Size of the fields

	// version is the session's version after a successful Update.
	version uint64
}

// groupStats counts what the committer did, for tests and benchmarks.
type groupStats struct {
	fallbacks atomic.Uint64 // groups re-run one change at a time
}

// commit sends p: alone when grouping is off, else through the
// committer, in a group with concurrent changes.
func (s *Store) commit(ctx context.Context, p *change) error {
	if s.committer == nil {
		return s.run(ctx, nil, p)
	}
	return s.committer.Do(ctx, p)
}

// run runs p in tx, or alone (tx nil). Alone, a run the server aborts
// as a deadlock victim or after a lock wait timeout (it rolled the
// statement back: nothing of it was written) runs again, at most
// [moveAttempts] times in all, as Move does: a change alone can meet a
// Move or another process's group holding the locks it needs while
// waiting for its own. In tx, such an error goes to the group, which
// runs its changes again alone.
func (s *Store) run(ctx context.Context, tx *groupTx, p *change) error {
	for attempt := 1; ; attempt++ {
		err := s.runOnce(ctx, tx, p)
		if tx != nil || attempt == moveAttempts || !retryable(err) || ctx.Err() != nil {
			return err
		}
	}
}

// runOnce runs p once, in tx or alone (tx nil).
func (s *Store) runOnce(ctx context.Context, tx *groupTx, p *change) error {
	if p.kind == kindCreate {
		return s.runCreate(ctx, tx, p)
	}
	return s.runUpdate(ctx, tx, p)
}

// send is the committer's send function: one result per change, in
// order. A lone change runs alone, as without grouping. A group runs in
// one transaction: as batches ([Store.sendBatch]) when it holds only
// Updates, each of a key of its own, else statement by statement
// ([Store.sendGroup]); when the server aborts it in a way no single change
// explains (a deadlock, a lock wait timeout, any server error on a
// statement), it is rolled back and each change runs again alone, in
// arrival order, so that only a change that fails alone fails.
func (s *Store) send(ctx context.Context, items []*change) []error {
	if s.beforeSend != nil {
		s.beforeSend(len(items))
	}
	errs := make([]error, len(items))
	if len(items) == 1 {
		errs[0] = s.run(ctx, nil, items[0])
		return errs
	}
	if batchable(items) {
		if s.sendBatch(ctx, items, errs) {
			return errs
		}
	} else if s.sendGroup(ctx, items, errs) {
		return errs
	}
	s.stats.fallbacks.Add(1)
	for i, p := range items {
		p.version = 0
		errs[i] = s.run(ctx, nil, p)
	}
	return errs
}

// sendGroup runs items in one transaction, statement by statement, in
// key order (stably, so changes of one key keep their arrival order),
// setting errs; see [Store.inGroupTx] for what it reports.
func (s *Store) sendGroup(ctx context.Context, items []*change, errs []error) bool {
	return s.inGroupTx(ctx, items, errs, func(tx *groupTx, order []int) error {
		return s.runEach(ctx, tx, items, order, errs)
	})
}

// inGroupTx runs a group's transaction: body gets it and the positions
// of items in key order (stably, so changes of one key keep their
// arrival order; every process locks the rows of its groups in the same
// order, so two groups cannot deadlock each other over the rows they
// update) and sets errs to the changes' own results. inGroupTx then
// commits. It reports false, having rolled the transaction back, when
// the server refused a statement or the commit (or body reports
// [errBatchWrite]): the caller then runs each change alone. A failure of
// the connection or the context fails every change (none is reported
// done unless the commit succeeded).
func (s *Store) inGroupTx(ctx context.Context, items []*change, errs []error, body func(tx *groupTx, order []int) error) bool {
	order := make([]int, len(items))
	for i := range order {
		order[i] = i
	}
	slices.SortStableFunc(order, func(a, b int) int { return cmp.Compare(items[a].key, items[b].key) })

	sqlTx, err := s.db.BeginTx(ctx, nil)
	if err == nil {
		defer sqlTx.Rollback() // after Commit: sql.ErrTxDone, ignored
		err = body(&groupTx{tx: sqlTx, stmts: make(map[*sql.Stmt]*sql.Stmt, 4)}, order)
		if err == nil {
			err = sqlTx.Commit()
		}
	}
	switch {
	case err == nil:
		return true
	case serverError(err), errors.Is(err, errBatchWrite): // nothing committed
		return false
	}
	for i := range errs {
		errs[i] = err
	}
	return true
}

// runEach runs the changes items[i] for i in at, one after another in
// tx, setting errs[i] to each one's own result (the group goes on past
// a refusal); it returns the first error that is not one.
func (s *Store) runEach(ctx context.Context, tx *groupTx, items []*change, at []int, errs []error) error {
	for _, i := range at {
		err := s.run(ctx, tx, items[i])
		if err != nil && !refusal(err) {
			return err
		}
		errs[i] = err
	}
	return nil
}

// refusal reports whether err is a change's own outcome, which fails it
// alone and leaves the rest of its group to go on: its session missing,
// live already (Create), corrupt, or its conditions failing. Such a
// change wrote nothing.
func refusal(err error) bool {
	return errors.Is(err, store.ErrNotFound) || errors.Is(err, store.ErrExists) ||
		errors.Is(err, store.ErrConflict) || errors.Is(err, store.ErrTooLarge) ||
		errors.Is(err, store.ErrCorrupt)
}

// serverError reports whether err is an error the server answered with
// (a deadlock, a lock wait timeout, a statement it refused), as opposed
// to a failure of the connection or the context.
func serverError(err error) bool {
	var myErr *mysql.MySQLError
	return errors.As(err, &myErr)
}

// groupTx is the transaction of a group; a nil *groupTx runs statements
// alone, each committed by itself.
type groupTx struct {
	tx    *sql.Tx
	stmts map[*sql.Stmt]*sql.Stmt // the store's statements, bound to tx
}

// stmt returns st bound to the transaction, or st itself without one.
func (g *groupTx) stmt(ctx context.Context, st *sql.Stmt) *sql.Stmt {
	if g == nil {
		return st
	}
	if bound := g.stmts[st]; bound != nil {
		return bound
	}
	bound := g.tx.StmtContext(ctx, st)
	g.stmts[st] = bound
	return bound
}

// loadIn reads the live session under key: alone as [Store.load] does,
// or in tx with a locking read, which sees the latest row (the group's
// own changes included) rather than the transaction's snapshot. It
// reports whether the row was sealed.
func (s *Store) loadIn(ctx context.Context, tx *groupTx, key string) (store.Record, bool, error) {
	if tx == nil {
		return s.read(ctx, s.st.load, func() *sql.Stmt { return s.st.loadFull }, key)
	}
	return s.read(ctx, tx.stmt(ctx, s.st.moveLoad), func() *sql.Stmt { return tx.stmt(ctx, s.st.moveLoadFull) }, key)
}

// groupCounts returns the groups the committer sent and the changes they
// held (zero without grouping), for tests and benchmarks.
func (s *Store) groupCounts() (groups, items uint64) {
	if s.committer == nil {
		return 0, 0
	}
	return s.committer.Stats()
}
