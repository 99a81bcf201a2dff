package session_test

import (
	"fmt"
	"log"
	"net/http"

	session "github.com/sessiongen/sessiongen/runtime"
)

// Status says what the request did to its session: a handler or a
// middleware can log it, or skip work when nothing changed.
func ExampleSession_Status() {
	m, err := session.New()
	if err != nil {
		log.Fatal(err)
	}
	defer m.Close()
	h := m.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s := session.FromContext(r.Context())
		before := s.Status()
		if r.URL.Query().Get("visit") != "" {
			if _, err := session.Update(r.Context(), s, "visits", func(n int, _ bool) (int, error) { return n + 1, nil }); err != nil {
				http.Error(w, "session unavailable", http.StatusInternalServerError)
				return
			}
		}
		fmt.Fprintf(w, "%s -> %s", before, s.Status())
	}))
	visit := func(cookies []*http.Cookie) (string, []*http.Cookie) {
		return get(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			r.URL.RawQuery = "visit=1"
			h.ServeHTTP(w, r)
		}), cookies)
	}
	first, cookies := visit(nil)
	second, _ := visit(cookies)
	third, _ := get(h, cookies)
	fmt.Println(first)
	fmt.Println(second)
	fmt.Println(third)
	// Output:
	// unchanged -> new
	// unchanged -> modified
	// unchanged -> unchanged
}
