package boltstore

import (
	"context"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sessiongen/sessiongen/runtime/store"
	"github.com/sessiongen/sessiongen/runtime/store/internal/group"
	"github.com/sessiongen/sessiongen/runtime/store/storetest"
)

// heldStore is a Store whose committer records the size of every group
// and, after hold, keeps the next group waiting until release, so that
// the writes of a test line up behind it and go in one group.
type heldStore struct {
	*Store
	release chan struct{}
	mu      sync.Mutex
	armed   bool
	sizes   []int
}

func openHeld(t *testing.T, opts ...Option) *heldStore {
	t.Helper()
	h := &heldStore{Store: openTest(t, "", opts...), release: make(chan struct{})}
	c := defaultConfig()
	for _, o := range opts {
		o(&c)
	}
	h.group = group.New(c.maxGroup, func(ctx context.Context, ws []write) []error {
		h.mu.Lock()
		h.sizes = append(h.sizes, len(ws))
		wait := h.armed
		h.armed = false
		h.mu.Unlock()
		if wait {
			<-h.release
		}
		return h.send(ctx, ws)
	})
	return h
}

// hold starts a write that holds the committer until release, waits
// until it is in flight, and forgets the groups before it.
func (h *heldStore) hold(t *testing.T) (done chan error) {
	t.Helper()
	h.mu.Lock()
	h.armed, h.sizes = true, nil
	h.mu.Unlock()
	key := storetest.NewKey(t)
	done = make(chan error, 1)
	go func() { done <- h.Create(context.Background(), key, record(time.Hour)) }()
	require.Eventually(t, func() bool {
		h.mu.Lock()
		defer h.mu.Unlock()
		return len(h.sizes) == 1
	}, 10*time.Second, time.Millisecond, "the first write in flight")
	return done
}

// lineUp waits until n writes wait behind the held one.
func (h *heldStore) lineUp(t *testing.T, n int) {
	t.Helper()
	require.Eventually(t, func() bool { return h.group.Waiting() == n }, 10*time.Second, time.Millisecond, "%d writes waiting", n)
}

func (h *heldStore) groupSizes() []int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]int(nil), h.sizes...)
}

func TestGroupCommitManyUpdatesOneTransaction(t *testing.T) {
	ctx := context.Background()
	h := openHeld(t)
	const n = 48
	keys := make([]string, n)
	for i := range keys {
		keys[i] = storetest.NewKey(t)
	}
	held := h.hold(t)
	var created sync.WaitGroup
	for _, k := range keys[:8] { // created while the first is held: they wait
		created.Go(func() { assert.NoError(t, h.Create(ctx, k, record(time.Hour, "n", "0"))) })
	}
	h.lineUp(t, 8)
	close(h.release)
	require.NoError(t, <-held)
	created.Wait()
	assert.Equal(t, []int{1, 8}, h.groupSizes(), "the eight creates waiting behind the held one went in one transaction")
	for _, k := range keys[8:] {
		require.NoError(t, h.Create(ctx, k, record(time.Hour, "n", "0")))
	}

	_, itemsBefore := h.group.Stats()
	var wg sync.WaitGroup
	versions := make([]uint64, n)
	for i, k := range keys {
		wg.Go(func() {
			v, err := h.Update(ctx, k, store.Change{Set: map[string][]byte{"n": []byte("1")}})
			assert.NoError(t, err)
			versions[i] = v
		})
	}
	wg.Wait()
	for i, k := range keys {
		assert.Equal(t, uint64(2), versions[i], "key %d", i)
		rec, err := h.Load(ctx, k)
		require.NoError(t, err)
		assert.Equal(t, "1", string(rec.Fields["n"]))
	}
	_, items := h.group.Stats()
	assert.Equal(t, uint64(n), items-itemsBefore)
	requireConsistent(t, h.Store)
}

func TestGroupCommitRefusalsFailAlone(t *testing.T) {
	ctx := context.Background()
	h := openHeld(t)
	existing := storetest.NewKey(t)
	guarded := storetest.NewKey(t)
	good := storetest.NewKey(t)
	for _, k := range []string{existing, guarded, good} {
		require.NoError(t, h.Create(ctx, k, record(time.Hour, "n", "0")))
	}
	held := h.hold(t)

	type result struct {
		name string
		err  error
	}
	results := make(chan result, 10)
	run := func(name string, f func() error) {
		go func() { results <- result{name, f()} }()
	}
	fresh := storetest.NewKey(t)
	run("missing", func() error {
		_, err := h.Update(ctx, storetest.NewKey(t), store.Change{Set: map[string][]byte{"n": []byte("1")}})
		return err
	})
	run("conflict", func() error {
		_, err := h.Update(ctx, guarded, store.Change{Set: map[string][]byte{"n": []byte("1")}, Expect: map[string][]byte{"n": []byte("9")}})
		return err
	})
	run("too large", func() error {
		_, err := h.Update(ctx, existing, store.Change{Set: map[string][]byte{"big": make([]byte, 2000)}, MaxSize: 1024})
		return err
	})
	run("exists", func() error { return h.Create(ctx, existing, record(time.Hour)) })
	run("good update", func() error {
		_, err := h.Update(ctx, good, store.Change{Set: map[string][]byte{"n": []byte("1")}})
		return err
	})
	run("good create", func() error { return h.Create(ctx, fresh, record(time.Hour, "a", "b")) })
	h.lineUp(t, 6)
	close(h.release)
	require.NoError(t, <-held)
	got := map[string]error{}
	for range 6 {
		r := <-results
		got[r.name] = r.err
	}
	assert.ErrorIs(t, got["missing"], store.ErrNotFound)
	assert.ErrorIs(t, got["conflict"], store.ErrConflict)
	assert.ErrorIs(t, got["too large"], store.ErrTooLarge)
	assert.ErrorIs(t, got["exists"], store.ErrExists)
	assert.NoError(t, got["good update"])
	assert.NoError(t, got["good create"])
	assert.Equal(t, []int{1, 6}, h.groupSizes(), "all six went in one transaction")

	rec, err := h.Load(ctx, good)
	require.NoError(t, err)
	assert.Equal(t, "1", string(rec.Fields["n"]))
	assert.Equal(t, uint64(2), rec.Version)
	_, err = h.Load(ctx, fresh)
	require.NoError(t, err)
	rec, err = h.Load(ctx, guarded)
	require.NoError(t, err)
	assert.Equal(t, "0", string(rec.Fields["n"]), "the refused write wrote nothing")
	rec, err = h.Load(ctx, existing)
	require.NoError(t, err)
	assert.NotContains(t, rec.Fields, "big")
	requireConsistent(t, h.Store)
}

