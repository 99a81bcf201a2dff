// Package mysqlstore is a session engine on MariaDB or MySQL, through
// database/sql and github.com/go-sql-driver/mysql. Every process sharing
// the database sees the same sessions. It needs no particular DSN
// settings (no multiStatements, no parseTime, no interpolateParams), and
// MariaDB 10.6 or later or MySQL 8.0.14 or later (for JSON_TABLE, which
// checks rows the store did not seal; see Sealed rows).
//
// # Schema
//
// A session is one row of one table; its fields are one JSON object in
// that row (see [Schema] for the layout). [Schema] returns the DDL: put it
// in a migration, or let [New] run it with [WithCreateSchema] (off by
// default). The table name is set with [WithTable].
//
// A table made by an earlier release's DDL lacks the size and seal
// columns (and, from the release before owners, the owner column); New
// reports them missing. Upgrade it with the DDL from [Upgrade] in a
// migration; for the default table name, on MariaDB, it is
//
//	ALTER TABLE `sessiongen_sessions`
//		ADD COLUMN IF NOT EXISTS owner VARBINARY(255) NULL,
//		ADD KEY IF NOT EXISTS owner_idx (owner),
//		ADD COLUMN IF NOT EXISTS size BIGINT NULL,
//		ADD COLUMN IF NOT EXISTS seal BIGINT NULL
//
// (live sessions keep their versions and get no owner), or let
// [WithCreateSchema] do it. Processes of an earlier release bump the
// version as this one does but do not keep owners: stop them before
// relying on [Store.Owned].
//
// # Versions and owners
//
// Every Update bumps the session's version in its one statement, with
// SET version = LAST_INSERT_ID(version + 1): the server hands the new
// version back as the statement's insert id, so Update returns it without
// a second query. Create starts at 1. [Store.Version] reads the version
// alone (one query on the primary key) for managers revalidating a cached
// session. The owner ([store.Record].Owner, [store.Change].Owner) is an
// indexed VARBINARY column, so [Store.Owned] lists an owner's live
// sessions with one indexed query, and a Change moving a session to
// another owner moves it in the index in the same statement. An owner is
// text of at most [MaxOwnerLen] bytes, compared byte for byte; a longer
// one is refused (not truncated or hashed) with an error wrapping
// [store.ErrInvalid]; "" is none (NULL).
//
// # Cost and atomicity
//
// Every operation but Move is one statement, prepared once per
// connection, so each costs one round trip once the connection has
// prepared it (an Update or a Create alone; see Group commit for those
// that arrive together). A refused Update costs one more, the read that
// says why. A row the store did not seal (see Sealed rows) costs more,
// until its first Update seals it: a read two queries, an Update four
// (the sealed UPDATE, the two reads, the UPDATE with the full check). An
// Update alone is a single conditional UPDATE of the session's row:
// JSON_SET and JSON_REMOVE name only the fields set and removed, so only
// the changed fields' bytes cross the wire (in a batch, see Group
// commit, a small session's whole document does), and it
// matches the row only while the session is live: after a Delete, or
// once the session has expired, it writes nothing and returns
// [store.ErrNotFound]. Concurrent
// Updates of one session take the row lock in turn and each changes the
// latest document, so writes to different fields all survive, and each
// gets a version of its own.
//
// # Compare-and-set and the size limit
//
// A Change's conditions are more conditions of the same UPDATE, checked
// on the row under its lock, so they cost no extra round trip and a
// change that fails one writes nothing at all (no field, expiry, owner or
// version). [store.Change.Expect] compares the stored base64 of each
// named field, byte for byte, with the expected bytes' (an expected
// absence matches only a missing field). [store.Change.MaxSize] needs the
// session's size as [store.Size] counts it: the change passes when the
// fields it leaves alone plus those it writes stay within the limit, or
// do not exceed the size before. When the UPDATE matches no row, one
// more query (on that failure path only; two for a row the store did
// not seal, followed by the UPDATE with the full check) reads the
// session and reports
// [store.ErrNotFound], [store.ErrCorrupt], or what [store.Change.Check]
// says of it: [store.ErrConflict] or [store.ErrTooLarge]. Should the
// read find the conditions holding (the session changed in between), the
// UPDATE runs again, three times at most, and then ErrConflict is
// reported. An Update without conditions reports a row it cannot parse
// as ErrNotFound.
//
// # Sealed rows
//
// Every write keeps the session's size in the row and a seal, a CRC-32
// of size and document, beside it. A row whose seal matches holds what
// the store wrote: an Update checks its version and created time, takes
// the size from the column, less the stored fields it touches (read by
// their paths), plus the ones it writes, and reseals the row; a read
// checks the version and created time and decodes the document. Any
// other row (one of an earlier release, or one changed by anything but
// the store) gets the full check, which walks the document with
// JSON_TABLE, decodes every key and value and refuses a corrupt row: a
// second statement, run when the first finds the row unsealed,
// because the server pays for a statement holding the walk whether the
// walk runs or not. If the row passes, the Update seals it. Walking the
// document was about two thirds of the server's work on an Update: on
// this project's 2-core benchmark machine ungrouped one-field writes at
// 32 clients went from about 4,300 to 9,300 a second in back-to-back
// runs (see README's Performance tables for the grouped figures). The reads and Updates give the same verdict, so
// a row is corrupt for every call or for none. (So that this holds, the
// store refuses field keys longer than [MaxFieldKeyLen], which it could
// write but not read back.)
//
// The SET clause's assignments must run left to right, each seeing the
// ones before, as MariaDB and MySQL do by default: under MariaDB's
// SIMULTANEOUS_ASSIGNMENT sql_mode the seal would be computed from the
// old size and document, so no row would stay sealed. Every row would
// then take the full check: still correct, but each Update would cost
// four round trips and each read two.
//
// # Group commit
//
// Updates and Creates are committed in groups, the way the server
// commits transactions. Up to two groups are in flight at once, each on
// a connection of its own. A change that finds one of those two free
// goes at once, alone: its one autocommitted statement, exactly as above,
// so a client alone sees the latency of a single statement (there is no
// timer), and a few clients write concurrently as without grouping. The
// changes, of any session, that arrive while both are in flight
// wait, and the next group to go sends them together, at most
// [WithMaxGroup] ([DefaultMaxGroup], 64) of them, in one InnoDB
// transaction on one connection. Each caller returns once the group is
// committed, with its own change's result, the same as alone. The group
// shares one commit, so one log flush, instead of one each, and it goes
// in one of two ways.
//
// A group of Updates only, each of a session of its own (the common
// case: concurrent requests of different users), is a batch of four
// round trips whatever its size (New prepares its statements; a
// connection prepares each once, on first use): START TRANSACTION; one
// SELECT ... FOR
// UPDATE reading and locking every session of the group; then, in Go,
// each change checked on the record read ([store.Change.Check]: the
// expectations and the size limit, as the Update statement checks them)
// and applied to it; one UPDATE writing every change that passed (each
// row's new document, size, expiry and owner chosen by key with CASE,
// the version bumped and the row sealed as by the statement alone);
// COMMIT. The server runs two statements for the group rather than one
// or more per change. A change whose session is missing or expired gets
// [store.ErrNotFound] and one whose conditions fail its
// [store.ErrConflict] or [store.ErrTooLarge], from the read under the
// lock, writing nothing; one whose row is not sealed or does not parse,
// or whose session is larger than 4 KB ([store.Size]), runs on its own
// in the transaction, after the batch, with its own statements, as
// below, so it gets the checks and the verdict it gets alone. (Groups
// larger than 64 go as several batches in the one transaction.) The
// batch reads and writes each session's whole document, not only the
// changed fields: for sessions of at most 4 KB, so at most about 5.5 KB
// of base64 each way.
//
// Any other group (one holding a Create, or several Updates of one
// session) runs each change's own statement (the same statements as
// alone) between START TRANSACTION and COMMIT. The store asks for no
// multiStatements setting, so the driver sends one statement per round
// trip: such a group of n changes costs n+2 round trips on one
// connection (and the server runs its statements one after another).
//
// Inside a group, the rows are locked in key order (the batch's read,
// by the primary key, takes them in key order; statement by statement, the changes run
// sorted by key, stably: the changes of one session keep their arrival
// order, each seeing the one before), so that groups of different
// processes take their row locks in one order and do not deadlock each
// other over them. A change that fails its own condition
// ([store.ErrNotFound], [store.ErrExists], [store.ErrConflict],
// [store.ErrTooLarge], [store.ErrCorrupt]) wrote nothing and fails
// alone; the read explaining a refused Update is a locking read in the
// transaction (it sees the group's earlier changes). When the server
// refuses a statement or the commit (a deadlock, as with a Move or
// another client's transaction locking rows in another order, or gap
// locks on missing keys; a lock wait timeout; an error in one change's
// statement; a batch's UPDATE changing other rows than its read
// locked, which should never happen), the transaction is rolled back and each change of the
// group runs again alone, in arrival order, so only a change that fails
// alone fails. A change alone that the server aborts as a deadlock
// victim or after a lock wait timeout (it wrote nothing) runs again,
// four times at most. A lost connection or a canceled group fails every
// change of the group, never reporting one done that was not committed.
// A caller whose context ends while its change waits for a group is
// withdrawn and gets the context's error; once the group is on its way,
// the caller waits for it: the group's context ends only when every
// caller's has. While a group's statement waits for a row lock (another
// client's transaction holding the row), the changes of that group wait
// too, and the changes behind it have the other lane.
//
// What it buys depends on where the time goes. InnoDB already shares
// one log flush among transactions that commit at once, so on a fast
// disk the saving is mostly the server's work per statement and per
// transaction. On this project's benchmark machine (2 cores shared with
// the client) autocommitted UPDATEs of one row each, however simple
// (SET version = version + 1), top out at about 22,000 a second, from
// 32 clients as from 128. In back-to-back runs of
// BenchmarkUpdateParallel, 32 clients wrote about 30,000 one-field
// Updates a second in batches against 24,000 alone (and 18,000 with
// groups statement by statement), 128 clients 57,000 against 17,000.
// With 8 clients and fewer, groups are small and a change alone is
// faster (see README's Performance tables). Two lanes wrote the most
// there, ahead of one, three, four and six. It pays more where commits
// are dear: a synced binary log, semi-synchronous replication, a slow
// disk. WithMaxGroup(1) turns it off.
//
// Load, Version, Owned, Delete, Move and the cleanup stay one call each:
// reads commit nothing, so there is no flush to share; Move is a
// transaction of its own with locking reads; and Delete and the cleanup
// are rare next to Updates, and a Delete of a missing key would hold
// its gap lock until the group's commit, in the way of other processes'
// Creates.
//
// # Move
//
// [Store.Move] is one InnoDB transaction of five round trips: START
// TRANSACTION, a SELECT ... FOR UPDATE of the old row (reading the live
// record, and making every Update, Delete or Move of it wait), an INSERT
// of the new row (Version 1, the old Created and owner unless the change
// gives one; an expired row under the new key is taken over, a live one
// reported as [store.ErrExists]), the DELETE of the old row, and COMMIT.
// The change's conditions are checked with [store.Change.Check] on the
// record read under the lock, and any refusal rolls everything back. The
// move is atomic: a crash, a lost connection or a canceled context before
// COMMIT leaves both rows as they were (InnoDB rolls the transaction
// back), never a copy beside a live original; an Update that waited on
// the lock finds no row afterwards and reports ErrNotFound. A transaction
// the server aborts for a deadlock or a lock wait timeout (two Moves
// swapping keys deadlock, for one) runs again, four times at most.
//
// # Corrupt records
//
// A row holding what the store never writes (a data document that is
// not a JSON object of canonical base64 names and string values, a
// version below 1, a created time of 0) is corrupt. The server and the
// store test rows alike (for a row the store did not seal, the full
// check is the same test in SQL; a sealed one holds what the store wrote,
// and its version and created time are checked), so Load, Version and
// Move report an error wrapping [store.ErrCorrupt] naming the key, a
// conditional Update reports it from its follow-up read, an unconditional
// one reports ErrNotFound, [Store.Owned] leaves the session out, and none
// of them writes. Delete and the cleanup never look at the data, so they
// remove corrupt rows like any other. The schema itself refuses invalid
// JSON and NULL times, versions and documents.
//
// # Expiry
//
// Expired sessions are invisible to Load and Update at once, judged by the
// store's clock ([WithClock], time.Now by default: the same clock as the
// session manager, not the database server's). A goroutine started by New
// deletes them every [DefaultCleanupInterval] (see [WithCleanupInterval]),
// and with them their owner-index entries; [Store.Close] stops it.
// [Store.DeleteExpired] runs one cleanup on demand.
//
// Times are kept to the microsecond.
//
// A call whose context ends while its statement runs returns the
// context's error at once (an Update or Create in a group: once every
// caller of the group has given up); as with any database, the server
// may still complete the statement.
package mysqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/sessiongen/sessiongen/runtime/store"
	"github.com/sessiongen/sessiongen/runtime/store/internal/cleanup"
	"github.com/sessiongen/sessiongen/runtime/store/internal/group"
)

