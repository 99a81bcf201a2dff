package session

import (
	"errors"
	"fmt"
	"unicode/utf8"

	"github.com/sessiongen/sessiongen/runtime/store"
)

// Errors returned by the package, wrapped with the operation and the key
// (never the session ID). Test them with [errors.Is].
var (
	// ErrTooLarge reports a change that would make the session's encoded
	// size (keys plus msgpack values) exceed the manager's limit. Nothing
	// was changed, in the cache or in the engine. The engine enforces the
	// limit too, atomically with the change, so sessions written by
	// several processes at once never pass it either. It is
	// [store.ErrTooLarge].
	ErrTooLarge = store.ErrTooLarge

	// ErrConflict reports a compare-and-set ([Update], [Session.UpdateRaw])
	// that kept meeting concurrent changes of its key and gave up after
	// [MaxUpdateTries] tries. Nothing was changed. It is
	// [store.ErrConflict].
	ErrConflict = store.ErrConflict

	// ErrNotFound reports a session that no longer exists: it was
	// destroyed, renewed or expired while the request used it. It is
	// [store.ErrNotFound], so engine errors match it too.
	ErrNotFound = store.ErrNotFound

	// ErrNoSession reports a request without a session: [FromContext]
	// found no middleware (a nil *Session), or no identity of the manager
	// serves the request's host and path.
	ErrNoSession = errors.New("no session")

	// ErrDecode reports stored bytes that do not decode into the type
	// asked for (or a narrow integer out of its range). The error names
	// the key and the Go type; the value is never silently zero.
	ErrDecode = errors.New("cannot decode value")

	// ErrEncode reports a value msgpack cannot encode (a channel, a
	// function, ...). The error names the key and the Go type.
	ErrEncode = errors.New("cannot encode value")

	// ErrInvalidKey reports a key that is empty, longer than [MaxKeyLen]
	// bytes, not valid UTF-8, holding a control character or beginning
	// with [ReservedPrefix].
	ErrInvalidKey = errors.New(`invalid key (want 1 to 128 bytes of valid UTF-8, no control characters, not beginning with "$sg")`)

	// ErrInvalidValue reports encoded bytes given to [Session.SetRaw] or
	// [Session.SetRawFields] that are not exactly one msgpack value.
	ErrInvalidValue = errors.New("invalid encoded value (want exactly one msgpack value)")

	// ErrHeadersWritten reports a change that needs to send the session
	// ID to the client (a new session, [Session.Renew]) after the response
	// headers went out. Nothing was changed.
	ErrHeadersWritten = errors.New("response headers already written")

	// ErrUnsupported reports an operation the storage engine cannot do:
	// [Manager.Sessions], [Manager.RevokeAll] and [Manager.RevokeOthers]
	// need an engine with an owner index (store.OwnerIndex). It wraps
	// [errors.ErrUnsupported].
	ErrUnsupported = fmt.Errorf("not supported by the storage engine: %w", errors.ErrUnsupported)

	// ErrNoOwnerKey reports an owner operation on a manager without an
	// owner key (see [WithOwnerKey]).
	ErrNoOwnerKey = errors.New("no owner key configured (WithOwnerKey)")

	// ErrNoOwner reports an empty owner given to [Manager.Sessions] or
	// [Manager.RevokeAll], or a session without an owner given to
	// [Manager.RevokeOthers].
	ErrNoOwner = errors.New("no owner")

	// ErrInvalidOwner reports a value of the owner key (see
	// [WithOwnerKey]) that cannot name an owner: it must be a string
	// (valid UTF-8, no NUL byte) or an integer. Nothing was changed.
	ErrInvalidOwner = errors.New("invalid owner value (want a string or an integer)")

	// ErrInvalidHandle reports a string given to [Manager.Revoke] that is
	// not a session handle (43 base64url characters).
	ErrInvalidHandle = errors.New("invalid session handle")
)

// sizeError reports a change over the size limit with the figures: how
// large the session would be and the limit. It wraps ErrTooLarge.
type sizeError struct{ size, limit int }

func (e *sizeError) Error() string {
	return fmt.Sprintf("%v: it would be %d bytes, the limit is %d", ErrTooLarge, e.size, e.limit)
}

func (e *sizeError) Unwrap() error { return ErrTooLarge }

// errEncode reports a value v that msgpack could not encode.
func errEncode(v any, err error) error {
	return fmt.Errorf("%w of type %T: %w", ErrEncode, v, err)
}

// MaxKeyLen is the longest key, in bytes.
const MaxKeyLen = 128

// errNoIdentity is returned when no identity of the manager serves the
// request.
var errNoIdentity = fmt.Errorf("%w: no identity serves this request's host and path", ErrNoSession)

// errDiscarded is returned by writes of a handler whose response the error
// handler replaced.
var errDiscarded = errors.New("session: response replaced by the error handler")

// ValidKey reports whether key is a valid session key: 1 to [MaxKeyLen]
// bytes of valid UTF-8 without control characters (no byte below 0x20, no
// 0x7f), as the store contract promises engines, and not beginning with
// [ReservedPrefix] ("$sg"), which the runtime keeps its per-session
// settings under. The generator checks struct tags with it.
func ValidKey(key string) bool {
	if len(key) == 0 || len(key) > MaxKeyLen {
		return false
	}
	for i := 0; i < len(key); i++ {
		if c := key[i]; c < 0x20 || c == 0x7f {
			return false
		}
	}
	return utf8.ValidString(key) && !isReservedKey(key)
}

// quoteKey formats key for an error message, shortened when very long.
func quoteKey(key string) string {
	const show = 40
	if len(key) > show {
		return fmt.Sprintf("%q... (%d bytes)", key[:show], len(key))
	}
	return fmt.Sprintf("%q", key)
}

// opError wraps err with the operation and, when not empty, the key.
func opError(op, key string, err error) error {
	if key == "" {
		return fmt.Errorf("session: %s: %w", op, err)
	}
	return fmt.Errorf("session: %s %s: %w", op, quoteKey(key), err)
}
