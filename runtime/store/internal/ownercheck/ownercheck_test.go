package ownercheck

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sessiongen/sessiongen/runtime/store"
)

func TestCheck(t *testing.T) {
	for _, ok := range []string{"", "user-1", strings.Repeat("x", 8), strings.Repeat("ж", 4)} {
		assert.NoError(t, Check(ok, 8), "%q", ok)
	}
	for bad, msg := range map[string]string{
		strings.Repeat("x", 9): "owner longer than 8 bytes",
		"user\xff":             "owner is not valid UTF-8",
		"us\x00er":             "owner holds a NUL byte",
	} {
		err := Check(bad, 8)
		require.ErrorIs(t, err, store.ErrInvalid, "%q", bad)
		assert.ErrorContains(t, err, msg)
	}
}
