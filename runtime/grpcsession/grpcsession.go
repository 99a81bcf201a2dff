// Package grpcsession carries sessiongen sessions into gRPC calls: server
// interceptors read a session token from the call's incoming metadata,
// load the session with [session.Manager.Load] and attach it to the
// handler's context, where [session.FromContext] and the generated
// TFrom(ctx) find it, as in an HTTP handler behind [session.Manager.Handler].
//
//	srv := grpc.NewServer(
//		grpc.ChainUnaryInterceptor(grpcsession.UnaryServerInterceptor(m)),
//		grpc.ChainStreamInterceptor(grpcsession.StreamServerInterceptor(m)),
//	)
//
// The client sends the token its HTTP login handed out (the ID a header
// or cookie identity carries) under the metadata key "session-token"
// ([DefaultMetadataKey]; see [WithMetadataKey] and [WithScheme] for
// "authorization: Bearer <token>"), for instance with [WithToken].
//
// What a call gets:
//
//   - No token: the handler runs without a session ([session.FromContext]
//     returns nil, whose methods all return errors wrapping
//     [session.ErrNoSession]), unless [Required] makes the call fail with
//     codes.Unauthenticated.
//   - A token that is malformed, forged (see [WithSigner]), unknown,
//     expired or destroyed, or sent more than once: codes.Unauthenticated;
//     the handler does not run.
//   - The engine failing: codes.Unavailable (the condition is transient
//     and the call may be retried, as gRPC's guidance for that code
//     says), logged on the server (see [WithLogger]). A call whose
//     context ended first gets codes.Canceled or codes.DeadlineExceeded.
//
// No status message, log line or error of this package holds the token.
//
// Sessions in gRPC calls are those of [session.Manager.Load]: every write
// goes to the engine at once, whatever the flush mode; a call never
// creates a session (a client without one logs in over HTTP first);
// [session.Session.Renew] gives the session a new ID, which the handler
// delivers itself (for instance in a response header with
// grpc.SetHeader, signed with [identity.Signer.Sign] when tokens are
// signed). A session is for one goroutine at a time: a stream handler
// that reads and writes it from several goroutines serializes them.
package grpcsession

import (
	"context"

	"google.golang.org/grpc"

	session "github.com/sessiongen/sessiongen/runtime"
)

// UnaryServerInterceptor returns an interceptor that attaches the session
// named by the call's token to the handler's context (see the package
// documentation for missing and invalid tokens). It panics when m is nil
// or an option is invalid: a server misconfigured this way should not
// start.
func UnaryServerInterceptor(m *session.Manager, opts ...Option) grpc.UnaryServerInterceptor {
	c := newConfig(m, opts)
	return func(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
		s, err := c.load(ctx, info.FullMethod)
		if err != nil {
			return nil, err
		}
		if s != nil {
			ctx = c.m.Context(ctx, s)
		}
		return handler(ctx, req)
	}
}

// StreamServerInterceptor returns an interceptor that attaches the
// session named by the stream's token to the stream's context: the
// handler's grpc.ServerStream returns it from Context(). The session is
// loaded once, when the stream starts; its writes go to the engine at
// once, during the stream. It panics when m is nil or an option is
// invalid.
func StreamServerInterceptor(m *session.Manager, opts ...Option) grpc.StreamServerInterceptor {
	c := newConfig(m, opts)
	return func(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
		ctx := ss.Context()
		s, err := c.load(ctx, info.FullMethod)
		if err != nil {
			return err
		}
		if s != nil {
			ss = &serverStream{ServerStream: ss, ctx: c.m.Context(ctx, s)}
		}
		return handler(srv, ss)
	}
}

// serverStream is a grpc.ServerStream whose context carries the session.
type serverStream struct {
	grpc.ServerStream
	ctx context.Context
}

// Context returns the stream's context with the session attached.
func (s *serverStream) Context() context.Context { return s.ctx }
