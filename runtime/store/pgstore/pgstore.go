// Package pgstore is a session engine on PostgreSQL, through a pgx v5
// connection pool ([pgxpool.Pool]). Every process sharing the database
// sees the same sessions.
//
// # Schema
//
// A session is a row in one table (key, created, expires, version, owner)
// and each of its fields a row in another (key, name, value), so a request
// that changes one field writes that field's bytes only. [Schema] returns
// the DDL: put it in a migration, or let [New] run it with
// [WithCreateSchema] (off by default). Table names are set with
// [WithTables].
//
// Tables made by the previous release's DDL lack the version and owner
// columns; New reports them missing. Upgrade them with the DDL from
// [Upgrade] in a migration; for the default table names it is
//
//	ALTER TABLE IF EXISTS "sessiongen_sessions"
//		ADD COLUMN IF NOT EXISTS version bigint NOT NULL DEFAULT 1,
//		ADD COLUMN IF NOT EXISTS owner   text;
//	CREATE INDEX IF NOT EXISTS "sessiongen_sessions_owner_idx"
//		ON "sessiongen_sessions" (owner) WHERE owner IS NOT NULL;
//
// (the ALTER only changes the catalog on PostgreSQL 11 and later; live
// sessions get version 1 and no owner), or let [WithCreateSchema] do it.
// Stop processes of the previous release first: they neither bump the
// version nor keep owners.
//
// Every statement finds its rows through the primary keys (and Owned
// through the owner index), and the server's planner needs the tables'
// statistics to see that: with autovacuum on (the server's default) it
// keeps them; with it off, run ANALYZE on both tables after loading many
// sessions, or a statement a connection prepared while the tables were
// small can keep a plan that scans a whole table.
//
// # Versions and owners
//
// Every Update bumps the session's version in the statement that applies
// the change and returns the new one, still in one round trip; Create
// starts at 1. [Store.Version] reads it alone (one query on the primary
// key) for managers revalidating a cached session. The owner
// ([store.Record].Owner, [store.Change].Owner) is a column with a partial
// index, so [Store.Owned] lists an owner's live sessions with one indexed
// query, and a Change moving a session to another owner moves it in the
// index in the same statement. An owner is text of at most
// [MaxOwnerLen] bytes; "" is none (NULL, left out of the index).
//
// # Cost and atomicity
//
// Load is one query. Create is one statement; Update and Move are one
// batch each (a row lock and one statement) in one implicit transaction;
// Delete, Version and Owned are one statement each: each costs one round
// trip once the pool's connection has prepared the statements, and
// concurrent Creates and Updates share theirs (see Group commit). An Update
// locks the session row first, so it applies to a live session only:
// after a Delete, or once the session has expired, it writes nothing and
// returns [store.ErrNotFound]. Concurrent Updates of one session run one
// after the other, so writes to different fields all survive, and each
// gets a version of its own.
//
// # Group commit
//
// Creates and Updates, of any sessions, are committed in groups, the
// way the server commits transactions. Up to two round trips of them
// are in flight at once, each on a connection of its own (so up to two
// server processes work at once); a change that finds one of the two
// free goes at once, and while both are in flight the changes that
// arrive wait, and go together in the next, up to [DefaultMaxGroup] (see
// [WithMaxGroup]). (Two, because on this project's 2-core benchmark
// machine two lanes wrote more than one, four, eight or sixteen: at 32
// clients about 10,900 writes a second against 9,300 with one and 9,200
// with four; at 128, 16,200 against 15,200 with four. Once a group's
// Updates became one statement, a recheck at 32 clients put one, two and
// three lanes within the runs' spread, 11,000 to 13,000.) A group is one
// [github.com/jackc/pgx/v5.Batch], which the server runs as one
// implicit transaction: one round trip, one commit, one flush of the
// write-ahead log, where each change alone would pay all three. It
// holds one statement locking the rows of all the group's sessions, then
// a statement for each Create and one statement for all the Updates (of
// distinct sessions: when a session has several changes in the group,
// its second goes in a second such statement after the first, and so on),
// which checks and applies each change as an Update alone would, so the
// server starts one plan for the group's Updates, not two for each. (A
// group where a session's Create comes after an Update of it, which is
// rare, goes as each change's own statements, in key order.) There is
// no timer: a change that finds no round trip in flight goes at once, in
// the batch it would have alone, so a client alone sees the latency of
// one change, and the groups grow only with the load.
//
// Each call still returns only once its own change is committed, with
// the result it would have alone. A change whose check fails (a missing
// session, a failed expectation, the size limit, a live session under a
// Create's key, a damaged row) writes nothing and does not fail the
// others. The changes of a group are sent sorted by key (two changes of
// one key keep their order, the second seeing the first), so two groups,
// in this process or another, lock their rows in the same order and do
// not deadlock each other. When a statement fails, the server has
// rolled back the whole group (as it does for a deadlock or a
// serialization failure): each change is then sent again alone, so only
// the one that really fails reports it. When the connection fails, it
// is unknown whether the group committed, and each of its changes
// reports the failure. A change that waits for a row lock (its session
// being written by another process) holds up its group until the lock
// is released or every caller of the group has given up; the changes
// behind it have the other lane.
//
// Loads, Version and Owned are reads, with no commit to share: the pool
// serves them side by side. Delete and Move stay one round trip each:
// they are rare (a logout, a login) next to the Updates of every request,
// and a Move locks two sessions.
//
// # Compare-and-set and the size limit
//
// A [store.Change]'s conditions are checked in the statement that
// applies it, on the row the batch has just locked, so in the same round
// trip and against fields no other writer can change meanwhile: each
// name in Change.Expect is looked up among the session's field rows
// (an expectation of length 0 wants no row), and with Change.MaxSize
// the statement sums the octets of the names and values of the stored
// fields and of the fields after the change. The statement writes the
// fields, the expiry, the owner and the version only when every check
// passes, and returns the verdicts: the missing session
// ([store.ErrNotFound]) first, then a damaged row ([store.ErrCorrupt]),
// then [store.ErrConflict], then [store.ErrTooLarge], as
// [store.Change.Check] ranks them, and it agrees with Check exactly.
//
// # Move
//
// [Store.Move] is one batch in one implicit transaction, so it is
// atomic and a crash leaves either the old session or the new one, never
// both and never a part. The batch locks the rows of both keys (in key
// order, so two Moves cannot deadlock), then one statement checks that
// the old session is live and can be parsed, that no live session holds
// the new key, and the change's conditions; only then does it insert the
// new row (the old created time, the change's expiry, version 1, the
// change's owner or the old one; an expired session under the new key is
// taken over, as by Create), copy the old fields with the change applied,
// and delete the old row, whose fields go by the cascade. An Update or a
// Delete of the old key waits for the lock, or Move waits for theirs: one
// that comes first is carried over (an Update) or makes Move fail with
// [store.ErrNotFound] (a Delete); one that comes after finds no session.
//
// # Damaged rows
//
// A session row the store cannot parse, left by a bad writer within the
// schema (a created or expires time of 'infinity' or '-infinity', a
// version below 1 or too large to bump), is reported by Load, Version,
// Update and Move with an error wrapping [store.ErrCorrupt] naming the
// key, or with [store.ErrNotFound] when its expiry has passed (an expiry
// of '-infinity'); they write nothing. Owned leaves such rows out, Delete
// removes them, and the cleanup deletes rows expiring at 'infinity' too,
// which would otherwise stay forever. A field row named "" (which no
// store writes) is left out of Load, of the conditions and of the size,
// and Move leaves it behind; an owner of "" reads as none. The schema's
// NOT NULL columns keep out the other damage (a NULL time, version, field
// name or value), and every finite time PostgreSQL holds is a valid
// time.Time, so it is returned as stored.
//
// # Expiry
//
// Expired sessions are invisible to Load and Update at once, judged by the
// store's clock ([WithClock], time.Now by default: the same clock as the
// session manager, not the database server's). A goroutine started by New
// deletes them from the tables every [DefaultCleanupInterval] (see
// [WithCleanupInterval]), and with them their owner-index entries;
// [Store.Close] stops it. [Store.DeleteExpired] runs one cleanup on
// demand.
//
// Times are kept to the microsecond (timestamptz).
//
// A call whose context ends while its statement runs returns the
// context's error at once; as with any database, the server may still
// complete the statement (with pgx's default context handling the
// connection is dropped rather than the statement canceled). A Create or
// Update whose context ends while it waits for a group is withdrawn,
// unsent; once its group is on its way, it waits for the group's
// result, and the group's round trip is abandoned only when every one
// of its callers has given up.
package pgstore

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5/pgtype"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/sessiongen/sessiongen/runtime/store"
	"github.com/sessiongen/sessiongen/runtime/store/internal/cleanup"
	"github.com/sessiongen/sessiongen/runtime/store/internal/group"
)

