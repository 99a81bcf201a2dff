package sessiontest_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	session "github.com/sessiongen/sessiongen/runtime"
	"github.com/sessiongen/sessiongen/runtime/sessiontest"
)

// addItem is a handler under test: it adds one item to the cart of a
// signed-in user.
func addItem(w http.ResponseWriter, r *http.Request) {
	s := session.FromContext(r.Context())
	if _, ok, _ := session.Value[int](s, "uid"); !ok {
		http.Error(w, "sign in first", http.StatusUnauthorized)
		return
	}
	n, err := session.Update(r.Context(), s, "items", func(n int, _ bool) (int, error) { return n + 1, nil })
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	fmt.Fprint(w, n)
}

func TestHarness(t *testing.T) {
	h := sessiontest.New(t)
	rec := h.Do(http.HandlerFunc(addItem), httptest.NewRequest(http.MethodPost, "/cart", nil))
	assert.Equal(t, http.StatusUnauthorized, rec.Code, "no session yet")
	assert.Empty(t, h.ID())

	h.Seed(map[string]any{"uid": 42})
	id := h.ID()
	require.NotEmpty(t, id)
	for want := 1; want <= 3; want++ {
		rec := h.Do(http.HandlerFunc(addItem), httptest.NewRequest(http.MethodPost, "/cart", nil))
		require.Equal(t, http.StatusOK, rec.Code)
		assert.Equal(t, fmt.Sprint(want), rec.Body.String())
	}
	n, ok := sessiontest.Value[int](h, "items")
	assert.True(t, ok)
	assert.Equal(t, 3, n)
	assert.Equal(t, []string{"items", "uid"}, h.Keys())
	assert.Equal(t, id, h.Cookie("sid").Value, "the client holds the session cookie")

	// A renewal changes the client's cookie; a destroy removes it.
	h.With(func(ctx context.Context, s *session.Session) { require.NoError(t, s.Renew(ctx)) })
	assert.NotEqual(t, id, h.ID())
	n, _ = sessiontest.Value[int](h, "items")
	assert.Equal(t, 3, n, "the data survives the renewal")
	h.With(func(ctx context.Context, s *session.Session) { require.NoError(t, s.Destroy(ctx)) })
	assert.Nil(t, h.Cookie("sid"))
	assert.Empty(t, h.ID())
}

func TestHarnessOptions(t *testing.T) {
	h := sessiontest.New(t, session.WithFlushMode(session.OnResponse), session.WithMaxSize(32))
	h.Seed(map[string]any{"k": "v"})
	var err error
	h.With(func(ctx context.Context, s *session.Session) {
		err = s.Set(ctx, "big", "0123456789012345678901234567890123456789")
	})
	require.ErrorIs(t, err, session.ErrTooLarge)
	var v string
	assert.True(t, h.Get("k", &v))
	assert.Equal(t, "v", v)
}
