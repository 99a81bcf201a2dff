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

// written returns the Set-Cookie lines and parsed cookies of a recorder.
func written(t *testing.T, w *httptest.ResponseRecorder) ([]string, []*http.Cookie) {
	t.Helper()
	res := w.Result()
	return res.Header.Values("Set-Cookie"), res.Cookies()
}

func writeCookie(t *testing.T, c *Cookie, r *http.Request, id string, expires time.Time) (*httptest.ResponseRecorder, *http.Cookie) {
	t.Helper()
	w := httptest.NewRecorder()
	c.Write(w, r, id, expires)
	lines, cookies := written(t, w)
	require.Len(t, lines, 1, "exactly one Set-Cookie")
	require.Len(t, cookies, 1)
	return w, cookies[0]
}

func TestCookieDefaults(t *testing.T) {
	id := newID(t)
	for name, c := range map[string]*Cookie{"zero": {}, "DefaultCookie": DefaultCookie()} {
		t.Run(name, func(t *testing.T) {
			w, hc := writeCookie(t, c, req("http://example.com/"), id, time.Now().Add(time.Hour))
			assert.Equal(t, "sid="+id+"; Path=/; HttpOnly; SameSite=Lax", w.Header().Get("Set-Cookie"))
			assert.Equal(t, "sid", hc.Name)
			assert.Equal(t, id, hc.Value)
			assert.Equal(t, "/", hc.Path)
			assert.Empty(t, hc.Domain)
			assert.True(t, hc.HttpOnly)
			assert.False(t, hc.Secure, "plain HTTP: not Secure")
			assert.Equal(t, http.SameSiteLaxMode, hc.SameSite)
			assert.False(t, hc.Partitioned)
			assert.Zero(t, hc.MaxAge, "browser-session cookie")
			assert.True(t, hc.Expires.IsZero(), "browser-session cookie")
			assert.True(t, c.Match(req("http://any.host/any/path")))
		})
	}
	d := DefaultCookie()
	assert.Equal(t, "sid", d.Name)
	assert.Equal(t, "/", d.Path)
	assert.Equal(t, http.SameSiteLaxMode, d.SameSite)
	assert.False(t, d.AllowScript)
}

func TestCookieFields(t *testing.T) {
	id := newID(t)
	plain := req("http://example.com/app/x")
	cases := []struct {
		name string
		c    *Cookie
		r    *http.Request
		want string
	}{
		{"Name", &Cookie{Name: "session"}, plain, "session=" + id + "; Path=/; HttpOnly; SameSite=Lax"},
		{"Path", &Cookie{Path: "/app"}, plain, "sid=" + id + "; Path=/app; HttpOnly; SameSite=Lax"},
		{"Domain", &Cookie{Domain: "example.com"}, plain, "sid=" + id + "; Path=/; Domain=example.com; HttpOnly; SameSite=Lax"},
		{"ForceSecure", &Cookie{ForceSecure: true}, plain, "sid=" + id + "; Path=/; HttpOnly; Secure; SameSite=Lax"},
		{"TLS", &Cookie{}, req("https://example.com/"), "sid=" + id + "; Path=/; HttpOnly; Secure; SameSite=Lax"},
		{"AllowScript", &Cookie{AllowScript: true}, plain, "sid=" + id + "; Path=/; SameSite=Lax"},
		{"SameSite Strict", &Cookie{SameSite: http.SameSiteStrictMode}, plain, "sid=" + id + "; Path=/; HttpOnly; SameSite=Strict"},
		{"SameSite None implies Secure", &Cookie{SameSite: http.SameSiteNoneMode}, plain, "sid=" + id + "; Path=/; HttpOnly; Secure; SameSite=None"},
		{"SameSite Default omits", &Cookie{SameSite: http.SameSiteDefaultMode}, plain, "sid=" + id + "; Path=/; HttpOnly"},
		{"Partitioned implies Secure", &Cookie{Partitioned: true}, plain, "sid=" + id + "; Path=/; HttpOnly; Secure; SameSite=Lax; Partitioned"},
		{"__Secure- prefix", &Cookie{Name: "__Secure-sid"}, plain, "__Secure-sid=" + id + "; Path=/; HttpOnly; Secure; SameSite=Lax"},
		{"__Host- prefix", &Cookie{Name: "__Host-sid"}, plain, "__Host-sid=" + id + "; Path=/; HttpOnly; Secure; SameSite=Lax"},
		{"nil request", &Cookie{}, nil, "sid=" + id + "; Path=/; HttpOnly; SameSite=Lax"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			w := httptest.NewRecorder()
			c.c.Write(w, c.r, id, time.Time{})
			assert.Equal(t, []string{c.want}, w.Header().Values("Set-Cookie"))
			cookies := w.Result().Cookies()
			require.Len(t, cookies, 1, "the line parses back")
			assert.Equal(t, id, cookies[0].Value)
		})
	}
}

