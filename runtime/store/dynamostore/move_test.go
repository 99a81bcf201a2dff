package dynamostore_test

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sessiongen/sessiongen/runtime/store"
	"github.com/sessiongen/sessiongen/runtime/store/dynamostore"
	"github.com/sessiongen/sessiongen/runtime/store/storetest"
)

// hookHTTP is an HTTP client that hands the next request of a chosen
// DynamoDB operation to a hook, which may act before it, forward it or
// not, and replace its answer. It stands between a Store and the engine
// to put it between two steps of a Move.
type hookHTTP struct {
	next  *http.Client
	mu    sync.Mutex
	hooks map[string]func(forward func() (*http.Response, error)) (*http.Response, error)
}

// errLost is the transport error a hook returns instead of an answer.
var errLost = errors.New("connection lost (test)")

// on sets the hook for the next request of op.
func (h *hookHTTP) on(op string, hook func(forward func() (*http.Response, error)) (*http.Response, error)) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.hooks == nil {
		h.hooks = map[string]func(func() (*http.Response, error)) (*http.Response, error){}
	}
	h.hooks[op] = hook
}

func (h *hookHTTP) Do(r *http.Request) (*http.Response, error) {
	op := r.Header.Get("X-Amz-Target")
	if i := strings.LastIndexByte(op, '.'); i >= 0 {
		op = op[i+1:]
	}
	h.mu.Lock()
	hook := h.hooks[op]
	delete(h.hooks, op)
	h.mu.Unlock()
	if hook == nil {
		return h.next.Do(r)
	}
	return hook(func() (*http.Response, error) { return h.next.Do(r) })
}

// hookedStore returns a raw client, the table, a Store whose requests
// pass through the returned hookHTTP (without retries), and a second
// Store on the raw client.
func hookedStore(t *testing.T) (*dynamodb.Client, string, *dynamostore.Store, *hookHTTP, *dynamostore.Store) {
	t.Helper()
	raw, table, plain := testStore(t)
	h := &hookHTTP{next: &http.Client{}}
	hooked := newStore(t, newClient(endpoint(t), h, 1), table, dynamostore.WithoutSetup())
	return raw, table, hooked, h, plain
}

// before returns a hook that runs f, then forwards the request.
func before(f func()) func(func() (*http.Response, error)) (*http.Response, error) {
	return func(forward func() (*http.Response, error)) (*http.Response, error) {
		f()
		return forward()
	}
}

// lostAnswer forwards the request and drops the engine's answer.
func lostAnswer(forward func() (*http.Response, error)) (*http.Response, error) {
	if resp, err := forward(); err == nil {
		_ = resp.Body.Close()
	}
	return nil, errLost
}

// notSent drops the request.
func notSent(func() (*http.Response, error)) (*http.Response, error) {
	return nil, errLost
}

// liveCopies returns how many of keys load.
func liveCopies(t *testing.T, s store.Store, keys ...string) int {
	t.Helper()
	n := 0
	for _, k := range keys {
		_, err := s.Load(context.Background(), k)
		if err == nil {
			n++
			continue
		}
		require.ErrorIs(t, err, store.ErrNotFound)
	}
	return n
}

// created creates a session with fields a=1 under a new key.
func created(t *testing.T, s store.Store) (string, store.Record) {
	t.Helper()
	key := storetest.NewKey(t)
	rec := store.Record{
		Fields:  map[string][]byte{"a": []byte("1")},
		Created: time.UnixMilli(time.Now().Add(-time.Minute).UnixMilli()),
		Expires: time.UnixMilli(time.Now().Add(time.Hour).UnixMilli()),
		Owner:   "mover-" + storetest.NewKey(t),
	}
	require.NoError(t, s.Create(context.Background(), key, rec))
	return key, rec
}

