package redisstore_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sessiongen/sessiongen/runtime/internal/redisserver"
	"github.com/sessiongen/sessiongen/runtime/store"
	"github.com/sessiongen/sessiongen/runtime/store/internal/enginetest"
	"github.com/sessiongen/sessiongen/runtime/store/redisstore"
	"github.com/sessiongen/sessiongen/runtime/store/storetest"
)

// onServers runs f on the single server (SESSIONGEN_REDIS_ADDR) and on
// the cluster (SESSIONGEN_REDIS_CLUSTER_ADDRS), each a subtest skipped
// when its variable is unset.
func onServers(t *testing.T, f func(t *testing.T, c redis.UniversalClient)) {
	t.Run("single", func(t *testing.T) { f(t, newClient(t, serverAddr(t))) })
	t.Run("cluster", func(t *testing.T) { f(t, clusterClient(t)) })
}

// holder holds the next group a Store sends once armed, until released.
type holder struct {
	armed   atomic.Bool
	held    chan struct{} // closed once a group is held
	release chan struct{} // closed to let it go
}

// hold installs a holder on s (before s is in use).
func hold(s *redisstore.Store) *holder {
	h := &holder{held: make(chan struct{}), release: make(chan struct{})}
	redisstore.OnSend(s, func(int) {
		if h.armed.CompareAndSwap(true, false) {
			close(h.held)
			<-h.release
		}
	})
	return h
}

// waitHeld waits until a group is held, failing the test after ten
// seconds.
func (h *holder) waitHeld(t *testing.T) {
	t.Helper()
	select {
	case <-h.held:
	case <-time.After(10 * time.Second):
		t.Fatal("no group was sent")
	}
}

// set returns a change setting the given field, value pairs.
func set(kv ...string) store.Change {
	c := store.Change{Set: map[string][]byte{}}
	for i := 0; i+1 < len(kv); i += 2 {
		c.Set[kv[i]] = []byte(kv[i+1])
	}
	return c
}

// requireSession checks the fields (as strings) and version of the
// session under key.
func requireSession(t *testing.T, s store.Store, key string, version uint64, fields map[string]string) {
	t.Helper()
	rec, err := s.Load(context.Background(), key)
	require.NoError(t, err, "Load %s", key)
	got := map[string]string{}
	for k, v := range rec.Fields {
		got[k] = string(v)
	}
	assert.Equal(t, fields, got, "fields of %s", key)
	assert.Equal(t, version, rec.Version, "version of %s", key)
}

// TestGroupConcurrentUpdates sends 64 concurrent Updates of distinct
// sessions while a first one is held in flight: all land with their own
// version, in fewer groups and round trips than changes.
func TestGroupConcurrentUpdates(t *testing.T) {
	onServers(t, func(t *testing.T, c redis.UniversalClient) {
		s := newStore(t, c, testPrefix(t, c))
		h := hold(s)
		ctx := context.Background()
		const n = 64
		keys := make([]string, n)
		for i := range keys {
			keys[i] = storetest.NewKey(t)
			require.NoError(t, s.Create(ctx, keys[i], enginetest.LiveRecord("a", "-")))
		}
		g0, i0 := redisstore.GroupStats(s)
		counter := &commandCounter{}
		c.AddHook(counter)

		versions, errs := make([]uint64, n), make([]error, n)
		var started atomic.Int64
		var wg sync.WaitGroup
		update := func(i int) {
			defer wg.Done()
			started.Add(1)
			versions[i], errs[i] = s.Update(ctx, keys[i], set("a", itoa(int64(i))))
		}
		h.armed.Store(true)
		wg.Add(n)
		go update(0)
		h.waitHeld(t)
		for i := 1; i < n; i++ {
			go update(i)
		}
		waitFor(t, "every Update to start", func() bool { return started.Load() == n })
		close(h.release)
		wg.Wait()
		trips := len(counter.take())

		for i, k := range keys {
			require.NoError(t, errs[i], "Update %d", i)
			assert.Equal(t, uint64(2), versions[i], "version of Update %d", i)
			requireSession(t, s, k, 2, map[string]string{"a": itoa(int64(i))})
		}
		g1, i1 := redisstore.GroupStats(s)
		groups, items := g1-g0, i1-i0
		assert.Equal(t, uint64(n), items, "every Update went in a group")
		assert.Less(t, groups, items, "fewer groups than Updates")
		assert.Less(t, trips, n, "fewer round trips than Updates")
		t.Logf("%d Updates in %d groups, %d round trips", items, groups, trips)
	})
}