func TestCookiePartitionedParsed(t *testing.T) {
	_, hc := writeCookie(t, &Cookie{Partitioned: true}, req("https://example.com/"), newID(t), time.Time{})
	assert.True(t, hc.Partitioned)
	assert.True(t, hc.Secure)
}

func TestCookieMatch(t *testing.T) {
	c := &Cookie{Host: ".example.com", Path: "/app"}
	assert.True(t, c.Match(req("http://example.com/app")))
	assert.True(t, c.Match(req("http://WWW.Example.com:8443/app/page")))
	assert.False(t, c.Match(req("http://example.com/apple")))
	assert.False(t, c.Match(req("http://example.org/app")))
	assert.False(t, c.Match(req("http://notexample.com/app")))

	exact := &Cookie{Host: "example.com"}
	assert.True(t, exact.Match(req("http://EXAMPLE.COM:80/")))
	assert.False(t, exact.Match(req("http://www.example.com/")))
}

func TestCookiePersistent(t *testing.T) {
	id := newID(t)
	expires := time.Now().Add(time.Hour)

	_, hc := writeCookie(t, &Cookie{Persistent: true}, req("http://e.com/"), id, expires)
	assert.InDelta(t, 3600, hc.MaxAge, 1)
	assert.Equal(t, expires.UTC().Truncate(time.Second), hc.Expires.UTC())

	_, hc = writeCookie(t, &Cookie{}, req("http://e.com/"), id, expires)
	assert.Zero(t, hc.MaxAge, "not Persistent: browser-session cookie")
	assert.True(t, hc.Expires.IsZero())

	_, hc = writeCookie(t, &Cookie{Persistent: true}, req("http://e.com/"), id, time.Time{})
	assert.Zero(t, hc.MaxAge, "no expiry: browser-session cookie")
	assert.True(t, hc.Expires.IsZero())

	_, hc = writeCookie(t, &Cookie{Persistent: true}, req("http://e.com/"), id, time.Now().Add(-time.Minute))
	assert.Negative(t, hc.MaxAge, "already expired: the browser drops it")

	_, hc = writeCookie(t, &Cookie{Persistent: true}, req("http://e.com/"), id, time.Now().Add(1500*time.Millisecond))
	assert.InDelta(t, 2, hc.MaxAge, 1, "rounded up, never 0")
	assert.Positive(t, hc.MaxAge)
}

func TestCookieCacheHeaders(t *testing.T) {
	id := newID(t)
	c := &Cookie{}

	w := httptest.NewRecorder()
	c.Write(w, req("http://e.com/"), id, time.Time{})
	c.Write(w, req("http://e.com/"), id, time.Time{})
	c.Clear(w, req("http://e.com/"))
	assert.Equal(t, []string{`no-cache="Set-Cookie"`}, w.Header().Values("Cache-Control"))
	assert.Equal(t, []string{"Cookie"}, w.Header().Values("Vary"))

	w = httptest.NewRecorder()
	w.Header().Set("Cache-Control", "public, max-age=60")
	w.Header().Set("Vary", "Accept-Encoding, cookie")
	c.Write(w, req("http://e.com/"), id, time.Time{})
	assert.Equal(t, []string{"public, max-age=60", `no-cache="Set-Cookie"`}, w.Header().Values("Cache-Control"))
	assert.Equal(t, []string{"Accept-Encoding, cookie"}, w.Header().Values("Vary"), "Cookie already listed")

	w = httptest.NewRecorder()
	w.Header().Set("Vary", "*")
	c.Write(w, req("http://e.com/"), id, time.Time{})
	assert.Equal(t, []string{"*"}, w.Header().Values("Vary"))
}

func TestCookieWriteReplaces(t *testing.T) {
	c := &Cookie{Domain: "e.com"}
	id1, id2 := newID(t), newID(t)
	w := httptest.NewRecorder()
	http.SetCookie(w, &http.Cookie{Name: "theme", Value: "dark"})
	http.SetCookie(w, &http.Cookie{Name: "sid", Value: "other", Path: "/elsewhere"})
	c.Write(w, req("http://e.com/"), id1, time.Time{})
	c.Write(w, req("http://e.com/"), id2, time.Time{})
	lines := w.Header().Values("Set-Cookie")
	require.Len(t, lines, 3)
	assert.Equal(t, "theme=dark", lines[0])
	assert.Equal(t, "sid=other; Path=/elsewhere", lines[1], "another path is another cookie")
	assert.Equal(t, "sid="+id2+"; Path=/; Domain=e.com; HttpOnly; SameSite=Lax", lines[2])

	c.Clear(w, req("http://e.com/"))
	lines = w.Header().Values("Set-Cookie")
	require.Len(t, lines, 3)
	assert.True(t, strings.HasPrefix(lines[2], "sid=; Path=/; Domain=e.com; Expires="), lines[2])
}

