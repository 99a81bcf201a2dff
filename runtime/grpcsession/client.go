package grpcsession

import (
	"context"

	"google.golang.org/grpc/metadata"
)

// WithToken returns a copy of ctx whose outgoing metadata carries token,
// for a client calling a server that uses the interceptors: under the
// metadata key and scheme that opts name, which must be those the
// server's interceptors were given (other options do not matter here).
// It replaces a token ctx already carries, keeps the rest of its
// outgoing metadata, and with an empty token removes the token. It
// panics when an option is invalid.
func WithToken(ctx context.Context, token string, opts ...Option) context.Context {
	c := options(opts)
	md, _ := metadata.FromOutgoingContext(ctx) // a copy, nil when none
	if md == nil {
		md = metadata.MD{}
	}
	if token == "" {
		md.Delete(c.key)
	} else if c.scheme != "" {
		md.Set(c.key, c.scheme+" "+token)
	} else {
		md.Set(c.key, token)
	}
	return metadata.NewOutgoingContext(ctx, md)
}
