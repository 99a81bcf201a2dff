package bench

import (
	"errors"
	"flag"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/alexedwards/scs/v2"

	session "github.com/sessiongen/sessiongen/runtime"
	"github.com/sessiongen/sessiongen/runtime/codec"
	"github.com/sessiongen/sessiongen/runtime/identity"
	"github.com/sessiongen/sessiongen/runtime/store"
)

// populationEnv names the variable that sets the number of sessions of
// BenchmarkPopulation and BenchmarkCachePolicy.
const populationEnv = "SESSIONGEN_BENCH_POPULATION"

const (
	// defaultPopulation is the number of sessions of a full run.
	defaultPopulation = 1_000_000
	// smokePopulation is the number of sessions with -short or
	// -benchtime 1x (the smoke test of .ci/run).
	smokePopulation = 10_000
	// cacheFraction: the cache holds a tenth of the population.
	cacheFraction = 10
)

// The popularity of the sessions: rank k (0-based) is drawn with
// probability proportional to (zipfV + k)^-zipfS.
const (
	zipfS = 1.1
	zipfV = 1
)

// seeders is the number of goroutines writing the seeded sessions: more
// than the pools' connections, so that the engines' group commit has
// writes waiting to go together.
const seeders = 2 * clients

// population returns the number of sessions to seed: $SESSIONGEN_BENCH_POPULATION
// when set, else smokePopulation with -short or -benchtime 1x, else
// defaultPopulation.
func population(tb testing.TB) int {
	tb.Helper()
	if s := os.Getenv(populationEnv); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < cacheFraction {
			tb.Fatalf("%s=%q: want a whole number of sessions, at least %d", populationEnv, s, cacheFraction)
		}
		return n
	}
	if testing.Short() || smokeRun() {
		return smokePopulation
	}
	return defaultPopulation
}

// smokeRun reports whether the benchmarks run once each (-benchtime 1x),
// as .ci/run does.
func smokeRun() bool {
	f := flag.Lookup("test.benchtime")
	return f != nil && f.Value.String() == "1x"
}

// zipfPicker draws session indexes: a Zipf rank, mapped through a
// permutation so that popularity has nothing to do with the order the
// sessions were written in. It is not safe for concurrent use: every
// client has its own.
type zipfPicker struct {
	z    *rand.Zipf
	perm []int32
}

// newZipfPicker returns a picker over the len(perm) sessions, drawing from
// a PCG source seeded with seed1, seed2.
func newZipfPicker(perm []int32, seed1, seed2 uint64) *zipfPicker {
	r := rand.New(rand.NewPCG(seed1, seed2))
	return &zipfPicker{z: rand.NewZipf(r, zipfS, zipfV, uint64(len(perm)-1)), perm: perm}
}

// next returns the index of the next session.
func (p *zipfPicker) next() int { return int(p.perm[p.z.Uint64()]) }

// permutation returns a fixed random permutation of 0..n-1 (the ranks'
// sessions).
func permutation(n int) []int32 {
	r := rand.New(rand.NewPCG(0x5e55, 0x10f))
	perm := make([]int32, n)
	for i := range perm {
		perm[i] = int32(i)
	}
	r.Shuffle(n, func(i, j int) { perm[i], perm[j] = perm[j], perm[i] })
	return perm
}

// forEach calls f(i) for i in [0, n) from workers goroutines and returns
// the first error (after which the other workers stop taking work).
func forEach(n, workers int, f func(i int) error) error {
	var (
		next    atomic.Int64
		stop    atomic.Bool
		errOnce sync.Once
		first   error
		wg      sync.WaitGroup
	)
	for range workers {
		wg.Go(func() {
			for !stop.Load() {
				i := int(next.Add(1) - 1)
				if i >= n {
					return
				}
				if err := f(i); err != nil {
					errOnce.Do(func() { first = err })
					stop.Store(true)
					return
				}
			}
		})
	}
	wg.Wait()
	return first
}

