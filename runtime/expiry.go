package session

import "time"

// Expiry.
//
// A session has two deadlines: the idle deadline (last use + idle
// timeout, sliding) and the absolute one (creation + lifetime). The engine
// holds Expires = min(idle deadline, absolute deadline) and may forget the
// session after it, but the manager does not rely on the engine: it
// checks both deadlines itself whenever a request first uses a session
// (from the cache or freshly loaded), whatever the engine does.
//
// Sliding the idle deadline costs an engine write, so it is throttled: a
// use moves the deadline only when that gains at least a quarter of the
// idle timeout, i.e. when a quarter of the window has passed since the
// last extension. A busy session then costs one engine write per quarter
// window instead of one per request, and the price is small and bounded:
// a session always survives at least 3/4 of the idle timeout of
// inactivity, and never more than the whole timeout. The extension goes
// with the request's other changes (one engine call) when there are any.
//
// A snapshot keeps its times in Unix nanoseconds (wall clock), as the
// engine does.

// touchFraction is the part of the idle window that must pass before a
// use extends the session in the engine.
const touchFraction = 4

// deadline returns when a session created at created whose engine
// expiry is expires (both in Unix nanoseconds) expires under the
// manager's current settings.
func (m *Manager) deadline(created, expires int64) int64 {
	return min(expires, addNanos(created, m.lifetime))
}

// expiry returns when s expires under the manager's current settings.
func (m *Manager) expiry(s *snapshot) time.Time {
	return time.Unix(0, m.deadline(s.created, s.expires))
}

// live reports whether s is a session that has not expired at now.
func (m *Manager) live(s *snapshot, now time.Time) bool {
	return !s.gone() && unixNanos(now) < m.deadline(s.created, s.expires)
}

// expiresAt returns the expiry of a session created at created (Unix
// nanoseconds) and used at now: min(now + idle timeout, created +
// lifetime).
func (m *Manager) expiresAt(created int64, now time.Time) time.Time {
	e := now.Add(m.idle)
	abs := addNanos(created, m.lifetime)
	switch n := unixNanos(now); {
	case abs >= unixNanos(e):
		return e
	case abs > n:
		return now.Add(time.Duration(abs - n)) // on now's clock, as e
	default:
		return time.Unix(0, abs)
	}
}

// touchDue returns the new expiry for a use of s at now, or the zero time
// when the extension is not due yet (it would gain less than a quarter of
// the idle timeout).
func (m *Manager) touchDue(s *snapshot, now time.Time) time.Time {
	e := m.expiresAt(s.created, now)
	if unixNanos(e)-s.expires < int64(m.idle/touchFraction) {
		return time.Time{}
	}
	// Due: the session's deadline (SetDeadline), if any, caps it.
	if e = capped(s.fields, e); unixNanos(e) <= s.expires {
		return time.Time{}
	}
	return e
}
