package bench

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// The seeded session holds these two values. Read requests read "n" and
// expect 42; "k" is never written after seeding, so finding it after a
// write proves the write went to the existing session, not a new one.
const (
	seedN = 42
	seedK = 7
)

// clients is the number of concurrent clients of the parallel read
// benchmarks, and the size of every connection pool (both libraries get
// the same pool).
const clients = 32

// writeClients are the numbers of concurrent clients of the write sweep.
var writeClients = []int{1, 8, 32, 128}

// lib is one session library wired for the benchmark requests. Every
// request handler is built from these four functions, so the three
// libraries serve exactly the same requests.
type lib struct {
	name string
	// wrap is the library's middleware (the identity for gorilla, which
	// has none).
	wrap func(http.Handler) http.Handler
	// get reads the int64 under key from the request's session.
	get func(r *http.Request, key string) (int64, bool, error)
	// set writes v under key in the request's session.
	set func(w http.ResponseWriter, r *http.Request, key string, v int64) error
	// seed writes n=seedN and k=seedK in the request's session.
	seed func(w http.ResponseWriter, r *http.Request) error
}

// written numbers the values the OneSet handlers write, so every write
// changes the session.
var written atomic.Int64

// readHandler reads "n" and answers 500 unless it is seedN.
func (l lib) readHandler() http.Handler {
	return l.wrap(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n, ok, err := l.get(r, "n")
		if err != nil || !ok || n != seedN {
			http.Error(w, fmt.Sprintf("read n: got %d, %t, %v; want %d", n, ok, err, seedN), http.StatusInternalServerError)
		}
	}))
}

// writeHandler sets "n" to a new value and answers 500 when that fails.
func (l lib) writeHandler() http.Handler {
	return l.wrap(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := l.set(w, r, "n", written.Add(1)); err != nil {
			http.Error(w, "set n: "+err.Error(), http.StatusInternalServerError)
		}
	}))
}

// seedHandler creates the session.
func (l lib) seedHandler() http.Handler {
	return l.wrap(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := l.seed(w, r); err != nil {
			http.Error(w, "seed: "+err.Error(), http.StatusInternalServerError)
		}
	}))
}

// verifyHandler answers 500 unless n is want and k is seedK.
func (l lib) verifyHandler(want int64) http.Handler {
	return l.wrap(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n, nok, nerr := l.get(r, "n")
		k, kok, kerr := l.get(r, "k")
		if nerr != nil || kerr != nil || !nok || !kok || n != want || k != seedK {
			http.Error(w, fmt.Sprintf("verify: n=%d (%t, %v), k=%d (%t, %v); want n=%d k=%d",
				n, nok, nerr, k, kok, kerr, want, seedK), http.StatusInternalServerError)
		}
	}))
}

// newSession creates a session through the library and returns a request
// carrying its cookie, ready to be copied by the benchmark loops.
func (l lib) newSession(tb testing.TB) *http.Request {
	tb.Helper()
	w := httptest.NewRecorder()
	l.seedHandler().ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/", nil))
	if w.Code != http.StatusOK {
		tb.Fatalf("%s: seed request: status %d: %s", l.name, w.Code, w.Body)
	}
	cookies := w.Result().Cookies()
	if len(cookies) == 0 {
		tb.Fatalf("%s: seed request set no cookie", l.name)
	}
	req := httptest.NewRequest(http.MethodGet, "/", nil)
	for _, c := range cookies {
		req.AddCookie(&http.Cookie{Name: c.Name, Value: c.Value})
	}
	return req
}

// serveOnce runs h once on a copy of req and fails unless it answers 200.
// It returns the recorder.
func serveOnce(tb testing.TB, what string, h http.Handler, req *http.Request) *httptest.ResponseRecorder {
	tb.Helper()
	r := *req
	w := httptest.NewRecorder()
	h.ServeHTTP(w, &r)
	if w.Code != http.StatusOK {
		tb.Fatalf("%s: status %d: %s", what, w.Code, w.Body)
	}
	return w
}

// checkRead asserts, before any timing, that the library loads the
// existing session of req: the read handler finds n == seedN.
func (l lib) checkRead(tb testing.TB, req *http.Request) {
	tb.Helper()
	serveOnce(tb, l.name+": read check", l.readHandler(), req)
}

// checkWrite asserts, before any timing, that a write request on req
// changes the existing session: afterwards n holds the written value and
// k is still there (a write that had started a new session would have
// lost k).
func (l lib) checkWrite(tb testing.TB, req *http.Request) {
	tb.Helper()
	w := serveOnce(tb, l.name+": write check", l.writeHandler(), req)
	want := written.Load()
	next := withResponseCookies(req, w.Result().Cookies())
	serveOnce(tb, l.name+": read back after write", l.verifyHandler(want), next)
}

// withResponseCookies returns a copy of req whose cookies are those of req
// replaced by the ones a response set.
func withResponseCookies(req *http.Request, set []*http.Cookie) *http.Request {
	jar := map[string]string{}
	var order []string
	add := func(name, value string) {
		if _, ok := jar[name]; !ok {
			order = append(order, name)
		}
		jar[name] = value
	}
	for _, c := range req.Cookies() {
		add(c.Name, c.Value)
	}
	for _, c := range set {
		add(c.Name, c.Value)
	}
	out := httptest.NewRequest(req.Method, req.URL.String(), nil)
	for _, name := range order {
		out.AddCookie(&http.Cookie{Name: name, Value: jar[name]})
	}
	return out
}

