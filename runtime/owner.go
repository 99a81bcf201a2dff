package session

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/sessiongen/sessiongen/runtime/bus"
	"github.com/sessiongen/sessiongen/runtime/codec"
	"github.com/sessiongen/sessiongen/runtime/store"
)

// Sessions of an owner ("log out everywhere").
//
// WithOwnerKey names the key that holds a session's owner, typically the
// user ID set at login. Every change that writes or removes that key
// tells the engine the session's owner, atomically with the change, and
// an engine with an owner index (store.OwnerIndex) lists the owner's
// live sessions without scanning all of them.

// SessionInfo describes one live session of an owner, without its ID.
type SessionInfo struct {
	// Handle names the session: its engine key (a hash of the ID, never
	// the ID). Pass it to [Manager.Revoke].
	Handle string
	// Created is when the session was first written.
	Created time.Time
	// LastSeen is when the session's expiry was last extended: Expires
	// minus the idle timeout, never before Created. Extension is
	// throttled (see [WithIdleTimeout]), so the session may have been
	// used up to a quarter of the idle timeout after LastSeen; once the
	// absolute lifetime caps the expiry, LastSeen is a lower bound.
	LastSeen time.Time
	// Expires is when the session expires unless it is used again: the
	// earlier of its idle deadline and its absolute deadline.
	Expires time.Time
}

// ownerText returns the owner that the encoded value b of the owner key
// stands for: a string as it is, an integer as decimal text, "" for nil
// (no value: the key is removed, or msgpack nil). Any other type, and a
// string that is not valid UTF-8 or holds a NUL byte (which not every
// engine can index), gives an error wrapping ErrInvalidOwner.
func ownerText(b []byte) (string, error) {
	if b == nil || codec.IsNil(b) {
		return "", nil
	}
	if s, err := codec.String(b); err == nil && isStr(b[0]) {
		if !utf8.ValidString(s) || strings.IndexByte(s, 0) >= 0 {
			return "", fmt.Errorf("%w: the string is not valid UTF-8 or holds a NUL byte", ErrInvalidOwner)
		}
		return s, nil
	}
	if n, err := codec.Int(b, 64); err == nil {
		return strconv.FormatInt(n, 10), nil
	}
	if n, err := codec.Uint(b, 64); err == nil {
		return strconv.FormatUint(n, 10), nil
	}
	return "", ErrInvalidOwner
}

// isStr reports whether c opens a msgpack str (not bin, which
// codec.String also reads).
func isStr(c byte) bool {
	return c >= 0xa0 && c <= 0xbf || c == 0xd9 || c == 0xda || c == 0xdb
}

// checkOwner returns an error naming the key when fs writes a value of
// the owner key that cannot be an owner.
func (m *Manager) checkOwner(op string, fs []Field) error {
	if m.ownerKey == "" {
		return nil
	}
	for _, f := range fs {
		if f.Key == m.ownerKey {
			if _, err := ownerText(f.Value); err != nil {
				return opError(op, f.Key, err)
			}
		}
	}
	return nil
}

// ownerChange returns the owner fs sets (the last write of the owner key
// wins) and whether fs touches the owner key at all. fs was checked with
// checkOwner.
func (m *Manager) ownerChange(fs []Field) (string, bool) {
	if m.ownerKey == "" {
		return "", false
	}
	own, touched := "", false
	for _, f := range fs {
		if f.Key == m.ownerKey {
			own, _ = ownerText(f.Value)
			touched = true
		}
	}
	return own, touched
}

// ownerOf returns the owner that fields hold.
func (m *Manager) ownerOf(fields map[string][]byte) string {
	if m.ownerKey == "" {
		return ""
	}
	own, _ := ownerText(fields[m.ownerKey])
	return own
}

// ownerIndex returns the engine's owner index for op, or why there is
// none.
func (m *Manager) ownerIndex(op, owner string) (store.OwnerIndex, error) {
	switch {
	case m.ownerKey == "":
		return nil, fmt.Errorf("session: %s: %w", op, ErrNoOwnerKey)
	case m.owners == nil:
		return nil, fmt.Errorf("session: %s: %w: the storage engine keeps no owner index", op, ErrUnsupported)
	case owner == "":
		return nil, fmt.Errorf("session: %s: %w", op, ErrNoOwner)
	}
	return m.owners, nil
}