// seedSessiongen writes p sessions holding n = seedN straight to the
// engine st, the way the manager's first Set would (Manager.create: the
// field msgpack-encoded as Session.Set encodes an int64, created now,
// expiring after the default idle timeout, under the engine key
// store.Key(id) of a new identity.NewID), with seeders concurrent
// Creates. It returns the Cookie header value of each session, for the
// default cookie identity.
func seedSessiongen(tb testing.TB, st store.Store, p int) []string {
	tb.Helper()
	cookies := make([]string, p)
	for i := range cookies {
		id, err := identity.NewID()
		if err != nil {
			tb.Fatal(err)
		}
		cookies[i] = identity.DefaultCookieName + "=" + id
	}
	value := codec.AppendInt(nil, seedN)
	now := time.Now()
	err := forEach(p, seeders, func(i int) error {
		id := cookies[i][len(identity.DefaultCookieName)+1:]
		rec := store.Record{
			Fields:  map[string][]byte{"n": value},
			Created: now,
			Expires: now.Add(session.DefaultIdleTimeout),
		}
		return st.Create(background, store.Key(id), rec)
	})
	if err != nil {
		tb.Fatalf("sessiongen: seed %d sessions: %v", p, err)
	}
	return cookies
}

// seedSCS writes p sessions holding n = seedN to the scs store st the
// way scs's Commit does for a new session at its defaults: the gob codec
// encoding the deadline (now + the default lifetime) and the values,
// committed under a token of 32 random bytes in unpadded base64url (the
// format of scs's generateToken, which identity.NewID shares), with
// clients concurrent Commits (the size of the pools scs uses). It returns
// the Cookie header value of each session.
func seedSCS(tb testing.TB, st scs.Store, p int) []string {
	tb.Helper()
	sm := scs.New()
	deadline := time.Now().Add(sm.Lifetime).UTC()
	blob, err := sm.Codec.Encode(deadline, map[string]any{"n": int64(seedN)})
	if err != nil {
		tb.Fatalf("scs: encode: %v", err)
	}
	cookies := make([]string, p)
	for i := range cookies {
		token, err := identity.NewID()
		if err != nil {
			tb.Fatal(err)
		}
		cookies[i] = sm.Cookie.Name + "=" + token
	}
	err = forEach(p, clients, func(i int) error {
		return st.Commit(cookies[i][len(sm.Cookie.Name)+1:], blob, deadline)
	})
	if err != nil {
		tb.Fatalf("scs: seed %d sessions: %v", p, err)
	}
	return cookies
}

// countingSCSStore counts the calls scs makes to its store. scs.Store is
// the whole interface scs's redisstore and pgxstore implement (neither
// has the context-taking variants), so the wrapper changes nothing else.
type countingSCSStore struct {
	scs.Store
	calls atomic.Uint64
}

// Find counts one call.
func (s *countingSCSStore) Find(token string) ([]byte, bool, error) {
	s.calls.Add(1)
	return s.Store.Find(token)
}

// Commit counts one call.
func (s *countingSCSStore) Commit(token string, b []byte, expiry time.Time) error {
	s.calls.Add(1)
	return s.Store.Commit(token, b, expiry)
}

// Delete counts one call.
func (s *countingSCSStore) Delete(token string) error {
	s.calls.Add(1)
	return s.Store.Delete(token)
}

// popLib is a library with its seeded population.
type popLib struct {
	lib
	// cookies holds the Cookie header of each seeded session.
	cookies []string
	// rt counts the engine round trips.
	rt *counter
	// calls returns the library's engine calls so far.
	calls func() uint64
	// cache returns the cache's hits and misses so far; nil for a
	// library without a cache (scs).
	cache func() (hits, misses uint64)
}

// populationSessiongen returns sessiongen on st with a cache of limit
// sessions, seeded with p sessions written straight to seed (st, or the
// same engine on other connections).
func populationSessiongen(tb testing.TB, st, seed store.Store, rt *counter, p, limit int) popLib {
	tb.Helper()
	m, err := session.New(session.WithStore(st), session.WithCacheLimit(limit))
	if err != nil {
		tb.Fatalf("sessiongen: new manager: %v", err)
	}
	tb.Cleanup(func() { _ = m.Close() })
	start := time.Now()
	cookies := seedSessiongen(tb, seed, p)
	tb.Logf("sessiongen: seeded %d sessions: %v", p, time.Since(start).Round(time.Millisecond))
	return popLib{
		// The read path of sessiongenLib, on a manager this file can
		// ask for its Stats.
		lib: lib{
			name: "sessiongen",
			wrap: m.Handler,
			get: func(r *http.Request, key string) (int64, bool, error) {
				return session.Value[int64](session.FromContext(r.Context()), key)
			},
		},
		cookies: cookies,
		rt:      rt,
		calls:   func() uint64 { return m.Stats().EngineCallsTotal() },
		cache: func() (uint64, uint64) {
			s := m.Stats()
			return s.CacheHits, s.CacheMisses
		},
	}
}

