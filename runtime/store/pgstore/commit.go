package pgstore

import (
	"cmp"
	"context"
	"errors"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/sessiongen/sessiongen/runtime/store"
	"github.com/sessiongen/sessiongen/runtime/store/internal/group"
)

// write is one Create or Update on its way to the server, alone or in a
// group with other callers' writes (see [Store.send]).
type write struct {
	key    string
	now    time.Time   // the store's clock when the call began
	create *createArgs // a Create when set, else an Update of change
	change changeArgs
	// version is an Update's new version, set when its statements
	// succeeded; it counts only once the batch has committed.
	version uint64
}

// createArgs is a Create's record as the parameters $2, $3, $5, $6 and
// $7 of the create statement.
type createArgs struct {
	created, expires time.Time
	names            []string
	values           [][]byte
	owner            any // NULL: no owner
}

// newCreate checks rec and renders the Create of it under key. The
// errors wrap [store.ErrInvalid].
func newCreate(key string, rec store.Record, now time.Time) (*write, error) {
	switch {
	case key == "":
		return nil, errEmptyKey
	case rec.Expires.IsZero():
		return nil, errNoExpiry
	}
	if _, ok := rec.Fields[""]; ok {
		return nil, errEmptyField
	}
	if err := checkOwner(rec.Owner); err != nil {
		return nil, err
	}
	a := &createArgs{created: rec.Created, expires: rec.Expires}
	if rec.Owner != "" {
		a.owner = rec.Owner
	}
	a.names, a.values = columns(rec.Fields)
	return &write{key: key, now: now, create: a}, nil
}

// newUpdate checks c and renders the Update of the session under key
// with it. The errors wrap [store.ErrInvalid].
func newUpdate(key string, c store.Change, now time.Time) (*write, error) {
	if key == "" {
		return nil, errEmptyKey
	}
	args, err := newChangeArgs(c)
	if err != nil {
		return nil, err
	}
	return &write{key: key, now: now, change: args}, nil
}

// queue adds w's statements to b: the create statement, or the row lock
// and the update statement (see the lock statement in queries.go for why
// they are two).
func (w *write) queue(b *pgx.Batch, q *queries) {
	if c := w.create; c != nil {
		b.Queue(q.create, w.key, c.created, c.expires, w.now, c.names, c.values, c.owner)
		return
	}
	b.Queue(q.lock, w.key, w.now)
	b.Queue(q.update, w.change.params(w.key, w.now)...)
}

// read reads the results of w's statements from br, in the order queue
// sent them. outcome is w's own: nil, or the store error of the check it
// failed (it wrote nothing, and its batch-mates are unaffected). err is a
// failure of a statement or of the connection: it aborts the whole
// batch, and outcome then means nothing.
func (w *write) read(br pgx.BatchResults) (outcome, err error) {
	if w.create != nil {
		var n int64
		if err := br.QueryRow().Scan(&n); err != nil {
			return nil, err
		}
		if n == 0 {
			return store.ErrExists, nil
		}
		return nil, nil
	}
	if _, err := br.Exec(); err != nil {
		return nil, err
	}
	return w.readUpdate(br)
}

// readUpdate reads the result of w's update statement (an Update's,
// after its lock) from br.
func (w *write) readUpdate(br pgx.BatchResults) (outcome, err error) {
	var (
		sane, expected, fits bool
		version              pgtype.Int8 // NULL when nothing was written
	)
	err = br.QueryRow().Scan(&sane, &expected, &fits, &version)
	if errors.Is(err, pgx.ErrNoRows) {
		return store.ErrNotFound, nil
	}
	if err != nil {
		return nil, err
	}
	return w.judge(sane, expected, fits, version), nil
}

// judge returns w's outcome from the verdicts of its update, and keeps
// the new version when it was written.
func (w *write) judge(sane, expected, fits bool, version pgtype.Int8) error {
	if v := verdict(w.key, sane, true, expected, fits); v != nil {
		return v
	}
	w.version = uint64(version.Int64)
	return nil
}

// write sends w through the committer, or alone when grouping is off
// (WithMaxGroup(1): every change at once, concurrently with the others,
// each in a round trip of its own).
func (s *Store) write(ctx context.Context, w *write) error {
	if s.writes == nil {
		return s.sendAlone(ctx, w)
	}
	return s.writes.Do(ctx, w)
}

// groupLanes is how many round trips of writes are in flight at once.
const groupLanes = 2