// Store is a [store.Store] on MariaDB or MySQL. Make one with [New]; it is
// safe for concurrent use.
type Store struct {
	db      *sql.DB
	st      statements
	updates *updateStmts
	now     func() time.Time
	loop    *cleanup.Loop // the background deletion of expired sessions

	// committer groups Updates and Creates; nil when [WithMaxGroup] is 1.
	committer *group.Committer[*change]
	stats     groupStats
	// beforeSend, when set (by tests, before use), runs as each group,
	// of n changes, starts.
	beforeSend func(n int)

	closeOnce sync.Once
	closeErr  error
}

// statements are the store's fixed prepared statements. database/sql
// prepares each on every connection it runs on, once.
type statements struct {
	load, loadFull, moveLoad, moveLoadFull, create, delete, cleanup *sql.Stmt
	version, versionFull, owned                                     *sql.Stmt
}

// all returns every statement, for closing.
func (st statements) all() []*sql.Stmt {
	return []*sql.Stmt{st.load, st.loadFull, st.moveLoad, st.moveLoadFull, st.create, st.delete, st.cleanup,
		st.version, st.versionFull, st.owned}
}

var (
	_ store.Store      = (*Store)(nil)
	_ store.Versioner  = (*Store)(nil)
	_ store.OwnerIndex = (*Store)(nil)
)

