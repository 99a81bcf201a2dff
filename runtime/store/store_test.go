package store_test

import (
	"errors"
	"fmt"
	"regexp"
	"testing"
	"time"

	"github.com/sessiongen/sessiongen/runtime/store"
	"github.com/stretchr/testify/require"
)

func TestKeyKnownDigests(t *testing.T) {
	// SHA-256 test vectors, unpadded base64url.
	require.Equal(t, "47DEQpj8HBSa-_TImW-5JCeuQeRkm5NMpJWZG3hSuFU", store.Key(""))
	require.Equal(t, "ungWv48Bz-pBQUDeXa4iI7ADYaOWF3qctBD_YfIAFa0", store.Key("abc"))
}

func TestKeyShape(t *testing.T) {
	shape := regexp.MustCompile(`^[A-Za-z0-9_-]{43}$`)
	ids := []string{"", "x", "a session ID", "ключ", string([]byte{0, 0xff, 0xfe}), string(make([]byte, 8192))}
	seen := map[string]string{}
	for _, id := range ids {
		k := store.Key(id)
		require.Regexp(t, shape, k)
		require.Equal(t, k, store.Key(id), "Key is deterministic")
		prev, dup := seen[k]
		require.Falsef(t, dup, "ids %q and %q share a key", prev, id)
		seen[k] = id
	}
}

func TestChangeEmpty(t *testing.T) {
	cases := []struct {
		name  string
		c     store.Change
		empty bool
	}{
		{"Zero", store.Change{}, true},
		{"EmptyMaps", store.Change{Set: map[string][]byte{}, Remove: []string{}}, true},
		{"Set", store.Change{Set: map[string][]byte{"a": nil}}, false},
		{"Remove", store.Change{Remove: []string{"a"}}, false},
		{"Touch", store.Change{Expires: time.Unix(1, 0)}, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			require.Equal(t, c.empty, c.c.Empty())
		})
	}
}

func TestErrorsAreDistinct(t *testing.T) {
	wrapped := fmt.Errorf("someengine: load: %w", store.ErrNotFound)
	require.ErrorIs(t, wrapped, store.ErrNotFound)
	require.False(t, errors.Is(wrapped, store.ErrExists))
	require.NotEqual(t, store.ErrNotFound.Error(), store.ErrExists.Error())
}

func ExampleKey() {
	// The manager hands engines the digest of a session ID, never the ID.
	fmt.Println(store.Key("abc"))
	// Output: ungWv48Bz-pBQUDeXa4iI7ADYaOWF3qctBD_YfIAFa0
}
