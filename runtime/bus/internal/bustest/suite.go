package bustest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sessiongen/sessiongen/runtime/bus"
)

// Wait is how long the shared tests wait for a subscription to come up or
// for messages to arrive on loopback.
const Wait = 5 * time.Second

// Transport is what the shared tests need from one transport.
type Transport struct {
	// Name prefixes the transport's errors ("redisbus").
	Name string
	// New returns a Bus on channel, with its own client or pool, so two
	// Buses from New act as two nodes.
	New func(t *testing.T, channel string) bus.Bus
	// Inject publishes payload on channel as it is, bypassing the codec.
	Inject func(t *testing.T, channel, payload string)
	// Malformed returns how many messages b skipped as malformed.
	Malformed func(b bus.Bus) uint64
}

// UniqueName returns prefix followed by 16 random hexadecimal digits: a
// channel no other test run uses.
func UniqueName(prefix string) string {
	var b [8]byte
	_, _ = rand.Read(b[:]) // never fails (crypto/rand)
	return prefix + hex.EncodeToString(b[:])
}

// Channel returns a channel name unique to this test run, valid for
// every transport (lower-case letters, digits and underscores, shorter
// than PostgreSQL's 64-byte identifier limit).
func Channel() string { return UniqueName("sessiongen_test_") }

// Msg returns a Changed message from node for key at version v.
func Msg(node, key string, v uint64) bus.Message {
	return bus.Message{Node: node, Key: key, Version: v, Kind: bus.Changed}
}

// Publish publishes m on b within Wait and fails the test on an error.
func Publish(t *testing.T, b bus.Bus, m bus.Message) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), Wait)
	defer cancel()
	require.NoError(t, b.Publish(ctx, m))
}

// Run runs the tests every transport must pass against its real server.
// Each test uses channels of its own.
func Run(t *testing.T, tr Transport) {
	t.Run("Delivery", func(t *testing.T) { testDelivery(t, tr) })
	t.Run("UpFirst", func(t *testing.T) { testUpFirst(t, tr) })
	t.Run("CanceledBeforeUp", func(t *testing.T) { testCanceledBeforeUp(t, tr) })
	t.Run("NilState", func(t *testing.T) { testNilState(t, tr) })
	t.Run("Order", func(t *testing.T) { testOrder(t, tr) })
	t.Run("ConcurrentPublishers", func(t *testing.T) { testConcurrentPublishers(t, tr) })
	t.Run("AnyString", func(t *testing.T) { testAnyString(t, tr) })
	t.Run("MalformedSkipped", func(t *testing.T) { testMalformed(t, tr) })
	t.Run("PublishInvalid", func(t *testing.T) { testPublishInvalid(t, tr) })
	t.Run("NilDeliver", func(t *testing.T) { testNilDeliver(t, tr) })
	t.Run("ProofsCoverPublished", func(t *testing.T) { testProofs(t, tr) })
	t.Run("ProofInvalid", func(t *testing.T) { testProofInvalid(t, tr) })
}

// prover returns b as a bus.Prover, skipping the test when it is not one.
func prover(t *testing.T, b bus.Bus) bus.Prover {
	t.Helper()
	p, ok := b.(bus.Prover)
	if !ok {
		t.Skipf("%T does not implement bus.Prover", b)
	}
	return p
}

// testProofs: while messages stream in, proofs come regularly, and each
// proof covers every message published after the subscription came up
// whose Publish returned before the time it proves: that message had been
// delivered when proved was called. (On a busy machine a probe may miss
// its deadline and the Bus resubscribe: messages published meanwhile are
// lost, as the contract allows, and the proofs of the new subscription do
// not cover them.)
func testProofs(t *testing.T, tr Transport) {
	const interval = 50 * time.Millisecond
	ch := Channel()
	pub, sub := tr.New(t, ch), prover(t, tr.New(t, ch))
	r := SubscribeProved(t, sub, interval)
	r.WaitUps(1, Wait)
	const n = 200
	// When Publish of message i (version i+1) began and returned.
	began, returned := make([]time.Time, n), make([]time.Time, n)
	for i := range n {
		began[i] = time.Now()
		Publish(t, pub, Msg("pub", "key", uint64(i+1)))
		returned[i] = time.Now()
		if i%3 == 0 {
			time.Sleep(time.Millisecond)
		}
	}
	last := returned[n-1]
	Eventually(t, Wait, "a proof of a time after the last Publish returned", func() bool {
		ps := r.Proofs()
		return len(ps) > 0 && ps[len(ps)-1].T.After(last)
	})
	msgs, states, times := r.Messages(), r.States(), r.StateTimes()
	covering := 0
	for _, p := range r.Proofs() {
		var up time.Time // when the subscription p belongs to came up
		for i, s := range states {
			if s && times[i].Before(p.At) {
				up = times[i]
			}
		}
		delivered := map[uint64]bool{}
		for _, m := range msgs[:p.Delivered] {
			delivered[m.Version] = true
		}
		covered := 0
		for i := range n {
			if began[i].After(up) && returned[i].Before(p.T) {
				covered++
				require.True(t, delivered[uint64(i+1)],
					"message %d: published after the subscription came up and before the proof of %v, not delivered by then", i+1, p.T)
			}
		}
		if covered > 0 && covered < n {
			covering++
		}
	}
	t.Logf("%d proofs, %d of them while messages were in flight; states %v", len(r.Proofs()), covering, states)
	if len(states) == 1 {
		assert.Len(t, msgs, n, "without a loss, every message is delivered")
	}
}

