package main

import (
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sessiongen/sessiongen/runtime/store"
	"github.com/sessiongen/sessiongen/runtime/store/memstore"
)

// testLogger returns a logger writing to the test's output.
func testLogger(t *testing.T) *slog.Logger {
	return slog.New(slog.NewTextHandler(t.Output(), nil))
}

// newTestServer serves the app on st (a new memstore when nil) over
// loopback HTTP.
func newTestServer(t *testing.T, st store.Store) *httptest.Server {
	t.Helper()
	_, srv := newTestApp(t, st)
	return srv
}

// newTestApp is newTestServer that also returns the app, whose manager
// lets a test look at a session from outside (a.mgr.Load).
func newTestApp(t *testing.T, st store.Store) (*app, *httptest.Server) {
	t.Helper()
	if st == nil {
		m := memstore.New()
		t.Cleanup(func() { _ = m.Close() })
		st = m
	}
	a, err := newApp(st, testLogger(t))
	require.NoError(t, err)
	t.Cleanup(func() { assert.NoError(t, a.mgr.Close()) })
	srv := httptest.NewServer(a.routes())
	t.Cleanup(srv.Close)
	return a, srv
}

// browser is an HTTP client with a cookie jar that does not follow
// redirects, so tests see the 303s.
type browser struct {
	t    *testing.T
	base string
	c    *http.Client
}

// newBrowser returns a client for the server at base with an empty jar.
func newBrowser(t *testing.T, base string) *browser {
	t.Helper()
	jar, err := cookiejar.New(nil)
	require.NoError(t, err)
	return &browser{t: t, base: base, c: &http.Client{
		Jar: jar,
		CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		},
	}}
}

// response is a finished response with its body read.
type response struct {
	status int
	header http.Header
	body   string
}

// do sends a request and reads the whole response.
func (b *browser) do(method, path string, form url.Values) response {
	b.t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequestWithContext(b.t.Context(), method, b.base+path, body)
	require.NoError(b.t, err)
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	res, err := b.c.Do(req)
	require.NoError(b.t, err)
	defer res.Body.Close()
	data, err := io.ReadAll(res.Body)
	require.NoError(b.t, err)
	return response{status: res.StatusCode, header: res.Header, body: string(data)}
}

// get sends a GET.
func (b *browser) get(path string) response { return b.do(http.MethodGet, path, nil) }

// post sends a form POST.
func (b *browser) post(path string, kv ...string) response {
	b.t.Helper()
	form := url.Values{}
	for i := 0; i+1 < len(kv); i += 2 {
		form.Add(kv[i], kv[i+1])
	}
	return b.do(http.MethodPost, path, form)
}

// login signs in as user and checks the redirect.
func (b *browser) login(user string) {
	b.t.Helper()
	res := b.post("/login", "user", user)
	require.Equal(b.t, http.StatusSeeOther, res.status, res.body)
	require.Equal(b.t, "/", res.header.Get("Location"))
}

// me calls GET /api/me and requires a 200.
func (b *browser) me() meResponse {
	b.t.Helper()
	res := b.get("/api/me")
	require.Equal(b.t, http.StatusOK, res.status, res.body)
	return decode[meResponse](b.t, res)
}

// addItem calls POST /api/cart.
func (b *browser) addItem(item string) response {
	b.t.Helper()
	return b.post("/api/cart", "item", item)
}

// sid returns the session cookie's value in the jar, "" without one.
func (b *browser) sid() string {
	b.t.Helper()
	u, err := url.Parse(b.base)
	require.NoError(b.t, err)
	for _, c := range b.c.Jar.Cookies(u) {
		if c.Name == "sid" {
			return c.Value
		}
	}
	return ""
}

// withSID returns a new client whose jar holds only the session cookie
// value sid.
func (b *browser) withSID(sid string) *browser {
	b.t.Helper()
	nb := newBrowser(b.t, b.base)
	u, err := url.Parse(b.base)
	require.NoError(b.t, err)
	nb.c.Jar.SetCookies(u, []*http.Cookie{{Name: "sid", Value: sid, Path: "/"}})
	return nb
}

// at returns a client for the server at base sharing b's cookie jar (a
// jar keeps cookies per host, not per port: two processes on two ports of
// 127.0.0.1 both get them).
func (b *browser) at(base string) *browser {
	return &browser{t: b.t, base: base, c: b.c}
}

// decode requires a JSON response and decodes its body into a T.
func decode[T any](t *testing.T, res response) T {
	t.Helper()
	require.Equal(t, "application/json; charset=utf-8", res.header.Get("Content-Type"), res.body)
	var v T
	require.NoError(t, json.Unmarshal([]byte(res.body), &v), res.body)
	return v
}

// jsonError requires a JSON error response with status and returns its
// message.
func jsonError(t *testing.T, res response, status int) string {
	t.Helper()
	require.Equal(t, status, res.status, res.body)
	e := decode[errorResponse](t, res)
	require.NotEmpty(t, e.Error, res.body)
	return e.Error
}

// countCurrent returns how many sessions of l are marked current.
func countCurrent(l sessionsResponse) int {
	n := 0
	for _, s := range l.Sessions {
		if s.Current {
			n++
		}
	}
	return n
}
