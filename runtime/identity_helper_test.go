package session

import (
	"net/http"
	"strings"
	"time"

	"github.com/sessiongen/sessiongen/runtime/identity"
)

// identityForPath is a cookie identity that serves only paths under
// prefix, for tests of identity selection.
type identityForPath struct {
	prefix string
	identity.Cookie
}

func (i *identityForPath) Match(r *http.Request) bool {
	return strings.HasPrefix(r.URL.Path, i.prefix)
}

func (i *identityForPath) Read(r *http.Request) string { return i.Cookie.Read(r) }

func (i *identityForPath) Write(w http.ResponseWriter, r *http.Request, id string, exp time.Time) {
	i.Cookie.Write(w, r, id, exp)
}

func (i *identityForPath) Clear(w http.ResponseWriter, r *http.Request) { i.Cookie.Clear(w, r) }
