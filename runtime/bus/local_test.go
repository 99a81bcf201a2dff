package bus_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sessiongen/sessiongen/runtime/bus"
	"github.com/sessiongen/sessiongen/runtime/bus/internal/bustest"
)

func TestLocalDeliversToEverySubscriptionInOrder(t *testing.T) {
	l := bus.NewLocal()
	a, b := bustest.Subscribe(t, l), bustest.Subscribe(t, l)
	a.WaitUps(1, bustest.Wait)
	b.WaitUps(1, bustest.Wait)
	var want []bus.Message
	for v := uint64(1); v <= 200; v++ {
		m := bustest.Msg("n", "k", v)
		want = append(want, m)
		bustest.Publish(t, l, m)
	}
	del := bus.Message{Node: "n", Key: "k2", Kind: bus.Deleted}
	bustest.Publish(t, l, del)
	want = append(want, del)
	assert.Equal(t, want, a.WaitMessages(len(want), bustest.Wait))
	assert.Equal(t, want, b.WaitMessages(len(want), bustest.Wait))
	assert.Equal(t, []bool{true}, a.States())
}

func TestLocalConcurrentPublishers(t *testing.T) {
	l := bus.NewLocal()
	r := bustest.Subscribe(t, l)
	r.WaitUps(1, bustest.Wait)
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Go(func() {
			for v := uint64(1); v <= 50; v++ {
				bustest.Publish(t, l, bustest.Msg(fmt.Sprint("g", g), "k", v))
			}
		})
	}
	wg.Wait()
	got := r.WaitMessages(200, bustest.Wait)
	last := map[string]uint64{}
	for _, m := range got {
		require.Equal(t, last[m.Node]+1, m.Version, "from %s", m.Node)
		last[m.Node] = m.Version
	}
	assert.Len(t, last, 4)
}

func TestLocalDownAndUp(t *testing.T) {
	l := bus.NewLocal()
	r := bustest.Subscribe(t, l)
	r.WaitUps(1, bustest.Wait)
	bustest.Publish(t, l, bustest.Msg("n", "k", 1))
	l.SetDown(true)
	assert.True(t, l.Down())
	r.WaitDowns(1, bustest.Wait)
	bustest.Publish(t, l, bustest.Msg("n", "k", 2)) // lost: nobody listens
	l.SetDown(true)                                 // no change
	late := bustest.Subscribe(t, l)                 // subscribed while down: no state yet
	l.SetDown(false)
	r.WaitUps(2, bustest.Wait)
	late.WaitUps(1, bustest.Wait)
	bustest.Publish(t, l, bustest.Msg("n", "k", 3))
	got := r.WaitMessages(2, bustest.Wait)
	assert.Equal(t, []uint64{1, 3}, []uint64{got[0].Version, got[1].Version})
	assert.Equal(t, []bool{true, false, true}, r.States())
	assert.Equal(t, []bool{true}, late.States())
	assert.Len(t, late.WaitMessages(1, bustest.Wait), 1)
}

func TestLocalSubscribeEndsWithContext(t *testing.T) {
	l := bus.NewLocal()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	require.ErrorIs(t, l.Subscribe(ctx, func(bus.Message) {}, nil), context.Canceled)

	ctx, cancel = context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	start := time.Now()
	require.ErrorIs(t, l.Subscribe(ctx, func(bus.Message) {}, nil), context.DeadlineExceeded)
	assert.Less(t, time.Since(start), time.Second)

	r := bustest.Subscribe(t, l)
	r.WaitUps(1, bustest.Wait)
	r.Stop()
	bustest.Publish(t, l, bustest.Msg("n", "k", 1)) // the ended subscription gets nothing
	assert.Empty(t, r.Messages())
}

func TestLocalRefusesBadInput(t *testing.T) {
	l := bus.NewLocal()
	err := l.Publish(context.Background(), bus.Message{Key: "k"})
	require.ErrorIs(t, err, bus.ErrMalformed)
	assert.Contains(t, err.Error(), "bus: local: publish: ")
	require.Error(t, l.Subscribe(context.Background(), nil, nil))
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	require.ErrorIs(t, l.Publish(ctx, bustest.Msg("n", "k", 1)), context.Canceled)
}
