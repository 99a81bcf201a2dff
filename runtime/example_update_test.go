package session_test

import (
	"fmt"
	"log"
	"net/http"
	"sync"

	session "github.com/sessiongen/sessiongen/runtime"
)

// Update is a read-modify-write that loses nothing: 50 concurrent
// requests of one client each add one to a counter, and the counter ends
// at 50. With Value then Set, interleaved requests would lose
// increments.
func ExampleUpdate() {
	m, err := session.New()
	if err != nil {
		log.Fatal(err)
	}
	defer m.Close()
	h := m.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s := session.FromContext(r.Context())
		_, err := session.Update(r.Context(), s, "visits", func(n int, _ bool) (int, error) {
			return n + 1, nil
		})
		if err != nil {
			http.Error(w, "session unavailable", http.StatusInternalServerError)
		}
	}))

	_, cookies := get(h, nil) // the first visit creates the session
	var wg sync.WaitGroup
	for range 49 {
		wg.Go(func() { get(h, cookies) })
	}
	wg.Wait()

	count := m.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n, _, _ := session.Value[int](session.FromContext(r.Context()), "visits")
		fmt.Fprint(w, n)
	}))
	body, _ := get(count, cookies)
	fmt.Println("visits:", body)
	// Output: visits: 50
}
