package sessiontest_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/sessiongen/sessiongen/runtime/sessiontest"
)

// A test of a handler that needs a signed-in session: seed the session,
// serve the request, read back what the handler stored.
func Example() {
	t := &testing.T{} // in a test, the *testing.T it is given
	h := sessiontest.New(t)
	h.Seed(map[string]any{"uid": 42})

	rec := h.Do(http.HandlerFunc(addItem), httptest.NewRequest(http.MethodPost, "/cart", nil))
	items, _ := sessiontest.Value[int](h, "items")
	fmt.Println(rec.Code, items)
	// Output: 200 1
}
