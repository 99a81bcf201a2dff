package session

import (
	"context"
	"strings"
	"time"

	"github.com/sessiongen/sessiongen/runtime/identity"
)

// Per-session settings: remember-me (SetPersistent) and a deadline
// (SetDeadline). They are stored as two fields with reserved keys, so
// they live in the engine with the session, reach every node, survive
// Renew and cost no engine change of their own: each is one field
// written like any other. Keys beginning with ReservedPrefix are not
// valid keys for users ([ValidKey]), do not show in Keys, and count
// against the size limit like any field: [SettingsSize] bytes at most,
// which sessiongen adds to every type's proven worst case.

// ReservedPrefix begins the keys the runtime keeps its per-session
// settings under. No user key may begin with it (see [ValidKey]).
const ReservedPrefix = "$sg"

const (
	// keyPersistent holds the remember-me choice: msgpack true or false.
	keyPersistent = ReservedPrefix + "p"
	// keyDeadline holds the deadline: msgpack int64 Unix nanoseconds.
	keyDeadline = ReservedPrefix + "d"
)

// SettingsSize is the most the settings of [Session.SetPersistent] and
// [Session.SetDeadline] add to a session's size, keys included: 5 bytes
// for the first, 13 for the second.
const SettingsSize = len(keyPersistent) + 1 + len(keyDeadline) + 9

// isReservedKey reports whether k is a key of the runtime's settings.
func isReservedKey(k string) bool { return strings.HasPrefix(k, ReservedPrefix) }

// validSetting reports whether a stored field with a reserved key is one
// the runtime writes: a known key holding a value of its type.
func validSetting(k string, v []byte) bool {
	switch k {
	case keyPersistent:
		return len(v) == 1 && (v[0] == 0xc2 || v[0] == 0xc3)
	case keyDeadline:
		var n int64
		return decodeInto(&n, v) == nil
	}
	return false
}

// SetPersistent chooses, for this session, between a cookie that
// outlives the browser (persistent: it carries the session's expiry, and
// is sent again when the expiry moves) and a browser-session cookie that
// the browser forgets when it closes: a "remember me" checkbox. The
// choice is stored with the session (a field, see [SettingsSize]), so it
// holds on every later request, on every node and across [Session.Renew],
// until changed. Without it the identity's configuration decides
// ([identity.Cookie].Persistent).
//
// The cookie is sent again with this response, so SetPersistent must come
// before the response headers ([ErrHeadersWritten]); it is written like a
// Set (flush mode included) and, on a visitor without a session, creates
// one. On a session from [Manager.Load] the choice is stored and the
// cookie follows on the session's next response that sends it. Identities
// other than cookies ignore it.
func (s *Session) SetPersistent(ctx context.Context, persistent bool) error {
	if s == nil {
		return opError("set persistent", "", ErrNoSession)
	}
	b := []byte{0xc2} // msgpack false
	if persistent {
		b[0] = 0xc3
	}
	return s.applySetting(ctx, "set persistent", Field{Key: keyPersistent, Value: b})
}

// Persistent reports whether the session's cookie outlives the browser:
// the choice of [Session.SetPersistent] (this request's, or the stored
// one), else the identity's configuration (a [identity.Cookie] with
// Persistent; true for other identities, which hand the expiry to the
// client). It is false on a nil *Session and on one from [Manager.Load]
// that has no stored choice.
func (s *Session) Persistent() bool {
	if s == nil {
		return false
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.resolve()
	if p, ok := s.persistentSetting(); ok {
		return p
	}
	return s.ident != nil && keepsExpiry(s.ident)
}

// SetDeadline makes the session end at t at the latest: its expiry moves
// to t now if t is earlier, and the sliding extension never takes it past
// t afterwards. The idle timeout and the absolute lifetime still apply,
// so t can shorten a session but never lengthen it; a later SetDeadline
// replaces t (a later t then lets sliding extend the session up to it,
// within the lifetime). The deadline is stored with the session (a field,
// see [SettingsSize]): every node and [Session.Renew] keep it. A persistent
// cookie is sent again with the shorter expiry.
//
// t must be in the future (else the error wraps [ErrInvalidValue] and
// nothing changes); to end a session now, use [Session.Destroy]. It is
// written like a Set (flush mode included) and, on a visitor without a
// session, creates one. [Session.Expires] reports the result.
func (s *Session) SetDeadline(ctx context.Context, t time.Time) error {
	if s == nil {
		return opError("set deadline", "", ErrNoSession)
	}
	if !t.After(s.m.now()) {
		return opError("set deadline", "", ErrInvalidValue)
	}
	b, err := encode(t.UnixNano())
	if err != nil {
		return opError("set deadline", "", err)
	}
	return s.applySetting(ctx, "set deadline", Field{Key: keyDeadline, Value: b})
}

// applySetting writes the settings field f, refusing it once the
// response headers went out (the cookie could not follow).
func (s *Session) applySetting(ctx context.Context, op string, f Field) error {
	s.mu.Lock()
	late := !s.detached && s.phase.Load() != phaseBefore
	s.mu.Unlock()
	if late {
		return opError(op, "", ErrHeadersWritten)
	}
	if err := s.apply(ctx, op, "", []Field{f}); err != nil {
		return err
	}
	if f.Key == keyPersistent {
		s.mu.Lock()
		if s.id != "" && !s.detached {
			s.writeID = true // the cookie's lifetime changed
		}
		s.mu.Unlock()
	}
	return nil
}

// setting returns the stored bytes of settings key k as this request
// sees them (its pending change first). Called with mu held.
func (s *Session) setting(k string) ([]byte, bool) {
	if v, staged := s.pending[k]; staged {
		return v, v != nil
	}
	if sn := s.current(); sn != nil {
		return sn.fields.get(k)
	}
	return nil, false
}

// persistentSetting returns the session's stored remember-me choice.
// Called with mu held.
func (s *Session) persistentSetting() (persistent, ok bool) {
	b, ok := s.setting(keyPersistent)
	if !ok || len(b) != 1 {
		return false, false
	}
	return b[0] == 0xc3, true
}

// deadlineOf returns the deadline (Unix nanoseconds) stored in fields,
// or false when there is none.
func deadlineOf(fields fieldSet) (int64, bool) {
	b, ok := fields.get(keyDeadline)
	if !ok {
		return 0, false
	}
	var n int64
	if decodeInto(&n, b) != nil {
		return 0, false
	}
	return n, true
}

// capped returns e, or the deadline stored in fields when it is earlier.
func capped(fields fieldSet, e time.Time) time.Time {
	if d, ok := deadlineOf(fields); ok && d < unixNanos(e) {
		return time.Unix(0, d)
	}
	return e
}

// writeCookie sends the session ID to the client with the session's
// expiry and, when the session chose one, its cookie lifetime. Called
// with mu held.
func (s *Session) writeCookie() {
	exp := s.m.expiry(s.e.snap.Load())
	if p, ok := s.persistentSetting(); ok {
		if lw, isLW := s.ident.(identity.LifetimeWriter); isLW {
			lw.WriteLifetime(s.rw, s.r, s.id, exp, p)
			return
		}
	}
	s.ident.Write(s.rw, s.r, s.id, exp)
}

// keepsClientExpiry reports whether the client learns this session's
// expiry, so a moved expiry must be sent again. Called with mu held.
func (s *Session) keepsClientExpiry() bool {
	if p, ok := s.persistentSetting(); ok {
		if _, isLW := s.ident.(identity.LifetimeWriter); isLW {
			return p
		}
	}
	return keepsExpiry(s.ident)
}
