package storetest

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/sessiongen/sessiongen/runtime/store"
	"github.com/stretchr/testify/require"
)

// testLoadMissing: a key never written loads as ErrNotFound.
func testLoadMissing(t *testing.T, s store.Store) {
	rec, err := s.Load(context.Background(), NewKey(t))
	require.ErrorIs(t, err, store.ErrNotFound)
	require.Empty(t, rec.Fields)
}

// awkwardFields returns fields whose keys and values trip up engines that
// treat bytes as text: binary values with NUL and invalid UTF-8, an empty
// value, non-ASCII keys and a key of the maximum length (128 bytes).
func awkwardFields() map[string][]byte {
	return map[string][]byte{
		"user":                   {0x92, 0xa3, 'b', 'o', 'b', 0x2a}, // msgpack-like
		"nul":                    {0x00, 0x01, 0x00, 0x00},
		"invalid-utf8":           {0xff, 0xfe, 0xc3, 0x28, 0x80},
		"empty":                  {},
		"ключ":                   []byte("значение"),
		"键":                      []byte("值"),
		"emoji 🍪":                []byte("🍪"),
		"with space and :|,=;":   []byte("x"),
		strings.Repeat("k", 128): []byte("max-length key"),
		"quote\"'\\":             []byte(`"'\`),
	}
}

// testCreateLoadRoundTrip: Create then Load gives back byte-equal fields
// and the exact (millisecond) times.
func testCreateLoadRoundTrip(t *testing.T, s store.Store) {
	key := NewKey(t)
	want := newRecord(awkwardFields())
	mustCreate(t, s, key, want)
	got := mustLoad(t, s, key)
	requireRecord(t, want, got)
	for k, v := range want.Fields {
		require.Containsf(t, got.Fields, k, "field %q", k)
		require.Equalf(t, len(v), len(got.Fields[k]), "length of field %q", k)
	}
}

// testCreateKeepsTimes: Created and Expires survive to the millisecond,
// whatever their age and precision.
func testCreateKeepsTimes(t *testing.T, s store.Store) {
	t.Run("WholeMilliseconds", func(t *testing.T) {
		key := NewKey(t)
		want := store.Record{
			Fields:  fields("a", "1"),
			Created: time.Date(2001, 2, 3, 4, 5, 6, 789_000_000, time.UTC),
			Expires: msTime(24 * time.Hour * 365 * 10),
		}
		mustCreate(t, s, key, want)
		requireRecord(t, want, mustLoad(t, s, key))
	})
	t.Run("Nanoseconds", func(t *testing.T) {
		key := NewKey(t)
		now := time.Now()
		want := store.Record{
			Fields:  fields("a", "1"),
			Created: now.Add(-123456789 * time.Nanosecond),
			Expires: now.Add(time.Hour + 987654321*time.Nanosecond),
		}
		mustCreate(t, s, key, want)
		got := mustLoad(t, s, key)
		require.WithinDuration(t, want.Created, got.Created, time.Millisecond, "Created")
		require.WithinDuration(t, want.Expires, got.Expires, time.Millisecond, "Expires")
	})
	t.Run("OtherLocation", func(t *testing.T) {
		key := NewKey(t)
		zone := time.FixedZone("UTC+5:30", 5*3600+1800)
		want := store.Record{
			Fields:  fields("a", "1"),
			Created: msTime(0).In(zone),
			Expires: msTime(time.Hour).In(zone),
		}
		mustCreate(t, s, key, want)
		requireRecord(t, want, mustLoad(t, s, key))
	})
}

// testCreateNoFields: a session without fields exists and loads with an
// empty, non-nil map, whether Fields was nil or empty.
func testCreateNoFields(t *testing.T, s store.Store) {
	for name, f := range map[string]map[string][]byte{"Nil": nil, "Empty": {}} {
		t.Run(name, func(t *testing.T) {
			key := NewKey(t)
			rec := newRecord(f)
			mustCreate(t, s, key, rec)
			got := mustLoad(t, s, key)
			require.NotNil(t, got.Fields)
			require.Empty(t, got.Fields)
			requireTime(t, rec.Created, got.Created, "Created")
			requireTime(t, rec.Expires, got.Expires, "Expires")
		})
	}
}

// testCreateLive: Create on a live key fails with ErrExists and leaves the
// original as it was: fields, times, owner and version.
func testCreateLive(t *testing.T, s store.Store) {
	ctx := context.Background()
	key := NewKey(t)
	orig := newRecord(fields("a", "1", "b", "2"))
	orig.Owner = newOwner(t, "alice")
	mustCreate(t, s, key, orig)
	requireUpdate(t, s, key, store.Change{Set: fields("b", "22")}, 2)
	orig.Fields["b"] = []byte("22")
	orig.Version = 2

	other := store.Record{
		Fields:  fields("a", "changed", "c", "3"),
		Created: msTime(time.Minute),
		Expires: msTime(2 * time.Hour),
		Version: 1,
		Owner:   newOwner(t, "mallory"),
	}
	err := s.Create(ctx, key, other)
	require.ErrorIs(t, err, store.ErrExists)
	requireRecord(t, orig, mustLoad(t, s, key))
}

// testCreateAfterDelete: a deleted key can be created again and holds only
// the new fields.
func testCreateAfterDelete(t *testing.T, s store.Store) {
	ctx := context.Background()
	key := NewKey(t)
	old := newRecord(fields("old", "1", "shared", "old"))
	old.Owner = newOwner(t, "old")
	mustCreate(t, s, key, old)
	requireUpdate(t, s, key, store.Change{Set: fields("more", "1")}, 2)
	requireUpdate(t, s, key, store.Change{Expires: msTime(2 * time.Hour)}, 3)
	require.NoError(t, s.Delete(ctx, key))

	// The new session starts over at version 1, with its own owner.
	want := newRecord(fields("new", "2", "shared", "new"))
	mustCreate(t, s, key, want)
	requireRecord(t, want, mustLoad(t, s, key))
}

// testLargeSession: a session at the default size limit (about 1 KB in 40
// fields) round-trips, and so does rewriting every field of it.
func testLargeSession(t *testing.T, s store.Store) {
	key := NewKey(t)
	f := make(map[string][]byte, 40)
	size := 0
	for i := range 40 {
		k := fmt.Sprintf("field-%02d", i)
		v := make([]byte, 17)
		for j := range v {
			v[j] = byte(i*31 + j*7)
		}
		f[k] = v
		size += len(k) + len(v)
	}
	require.InDelta(t, 1000, size, 50, "test data should be about 1 KB")

	want := newRecord(f)
	mustCreate(t, s, key, want)
	requireRecord(t, want, mustLoad(t, s, key))

	set := make(map[string][]byte, len(f))
	for k, v := range f {
		set[k] = append([]byte("new"), v[3:]...)
	}
	requireUpdate(t, s, key, store.Change{Set: set}, 2)
	want.Fields, want.Version = set, 2
	requireRecord(t, want, mustLoad(t, s, key))
}

// testKeysAreIndependent: writes to one session never show in another.
func testKeysAreIndependent(t *testing.T, s store.Store) {
	ctx := context.Background()
	k1, k2 := NewKey(t), NewKey(t)
	r1 := newRecord(fields("a", "1", "same", "one"))
	r2 := newRecord(fields("b", "2", "same", "two"))
	mustCreate(t, s, k1, r1)
	mustCreate(t, s, k2, r2)

	requireUpdate(t, s, k1, store.Change{Set: fields("same", "changed"), Remove: []string{"a"}, Owner: ptr(newOwner(t, "one"))}, 2)
	requireRecord(t, r2, mustLoad(t, s, k2))

	require.NoError(t, s.Delete(ctx, k1))
	requireNotFound(t, s, k1)
	requireRecord(t, r2, mustLoad(t, s, k2))
}
