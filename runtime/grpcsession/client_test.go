package grpcsession_test

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"google.golang.org/grpc/metadata"

	"github.com/sessiongen/sessiongen/runtime/grpcsession"
)

// TestWithToken puts the token in the outgoing metadata under the
// configured key and scheme, replaces a token already there, removes it
// when empty, and keeps the other metadata.
func TestWithToken(t *testing.T) {
	ctx := metadata.AppendToOutgoingContext(t.Context(), "x-trace", "t1", grpcsession.DefaultMetadataKey, "stale")

	md, _ := metadata.FromOutgoingContext(grpcsession.WithToken(ctx, "fresh"))
	assert.Equal(t, []string{"fresh"}, md.Get(grpcsession.DefaultMetadataKey), "replaced, not appended")
	assert.Equal(t, []string{"t1"}, md.Get("x-trace"))

	md, _ = metadata.FromOutgoingContext(grpcsession.WithToken(ctx, ""))
	assert.Empty(t, md.Get(grpcsession.DefaultMetadataKey), "removed")
	assert.Equal(t, []string{"t1"}, md.Get("x-trace"))

	bearer := grpcsession.WithToken(t.Context(), "tok",
		grpcsession.WithMetadataKey("Authorization"), grpcsession.WithScheme("Bearer"))
	md, _ = metadata.FromOutgoingContext(bearer)
	assert.Equal(t, metadata.MD{"authorization": {"Bearer tok"}}, md)

	md, _ = metadata.FromOutgoingContext(ctx)
	assert.Equal(t, []string{"stale"}, md.Get(grpcsession.DefaultMetadataKey), "the parent context is unchanged")
}
