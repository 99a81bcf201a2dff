package otelsession_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"

	session "github.com/sessiongen/sessiongen/runtime"
	"github.com/sessiongen/sessiongen/runtime/otelsession"
	"github.com/sessiongen/sessiongen/runtime/store"
	"github.com/sessiongen/sessiongen/runtime/store/memstore"
)

// spanAttrs returns a span's attributes as a map.
func spanAttrs(sp sdktrace.ReadOnlySpan) map[string]string {
	out := map[string]string{}
	for _, kv := range sp.Attributes() {
		out[string(kv.Key)] = kv.Value.String()
	}
	return out
}

// assertNoSecret fails when anything recorded about a span (name,
// attributes, status, events) holds one of secrets.
func assertNoSecret(t *testing.T, spans []sdktrace.ReadOnlySpan, secrets ...string) {
	t.Helper()
	for _, sp := range spans {
		texts := []string{sp.Name(), sp.Status().Description}
		for _, kv := range sp.Attributes() {
			texts = append(texts, kv.Value.String())
		}
		for _, ev := range sp.Events() {
			texts = append(texts, ev.Name)
			for _, kv := range ev.Attributes {
				texts = append(texts, kv.Value.String())
			}
		}
		for _, text := range texts {
			for _, secret := range secrets {
				assert.NotContains(t, text, secret, "span %s", sp.Name())
			}
		}
	}
}

// TestSpans checks the engine spans of a create, a read of an unknown
// session and an update: their names, kind, attributes, status and
// parent, and that none carries a session ID or engine key.
func TestSpans(t *testing.T) {
	s := newSDK(t)
	n, _ := observed(t, s, nil, []otelsession.Option{otelsession.WithEngineName("memory")})

	ctx, parent := s.tp.Tracer("test").Start(context.Background(), "request")
	var c *http.Cookie
	resp := n.serve(ctx, nil, func(r *http.Request, sess *session.Session) {
		require.NoError(t, sess.Set(r.Context(), "n", 1))
	})
	for _, ck := range resp.Cookies() {
		if ck.Name == "sid" {
			c = ck
		}
	}
	require.NotNil(t, c)
	parent.End()
	_, _, err := n.read(&http.Cookie{Name: "sid", Value: unknownID})
	require.NoError(t, err)
	n.set(c, 2)

	var engine []sdktrace.ReadOnlySpan
	for _, sp := range s.spans.Ended() {
		if sp.Name() != "request" {
			engine = append(engine, sp)
		}
	}
	require.Len(t, engine, 3)
	want := []struct{ name, op, outcome string }{
		{"sessiongen.engine create", "create", "ok"},
		{"sessiongen.engine load", "load", "not_found"},
		{"sessiongen.engine update", "update", "ok"},
	}
	for i, w := range want {
		sp := engine[i]
		assert.Equal(t, w.name, sp.Name())
		assert.Equal(t, trace.SpanKindClient, sp.SpanKind())
		assert.Equal(t, map[string]string{"op": w.op, "outcome": w.outcome, "db.system.name": "memory"}, spanAttrs(sp), w.name)
		assert.Equal(t, codes.Unset, sp.Status().Code, "%s: %s is a normal answer", w.name, w.outcome)
		assert.Equal(t, otelsession.ScopeName, sp.InstrumentationScope().Name)
	}
	assert.Equal(t, parent.SpanContext().SpanID(), engine[0].Parent().SpanID(), "the engine span is a child of the request's")
	assert.Equal(t, parent.SpanContext().TraceID(), engine[0].SpanContext().TraceID())
	assert.False(t, engine[1].Parent().IsValid(), "a request without a span starts a trace")

	assertNoSecret(t, s.spans.Ended(), c.Value, store.Key(c.Value), unknownID, store.Key(unknownID))
}

// failingStore is the memory engine whose loads fail with an error
// naming the key, as some engines' errors do.
type failingStore struct {
	*memstore.Store
	err error
}

func (f failingStore) Load(context.Context, string) (store.Record, error) {
	return store.Record{}, f.err
}

// TestSpanError marks a failed engine call's span as an error, with the
// error's type but not its message (which names the key).
func TestSpanError(t *testing.T) {
	for _, tc := range []struct {
		name string
		err  func(key string) error
		typ  string
		fail bool // the request fails (a corrupt record is treated as no session)
	}{
		{"plain", func(key string) error { return fmt.Errorf("failing: load %s: %w", key, errors.New("boom")) }, "_OTHER", true},
		{"deadline", func(key string) error { return fmt.Errorf("failing: load %s: %w", key, context.DeadlineExceeded) }, "context.DeadlineExceeded", true},
		{"corrupt", func(key string) error { return fmt.Errorf("record %s: %w", key, store.ErrCorrupt) }, "store.ErrCorrupt", false},
		{"typed", func(key string) error { return fmt.Errorf("failing: load %s: %w", key, &typedError{key}) }, "*otelsession_test.typedError", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := newSDK(t)
			mem := memstore.New()
			t.Cleanup(func() { _ = mem.Close() })
			key := store.Key(unknownID)
			n, _ := observed(t, s, failingStore{mem, tc.err(key)}, nil,
				session.WithErrorHandler(func(w http.ResponseWriter, _ *http.Request, _ error) { w.WriteHeader(http.StatusServiceUnavailable) }))
			_, _, err := n.read(&http.Cookie{Name: "sid", Value: unknownID})
			assert.Equal(t, tc.fail, err != nil, "read error: %v", err)

			spans := s.spans.Ended()
			require.NotEmpty(t, spans) // a corrupt record is then deleted: a second span
			sp := spans[0]
			assert.Equal(t, "sessiongen.engine load", sp.Name())
			assert.Equal(t, codes.Error, sp.Status().Code)
			assert.Equal(t, tc.typ, sp.Status().Description)
			assert.Equal(t, map[string]string{"op": "load", "outcome": "error", "error.type": tc.typ}, spanAttrs(sp))
			assertNoSecret(t, spans, unknownID, key)
			assert.Equal(t, int64(1), sums(t, s.collect(t), otelsession.MetricEngineCalls)["op=load,outcome=error"])
		})
	}
}

// typedError is an error type of its own, whose message names a key.
type typedError struct{ key string }

func (e *typedError) Error() string { return "typed failure under " + e.key }

// TestSpanAttributesOfWithAttributes puts the configured attributes on
// spans too.
func TestSpanAttributesOfWithAttributes(t *testing.T) {
	s := newSDK(t)
	n, _ := observed(t, s, nil, []otelsession.Option{otelsession.WithAttributes(attribute.String("sessiongen.manager", "admin"))})
	n.create(1)
	spans := s.spans.Ended()
	require.Len(t, spans, 1)
	assert.Equal(t, map[string]string{"op": "create", "outcome": "ok", "sessiongen.manager": "admin"}, spanAttrs(spans[0]))
	assert.False(t, strings.Contains(spans[0].Name(), "admin"))
}
