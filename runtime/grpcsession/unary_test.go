package grpcsession_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/sessiongen/sessiongen/runtime/grpcsession"
	"github.com/sessiongen/sessiongen/runtime/identity"
	"github.com/sessiongen/sessiongen/runtime/sessiontest"

	session "github.com/sessiongen/sessiongen/runtime"
)

// visit is a unary handler: it greets the session's "name" and counts
// the visit in "visits" (a write inside the call), answering
// "name visits", or "no session: <error>" for a call without one.
func visit(ctx context.Context, _ *wrapperspb.StringValue) (*wrapperspb.StringValue, error) {
	s := session.FromContext(ctx)
	name, _, err := session.Value[string](s, "name")
	if err != nil {
		return wrapperspb.String("no session: " + err.Error()), nil
	}
	n, err := session.Update(ctx, s, "visits", func(n int, _ bool) (int, error) { return n + 1, nil })
	if err != nil {
		return nil, status.Error(codes.Internal, err.Error())
	}
	return wrapperspb.String(fmt.Sprintf("%s %d", name, n)), nil
}

// TestUnaryAttachesSession calls with the token of a session made over
// HTTP: the handler reads its values, and its write is in the engine
// when the call returns, visible to the HTTP side of the same manager
// and to another manager on the same engine.
func TestUnaryAttachesSession(t *testing.T) {
	engine := newEngine(t)
	h := sessiontest.New(t, session.WithStore(engine))
	h.Seed(map[string]any{"name": "ada", "visits": 1})
	token := h.ID()
	require.NotEmpty(t, token)

	p := &probe{unary: visit}
	conn := serve(t, h.Manager, p)
	ctx := grpcsession.WithToken(t.Context(), token)

	got, err := call(ctx, conn, "")
	require.NoError(t, err)
	assert.Equal(t, "ada 2", got)
	got, err = call(ctx, conn, "")
	require.NoError(t, err)
	assert.Equal(t, "ada 3", got)

	n, ok := sessiontest.Value[int](h, "visits")
	assert.True(t, ok)
	assert.Equal(t, 3, n, "the HTTP side sees the calls' writes")

	other := newManager(t, engine)
	s, err := other.Load(t.Context(), token)
	require.NoError(t, err)
	n, ok, err = session.Value[int](s, "visits")
	require.NoError(t, err)
	assert.True(t, ok)
	assert.Equal(t, 3, n, "the writes reached the engine during the calls")
}

// TestUnaryContextIsTheManagers checks that the handler's context is
// the one Manager.Context makes: FromContext finds the session (typed
// views use the same lookup), and the incoming metadata and deadline
// are still there.
func TestUnaryContextIsTheManagers(t *testing.T) {
	h := sessiontest.New(t).Seed(map[string]any{"name": "ada"})
	token := h.ID()
	p := &probe{unary: func(ctx context.Context, _ *wrapperspb.StringValue) (*wrapperspb.StringValue, error) {
		s := session.FromContext(ctx)
		if s == nil {
			return nil, status.Error(codes.Internal, "no session")
		}
		_, hasDeadline := ctx.Deadline()
		md, _ := metadata.FromIncomingContext(ctx)
		return wrapperspb.String(fmt.Sprintf("%v %v %v", s.ID() == token, hasDeadline, md.Get("x-trace"))), nil
	}}
	conn := serve(t, h.Manager, p)
	ctx, cancel := context.WithTimeout(grpcsession.WithToken(t.Context(), token), time.Minute)
	defer cancel()
	ctx = metadata.AppendToOutgoingContext(ctx, "x-trace", "t1")
	got, err := call(ctx, conn, "")
	require.NoError(t, err)
	assert.Equal(t, "true true [t1]", got)
}

