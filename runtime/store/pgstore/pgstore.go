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
// Load is one query. Create is one statement; Update is one batch (a row
// lock and one statement) in one implicit transaction; Delete, Version
// and Owned are one statement each: each costs one round trip once the
// pool's connection has prepared the statements. An Update locks the
// session row first, so it applies to a live session only: after a
// Delete, or once the session has expired, it writes nothing and returns
// [store.ErrNotFound]. Concurrent Updates of one session run one after
// the other, so writes to different fields all survive, and each gets a
// version of its own.
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
// connection is dropped rather than the statement canceled).
package pgstore

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/sessiongen/sessiongen/runtime/store"
	"github.com/sessiongen/sessiongen/runtime/store/internal/cleanup"
)

// Store is a [store.Store] on PostgreSQL. Make one with [New]; it is safe
// for concurrent use.
type Store struct {
	pool *pgxpool.Pool
	q    queries
	now  func() time.Time
	loop *cleanup.Loop // the background deletion of expired sessions
}

var (
	_ store.Store      = (*Store)(nil)
	_ store.Versioner  = (*Store)(nil)
	_ store.OwnerIndex = (*Store)(nil)
)

// Errors for input the store refuses.
var (
	errNilPool    = errors.New("nil pool")
	errEmptyKey   = errors.New("empty key")
	errNoExpiry   = errors.New("record has no expiry")
	errEmptyField = errors.New("empty field key")
)

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
// there is none or it has expired. One query.
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
		rec     store.Record
		found   bool
		version int64
		owner   *string
		name    *string
		value   []byte
	)
	for rows.Next() {
		if err := rows.Scan(&rec.Created, &rec.Expires, &version, &owner, &name, &value); err != nil {
			return store.Record{}, fmt.Errorf("pgstore: load: %w", err)
		}
		if !found {
			found = true
			rec.Fields = make(map[string][]byte)
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
// session has the key. One statement.
func (s *Store) Create(ctx context.Context, key string, rec store.Record) error {
	if key == "" {
		return fmt.Errorf("pgstore: create: %w", errEmptyKey)
	}
	if rec.Expires.IsZero() {
		return fmt.Errorf("pgstore: create: %w", errNoExpiry)
	}
	if _, ok := rec.Fields[""]; ok {
		return fmt.Errorf("pgstore: create: %w", errEmptyField)
	}
	if err := checkOwner(rec.Owner); err != nil {
		return fmt.Errorf("pgstore: create: %w", err)
	}
	var owner any // NULL: no owner
	if rec.Owner != "" {
		owner = rec.Owner
	}
	names, values := columns(rec.Fields)
	var n int64
	err := s.pool.QueryRow(ctx, s.q.create, key, rec.Created, rec.Expires, s.now(), names, values, owner).Scan(&n)
	if err != nil {
		return fmt.Errorf("pgstore: create: %w", err)
	}
	if n == 0 {
		return fmt.Errorf("pgstore: create: %w", store.ErrExists)
	}
	return nil
}

// Update applies c to the live session under key in one round trip (a
// batch of two statements in one implicit transaction) and returns the
// session's new version, or returns [store.ErrNotFound] having written
// nothing. A key both in c.Set and c.Remove is written, not removed. The
// version goes up by one with every Update, an empty one included, and
// c.Owner moves the session in the owner index in the same statement.
func (s *Store) Update(ctx context.Context, key string, c store.Change) (uint64, error) {
	if key == "" {
		return 0, fmt.Errorf("pgstore: update: %w", errEmptyKey)
	}
	if _, ok := c.Set[""]; ok {
		return 0, fmt.Errorf("pgstore: update: %w", errEmptyField)
	}
	var owner any // NULL keeps the owner; "" clears it
	if c.Owner != nil {
		if err := checkOwner(*c.Owner); err != nil {
			return 0, fmt.Errorf("pgstore: update: %w", err)
		}
		owner = *c.Owner
	}
	names, values := columns(c.Set)
	removed := make([]string, 0, len(c.Remove))
	for _, k := range c.Remove {
		if _, set := c.Set[k]; !set {
			removed = append(removed, k)
		}
	}
	var expires any // NULL keeps the expiry
	if !c.Expires.IsZero() {
		expires = c.Expires
	}
	now := s.now()

	b := &pgx.Batch{}
	b.Queue(s.q.lock, key, now)
	b.Queue(s.q.update, key, now, names, values, removed, expires, owner)
	br := s.pool.SendBatch(ctx, b)
	var version int64
	_, err := br.Exec()
	if err == nil {
		err = br.QueryRow().Scan(&version)
	}
	// A failure to close the batch outranks "no row".
	if cerr := br.Close(); cerr != nil && (err == nil || errors.Is(err, pgx.ErrNoRows)) {
		err = cerr
	}
	if errors.Is(err, pgx.ErrNoRows) {
		return 0, fmt.Errorf("pgstore: update: %w", store.ErrNotFound)
	}
	if err != nil {
		return 0, fmt.Errorf("pgstore: update: %w", err)
	}
	return uint64(version), nil
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

// columns splits fields into parallel name and value slices for unnest,
// never nil (pgx sends a nil slice as NULL) and with no nil value (the
// column is NOT NULL; an empty value stays empty).
func columns(fields map[string][]byte) ([]string, [][]byte) {
	names := make([]string, 0, len(fields))
	values := make([][]byte, 0, len(fields))
	for k, v := range fields {
		if v == nil {
			v = []byte{}
		}
		names = append(names, k)
		values = append(values, v)
	}
	return names, values
}
