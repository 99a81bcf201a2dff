// Package storetest is the conformance suite for session storage engines.
//
// Every engine runs [Run] against the real engine (a real server, a real
// file), never a stand-in:
//
//	func TestConformance(t *testing.T) {
//		storetest.Run(t, func(t *testing.T) store.Store {
//			return newEngine(t) // close it with t.Cleanup
//		})
//	}
//
// Engines that several processes share also run [TwoNodes] with two
// independent handles on one backend. Engines with the optional
// capabilities run [RunVersioner] ([store.Versioner]) and [RunOwnerIndex]
// ([store.OwnerIndex]), and show with [IndexBounded] that their owner
// index sheds the entries of expired sessions:
//
//	func TestOwnerIndex(t *testing.T) {
//		storetest.RunOwnerIndex(t, newEngine)
//	}
//
//	func TestIndexBounded(t *testing.T) {
//		s := newEngine(t)
//		storetest.IndexBounded(t, s, func(owner string) int {
//			return rawIndexEntries(t, s, owner) // stale ones included
//		})
//	}
//
// [Run] checks the parts of the contract every engine keeps: fields,
// times, Version (1 after Create, one more per successful Update, also
// under concurrency) and Owner (stored and changed, even by engines
// without an owner index).
//
// The suite never assumes an empty store: every subtest works on fresh
// random keys from [NewKey], so one backend may serve many runs at once.
// Expiry checks use short expiries (a few hundred milliseconds) and each
// of Run, RunVersioner, RunOwnerIndex and IndexBounded waits once for all
// of its own, so a whole run takes a second or two plus the engine's own
// latency.
package storetest

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"maps"
	"slices"
	"testing"
	"time"

	"github.com/sessiongen/sessiongen/runtime/store"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// shortTTL is the lifetime of sessions the expiry checks wait out.
const shortTTL = 300 * time.Millisecond

// expiryMargin is how long past a short expiry the suite waits before it
// expects the session to be gone. It covers engines that keep expiries to
// the millisecond.
const expiryMargin = 50 * time.Millisecond

// Run runs the conformance suite as subtests of t. newStore is called once
// per subtest and returns the engine under test; it may return handles on
// one shared backend, and it should release what it opens with t.Cleanup
// (Run returns only after every subtest has finished).
func Run(t *testing.T, newStore func(t *testing.T) store.Store) {
	t.Helper()
	require.NotNil(t, newStore, "storetest: newStore is nil")
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := newStore(t)
			require.NotNil(t, s, "storetest: newStore returned nil")
			c.run(t, s)
		})
	}
}

// testCase is one named check of the suite.
type testCase struct {
	name string
	run  func(t *testing.T, s store.Store)
}

