package nodetest

import (
	"testing"

	"github.com/sessiongen/sessiongen/runtime/bus"
	"github.com/sessiongen/sessiongen/runtime/store"
	"github.com/sessiongen/sessiongen/runtime/store/memstore"
)

// localEnv is the in-process bus over one shared memory engine.
func localEnv() Env {
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

func TestLocal(t *testing.T) {
	Run(t, localEnv())
}

func TestRacesLocal(t *testing.T) {
	RunRaces(t, localEnv())
}
