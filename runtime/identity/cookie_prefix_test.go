package identity

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestCookieHostPrefix: a "__Host-" cookie is always written Secure, with
// Path=/ and no Domain, whatever is configured, so it is never one the
// browser rejects; Validate refuses the contradicting configuration.
func TestCookieHostPrefix(t *testing.T) {
	id := newID(t)
	plain := req("http://example.com/app/x")
	cases := []struct {
		name string
		c    *Cookie
		want string
	}{
		{"plain HTTP still Secure", &Cookie{Name: "__Host-sid"},
			"__Host-sid=" + id + "; Path=/; HttpOnly; Secure; SameSite=Lax"},
		{"Path dropped", &Cookie{Name: "__Host-sid", Path: "/app"},
			"__Host-sid=" + id + "; Path=/; HttpOnly; Secure; SameSite=Lax"},
		{"Domain dropped", &Cookie{Name: "__Host-sid", Domain: "example.com"},
			"__Host-sid=" + id + "; Path=/; HttpOnly; Secure; SameSite=Lax"},
		{"both dropped, other attributes kept", &Cookie{Name: "__Host-sid", Path: "/app/", Domain: ".example.com",
			SameSite: http.SameSiteStrictMode, AllowScript: true, Partitioned: true},
			"__Host-sid=" + id + "; Path=/; Secure; SameSite=Strict; Partitioned"},
		{"prefix is case-insensitive", &Cookie{Name: "__HOST-sid", Path: "/app", Domain: "example.com"},
			"__HOST-sid=" + id + "; Path=/; HttpOnly; Secure; SameSite=Lax"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			w := httptest.NewRecorder()
			c.c.Write(w, plain, id, time.Time{})
			assert.Equal(t, []string{c.want}, w.Header().Values("Set-Cookie"))
			cookies := w.Result().Cookies()
			require.Len(t, cookies, 1)
			hc := cookies[0]
			assert.True(t, hc.Secure)
			assert.Equal(t, "/", hc.Path)
			assert.Empty(t, hc.Domain)

			// Written twice: replaced, not duplicated. Cleared: same
			// Path and Domain as written, so the browser drops it.
			c.c.Write(w, plain, id, time.Time{})
			c.c.Clear(w, plain)
			lines := w.Header().Values("Set-Cookie")
			require.Len(t, lines, 1, "Write and Clear replace the cookie they set")
			cleared, err := http.ParseSetCookie(lines[0])
			require.NoError(t, err)
			assert.Empty(t, cleared.Value)
			assert.Negative(t, cleared.MaxAge)
			assert.Equal(t, "/", cleared.Path)
			assert.Empty(t, cleared.Domain)
			assert.True(t, cleared.Secure)
		})
	}

	// Validate refuses what Write would silently drop, with a message
	// that says what to change.
	for _, c := range []*Cookie{
		{Name: "__Host-sid", Path: "/app"},
		{Name: "__Host-sid", Domain: "example.com"},
		{Name: "__host-sid", Path: "/app"},
	} {
		err := c.Validate()
		require.Error(t, err, "%+v", c)
		assert.True(t, errors.Is(err, ErrInvalid))
		assert.Contains(t, err.Error(), `__Host- cookie is only accepted by browsers with Path "/" and no Domain`)
	}
	for _, c := range []*Cookie{
		{Name: "__Host-sid"},
		{Name: "__Host-sid", Path: "/"},
		{Name: "__Host-sid", Host: "example.com", SameSite: http.SameSiteNoneMode, Partitioned: true},
	} {
		assert.NoError(t, c.Validate(), "%+v", c)
	}

	// Round trip over TLS.
	c := &Cookie{Name: "__Host-sid"}
	w := httptest.NewRecorder()
	c.Write(w, req("https://example.com/"), id, time.Time{})
	next := req("https://example.com/deep/page")
	next.AddCookie(w.Result().Cookies()[0])
	assert.Equal(t, id, c.Read(next))
}

// TestCookieSecurePrefix: a "__Secure-" cookie is always Secure and keeps
// its Path and Domain.
func TestCookieSecurePrefix(t *testing.T) {
	id := newID(t)
	for _, name := range []string{"__Secure-sid", "__secure-sid", "__SECURE-sid"} {
		c := &Cookie{Name: name, Path: "/app", Domain: "example.com"}
		require.NoError(t, c.Validate())
		w := httptest.NewRecorder()
		c.Write(w, req("http://example.com/app/x"), id, time.Time{})
		assert.Equal(t, []string{name + "=" + id + "; Path=/app; Domain=example.com; HttpOnly; Secure; SameSite=Lax"},
			w.Header().Values("Set-Cookie"))

		w = httptest.NewRecorder()
		c.Clear(w, nil)
		line := w.Header().Get("Set-Cookie")
		assert.True(t, strings.HasPrefix(line, name+"=; Path=/app; Domain=example.com; "), line)
		assert.Contains(t, line, "; Secure")
	}
	// Not a prefix: the name only contains it, or lacks the dash.
	for _, name := range []string{"x__Secure-sid", "__Secure", "__Hostsid"} {
		w := httptest.NewRecorder()
		(&Cookie{Name: name}).Write(w, req("http://example.com/"), id, time.Time{})
		assert.NotContains(t, w.Header().Get("Set-Cookie"), "; Secure", name)
	}
}