// testProofInvalid: SubscribeProved refuses an interval that is not
// positive at once, calling nothing.
func testProofInvalid(t *testing.T, tr Transport) {
	p := prover(t, tr.New(t, Channel()))
	for _, d := range []time.Duration{0, -time.Second} {
		err := p.SubscribeProved(context.Background(), d, func(bus.Message) { t.Error("deliver called") },
			func(bool) { t.Error("state called") }, func(time.Time) { t.Error("proved called") })
		require.Error(t, err)
		assert.True(t, strings.HasPrefix(err.Error(), tr.Name+": subscribe: "), "%v", err)
	}
}

// testDelivery: two nodes on one channel each receive every message once,
// the publisher included; a node on another channel receives none of them.
func testDelivery(t *testing.T, tr Transport) {
	ch, other := Channel(), Channel()
	a, b, c := tr.New(t, ch), tr.New(t, ch), tr.New(t, other)
	ra, rb, rc := Subscribe(t, a), Subscribe(t, b), Subscribe(t, c)
	ra.WaitUps(1, Wait)
	rb.WaitUps(1, Wait)
	rc.WaitUps(1, Wait)

	m1 := Msg("node-a", "key1", 1)
	m2 := bus.Message{Node: "node-b", Key: "key2", Kind: bus.Deleted}
	Publish(t, a, m1)
	Publish(t, b, m2)
	want := []bus.Message{m1, m2}
	assert.Equal(t, want, ra.WaitMessages(2, Wait))
	assert.Equal(t, want, rb.WaitMessages(2, Wait))

	m3 := Msg("node-c", "key3", 3)
	Publish(t, c, m3)
	assert.Equal(t, []bus.Message{m3}, rc.WaitMessages(1, Wait), "the other channel's node")
	// m3 was published after m1 and m2 arrived; give it time to leak.
	time.Sleep(100 * time.Millisecond)
	assert.Equal(t, want, ra.Messages(), "nothing from the other channel")
	assert.Equal(t, want, rb.Messages(), "nothing from the other channel")
	assert.Equal(t, []bool{true}, ra.States())
}

// testUpFirst: state(true) comes first, before any message, and a
// subscription that ends by its context makes no further calls and
// returns context.Canceled.
func testUpFirst(t *testing.T, tr Transport) {
	b := tr.New(t, Channel())
	r := Subscribe(t, b)
	r.WaitUps(1, Wait)
	assert.Equal(t, []bool{true}, r.States())
	assert.Empty(t, r.Messages())
	r.Stop()
	returned, err := r.Returned()
	require.True(t, returned)
	require.ErrorIs(t, err, context.Canceled)
	assert.Equal(t, []bool{true}, r.States(), "no state(false) when the context ends")
}

// testCanceledBeforeUp: a context done before the call makes Subscribe
// return its error at once, calling nothing.
func testCanceledBeforeUp(t *testing.T, tr Transport) {
	b := tr.New(t, Channel())
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	called := false
	start := time.Now()
	err := b.Subscribe(ctx, func(bus.Message) { called = true }, func(bool) { called = true })
	require.ErrorIs(t, err, context.Canceled)
	assert.False(t, called)
	assert.Less(t, time.Since(start), time.Second)

	ctx, cancel = context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	err = b.Subscribe(ctx, func(bus.Message) {}, nil)
	require.ErrorIs(t, err, context.DeadlineExceeded)
}

// testNilState: state may be nil.
func testNilState(t *testing.T, tr Transport) {
	ch := Channel()
	pub, sub := tr.New(t, ch), tr.New(t, ch)
	ctx, cancel := context.WithCancel(context.Background())
	got := make(chan bus.Message, 100)
	done := make(chan error, 1)
	go func() { done <- sub.Subscribe(ctx, func(m bus.Message) { got <- m }, nil) }()
	// Without state there is no telling when the subscription is up:
	// publish until a message arrives.
	m := Msg("n", "k", 1)
	deadline := time.After(Wait)
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
loop:
	for {
		Publish(t, pub, m)
		select {
		case g := <-got:
			assert.Equal(t, m, g)
			break loop
		case <-tick.C:
		case <-deadline:
			cancel()
			t.Fatalf("no message within %v", Wait)
		}
	}
	cancel()
	select {
	case err := <-done:
		require.ErrorIs(t, err, context.Canceled)
	case <-time.After(Wait):
		t.Fatal("Subscribe did not return after its context ended")
	}
}

