package session

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"

	"github.com/sessiongen/sessiongen/runtime/codec"
)

// maxUndecodableKeys bounds the keys a manager remembers having reported
// as undecodable; past it, each further key is reported every time.
const maxUndecodableKeys = 4096

// undecodableKeys remembers the keys whose values a manager has reported
// as undecodable, so that each is reported once per process rather than
// once per request.
type undecodableKeys struct {
	seen sync.Map // key -> struct{}
	n    atomic.Int64
}

// first reports whether key is reported for the first time, and notes it.
func (u *undecodableKeys) first(key string) bool {
	if _, ok := u.seen.Load(key); ok {
		return false
	}
	if u.n.Load() >= maxUndecodableKeys {
		return true
	}
	if _, loaded := u.seen.LoadOrStore(key, struct{}{}); loaded {
		return false
	}
	u.n.Add(1)
	return true
}

// ReportUndecodable reports that the value b stored under key does not
// decode as want (a Go type, for the message), err being the decoder's
// error: a value written by an older or newer build whose field had
// another type. The caller treats the key as absent, and the next write
// of the key replaces the value. The report goes to the manager's error
// reporting (see [Session.Report]), wraps [ErrDecode], names the key, the
// msgpack type stored and want, and is made once per key and manager,
// not once per request. Generated getters call it.
func (s *Session) ReportUndecodable(ctx context.Context, key, want string, b []byte, err error) {
	if s == nil || s.m == nil {
		return
	}
	if !s.m.undecodable.first(key) {
		return
	}
	s.m.reportError(ctx, fmt.Errorf("session: the value under key %q is a msgpack %s that does not decode as %s; the key reads as absent until it is written again (reported once per key): %w: %w",
		key, codec.TypeName(b), want, ErrDecode, err))
}
