package nodetest

import (
	"testing"

	"github.com/sessiongen/sessiongen/runtime/bus"
	"github.com/sessiongen/sessiongen/runtime/store"
	"github.com/sessiongen/sessiongen/runtime/store/memstore"
)

// Local is the environment of nodes in one process: every node on one
// memory engine and one in-process bus, whose outages the test holds.
func Local() Env {
	return Env{Name: "local", Open: func(t testing.TB) Backend {
		mem := memstore.New()
		t.Cleanup(func() { _ = mem.Close() })
		l := bus.NewLocal()
		return Backend{
			Node: func(testing.TB, int) (store.Store, bus.Bus) { return mem, l },
			Outage: func(testing.TB) func() {
				l.SetDown(true)
				return func() { l.SetDown(false) }
			},
			Held: true,
		}
	}, HeldOutages: true}
}