func TestGroupCommitSameKeyInOrder(t *testing.T) {
	ctx := context.Background()
	h := openHeld(t)
	key := storetest.NewKey(t)
	require.NoError(t, h.Create(ctx, key, record(time.Hour, "n", "0")))
	held := h.hold(t)
	first, second := make(chan uint64, 1), make(chan error, 1)
	go func() {
		v, err := h.Update(ctx, key, store.Change{Set: map[string][]byte{"n": []byte("1")}, Expect: map[string][]byte{"n": []byte("0")}})
		assert.NoError(t, err)
		first <- v
	}()
	h.lineUp(t, 1)
	go func() {
		// Expects what the first one wrote: it sees it, in the same
		// transaction.
		_, err := h.Update(ctx, key, store.Change{Set: map[string][]byte{"n": []byte("2")}, Expect: map[string][]byte{"n": []byte("1")}})
		second <- err
	}()
	h.lineUp(t, 2)
	close(h.release)
	require.NoError(t, <-held)
	assert.Equal(t, uint64(2), <-first)
	require.NoError(t, <-second)
	rec, err := h.Load(ctx, key)
	require.NoError(t, err)
	assert.Equal(t, uint64(3), rec.Version)
	assert.Equal(t, "2", string(rec.Fields["n"]))
	assert.Equal(t, []int{1, 2}, h.groupSizes())
}

func TestGroupCommitFailedTransactionRunsEachAlone(t *testing.T) {
	ctx := context.Background()
	h := openHeld(t)
	held := h.hold(t)
	// bbolt refuses a key over 32 KiB when it is put: an error of the
	// whole transaction, not a refusal of the write.
	long := strings.Repeat("k", 40000)
	bad := make(chan error, 1)
	go func() { bad <- h.Create(ctx, long, record(time.Hour)) }()
	h.lineUp(t, 1)
	goodKeys := []string{storetest.NewKey(t), storetest.NewKey(t)}
	good := make(chan error, 2)
	for _, k := range goodKeys {
		go func() { good <- h.Create(ctx, k, record(time.Hour, "a", "b")) }()
	}
	h.lineUp(t, 3)
	close(h.release)
	require.NoError(t, <-held)
	assert.Error(t, <-bad, "the write that breaks the transaction fails")
	require.NoError(t, <-good, "its batch-mates land")
	require.NoError(t, <-good)
	for _, k := range goodKeys {
		_, err := h.Load(ctx, k)
		assert.NoError(t, err)
	}
	assert.Equal(t, []int{1, 3}, h.groupSizes(), "one group of three (its writes ran again alone inside it)")
	requireConsistent(t, h.Store)
}

func TestWithMaxGroup(t *testing.T) {
	_, err := Open(filepath.Join(t.TempDir(), "s.db"), WithMaxGroup(0))
	assert.ErrorContains(t, err, "WithMaxGroup(0)")

	ctx := context.Background()
	h := openHeld(t, WithMaxGroup(1))
	held := h.hold(t)
	done := make(chan error, 3)
	for range 3 {
		key := storetest.NewKey(t)
		go func() { done <- h.Create(ctx, key, record(time.Hour)) }()
	}
	h.lineUp(t, 3)
	close(h.release)
	require.NoError(t, <-held)
	for range 3 {
		require.NoError(t, <-done)
	}
	assert.Equal(t, []int{1, 1, 1, 1}, h.groupSizes(), "every write alone")
}

func TestGroupCommitWithdrawsAGiveUp(t *testing.T) {
	h := openHeld(t)
	held := h.hold(t)
	ctx, cancel := context.WithCancel(context.Background())
	key := storetest.NewKey(t)
	gaveUp := make(chan error, 1)
	go func() { gaveUp <- h.Create(ctx, key, record(time.Hour)) }()
	h.lineUp(t, 1)
	cancel()
	assert.ErrorIs(t, <-gaveUp, context.Canceled)
	close(h.release)
	require.NoError(t, <-held)
	_, err := h.Load(context.Background(), key)
	assert.ErrorIs(t, err, store.ErrNotFound, "nothing was written")
}
