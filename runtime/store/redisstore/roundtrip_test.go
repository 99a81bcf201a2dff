package redisstore_test

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sessiongen/sessiongen/runtime/store"
	"github.com/sessiongen/sessiongen/runtime/store/storetest"
)

// commandCounter is a redis.Hook recording every command the client sends;
// a pipeline counts as one round trip.
type commandCounter struct {
	mu    sync.Mutex
	trips []string
}

func (c *commandCounter) DialHook(next redis.DialHook) redis.DialHook { return next }

func (c *commandCounter) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		c.record(cmd.Name())
		return next(ctx, cmd)
	}
}

func (c *commandCounter) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		names := make([]string, len(cmds))
		for i, cmd := range cmds {
			names[i] = cmd.Name()
		}
		c.record("pipeline(" + strings.Join(names, ",") + ")")
		return next(ctx, cmds)
	}
}

func (c *commandCounter) record(name string) {
	c.mu.Lock()
	c.trips = append(c.trips, name)
	c.mu.Unlock()
}

// take returns the round trips recorded since the last call.
func (c *commandCounter) take() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	t := c.trips
	c.trips = nil
	return t
}

// TestRoundTrips counts the commands each operation sends: one each (a
// pipeline counts as one). The first script call on a server that has not
// cached the script yet costs a second command (EVALSHA answered
// NOSCRIPT, then EVAL), so the counted calls come after a warm-up.
func TestRoundTrips(t *testing.T) {
	checkRoundTrips(t, newClient(t, serverAddr(t)))
}

// TestClusterRoundTrips counts commands on Redis Cluster: the same one
// per operation (redirects aside, which a settled cluster does not send).
func TestClusterRoundTrips(t *testing.T) {
	checkRoundTrips(t, clusterClient(t))
}