// TestGroupConcurrentCreates: concurrent Creates (some with an owner)
// group too, and each lands.
func TestGroupConcurrentCreates(t *testing.T) {
	onServers(t, func(t *testing.T, c redis.UniversalClient) {
		s := newStore(t, c, testPrefix(t, c))
		ctx := context.Background()
		const n = 32
		keys := make([]string, n)
		errs := make([]error, n)
		var wg sync.WaitGroup
		for i := range keys {
			keys[i] = storetest.NewKey(t)
			wg.Add(1)
			go func() {
				defer wg.Done()
				rec := enginetest.LiveRecord("i", itoa(int64(i)))
				if i%4 == 0 {
					rec.Owner = "owner-of-creates"
				}
				errs[i] = s.Create(ctx, keys[i], rec)
			}()
		}
		wg.Wait()
		for i, k := range keys {
			require.NoError(t, errs[i])
			requireSession(t, s, k, 1, map[string]string{"i": itoa(int64(i))})
		}
		owned, err := s.Owned(ctx, "owner-of-creates")
		require.NoError(t, err)
		assert.Len(t, owned, n/4)
	})
}

// mixedCase is one change of a group mixing changes that land with
// changes refused on their own.
type mixedCase struct {
	name string
	op   redisstore.GroupOp
	// want: nil for success (with version), or the sentinel the error
	// wraps; wantText: a text the error holds instead.
	want     error
	wantText string
	version  uint64
	// then: the session's version and fields afterwards
	after       uint64
	afterFields map[string]string
}

// mixedGroup prepares the sessions of a group mixing good changes with
// one change failing each kind of condition (and a corrupt record and a
// script error), and returns its changes in order.
func mixedGroup(t *testing.T, c redis.UniversalClient, prefix string, s *redisstore.Store) []mixedCase {
	ctx := context.Background()
	key := func() string {
		k := storetest.NewKey(t)
		require.NoError(t, s.Create(ctx, k, enginetest.LiveRecord("a", "1")))
		return k
	}
	// A session key holding a string, and an owner index that is no
	// sorted set: the Update script reports the first as corrupt, the
	// index script fails with a server error on the second.
	corrupt := storetest.NewKey(t)
	require.NoError(t, c.Set(ctx, prefix+"{"+corrupt+"}", "junk", time.Hour).Err())
	badOwner := "owner-with-a-broken-index"
	require.NoError(t, c.Set(ctx, prefix+"owner:{"+store.Key(badOwner)+"}", "junk", time.Hour).Err())

	tooLarge := set("big", strings.Repeat("x", 100))
	tooLarge.MaxSize = 50
	conflict := set("a", "2")
	conflict.Expect = map[string][]byte{"a": []byte("not 1")}
	holds := set("a", "2")
	holds.Expect = map[string][]byte{"a": []byte("1")}
	owned := set("b", "2")
	owned.Owner = &badOwner
	one := map[string]string{"a": "1"}
	return []mixedCase{
		{name: "good update", op: redisstore.GroupOp{Key: key(), Change: set("b", "2")},
			version: 2, after: 2, afterFields: map[string]string{"a": "1", "b": "2"}},
		{name: "missing session", op: redisstore.GroupOp{Key: storetest.NewKey(t), Change: set("b", "2")},
			want: store.ErrNotFound},
		{name: "failed Expect", op: redisstore.GroupOp{Key: key(), Change: conflict},
			want: store.ErrConflict, after: 1, afterFields: one},
		{name: "over MaxSize", op: redisstore.GroupOp{Key: key(), Change: tooLarge},
			want: store.ErrTooLarge, after: 1, afterFields: one},
		{name: "Create of a live key", op: redisstore.GroupOp{Key: key(), Create: true, Record: enginetest.LiveRecord("z", "9")},
			want: store.ErrExists, after: 1, afterFields: one},
		{name: "good create", op: redisstore.GroupOp{Key: storetest.NewKey(t), Create: true, Record: enginetest.LiveRecord("c", "3")},
			after: 1, afterFields: map[string]string{"c": "3"}},
		{name: "corrupt record", op: redisstore.GroupOp{Key: corrupt, Change: set("b", "2")},
			want: store.ErrCorrupt},
		// The session write lands, the index write fails: the call
		// fails, as it does alone (see "Owner index").
		{name: "server error in the index write", op: redisstore.GroupOp{Key: key(), Change: owned},
			wantText: "redisstore: update: owner index: ", after: 2, afterFields: map[string]string{"a": "1", "b": "2"}},
		{name: "good update with Expect", op: redisstore.GroupOp{Key: key(), Change: holds},
			version: 2, after: 2, afterFields: map[string]string{"a": "2"}},
	}
}