// cases lists the suite's checks in the order Run runs them. The checks
// themselves live in one file per concern.
var cases = []testCase{
	// load.go, create.go
	{"LoadMissing", testLoadMissing},
	{"CreateLoadRoundTrip", testCreateLoadRoundTrip},
	{"CreateKeepsTimes", testCreateKeepsTimes},
	{"CreateNoFields", testCreateNoFields},
	{"CreateLive", testCreateLive},
	{"CreateAfterDelete", testCreateAfterDelete},
	{"LargeSession", testLargeSession},
	{"KeysAreIndependent", testKeysAreIndependent},
	// update.go
	{"UpdateSet", testUpdateSet},
	{"UpdateRemove", testUpdateRemove},
	{"UpdateSetAndRemove", testUpdateSetAndRemove},
	{"UpdateSetWinsOverRemove", testUpdateSetWinsOverRemove},
	{"UpdateTouch", testUpdateTouch},
	{"UpdateSetWithExpiry", testUpdateSetWithExpiry},
	{"UpdateEmptyChange", testUpdateEmptyChange},
	{"UpdateRemoveAllKeepsSession", testUpdateRemoveAllKeepsSession},
	{"UpdateMissing", testUpdateMissing},
	{"UpdateAfterDelete", testUpdateAfterDelete},
	{"UpdateExpiresInPast", testUpdateExpiresInPast},
	// delete.go
	{"DeleteMissing", testDeleteMissing},
	{"DeleteThenLoad", testDeleteThenLoad},
	// copy.go
	{"CreateCopiesInput", testCreateCopiesInput},
	{"UpdateCopiesInput", testUpdateCopiesInput},
	{"LoadReturnsCopy", testLoadReturnsCopy},
	// context.go
	{"CanceledContext", testCanceledContext},
	// expiry.go
	{"Expiry", testExpiry},
	// version.go
	{"VersionAfterCreate", testVersionAfterCreate},
	{"VersionCountsUpdates", testVersionCountsUpdates},
	{"VersionFailedUpdate", testVersionFailedUpdate},
	// owner.go
	{"OwnerCreate", testOwnerCreate},
	{"OwnerChange", testOwnerChange},
	// conditions.go
	{"ExpectHolds", testExpectHolds},
	{"ExpectFails", testExpectFails},
	{"ExpectOtherFieldsFree", testExpectOtherFieldsFree},
	{"ExpectMissing", testExpectMissing},
	{"CompareAndSetCounter", testCompareAndSetCounter},
	{"MaxSize", testMaxSize},
	{"MaxSizeConcurrent", testMaxSizeConcurrent},
	// move.go
	{"MoveRoundTrip", testMoveRoundTrip},
	{"MoveOwner", testMoveOwner},
	{"MoveRefused", testMoveRefused},
	{"MoveRaces", testMoveRaces},
	// concurrency.go
	{"ConcurrentFieldWriters", testConcurrentFieldWriters},
	{"ConcurrentCreate", testConcurrentCreate},
	{"DeleteUpdateRace", testDeleteUpdateRace},
}

// NewKey returns a fresh random engine key, shaped like the keys the
// manager passes (see [store.Key]). Engines' own tests use it to stay
// clear of other runs on a shared backend.
func NewKey(t testing.TB) string {
	t.Helper()
	var id [32]byte
	_, err := rand.Read(id[:])
	require.NoError(t, err)
	return store.Key(string(id[:]))
}

// msTime returns now plus d, cut to a whole millisecond: the precision
// every engine keeps exactly.
func msTime(d time.Duration) time.Time {
	return time.UnixMilli(time.Now().Add(d).UnixMilli())
}

// newRecord returns a record with the given fields, created now and
// expiring in an hour, both whole milliseconds, and no owner. Its Version
// is 1, what a Load right after Create must report.
func newRecord(fields map[string][]byte) store.Record {
	return store.Record{
		Fields:  fields,
		Created: msTime(0),
		Expires: msTime(time.Hour),
		Version: 1,
	}
}

// fields builds a field map from key, value pairs of strings.
func fields(kv ...string) map[string][]byte {
	if len(kv)%2 != 0 {
		panic("storetest: fields needs key, value pairs")
	}
	m := make(map[string][]byte, len(kv)/2)
	for i := 0; i < len(kv); i += 2 {
		m[kv[i]] = []byte(kv[i+1])
	}
	return m
}

// mustCreate creates key with rec and fails the test on error.
func mustCreate(t *testing.T, s store.Store, key string, rec store.Record) {
	t.Helper()
	require.NoError(t, s.Create(context.Background(), key, rec), "Create")
}

// mustLoad loads key and fails the test on error.
func mustLoad(t *testing.T, s store.Store, key string) store.Record {
	t.Helper()
	rec, err := s.Load(context.Background(), key)
	require.NoError(t, err, "Load")
	require.NotNil(t, rec.Fields, "Load returned a nil Fields map")
	return rec
}

// requireNotFound fails unless key loads as ErrNotFound.
func requireNotFound(t *testing.T, s store.Store, key string) {
	t.Helper()
	_, err := s.Load(context.Background(), key)
	require.ErrorIs(t, err, store.ErrNotFound, "Load")
}