// Store is a [store.Store] on PostgreSQL. Make one with [New]; it is safe
// for concurrent use.
type Store struct {
	pool *pgxpool.Pool
	q    queries
	now  func() time.Time
	loop *cleanup.Loop // the background deletion of expired sessions
	// writes sends Creates and Updates, grouping those of concurrent
	// callers (see commit.go).
	writes *group.Committer[*write]
	// hold, when set (by tests, before any write), is called at the
	// start of every round trip of writes with its writes.
	hold func([]*write)
}

var (
	_ store.Store      = (*Store)(nil)
	_ store.Versioner  = (*Store)(nil)
	_ store.OwnerIndex = (*Store)(nil)
)

// Errors for input the store refuses. All but errNilPool wrap
// [store.ErrInvalid] (their text is the reason alone).
var (
	errNilPool    = errors.New("nil pool")
	errEmptyKey   = invalid("empty key")
	errNoExpiry   = invalid("record has no expiry")
	errEmptyField = invalid("empty field key")
	errSameKeys   = invalid("the keys are equal")
)

// invalid is a reason to refuse a call before any round trip; it wraps
// [store.ErrInvalid].
type invalid string

// Error returns the reason.
func (e invalid) Error() string { return string(e) }

// Unwrap returns [store.ErrInvalid].
func (e invalid) Unwrap() error { return store.ErrInvalid }

