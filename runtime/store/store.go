// Package store defines the contract between the session manager and a
// storage engine, and the errors engines report.
//
// The contract mirrors the seed project's storage interface (get, set,
// update a key, remove a key, delete), with a context on every call and a
// batch form: one [Change] carries every field written and removed by a
// request, so an engine applies it in one round trip.
//
// Field keys (the keys of Record.Fields and Change.Set, and the entries of
// Change.Remove) are always 1 to 128 bytes of valid UTF-8 without control
// characters (no byte below 0x20, no 0x7f): the manager refuses anything
// else before an engine sees it. An engine may therefore
// use a name holding the byte 0xff for its own metadata without colliding.
//
// Keys given to an engine are never raw session IDs: the manager hands the
// engine [Key] of the ID (a SHA-256 digest), so a dump of the engine yields
// no usable token. Engines store the key exactly as given.
//
// Optional capabilities are separate small interfaces found by type
// assertion: [Versioner] (a cheap version check, for bounded staleness) and
// [OwnerIndex] (the sessions of one owner, for "log out everywhere").
//
// Every engine must pass the conformance suite in package storetest against
// the real engine.
package store

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"time"
)

// Errors reported by engines. Engines wrap them with the operation and the
// engine's name; callers test them with [errors.Is].
var (
	// ErrNotFound reports a session that does not exist, was deleted or has
	// expired. An Update that fails with it has written nothing.
	ErrNotFound = errors.New("session not found")
	// ErrExists reports a Create for a key that is already live.
	ErrExists = errors.New("session already exists")
	// ErrInvalid reports a call an engine refuses before touching its
	// data: an empty key or field key, or a zero Expires.
	ErrInvalid = errors.New("invalid store request")
)

// Record is a whole session as an engine holds it.
type Record struct {
	// Fields maps each key to its encoded value (msgpack bytes). Engines
	// treat the bytes as opaque.
	Fields map[string][]byte
	// Created is when the session was first written. Engines keep it as
	// given (at least to the millisecond).
	Created time.Time
	// Expires is when the engine may forget the session. From that instant
	// on (now >= Expires), Load and Update report ErrNotFound even if the
	// engine has not purged the record yet. It is never zero.
	Expires time.Time
	// Version counts the session's writes: Create stores 1 (whatever the
	// Record given to it holds) and every successful Update adds exactly 1,
	// atomically with the change. Managers compare versions to tell a
	// fresh copy from a stale one; they never compare clocks.
	Version uint64
	// Owner is the session's owner (for example a user ID as text), or ""
	// for none. An engine that implements [OwnerIndex] lists the session
	// under it.
	Owner string
}

// Change is one atomic batch of per-field writes to an existing session:
// the fields in Set are written, the keys in Remove are deleted, and, when
// Expires is not zero, the expiry moves to it. A Change with no fields and
// only Expires is a touch (sliding expiry).
//
// The manager never names one key in both Set and Remove; an engine given
// such a Change applies Remove first, so Set wins. A session whose every
// field was removed still exists (with no fields) until it is deleted or
// expires.
type Change struct {
	// Set holds the fields to write, key to encoded value.
	Set map[string][]byte
	// Remove lists the keys to delete. A key absent from the session is
	// not an error.
	Remove []string
	// Expires, when not zero, replaces the session's expiry.
	Expires time.Time
	// Owner, when not nil, replaces the session's owner ("" clears it)
	// and moves the session in the owner index, atomically with the rest
	// of the change where the engine allows (see [OwnerIndex]).
	Owner *string
}

// Empty reports whether the change writes nothing at all.
func (c Change) Empty() bool {
	return len(c.Set) == 0 && len(c.Remove) == 0 && c.Expires.IsZero() && c.Owner == nil
}

// Store is a storage engine. Implementations are safe for concurrent use.
//
// The key passed to every method is [Key] of a session ID, never the ID.
type Store interface {
	// Load returns the session's record. It returns ErrNotFound when the
	// session does not exist or its Expires has passed.
	Load(ctx context.Context, key string) (Record, error)

	// Create writes a new session with Version 1 and rec's Owner. It
	// returns ErrExists when a live session already has the key; an
	// expired one is replaced.
	Create(ctx context.Context, key string, rec Record) error

	// Update applies c atomically to a live session: either every part of
	// c takes effect or none does. Fields not named in c are left as they
	// are, so two Updates that write different keys both survive. When the
	// session does not exist or has expired, Update returns ErrNotFound
	// and writes nothing: an Update never brings a session back. It
	// returns the session's Version after the change (the version before
	// it plus one), also for a touch or an empty change.
	Update(ctx context.Context, key string, c Change) (uint64, error)

	// Delete removes the session (and its owner-index entry). Deleting a
	// missing session is not an error.
	Delete(ctx context.Context, key string) error
}

// Versioner is implemented by engines that can report a session's
// version more cheaply than a whole Load (one small read). A manager in
// bounded-staleness mode uses it to revalidate a cached session.
type Versioner interface {
	// Version returns the live session's Version, or ErrNotFound when it
	// does not exist or has expired.
	Version(ctx context.Context, key string) (uint64, error)
}

// OwnerIndex is implemented by engines that keep an index of sessions by
// owner (Record.Owner, Change.Owner), updated by Create, Update and
// Delete. The index is the engine's own structure (a Redis sorted set, an
// SQL column with an index, a DynamoDB index item...), never a scan of all
// sessions.
type OwnerIndex interface {
	// Owned returns the live sessions of owner, in no particular order.
	// Sessions that were deleted, have expired or now have another owner
	// are never returned; their index entries are removed here or by the
	// engine's cleanup, so the index cannot grow without bound.
	Owned(ctx context.Context, owner string) ([]Owned, error)
}

// Owned describes one live session of an owner.
type Owned struct {
	// Key is the session's engine key (a hash, never the session ID).
	Key string
	// Created and Expires are the session's times, as in [Record].
	Created, Expires time.Time
	// Version is the session's current version.
	Version uint64
}

// Key returns the engine key for a session ID: the unpadded base64url
// SHA-256 digest of the ID (43 characters). Only the manager calls it;
// engines receive its result.
func Key(id string) string {
	sum := sha256.Sum256([]byte(id))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}