// checkMixed checks the results of the cases' changes and the sessions
// they leave.
func checkMixed(t *testing.T, s *redisstore.Store, cases []mixedCase, versions []uint64, errs []error) {
	t.Helper()
	require.Len(t, errs, len(cases))
	for i, tc := range cases {
		switch {
		case tc.want != nil:
			assert.ErrorIs(t, errs[i], tc.want, tc.name)
		case tc.wantText != "":
			assert.ErrorContains(t, errs[i], tc.wantText, tc.name)
		default:
			if assert.NoError(t, errs[i], tc.name) && !tc.op.Create {
				assert.Equal(t, tc.version, versions[i], tc.name)
			}
		}
		if errs[i] != nil {
			assert.True(t, strings.HasPrefix(errs[i].Error(), "redisstore: "), "%s: %v", tc.name, errs[i])
		}
		if tc.after != 0 {
			requireSession(t, s, tc.op.Key, tc.after, tc.afterFields)
		}
	}
}

// TestGroupFailuresStayAlone sends one group mixing good changes with
// changes refused for each reason: only those fail, the rest land.
func TestGroupFailuresStayAlone(t *testing.T) {
	onServers(t, func(t *testing.T, c redis.UniversalClient) {
		prefix := testPrefix(t, c)
		s := newStore(t, c, prefix)
		cases := mixedGroup(t, c, prefix, s)
		ops := make([]redisstore.GroupOp, len(cases))
		for i, tc := range cases {
			ops[i] = tc.op
		}
		counter := &commandCounter{}
		c.AddHook(counter)
		versions, errs := redisstore.SendGroup(context.Background(), s, ops)
		trips := counter.take()
		checkMixed(t, s, cases, versions, errs)
		// One pipeline of every script call (nine changes, and on a
		// single server one index write behind its session's); then
		// only the Cluster's index write, the index failure's undo (one
		// command each) and the NOSCRIPT fallbacks of a server that had
		// not seen a script.
		require.NotEmpty(t, trips)
		calls := 10
		if _, single := c.(*redis.Client); !single {
			calls = 9
		}
		assert.Equal(t, "pipeline("+strings.Repeat("evalsha,", calls-1)+"evalsha)", trips[0])
		for _, trip := range trips[1:] {
			assert.NotContains(t, trip, "evalsha,", "round trips: %v", trips)
		}
	})
}

// TestGroupFailuresConcurrent sends the same mix as concurrent calls
// through the committer (the first held so the rest gather): each gets
// its own result.
func TestGroupFailuresConcurrent(t *testing.T) {
	onServers(t, func(t *testing.T, c redis.UniversalClient) {
		prefix := testPrefix(t, c)
		s := newStore(t, c, prefix)
		h := hold(s)
		cases := mixedGroup(t, c, prefix, s)
		ctx := context.Background()
		versions, errs := make([]uint64, len(cases)), make([]error, len(cases))
		var wg sync.WaitGroup
		var started atomic.Int64
		run := func(i int) {
			defer wg.Done()
			started.Add(1)
			op := cases[i].op
			if op.Create {
				errs[i] = s.Create(ctx, op.Key, op.Record)
			} else {
				versions[i], errs[i] = s.Update(ctx, op.Key, op.Change)
			}
		}
		// A first Update of its own session goes first and is held.
		first := storetest.NewKey(t)
		require.NoError(t, s.Create(ctx, first, enginetest.LiveRecord("a", "1")))
		h.armed.Store(true)
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := s.Update(ctx, first, set("b", "2"))
			assert.NoError(t, err)
		}()
		h.waitHeld(t)
		wg.Add(len(cases))
		for i := range cases {
			go run(i)
		}
		waitFor(t, "every call to start", func() bool { return started.Load() == int64(len(cases)) })
		close(h.release)
		wg.Wait()
		checkMixed(t, s, cases, versions, errs)
		g, n := redisstore.GroupStats(s)
		t.Logf("%d groups, %d changes", g, n)
	})
}

