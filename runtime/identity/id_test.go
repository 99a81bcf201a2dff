package identity

import (
	"encoding/base64"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestNewID(t *testing.T) {
	seen := make(map[string]bool)
	for range 1000 {
		id, err := NewID()
		require.NoError(t, err)
		require.Len(t, id, IDLen)
		require.True(t, ValidID(id), "NewID gave an invalid ID")
		b, err := base64.RawURLEncoding.Strict().DecodeString(id)
		require.NoError(t, err)
		require.Len(t, b, IDBytes)
		require.False(t, seen[id], "duplicate ID")
		seen[id] = true
	}
}

func TestValidID(t *testing.T) {
	id, err := NewID()
	require.NoError(t, err)

	valid := []string{
		id,
		strings.Repeat("A", IDLen),
		strings.Repeat("_", IDLen-1) + "w", // 'w' = 48: low two bits clear
		base64.RawURLEncoding.EncodeToString(make([]byte, IDBytes)),
	}
	for _, s := range valid {
		assert.True(t, ValidID(s), "%q", s)
	}

	invalid := []string{
		"",
		id[:IDLen-1],
		id + "A",
		strings.Repeat("A", IDLen-1) + "B", // non-canonical: low bits set
		strings.Repeat("A", IDLen-1) + "_",
		strings.Repeat("A", IDLen-1) + "=",
		strings.Repeat("+", IDLen),         // standard, not URL alphabet
		strings.Repeat("/", IDLen),         // standard, not URL alphabet
		strings.Repeat("A", IDLen-2) + "é", // non-ASCII, 2 bytes
		strings.Repeat("A", IDLen-1) + "\x00",
		strings.Repeat("A", 20) + " " + strings.Repeat("A", 22),
		strings.Repeat("A", 8192),
		base64.RawURLEncoding.EncodeToString(make([]byte, 31)),
		base64.URLEncoding.EncodeToString(make([]byte, IDBytes)), // padded
	}
	for _, s := range invalid {
		assert.False(t, ValidID(s), "%q", s)
	}
}

// TestValidIDCanonical checks ValidID against the strict decoder for every
// possible last character.
func TestValidIDCanonical(t *testing.T) {
	prefix := strings.Repeat("A", IDLen-1)
	for c := 0; c < 256; c++ {
		s := prefix + string([]byte{byte(c)})
		b, err := base64.RawURLEncoding.Strict().DecodeString(s)
		want := err == nil && len(b) == IDBytes
		assert.Equal(t, want, ValidID(s), "last byte %#x", c)
	}
}

func TestValidIDAllocs(t *testing.T) {
	id, err := NewID()
	require.NoError(t, err)
	bad := strings.Repeat("é", 4096)
	allocs := testing.AllocsPerRun(100, func() {
		if !ValidID(id) || ValidID(bad) {
			t.Fatal("wrong answer")
		}
	})
	assert.Zero(t, allocs)
}

func BenchmarkNewID(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		if _, err := NewID(); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkValidID(b *testing.B) {
	id, err := NewID()
	require.NoError(b, err)
	b.ReportAllocs()
	for b.Loop() {
		if !ValidID(id) {
			b.Fatal("invalid")
		}
	}
}
