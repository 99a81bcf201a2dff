package bench

import (
	"testing"

	"github.com/alexedwards/scs/v2/memstore"

	session "github.com/sessiongen/sessiongen/runtime"
)

// BenchmarkMemory compares the three libraries on in-process storage:
// sessiongen on its memory engine (default options, warm cache), scs on
// its memstore and gorilla on its CookieStore (the session is the
// cookie). Bare is the same harness around a handler that reads nothing;
// the overhead of a library is its ns/op minus Bare's.
// OneSet/sessiongen-onresponse is sessiongen with the OnResponse flush
// mode instead of the Immediate default.
func BenchmarkMemory(b *testing.B) {
	req := sessiongenLib(b).newSession(b)
	b.Run("Bare", func(b *testing.B) { serve(b, bare, req, nil) })
	runLibs(b, memoryLibs(b), nil, false)
	runOnResponse(b, sessiongenLib(b, session.WithFlushMode(session.OnResponse)), nil)
}

// memoryLibs returns the three libraries on in-process storage.
func memoryLibs(tb testing.TB) []lib {
	return []lib{
		sessiongenLib(tb),
		scsLib(memstore.New()),
		gorillaLib(),
	}
}

// runOnResponse runs the serial OneSet request of l, a sessiongen manager
// in OnResponse mode, as OneSet/sessiongen-onresponse.
func runOnResponse(b *testing.B, l lib, rt *counter) {
	l.name = "sessiongen-onresponse"
	req := l.newSession(b)
	l.checkWrite(b, req)
	h := l.writeHandler()
	b.Run("OneSet/"+l.name, func(b *testing.B) { serve(b, h, req, rt) })
}
