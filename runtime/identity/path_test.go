package identity

import (
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestURIPath(t *testing.T) {
	cases := []struct {
		uri, path string
		ok        bool
	}{
		{"", "", false},
		{"*", "", false},
		{"example.com:443", "", false}, // authority-form (CONNECT)
		{"/", "/", true},
		{"/app/x", "/app/x", true},
		{"/app/x?q=1&r=/b", "/app/x", true},
		{"/app/x#frag", "/app/x", true},
		{"/a%20b/c%2Fd", "/a%20b/c%2Fd", true}, // escaped, as the browser sent it
		{"//app/x", "//app/x", true},
		{"http://example.com/app/x?q", "/app/x", true},
		{"https://user@example.com:8443/app/", "/app/", true},
		{"http://example.com", "/", true},
		{"http://example.com?q=/app", "/", true},
		{"http://[::1]:80/app", "/app", true},
		{"a/b://c", "", false},
		{"://x/y", "", false},
	}
	for _, c := range cases {
		p, ok := uriPath(c.uri)
		assert.Equal(t, c.ok, ok, "uriPath(%q)", c.uri)
		assert.Equal(t, c.path, p, "uriPath(%q)", c.uri)
	}
}

func TestRequestPath(t *testing.T) {
	// Received by a server (httptest.NewRequest sets RequestURI as a
	// server does), then rewritten the way http.StripPrefix rewrites it.
	r := httptest.NewRequest(http.MethodGet, "/app/x?q=1", nil)
	require.Equal(t, "/app/x?q=1", r.RequestURI)
	r.URL.Path = "/x"
	assert.Equal(t, "/app/x", requestPath(r), "RequestURI wins over a rewritten URL")

	abs := httptest.NewRequest(http.MethodGet, "http://example.com/app/x", nil)
	abs.URL.Path = "/x"
	assert.Equal(t, "/app/x", requestPath(abs), "absolute-form RequestURI")

	// Built in the program: no RequestURI, the URL is all there is.
	built, err := http.NewRequest(http.MethodGet, "http://example.com/app/x", nil)
	require.NoError(t, err)
	require.Empty(t, built.RequestURI)
	assert.Equal(t, "/app/x", requestPath(built))
	built.URL.Path = "/x"
	assert.Equal(t, "/x", requestPath(built), "fallback: URL.Path")

	built.URL.Path, built.URL.RawPath = "/a/b", "/a%2Fb"
	assert.Equal(t, "/a%2Fb", requestPath(built), "fallback: RawPath when it encodes Path")
	built.URL.Path, built.URL.RawPath = "/a b", ""
	assert.Equal(t, "/a%20b", requestPath(built), "fallback: Path escaped as a client sends it")
	built.URL.Path = ""
	assert.Equal(t, "/", requestPath(built), "no path at all")

	star := httptest.NewRequest(http.MethodOptions, "*", nil)
	assert.Equal(t, "*", requestPath(star), `"*": the URL's path`)
	assert.True(t, (&Cookie{}).Match(star))
	assert.False(t, (&Cookie{Path: "/app"}).Match(star))

	connect := &http.Request{Method: http.MethodConnect, RequestURI: "example.com:443", URL: &url.URL{Host: "example.com:443"}}
	assert.Equal(t, "/", requestPath(connect), "authority-form: no path")

	assert.Equal(t, "/", requestPath(&http.Request{}), "neither RequestURI nor URL")
}

func TestRequestPathAllocs(t *testing.T) {
	r := httptest.NewRequest(http.MethodGet, "http://example.com/app/x?q=1", nil)
	r.URL.Path = "/x"
	built, err := http.NewRequest(http.MethodGet, "http://example.com/app/x", nil)
	require.NoError(t, err)
	c := &Cookie{Path: "/app"}
	allocs := testing.AllocsPerRun(100, func() {
		if !c.Match(r) || !c.Match(built) {
			t.Fatal("no match")
		}
	})
	assert.Zero(t, allocs)
}

// mounted is a handler mounted under /app by its caller: it selects an
// identity among ids, and on /login (as it sees the path) writes a new
// session ID, on /me reports whether it reads back the ID it wrote.
type mounted struct {
	ids []Identity
	mu  sync.Mutex
	id  string
}

func (m *mounted) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	ident := Select(m.ids, r)
	if ident == nil {
		http.Error(w, "no identity", http.StatusNotFound)
		return
	}
	name := "header"
	if c, ok := ident.(*Cookie); ok {
		name = c.name()
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	switch r.URL.Path {
	case "/login":
		id, err := NewID()
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		m.id = id
		ident.Write(w, r, id, time.Time{})
		_, _ = io.WriteString(w, name+" wrote")
	case "/me":
		got := ident.Read(r)
		_, _ = io.WriteString(w, name+" read "+map[bool]string{true: "same", false: "none"}[got != "" && got == m.id])
	default:
		http.NotFound(w, r)
	}
}

// TestStripPrefixRecorder: a handler mounted with http.StripPrefix("/app",
// ...) sees r.URL.Path "/login"; a Cookie with Path "/app" still serves
// it, sets Path=/app and reads the cookie back.
func TestStripPrefixRecorder(t *testing.T) {
	app := &Cookie{Name: "app", Path: "/app"}
	root := &Cookie{Name: "root"}
	var seen string
	inner := &mounted{ids: []Identity{app, root}}
	h := http.StripPrefix("/app", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		seen = r.URL.Path
		assert.Same(t, app, Select(inner.ids, r), "Select picks the /app cookie under StripPrefix")
		inner.ServeHTTP(w, r)
	}))

	w := httptest.NewRecorder()
	h.ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/app/login", nil))
	assert.Equal(t, "/login", seen, "StripPrefix rewrote URL.Path")
	assert.Equal(t, "app wrote", w.Body.String())
	cookies := w.Result().Cookies()
	require.Len(t, cookies, 1)
	assert.Equal(t, "app", cookies[0].Name)
	assert.Equal(t, "/app", cookies[0].Path, "set where the browser sends it back")

	next := httptest.NewRequest(http.MethodGet, "/app/me", nil)
	next.AddCookie(cookies[0])
	w = httptest.NewRecorder()
	h.ServeHTTP(w, next)
	assert.Equal(t, "app read same", w.Body.String())
}

