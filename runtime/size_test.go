package session

import (
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sessiongen/sessiongen/runtime/codec"
)

// fill returns a string whose encoded field "f" (key + msgpack str) has
// exactly n bytes.
func fill(t *testing.T, n int) string {
	t.Helper()
	for l := n; l >= 0; l-- {
		v := strings.Repeat("x", l)
		if len("f")+len(codec.AppendString(nil, v)) == n {
			return v
		}
	}
	t.Fatalf("no string gives %d bytes", n)
	return ""
}

func TestSizeLimitBoundary(t *testing.T) {
	for _, mode := range []FlushMode{Immediate, OnResponse} {
		t.Run(mode.String(), func(t *testing.T) {
			const limit = 200
			h := newHarness(t, WithMaxSize(limit), WithFlushMode(mode))
			cookie := h.newSession("a", 1) // 1 + 1 = 2 bytes
			base := 2

			h.do(func(w http.ResponseWriter, r *http.Request, s *Session) {
				ctx := r.Context()
				require.Equal(t, base, s.Size())

				err := s.Set(ctx, "f", fill(t, limit-base+1))
				require.ErrorIs(t, err, ErrTooLarge)
				assert.Contains(t, err.Error(), `"f"`)
				assert.Equal(t, base, s.Size(), "nothing changed")
				assert.Equal(t, []string{"a"}, s.Keys())

				require.NoError(t, s.Set(ctx, "f", fill(t, limit-base)))
				assert.Equal(t, limit, s.Size())

				require.NoError(t, s.Set(ctx, "f", fill(t, limit-base-1)))
				assert.Equal(t, limit-1, s.Size())

				before := s.Size()
				require.ErrorIs(t, s.Set(ctx, "g", true), ErrTooLarge, "1+1 more bytes than the 1 left")
				assert.Equal(t, before, s.Size())
				require.ErrorIs(t, s.SetRawFields(ctx, []Field{{Key: "a"}, {Key: "zz", Value: []byte{1, 2}[:1]}, {Key: "yy", Value: []byte{0xc3}}}), ErrTooLarge)
				assert.Equal(t, before, s.Size(), "a refused batch changes nothing")
				require.NoError(t, s.Remove(ctx, "a"), "removing always fits")
			}, cookie)

			rec, err := h.engineRecord(cookie)
			require.NoError(t, err)
			assert.Equal(t, limit-1-base, sizeOf(rec.Fields))
			assert.NotContains(t, rec.Fields, "g")
			assert.NotContains(t, rec.Fields, "zz")
		})
	}
}

func TestSizeLimitOnNewSession(t *testing.T) {
	h := newHarness(t, WithMaxSize(10))
	rec := h.do(func(w http.ResponseWriter, r *http.Request, s *Session) {
		require.ErrorIs(t, s.Set(r.Context(), "k", strings.Repeat("x", 20)), ErrTooLarge)
		assert.Equal(t, "", s.ID())
	})
	assert.Nil(t, sidCookie(rec.Result()))
	assert.Zero(t, h.store.calls(), "nothing reached the engine")
}

func TestSizeRecheckedAtFlush(t *testing.T) {
	// Two OnResponse requests each fit alone; the second flush no longer
	// fits after the first one landed, so it fails loudly.
	h := newHarness(t, WithMaxSize(100), WithFlushMode(OnResponse))
	cookie := h.newSession("a", 1)
	rec := h.do(func(w http.ResponseWriter, r *http.Request, s *Session) {
		require.NoError(t, s.Set(r.Context(), "f", fill(t, 60)))
		inner := h.do(func(w http.ResponseWriter, r *http.Request, s2 *Session) {
			require.NoError(t, s2.Set(r.Context(), "g", strings.Repeat("y", 50)))
		}, cookie)
		require.Equal(t, http.StatusOK, inner.Code)
		_, _ = w.Write([]byte("handler output"))
	}, cookie)
	assert.Equal(t, http.StatusInternalServerError, rec.Code)
	assert.NotContains(t, rec.Body.String(), "handler output")
	assert.Contains(t, h.log.String(), ErrTooLarge.Error())
	er, err := h.engineRecord(cookie)
	require.NoError(t, err)
	assert.NotContains(t, er.Fields, "f")
}
