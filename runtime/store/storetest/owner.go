package storetest

import (
	"strings"
	"testing"
	"time"

	"github.com/sessiongen/sessiongen/runtime/store"
	"github.com/stretchr/testify/require"
)

// awkwardOwners returns owner texts that trip up engines that build keys,
// patterns or queries from them, or compare text loosely. Each starts
// with prefix, so runs sharing a backend do not see each other's
// sessions; pairs that differ only in case, accents, a trailing space or
// a suffix must stay distinct owners.
func awkwardOwners(prefix string) []string {
	owners := []string{
		"user-42",
		"USER-42",           // differs from the one above in case only
		"user-42 ",          // trailing space (PAD SPACE collations)
		"user-4",            // a prefix of the above
		"user-42:",          // the above with a separator appended
		"Алиса",             // Cyrillic
		"用户",                // CJK
		"e", "é", "e\u0301", // plain, precomposed and combining accent
		"emoji 🍪",               // outside the BMP
		`quote"'\`,              // quotes and a backslash
		"a:b:c",                 // separators engines like to use
		"{x}",                   // a Redis Cluster hash tag
		"{",                     // half a hash tag
		"%_*?[]^$.+()|",         // LIKE, glob and regexp wildcards
		"'; DROP TABLE s; --",   // SQL text
		"#sessions/owners/../x", // path-like
		"0",                     // a number
		"null",                  // a JSON-ish keyword
	}
	// Long owners: 200 bytes of ASCII and of two-byte characters.
	owners = append(owners,
		strings.Repeat("o", 200-len(prefix)),
		strings.Repeat("ж", (200-len(prefix))/2),
	)
	for i, o := range owners {
		owners[i] = prefix + o
	}
	return owners
}

// testOwnerCreate: Create stores the Record's owner, whatever its text,
// and Load returns it; no owner loads as "".
func testOwnerCreate(t *testing.T, s store.Store) {
	for _, owner := range append(awkwardOwners("o:"), "") {
		key := NewKey(t)
		want := newRecord(fields("a", "1"))
		want.Owner = owner
		mustCreate(t, s, key, want)
		got := mustLoad(t, s, key)
		require.Equalf(t, owner, got.Owner, "Owner of a session created with owner %q", owner)
		requireRecord(t, want, got)
	}
}

// testOwnerChange: Change.Owner sets, replaces and clears the owner,
// together with the rest of the change; a nil Owner leaves it alone.
func testOwnerChange(t *testing.T, s store.Store) {
	key, rec := createBase(t, s)
	alice, bob, carol, dave := newOwner(t, "alice"), newOwner(t, "bob"), newOwner(t, "carol"), newOwner(t, "dave")
	steps := []struct {
		name  string
		c     store.Change
		owner string
	}{
		{"NilKeepsNone", store.Change{Set: fields("a", "11")}, ""},
		{"Set", store.Change{Owner: ptr(alice)}, alice},
		{"NilKeeps", store.Change{Set: fields("b", "22"), Remove: []string{"c"}}, alice},
		{"TouchKeeps", store.Change{Expires: msTime(2 * time.Hour)}, alice},
		{"EmptyKeeps", store.Change{}, alice},
		{"Replace", store.Change{Owner: ptr(bob)}, bob},
		{"SameAgain", store.Change{Owner: ptr(bob)}, bob},
		{"WithFields", store.Change{Set: fields("d", "4"), Remove: []string{"a"}, Expires: msTime(3 * time.Hour), Owner: ptr(carol)}, carol},
		{"Clear", store.Change{Owner: ptr("")}, ""},
		{"ClearAgain", store.Change{Owner: ptr("")}, ""},
		{"SetAfterClear", store.Change{Set: fields("e", "5"), Owner: ptr(dave)}, dave},
	}
	want := rec
	for i, st := range steps {
		want.Fields = merged(want.Fields, st.c.Set, st.c.Remove...)
		if !st.c.Expires.IsZero() {
			want.Expires = st.c.Expires
		}
		want.Owner = st.owner
		want.Version = uint64(2 + i)
		v, err := s.Update(t.Context(), key, st.c)
		require.NoErrorf(t, err, "Update %s", st.name)
		require.Equalf(t, want.Version, v, "version returned by Update %s", st.name)
		got := mustLoad(t, s, key)
		require.Equalf(t, want.Owner, got.Owner, "Owner after Update %s", st.name)
		requireRecord(t, want, got)
	}
}
