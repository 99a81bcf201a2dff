package storetest

import (
	"context"
	"fmt"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/sessiongen/sessiongen/runtime/store"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Sizes of the compare-and-set and size-limit races.
const (
	casWriters    = 8  // goroutines incrementing one counter
	casIncrements = 25 // increments per goroutine (200 in all)
	casTries      = 10000
	limitWriters  = 8 // goroutines adding distinct keys until refused
)

// testExpectHolds: a change whose expectations hold (a value, an absent
// key, a key given an empty expectation) is applied.
func testExpectHolds(t *testing.T, s store.Store) {
	key, rec := createBase(t, s)
	c := store.Change{
		Set:    fields("a", "10", "new", "x"),
		Expect: map[string][]byte{"a": []byte("1"), "new": nil, "absent": {}},
	}
	requireUpdate(t, s, key, c, 2)
	want := rec
	want.Fields = merged(rec.Fields, c.Set)
	want.Version = 2
	requireRecord(t, want, mustLoad(t, s, key))
}

// testExpectFails: each failing expectation gives ErrConflict and writes
// nothing (fields, expiry, owner and version stay).
func testExpectFails(t *testing.T, s store.Store) {
	key, rec := createBase(t, s)
	owner := "someone"
	for name, exp := range map[string]map[string][]byte{
		"other bytes":     {"a": []byte("2")},
		"prefix":          {"b": []byte("2x")},
		"absent expected": {"a": nil},
		"present wanted":  {"zz": []byte("1")},
		"one of two":      {"a": []byte("1"), "b": []byte("3")},
	} {
		c := store.Change{Set: fields("a", "new", "d", "4"), Remove: []string{"c"}, Expires: msTime(3 * time.Hour), Owner: &owner, Expect: exp}
		_, err := s.Update(context.Background(), key, c)
		require.ErrorIsf(t, err, store.ErrConflict, "Update with expectation %s", name)
		requireRecord(t, rec, mustLoad(t, s, key))
	}
}

// testExpectOtherFieldsFree: fields not named in Expect may change freely
// without a conflict.
func testExpectOtherFieldsFree(t *testing.T, s store.Store) {
	key, _ := createBase(t, s)
	mustUpdate(t, s, key, store.Change{Set: fields("b", "changed"), Remove: []string{"c"}})
	mustUpdate(t, s, key, store.Change{Set: fields("a", "2"), Expect: map[string][]byte{"a": []byte("1")}})
	got := mustLoad(t, s, key)
	requireFields(t, fields("a", "2", "b", "changed"), got.Fields)
}

// testExpectMissing: a conditional change to a missing session reports
// ErrNotFound, not ErrConflict.
func testExpectMissing(t *testing.T, s store.Store) {
	_, err := s.Update(context.Background(), NewKey(t), store.Change{Set: fields("a", "1"), Expect: map[string][]byte{"a": nil}})
	require.ErrorIs(t, err, store.ErrNotFound)
}

// testCompareAndSetCounter: goroutines increment one counter with
// compare-and-set, retrying on conflict; none of the increments is lost.
func testCompareAndSetCounter(t *testing.T, s store.Store) {
	CompareAndSetCounter(t, []store.Store{s})
}

// CompareAndSetCounter creates a counter through nodes[0], then has
// goroutines spread over nodes increment it 200 times in all, each
// reading the counter and writing it back with an expectation on the
// value read, retrying on ErrConflict. The counter must end at exactly
// the number of increments, every successful write got its own version,
// and some writes must have conflicted (else the check proved nothing).
func CompareAndSetCounter(t *testing.T, nodes []store.Store) {
	t.Helper()
	ctx := context.Background()
	key := NewKey(t)
	mustCreate(t, nodes[0], key, newRecord(fields("n", "0", "other", "x")))
	var (
		wg        sync.WaitGroup
		mu        sync.Mutex
		versions  []uint64
		conflicts int
	)
	start := make(chan struct{})
	for g := range casWriters {
		node := nodes[g%len(nodes)]
		wg.Go(func() {
			<-start
			for i := 0; i < casIncrements; i++ {
				done := false
				for try := 0; try < casTries && !done; try++ {
					rec, err := node.Load(ctx, key)
					if !assert.NoError(t, err, "Load") {
						return
					}
					n, err := strconv.Atoi(string(rec.Fields["n"]))
					if !assert.NoError(t, err, "counter bytes") {
						return
					}
					c := store.Change{
						Set:    map[string][]byte{"n": []byte(strconv.Itoa(n + 1)), fmt.Sprintf("w%d", g): []byte(strconv.Itoa(i))},
						Expect: map[string][]byte{"n": rec.Fields["n"]},
					}
					v, err := node.Update(ctx, key, c)
					switch {
					case err == nil:
						mu.Lock()
						versions = append(versions, v)
						mu.Unlock()
						done = true
					case assert.ErrorIs(t, err, store.ErrConflict, "Update"):
						mu.Lock()
						conflicts++
						mu.Unlock()
					default:
						return
					}
				}
				if !assert.True(t, done, "an increment never got through") {
					return
				}
			}
		})
	}
	close(start)
	wg.Wait()
	if t.Failed() {
		return
	}
	total := casWriters * casIncrements
	got := mustLoad(t, nodes[0], key)
	require.Equal(t, strconv.Itoa(total), string(got.Fields["n"]), "counter after %d compare-and-set increments", total)
	require.Equal(t, "x", string(got.Fields["other"]))
	requireVersions(t, 2, versions)
	require.Equal(t, uint64(total+1), got.Version, "Version")
	t.Logf("%d increments, %d conflicts retried", total, conflicts)
}

// testMaxSize: the limit refuses a change that takes the session over
// it, allows one that reaches it exactly, and counts keys and values of
// the stored session, not only of the change.
func testMaxSize(t *testing.T, s store.Store) {
	ctx := context.Background()
	key := NewKey(t)
	rec := newRecord(fields("a", "12345", "b", "xy")) // size 6 + 3 = 9
	mustCreate(t, s, key, rec)

	// 9 - 3 (b replaced) + 1+4 = 11 > 10: refused, nothing written.
	owner := "o"
	_, err := s.Update(ctx, key, store.Change{Set: fields("b", "wxyz"), Owner: &owner, Expires: msTime(3 * time.Hour), MaxSize: 10})
	require.ErrorIs(t, err, store.ErrTooLarge)
	requireRecord(t, rec, mustLoad(t, s, key))

	// Exactly at the limit: 9 - 3 + 4 = 10.
	requireUpdate(t, s, key, store.Change{Set: fields("b", "xyz"), MaxSize: 10}, 2)
	// Removing in the same change makes room: 10 - 6 - 4 + 5 = 5.
	requireUpdate(t, s, key, store.Change{Set: fields("c", "1234"), Remove: []string{"a", "b"}, MaxSize: 5}, 3)
	requireFields(t, fields("c", "1234"), mustLoad(t, s, key).Fields)

	// A session over a lowered limit may still shrink or stay the same
	// size, but not grow.
	requireUpdate(t, s, key, store.Change{Set: fields("c", "123"), MaxSize: 2}, 4)
	requireUpdate(t, s, key, store.Change{Set: fields("c", "abc"), MaxSize: 2}, 5)
	_, err = s.Update(ctx, key, store.Change{Set: fields("c", "abcd"), MaxSize: 2})
	require.ErrorIs(t, err, store.ErrTooLarge)
	requireUpdate(t, s, key, store.Change{Remove: []string{"c"}, MaxSize: 2}, 6)
	requireFields(t, nil, mustLoad(t, s, key).Fields)

	// Not found comes before the limit, the expectation before the size.
	_, err = s.Update(ctx, NewKey(t), store.Change{Set: fields("big", "xxxxxxxxxx"), MaxSize: 1})
	require.ErrorIs(t, err, store.ErrNotFound)
	_, err = s.Update(ctx, key, store.Change{Set: fields("big", "xxxxxxxxxx"), MaxSize: 1, Expect: map[string][]byte{"big": []byte("1")}})
	require.ErrorIs(t, err, store.ErrConflict)
}

// testMaxSizeConcurrent: goroutines add distinct keys to one session
// under a limit until refused; the stored session never passes it.
func testMaxSizeConcurrent(t *testing.T, s store.Store) {
	MaxSizeConcurrent(t, []store.Store{s})
}

// MaxSizeConcurrent creates a session through nodes[0], then has
// goroutines spread over nodes each add distinct keys under a limit of
// 1024 bytes until refused with ErrTooLarge. Every refused write changed
// nothing, every accepted one is stored, and the stored session never
// exceeds the limit. It returns the size of the stored session.
func MaxSizeConcurrent(t *testing.T, nodes []store.Store) int {
	t.Helper()
	const limit = 1024
	ctx := context.Background()
	key := NewKey(t)
	mustCreate(t, nodes[0], key, newRecord(nil))
	accepted := make([][]string, limitWriters)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for g := range limitWriters {
		node := nodes[g%len(nodes)]
		wg.Go(func() {
			<-start
			for i := 0; ; i++ {
				k := fmt.Sprintf("g%d-%03d", g, i)
				_, err := node.Update(ctx, key, store.Change{Set: map[string][]byte{k: []byte("0123456789abcdef0123456789")}, MaxSize: limit})
				if err == nil {
					accepted[g] = append(accepted[g], k)
					continue
				}
				assert.ErrorIs(t, err, store.ErrTooLarge, "Update")
				return
			}
		})
	}
	close(start)
	wg.Wait()
	got := mustLoad(t, nodes[0], key)
	want := 0
	for _, ks := range accepted {
		for _, k := range ks {
			require.Contains(t, got.Fields, k, "an accepted write is missing")
			want++
		}
	}
	require.Len(t, got.Fields, want, "fields stored besides the accepted ones")
	size := store.Size(got.Fields)
	require.LessOrEqual(t, size, limit, "stored session size")
	require.Greater(t, size, limit-34, "the session stopped growing before it was full")
	return size
}
