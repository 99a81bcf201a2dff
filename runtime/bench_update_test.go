package session

import (
	"net/http"
	"testing"
)

// BenchmarkHandlerUpdate increments a counter with Update on an existing
// session (Immediate, one conditional engine write on memstore): compare
// with BenchmarkHandlerSet, which writes the same key without a
// condition.
func BenchmarkHandlerUpdate(b *testing.B) {
	m, c := benchSetup(b)
	runHandler(b, m.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, err := Update(r.Context(), FromContext(r.Context()), "n", func(n int64, _ bool) (int64, error) {
			return n + 1, nil
		}); err != nil {
			b.Fatal(err)
		}
		_, _ = w.Write(body)
	})), c)
}
