package enginetest

import (
	"context"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sessiongen/sessiongen/runtime/store"
	"github.com/sessiongen/sessiongen/runtime/store/storetest"
)

// LiveRecord returns a record expiring in an hour with the fields kv
// (key, value, key, value, ...).
func LiveRecord(kv ...string) store.Record {
	f := make(map[string][]byte)
	for i := 0; i+1 < len(kv); i += 2 {
		f[kv[i]] = []byte(kv[i+1])
	}
	return store.Record{Fields: f, Created: time.Now(), Expires: time.Now().Add(time.Hour)}
}

// ExpiredRecord returns a record with the fields a and b whose expiry has
// passed.
func ExpiredRecord() store.Record {
	return store.Record{
		Fields:  map[string][]byte{"a": []byte("1"), "b": []byte("2")},
		Created: time.Now().Add(-time.Hour),
		Expires: time.Now().Add(-time.Second),
	}
}

// Op is one store call, named as its errors name it ("load", "create",
// "update", "delete").
type Op struct {
	Name string
	Do   func(ctx context.Context) error
}

// Ops returns the four operations of s around the session under key: a
// Load of it, a Create of a fresh key, an Update of it setting field b
// and a Delete of a fresh key (so that a Delete the server completes after
// its caller gave up leaves the session under key alone).
func Ops(t testing.TB, s store.Store, key string) []Op {
	return []Op{
		{"load", func(ctx context.Context) error { _, err := s.Load(ctx, key); return err }},
		{"create", func(ctx context.Context) error { return s.Create(ctx, storetest.NewKey(t), LiveRecord("a", "1")) }},
		{"update", func(ctx context.Context) error {
			_, err := s.Update(ctx, key, store.Change{Set: map[string][]byte{"b": []byte("2")}})
			return err
		}},
		{"delete", func(ctx context.Context) error { return s.Delete(ctx, storetest.NewKey(t)) }},
	}
}

// RequireEngineError fails the test unless err is a failure of the
// engine's operation op: not nil, no sentinel of package store, and its
// text starting with "<engine>: <op>: ".
func RequireEngineError(t testing.TB, err error, engine, op string) {
	t.Helper()
	require.Errorf(t, err, "%s with the server unreachable", op)
	require.NotErrorIs(t, err, store.ErrNotFound, op)
	require.NotErrorIs(t, err, store.ErrExists, op)
	require.Truef(t, strings.HasPrefix(err.Error(), engine+": "+op+": "), "%s: error %q lacks the engine and operation", op, err)
}

// RequireDeadlines runs each op with a context ending after timeout, on a
// server that does not answer in time, and checks that it returns within
// maxWait with an error wrapping context.DeadlineExceeded that names the
// engine and the operation.
func RequireDeadlines(t testing.TB, engine string, ops []Op, timeout, maxWait time.Duration) {
	t.Helper()
	for _, op := range ops {
		ctx, cancel := context.WithTimeout(context.Background(), timeout)
		start := time.Now()
		err := op.Do(ctx)
		elapsed := time.Since(start)
		cancel()
		require.ErrorIsf(t, err, context.DeadlineExceeded, "%s on a server that does not answer", op.Name)
		assert.Truef(t, strings.HasPrefix(err.Error(), engine+": "+op.Name+": "), "%s: %v", op.Name, err)
		assert.Lessf(t, elapsed, maxWait, "%s waited past its deadline", op.Name)
	}
}

