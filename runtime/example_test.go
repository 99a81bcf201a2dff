package session_test

import (
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"strings"

	session "github.com/sessiongen/sessiongen/runtime"
	"github.com/sessiongen/sessiongen/runtime/identity"
	"github.com/sessiongen/sessiongen/runtime/store/memstore"
)

// visits counts a client's requests in its session.
func visits(w http.ResponseWriter, r *http.Request) {
	s := session.FromContext(r.Context())
	n, _, err := session.Value[int](s, "visits")
	if err != nil {
		http.Error(w, "session unavailable", http.StatusInternalServerError)
		return
	}
	if err := s.Set(r.Context(), "visits", n+1); err != nil {
		http.Error(w, "session unavailable", http.StatusInternalServerError)
		return
	}
	fmt.Fprintf(w, "visit %d", n+1)
}

// get sends a request with the given cookies to h and returns the body
// and the cookies the response sets.
func get(h http.Handler, cookies []*http.Cookie) (string, []*http.Cookie) {
	req := httptest.NewRequest(http.MethodGet, "/", nil)
	for _, c := range cookies {
		req.AddCookie(c)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	body, _ := io.ReadAll(rec.Body)
	return string(body), rec.Result().Cookies()
}

// The untyped quick start: a manager with the defaults (memory engine,
// a cookie named "sid"), its middleware, and a handler that reads and
// writes one value.
func Example() {
	m, err := session.New()
	if err != nil {
		log.Fatal(err)
	}
	h := m.Handler(http.HandlerFunc(visits))

	body, cookies := get(h, nil)
	fmt.Println(body, "- cookie:", cookies[0].Name, "HttpOnly:", cookies[0].HttpOnly)
	body, _ = get(h, cookies)
	fmt.Println(body)
	body, _ = get(h, cookies)
	fmt.Println(body)
	// Output:
	// visit 1 - cookie: sid HttpOnly: true
	// visit 2
	// visit 3
}

// Under OnResponse flushing every change a request makes goes to the
// engine in one call, just before the response headers.
func Example_onResponse() {
	m, err := session.New(session.WithFlushMode(session.OnResponse))
	if err != nil {
		log.Fatal(err)
	}
	h := m.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s := session.FromContext(r.Context())
		ctx := r.Context()
		for _, err := range []error{
			s.Set(ctx, "user", "ada"),
			s.Set(ctx, "roles", []string{"admin", "dev"}),
			s.Remove(ctx, "guest"),
		} {
			if err != nil {
				http.Error(w, "session unavailable", http.StatusInternalServerError)
				return
			}
		}
		// The request already sees its own changes.
		fmt.Fprintf(w, "keys %v", s.Keys())
	}))
	body, _ := get(h, nil)
	fmt.Println(body)
	// Output:
	// keys [roles user]
}

// A manager with its own engine, identity and limits.
func Example_customStore() {
	engine := memstore.New(memstore.WithCleanupInterval(0))
	defer engine.Close()
	m, err := session.New(
		session.WithStore(engine),
		session.WithIdentities(&identity.Cookie{Name: "app", Path: "/app", Persistent: true}),
		session.WithMaxSize(512),
	)
	if err != nil {
		log.Fatal(err)
	}
	h := m.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s := session.FromContext(r.Context())
		err := s.Set(r.Context(), "note", strings.Repeat("x", 600))
		fmt.Println("too large:", err != nil)
		if err := s.Set(r.Context(), "note", "short"); err != nil {
			log.Fatal(err)
		}
	}))
	req := httptest.NewRequest(http.MethodGet, "/app/page", nil)
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	c := rec.Result().Cookies()[0]
	fmt.Println(c.Name, c.Path, c.MaxAge > 0, engine.Len())
	// Output:
	// too large: true
	// app /app true 1
}
