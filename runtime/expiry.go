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

// touchFraction is the part of the idle window that must pass before a
// use extends the session in the engine.
const touchFraction = 4

// deadline returns when s expires under the manager's current settings.
func (m *Manager) deadline(s *snapshot) time.Time {
	d := s.expires
	if abs := s.created.Add(m.lifetime); abs.Before(d) {
		d = abs
	}
	return d
}

// live reports whether s is a session that has not expired at now.
func (m *Manager) live(s *snapshot, now time.Time) bool {
	return !s.gone && now.Before(m.deadline(s))
}

// expiresAt returns the expiry of a session created at created and used
// at now: min(now + idle timeout, created + lifetime).
func (m *Manager) expiresAt(created, now time.Time) time.Time {
	e := now.Add(m.idle)
	if abs := created.Add(m.lifetime); abs.Before(e) {
		e = abs
	}
	return e
}

// touchDue returns the new expiry for a use of s at now, or the zero time
// when the extension is not due yet (it would gain less than a quarter of
// the idle timeout).
func (m *Manager) touchDue(s *snapshot, now time.Time) time.Time {
	e := m.expiresAt(s.created, now)
	if e.Sub(s.expires) < m.idle/touchFraction {
		return time.Time{}
	}
	return e
}