// maxKeyLen is the longest key the session_key column holds. Keys from
// [store.Key] have 43 bytes.
const maxKeyLen = 255

// checkKey refuses keys the table cannot hold, rather than leave a
// non-strict server to truncate them.
func checkKey(key string) error {
	switch {
	case key == "":
		return errEmptyKey
	case len(key) > maxKeyLen:
		return errLongKey
	}
	return nil
}

// errNilDB reports a New without a database.
var errNilDB = errors.New("nil db")

// Errors for input the store refuses; all wrap [store.ErrInvalid].
var (
	errEmptyKey   error = invalidError("empty key")
	errLongKey    error = invalidError(fmt.Sprintf("key longer than %d bytes", maxKeyLen))
	errNoExpiry   error = invalidError("record has no expiry")
	errEmptyField error = invalidError("empty field key")
	errLongField  error = invalidError(fmt.Sprintf("field key longer than %d bytes", MaxFieldKeyLen))
	errSameKeys   error = invalidError("the keys are equal")
)

// invalidError is an input error: its text is the message alone, and it
// wraps [store.ErrInvalid].
type invalidError string

// Error returns the message.
func (e invalidError) Error() string { return string(e) }

// Unwrap returns [store.ErrInvalid].
func (e invalidError) Unwrap() error { return store.ErrInvalid }

