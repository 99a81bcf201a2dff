package grpcsession_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/sessiongen/sessiongen/runtime/grpcsession"
	"github.com/sessiongen/sessiongen/runtime/sessiontest"

	session "github.com/sessiongen/sessiongen/runtime"
)

// tally is a stream handler: for every message it adds the message's
// length to the session's "total" (a write during the stream) and
// answers with the new total; without a session it answers "none".
func tally(ss grpc.ServerStream) error {
	ctx := ss.Context()
	s := session.FromContext(ctx)
	for {
		in := new(wrapperspb.StringValue)
		if err := ss.RecvMsg(in); err != nil {
			if errors.Is(err, io.EOF) {
				return nil
			}
			return err
		}
		answer := "none"
		if s != nil {
			n, err := session.Update(ctx, s, "total", func(n int, _ bool) (int, error) { return n + len(in.GetValue()), nil })
			if err != nil {
				return status.Error(codes.Internal, err.Error())
			}
			answer = fmt.Sprint(n)
		}
		if err := ss.SendMsg(wrapperspb.String(answer)); err != nil {
			return err
		}
	}
}

// chat sends msgs one by one on a new stream, reading an answer after
// each, and returns the answers.
func chat(ctx context.Context, conn *grpc.ClientConn, msgs ...string) ([]string, error) {
	cs, err := conn.NewStream(ctx, chatDesc, streamMethod)
	if err != nil {
		return nil, err
	}
	var answers []string
	for _, m := range msgs {
		if err := cs.SendMsg(wrapperspb.String(m)); err != nil {
			break // the error is the stream's status, below
		}
		out := new(wrapperspb.StringValue)
		if err := cs.RecvMsg(out); err != nil {
			return answers, err
		}
		answers = append(answers, out.GetValue())
	}
	if err := cs.CloseSend(); err != nil {
		return answers, err
	}
	if err := cs.RecvMsg(new(wrapperspb.StringValue)); !errors.Is(err, io.EOF) {
		return answers, err
	}
	return answers, nil
}

// TestStreamAttachesSession streams with a session's token: the
// handler's stream context carries the session, each write during the
// stream is in the engine before the next message is answered, and the
// manager sees the total afterwards.
func TestStreamAttachesSession(t *testing.T) {
	engine := newEngine(t)
	h := sessiontest.New(t, session.WithStore(engine))
	token := h.Seed(map[string]any{"total": 1}).ID()
	// Another process on the same engine, which checks the engine on
	// every lookup (the tightest staleness bound).
	other := newManager(t, engine, session.WithMaxStaleness(time.Nanosecond))

	seen := make(chan int, 4) // one peek per message, and one before the end
	p := &probe{stream: func(ss grpc.ServerStream) error {
		return tally(&peekStream{ServerStream: ss, peek: func() {
			// Between messages: what has the engine got so far?
			if s, err := other.Load(context.Background(), token); err == nil {
				n, _, _ := session.Value[int](s, "total")
				seen <- n
			}
		}})
	}}
	conn := serve(t, h.Manager, p)

	answers, err := chat(grpcsession.WithToken(t.Context(), token), conn, "ab", "cde", "f")
	require.NoError(t, err)
	assert.Equal(t, []string{"3", "6", "7"}, answers)
	assert.Equal(t, 1, <-seen, "before the first message")
	assert.Equal(t, 3, <-seen, "the first write reached the engine during the stream")
	assert.Equal(t, 6, <-seen)

	n, ok := sessiontest.Value[int](h, "total")
	assert.True(t, ok)
	assert.Equal(t, 7, n)
}

// peekStream calls peek before each message it receives (but the one
// that ends the stream is not known until after).
type peekStream struct {
	grpc.ServerStream
	peek func()
}

func (p *peekStream) RecvMsg(m any) error {
	p.peek()
	return p.ServerStream.RecvMsg(m)
}

// TestStreamWithoutToken runs the stream handler without a session, and
// with Required refuses the stream with Unauthenticated before the
// handler runs.
func TestStreamWithoutToken(t *testing.T) {
	h := sessiontest.New(t)

	conn := serve(t, h.Manager, &probe{stream: tally})
	answers, err := chat(t.Context(), conn, "ab")
	require.NoError(t, err)
	assert.Equal(t, []string{"none"}, answers)

	p := &probe{stream: tally}
	conn = serve(t, h.Manager, p, grpcsession.Required())
	_, err = chat(t.Context(), conn, "ab")
	assert.Equal(t, codes.Unauthenticated, status.Code(err), err)
	assert.Zero(t, p.calls.Load(), "the handler did not run")
}

// TestStreamRefusesBadToken refuses a stream whose token names no live
// session, without echoing it, before the handler runs.
func TestStreamRefusesBadToken(t *testing.T) {
	h := sessiontest.New(t)
	token := h.Seed(map[string]any{"total": 1}).ID()
	h.With(func(ctx context.Context, s *session.Session) { require.NoError(t, s.Destroy(ctx)) })
	p := &probe{stream: tally}
	conn := serve(t, h.Manager, p)

	for _, tok := range []string{token, "garbage"} {
		_, err := chat(grpcsession.WithToken(t.Context(), tok), conn, "ab")
		st := status.Convert(err)
		assert.Equal(t, codes.Unauthenticated, st.Code(), st.Message())
		assert.NotContains(t, st.Message(), tok)
	}
	assert.Zero(t, p.calls.Load())
}

// TestStreamSessionEndsDuringStream destroys the session elsewhere (as
// a logout over HTTP would) in the middle of a stream: the stream's next
// write fails with session.ErrNotFound, since a detached session never
// revives a destroyed one.
func TestStreamSessionEndsDuringStream(t *testing.T) {
	h := sessiontest.New(t)
	token := h.Seed(map[string]any{"total": 1}).ID()
	peeks := 0
	p := &probe{stream: func(ss grpc.ServerStream) error {
		return tally(&peekStream{ServerStream: ss, peek: func() {
			if peeks++; peeks == 2 { // after the first message
				s, err := h.Manager.Load(context.Background(), token)
				if err == nil {
					err = s.Destroy(context.Background())
				}
				assert.NoError(t, err)
			}
		}})
	}}
	conn := serve(t, h.Manager, p)

	answers, err := chat(grpcsession.WithToken(t.Context(), token), conn, "ab", "cd")
	assert.Equal(t, []string{"3"}, answers)
	st := status.Convert(err)
	assert.Equal(t, codes.Internal, st.Code(), st.Message())
	assert.Contains(t, st.Message(), session.ErrNotFound.Error())
	_, err = h.Manager.Load(t.Context(), token)
	assert.ErrorIs(t, err, session.ErrNotFound, "the session stays destroyed")
}