// requireFields fails unless got holds exactly the keys of want with
// byte-equal values. A nil and an empty value are equal.
func requireFields(t *testing.T, want, got map[string][]byte) {
	t.Helper()
	require.Equal(t, asStrings(want), asStrings(got), "fields")
}

// requireRecord fails unless got has want's fields, times and owner, the
// times compared exactly (the suite only passes whole milliseconds), and,
// unless want.Version is 0, want's version.
func requireRecord(t *testing.T, want, got store.Record) {
	t.Helper()
	requireFields(t, want.Fields, got.Fields)
	requireTime(t, want.Created, got.Created, "Created")
	requireTime(t, want.Expires, got.Expires, "Expires")
	require.Equal(t, want.Owner, got.Owner, "Owner")
	if want.Version != 0 {
		require.Equal(t, want.Version, got.Version, "Version")
	}
}

// requireTime fails unless got is the same instant as want.
func requireTime(t *testing.T, want, got time.Time, what string) {
	t.Helper()
	require.Truef(t, want.Equal(got), "%s: want %s, got %s", what,
		want.UTC().Format(time.RFC3339Nano), got.UTC().Format(time.RFC3339Nano))
}

// asStrings turns a field map into one that testify prints readably.
func asStrings(m map[string][]byte) map[string]string {
	out := make(map[string]string, len(m))
	for k, v := range m {
		out[k] = string(v)
	}
	return out
}

// cloneFields deep-copies a field map.
func cloneFields(m map[string][]byte) map[string][]byte {
	out := make(map[string][]byte, len(m))
	for k, v := range m {
		out[k] = append([]byte(nil), v...)
	}
	return out
}

// merged returns base with set written and remove deleted, as an Update
// should leave it.
func merged(base map[string][]byte, set map[string][]byte, remove ...string) map[string][]byte {
	out := cloneFields(base)
	maps.Copy(out, cloneFields(set))
	for _, k := range remove {
		delete(out, k)
	}
	return out
}

// isNilOrNotFound reports whether err is nil or wraps ErrNotFound: the
// only answers an Update racing a Delete may give.
func isNilOrNotFound(err error) bool {
	return err == nil || errors.Is(err, store.ErrNotFound)
}

// fieldKey returns a distinct field key for writer i.
func fieldKey(prefix string, i int) string {
	return fmt.Sprintf("%s-%03d", prefix, i)
}

// assertNilOrNotFound reports (from any goroutine) an Update error other
// than ErrNotFound.
func assertNilOrNotFound(t *testing.T, err error, what string) bool {
	return assert.Truef(t, isNilOrNotFound(err), "%s: want nil or ErrNotFound, got %v", what, err)
}

// updateErr calls s.Update and returns only its error, for checks that
// do not look at the version.
func updateErr(ctx context.Context, s store.Store, key string, c store.Change) error {
	_, err := s.Update(ctx, key, c)
	return err
}

// mustUpdate applies c to key, fails the test on error and returns the
// version Update reported.
func mustUpdate(t *testing.T, s store.Store, key string, c store.Change) uint64 {
	t.Helper()
	v, err := s.Update(context.Background(), key, c)
	require.NoError(t, err, "Update")
	return v
}

// requireUpdate applies c to key and fails unless Update succeeds and
// reports version want.
func requireUpdate(t *testing.T, s store.Store, key string, c store.Change, want uint64) {
	t.Helper()
	require.Equal(t, want, mustUpdate(t, s, key, c), "version returned by Update")
}

// requireVersions fails unless versions, the versions a set of successful
// Updates of one session reported, are exactly first, first+1, ... in
// some order: no two Updates got the same version and none was skipped.
func requireVersions(t *testing.T, first uint64, versions []uint64) {
	t.Helper()
	got := append(make([]uint64, 0, len(versions)), versions...)
	slices.Sort(got)
	want := make([]uint64, len(got))
	for i := range want {
		want[i] = first + uint64(i)
	}
	require.Equal(t, want, got, "versions returned by concurrent Updates (sorted)")
}

// ptr returns a pointer to s, for Change.Owner.
func ptr(s string) *string {
	return &s
}
