package session_test

import (
	"context"
	"fmt"
	"log"
	"net/http"

	session "github.com/sessiongen/sessiongen/runtime"
)

// Load reaches a session outside the middleware, as a WebSocket handler
// after the upgrade or a background job would: here a job that credits
// a visitor's account by the session ID it was given.
func ExampleManager_Load() {
	m, err := session.New()
	if err != nil {
		log.Fatal(err)
	}
	defer m.Close()
	var id string
	h := m.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s := session.FromContext(r.Context())
		if err := s.Set(r.Context(), "credits", 10); err != nil {
			http.Error(w, "session unavailable", http.StatusInternalServerError)
			return
		}
		id = s.ID() // handed to the job (never log it: it is a bearer token)
	}))
	get(h, nil)

	ctx := context.Background()
	s, err := m.Load(ctx, id)
	if err != nil {
		log.Fatal(err)
	}
	credits, err := session.Update(ctx, s, "credits", func(n int, _ bool) (int, error) { return n + 5, nil })
	if err != nil {
		log.Fatal(err)
	}
	// Typed views work the same way: TFrom(m.Context(ctx, s)) or TOf(s).
	same := session.FromContext(m.Context(ctx, s)) == s
	fmt.Println(credits, same)
	// Output: 15 true
}