// checkRoundTrips counts the commands each operation sends through c.
func checkRoundTrips(t *testing.T, c redis.UniversalClient) {
	prefix := testPrefix(t, c)
	s := newStore(t, c, prefix)
	ctx := context.Background()
	counter := &commandCounter{}
	c.AddHook(counter)

	rec := func(owner string) store.Record {
		return store.Record{
			Fields:  map[string][]byte{"a": []byte("1"), "b": []byte("2"), "c": []byte("3")},
			Created: time.Now(), Expires: time.Now().Add(time.Hour), Owner: owner,
		}
	}
	// Warm up every script on every server: in a cluster each master
	// caches scripts on its own, and 64 random sessions (and owners) miss
	// one of three masters with a probability of about 1e-11.
	for i := range 64 {
		warm := storetest.NewKey(t)
		require.NoError(t, s.Create(ctx, warm, rec("warm"+itoa(int64(i)))))
		require.NoError(t, update(ctx, s, warm, store.Change{Set: map[string][]byte{"x": nil}}))
		moved := storetest.NewKey(t)
		_, err := s.Move(ctx, warm, moved, store.Change{Expires: time.Now().Add(time.Hour)})
		require.NoError(t, err)
		require.NoError(t, s.Delete(ctx, moved))
	}
	counter.take()

	key := storetest.NewKey(t)
	require.NoError(t, s.Create(ctx, key, rec("")))
	assert.Equal(t, []string{"evalsha"}, counter.take(), "Create")

	_, err := s.Load(ctx, key)
	require.NoError(t, err)
	assert.Equal(t, []string{"hgetall"}, counter.take(), "Load")

	v, err := s.Update(ctx, key, store.Change{Set: map[string][]byte{"a": []byte("one")}})
	require.NoError(t, err)
	assert.Equal(t, uint64(2), v)
	assert.Equal(t, []string{"evalsha"}, counter.take(), "Update of one field")

	big := store.Change{Set: map[string][]byte{}, Remove: []string{"b", "c"}, Expires: time.Now().Add(2 * time.Hour)}
	for i := range 500 {
		big.Set[strings.Repeat("k", 1+i%100)+itoa(int64(i))] = []byte("v")
	}
	require.NoError(t, update(ctx, s, key, big))
	assert.Equal(t, []string{"evalsha"}, counter.take(), "Update of 500 fields, 2 removals and the expiry")
	got, err := s.Load(ctx, key)
	require.NoError(t, err)
	assert.Len(t, got.Fields, 501, "a plus the 500 new fields")
	counter.take()

	v, err = s.Version(ctx, key)
	require.NoError(t, err)
	assert.Equal(t, uint64(3), v)
	assert.Equal(t, []string{"hmget"}, counter.take(), "Version")

	// Giving the session an owner: the script and the index write in one
	// pipeline on a single server, which runs it in order; on a Cluster
	// the index write follows the script's answer. Later Updates of the
	// owned session: one script call.
	_, single := c.(*redis.Client)
	withIndex := []string{"pipeline(evalsha,evalsha)"}
	if !single {
		withIndex = []string{"evalsha", "evalsha"}
	}
	v, err = s.Update(ctx, key, store.Change{Set: map[string][]byte{"uid": []byte("7")}, Owner: new("user-7")})
	require.NoError(t, err)
	assert.Equal(t, uint64(4), v)
	assert.Equal(t, withIndex, counter.take(), "Update setting the owner")
	require.NoError(t, update(ctx, s, key, store.Change{Expires: time.Now().Add(3 * time.Hour)}))
	assert.Equal(t, []string{"evalsha"}, counter.take(), "touch of an owned session")

	owned := storetest.NewKey(t)
	require.NoError(t, s.Create(ctx, owned, rec("user-7")))
	assert.Equal(t, withIndex, counter.take(), "Create with an owner")

	list, err := s.Owned(ctx, "user-7")
	require.NoError(t, err)
	assert.Len(t, list, 2)
	assert.Equal(t, []string{"pipeline(zremrangebyscore,zrange)", "pipeline(hmget,hmget)"}, counter.take(), "Owned")

	// Conditions are checked in the same script call.
	v, err = s.Update(ctx, key, store.Change{
		Set:     map[string][]byte{"a": []byte("two")},
		Expect:  map[string][]byte{"a": []byte("one"), "absent": nil},
		MaxSize: 100_000,
	})
	require.NoError(t, err)
	assert.Equal(t, uint64(6), v)
	assert.Equal(t, []string{"evalsha"}, counter.take(), "Update with Expect and MaxSize")
	_, err = s.Update(ctx, key, store.Change{Set: map[string][]byte{"a": []byte("3")}, Expect: map[string][]byte{"a": []byte("one")}})
	require.ErrorIs(t, err, store.ErrConflict)
	assert.Equal(t, []string{"evalsha"}, counter.take(), "Update refused with ErrConflict")
	_, err = s.Update(ctx, key, store.Change{Set: map[string][]byte{"a": []byte("3333")}, MaxSize: 1})
	require.ErrorIs(t, err, store.ErrTooLarge)
	assert.Equal(t, []string{"evalsha"}, counter.take(), "Update refused with ErrTooLarge")

	// Move: one script call on a single server (a second one learns the
	// owner to keep); freeze, write and finish on a Cluster.
	move := func(from string, c store.Change) string {
		to := storetest.NewKey(t)
		c.Expires = time.Now().Add(time.Hour)
		_, err := s.Move(ctx, from, to, c)
		require.NoError(t, err)
		return to
	}
	unowned := storetest.NewKey(t)
	require.NoError(t, s.Create(ctx, unowned, rec("")))
	counter.take()
	moved := move(unowned, store.Change{})
	if single {
		assert.Equal(t, []string{"evalsha"}, counter.take(), "Move")
	} else {
		assert.Equal(t, []string{"evalsha", "evalsha", "evalsha"}, counter.take(), "Move")
	}
	moved = move(moved, store.Change{Owner: new("user-8")})
	if single {
		assert.Equal(t, []string{"evalsha"}, counter.take(), "Move giving an owner")
	} else {
		assert.Equal(t, []string{"evalsha", "evalsha", "evalsha", "evalsha"}, counter.take(), "Move giving an owner")
	}
	moved = move(moved, store.Change{})
	if single {
		assert.Equal(t, []string{"evalsha", "evalsha"}, counter.take(), "Move keeping the owner")
	} else {
		assert.Equal(t, []string{"evalsha", "evalsha", "evalsha", "pipeline(evalsha,zrem)"}, counter.take(), "Move keeping the owner")
	}
	move(moved, store.Change{Owner: new("user-9")})
	if single {
		assert.Equal(t, []string{"evalsha", "zrem"}, counter.take(), "Move changing the owner")
	} else {
		assert.Equal(t, []string{"evalsha", "evalsha", "evalsha", "pipeline(evalsha,zrem)"}, counter.take(), "Move changing the owner")
	}

	// A refused Update costs one round trip too.
	err = update(ctx, s, storetest.NewKey(t), store.Change{Set: map[string][]byte{"a": nil}})
	require.ErrorIs(t, err, store.ErrNotFound)
	assert.Equal(t, []string{"evalsha"}, counter.take(), "Update of a missing session")

	// Delete: one script call; a second command drops an owned
	// session's index entry.
	plain := storetest.NewKey(t)
	require.NoError(t, s.Create(ctx, plain, rec("")))
	counter.take()
	require.NoError(t, s.Delete(ctx, plain))
	assert.Equal(t, []string{"evalsha"}, counter.take(), "Delete")
	require.NoError(t, s.Delete(ctx, key))
	assert.Equal(t, []string{"evalsha", "zrem"}, counter.take(), "Delete of an owned session")
}
