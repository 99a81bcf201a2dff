// Package identity carries session IDs between client and server: a
// cookie ([Cookie]) or a request header ([Header]), with optional HMAC
// signing ([Signer]).
//
// Session IDs are 32 random bytes in unpadded base64url ([NewID],
// [ValidID]). Several identities can serve one manager; [Select] picks the
// first whose host and path match ([MatchHost], [MatchPath]). The path
// matched is the one the client requested (the path of r.RequestURI), so
// identities keep working under http.StripPrefix and sub-routers that
// rewrite r.URL.Path. [Cookie] and
// [Header] also have a Validate method that reports a configuration which
// cannot work; a manager may call it (through an interface assertion) when
// it is built.
package identity

import (
	"net/http"
	"time"
)

// Identity reads a session ID from a request and writes or clears it on a
// response. Several identities can serve one manager; the first whose
// Match reports true handles a request. Implementations are safe for
// concurrent use and never log an ID.
type Identity interface {
	// Match reports whether this identity serves r (by host and path).
	Match(r *http.Request) bool
	// Read returns the session ID r carries, or "" when it carries none
	// or the value is malformed or fails verification. A returned ID is
	// always a well-formed ID (see [ValidID]).
	Read(r *http.Request) string
	// Write sends id to the client. expires is when the session ends;
	// identities that persist on the client may use it.
	Write(w http.ResponseWriter, r *http.Request, id string, expires time.Time)
	// Clear tells the client to forget its session ID.
	Clear(w http.ResponseWriter, r *http.Request)
}

// LifetimeWriter is implemented by identities whose client-side lifetime
// can be chosen per session ([Cookie]): a persistent cookie that carries
// the session's expiry, or a browser-session cookie. The session manager
// uses it for sessions whose lifetime was chosen (remember me) and Write
// for the others.
type LifetimeWriter interface {
	// WriteLifetime is Identity.Write with the lifetime chosen:
	// persistent or for the browser session only.
	WriteLifetime(w http.ResponseWriter, r *http.Request, id string, expires time.Time, persistent bool)
}