// Outage checks a store whose server becomes unreachable through p: with
// p stopped, every operation of [Ops], and every op in extra, fails with
// an error naming the engine and the operation (see [RequireEngineError]);
// once p runs again the same store works, with the session written before
// the outage intact. settle is how long the store may take to work again;
// zero means the first call after the restart must succeed.
func Outage(t *testing.T, engine string, s store.Store, p *Proxy, settle time.Duration, extra ...Op) {
	t.Helper()
	ctx := context.Background()
	key := storetest.NewKey(t)
	require.NoError(t, s.Create(ctx, key, LiveRecord("a", "1")))

	p.Stop()
	for _, op := range append(Ops(t, s, key), extra...) {
		RequireEngineError(t, op.Do(ctx), engine, op.Name)
	}

	p.Start()
	if settle > 0 {
		require.Eventually(t, func() bool {
			_, err := s.Load(ctx, key)
			return err == nil
		}, settle, 20*time.Millisecond, "Load after the server is back")
	}
	_, err := s.Update(ctx, key, store.Change{Set: map[string][]byte{"c": []byte("3")}})
	require.NoError(t, err)
	got, err := s.Load(ctx, key)
	require.NoError(t, err)
	assert.Equal(t, map[string][]byte{"a": []byte("1"), "c": []byte("3")}, got.Fields)
}

// ExpiredLeftover checks how s treats a session that has expired but that
// the server still holds (its own purge runs late or not at all): the
// caller has written one, with its expiry in the past, under key. Load and
// Update report store.ErrNotFound; untouched then checks, in the stored
// data, that the refused Update (setting field b and moving the expiry an
// hour ahead) wrote nothing; and Create replaces the leftover entirely.
func ExpiredLeftover(t *testing.T, s store.Store, key string, untouched func(t *testing.T)) {
	t.Helper()
	ctx := context.Background()
	_, err := s.Load(ctx, key)
	require.ErrorIs(t, err, store.ErrNotFound)
	_, err = s.Update(ctx, key, store.Change{Set: map[string][]byte{"b": []byte("2")}, Expires: time.Now().Add(time.Hour)})
	require.ErrorIs(t, err, store.ErrNotFound)
	untouched(t)

	require.NoError(t, s.Create(ctx, key, LiveRecord("new", "x")))
	got, err := s.Load(ctx, key)
	require.NoError(t, err)
	assert.Equal(t, map[string][]byte{"new": []byte("x")}, got.Fields)
}

// RefusesBadInput checks that s refuses, before any round trip, arguments
// the manager never sends, with errors wrapping store.ErrInvalid that
// name the engine and the operation: an empty key, a record without
// expiry, and each of badFields as a field key of Create, Update's Set
// and Update's Remove. The wording is that of redisstore and dynamostore
// ("empty key", "zero Expires", "not valid UTF-8").
func RefusesBadInput(t *testing.T, engine string, s store.Store, badFields ...string) {
	t.Helper()
	ctx := context.Background()
	good := LiveRecord()
	invalid := func(err error, prefix, what string) {
		t.Helper()
		assert.ErrorIsf(t, err, store.ErrInvalid, "%s", what)
		assert.ErrorContainsf(t, err, prefix, "%s", what)
		if err != nil {
			assert.Truef(t, strings.HasPrefix(err.Error(), engine+": "), "%s: %v lacks the engine", what, err)
		}
	}
	_, err := s.Load(ctx, "")
	invalid(err, engine+": load: ", "Load empty key")
	assert.ErrorContains(t, err, "empty key")
	invalid(s.Create(ctx, "", good), engine+": create: ", "Create empty key")
	_, err = s.Update(ctx, "", store.Change{})
	invalid(err, engine+": update: ", "Update empty key")
	invalid(s.Delete(ctx, ""), engine+": delete: ", "Delete empty key")

	k := storetest.NewKey(t)
	err = s.Create(ctx, k, store.Record{Created: time.Now()})
	invalid(err, "zero Expires", "Create without expiry")
	for _, f := range badFields {
		rec := LiveRecord()
		rec.Fields[f] = nil
		invalid(s.Create(ctx, k, rec), "not valid UTF-8", "Create field "+strconv.Quote(f))
		_, err = s.Update(ctx, k, store.Change{Set: map[string][]byte{f: nil}})
		invalid(err, "not valid UTF-8", "Update set "+strconv.Quote(f))
		_, err = s.Update(ctx, k, store.Change{Remove: []string{f}})
		invalid(err, "not valid UTF-8", "Update remove "+strconv.Quote(f))
	}
}