// New returns a Store using db, which stays the caller's to close (after
// [Store.Close]). With [WithCreateSchema](true) it creates the table if
// missing; otherwise it checks that it exists. It prepares the store's
// statements, and, unless [WithCleanupInterval] turns it off, starts a
// goroutine deleting expired sessions until Close.
func New(ctx context.Context, db *sql.DB, opts ...Option) (*Store, error) {
	if db == nil {
		return nil, fmt.Errorf("mysqlstore: new: %w", errNilDB)
	}
	c := newConfig(opts)
	if err := c.check(); err != nil {
		return nil, fmt.Errorf("mysqlstore: new: %w", err)
	}
	if err := checkTableName(c.table); err != nil {
		return nil, fmt.Errorf("mysqlstore: new: %w", err)
	}
	if c.createSchema {
		if err := createSchema(ctx, db, c.table); err != nil {
			return nil, fmt.Errorf("mysqlstore: create schema: %w", err)
		}
	}
	if err := checkSchema(ctx, db, c.table); err != nil {
		return nil, fmt.Errorf("mysqlstore: check schema: %w", err)
	}
	st, err := prepare(ctx, db, newQueries(c.table))
	if err != nil {
		return nil, fmt.Errorf("mysqlstore: prepare: %w", err)
	}
	updates := newUpdateStmts(db, c.table)
	// Prepare the commonest Update shape now: it also checks that the
	// server has the JSON functions the store needs.
	_, err = updates.get(ctx, updateShape(1, 1, 0), false)
	if err == nil && c.maxGroup > 1 {
		err = updates.prepareBatches(ctx)
	}
	if err != nil {
		closeAll(st.all()...)
		updates.close()
		return nil, fmt.Errorf("mysqlstore: prepare: %w", err)
	}
	s := &Store{
		db:      db,
		st:      st,
		updates: updates,
		now:     c.now,
	}
	if c.maxGroup > 1 {
		s.committer = group.NewLanes(c.maxGroup, c.lanes, s.send)
	}
	cl := &cleaner{stmt: st.cleanup, now: c.now}
	s.loop = cleanup.Start(s, c.cleanupInterval, "mysqlstore", c.logger, cl.sweep)
	return s, nil
}

