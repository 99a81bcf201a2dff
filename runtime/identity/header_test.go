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

func TestHeaderDefaults(t *testing.T) {
	id := newID(t)
	for name, h := range map[string]*Header{"zero": {}, "DefaultHeader": DefaultHeader()} {
		t.Run(name, func(t *testing.T) {
			r := req("http://e.com/any")
			assert.True(t, h.Match(r))
			assert.Empty(t, h.Read(r))
			r.Header.Set("X-Session-Token", id)
			assert.Equal(t, id, h.Read(r))

			w := httptest.NewRecorder()
			h.Write(w, r, id, time.Now().Add(time.Hour))
			assert.Equal(t, []string{id}, w.Header().Values("X-Session-Token"))
			assert.Equal(t, []string{"no-store"}, w.Header().Values("Cache-Control"))
			assert.Empty(t, w.Header().Values("Set-Cookie"))
		})
	}
	d := DefaultHeader()
	assert.Equal(t, "X-Session-Token", d.Name)
	assert.Equal(t, "X-Session-Token", d.ResponseName)
	assert.Equal(t, "/", d.Path)
	assert.Empty(t, d.Scheme)
}

func TestHeaderBearer(t *testing.T) {
	id := newID(t)
	h := &Header{Name: "Authorization", Scheme: "Bearer"}
	read := func(v ...string) string {
		r := req("http://e.com/")
		for _, x := range v {
			r.Header.Add("Authorization", x)
		}
		var got string
		require.NotPanics(t, func() { got = h.Read(r) })
		return got
	}
	assert.Equal(t, id, read("Bearer "+id))
	assert.Equal(t, id, read("bearer "+id), "scheme is case-insensitive")
	assert.Equal(t, id, read("BEARER   "+id), "several spaces")
	assert.Equal(t, id, read(" Bearer "+id+" "), "surrounding whitespace")
	assert.Empty(t, read(id), "scheme missing")
	assert.Empty(t, read("Basic "+id), "other scheme")
	assert.Empty(t, read("Bearer"), "no token")
	assert.Empty(t, read("Bearer "), "empty token")
	assert.Empty(t, read("Bearer"+id), "no space")
	assert.Empty(t, read("Bearer "+id, "Bearer "+id), "header twice")
	assert.Empty(t, read("Bearer "+strings.Repeat("A", 8192)), "8KB")
	assert.Empty(t, read("Bearer "+strings.Repeat("é", 21)+"A"), "non-ASCII")
	assert.Empty(t, read("Bearer "+id+" extra"), "trailing junk")

	w := httptest.NewRecorder()
	h.Write(w, req("http://e.com/"), id, time.Time{})
	assert.Equal(t, id, w.Header().Get("X-Session-Token"), "Authorization answers with X-Session-Token")
	assert.Empty(t, w.Header().Values("Authorization"))
}

func TestHeaderFields(t *testing.T) {
	id := newID(t)

	custom := &Header{Name: "x-api-session", ResponseName: "X-New-Session"}
	r := req("http://e.com/")
	r.Header.Set("X-Api-Session", id)
	assert.Equal(t, id, custom.Read(r), "Name is canonicalised")
	w := httptest.NewRecorder()
	custom.Write(w, r, id, time.Time{})
	assert.Equal(t, id, w.Header().Get("X-New-Session"))
	assert.Empty(t, w.Header().Values("X-Api-Session"))

	same := &Header{Name: "X-Token"}
	w = httptest.NewRecorder()
	same.Write(w, r, id, time.Time{})
	assert.Equal(t, id, w.Header().Get("X-Token"), "ResponseName defaults to Name")

	auth := &Header{Name: "authorization"}
	assert.Equal(t, "X-Session-Token", auth.responseName())

	scoped := &Header{Host: ".api.example.com", Path: "/v1"}
	assert.True(t, scoped.Match(req("http://eu.api.example.com:8080/v1/users")))
	assert.True(t, scoped.Match(req("http://API.example.com/v1")))
	assert.False(t, scoped.Match(req("http://api.example.com/v10")))
	assert.False(t, scoped.Match(req("http://example.com/v1")))

	assert.Empty(t, (&Header{}).Read(nil))
}

func TestHeaderSigned(t *testing.T) {
	oldS, err := NewSigner(key('o'))
	require.NoError(t, err)
	s, err := NewSigner(key('n'), key('o'))
	require.NoError(t, err)
	h := &Header{Name: "Authorization", Scheme: "Bearer", Signer: s}
	id := newID(t)

	w := httptest.NewRecorder()
	h.Write(w, req("http://e.com/"), id, time.Time{})
	tok := w.Header().Get("X-Session-Token")
	assert.Equal(t, s.Sign(id), tok)

	read := func(v string) string {
		r := req("http://e.com/")
		r.Header.Set("Authorization", "Bearer "+v)
		return h.Read(r)
	}
	assert.Equal(t, id, read(tok))
	assert.Equal(t, id, read(oldS.Sign(id)), "rotation")
	assert.Empty(t, read(id), "unsigned ID refused")
	assert.Empty(t, read(flip(tok, SignedLen-1)), "forged")
}

func TestHeaderWriteAndClear(t *testing.T) {
	id := newID(t)
	h := &Header{}
	w := httptest.NewRecorder()
	w.Header().Set("Cache-Control", "no-store")
	h.Write(w, req("http://e.com/"), id, time.Time{})
	h.Write(w, req("http://e.com/"), id, time.Time{})
	assert.Equal(t, []string{id}, w.Header().Values("X-Session-Token"), "set, not added")
	assert.Equal(t, []string{"no-store"}, w.Header().Values("Cache-Control"), "not duplicated")

	h.Clear(w, req("http://e.com/"))
	assert.Equal(t, []string{""}, w.Header().Values("X-Session-Token"))

	w = httptest.NewRecorder()
	h.Write(w, req("http://e.com/"), "not-an-id", time.Time{})
	assert.Empty(t, w.Header().Values("X-Session-Token"))

	// The empty header really goes out on the wire.
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h.Clear(w, r)
	}))
	defer srv.Close()
	res, err := http.Get(srv.URL)
	require.NoError(t, err)
	require.NoError(t, res.Body.Close())
	vs, present := res.Header["X-Session-Token"]
	assert.True(t, present, "header present")
	assert.Equal(t, []string{""}, vs)
	assert.Equal(t, "no-store", res.Header.Get("Cache-Control"))
}

func TestHeaderValidate(t *testing.T) {
	for _, h := range []*Header{{}, DefaultHeader(), {Name: "Authorization", Scheme: "Bearer"}, {Host: "a.com"}} {
		assert.NoError(t, h.Validate(), "%+v", h)
	}
	for _, h := range []*Header{
		{Name: "X Token"},
		{Name: "X:Token"},
		{ResponseName: "bad name"},
		{Name: "Authorization", Scheme: "Bear er"},
		{Host: "."},
	} {
		assert.True(t, errors.Is(h.Validate(), ErrInvalid), "%+v", h)
	}
}

func TestHeaderReadAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("allocation counts are not meaningful under -race (sync.Pool drops items)")
	}
	s, err := NewSigner(key('a'))
	require.NoError(t, err)
	id := newID(t)
	h := &Header{Name: "Authorization", Scheme: "Bearer", Signer: s}
	r := req("http://e.com/")
	r.Header.Set("Authorization", "Bearer "+s.Sign(id))
	allocs := testing.AllocsPerRun(200, func() {
		if h.Read(r) != id {
			t.Fatal("wrong ID")
		}
	})
	assert.Zero(t, allocs)
}