// Sessions returns the live sessions of owner (the value of the owner
// key, see [WithOwnerKey], as text), oldest first, without their IDs. It
// needs an owner key and an engine with an owner index
// (store.OwnerIndex): otherwise it returns an error wrapping
// [ErrNoOwnerKey] or [ErrUnsupported]. An empty owner gives
// [ErrNoOwner]. Sessions an engine still lists but that are past this
// manager's deadlines are left out.
func (m *Manager) Sessions(ctx context.Context, owner string) ([]SessionInfo, error) {
	idx, err := m.ownerIndex("sessions", owner)
	if err != nil {
		return nil, err
	}
	list, err := idx.Owned(ctx, owner)
	if err != nil {
		return nil, fmt.Errorf("session: sessions: %w", err)
	}
	now := m.now()
	out := make([]SessionInfo, 0, len(list))
	for _, o := range list {
		sn := &snapshot{created: unixNanos(o.Created), expires: unixNanos(o.Expires)}
		if !m.live(sn, now) {
			continue
		}
		seen := o.Expires.Add(-m.idle)
		if seen.Before(o.Created) {
			seen = o.Created
		}
		out = append(out, SessionInfo{Handle: o.Key, Created: o.Created, LastSeen: seen, Expires: m.expiry(sn)})
	}
	slices.SortFunc(out, func(a, b SessionInfo) int {
		if c := a.Created.Compare(b.Created); c != 0 {
			return c
		}
		return strings.Compare(a.Handle, b.Handle)
	})
	return out, nil
}

// RevokeAll destroys every live session of owner on every node: each is
// deleted in the engine, dropped from this manager's cache and announced
// on the bus (see [WithBus]) so that every other manager refuses it as
// soon as the message arrives. It returns how many sessions it deleted.
// Requirements and errors are those of [Manager.Sessions]; when some
// deletions fail, it deletes the others and returns their count with
// the joined errors. The Destroyed hook runs for each deleted session.
func (m *Manager) RevokeAll(ctx context.Context, owner string) (int, error) {
	return m.revokeOwned(ctx, "revoke all", owner, "")
}

// RevokeOthers destroys, on every node, every live session of the owner
// of s except s itself ("log out my other devices"), as
// [Manager.RevokeAll] does. The owner is the value of the owner key in s,
// including a change the request has not flushed yet. It returns how
// many sessions it deleted; an error wrapping [ErrNoOwner] when s has no
// owner, [ErrNoSession] when s is nil or has no session, and the errors
// of [Manager.Sessions].
func (m *Manager) RevokeOthers(ctx context.Context, s *Session) (int, error) {
	const op = "revoke others"
	if s == nil {
		return 0, fmt.Errorf("session: %s: %w", op, ErrNoSession)
	}
	if s.m != m {
		return 0, fmt.Errorf("session: %s: the session belongs to another manager", op)
	}
	s.mu.Lock()
	s.resolve()
	err := s.err
	keep, owner := "", ""
	if sn := s.current(); sn != nil {
		keep, owner = s.e.key(), sn.owner
	}
	if v, ok := s.pending[m.ownerKey]; ok && m.ownerKey != "" {
		owner, _ = ownerText(v)
	}
	if s.isNew && s.id != "" {
		keep = store.Key(s.id)
	}
	s.mu.Unlock()
	if err != nil {
		return 0, fmt.Errorf("session: %s: %w", op, err)
	}
	if keep == "" {
		return 0, fmt.Errorf("session: %s: %w", op, ErrNoSession)
	}
	return m.revokeOwned(ctx, op, owner, keep)
}

// maxRevokeRounds bounds the list-and-delete rounds of one revocation
// of an owner's sessions.
const maxRevokeRounds = 16