// prepare prepares every statement, closing those already prepared when
// one fails.
func prepare(ctx context.Context, db *sql.DB, q queries) (statements, error) {
	var st statements
	var prepared []*sql.Stmt
	for _, p := range []struct {
		dst   **sql.Stmt
		query string
	}{
		{&st.load, q.load}, {&st.loadFull, q.loadFull}, {&st.moveLoad, q.moveLoad}, {&st.moveLoadFull, q.moveLoadFull},
		{&st.create, q.create}, {&st.delete, q.delete}, {&st.cleanup, q.cleanup},
		{&st.version, q.version}, {&st.versionFull, q.versionFull}, {&st.owned, q.owned},
	} {
		stmt, err := db.PrepareContext(ctx, p.query)
		if err != nil {
			closeAll(prepared...)
			return statements{}, err
		}
		prepared = append(prepared, stmt)
		*p.dst = stmt
	}
	return st, nil
}

// closeAll closes every statement and joins their errors.
func closeAll(stmts ...*sql.Stmt) error {
	var errs []error
	for _, st := range stmts {
		errs = append(errs, st.Close())
	}
	return errors.Join(errs...)
}

// Close stops the background cleanup (canceling a sweep in progress),
// waits for its goroutine to end and closes the prepared statements. It
// does not close the db. The Store must not be used after Close.
func (s *Store) Close() error {
	s.closeOnce.Do(func() {
		s.loop.Stop()
		err := errors.Join(
			closeAll(s.st.all()...),
			s.updates.close())
		if err != nil {
			s.closeErr = fmt.Errorf("mysqlstore: close: %w", err)
		}
	})
	return s.closeErr
}

// Load returns the session stored under key, or [store.ErrNotFound] when
// there is none or it has expired, or an error wrapping
// [store.ErrCorrupt] when the row holds what the store cannot parse. One
// query (two for a row the store did not seal).
func (s *Store) Load(ctx context.Context, key string) (store.Record, error) {
	if err := checkKey(key); err != nil {
		return store.Record{}, fmt.Errorf("mysqlstore: load: %w", err)
	}
	rec, err := s.load(ctx, key)
	if err != nil {
		return store.Record{}, fmt.Errorf("mysqlstore: load: %w", err)
	}
	return rec, nil
}

