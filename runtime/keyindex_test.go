package session

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sessiongen/sessiongen/runtime/identity"
	"github.com/sessiongen/sessiongen/runtime/store"
)

func newTestEntry(t *testing.T) (*entry, string) {
	t.Helper()
	id, err := identity.NewID()
	require.NoError(t, err)
	e := &entry{id: id}
	return e, store.Key(id)
}

func TestEntryKeyIsTheEngineKey(t *testing.T) {
	for range 20 {
		e, key := newTestEntry(t)
		require.Equal(t, key, e.key())
		require.True(t, hasKey(e, key))
		require.False(t, hasKey(e, key[1:]+"A"))
		require.False(t, hasKey(e, key[:20]))
	}
	e, _ := newTestEntry(t)
	assert.Equal(t, 1.0, testing.AllocsPerRun(100, func() { _ = e.key() }), "the key string only")
	assert.Zero(t, testing.AllocsPerRun(100, func() { _ = hasKey(e, "x") }))
}

func TestKeyIndex(t *testing.T) {
	var x keyIndex
	x.init()
	a, ka := newTestEntry(t)
	b, kb := newTestEntry(t)
	assert.Nil(t, x.get(ka))

	x.put(ka, a)
	x.put(kb, b)
	assert.Same(t, a, x.get(ka))
	assert.Same(t, b, x.get(kb))
	assert.Nil(t, x.other(ka, a))
	assert.Nil(t, x.get("not a key"))

	// A newer copy of a's session replaces it; removing the old copy
	// then changes nothing.
	a2 := &entry{id: a.id}
	x.put(ka, a2)
	assert.Same(t, a2, x.get(ka))
	assert.Same(t, a2, x.other(ka, a))
	x.remove(ka, a)
	assert.Same(t, a2, x.get(ka))
	x.remove(ka, a2)
	assert.Nil(t, x.get(ka))
	assert.Same(t, b, x.get(kb))
}

// TestKeyIndexCollision gives two sessions the same hash slot (which
// takes 2^64 tries to happen by chance): neither shadows the other.
func TestKeyIndexCollision(t *testing.T) {
	var x keyIndex
	x.init()
	a, _ := newTestEntry(t)
	b, kb := newTestEntry(t)
	sh, h := x.shard(kb)
	sh.byHash = map[uint64]*entry{h: a} // a holds b's slot

	x.put(kb, b)
	assert.Same(t, b, x.get(kb), "b went to the side map")
	assert.Nil(t, x.other(kb, b))
	b2 := &entry{id: b.id}
	assert.Same(t, b, x.other(kb, b2))
	x.put(kb, b2)
	assert.Same(t, b2, x.get(kb))
	x.remove(kb, b)
	assert.Same(t, b2, x.get(kb))

	// Once a leaves the slot, b's next copy takes it and the side map
	// forgets b.
	sh.mu.Lock()
	delete(sh.byHash, h)
	sh.mu.Unlock()
	b3 := &entry{id: b.id}
	x.put(kb, b3)
	assert.Same(t, b3, x.get(kb))
	assert.Empty(t, sh.more)
	x.remove(kb, b3)
	assert.Nil(t, x.get(kb))
}