// revokeOwned deletes every live session of owner except the one with
// engine key keep.
//
// A renewal in flight moves a session to a new key (store.Store.Move)
// and may do so while the owner's sessions are being listed; every
// engine's Owned then lists it under its old key or its new one
// (storetest's ListedWhileRenewed checks it). A session listed under its
// old key but renewed before it is revoked is found under its new key by
// the next listing, so the owner's sessions are listed again until two
// rounds in a row find nothing left to revoke (the second is a margin
// for engines whose index lags, see dynamostore).
func (m *Manager) revokeOwned(ctx context.Context, op, owner, keep string) (int, error) {
	idx, err := m.ownerIndex(op, owner)
	if err != nil {
		return 0, err
	}
	n := 0
	var errs []error
	done := map[string]bool{}
	quiet := 0
	for range maxRevokeRounds {
		list, err := idx.Owned(ctx, owner)
		if err != nil {
			return n, fmt.Errorf("session: %s: %w", op, err)
		}
		met := false
		for _, o := range list {
			if o.Key == keep || done[o.Key] {
				continue
			}
			met, done[o.Key] = true, true
			switch err := m.revokeKey(ctx, o.Key, owner); {
			case err == nil:
				n++
			case !errors.Is(err, store.ErrNotFound):
				errs = append(errs, err)
			}
		}
		if met {
			quiet = 0
		} else if quiet++; quiet == 2 {
			break
		}
	}
	if len(errs) > 0 {
		return n, fmt.Errorf("session: %s: %d of %d deletions failed: %w", op, len(errs), len(errs)+n, errors.Join(errs...))
	}
	return n, nil
}

// Revoke destroys, on every node, the session with the given handle (as
// [Manager.Sessions] and [Event] report it): deleted in the engine,
// dropped from this manager's cache, announced on the bus. It works on
// every engine. It returns an error wrapping [ErrNotFound] when no live
// session has the handle, and one wrapping [ErrInvalidHandle] when the
// handle cannot be one. A handle does not prove ownership: check that it
// is one of the user's sessions (with Sessions) before revoking it on
// the user's request.
func (m *Manager) Revoke(ctx context.Context, handle string) error {
	if !validHandle(handle) {
		return fmt.Errorf("session: revoke: %w", ErrInvalidHandle)
	}
	rec, err := m.store.Load(ctx, handle)
	if err != nil {
		return fmt.Errorf("session: revoke: %w", err)
	}
	if err := m.revokeKey(ctx, handle, rec.Owner); err != nil {
		return fmt.Errorf("session: revoke: %w", err)
	}
	return nil
}

// revokedExpiry is the expiry a revocation gives a session before it
// deletes it: long past on every clock.
var revokedExpiry = time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)

// revokeKey ends the session with engine key key everywhere. It first
// expires the session with a conditional write, which fails with
// ErrNotFound when no live session has the key (deleted, expired or
// renewed away before it), so the caller learns whether it revoked
// anything; then it deletes the record, which also stops a renewal
// still moving it (see store.Store.Move), announces the deletion on the
// bus and runs the Destroyed hook. It returns ErrNotFound when there was
// nothing live to revoke.
func (m *Manager) revokeKey(ctx context.Context, key, owner string) error {
	_, gone := m.store.Update(ctx, key, store.Change{Expires: revokedExpiry})
	if gone != nil && !errors.Is(gone, store.ErrNotFound) && !errors.Is(gone, store.ErrCorrupt) {
		// The expiring write may have landed, its answer lost.
		m.unknownOutcome(ctx, m.keys.get(key), key, math.MaxUint64, gone)
		return gone
	}
	derr := m.store.Delete(ctx, key)
	if gone != nil && derr != nil {
		m.unknownOutcome(ctx, m.keys.get(key), key, math.MaxUint64, derr)
		return derr // nothing was known to end: the caller may retry
	}
	// The session has ended in the engine (expired by the first write,
	// or deleted): every copy must go, even if the deletion failed and
	// only the engine's clean-up will remove the expired record.
	m.invalidateKey(key, true, 0)
	m.publish(ctx, bus.Deleted, key, 0)
	if derr != nil {
		m.reportError(ctx, fmt.Errorf("session: revoke: the session has expired but deleting its record failed (the engine's clean-up removes it): %w", derr))
	}
	if errors.Is(gone, store.ErrCorrupt) {
		return nil // a damaged record was deleted: that ends the session too
	}
	if gone != nil {
		return gone
	}
	m.event(ctx, Event{Kind: EventDestroyed, Handle: key, Owner: owner})
	return nil
}

// validHandle reports whether h has the shape of an engine key: 43
// base64url characters (store.Key).
func validHandle(h string) bool {
	if len(h) != 43 {
		return false
	}
	for i := 0; i < len(h); i++ {
		c := h[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

// ptr returns a pointer to a copy of s (allocated only when called).
func ptr(s string) *string { return &s }
