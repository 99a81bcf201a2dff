package session_test

import (
	"context"
	"fmt"
	"log"
	"log/slog"
	"net/http"
	"time"

	session "github.com/sessiongen/sessiongen/runtime"
	"github.com/sessiongen/sessiongen/runtime/bus"
	"github.com/sessiongen/sessiongen/runtime/store/memstore"
)

// Two managers (two nodes of one application) share an engine and a
// bus: a client may reach either, with no sticky load balancing. Here the
// bus is in-process; across processes use redisbus or pgbus.
func Example_manyNodes() {
	engine := memstore.New()
	defer engine.Close()
	b := bus.NewLocal()
	quiet := slog.New(slog.DiscardHandler)
	nodeA, err := session.New(session.WithStore(engine), session.WithBus(b), session.WithLogger(quiet))
	if err != nil {
		log.Fatal(err)
	}
	defer nodeA.Close()
	nodeB, err := session.New(session.WithStore(engine), session.WithBus(b), session.WithLogger(quiet))
	if err != nil {
		log.Fatal(err)
	}
	defer nodeB.Close()
	a, bh := nodeA.Handler(http.HandlerFunc(visits)), nodeB.Handler(http.HandlerFunc(visits))

	// Each request writes; the other node drops its copy when the
	// change message arrives (within a millisecond or so on one host).
	// A request that reaches the other node before that still reads
	// the copy it had.
	arrive := func() { time.Sleep(50 * time.Millisecond) }
	body, cookies := get(a, nil)
	fmt.Println("A:", body)
	arrive()
	body, _ = get(bh, cookies)
	fmt.Println("B:", body)
	arrive()
	body, _ = get(a, cookies)
	fmt.Println("A:", body)
	arrive()
	body, _ = get(bh, cookies)
	fmt.Println("B:", body)
	// Output:
	// A: visit 1
	// B: visit 2
	// A: visit 3
	// B: visit 4
}

// A user's sessions, listed and ended on every node ("log out
// everywhere"). The owner key names the session key holding the user ID.
func ExampleManager_RevokeAll() {
	m, err := session.New(session.WithOwnerKey("uid"), session.WithLogger(slog.New(slog.DiscardHandler)))
	if err != nil {
		log.Fatal(err)
	}
	defer m.Close()
	signIn := m.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s := session.FromContext(r.Context())
		if err := s.Renew(r.Context()); err != nil { // a new ID at login
			http.Error(w, "session unavailable", http.StatusInternalServerError)
			return
		}
		if err := s.Set(r.Context(), "uid", int64(42)); err != nil {
			http.Error(w, "session unavailable", http.StatusInternalServerError)
			return
		}
	}))
	get(signIn, nil) // a laptop
	get(signIn, nil) // a phone

	list, err := m.Sessions(context.Background(), "42")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("sessions:", len(list))
	n, err := m.RevokeAll(context.Background(), "42")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("revoked:", n)
	list, _ = m.Sessions(context.Background(), "42")
	fmt.Println("sessions:", len(list))
	// Output:
	// sessions: 2
	// revoked: 2
	// sessions: 0
}
