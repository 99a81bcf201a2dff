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
	// ErrConflict reports a Change whose expectations on fields
	// ([Change.Expect]) did not hold in the engine when it was applied.
	// Nothing was written.
	ErrConflict = errors.New("session changed concurrently")
	// ErrTooLarge reports a Change that would take the stored session
	// over its size limit ([Change.MaxSize]). Nothing was written.
	ErrTooLarge = errors.New("session too large")
	// ErrCorrupt reports a record the engine holds under the key but
	// cannot parse: garbage metadata, a value of the wrong type, a
	// document that is not one. The error names the engine and the key
	// (a hash, never a session ID). Load, Version, Update and Move report
	// it and write nothing; Delete removes a corrupt record like any
	// other, and OwnerIndex.Owned leaves it out.
	ErrCorrupt = errors.New("corrupt session record")
	// ErrNotSent marks the failure of a call that never reached the
	// engine (its client refused it before sending it): nothing of it was
	// applied. Engines wrap it where they know. Any other failure that is
	// none of the errors above may leave the call applied, its answer
	// lost: its outcome is unknown.
	ErrNotSent = errors.New("not sent to the engine")
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
//
// A Change may carry conditions that the engine checks atomically with
// applying it, in the same round trip: [Change.Expect] (compare-and-set
// on fields) and [Change.MaxSize] (the session's size limit). When the
// session is missing the engine reports ErrNotFound; otherwise, when an
// expectation fails, ErrConflict; otherwise, when the limit would be
// passed, ErrTooLarge. In each case it writes nothing. [Change.Check]
// implements both conditions for engines that hold the fields in hand.
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
	// Expect, when not empty, makes the change conditional: each key
	// must hold exactly the given bytes when the change is applied, and
	// a key given a value of length 0 (nil or empty) must be absent.
	// Fields not named here may have changed freely. The manager never
	// stores a value of length 0, so "absent" is never ambiguous for
	// it.
	Expect map[string][]byte
	// MaxSize, when above 0, is the session's size limit: the change
	// fails with ErrTooLarge when the session's size after it (see
	// [Size]) would exceed MaxSize and be larger than before it. A
	// change that does not grow the session is never refused, so a
	// session over a lowered limit can still shrink.
	MaxSize int
}

// Empty reports whether the change writes nothing at all.
func (c Change) Empty() bool {
	return len(c.Set) == 0 && len(c.Remove) == 0 && c.Expires.IsZero() && c.Owner == nil
}

// Check reports whether c may be applied to a session holding fields:
// nil, or an error wrapping ErrConflict when an expectation fails, or
// ErrTooLarge when the size limit would be passed (in that order). It
// does not check that the session is live. Engines that read the fields
// under a lock or in a transaction use it; others check the same rules
// in their own language (a Lua script, SQL) and must agree with it.
func (c Change) Check(fields map[string][]byte) error {
	for k, want := range c.Expect {
		got, ok := fields[k]
		if len(want) == 0 {
			if ok {
				return ErrConflict
			}
			continue
		}
		if !ok || string(got) != string(want) {
			return ErrConflict
		}
	}
	if c.MaxSize > 0 && len(c.Set) > 0 {
		before := Size(fields)
		after := before + c.SizeDelta(fields)
		if after > c.MaxSize && after > before {
			return ErrTooLarge
		}
	}
	return nil
}

// SizeDelta returns how much applying c to a session holding fields
// changes its size (Remove first, then Set, as Update applies them).
func (c Change) SizeDelta(fields map[string][]byte) int {
	d := 0
	gone := make(map[string]bool, len(c.Remove)+len(c.Set))
	for _, k := range c.Remove {
		if v, ok := fields[k]; ok && !gone[k] {
			d -= len(k) + len(v)
			gone[k] = true
		}
	}
	for k, v := range c.Set {
		if old, ok := fields[k]; ok && !gone[k] {
			d -= len(k) + len(old)
		}
		d += len(k) + len(v)
	}
	return d
}

// Apply returns a copy of fields with c's Remove and Set applied (Remove
// first, so Set wins). The byte slices are shared, not copied.
func (c Change) Apply(fields map[string][]byte) map[string][]byte {
	out := make(map[string][]byte, len(fields)+len(c.Set))
	for k, v := range fields {
		out[k] = v
	}
	for _, k := range c.Remove {
		delete(out, k)
	}
	for k, v := range c.Set {
		out[k] = v
	}
	return out
}

// Size returns a session's size as the limit counts it: the sum over its
// fields of len(key) + len(value).
func Size(fields map[string][]byte) int {
	n := 0
	for k, v := range fields {
		n += len(k) + len(v)
	}
	return n
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

	// Move gives the live session under from the new key to (the
	// manager's Renew), applying c on the way, and returns the record now
	// stored under to. The data comes from the engine's live record,
	// never from a copy the caller holds, and the move is conditional:
	// afterwards the record exists under to only if from was live when
	// it was moved, and from no longer exists. c's conditions (Expect,
	// MaxSize) are checked against the live record; c.Expires, which
	// must not be zero, is the new record's expiry; c.Owner, when not
	// nil, its owner (else it keeps from's). The new record keeps from's
	// Created and has Version 1, as after Create.
	//
	// No write is lost: an Update of from that returned before Move began
	// is in the moved record, and an Update racing Move either lands
	// before it (and is moved) or fails with ErrNotFound. A Delete of
	// from racing Move either makes Move fail with ErrNotFound, leaving
	// nothing under to, or comes after it and finds nothing to delete:
	// a revoked session is never revived.
	//
	// Move returns ErrNotFound when from is missing or expired,
	// ErrExists when a live session has the key to, ErrConflict or
	// ErrTooLarge as Update does, and ErrInvalid for an empty key, equal
	// keys or a zero c.Expires; in each case it writes nothing. An
	// engine that cannot move in one atomic step (keys that may live on
	// different servers) says in its documentation what a crash between
	// its steps leaves behind: at worst an orphan record under to that no
	// client holds the ID of, never a second live copy of from.
	Move(ctx context.Context, from, to string, c Change) (Record, error)
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