// populationSCS returns scs on st, seeded with p sessions written to seed
// (st, or the same engine on other connections).
func populationSCS(tb testing.TB, st, seed scs.Store, rt *counter, p int) popLib {
	tb.Helper()
	cs := &countingSCSStore{Store: st}
	start := time.Now()
	cookies := seedSCS(tb, seed, p)
	tb.Logf("scs: seeded %d sessions: %v", p, time.Since(start).Round(time.Millisecond))
	return popLib{
		lib:     scsLib(cs),
		cookies: cookies,
		rt:      rt,
		calls:   cs.calls.Load,
	}
}

// requestFor returns a request carrying the cookie header c.
func requestFor(tmpl *http.Request, c string) *http.Request {
	r := *tmpl
	r.Header = http.Header{"Cookie": {c}}
	return &r
}

// check asserts, before any timing, that the library reads n == seedN in
// the most popular session, in one from the middle of the ranks and in
// the last one written.
func (l popLib) check(tb testing.TB, perm []int32) {
	tb.Helper()
	tmpl := httptest.NewRequest(http.MethodGet, "/", nil)
	h := l.readHandler()
	for _, i := range []int{int(perm[0]), int(perm[len(perm)/2]), len(l.cookies) - 1} {
		serveOnce(tb, fmt.Sprintf("%s: read check of seeded session %d", l.name, i), h, requestFor(tmpl, l.cookies[i]))
	}
}

// errStatus reports a request that did not answer 200.
var errStatus = errors.New("request failed")

// drive serves n read requests from clients concurrent clients, each
// request on a session drawn by the client's own Zipf picker (seeded with
// seed and the client's number). It returns the first failure.
func (l popLib) drive(n int, perm []int32, seed uint64) error {
	h := l.readHandler()
	tmpl := httptest.NewRequest(http.MethodGet, "/", nil)
	var (
		left    atomic.Int64
		errOnce sync.Once
		first   error
		wg      sync.WaitGroup
	)
	left.Store(int64(n))
	for c := range clients {
		wg.Go(func() {
			p := newZipfPicker(perm, seed, uint64(c))
			for left.Add(-1) >= 0 {
				w := httptest.NewRecorder()
				h.ServeHTTP(w, requestFor(tmpl, l.cookies[p.next()]))
				if w.Code != http.StatusOK {
					errOnce.Do(func() { first = fmt.Errorf("%w: status %d: %s", errStatus, w.Code, w.Body) })
					left.Store(0)
					return
				}
			}
		})
	}
	wg.Wait()
	return first
}

// runs numbers the timed runs, so that each draws a trace of its own.
var runs atomic.Uint64

// runPopulation checks each library, warms it up with p/2 untimed
// requests and runs the timed requests as the sub-benchmark named after
// it, reporting req/s, engine round trips (rtt/op) and calls (calls/op)
// per request and, for a library with a cache, its hit ratio over the
// timed requests (hit%).
func runPopulation(b *testing.B, libs []popLib, p int) {
	perm := permutation(p)
	for _, l := range libs {
		l.check(b, perm)
		start := time.Now()
		if err := l.drive(p/2, perm, 0); err != nil {
			b.Fatalf("%s: warm-up: %v", l.name, err)
		}
		b.Logf("%s: warm-up of %d requests: %v", l.name, p/2, time.Since(start).Round(time.Millisecond))
		b.Run(l.name, func(b *testing.B) {
			b.ReportAllocs()
			calls := l.calls()
			var hits, misses uint64
			if l.cache != nil {
				hits, misses = l.cache()
			}
			l.rt.reset()
			b.ResetTimer()
			err := l.drive(b.N, perm, runs.Add(1))
			b.StopTimer()
			if err != nil {
				b.Fatal(err)
			}
			if s := b.Elapsed().Seconds(); s > 0 {
				b.ReportMetric(float64(b.N)/s, "req/s")
			}
			l.rt.report(b)
			b.ReportMetric(float64(l.calls()-calls)/float64(b.N), "calls/op")
			if l.cache != nil {
				h, m := l.cache()
				h, m = h-hits, m-misses
				if h+m > 0 {
					b.ReportMetric(100*float64(h)/float64(h+m), "hit%")
				}
			}
		})
	}
}
