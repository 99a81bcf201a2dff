package grpcsession_test

import (
	"context"
	"crypto/rand"
	"testing"

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

// TestBearerScheme carries the token as "authorization: Bearer <token>":
// the scheme is matched case-insensitively, a value with another scheme
// counts as no token (other credentials may share the key), and with
// Required such a call is refused.
func TestBearerScheme(t *testing.T) {
	h := sessiontest.New(t).Seed(map[string]any{"name": "ada"})
	token := h.ID()
	bearer := []grpcsession.Option{grpcsession.WithMetadataKey("Authorization"), grpcsession.WithScheme("Bearer")}
	conn := serve(t, h.Manager, &probe{unary: visit}, bearer...)

	got, err := call(grpcsession.WithToken(t.Context(), token, bearer...), conn, "")
	require.NoError(t, err)
	assert.Equal(t, "ada 1", got)

	ctx := metadata.AppendToOutgoingContext(t.Context(), "authorization", "bearer   "+token+" ")
	got, err = call(ctx, conn, "")
	require.NoError(t, err)
	assert.Equal(t, "ada 2", got, "scheme in any case, spaces around the token")

	for _, v := range []string{"Basic " + token, token, "Bearer"} {
		ctx := metadata.AppendToOutgoingContext(t.Context(), "authorization", v)
		got, err := call(ctx, conn, "")
		require.NoError(t, err)
		assert.Contains(t, got, "no session", "%q is not a bearer token", v)
	}

	conn = serve(t, h.Manager, &probe{unary: visit}, append(bearer, grpcsession.Required())...)
	ctx = metadata.AppendToOutgoingContext(t.Context(), "authorization", "Basic "+token)
	_, err = call(ctx, conn, "")
	st := status.Convert(err)
	assert.Equal(t, codes.Unauthenticated, st.Code())
	assert.Equal(t, `grpcsession: missing session token (metadata key "authorization")`, st.Message())
}

// TestSignedTokens accepts tokens signed as the HTTP identities sign
// them and refuses bare or forged ones before any engine lookup: with
// the engine down, a forged token still gets Unauthenticated, not
// Unavailable, and the engine is never asked.
func TestSignedTokens(t *testing.T) {
	signer, err := identity.NewSigner([]byte(rand.Text() + rand.Text()))
	require.NoError(t, err)
	engine := &outageStore{Store: newEngine(t)}
	h := sessiontest.New(t, session.WithStore(engine),
		session.WithIdentities(&identity.Cookie{Signer: signer}))
	id := h.Seed(map[string]any{"name": "ada"}).ID()
	signed := signer.Sign(id)
	require.NotEmpty(t, signed)
	assert.Equal(t, signed, h.Cookie(identity.DefaultCookieName).Value, "the token the HTTP side hands out")

	conn := serve(t, h.Manager, &probe{unary: visit}, grpcsession.WithSigner(signer))
	got, err := call(grpcsession.WithToken(t.Context(), signed), conn, "")
	require.NoError(t, err)
	assert.Equal(t, "ada 1", got)

	other, err := identity.NewSigner([]byte(rand.Text() + rand.Text()))
	require.NoError(t, err)
	// Each forgery differs from signed whatever its random bytes are.
	noise, tampered := "x"+signed[1:], signed[:len(signed)-2]+"AA"
	if noise == signed {
		noise = "y" + signed[1:]
	}
	if tampered == signed {
		tampered = signed[:len(signed)-2] + "BB"
	}
	engine.down.Store(true)
	loads := engine.loads.Load()
	for name, tok := range map[string]string{
		"Bare":        id,
		"OtherKey":    other.Sign(id),
		"Tampered":    tampered,
		"Truncated":   signed[:len(signed)-1],
		"SignedNoise": noise,
	} {
		t.Run(name, func(t *testing.T) {
			_, err := call(grpcsession.WithToken(t.Context(), tok), conn, "")
			st := status.Convert(err)
			assert.Equal(t, codes.Unauthenticated, st.Code(), st.Message())
			assert.Equal(t, "grpcsession: malformed session token", st.Message())
		})
	}
	assert.Equal(t, loads, engine.loads.Load(), "no refused token reached the engine")
}

// TestContextEnded maps a call whose context ended during the lookup to
// Canceled or DeadlineExceeded, not to an engine failure, and logs
// nothing. The interceptor is called as grpc calls it, with a context a
// server would give it.
func TestContextEnded(t *testing.T) {
	engine := newEngine(t)
	h := sessiontest.New(t, session.WithStore(engine))
	token := h.Seed(map[string]any{"name": "ada"}).ID()
	logger, logs := newLogger()
	cold := newManager(t, engine) // the lookup needs the engine
	intercept := grpcsession.UnaryServerInterceptor(cold, grpcsession.WithLogger(logger))
	info := &grpc.UnaryServerInfo{FullMethod: unaryMethod}
	ran := false
	handler := func(context.Context, any) (any, error) { ran = true; return nil, nil }

	md := metadata.Pairs(grpcsession.DefaultMetadataKey, token)
	canceled, cancel := context.WithCancel(metadata.NewIncomingContext(context.Background(), md))
	cancel()
	_, err := intercept(canceled, wrapperspb.String(""), info, handler)
	assert.Equal(t, codes.Canceled, status.Code(err), err)

	expired, cancel := context.WithTimeout(metadata.NewIncomingContext(context.Background(), md), 0)
	defer cancel()
	_, err = intercept(expired, wrapperspb.String(""), info, handler)
	assert.Equal(t, codes.DeadlineExceeded, status.Code(err), err)

	assert.False(t, ran)
	assert.Empty(t, logs.String())
}

// TestInvalidOptions panics at construction, so a misconfigured server
// does not start.
func TestInvalidOptions(t *testing.T) {
	h := sessiontest.New(t)
	assert.PanicsWithError(t, "grpcsession: nil *session.Manager", func() { grpcsession.UnaryServerInterceptor(nil) })
	assert.PanicsWithError(t, "grpcsession: nil *session.Manager", func() { grpcsession.StreamServerInterceptor(nil) })
	for _, key := range []string{"", "grpc-session", "session-bin", "session token", "sessión", "a/b"} {
		assert.Panics(t, func() { grpcsession.UnaryServerInterceptor(h.Manager, grpcsession.WithMetadataKey(key)) }, "key %q", key)
		assert.Panics(t, func() { grpcsession.WithToken(t.Context(), "t", grpcsession.WithMetadataKey(key)) }, "key %q", key)
	}
	assert.Panics(t, func() { grpcsession.StreamServerInterceptor(h.Manager, grpcsession.WithScheme("Bearer x")) })
	for _, key := range []string{"session-token", "X-Session_Token.v2", "authorization", "0"} {
		assert.NotPanics(t, func() { grpcsession.UnaryServerInterceptor(h.Manager, grpcsession.WithMetadataKey(key)) }, "key %q", key)
	}
	assert.NotPanics(t, func() { grpcsession.UnaryServerInterceptor(h.Manager, nil, grpcsession.WithLogger(nil)) })
}
