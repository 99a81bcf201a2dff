package session

import (
	"strconv"
	"time"
)

// Status says what the current request did to its session.
type Status int

const (
	// StatusUnchanged: the request changed nothing (it may have read the
	// session, or have none).
	StatusUnchanged Status = iota
	// StatusNew: the request created the session (its first write; under
	// OnResponse the engine gets it with the response).
	StatusNew
	// StatusModified: the request changed an existing session: a write
	// (staged under OnResponse or sent), an update or a renewal.
	StatusModified
	// StatusDestroyed: the request destroyed its session (Destroy), and
	// wrote nothing after that.
	StatusDestroyed
)

// String returns the status's name: "unchanged", "new", "modified" or
// "destroyed".
func (st Status) String() string {
	switch st {
	case StatusUnchanged:
		return "unchanged"
	case StatusNew:
		return "new"
	case StatusModified:
		return "modified"
	case StatusDestroyed:
		return "destroyed"
	}
	return "Status(" + strconv.Itoa(int(st)) + ")"
}

// Status returns what the request did to its session so far: the last
// of creating it, changing it and destroying it (a write after Destroy
// creates a new session: StatusNew). The session's expiry moving on a read
// (sliding expiry) does not count. A nil *Session is StatusUnchanged.
func (s *Session) Status() Status {
	if s == nil {
		return StatusUnchanged
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.status
}

// modified records a change of an existing session. Called with mu held.
func (s *Session) modified() {
	if s.status != StatusNew {
		s.status = StatusModified
	}
}

// Created returns when the session was first written to the engine
// (renewals keep it). It is the zero time while the request has no
// session in the engine: none yet, a new one not written yet under
// OnResponse, after Destroy, or when it could not be loaded.
func (s *Session) Created() time.Time {
	created, _ := s.times()
	return created
}

// Expires returns when the engine lets the session expire: the earlier
// of the last extension plus the idle timeout and the creation plus the
// lifetime (WithIdleTimeout, WithLifetime), as last written. Sliding
// expiry moves it forward only once a quarter of the idle window has
// passed, so a session may last longer than Expires says, never
// shorter. It is the zero time when Created is.
func (s *Session) Expires() time.Time {
	_, expires := s.times()
	return expires
}

// times returns the creation and expiry of the session in the engine.
func (s *Session) times() (created, expires time.Time) {
	if s == nil {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.resolve()
	sn := s.current()
	if sn == nil || s.err != nil {
		return
	}
	return time.Unix(0, sn.created), time.Unix(0, sn.expires)
}