// TestUnaryWithoutToken runs the handler without a session: FromContext
// gives nil, whose methods report session.ErrNoSession.
func TestUnaryWithoutToken(t *testing.T) {
	h := sessiontest.New(t)
	token := h.Seed(map[string]any{"name": "ada"}).ID()
	p := &probe{unary: func(ctx context.Context, _ *wrapperspb.StringValue) (*wrapperspb.StringValue, error) {
		s := session.FromContext(ctx)
		_, err := s.Get("name", new(string))
		return wrapperspb.String(fmt.Sprintf("%v %v", s == nil, errors.Is(err, session.ErrNoSession))), nil
	}}
	conn := serve(t, h.Manager, p)

	for name, ctx := range map[string]context.Context{
		"NoMetadata":  t.Context(),
		"EmptyValue":  metadata.AppendToOutgoingContext(t.Context(), grpcsession.DefaultMetadataKey, ""),
		"OnlySpaces":  metadata.AppendToOutgoingContext(t.Context(), grpcsession.DefaultMetadataKey, "   "),
		"OtherHeader": metadata.AppendToOutgoingContext(t.Context(), "x-session-token", token),
	} {
		t.Run(name, func(t *testing.T) {
			got, err := call(ctx, conn, "")
			require.NoError(t, err)
			assert.Equal(t, "true true", got)
		})
	}
}

// TestUnaryRequired fails calls without a token with Unauthenticated,
// before the handler runs, and serves calls with one.
func TestUnaryRequired(t *testing.T) {
	h := sessiontest.New(t).Seed(map[string]any{"name": "ada"})
	p := &probe{unary: visit}
	conn := serve(t, h.Manager, p, grpcsession.Required())

	_, err := call(t.Context(), conn, "")
	st := status.Convert(err)
	assert.Equal(t, codes.Unauthenticated, st.Code())
	assert.Contains(t, st.Message(), `missing session token (metadata key "session-token")`)
	assert.Zero(t, p.calls.Load(), "the handler did not run")

	got, err := call(grpcsession.WithToken(t.Context(), h.ID()), conn, "")
	require.NoError(t, err)
	assert.Equal(t, "ada 1", got)
}

// TestUnaryRefusesBadTokens fails every call whose token cannot name a
// live session with Unauthenticated: the handler does not run, and
// neither the status nor the server's log holds the token.
func TestUnaryRefusesBadTokens(t *testing.T) {
	h := sessiontest.New(t)
	destroyed := h.Seed(map[string]any{"name": "gone"}).ID()
	h.With(func(ctx context.Context, s *session.Session) { require.NoError(t, s.Destroy(ctx)) })
	renewed := h.Seed(map[string]any{"name": "old"}).ID()
	h.With(func(ctx context.Context, s *session.Session) { require.NoError(t, s.Renew(ctx)) })
	unknown, err := identity.NewID()
	require.NoError(t, err)
	live := h.Seed(map[string]any{"name": "ada"}).ID()

	logger, logs := newLogger()
	p := &probe{unary: visit}
	conn := serve(t, h.Manager, p, grpcsession.WithLogger(logger))

	cases := []struct {
		name   string
		values []string // the metadata values sent under the key
		msg    string
	}{
		{"Malformed", []string{"not-a-session-token"}, "malformed session token"},
		{"Truncated", []string{live[:len(live)-1]}, "malformed session token"},
		{"NonCanonical", []string{live[:len(live)-1] + "_"}, "malformed session token"},
		{"Signed", []string{live + ".AAAAAAAAAAAAAAAAAAAAAA"}, "malformed session token"},
		{"Unknown", []string{unknown}, "unknown or expired session token"},
		{"Destroyed", []string{destroyed}, "unknown or expired session token"},
		{"RenewedAway", []string{renewed}, "unknown or expired session token"},
		{"Twice", []string{live, live}, "more than one session token"},
		{"TwoDifferent", []string{live, unknown}, "more than one session token"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			md := metadata.MD{grpcsession.DefaultMetadataKey: tc.values}
			_, err := call(metadata.NewOutgoingContext(t.Context(), md), conn, "")
			st := status.Convert(err)
			assert.Equal(t, codes.Unauthenticated, st.Code(), st.Message())
			assert.Equal(t, "grpcsession: "+tc.msg, st.Message())
			for _, v := range tc.values {
				assert.NotContains(t, st.Message(), v)
			}
		})
	}
	assert.Zero(t, p.calls.Load(), "the handler never ran")
	assert.Empty(t, logs.String(), "a client's bad token is not a server error")

	got, err := call(grpcsession.WithToken(t.Context(), live), conn, "")
	require.NoError(t, err)
	assert.Equal(t, "ada 1", got, "the live session still works")
}