func TestCookieWriteInvalidID(t *testing.T) {
	for _, id := range []string{"", "short", strings.Repeat("A", 8192), strings.Repeat("é", 22)} {
		w := httptest.NewRecorder()
		(&Cookie{}).Write(w, req("http://e.com/"), id, time.Time{})
		assert.Empty(t, w.Header().Values("Set-Cookie"))
		assert.Empty(t, w.Header().Values("Vary"))
	}
}

func TestCookieClear(t *testing.T) {
	c := &Cookie{Name: "s", Path: "/app", Domain: "example.com", Partitioned: true, SameSite: http.SameSiteStrictMode}
	w := httptest.NewRecorder()
	c.Clear(w, req("http://example.com/app"))
	lines, cookies := written(t, w)
	require.Len(t, lines, 1)
	assert.Equal(t, "s=; Path=/app; Domain=example.com; Expires=Thu, 01 Jan 1970 00:00:00 GMT; Max-Age=0; HttpOnly; Secure; SameSite=Strict; Partitioned", lines[0])
	require.Len(t, cookies, 1)
	hc := cookies[0]
	assert.Empty(t, hc.Value)
	assert.Negative(t, hc.MaxAge)
	assert.True(t, hc.Partitioned, "a partitioned cookie is only cleared with Partitioned")
	assert.Equal(t, []string{`no-cache="Set-Cookie"`}, w.Header().Values("Cache-Control"))
	assert.Equal(t, []string{"Cookie"}, w.Header().Values("Vary"))
}

func TestCookieRead(t *testing.T) {
	id, id2 := newID(t), newID(t)
	c := &Cookie{}
	read := func(cookieLines ...string) string {
		r := req("http://e.com/")
		for _, l := range cookieLines {
			r.Header.Add("Cookie", l)
		}
		var got string
		require.NotPanics(t, func() { got = c.Read(r) })
		return got
	}
	assert.Equal(t, id, read("sid="+id))
	assert.Equal(t, id, read("a=1; sid="+id+"; b=2"))
	assert.Equal(t, id, read("a=1;sid="+id))
	assert.Equal(t, id, read("a=1", "sid="+id), "second Cookie line")
	assert.Equal(t, id, read(`sid="`+id+`"`), "quoted value")
	assert.Equal(t, id, read("sidx=nope; xsid=nope; sid="+id), "names must match exactly")
	assert.Equal(t, id, read("sid="+id+"; sid="+id2), "first cookie wins")
	assert.Equal(t, id, read("sid=garbage; sid="+id), "a malformed cookie before the real one is skipped (see TestCookieReadPlanted)")

	bad := map[string]string{
		"no header":     "",
		"other cookie":  "theme=dark",
		"empty":         "sid=",
		"no value":      "sid",
		"malformed":     "sid=not-an-id",
		"truncated":     "sid=" + id[:IDLen-1],
		"too long":      "sid=" + id + "A",
		"8KB":           "sid=" + strings.Repeat("A", 8192),
		"non-ASCII":     "sid=" + strings.Repeat("é", 21) + "A",
		"non-canonical": "sid=" + id[:IDLen-1] + "B",
		"space inside":  "sid=" + id[:10] + " " + id[11:],
		"half quoted":   `sid="` + id,
		"signed token":  "sid=" + id + ".AAAAAAAAAAAAAAAAAAAAAA",
		"NUL":           "sid=" + id[:IDLen-1] + "\x00",
	}
	for name, line := range bad {
		var lines []string
		if line != "" {
			lines = []string{line}
		}
		assert.Empty(t, read(lines...), name)
	}
	assert.Empty(t, c.Read(nil))
}

func TestCookieSigned(t *testing.T) {
	oldKey, err := NewSigner(key('o'))
	require.NoError(t, err)
	s, err := NewSigner(key('n'), key('o'))
	require.NoError(t, err)
	c := &Cookie{Signer: s}
	id := newID(t)

	_, hc := writeCookie(t, c, req("http://e.com/"), id, time.Time{})
	assert.Equal(t, s.Sign(id), hc.Value)
	assert.Len(t, hc.Value, SignedLen)

	read := func(v string) string {
		r := req("http://e.com/")
		r.Header.Set("Cookie", "sid="+v)
		return c.Read(r)
	}
	assert.Equal(t, id, read(hc.Value))
	assert.Equal(t, id, read(oldKey.Sign(id)), "rotation: old key verifies")
	assert.Empty(t, read(id), "bare ID refused when signing is on")
	other, err := NewSigner(key('x'))
	require.NoError(t, err)
	assert.Empty(t, read(other.Sign(id)), "forged")
	assert.Empty(t, read(hc.Value[:SignedLen-1]), "truncated")
	assert.Empty(t, read(newID(t)+hc.Value[IDLen:]), "tag of another ID")
	assert.Empty(t, read(strings.Repeat("A", 8192)), "8KB")
	assert.Empty(t, read(strings.Repeat("ü", SignedLen/2)), "non-ASCII")
	assert.Empty(t, read(""), "empty")
}

func TestCookieReadAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("allocation counts are not meaningful under -race (sync.Pool drops items)")
	}
	s, err := NewSigner(key('a'))
	require.NoError(t, err)
	id := newID(t)
	plain, signed := &Cookie{}, &Cookie{Signer: s}
	rp, rs := req("http://e.com/"), req("http://e.com/")
	rp.Header.Set("Cookie", "theme=dark; sid="+id)
	rs.Header.Set("Cookie", "theme=dark; sid="+s.Sign(id))
	allocs := testing.AllocsPerRun(200, func() {
		if plain.Read(rp) != id || signed.Read(rs) != id {
			t.Fatal("wrong ID")
		}
	})
	assert.Zero(t, allocs)
}

func TestCookieValidate(t *testing.T) {
	valid := []*Cookie{
		{},
		DefaultCookie(),
		{Name: "__Host-sid"},
		{Name: "__Secure-sid", Domain: "example.com", Path: "/app"},
		{Partitioned: true},
		{Host: ".example.com", SameSite: http.SameSiteNoneMode},
	}
	for _, c := range valid {
		assert.NoError(t, c.Validate(), "%+v", c)
	}
	invalid := []*Cookie{
		{Name: "bad name"},
		{Name: "bad;name"},
		{Name: "sïd"},
		{Path: "/a;b"},
		{Domain: "exa mple.com"},
		{Name: "__Host-sid", Domain: "example.com"},
		{Name: "__Host-sid", Path: "/app"},
		{SameSite: http.SameSite(9)},
		{Host: "."},
		{Host: "example.com/path"},
	}
	for _, c := range invalid {
		err := c.Validate()
		assert.True(t, errors.Is(err, ErrInvalid), "%+v: %v", c, err)
	}
}

func FuzzCookieRead(f *testing.F) {
	s, err := NewSigner(key('a'), key('b'))
	require.NoError(f, err)
	id, err := NewID()
	require.NoError(f, err)
	tok := s.Sign(id)
	for _, seed := range []string{
		"", "sid=", "sid=" + id, "sid=" + tok, `sid="` + id + `"`, "a=b; sid=" + id,
		"sid=" + strings.Repeat("A", 8192), "sid=" + strings.Repeat("é", 30), ";;;", "sid=\"",
		"sid=" + id + "; sid=" + tok,
	} {
		f.Add(seed)
	}
	plain, signed := &Cookie{}, &Cookie{Signer: s}
	f.Fuzz(func(t *testing.T, header string) {
		r := &http.Request{Header: http.Header{"Cookie": {header}}}
		got := plain.Read(r)
		if got != "" && (!ValidID(got) || !strings.Contains(header, got)) {
			t.Fatalf("plain Read(%q) = %q", header, got)
		}
		got = signed.Read(r)
		if got != "" && (!ValidID(got) || !strings.Contains(header, s.Sign(got))) {
			t.Fatalf("signed Read(%q) = %q", header, got)
		}
	})
}

func BenchmarkCookieRead(b *testing.B) {
	s, err := NewSigner(key('a'))
	require.NoError(b, err)
	id := newID(b)
	for _, bc := range []struct {
		name  string
		c     *Cookie
		value string
	}{
		{"plain", &Cookie{}, id},
		{"signed", &Cookie{Signer: s}, s.Sign(id)},
	} {
		b.Run(bc.name, func(b *testing.B) {
			r := httptest.NewRequest(http.MethodGet, "http://example.com/", nil)
			r.Header.Set("Cookie", "theme=dark; lang=en; sid="+bc.value)
			b.ReportAllocs()
			for b.Loop() {
				if bc.c.Read(r) != id {
					b.Fatal("wrong ID")
				}
			}
		})
	}
}

func BenchmarkCookieWrite(b *testing.B) {
	id := newID(b)
	c := &Cookie{}
	r := httptest.NewRequest(http.MethodGet, "http://example.com/", nil)
	b.ReportAllocs()
	for b.Loop() {
		w := httptest.NewRecorder()
		c.Write(w, r, id, time.Time{})
	}
}
