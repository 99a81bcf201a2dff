package session_test

import (
	"fmt"
	"log"
	"net/http"

	session "github.com/sessiongen/sessiongen/runtime"
)

// Pop reads a flash message once: the request after a sign-in shows the
// notice, the one after that finds none.
func ExamplePop() {
	m, err := session.New()
	if err != nil {
		log.Fatal(err)
	}
	defer m.Close()
	mux := http.NewServeMux()
	mux.HandleFunc("/signin", func(w http.ResponseWriter, r *http.Request) {
		if err := session.FromContext(r.Context()).Set(r.Context(), "notice", "Welcome back."); err != nil {
			http.Error(w, "session unavailable", http.StatusInternalServerError)
		}
	})
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		notice, ok, err := session.Pop[string](r.Context(), session.FromContext(r.Context()), "notice")
		switch {
		case err != nil:
			http.Error(w, "session unavailable", http.StatusInternalServerError)
		case ok:
			fmt.Fprint(w, notice)
		default:
			fmt.Fprint(w, "(no notice)")
		}
	})
	h := m.Handler(mux)

	signin := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r.URL.Path = "/signin"
		h.ServeHTTP(w, r)
	})
	_, cookies := get(signin, nil)
	first, _ := get(h, cookies)
	second, _ := get(h, cookies)
	fmt.Println(first)
	fmt.Println(second)
	// Output:
	// Welcome back.
	// (no notice)
}
