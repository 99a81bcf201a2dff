package session

import (
	"context"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sessiongen/sessiongen/runtime/bus"
	"github.com/sessiongen/sessiongen/runtime/store"
)

// provingBus is a Local bus that implements bus.Prover with proofs the
// test makes (prove). A proof travels as a message on the Local bus, so
// it reaches each subscription after every message published before it,
// as a real transport's proof does.
type provingBus struct {
	*bus.Local
	interval atomic.Int64 // the interval SubscribeProved was asked for
	plain    atomic.Int32 // Subscribe calls

	mu     sync.Mutex
	proofs map[string]time.Time
	seq    int
}

// proofNode marks the messages that carry proofs.
const proofNode = "\x00proof"

func newProvingBus() *provingBus {
	return &provingBus{Local: bus.NewLocal(), proofs: map[string]time.Time{}}
}

func (p *provingBus) Subscribe(ctx context.Context, deliver func(bus.Message), state func(bool)) error {
	p.plain.Add(1)
	return p.Local.Subscribe(ctx, deliver, state)
}

func (p *provingBus) SubscribeProved(ctx context.Context, interval time.Duration, deliver func(bus.Message), state func(bool), proved func(time.Time)) error {
	p.interval.Store(int64(interval))
	up := false
	return p.Local.Subscribe(ctx, func(m bus.Message) {
		if m.Node != proofNode {
			deliver(m)
			return
		}
		p.mu.Lock()
		t := p.proofs[m.Key]
		p.mu.Unlock()
		if up {
			proved(t)
		}
	}, func(u bool) {
		up = u
		state(u)
	})
}

// prove makes every subscription prove t (a real time: the manager takes
// its age) and waits until h has recorded the proof.
func (p *provingBus) prove(t *testing.T, h *harness, at time.Time) {
	t.Helper()
	p.mu.Lock()
	p.seq++
	key := "p" + strconv.Itoa(p.seq)
	p.proofs[key] = at
	p.mu.Unlock()
	before := h.m.proof.Load()
	require.NoError(t, p.Publish(context.Background(), bus.Message{Node: proofNode, Key: key, Version: 1, Kind: bus.Changed}))
	eventually(t, "the proof", func() bool { return h.m.proof.Load() != before })
}

// ageProof moves h's clock (forward) to where its latest proof is age
// old.
func ageProof(t *testing.T, h *harness, age time.Duration) {
	t.Helper()
	at := h.m.base.Add(time.Duration(h.m.proof.Load()) + age)
	require.False(t, at.Before(h.clock.Now()), "the clock only moves forward")
	h.clock.Advance(at.Sub(h.clock.Now()))
}

// TestProverIsAskedForProofs: a manager asks a bus.Prover for a proof
// every quarter of its staleness bound; without a bound it uses plain
// Subscribe.
func TestProverIsAskedForProofs(t *testing.T) {
	for _, c := range []struct {
		name  string
		opts  []Option
		every time.Duration // 0: plain Subscribe
	}{
		{"default bound", nil, DefaultMaxStalenessWithBus / 4},
		{"bound 2s", []Option{WithMaxStaleness(2 * time.Second)}, 500 * time.Millisecond},
		{"no bound", []Option{WithMaxStaleness(0)}, 0},
	} {
		t.Run(c.name, func(t *testing.T) {
			pb := newProvingBus()
			h := newNode(t, sharedEngine(t), pb, "B", c.opts...)
			assert.Equal(t, c.every, time.Duration(pb.interval.Load()))
			assert.Equal(t, c.every == 0, pb.plain.Load() == 1)
			assert.Equal(t, c.every != 0, h.m.bounded.Load(), "with proofs the bound applies while the bus is up")
		})
	}
}

// TestProofsVouchForOldCopiesExactly: with the bus up, a copy older than
// the bound is served while the latest proof is younger than three
// quarters of the bound, and revalidated from that instant on; when
// proofs stop (a stall nobody has noticed yet), a change no message
// announced is seen by every read that begins a bound after it.
func TestProofsVouchForOldCopiesExactly(t *testing.T) {
	mem, pb := sharedEngine(t), newProvingBus()
	a := newNode(t, mem, nil, "A")
	b := newNode(t, mem, pb, "B")
	bound := DefaultMaxStalenessWithBus
	c := a.newSession("k", 1)
	require.Equal(t, 1, b.value(c))
	require.Equal(t, int64(1), b.store.loads.Load())

	b.clock.Advance(bound + time.Millisecond)
	assert.Equal(t, 1, b.value(c))
	assert.Equal(t, int64(1), b.store.versions.Load(), "past the bound, without a proof: checked")

	b.clock.Advance(bound + time.Millisecond)
	pb.prove(t, b, time.Now())
	assert.Equal(t, 1, b.value(c))
	assert.Equal(t, int64(1), b.store.versions.Load(), "a fresh proof vouches for the old copy")

	// The proof counts for 3/4 of the bound, to the nanosecond.
	ageProof(t, b, proofTrust(bound))
	assert.Equal(t, 1, b.value(c))
	assert.Equal(t, int64(1), b.store.versions.Load(), "a proof 3/4 of the bound old")
	b.clock.Advance(time.Nanosecond)
	assert.Equal(t, 1, b.value(c))
	assert.Equal(t, int64(2), b.store.versions.Load(), "a proof older than 3/4 of the bound no longer counts")

	// Proofs stop (the transport stalled; the bus has not said so). A
	// change no message announces is served to every read that begins a
	// bound after it, whatever the cache held.
	b.clock.Advance(bound + time.Millisecond)
	pb.prove(t, b, time.Now())
	changed := b.clock.Now()
	a.setValue(c, 2)
	assert.Equal(t, 1, b.value(c), "the last proof still counts: the change may be in flight")
	ageProof(t, b, proofTrust(bound)+time.Nanosecond)
	assert.Equal(t, 2, b.value(c), "once the last proof no longer counts, the copy is checked")
	assert.LessOrEqual(t, b.clock.Now().Sub(changed), bound)
	assert.True(t, b.m.busUp.Load(), "the bus never said it was down")
}

// TestProofsDoNotCoverMissedMessages: after the subscription comes back,
// a fresh proof does not vouch for copies cached before (messages may
// have been missed while it was down); a message delivered before a
// proof has dropped the copy it makes stale.
func TestProofsDoNotCoverMissedMessages(t *testing.T) {
	mem, pb := sharedEngine(t), newProvingBus()
	a := newNode(t, mem, nil, "A")
	b := newNode(t, mem, pb, "B")
	c := a.newSession("k", 1)
	require.Equal(t, 1, b.value(c))

	pb.SetDown(true)
	eventually(t, "B to see the bus down", func() bool { return !b.m.busUp.Load() })
	a.setValue(c, 2) // the message is lost
	pb.SetDown(false)
	eventually(t, "B to see the bus up", b.m.busUp.Load)
	b.clock.Advance(time.Millisecond)
	pb.prove(t, b, time.Now())
	assert.Equal(t, 2, b.value(c), "cached before the subscription came back: revalidated")

	a.setValue(c, 3)
	rec, err := a.engineRecord(c)
	require.NoError(t, err)
	require.NoError(t, pb.Publish(context.Background(),
		bus.Message{Node: "A", Key: store.Key(c.Value), Version: rec.Version, Kind: bus.Changed}))
	b.clock.Advance(2 * DefaultMaxStalenessWithBus)
	pb.prove(t, b, time.Now())
	assert.Equal(t, 3, b.value(c), "the message came before the proof")
}