// TestMoveRevokedMidway deletes the session between Move's mark and its
// put: the token condition of the last step fails, Move deletes its new
// item and reports ErrNotFound, and nothing is left under either key.
func TestMoveRevokedMidway(t *testing.T) {
	raw, table, s, h, plain := hookedStore(t)
	ctx := context.Background()
	from, rec := created(t, s)
	h.on("PutItem", before(func() { require.NoError(t, plain.Delete(ctx, from)) }))
	to := storetest.NewKey(t)
	_, err := s.Move(ctx, from, to, store.Change{Expires: rec.Expires})
	require.ErrorIs(t, err, store.ErrNotFound)
	requireNoItem(t, raw, table, to)
	requireNoItem(t, raw, table, from)
	owned, err := s.Owned(ctx, rec.Owner)
	require.NoError(t, err)
	assert.Empty(t, owned)
}

// TestMoveUpdateMidway updates the session between Move's mark and its
// put: the Update fails with ErrNotFound (the marked session counts as
// gone), so the moved record lacks nothing acknowledged; Version, Owned,
// another Move and Load of the old key agree.
func TestMoveUpdateMidway(t *testing.T) {
	_, _, s, h, plain := hookedStore(t)
	ctx := context.Background()
	from, rec := created(t, s)
	h.on("PutItem", before(func() {
		_, err := plain.Update(ctx, from, store.Change{Set: map[string][]byte{"late": []byte("1")}})
		assert.ErrorIs(t, err, store.ErrNotFound, "Update of a session being moved")
		_, err = plain.Load(ctx, from)
		assert.ErrorIs(t, err, store.ErrNotFound, "Load of a session being moved")
		_, err = plain.Version(ctx, from)
		assert.ErrorIs(t, err, store.ErrNotFound, "Version of a session being moved")
		owned, err := plain.Owned(ctx, rec.Owner)
		assert.NoError(t, err)
		if assert.Len(t, owned, 1, "Owned lists a session being moved, so a revocation reaches it") {
			assert.Equal(t, from, owned[0].Key)
		}
		_, err = plain.Move(ctx, from, storetest.NewKey(t), store.Change{Expires: rec.Expires})
		assert.ErrorIs(t, err, store.ErrNotFound, "second Move of a session being moved")
	}))
	to := storetest.NewKey(t)
	got, err := s.Move(ctx, from, to, store.Change{Expires: rec.Expires})
	require.NoError(t, err)
	assert.Equal(t, rec.Fields, got.Fields)
	assert.Equal(t, 1, liveCopies(t, plain, from, to))
	owned, err := plain.Owned(ctx, rec.Owner)
	require.NoError(t, err)
	require.Len(t, owned, 1)
	assert.Equal(t, to, owned[0].Key)
}

// TestMoveInterrupted loses a request or an answer at each step of Move
// (and, in the last case, also the request that would take the new item
// back): Move reports an error that is no sentinel, never leaves two live
// copies, and, wherever it can tell, leaves the session where it was.
func TestMoveInterrupted(t *testing.T) {
	type hook = func(func() (*http.Response, error)) (*http.Response, error)
	for _, tc := range []struct {
		name  string
		hooks map[string]hook
		// where the session is afterwards: "from" (as it was), "none" (the
		// old item was deleted and the new one taken back) or "orphan"
		// (the old item marked, the new one left: no client knows its key)
		where string
	}{
		{"mark not sent", map[string]hook{"UpdateItem": notSent}, "from"},
		{"mark answer lost", map[string]hook{"UpdateItem": lostAnswer}, "from"},
		{"put not sent", map[string]hook{"PutItem": notSent}, "from"},
		{"put answer lost", map[string]hook{"PutItem": lostAnswer}, "from"},
		{"delete not sent", map[string]hook{"DeleteItem": notSent}, "from"},
		{"delete answer lost", map[string]hook{"DeleteItem": lostAnswer}, "none"},
		{"put answer and take-back lost", map[string]hook{"PutItem": lostAnswer, "DeleteItem": notSent}, "orphan"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			raw, table, s, h, plain := hookedStore(t)
			ctx := context.Background()
			from, rec := created(t, s)
			before := rawItem(t, raw, table, from)
			for op, f := range tc.hooks {
				h.on(op, f)
			}
			to := storetest.NewKey(t)
			_, err := s.Move(ctx, from, to, store.Change{Set: map[string][]byte{"b": []byte("2")}, Expires: rec.Expires})
			require.ErrorIs(t, err, errLost)
			assert.True(t, strings.HasPrefix(err.Error(), "dynamostore: move: "), err.Error())
			for _, sentinel := range []error{store.ErrNotFound, store.ErrExists, store.ErrConflict} {
				require.NotErrorIs(t, err, sentinel)
			}
			switch tc.where {
			case "from":
				requireNoItem(t, raw, table, to)
				assert.Equal(t, before, rawItem(t, raw, table, from), "the old item, mark removed")
				got, err := plain.Load(ctx, from)
				require.NoError(t, err)
				assert.Equal(t, rec.Fields, got.Fields)
			case "none":
				requireNoItem(t, raw, table, to)
				requireNoItem(t, raw, table, from)
			case "orphan":
				assert.Contains(t, rawItem(t, raw, table, from), "m", "the old item stays marked")
				_, err := plain.Load(ctx, to)
				require.NoError(t, err)
			}
			assert.LessOrEqual(t, liveCopies(t, plain, from, to), 1)
		})
	}
}

