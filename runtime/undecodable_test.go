package session

import (
	"context"
	"errors"
	"net/http"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sessiongen/sessiongen/runtime/codec"
)

// TestReportUndecodableOnce: a value that does not decode is reported
// once per key and manager however many requests meet it, naming the key
// and both types and wrapping ErrDecode and the decoder's error; another
// key, or another manager, reports again.
func TestReportUndecodableOnce(t *testing.T) {
	var mu sync.Mutex
	var reports []error
	reporter := WithErrorReporter(func(_ context.Context, err error) {
		mu.Lock()
		defer mu.Unlock()
		reports = append(reports, err)
	})
	stored := codec.AppendString(nil, "text")
	_, decodeErr := codec.Int(stored, 64)
	require.Error(t, decodeErr)
	for range 2 {
		reports = nil
		h := newHarness(t, reporter)
		for range 5 {
			h.do(func(w http.ResponseWriter, r *http.Request, s *Session) {
				s.ReportUndecodable(r.Context(), "visits", "Demo.Visits (int64)", stored, decodeErr)
			})
		}
		h.do(func(w http.ResponseWriter, r *http.Request, s *Session) {
			s.ReportUndecodable(r.Context(), "cart", "Demo.Cart ([]string)", []byte{0x01}, decodeErr)
		})
		require.Len(t, reports, 2, "once per key")
		assert.True(t, errors.Is(reports[0], ErrDecode) && errors.Is(reports[0], codec.ErrType))
		assert.Contains(t, reports[0].Error(), `"visits" is a msgpack str that does not decode as Demo.Visits (int64)`)
		assert.Contains(t, reports[1].Error(), `"cart" is a msgpack int`)
	}
	var nilSession *Session
	nilSession.ReportUndecodable(context.Background(), "k", "T", nil, decodeErr) // no panic
}