// TestGroupSameKey sends changes of one session in one group: they apply
// in their order, each seeing the one before.
func TestGroupSameKey(t *testing.T) {
	onServers(t, func(t *testing.T, c redis.UniversalClient) {
		s := newStore(t, c, testPrefix(t, c))
		ctx := context.Background()
		key, fresh := storetest.NewKey(t), storetest.NewKey(t)
		require.NoError(t, s.Create(ctx, key, enginetest.LiveRecord("a", "1")))

		second := set("b", "y")
		second.Expect = map[string][]byte{"a": []byte("x")} // holds after the first
		stale := set("a", "z")
		stale.Expect = map[string][]byte{"a": []byte("1")} // no longer holds
		versions, errs := redisstore.SendGroup(ctx, s, []redisstore.GroupOp{
			{Key: key, Change: set("a", "x")},
			{Key: key, Change: second},
			{Key: key, Change: stale},
			{Key: key, Change: store.Change{Remove: []string{"b"}, Set: map[string][]byte{"c": []byte("3")}}},
			{Key: fresh, Create: true, Record: enginetest.LiveRecord("n", "0")},
			{Key: fresh, Change: set("n", "1")},
		})
		require.NoError(t, errs[0])
		require.NoError(t, errs[1])
		require.ErrorIs(t, errs[2], store.ErrConflict)
		require.NoError(t, errs[3])
		require.NoError(t, errs[4])
		require.NoError(t, errs[5])
		assert.Equal(t, []uint64{2, 3, 0, 4, 0, 2}, versions)
		requireSession(t, s, key, 4, map[string]string{"a": "x", "c": "3"})
		requireSession(t, s, fresh, 2, map[string]string{"n": "1"})
	})
}

// pipelineLimit is a client hook refusing pipelines of more than max
// commands before they are sent, as a proxy or a guard in front of the
// server may: the whole group fails without any command's own answer.
type pipelineLimit struct {
	max     int
	refused atomic.Int64
}

func (p *pipelineLimit) DialHook(next redis.DialHook) redis.DialHook          { return next }
func (p *pipelineLimit) ProcessHook(next redis.ProcessHook) redis.ProcessHook { return next }

func (p *pipelineLimit) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		if len(cmds) > p.max {
			p.refused.Add(1)
			return errors.New("guard: pipeline too long")
		}
		return next(ctx, cmds)
	}
}

// TestGroupRefusedGoesSolo: when the group's pipeline is refused as a
// whole before it is sent, each change goes again alone, in order, and
// gets its own result.
func TestGroupRefusedGoesSolo(t *testing.T) {
	onServers(t, func(t *testing.T, c redis.UniversalClient) {
		prefix := testPrefix(t, c)
		s := newStore(t, c, prefix)
		cases := mixedGroup(t, c, prefix, s)
		ops := make([]redisstore.GroupOp, len(cases))
		for i, tc := range cases {
			ops[i] = tc.op
		}
		// Two changes of one session at the end, the second seeing the
		// first.
		twice := storetest.NewKey(t)
		require.NoError(t, s.Create(context.Background(), twice, enginetest.LiveRecord("a", "1")))
		then := set("b", "2")
		then.Expect = map[string][]byte{"a": []byte("2")}
		ops = append(ops, redisstore.GroupOp{Key: twice, Change: set("a", "2")}, redisstore.GroupOp{Key: twice, Change: then})

		limit := &pipelineLimit{max: 2} // a change with its index write still passes
		c.AddHook(limit)
		counter := &commandCounter{}
		c.AddHook(counter)
		versions, errs := redisstore.SendGroup(context.Background(), s, ops)
		trips := counter.take()
		assert.Equal(t, int64(1), limit.refused.Load(), "the group's pipeline was refused")
		n := len(cases)
		checkMixed(t, s, cases, versions[:n], errs[:n])
		require.NoError(t, errs[n])
		require.NoError(t, errs[n+1])
		assert.Equal(t, []uint64{2, 3}, versions[n:])
		requireSession(t, s, twice, 3, map[string]string{"a": "2", "b": "2"})
		// One round trip per change, each alone (and the undo of the
		// failed index write).
		assert.GreaterOrEqual(t, len(trips), len(ops), "round trips: %v", trips)
	})
}