// New returns a Store using pool, which stays the caller's to close (after
// [Store.Close]). With [WithCreateSchema](true) it creates the tables if
// missing; otherwise it checks that they exist. Unless
// [WithCleanupInterval] turns it off, New starts a goroutine deleting
// expired sessions until Close.
func New(ctx context.Context, pool *pgxpool.Pool, opts ...Option) (*Store, error) {
	if pool == nil {
		return nil, fmt.Errorf("pgstore: new: %w", errNilPool)
	}
	c := newConfig(opts)
	if c.maxGroup < 1 {
		return nil, fmt.Errorf("pgstore: new: WithMaxGroup(%d): a group holds at least one change", c.maxGroup)
	}
	for _, name := range []string{c.sessionsTable, c.fieldsTable} {
		if err := checkTableName(name); err != nil {
			return nil, fmt.Errorf("pgstore: new: %w", err)
		}
	}
	if c.createSchema {
		if err := createSchema(ctx, pool, c); err != nil {
			return nil, fmt.Errorf("pgstore: create schema: %w", err)
		}
	}
	if err := checkSchema(ctx, pool, c); err != nil {
		return nil, fmt.Errorf("pgstore: check schema: %w", err)
	}
	s := &Store{
		pool: pool,
		q:    newQueries(c.sessionsTable, c.fieldsTable),
		now:  c.now,
	}
	if c.maxGroup > 1 {
		s.writes = s.newCommitter(c.maxGroup)
	}
	cl := &cleaner{pool: pool, query: s.q.cleanup, now: c.now}
	s.loop = cleanup.Start(s, c.cleanupInterval, "pgstore", c.logger, cl.sweep)
	return s, nil
}