// newCommitter returns the committer grouping the store's writes, at
// most size in one round trip.
func (s *Store) newCommitter(size int) *group.Committer[*write] {
	return group.NewLanes(size, groupLanes, s.send)
}

// send is the committer's send function: it writes ws, the writes of
// concurrent callers in arrival order, and returns each one's result.
//
// A lone write goes as it always has: its own batch (the Update's two
// statements, the Create's one). A group goes in one batch, which the
// server runs as one implicit transaction with one commit, its writes
// sorted by key (stably, so writes of one key keep their arrival order
// and each sees the one before), so that the row locks of two groups,
// in this process or another, are always taken in the same order and
// cannot deadlock. A write whose check fails writes nothing and does not
// fail the others. If a statement fails, the server has rolled back the
// whole batch: each write is then sent again alone, in arrival order, so
// that only a write that really fails gets the error (a deadlock or a
// serialization failure is retried the same way). If the connection
// fails, whether the batch committed is unknown: every write of it gets
// the error, none a success.
func (s *Store) send(ctx context.Context, ws []*write) []error {
	if s.hold != nil {
		s.hold(ws)
	}
	errs := make([]error, len(ws))
	if len(ws) == 1 {
		errs[0] = s.sendAlone(ctx, ws[0])
		return errs
	}
	order := make([]int, len(ws)) // the positions in ws, by key
	for i := range order {
		order[i] = i
	}
	slices.SortStableFunc(order, func(a, b int) int { return cmp.Compare(ws[a].key, ws[b].key) })
	sorted := make([]*write, len(ws))
	for i, j := range order {
		sorted[i] = ws[j]
	}
	outcomes, err := s.exchange(ctx, sorted)
	switch {
	case err == nil:
		for i, j := range order {
			errs[j] = outcomes[i]
		}
	case rolledBack(err):
		for i, w := range ws {
			errs[i] = s.sendAlone(ctx, w)
		}
	default:
		for i := range errs {
			errs[i] = err
		}
	}
	return errs
}

// sendAlone writes w in a batch of its own and returns its result.
func (s *Store) sendAlone(ctx context.Context, w *write) error {
	outcomes, err := s.exchange(ctx, []*write{w})
	if err != nil {
		return err
	}
	return outcomes[0]
}

// exchange sends the statements of ws in one batch (one round trip, one
// implicit transaction) and reads each write's outcome. A non-nil err is
// the batch's failure: then no outcome holds and, unless [rolledBack]
// says otherwise, whether the batch committed is unknown.
//
// One write goes as its own statements (see [write.queue]). Several,
// sorted by key, go as a group: first one statement locking the rows of
// all their keys in key order, then the writes in rounds, round r
// holding the r-th write of each key, so a key's writes run in their
// order and each round's keys are distinct. In a round each Create is a
// statement of its own and the Updates are one statement (see
// [queries.updates]), or update alone for one Update: the server starts
// one plan for all of them, where it would start two per Update alone.
// A round after the first locks its Updates' rows again first (a row
// created meanwhile, by a write of an earlier round or another
// transaction, is then locked before the statement takes its snapshot,
// as lock does). A group with a Create after the first round (a key's
// Update, then its Create) goes as each write's own statements in key
// order instead, so that its inserts of new rows, which no lock covers,
// stay in key order too.
func (s *Store) exchange(ctx context.Context, ws []*write) (outcomes []error, err error) {
	b := &pgx.Batch{}
	var rounds []round
	if len(ws) > 1 {
		rounds = splitRounds(ws)
		if lateCreate(rounds) {
			rounds = nil
		}
	}
	if rounds == nil {
		for _, w := range ws {
			w.queue(b, &s.q)
		}
	} else {
		b.Queue(s.q.lockAll, lockKeys(ws))
		for i, r := range rounds {
			r.queue(b, ws, &s.q, i > 0)
		}
	}
	br := s.pool.SendBatch(ctx, b)
	if rounds == nil {
		outcomes = make([]error, len(ws))
		for i, w := range ws {
			if outcomes[i], err = w.read(br); err != nil {
				break
			}
		}
	} else {
		outcomes, err = readRounds(br, ws, rounds)
	}
	// Close reads the end of the batch: the commit. Its failure outranks
	// every outcome.
	if cerr := br.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return nil, err
	}
	return outcomes, nil
}

// rolledBack reports whether err, the failure of a batch, proves that
// nothing of it was committed: the server reported an error, and a
// statement that fails aborts the implicit transaction (as a failed
// commit commits nothing). Any other failure (the connection, the
// context) leaves it unknown.
func rolledBack(err error) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr)
}