// TestGroupWithdrawsGaveUp: a caller whose context ends while its change
// waits for a group gets the context's error, and its change is not
// sent.
func TestGroupWithdrawsGaveUp(t *testing.T) {
	c := newClient(t, serverAddr(t))
	s := newStore(t, c, testPrefix(t, c))
	h := hold(s)
	ctx := context.Background()
	first, second := storetest.NewKey(t), storetest.NewKey(t)
	require.NoError(t, s.Create(ctx, first, enginetest.LiveRecord("a", "1")))
	require.NoError(t, s.Create(ctx, second, enginetest.LiveRecord("a", "1")))

	h.armed.Store(true)
	done := make(chan error, 1)
	go func() {
		_, err := s.Update(ctx, first, set("a", "2"))
		done <- err
	}()
	h.waitHeld(t)
	gaveUp, cancel := context.WithCancel(ctx)
	waiting := make(chan error, 1)
	go func() {
		_, err := s.Update(gaveUp, second, set("a", "2"))
		waiting <- err
	}()
	cancel()
	err := <-waiting
	require.ErrorIs(t, err, context.Canceled)
	assert.ErrorContains(t, err, "redisstore: update: ")
	close(h.release)
	require.NoError(t, <-done)
	requireSession(t, s, first, 2, map[string]string{"a": "2"})
	requireSession(t, s, second, 1, map[string]string{"a": "1"})
}

// TestWithMaxGroup checks the option's validation, and that
// WithMaxGroup(1) sends every change alone and concurrently, as without
// grouping, at one round trip each.
func TestWithMaxGroup(t *testing.T) {
	off := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1"}) // New does not contact it
	defer off.Close()
	for _, n := range []int{0, -1} {
		_, err := redisstore.New(off, redisstore.WithMaxGroup(n))
		assert.ErrorContains(t, err, "redisstore: new: invalid argument: max group "+itoa(int64(n))+" is below 1")
	}
	for _, n := range []int{1, 2, redisstore.DefaultMaxGroup, 10_000} {
		_, err := redisstore.New(off, redisstore.WithMaxGroup(n))
		assert.NoError(t, err, "WithMaxGroup(%d)", n)
	}

	c := newClient(t, serverAddr(t))
	prefix := testPrefix(t, c)
	ctx := context.Background()
	for _, opts := range [][]redisstore.Option{nil, {redisstore.WithMaxGroup(1)}} {
		s, err := redisstore.New(c, append([]redisstore.Option{redisstore.WithPrefix(prefix)}, opts...)...)
		require.NoError(t, err)
		key := storetest.NewKey(t)
		require.NoError(t, s.Create(ctx, key, enginetest.LiveRecord("a", "1")))
		require.NoError(t, update(ctx, s, key, set("a", "warm")))
		counter := &commandCounter{}
		c.AddHook(counter)
		v, err := s.Update(ctx, key, set("a", "2"))
		require.NoError(t, err)
		assert.Equal(t, uint64(3), v)
		assert.Equal(t, []string{"evalsha"}, counter.take(), "a lone Update, options %d", len(opts))
	}

	// Grouping off: while one change is held in flight, the others go on.
	s, err := redisstore.New(c, redisstore.WithPrefix(prefix), redisstore.WithMaxGroup(1))
	require.NoError(t, err)
	h := hold(s)
	const n = 8
	keys := make([]string, n+1)
	for i := range keys {
		keys[i] = storetest.NewKey(t)
		require.NoError(t, s.Create(ctx, keys[i], enginetest.LiveRecord("a", "1")))
	}
	h.armed.Store(true)
	held := make(chan error, 1)
	go func() {
		_, err := s.Update(ctx, keys[0], set("a", "2"))
		held <- err
	}()
	h.waitHeld(t)
	var wg sync.WaitGroup
	for i := 1; i <= n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			v, err := s.Update(ctx, keys[i], set("a", "2"))
			assert.NoError(t, err)
			assert.Equal(t, uint64(2), v)
		}()
	}
	wg.Wait() // while keys[0]'s change is still held
	select {
	case err := <-held:
		t.Fatalf("the held change returned (%v) before its release", err)
	default:
	}
	close(h.release)
	require.NoError(t, <-held)
	g, items := redisstore.GroupStats(s)
	assert.Zero(t, g+items, "no groups with WithMaxGroup(1)")
	for _, k := range keys {
		requireSession(t, s, k, 2, map[string]string{"a": "2"})
	}
}