// testOrder: the messages of one publisher arrive in the order it sent
// them.
func testOrder(t *testing.T, tr Transport) {
	const n = 300
	ch := Channel()
	pub, sub := tr.New(t, ch), tr.New(t, ch)
	r := Subscribe(t, sub)
	r.WaitUps(1, Wait)
	for v := uint64(1); v <= n; v++ {
		Publish(t, pub, Msg("pub", "key", v))
	}
	got := r.WaitMessages(n, 2*Wait)
	require.Len(t, got, n)
	for i, m := range got {
		require.Equal(t, uint64(i+1), m.Version, "message %d out of order", i)
	}
}

// testConcurrentPublishers: several goroutines publish through one Bus;
// every message arrives, each goroutine's in its order.
func testConcurrentPublishers(t *testing.T, tr Transport) {
	const goroutines, each = 4, 50
	ch := Channel()
	pub, sub := tr.New(t, ch), tr.New(t, ch)
	r := Subscribe(t, sub)
	r.WaitUps(1, Wait)
	var wg sync.WaitGroup
	errs := make(chan error, goroutines*each)
	for g := range goroutines {
		wg.Go(func() {
			for v := uint64(1); v <= each; v++ {
				ctx, cancel := context.WithTimeout(context.Background(), Wait)
				errs <- pub.Publish(ctx, Msg(fmt.Sprint("g", g), "key", v))
				cancel()
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	got := r.WaitMessages(goroutines*each, 2*Wait)
	require.Len(t, got, goroutines*each)
	last := map[string]uint64{}
	for _, m := range got {
		require.Equal(t, last[m.Node]+1, m.Version, "from %s", m.Node)
		last[m.Node] = m.Version
	}
	assert.Len(t, last, goroutines)
}

// testAnyString: any node and key string travels unchanged.
func testAnyString(t *testing.T, tr Transport) {
	ch := Channel()
	pub, sub := tr.New(t, ch), tr.New(t, ch)
	r := Subscribe(t, sub)
	r.WaitUps(1, Wait)
	want := []bus.Message{
		Msg("ünïcödé 節點", "q8Vx0bJm7Lk3p_9-AbCdEfGhIjKlMnOpQrStUvWxYz0", 1),
		Msg("", "\x00\xff\xfe\x80 invalid utf-8", 2),
		{Node: "spaces and\nnewlines\t%41", Key: "'; DROP TABLE x; --", Kind: bus.Deleted},
		Msg(strings.Repeat("n", 500), strings.Repeat("/+=", 300), 18446744073709551615),
	}
	for _, m := range want {
		Publish(t, pub, m)
	}
	assert.Equal(t, want, r.WaitMessages(len(want), Wait))
}

// testMalformed: payloads that are not messages are skipped and counted;
// the subscription stays up and delivers what follows.
func testMalformed(t *testing.T, tr Transport) {
	ch := Channel()
	pub, sub := tr.New(t, ch), tr.New(t, ch)
	r := Subscribe(t, sub)
	r.WaitUps(1, Wait)
	bad := []string{"", "hello", "sgb1 C 1 n", "sgb9 C 1 n k", "sgb1 C 1 n %zz", "sgb1 Q 1 n k", "sgb1 C -1 n k", `{"json":true}`}
	for _, p := range bad {
		tr.Inject(t, ch, p)
	}
	good := Msg("n", "k", 9)
	Publish(t, pub, good)
	assert.Equal(t, []bus.Message{good}, r.WaitMessages(1, Wait))
	// On a Redis Cluster the injected payloads may enter through other
	// nodes than the good message and arrive after it: wait for them.
	assert.Eventually(t, func() bool { return tr.Malformed(sub) == uint64(len(bad)) }, Wait, 5*time.Millisecond,
		"every one of the %d malformed payloads is counted", len(bad))
	assert.Equal(t, uint64(0), tr.Malformed(pub), "the publisher did not subscribe")
	assert.Equal(t, []bool{true}, r.States(), "still up")
}

// testPublishInvalid: a message that cannot be sent is refused with
// bus.ErrMalformed and sends nothing.
func testPublishInvalid(t *testing.T, tr Transport) {
	ch := Channel()
	pub, sub := tr.New(t, ch), tr.New(t, ch)
	r := Subscribe(t, sub)
	r.WaitUps(1, Wait)
	for _, m := range []bus.Message{{Key: "k"}, {Key: "k", Kind: 7}, {Node: "n", Kind: bus.Changed}} {
		err := pub.Publish(context.Background(), m)
		require.ErrorIs(t, err, bus.ErrMalformed)
		assert.True(t, strings.HasPrefix(err.Error(), tr.Name+": publish: "), "%v", err)
	}
	good := Msg("n", "k", 1)
	Publish(t, pub, good)
	assert.Equal(t, []bus.Message{good}, r.WaitMessages(1, Wait))
	assert.Equal(t, uint64(0), tr.Malformed(sub))
}

// testNilDeliver: Subscribe refuses a nil deliver function at once.
func testNilDeliver(t *testing.T, tr Transport) {
	b := tr.New(t, Channel())
	err := b.Subscribe(context.Background(), nil, func(bool) { t.Error("state called") })
	require.Error(t, err)
	assert.True(t, strings.HasPrefix(err.Error(), tr.Name+": subscribe: "), "%v", err)
}
