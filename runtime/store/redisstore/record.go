package redisstore

import (
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/redis/go-redis/v9"

	"github.com/sessiongen/sessiongen/runtime/store"
)

// How the Store reads a session hash. The Lua scripts (luaLib in
// scripts.go) apply the same rules, so Load, Version, Update and Move
// agree on which records are live, gone or corrupt.

// status is what a session hash's metadata says of it.
type status int

const (
	statusLive    status = iota // live: Load returns it
	statusGone                  // expired, or frozen by a Move: ErrNotFound
	statusCorrupt               // metadata the Store cannot read: ErrCorrupt
)

// meta is the metadata of one session hash, as read by [parseMeta].
type meta struct {
	created, expires int64 // Unix ms
	version          uint64
}

// parseMeta reads a session's metadata through get (a lookup in the
// hash's fields) at now (Unix ms). The expiry is read first: a record
// whose expiry is garbage, missing or not positive is corrupt, one whose
// expiry has passed is gone whatever else it holds; then a creation time
// or version that is garbage or missing makes it corrupt, and a Move's
// mark (fieldMoving) makes it gone. why says what is wrong with a corrupt
// record.
func parseMeta(get func(name string) (string, bool), now int64) (m meta, st status, why string) {
	e, ok := get(fieldExpires)
	if !ok {
		return m, statusCorrupt, "no expiry"
	}
	if m.expires, ok = parseMillis(e); !ok || m.expires <= 0 {
		return m, statusCorrupt, "bad expiry"
	}
	if m.expires <= now {
		return m, statusGone, ""
	}
	c, ok := get(fieldCreated)
	if !ok {
		return m, statusCorrupt, "no creation time"
	}
	if m.created, ok = parseMillis(c); !ok {
		return m, statusCorrupt, "bad creation time"
	}
	v, ok := get(fieldVersion)
	if !ok {
		return m, statusCorrupt, "no version"
	}
	if m.version, ok = parseVersion(v); !ok {
		return m, statusCorrupt, "bad version"
	}
	if _, moving := get(fieldMoving); moving {
		return m, statusGone, ""
	}
	return m, statusLive, ""
}

// corruptErr reports the corrupt session under key in operation op.
func corruptErr(op, key, why string) error {
	return fmt.Errorf("redisstore: %s: %w: session %s: %s", op, store.ErrCorrupt, key, why)
}

// isWrongType reports whether err is Redis refusing a command on a key
// of another type (a session key that holds a string or a list).
func isWrongType(err error) bool {
	return redis.HasErrorPrefix(err, "WRONGTYPE")
}

// validField reports whether k is a session field name: 1 or more bytes
// of valid UTF-8 without control characters (no byte below 0x20, no
// 0x7f), as package store defines field keys. Metadata names, which
// start with 0xff, are never valid. A hash field whose name is not valid
// (planted from outside) is left out of the loaded record, of the size
// the limit counts and of a moved record; luaLib's valid is the same
// test.
func validField(k string) bool {
	if k == "" || !utf8.ValidString(k) {
		return false
	}
	for i := 0; i < len(k); i++ {
		if k[i] < 0x20 || k[i] == 0x7f {
			return false
		}
	}
	return true
}

// checkField refuses field keys that are not valid (see [validField]):
// the manager never sends them, and they could collide with the
// metadata.
func checkField(k string) error {
	if !validField(k) {
		return fmt.Errorf("%w: field key is empty, not valid UTF-8 or holds a control character", store.ErrInvalid)
	}
	return nil
}

// parseMillis parses a Unix millisecond time as the Store writes it: an
// optional '-' and 1 to 15 decimal digits (Lua numbers hold that exactly).
func parseMillis(v string) (int64, bool) {
	neg := strings.HasPrefix(v, "-")
	if neg {
		v = v[1:]
	}
	n, ok := parseDigits(v, 15)
	if neg {
		n = -n
	}
	return n, ok
}

// parseVersion parses a version: 1 to 18 decimal digits (so that one
// more still fits in an int64).
func parseVersion(v string) (uint64, bool) {
	n, ok := parseDigits(v, 18)
	return uint64(n), ok
}

// parseDigits parses 1 to max decimal digits (max at most 18).
func parseDigits(v string, max int) (int64, bool) {
	if v == "" || len(v) > max {
		return 0, false
	}
	var n int64
	for i := 0; i < len(v); i++ {
		c := v[i]
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int64(c-'0')
	}
	return n, true
}
