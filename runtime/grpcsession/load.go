package grpcsession

import (
	"context"
	"errors"
	"log/slog"
	"strings"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	session "github.com/sessiongen/sessiongen/runtime"
	"github.com/sessiongen/sessiongen/runtime/identity"
)

// Status messages. None holds the token, so a client's logs of failed
// calls do not either.
const (
	msgMissing   = "grpcsession: missing session token"
	msgMany      = "grpcsession: more than one session token"
	msgMalformed = "grpcsession: malformed session token"
	msgUnknown   = "grpcsession: unknown or expired session token"
	msgEngine    = "grpcsession: session store unavailable"
	msgCanceled  = "grpcsession: loading the session: context canceled"
	msgDeadline  = "grpcsession: loading the session: deadline exceeded"
)

// load returns the session named by the token in ctx's incoming
// metadata, nil when there is no token (and none is required), or a
// status error for the client. method names the call in log lines.
func (c *config) load(ctx context.Context, method string) (*session.Session, error) {
	id, err := c.id(ctx)
	if err != nil || id == "" {
		return nil, err
	}
	s, err := c.m.Load(ctx, id)
	if err != nil {
		return nil, c.status(ctx, method, err)
	}
	return s, nil
}

// id returns the session ID the call's token carries, "" when there is
// none and none is required. It refuses a malformed or forged token
// before any cache or engine lookup.
func (c *config) id(ctx context.Context) (string, error) {
	vs := metadata.ValueFromIncomingContext(ctx, c.key)
	if len(vs) > 1 {
		return "", status.Error(codes.Unauthenticated, msgMany)
	}
	var tok string
	if len(vs) == 1 {
		tok = c.token(vs[0])
	}
	if tok == "" {
		if c.required {
			return "", status.Errorf(codes.Unauthenticated, "%s (metadata key %q)", msgMissing, c.key)
		}
		return "", nil
	}
	if c.signer != nil {
		id, ok := c.signer.Verify(tok)
		if !ok {
			return "", status.Error(codes.Unauthenticated, msgMalformed)
		}
		return id, nil
	}
	if !identity.ValidID(tok) {
		return "", status.Error(codes.Unauthenticated, msgMalformed)
	}
	return tok, nil
}

// token returns the token in the metadata value v: v without surrounding
// spaces and, with a scheme, without the scheme; "" when v is empty or
// names another scheme.
func (c *config) token(v string) string {
	v = strings.Trim(v, " \t")
	if c.scheme == "" {
		return v
	}
	scheme, rest, ok := strings.Cut(v, " ")
	if !ok || !strings.EqualFold(scheme, c.scheme) {
		return ""
	}
	return strings.Trim(rest, " \t")
}

// status turns an error of [session.Manager.Load] into the call's status
// error: an unknown or expired session is the client's problem
// (Unauthenticated), the call's own end is reported as such, and
// anything else is the engine's (Unavailable, logged here: the client is
// not told the engine's error, which may name hosts and addresses).
func (c *config) status(ctx context.Context, method string, err error) error {
	switch {
	case errors.Is(err, session.ErrNotFound):
		return status.Error(codes.Unauthenticated, msgUnknown)
	case errors.Is(err, context.Canceled):
		return status.Error(codes.Canceled, msgCanceled)
	case errors.Is(err, context.DeadlineExceeded):
		return status.Error(codes.DeadlineExceeded, msgDeadline)
	}
	c.logger().ErrorContext(ctx, "grpcsession: loading the session failed",
		slog.String("method", method), slog.Any("err", err))
	return status.Error(codes.Unavailable, msgEngine)
}