// load reads and parses the live session under key.
func (s *Store) load(ctx context.Context, key string) (store.Record, error) {
	rec, _, err := s.read(ctx, s.st.load, func() *sql.Stmt { return s.st.loadFull }, key)
	return rec, err
}

// read reads and parses the live session under key with fast, the read
// of a sealed row, and, when the row is not sealed, the statement full
// returns, the read with the full check (load and loadFull or their
// locking variants; see newQueries). It reports whether the row was
// sealed.
func (s *Store) read(ctx context.Context, fast *sql.Stmt, full func() *sql.Stmt, key string) (rec store.Record, sealed bool, err error) {
	now := s.now().UnixMicro()
	var r row
	err = fast.QueryRowContext(ctx, key, now).Scan(r.scanArgs()...)
	if err == nil && !r.valid { // not sealed: the full check decides
		err = full().QueryRowContext(ctx, key, now).Scan(r.scanArgs()...)
	} else {
		sealed = err == nil
	}
	if errors.Is(err, sql.ErrNoRows) {
		return store.Record{}, false, store.ErrNotFound
	}
	if err != nil {
		return store.Record{}, false, err
	}
	rec, err = r.record(key)
	return rec, sealed, err
}

// Create writes a new session under key with version 1 and rec.Owner,
// replacing an expired one, or returns [store.ErrExists] when a live
// session has the key. One statement, sent in a group with concurrent
// changes as Update's is (see [WithMaxGroup]).
func (s *Store) Create(ctx context.Context, key string, rec store.Record) error {
	p, err := newCreate(key, rec)
	if err == nil {
		err = s.commit(ctx, p)
	}
	if err != nil {
		return fmt.Errorf("mysqlstore: create: %w", err)
	}
	return nil
}

// newCreate checks rec and returns the change writing it under key.
func newCreate(key string, rec store.Record) (*change, error) {
	if err := checkKey(key); err != nil {
		return nil, err
	}
	if rec.Expires.IsZero() {
		return nil, errNoExpiry
	}
	if err := checkFieldKeys(rec.Fields); err != nil {
		return nil, err
	}
	if err := checkOwner(rec.Owner); err != nil {
		return nil, err
	}
	return &change{
		kind:    kindCreate,
		key:     key,
		created: rec.Created.UnixMicro(),
		expires: rec.Expires.UnixMicro(),
		owner:   ownerArg(rec.Owner),
		data:    encodeFields(rec.Fields),
		size:    int64(store.Size(rec.Fields)),
	}, nil
}

// runCreate runs the Create p, in tx or, when tx is nil, as a statement
// of its own.
func (s *Store) runCreate(ctx context.Context, tx *groupTx, p *change) error {
	now := s.now().UnixMicro()
	res, err := tx.stmt(ctx, s.st.create).ExecContext(ctx, createArgs(p.key, p.created, p.expires, p.owner, p.data, p.size, now)...)
	if err != nil {
		return err
	}
	id, err := res.LastInsertId()
	if err != nil {
		return err
	}
	if id == liveMarker {
		return store.ErrExists
	}
	return nil
}

// createArgs returns the arguments of the create statement writing the
// session row under key, with the store's clock at now (see the create
// query for their order).
func createArgs(key string, created, expires int64, owner any, data string, size, now int64) []any {
	return []any{key, created, expires, owner, data, size,
		now, created, now, data, now, size, now, now, owner, now, now, expires}
}

// Delete removes the session under key. Deleting a missing session is not
// an error. One statement.
func (s *Store) Delete(ctx context.Context, key string) error {
	if err := checkKey(key); err != nil {
		return fmt.Errorf("mysqlstore: delete: %w", err)
	}
	if _, err := s.st.delete.ExecContext(ctx, key); err != nil {
		return fmt.Errorf("mysqlstore: delete: %w", err)
	}
	return nil
}
