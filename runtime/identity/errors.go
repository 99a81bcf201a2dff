package identity

import "errors"

// Errors, checked with errors.Is; the returned errors wrap them with the
// operation and the detail.
var (
	// ErrNoKey is returned by [NewSigner] when no key is given.
	ErrNoKey = errors.New("identity: no signing key")
	// ErrShortKey is returned by [NewSigner] for a key shorter than
	// [MinKeyLen] bytes.
	ErrShortKey = errors.New("identity: signing key too short")
	// ErrInvalid is returned by [Cookie.Validate] and [Header.Validate]
	// for a configuration that cannot work (a name that is not an HTTP
	// token, a "__Host-" cookie with a Domain, ...).
	ErrInvalid = errors.New("identity: invalid configuration")
)
