package session_test

import (
	"fmt"
	"log"
	"net/http"
	"time"

	session "github.com/sessiongen/sessiongen/runtime"
)

// SetPersistent is a "remember me" checkbox: the signed-in visitor who
// ticks it gets a cookie that outlives the browser, the others a cookie
// the browser forgets when it closes. The choice stays with the session.
func ExampleSession_SetPersistent() {
	m, err := session.New()
	if err != nil {
		log.Fatal(err)
	}
	defer m.Close()
	h := m.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s := session.FromContext(r.Context())
		if remember := r.URL.Query().Get("remember"); remember != "" {
			if err := s.SetPersistent(r.Context(), remember == "on"); err != nil {
				http.Error(w, "session unavailable", http.StatusInternalServerError)
				return
			}
		}
		fmt.Fprint(w, "remembered: ", s.Persistent())
	}))
	signIn := func(remember string) {
		body, cookies := get(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			r.URL.RawQuery = "remember=" + remember
			h.ServeHTTP(w, r)
		}), nil)
		c := cookies[0]
		fmt.Printf("%s; cookie outlives the browser: %v\n", body, c.MaxAge > 0)
		body, _ = get(h, cookies)
		fmt.Println("next request:", body)
	}
	signIn("on")
	signIn("off")
	// Output:
	// remembered: true; cookie outlives the browser: true
	// next request: remembered: true
	// remembered: false; cookie outlives the browser: false
	// next request: remembered: false
}

// SetDeadline shortens one session: a session opened for a support
// agent, say, ends within the hour however active it stays.
func ExampleSession_SetDeadline() {
	m, err := session.New(session.WithIdleTimeout(24 * time.Hour))
	if err != nil {
		log.Fatal(err)
	}
	defer m.Close()
	h := m.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s := session.FromContext(r.Context())
		if err := s.Set(r.Context(), "role", "support"); err != nil {
			http.Error(w, "session unavailable", http.StatusInternalServerError)
			return
		}
		if err := s.SetDeadline(r.Context(), time.Now().Add(time.Hour)); err != nil {
			http.Error(w, "session unavailable", http.StatusInternalServerError)
			return
		}
		fmt.Fprint(w, "ends within the hour: ", time.Until(s.Expires()) <= time.Hour)
	}))
	body, _ := get(h, nil)
	fmt.Println(body)
	// Output:
	// ends within the hour: true
}

// Clear empties a session in one change and keeps its ID: a "start
// over" button that keeps the visitor's remember-me choice.
func ExampleSession_Clear() {
	m, err := session.New()
	if err != nil {
		log.Fatal(err)
	}
	defer m.Close()
	h := m.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s := session.FromContext(r.Context())
		var err error
		if r.URL.Query().Get("clear") != "" {
			err = s.Clear(r.Context())
		} else {
			_, err = session.Update(r.Context(), s, "cart", func(n int, _ bool) (int, error) { return n + 1, nil })
		}
		if err != nil {
			http.Error(w, "session unavailable", http.StatusInternalServerError)
			return
		}
		fmt.Fprint(w, "keys: ", s.Keys())
	}))
	clear := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r.URL.RawQuery = "clear=1"
		h.ServeHTTP(w, r)
	})
	body, cookies := get(h, nil)
	fmt.Println(body)
	body, _ = get(clear, cookies)
	fmt.Println(body)
	// Output:
	// keys: [cart]
	// keys: []
}