// counter counts engine round trips and commands.
type counter struct {
	roundTrips atomic.Int64
	commands   atomic.Int64
}

// reset zeroes the counts.
func (c *counter) reset() {
	if c != nil {
		c.roundTrips.Store(0)
		c.commands.Store(0)
	}
}

// report adds the round trips per request to the benchmark's output.
func (c *counter) report(b *testing.B) {
	if c != nil && b.N > 0 {
		b.ReportMetric(float64(c.roundTrips.Load())/float64(b.N), "rtt/op")
	}
}

// serve is the harness of the serial benchmarks: per iteration one fresh
// recorder and one shallow copy of req, served by h. The copy is needed
// because gorilla/sessions caches the decoded session in the request it
// is given (it replaces *r with a request carrying its registry); every
// library pays for it, and so does the bare baseline. rt, when not nil,
// counts the engine round trips.
func serve(b *testing.B, h http.Handler, req *http.Request, rt *counter) {
	b.ReportAllocs()
	rt.reset()
	for b.Loop() {
		r := *req
		w := httptest.NewRecorder()
		h.ServeHTTP(w, &r)
		if w.Code != http.StatusOK {
			b.Fatalf("status %d: %s", w.Code, w.Body)
		}
	}
	rt.report(b)
}

// serveClients is the harness of the parallel benchmarks: exactly
// len(reqs) goroutines, each serving the same request as serve on its own
// session, share b.N requests. It reports the throughput as req/s (=
// 1e9 / ns/op) and the latency of one request at the 50th and 99th
// percentiles, in µs.
func serveClients(b *testing.B, h http.Handler, reqs []*http.Request, rt *counter) {
	b.ReportAllocs()
	var next atomic.Int64
	lat := make([][]time.Duration, len(reqs))
	rt.reset()
	b.ResetTimer()
	var wg sync.WaitGroup
	for i, req := range reqs {
		lat[i] = make([]time.Duration, 0, b.N/len(reqs)+1)
		wg.Go(func() {
			for next.Add(1) <= int64(b.N) {
				r := *req
				w := httptest.NewRecorder()
				start := time.Now()
				h.ServeHTTP(w, &r)
				lat[i] = append(lat[i], time.Since(start))
				if w.Code != http.StatusOK {
					b.Errorf("status %d: %s", w.Code, w.Body)
					return
				}
			}
		})
	}
	wg.Wait()
	b.StopTimer()
	if s := b.Elapsed().Seconds(); s > 0 {
		b.ReportMetric(float64(b.N)/s, "req/s")
	}
	all := slices.Concat(lat...)
	slices.Sort(all)
	if len(all) > 0 {
		b.ReportMetric(float64(all[len(all)/2].Nanoseconds())/1e3, "p50-µs")
		b.ReportMetric(float64(all[min(len(all)-1, len(all)*99/100)].Nanoseconds())/1e3, "p99-µs")
	}
	rt.report(b)
}

// sessions creates n sessions through l, checks the first with check,
// and returns their requests.
func (l lib) sessions(tb testing.TB, n int, check func(lib, testing.TB, *http.Request)) []*http.Request {
	tb.Helper()
	reqs := make([]*http.Request, n)
	for i := range reqs {
		reqs[i] = l.newSession(tb)
	}
	check(l, tb, reqs[0])
	return reqs
}

// bare is the baseline handler: it reads nothing.
var bare = http.HandlerFunc(func(http.ResponseWriter, *http.Request) {})

// runLibs runs the serial and the parallel ReadOnly and OneSet requests
// for each library as sub-benchmarks of b, named op/library; sweepOnly
// libraries (sessiongen-alone: the engine without group commit) run in
// the write sweep only.
func runLibs(b *testing.B, libs []lib, counters map[string]*counter, parallel bool, sweepOnly ...lib) {
	for _, l := range libs {
		req := l.newSession(b)
		l.checkRead(b, req)
		h := l.readHandler()
		b.Run("ReadOnly/"+l.name, func(b *testing.B) { serve(b, h, req, counters[l.name]) })
	}
	for _, l := range libs {
		req := l.newSession(b)
		l.checkWrite(b, req)
		h := l.writeHandler()
		b.Run("OneSet/"+l.name, func(b *testing.B) { serve(b, h, req, counters[l.name]) })
	}
	if !parallel {
		return
	}
	for _, l := range libs {
		reqs := l.sessions(b, clients, lib.checkRead)
		h := l.readHandler()
		b.Run(fmt.Sprintf("ReadOnly%dClients/%s", clients, l.name), func(b *testing.B) {
			serveClients(b, h, reqs, counters[l.name])
		})
	}
	runWrites(b, append(slices.Clip(libs), sweepOnly...), counters)
}

// runWrites runs the write sweep: the OneSet request from each number of
// concurrent clients of writeClients, each on its own session, for each
// library, as OneSet<n>Clients/library.
func runWrites(b *testing.B, libs []lib, counters map[string]*counter) {
	for _, n := range writeClients {
		for _, l := range libs {
			reqs := l.sessions(b, n, lib.checkWrite)
			h := l.writeHandler()
			b.Run(fmt.Sprintf("OneSet%dClients/%s", n, l.name), func(b *testing.B) {
				serveClients(b, h, reqs, counters[l.name])
			})
		}
	}
}