// Close stops the background cleanup (canceling a sweep in progress) and
// waits for its goroutine to end. It does not close the pool. The Store
// must not be used after Close. Close may be called more than once; it
// always returns nil.
func (s *Store) Close() error {
	s.loop.Stop()
	return nil
}

// Load returns the session stored under key, or [store.ErrNotFound] when
// there is none or it has expired. One query. A row the store cannot
// parse (a time that is not finite, a version out of range) gives an
// error wrapping [store.ErrCorrupt]; a field row named "" is left out.
func (s *Store) Load(ctx context.Context, key string) (store.Record, error) {
	if key == "" {
		return store.Record{}, fmt.Errorf("pgstore: load: %w", errEmptyKey)
	}
	rows, err := s.pool.Query(ctx, s.q.load, key, s.now())
	if err != nil {
		return store.Record{}, fmt.Errorf("pgstore: load: %w", err)
	}
	defer rows.Close()
	var (
		rec              store.Record
		found, ok        bool
		created, expires pgtype.Timestamptz // may hold infinity
		version          int64
		owner            *string
		name             *string
		value            []byte
	)
	for rows.Next() {
		if err := rows.Scan(&ok, &created, &expires, &version, &owner, &name, &value); err != nil {
			return store.Record{}, fmt.Errorf("pgstore: load: %w", err)
		}
		if !ok {
			return store.Record{}, fmt.Errorf("pgstore: load: %w", errCorrupt(key))
		}
		if !found {
			found = true
			rec.Fields = make(map[string][]byte)
			rec.Created, rec.Expires = created.Time, expires.Time
			rec.Version = uint64(version)
			if owner != nil {
				rec.Owner = *owner
			}
		}
		if name != nil {
			// Scan gives a fresh slice per row: the caller may keep it.
			rec.Fields[*name] = value
		}
	}
	if err := rows.Err(); err != nil {
		return store.Record{}, fmt.Errorf("pgstore: load: %w", err)
	}
	if !found {
		return store.Record{}, fmt.Errorf("pgstore: load: %w", store.ErrNotFound)
	}
	return rec, nil
}

// Create writes a new session under key with version 1 and rec.Owner,
// replacing an expired one, or returns [store.ErrExists] when a live
// session has the key. One statement, in a group with concurrent
// Creates and Updates when a round trip is already in flight (see the
// package doc).
func (s *Store) Create(ctx context.Context, key string, rec store.Record) error {
	w, err := newCreate(key, rec, s.now())
	if err == nil {
		err = s.write(ctx, w)
	}
	if err != nil {
		return fmt.Errorf("pgstore: create: %w", err)
	}
	return nil
}

// Update applies c to the live session under key in one round trip (a
// batch of two statements in one implicit transaction, shared with
// concurrent Creates and Updates when a round trip is already in flight:
// see the package doc) and returns the session's new version. It
// returns [store.ErrNotFound] when the session is missing or expired, an
// error wrapping [store.ErrCorrupt] when its row cannot be parsed, and
// [store.ErrConflict] or [store.ErrTooLarge] when c's conditions fail,
// in that order, having written nothing. A key both in c.Set and
// c.Remove is written, not removed. The version goes up by one with
// every Update, an empty one included, and c.Owner moves the session in
// the owner index in the same statement.
func (s *Store) Update(ctx context.Context, key string, c store.Change) (uint64, error) {
	w, err := newUpdate(key, c, s.now())
	if err == nil {
		err = s.write(ctx, w)
	}
	if err != nil {
		return 0, fmt.Errorf("pgstore: update: %w", err)
	}
	return w.version, nil
}

// Delete removes the session under key and its fields. Deleting a missing
// session is not an error. One statement.
func (s *Store) Delete(ctx context.Context, key string) error {
	if key == "" {
		return fmt.Errorf("pgstore: delete: %w", errEmptyKey)
	}
	if _, err := s.pool.Exec(ctx, s.q.delete, key); err != nil {
		return fmt.Errorf("pgstore: delete: %w", err)
	}
	return nil
}
