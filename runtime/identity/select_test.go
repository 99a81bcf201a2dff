package identity

import (
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestMatchPath(t *testing.T) {
	cases := []struct {
		prefix, path string
		want         bool
	}{
		{"", "/anything", true},
		{"/", "/", true},
		{"/", "/a/b", true},
		{"/", "", true},
		{"/x", "/x", true},
		{"/x", "/x/", true},
		{"/x", "/x/y/z", true},
		{"/x", "/xy", false},
		{"/x", "/", false},
		{"/x", "", false},
		{"/x", "/X", false}, // case-sensitive
		{"/x", "/y/x", false},
		{"/x/", "/x/", true},
		{"/x/", "/x/y", true},
		{"/x/", "/x", false},
		{"/my/path", "/my/path/deeper", true},
		{"/my/path", "/my/pathological", false},
		{"/my/path", "/my", false},
	}
	for _, c := range cases {
		assert.Equal(t, c.want, MatchPath(c.prefix, c.path), "MatchPath(%q, %q)", c.prefix, c.path)
	}
}

func TestMatchHost(t *testing.T) {
	cases := []struct {
		pattern, host string
		want          bool
	}{
		{"", "", true},
		{"", "anything.example", true},
		{"a.com", "a.com", true},
		{"a.com", "A.COM", true},
		{"A.com", "a.Com", true},
		{"a.com", "a.com:8080", true},
		{"a.com", "a.com.", true},
		{"a.com", "a.com.:443", true},
		{"a.com.", "a.com", true},
		{"a.com", "b.a.com", false},
		{"a.com", "ba.com", false},
		{"a.com", "a.co", false},
		{"a.com", "", false},
		{"a.com", ":8080", false},
		{".a.com", "a.com", true},
		{".a.com", "b.a.com", true},
		{".a.com", "c.b.A.com:80", true},
		{".a.com", "ba.com", false},
		{".a.com", ".a.com", false},
		{".a.com", "a.com.evil", false},
		{".", "a.com", false},
		{"127.0.0.1", "127.0.0.1:8080", true},
		{"::1", "[::1]:8080", true},
		{"[::1]", "[::1]", true},
		{"::1", "[::1", false},
		{"localhost", "LOCALHOST:3000", true},
	}
	for _, c := range cases {
		assert.Equal(t, c.want, MatchHost(c.pattern, c.host), "MatchHost(%q, %q)", c.pattern, c.host)
	}
}

func req(target string) *http.Request {
	return httptest.NewRequest(http.MethodGet, target, nil)
}

func TestMatchRequestHostFallback(t *testing.T) {
	r := req("http://a.com/x")
	r.Host = ""
	c := &Cookie{Host: "a.com"}
	assert.True(t, c.Match(r), "falls back to r.URL.Host")
	r.URL.Host = ""
	assert.False(t, c.Match(r), "no host at all: no match when Host is set")
	assert.True(t, (&Cookie{}).Match(r), "empty Host matches a request without host")
	assert.False(t, c.Match(nil))
	assert.Nil(t, Select([]Identity{c}, nil))
}

// TestSelect mirrors the seed's setup: a cookie for a.com on /my/path and a
// cookie on /x for any host, plus a header identity for an API path.
func TestSelect(t *testing.T) {
	aCom := &Cookie{Name: "sid", Path: "/my/path", Host: "a.com", ForceSecure: true}
	sub := &Cookie{Name: "sub", Host: ".b.com"}
	x := &Cookie{Name: "sid", Path: "/x"}
	api := &Header{Path: "/api"}
	ids := []Identity{nil, aCom, sub, x, api}

	cases := []struct {
		target string
		want   Identity
	}{
		{"http://a.com/my/path", aCom},
		{"http://A.com:8080/my/path/deeper", aCom},
		{"http://a.com/my/pathology", nil},
		{"http://a.com/x/1", x},
		{"http://b.com/x", sub}, // first match wins: sub serves every path of b.com
		{"http://www.b.com/anything", sub},
		{"http://c.com/x", x},
		{"http://c.com/xy", nil},
		{"http://c.com/api/v1/users", api},
		{"http://a.com/api", api},
		{"http://c.com/", nil},
	}
	for _, c := range cases {
		got := Select(ids, req(c.target))
		if c.want == nil {
			assert.Nil(t, got, "Select for %s", c.target)
			continue
		}
		assert.Same(t, c.want, got, "Select for %s", c.target)
	}

	// Order decides: a catch-all first hides everything after it.
	all := &Cookie{}
	assert.Same(t, all, Select([]Identity{all, aCom}, req("http://a.com/my/path")))
	assert.Same(t, aCom, Select([]Identity{aCom, all}, req("http://a.com/my/path")))
	assert.Nil(t, Select(nil, req("http://a.com/")))
}

// TestSelectEndToEnd writes with the selected identity and reads it back.
func TestSelectEndToEnd(t *testing.T) {
	a := &Cookie{Name: "a", Host: "a.com"}
	b := &Header{Host: "b.com"}
	ids := []Identity{a, b}
	id := newID(t)

	for _, host := range []string{"a.com", "b.com"} {
		r := req("http://" + host + "/")
		chosen := Select(ids, r)
		require.NotNil(t, chosen)
		w := httptest.NewRecorder()
		chosen.Write(w, r, id, time.Time{})

		next := req("http://" + host + "/")
		for _, c := range w.Result().Cookies() {
			next.AddCookie(c)
		}
		if v := w.Header().Get("X-Session-Token"); v != "" {
			next.Header.Set("X-Session-Token", v)
		}
		assert.Equal(t, id, Select(ids, next).Read(next), host)
	}
}
