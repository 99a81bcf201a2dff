package storetest

import (
	"context"
	"testing"

	"github.com/sessiongen/sessiongen/runtime/store"
	"github.com/stretchr/testify/require"
)

// testCreateCopiesInput: changing the Record's map or byte slices after
// Create does not change what the engine holds.
func testCreateCopiesInput(t *testing.T, s store.Store) {
	key := NewKey(t)
	rec := newRecord(fields("a", "1111", "b", "2222"))
	want := rec
	want.Fields = cloneFields(rec.Fields)
	mustCreate(t, s, key, rec)

	rec.Fields["a"][0] = 'X'
	rec.Fields["c"] = []byte("added")
	delete(rec.Fields, "b")
	requireRecord(t, want, mustLoad(t, s, key))
}

// testUpdateCopiesInput: changing the Change's map, slices or bytes after
// Update does not change what the engine holds.
func testUpdateCopiesInput(t *testing.T, s store.Store) {
	key := NewKey(t)
	rec := newRecord(fields("a", "1", "b", "2"))
	mustCreate(t, s, key, rec)

	c := store.Change{Set: fields("a", "aaaa", "n", "nnnn"), Remove: []string{"b"}}
	want := merged(rec.Fields, c.Set, c.Remove...)
	require.NoError(t, updateErr(context.Background(), s, key, c))

	c.Set["a"][0] = 'X'
	c.Set["n"] = []byte("replaced")
	c.Set["z"] = []byte("added")
	c.Remove[0] = "a"
	requireFields(t, want, mustLoad(t, s, key).Fields)
}

// testLoadReturnsCopy: changing what Load returned does not change the
// engine, and two Loads never share bytes.
func testLoadReturnsCopy(t *testing.T, s store.Store) {
	key := NewKey(t)
	rec := newRecord(fields("a", "1111", "b", "2222"))
	mustCreate(t, s, key, rec)

	got := mustLoad(t, s, key)
	got.Fields["a"][0] = 'X'
	got.Fields["a"] = append(got.Fields["a"], "appended"...)
	got.Fields["b"] = append(got.Fields["b"][:1], "!!!"...)
	got.Fields["c"] = []byte("added")
	requireRecord(t, rec, mustLoad(t, s, key))

	// Appending to one loaded value must not write into another.
	again := mustLoad(t, s, key)
	extended := append(again.Fields["a"], "XXXXXXXX"...)
	require.Equal(t, "1111XXXXXXXX", string(extended))
	requireFields(t, rec.Fields, again.Fields)
	requireFields(t, rec.Fields, mustLoad(t, s, key).Fields)
}
