package identity

import (
	"fmt"
	"net/http"
	"strings"
	"time"
)

// DefaultHeaderName is the header used when [Header.Name] is empty, and
// the response header when Name is Authorization.
const DefaultHeaderName = "X-Session-Token"

// Header is an [Identity] that carries the session ID in a request header,
// for API clients that keep the token themselves: a custom header
// (X-Session-Token, the default) or "Authorization: Bearer <token>".
// The server hands out the token in a response header (ResponseName).
//
// The zero value reads and writes X-Session-Token on every host and path.
// For bearer tokens:
//
//	&identity.Header{Name: "Authorization", Scheme: "Bearer"}
//
// reads "Authorization: Bearer <token>" and answers with
// "X-Session-Token: <token>".
//
// Do not change a Header's fields once it is in use; it is then safe for
// concurrent use. Use a pointer (*Header implements [Identity]).
type Header struct {
	// Name is the request header that carries the token. Default
	// "X-Session-Token". A canonical name (as [http.CanonicalHeaderKey]
	// gives) saves an allocation per request.
	Name string

	// Scheme, when set, is the authentication scheme that must precede
	// the token: with "Bearer" the value must be "Bearer <token>" (the
	// scheme compared case-insensitively, one or more spaces after it).
	// Default "": the whole value is the token.
	Scheme string

	// ResponseName is the response header Write and Clear set. Default:
	// Name, except when Name is Authorization (a request-only header):
	// then "X-Session-Token".
	ResponseName string

	// Host selects the requests this identity serves, as [Cookie.Host]
	// (see [MatchHost]). Default "" (every host).
	Host string

	// Path is the path prefix this identity serves (see [MatchPath]),
	// as the client requested it: matched against the path of
	// r.RequestURI, not the r.URL.Path a handler such as
	// http.StripPrefix rewrites (see [Header.Match]). Default "/" (every
	// path).
	Path string

	// Signer, when set, signs the token Write hands out and Read refuses
	// any value that does not verify. Default nil: the token is the bare
	// ID.
	Signer *Signer
}

// DefaultHeader returns a Header with every default written out: request
// and response header X-Session-Token, no scheme, path "/". It behaves
// exactly like &Header{}.
func DefaultHeader() *Header {
	return &Header{Name: DefaultHeaderName, ResponseName: DefaultHeaderName, Path: "/"}
}

func (h *Header) name() string {
	if h.Name == "" {
		return DefaultHeaderName
	}
	return http.CanonicalHeaderKey(h.Name)
}

func (h *Header) responseName() string {
	if h.ResponseName != "" {
		return h.ResponseName
	}
	n := h.name()
	if n == "Authorization" {
		return DefaultHeaderName
	}
	return n
}

// Match reports whether h serves r: the request host matches Host and the
// path the client requested lies under Path. As with [Cookie.Match], the
// path comes from r.RequestURI (so http.StripPrefix does not change the
// answer), falling back to r.URL when RequestURI is empty.
func (h *Header) Match(r *http.Request) bool {
	return matchRequest(r, h.Host, h.Path)
}

// Read returns the session ID in the request header Name, or "" when the
// header is absent, appears more than once, lacks the Scheme, or its token
// is not a valid ID (with a Signer: does not verify). Read never panics.
func (h *Header) Read(r *http.Request) string {
	if r == nil {
		return ""
	}
	vs := r.Header[h.name()]
	if len(vs) != 1 {
		return ""
	}
	v := trimOWS(vs[0])
	if h.Scheme != "" {
		scheme, rest, ok := strings.Cut(v, " ")
		if !ok || !strings.EqualFold(scheme, h.Scheme) {
			return ""
		}
		v = strings.TrimLeft(rest, " ")
	}
	if h.Signer != nil {
		id, _ := h.Signer.Verify(v)
		return id
	}
	if ValidID(v) {
		return v
	}
	return ""
}

// Write sets the response header ResponseName to the token for id
// (signed when Signer is set; without Scheme) and adds
// `Cache-Control: no-store`. expires is not sent: the client keeps the
// token until Clear or until the server stops accepting it. An id that is
// not a valid ID (see [ValidID]) is not written.
func (h *Header) Write(w http.ResponseWriter, r *http.Request, id string, expires time.Time) {
	if !ValidID(id) {
		return
	}
	v := id
	if h.Signer != nil {
		if v = h.Signer.Sign(id); v == "" {
			return
		}
	}
	hd := w.Header()
	hd.Set(h.responseName(), v)
	addListToken(hd, "Cache-Control", "no-store")
}

// Clear sets the response header ResponseName to an empty value and adds
// `Cache-Control: no-store`. A client that receives the header with an
// empty value must discard its stored token.
func (h *Header) Clear(w http.ResponseWriter, r *http.Request) {
	hd := w.Header()
	hd.Set(h.responseName(), "")
	addListToken(hd, "Cache-Control", "no-store")
}

// Validate reports a configuration that cannot work, wrapping
// [ErrInvalid]: a Name, ResponseName or Scheme that is not an HTTP token.
func (h *Header) Validate() error {
	if !isToken(h.name()) {
		return fmt.Errorf("identity: header %q: %w: name is not an HTTP token", h.Name, ErrInvalid)
	}
	if !isToken(h.responseName()) {
		return fmt.Errorf("identity: header %q: %w: response name %q is not an HTTP token", h.Name, ErrInvalid, h.ResponseName)
	}
	if h.Scheme != "" && !isToken(h.Scheme) {
		return fmt.Errorf("identity: header %q: %w: scheme %q is not an HTTP token", h.Name, ErrInvalid, h.Scheme)
	}
	if h.Host != "" && (strings.Trim(h.Host, ".") == "" || strings.ContainsAny(h.Host, "/ \t")) {
		return fmt.Errorf("identity: header %q: %w: Host %q is not a host name", h.Name, ErrInvalid, h.Host)
	}
	return nil
}