// TestUnaryExpired refuses the token of a session past its absolute
// lifetime.
func TestUnaryExpired(t *testing.T) {
	h := sessiontest.New(t, session.WithLifetime(200*time.Millisecond))
	token := h.Seed(map[string]any{"name": "ada"}).ID()
	conn := serve(t, h.Manager, &probe{unary: visit})
	ctx := grpcsession.WithToken(t.Context(), token)

	got, err := call(ctx, conn, "")
	require.NoError(t, err)
	assert.Equal(t, "ada 1", got)
	require.Eventually(t, func() bool {
		_, err := call(ctx, conn, "")
		return status.Code(err) == codes.Unauthenticated
	}, 5*time.Second, 20*time.Millisecond, "the session expires")
	_, err = call(ctx, conn, "")
	assert.Equal(t, "grpcsession: unknown or expired session token", status.Convert(err).Message())
}

// TestUnaryEngineDown answers Unavailable when the engine fails, tells
// the client nothing of the engine's error, logs it on the server
// without the token, and serves again once the engine is back.
func TestUnaryEngineDown(t *testing.T) {
	engine := &outageStore{Store: newEngine(t)}
	h := sessiontest.New(t, session.WithStore(engine))
	token := h.Seed(map[string]any{"name": "ada"}).ID()

	// The gRPC side is another process's manager on the same engine: its
	// cache is cold, so the call needs the engine.
	logger, logs := newLogger()
	m := newManager(t, engine)
	p := &probe{unary: visit}
	conn := serve(t, m, p, grpcsession.WithLogger(logger))
	ctx := grpcsession.WithToken(t.Context(), token)

	engine.down.Store(true)
	_, err := call(ctx, conn, "")
	st := status.Convert(err)
	assert.Equal(t, codes.Unavailable, st.Code())
	assert.Equal(t, "grpcsession: session store unavailable", st.Message())
	assert.NotContains(t, st.Message(), "10.0.0.7", "the engine's error stays on the server")
	assert.Zero(t, p.calls.Load())
	line := logs.String()
	assert.Contains(t, line, "loading the session failed")
	assert.Contains(t, line, unaryMethod)
	assert.Contains(t, line, errOutage.Error())
	assert.NotContains(t, line, token)

	engine.down.Store(false)
	got, err := call(ctx, conn, "")
	require.NoError(t, err)
	assert.Equal(t, "ada 1", got)
}

// TestUnaryRenewInHandler renews the session inside a call and hands the
// new ID back in a response header, as the package documentation
// suggests: the old token stops working, the new one carries the data.
func TestUnaryRenewInHandler(t *testing.T) {
	h := sessiontest.New(t).Seed(map[string]any{"name": "ada"})
	old := h.ID()
	p := &probe{unary: func(ctx context.Context, _ *wrapperspb.StringValue) (*wrapperspb.StringValue, error) {
		s := session.FromContext(ctx)
		if err := s.Renew(ctx); err != nil {
			return nil, status.Error(codes.Internal, err.Error())
		}
		if err := grpc.SetHeader(ctx, metadata.Pairs(grpcsession.DefaultMetadataKey, s.ID())); err != nil {
			return nil, err
		}
		return wrapperspb.String("renewed"), nil
	}}
	conn := serve(t, h.Manager, p)

	var header metadata.MD
	out := new(wrapperspb.StringValue)
	err := conn.Invoke(grpcsession.WithToken(t.Context(), old), unaryMethod, wrapperspb.String(""), out, grpc.Header(&header))
	require.NoError(t, err)
	tokens := header.Get(grpcsession.DefaultMetadataKey)
	require.Len(t, tokens, 1)
	renewed := tokens[0]
	assert.NotEqual(t, old, renewed)

	_, err = h.Manager.Load(t.Context(), old)
	assert.ErrorIs(t, err, session.ErrNotFound, "the old ID is gone")
	s, err := h.Manager.Load(t.Context(), renewed)
	require.NoError(t, err)
	name, _, err := session.Value[string](s, "name")
	require.NoError(t, err)
	assert.Equal(t, "ada", name, "the data moved to the new ID")
}
