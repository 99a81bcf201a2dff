package grpcsession

import (
	"errors"
	"fmt"
	"log/slog"
	"strings"

	session "github.com/sessiongen/sessiongen/runtime"
	"github.com/sessiongen/sessiongen/runtime/identity"
)

// DefaultMetadataKey is the metadata key that carries the session token
// unless [WithMetadataKey] names another.
const DefaultMetadataKey = "session-token"

// Option configures the interceptors and [WithToken].
type Option func(*config)

// config holds the settings options change.
type config struct {
	m        *session.Manager
	key      string           // metadata key, lower case
	scheme   string           // required scheme before the token, "" for none
	signer   *identity.Signer // verifies signed tokens; nil: bare IDs
	required bool             // a missing token fails the call
	log      *slog.Logger     // nil: slog.Default at the time of the call
}

// WithMetadataKey sets the metadata key that carries the token. Keys are
// case-insensitive (gRPC sends them in lower case); a key must be 1 or
// more of the characters 0-9 a-z - _ . and may neither start with
// "grpc-" (reserved) nor end with "-bin" (binary values). Default
// [DefaultMetadataKey]. For bearer tokens use "authorization" with
// [WithScheme]("Bearer").
func WithMetadataKey(key string) Option {
	return func(c *config) { c.key = strings.ToLower(key) }
}

// WithScheme sets the authentication scheme that must precede the token
// in the metadata value: with "Bearer" the value is "Bearer <token>" (the
// scheme compared case-insensitively, one or more spaces after it), as
// [identity.Header.Scheme] reads it. A value with another scheme is not
// this package's token: the call is treated as one without a token (so
// other credentials may share the key). Default "": the whole value is
// the token.
func WithScheme(scheme string) Option {
	return func(c *config) { c.scheme = scheme }
}

// WithSigner makes tokens signed ones, as an [identity.Header] or
// [identity.Cookie] with the same Signer hands them out: a token that
// does not verify fails with codes.Unauthenticated before any cache or
// engine lookup. Default nil: the token is the bare session ID.
func WithSigner(s *identity.Signer) Option {
	return func(c *config) { c.signer = s }
}

// Required makes a call without a token fail with codes.Unauthenticated
// instead of running its handler without a session. Default: not
// required.
func Required() Option {
	return func(c *config) { c.required = true }
}

// WithLogger sets the logger for engine failures (one line each, with the
// method and the error; never the token). Default nil: [slog.Default] at
// the time of the log call.
func WithLogger(l *slog.Logger) Option {
	return func(c *config) { c.log = l }
}

// newConfig applies opts for an interceptor of manager m and panics on
// an invalid configuration.
func newConfig(m *session.Manager, opts []Option) *config {
	if m == nil {
		panic(errors.New("grpcsession: nil *session.Manager"))
	}
	c := options(opts)
	c.m = m
	return c
}

// options applies opts and panics on an invalid configuration.
func options(opts []Option) *config {
	c := &config{key: DefaultMetadataKey}
	for _, o := range opts {
		if o != nil {
			o(c)
		}
	}
	if err := validKey(c.key); err != nil {
		panic(err)
	}
	if strings.ContainsAny(c.scheme, " \t") {
		panic(fmt.Errorf("grpcsession: WithScheme(%q): the scheme must not hold spaces", c.scheme))
	}
	return c
}

// validKey reports why key cannot carry the token, or nil.
func validKey(key string) error {
	switch {
	case key == "":
		return errors.New("grpcsession: WithMetadataKey: the key is empty")
	case strings.HasPrefix(key, "grpc-"):
		return fmt.Errorf("grpcsession: WithMetadataKey(%q): keys starting with \"grpc-\" are reserved", key)
	case strings.HasSuffix(key, "-bin"):
		return fmt.Errorf("grpcsession: WithMetadataKey(%q): keys ending in \"-bin\" carry binary values", key)
	}
	for i := 0; i < len(key); i++ {
		c := key[i]
		if !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-' || c == '_' || c == '.') {
			return fmt.Errorf("grpcsession: WithMetadataKey(%q): only 0-9, a-z and the characters \"-_.\" may appear in a key", key)
		}
	}
	return nil
}

// logger returns the logger for engine failures.
func (c *config) logger() *slog.Logger {
	if c.log != nil {
		return c.log
	}
	return slog.Default()
}