// TestMoveCrashLeftovers writes what a process that died between Move's
// steps leaves behind: after the mark, the old item marked; after the
// put, also the new item. The marked item counts as gone everywhere
// (never a second live copy), Create may replace it, and Delete removes
// it.
func TestMoveCrashLeftovers(t *testing.T) {
	raw, table, s := testStore(t)
	ctx := context.Background()
	mark := func(key string) {
		_, err := raw.UpdateItem(ctx, &dynamodb.UpdateItemInput{
			TableName: aws.String(table), Key: map[string]types.AttributeValue{"id": &types.AttributeValueMemberS{Value: key}},
			UpdateExpression:          aws.String("SET m = :t"),
			ExpressionAttributeValues: map[string]types.AttributeValue{":t": &types.AttributeValueMemberS{Value: "crashed"}},
		})
		require.NoError(t, err)
	}

	// Died after the mark.
	from, rec := created(t, s)
	mark(from)
	_, err := s.Load(ctx, from)
	require.ErrorIs(t, err, store.ErrNotFound)
	_, err = s.Version(ctx, from)
	require.ErrorIs(t, err, store.ErrNotFound)
	_, err = s.Update(ctx, from, store.Change{Expires: rec.Expires})
	require.ErrorIs(t, err, store.ErrNotFound)
	to := storetest.NewKey(t)
	_, err = s.Move(ctx, from, to, store.Change{Expires: rec.Expires})
	require.ErrorIs(t, err, store.ErrNotFound)
	requireNoItem(t, raw, table, to)
	owned, err := s.Owned(ctx, rec.Owner)
	require.NoError(t, err)
	assert.Empty(t, owned)
	require.NoError(t, s.Create(ctx, from, store.Record{Fields: map[string][]byte{"new": nil}, Created: rec.Created, Expires: rec.Expires}),
		"a marked item is no live session: Create replaces it")
	got, err := s.Load(ctx, from)
	require.NoError(t, err)
	assert.Equal(t, map[string][]byte{"new": {}}, got.Fields)

	// Died after the put: an orphan under the new key, the old one marked.
	from, rec = created(t, s)
	mark(from)
	orphan := storetest.NewKey(t)
	require.NoError(t, s.Create(ctx, orphan, rec))
	assert.Equal(t, 1, liveCopies(t, s, from, orphan))
	require.NoError(t, s.Delete(ctx, from))
	requireNoItem(t, raw, table, from)
}

// TestMoveToLiveKey checks that a Move refused because the new key is
// live takes its mark back: the old item is as it was, and Updates work.
func TestMoveToLiveKey(t *testing.T) {
	raw, table, s := testStore(t)
	ctx := context.Background()
	from, rec := created(t, s)
	taken, _ := created(t, s)
	before := rawItem(t, raw, table, from)
	_, err := s.Move(ctx, from, taken, store.Change{Set: map[string][]byte{"b": []byte("2")}, Expires: rec.Expires})
	require.ErrorIs(t, err, store.ErrExists)
	assert.Equal(t, before, rawItem(t, raw, table, from))
	v, err := s.Update(ctx, from, store.Change{Set: map[string][]byte{"c": []byte("3")}})
	require.NoError(t, err)
	assert.Equal(t, uint64(2), v)
}
