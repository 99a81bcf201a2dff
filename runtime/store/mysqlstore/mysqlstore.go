// Package mysqlstore is a session engine on MariaDB or MySQL, through
// database/sql and github.com/go-sql-driver/mysql. Every process sharing
// the database sees the same sessions. It needs no particular DSN
// settings (no multiStatements, no parseTime, no interpolateParams).
//
// # Schema
//
// A session is one row of one table; its fields are one JSON object in
// that row (see [Schema] for the layout). [Schema] returns the DDL: put it
// in a migration, or let [New] run it with [WithCreateSchema] (off by
// default). The table name is set with [WithTable].
//
// A table made by the previous release's DDL lacks the owner column; New
// reports it missing. Upgrade it with the DDL from [Upgrade] in a
// migration; for the default table name it is
//
//	ALTER TABLE `sessiongen_sessions`
//		ADD COLUMN owner VARBINARY(255) NULL,
//		ADD KEY owner_idx (owner)
//
// (live sessions keep their versions and get no owner), or let
// [WithCreateSchema] do it. Processes of the previous release bump the
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
// Every operation is one statement, prepared once per connection, so each
// costs one round trip once the connection has prepared it. An Update is
// a single conditional UPDATE of the session's row: JSON_SET and
// JSON_REMOVE name only the fields set and removed, so only the changed
// fields' bytes cross the wire, and it matches the row only while the
// session is live: after a Delete, or once the session has expired, it
// writes nothing and returns [store.ErrNotFound]. Concurrent Updates of
// one session take the row lock in turn and each changes the latest
// document, so writes to different fields all survive, and each gets a
// version of its own.
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
// context's error at once; as with any database, the server may still
// complete the statement.
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
)

// Store is a [store.Store] on MariaDB or MySQL. Make one with [New]; it is
// safe for concurrent use.
type Store struct {
	db      *sql.DB
	st      statements
	updates *updateStmts
	now     func() time.Time
	loop    *cleanup.Loop // the background deletion of expired sessions

	closeOnce sync.Once
	closeErr  error
}

// statements are the store's fixed prepared statements. database/sql
// prepares each on every connection it runs on, once.
type statements struct {
	load, create, delete, cleanup, version, owned *sql.Stmt
}

// all returns every statement, for closing.
func (st statements) all() []*sql.Stmt {
	return []*sql.Stmt{st.load, st.create, st.delete, st.cleanup, st.version, st.owned}
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

// Errors for input the store refuses.
var (
	errNilDB      = errors.New("nil db")
	errEmptyKey   = errors.New("empty key")
	errLongKey    = fmt.Errorf("key longer than %d bytes", maxKeyLen)
	errNoExpiry   = errors.New("record has no expiry")
	errEmptyField = errors.New("empty field key")
)

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
	if _, err := updates.get(ctx, updateShape(1, 1)); err != nil {
		closeAll(st.all()...)
		return nil, fmt.Errorf("mysqlstore: prepare: %w", err)
	}
	s := &Store{
		db:      db,
		st:      st,
		updates: updates,
		now:     c.now,
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
		{&st.load, q.load}, {&st.create, q.create}, {&st.delete, q.delete}, {&st.cleanup, q.cleanup},
		{&st.version, q.version}, {&st.owned, q.owned},
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
// there is none or it has expired. One query.
func (s *Store) Load(ctx context.Context, key string) (store.Record, error) {
	if err := checkKey(key); err != nil {
		return store.Record{}, fmt.Errorf("mysqlstore: load: %w", err)
	}
	var (
		created, expires, version int64
		owner, data               []byte
	)
	err := s.st.load.QueryRowContext(ctx, key, s.now().UnixMicro()).Scan(&created, &expires, &version, &owner, &data)
	if errors.Is(err, sql.ErrNoRows) {
		return store.Record{}, fmt.Errorf("mysqlstore: load: %w", store.ErrNotFound)
	}
	if err != nil {
		return store.Record{}, fmt.Errorf("mysqlstore: load: %w", err)
	}
	fields, err := decodeFields(data)
	if err != nil {
		return store.Record{}, fmt.Errorf("mysqlstore: load: %w", err)
	}
	return store.Record{
		Fields:  fields,
		Created: time.UnixMicro(created),
		Expires: time.UnixMicro(expires),
		Version: uint64(version),
		Owner:   string(owner),
	}, nil
}

// Create writes a new session under key with version 1 and rec.Owner,
// replacing an expired one, or returns [store.ErrExists] when a live
// session has the key. One statement.
func (s *Store) Create(ctx context.Context, key string, rec store.Record) error {
	if err := checkKey(key); err != nil {
		return fmt.Errorf("mysqlstore: create: %w", err)
	}
	if rec.Expires.IsZero() {
		return fmt.Errorf("mysqlstore: create: %w", errNoExpiry)
	}
	if _, ok := rec.Fields[""]; ok {
		return fmt.Errorf("mysqlstore: create: %w", errEmptyField)
	}
	if err := checkOwner(rec.Owner); err != nil {
		return fmt.Errorf("mysqlstore: create: %w", err)
	}
	data := encodeFields(rec.Fields)
	owner := ownerArg(rec.Owner)
	created, expires, now := rec.Created.UnixMicro(), rec.Expires.UnixMicro(), s.now().UnixMicro()
	res, err := s.st.create.ExecContext(ctx,
		key, created, expires, owner, data,
		now, created, now, data, now, owner, now, now, expires)
	if err != nil {
		return fmt.Errorf("mysqlstore: create: %w", err)
	}
	id, err := res.LastInsertId()
	if err != nil {
		return fmt.Errorf("mysqlstore: create: %w", err)
	}
	if id == liveMarker {
		return fmt.Errorf("mysqlstore: create: %w", store.ErrExists)
	}
	return nil
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