// TestGroupScriptFallback sends a group to a server that has cached no
// script: the calls answered NOSCRIPT go again together as EVAL, in one
// more pipeline, and each change takes effect once.
func TestGroupScriptFallback(t *testing.T) {
	srv := redisserver.Start(t, envAddr)
	c := client(t, srv, time.Second)
	s, err := redisstore.New(c)
	require.NoError(t, err)
	ctx := context.Background()
	a, b := storetest.NewKey(t), storetest.NewKey(t)
	require.NoError(t, s.Create(ctx, a, enginetest.LiveRecord("a", "1")))
	require.NoError(t, s.Create(ctx, b, enginetest.LiveRecord("a", "1")))
	require.NoError(t, c.ScriptFlush(ctx).Err())
	counter := &commandCounter{}
	c.AddHook(counter)
	versions, errs := redisstore.SendGroup(ctx, s, []redisstore.GroupOp{
		{Key: a, Change: set("b", "2")},
		{Key: b, Change: set("b", "2")},
		{Key: a, Change: set("c", "3")},
	})
	require.Equal(t, []error{nil, nil, nil}, errs)
	assert.Equal(t, []uint64{2, 2, 3}, versions, "each change ran once")
	assert.Equal(t, []string{"pipeline(evalsha,evalsha,evalsha)", "pipeline(eval,eval,eval)"}, withoutHandshakes(counter.take()))
	requireSession(t, s, a, 3, map[string]string{"a": "1", "b": "2", "c": "3"})
	requireSession(t, s, b, 2, map[string]string{"a": "1", "b": "2"})
}

// TestRefusedCallIsNotSent: a write whose pipeline (the session's script
// and its owner-index entry) a client hook refuses before it is sent
// fails with an error wrapping store.ErrNotSent, so a manager knows
// nothing was applied, and writes nothing. (On a Cluster a lone write
// sends no pipeline: its index write follows in a call of its own; see
// TestClusterRefusedIndexGoesSolo.)
func TestRefusedCallIsNotSent(t *testing.T) {
	c := newClient(t, serverAddr(t))
	prefix := testPrefix(t, c)
	s := newStore(t, c, prefix)
	ctx := context.Background()
	key := storetest.NewKey(t)
	require.NoError(t, s.Create(ctx, key, enginetest.LiveRecord("a", "1")))

	limit := &pipelineLimit{max: 1} // every pipeline is refused
	c.AddHook(limit)
	owner := "refused-" + storetest.NewKey(t)
	c2 := set("a", "2")
	c2.Owner = &owner
	_, err := s.Update(ctx, key, c2)
	require.ErrorIs(t, err, store.ErrNotSent)
	assert.Positive(t, limit.refused.Load(), "the pipeline was refused")
	requireSession(t, s, key, 1, map[string]string{"a": "1"})
}

// TestClusterRefusedIndexGoesSolo: on a Cluster, a group's owner-index
// writes, which follow its script calls in a pipeline of their own, go
// again each alone when a client hook refuses that pipeline, as the
// script calls do: every session lands listed under its owner.
func TestClusterRefusedIndexGoesSolo(t *testing.T) {
	c := clusterClient(t)
	prefix := testPrefix(t, c)
	s := newStore(t, c, prefix)
	ctx := context.Background()
	owner := "solo-" + storetest.NewKey(t)
	ops := make([]redisstore.GroupOp, 3)
	for i := range ops {
		ops[i] = redisstore.GroupOp{Key: storetest.NewKey(t), Create: true,
			Record: store.Record{Created: time.Now(), Expires: time.Now().Add(time.Hour), Owner: owner}}
	}
	limit := &pipelineLimit{max: 1} // every pipeline is refused
	c.AddHook(limit)
	_, errs := redisstore.SendGroup(ctx, s, ops)
	require.Equal(t, []error{nil, nil, nil}, errs)
	assert.EqualValues(t, 2, limit.refused.Load(), "the scripts' pipeline and the index writes' pipeline were refused")
	owned, err := newStore(t, clusterClient(t), prefix).Owned(ctx, owner) // Owned pipelines too
	require.NoError(t, err)
	assert.Len(t, owned, len(ops))
}