// TestStripPrefixServer runs a real server (so RequestURI is what the
// client sent) with a cookie jar that applies the browser's path rules:
// a ServeMux mounts a sub-mux under "/app/" with StripPrefix, and a
// header identity under "/api/".
func TestStripPrefixServer(t *testing.T) {
	app := &Cookie{Name: "app", Path: "/app"}
	api := &Header{Path: "/api"}
	root := &Cookie{Name: "root"}
	inner := &mounted{ids: []Identity{app, api, root}}

	sub := http.NewServeMux()
	sub.Handle("GET /login", inner)
	sub.Handle("GET /me", inner)
	mux := http.NewServeMux()
	mux.Handle("GET /app/", http.StripPrefix("/app", sub))
	mux.Handle("/api/", http.StripPrefix("/api", inner))
	mux.Handle("/", inner)
	srv := httptest.NewServer(mux)
	defer srv.Close()

	jar, err := cookiejar.New(nil)
	require.NoError(t, err)
	client := &http.Client{Jar: jar}
	get := func(path string, hdr ...string) (string, *http.Response) {
		t.Helper()
		rq, err := http.NewRequest(http.MethodGet, srv.URL+path, nil)
		require.NoError(t, err)
		for i := 0; i+1 < len(hdr); i += 2 {
			rq.Header.Set(hdr[i], hdr[i+1])
		}
		res, err := client.Do(rq)
		require.NoError(t, err)
		defer res.Body.Close()
		b, err := io.ReadAll(res.Body)
		require.NoError(t, err)
		return string(b), res
	}

	body, res := get("/app/login")
	assert.Equal(t, "app wrote", body)
	lines := res.Header.Values("Set-Cookie")
	require.Len(t, lines, 1)
	assert.True(t, strings.HasPrefix(lines[0], "app="), lines[0])
	assert.Contains(t, lines[0], "; Path=/app;")

	u, err := url.Parse(srv.URL + "/app/me")
	require.NoError(t, err)
	require.Len(t, jar.Cookies(u), 1, "the jar sends the cookie back to /app/...")
	body, _ = get("/app/me")
	assert.Equal(t, "app read same", body)

	u.Path = "/me"
	assert.Empty(t, jar.Cookies(u), "and nowhere else")
	body, _ = get("/me")
	assert.Equal(t, "root read none", body, "outside /app the catch-all cookie serves")

	// The header identity under StripPrefix("/api").
	body, res = get("/api/login")
	assert.Equal(t, "header wrote", body)
	token := res.Header.Get(DefaultHeaderName)
	require.True(t, ValidID(token))
	body, _ = get("/api/me", DefaultHeaderName, token)
	assert.Equal(t, "header read same", body)
}

// TestMatchBuiltRequest: a request built in the program (RequestURI
// empty) is matched on its URL.
func TestMatchBuiltRequest(t *testing.T) {
	app := &Cookie{Path: "/app"}
	api := &Header{Path: "/api"}
	ids := []Identity{app, api}

	r, err := http.NewRequest(http.MethodGet, "http://example.com/app/x", nil)
	require.NoError(t, err)
	assert.Same(t, app, Select(ids, r))
	r, err = http.NewRequest(http.MethodGet, "http://example.com/api/v1", nil)
	require.NoError(t, err)
	assert.Same(t, api, Select(ids, r))
	r, err = http.NewRequest(http.MethodGet, "http://example.com/x", nil)
	require.NoError(t, err)
	assert.Nil(t, Select(ids, r))
}
