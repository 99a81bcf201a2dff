// Package leakcheck fails tests that leave goroutines running: what a test
// starts (stores, clean-up loops, subscriptions) it must stop. It does for
// this project's tests what go.uber.org/goleak does, with nothing but the
// standard library, so that the runtime module requires no test-only
// module. It is imported by tests only.
package leakcheck

import (
	"fmt"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// settle is how long a check waits for goroutines that are stopping to
// return before it reports them. Goroutines told to stop usually return
// within microseconds; the bound is generous for a loaded machine, and
// only a check that finds a leak waits for all of it.
var settle = 10 * time.Second

// Option changes what a check ignores.
type Option func(*config)

type config struct {
	tops []string
	ids  map[uint64]bool
}

// IgnoreTop ignores goroutines whose innermost function (the first frame
// of their stack, e.g. "net/http.(*persistConn).readLoop") is fn.
func IgnoreTop(fn string) Option {
	return func(c *config) { c.tops = append(c.tops, fn) }
}

// Snapshot is the set of goroutines running at one moment.
type Snapshot map[uint64]bool

// Current returns the goroutines running now, for VerifyNone to ignore.
func Current() Snapshot {
	s := Snapshot{}
	for _, g := range goroutines() {
		s[g.id] = true
	}
	return s
}

// Except ignores the goroutines of a snapshot taken earlier.
func Except(s Snapshot) Option {
	return func(c *config) {
		for id := range s {
			c.ids[id] = true
		}
	}
}

// VerifyTestMain runs the package's tests and then fails the run, listing
// their stacks, when goroutines other than the test framework's are still
// running. Use it as the body of TestMain.
func VerifyTestMain(m *testing.M, opts ...Option) {
	code := m.Run()
	if code == 0 {
		if left := leftover(opts); left != "" {
			fmt.Fprintf(os.Stderr, "leakcheck: goroutines still running after the tests:\n\n%s\n", left)
			code = 1
		}
	}
	os.Exit(code)
}

// VerifyNone fails t when goroutines are running that opts do not ignore
// (use Except(Current()) taken at the start of the test to ignore what
// other tests run). The calling goroutine is always ignored.
func VerifyNone(t testing.TB, opts ...Option) {
	t.Helper()
	if left := leftover(opts); left != "" {
		t.Errorf("leakcheck: goroutines still running:\n\n%s", left)
	}
}

// leftover waits up to settle for the goroutines opts do not ignore to
// return and renders the stacks of those that did not.
func leftover(opts []Option) string {
	c := &config{ids: map[uint64]bool{}}
	for _, o := range opts {
		o(c)
	}
	deadline := time.Now().Add(settle)
	pause := time.Millisecond
	for {
		var left []string
		for i, g := range goroutines() {
			if i == 0 || c.ids[g.id] || g.framework() || slices.Contains(c.tops, g.top) {
				continue // the first is the calling goroutine
			}
			left = append(left, g.stack)
		}
		if len(left) == 0 || time.Now().After(deadline) {
			return strings.Join(left, "\n\n")
		}
		time.Sleep(pause)
		pause = min(2*pause, 100*time.Millisecond)
	}
}

// goroutine is one goroutine of a stack dump.
type goroutine struct {
	id    uint64
	top   string   // the innermost function
	funcs []string // every function of the stack, innermost first
	stack string
}

// framework reports whether g belongs to the test framework or to the
// Go runtime's signal handling rather than to code under test.
func (g goroutine) framework() bool {
	for _, f := range g.funcs {
		if strings.HasPrefix(f, "testing.") || strings.HasPrefix(f, "internal/fuzz.") ||
			strings.HasPrefix(f, "os/signal.") || strings.HasPrefix(f, "runtime/trace.") {
			return true
		}
	}
	return false
}

// goroutines parses runtime.Stack's dump of every goroutine; the calling
// goroutine comes first.
func goroutines() []goroutine {
	buf := make([]byte, 64<<10)
	for {
		n := runtime.Stack(buf, true)
		if n < len(buf) {
			buf = buf[:n]
			break
		}
		buf = make([]byte, 2*len(buf))
	}
	var gs []goroutine
	for block := range strings.SplitSeq(strings.TrimSpace(string(buf)), "\n\n") {
		lines := strings.Split(block, "\n")
		// "goroutine 12 [chan receive]:"
		head := strings.Fields(lines[0])
		if len(head) < 2 || head[0] != "goroutine" {
			continue
		}
		id, err := strconv.ParseUint(head[1], 10, 64)
		if err != nil {
			continue
		}
		g := goroutine{id: id, stack: block}
		// Frames come in pairs: "pkg.fn(args)" then "\tfile:line"; a
		// "created by" line ends the stack.
		for _, l := range lines[1:] {
			if strings.HasPrefix(l, "\t") || strings.HasPrefix(l, "created by ") {
				continue
			}
			fn := l
			if i := strings.LastIndex(fn, "("); i > 0 {
				fn = fn[:i]
			}
			g.funcs = append(g.funcs, fn)
		}
		if len(g.funcs) > 0 {
			g.top = g.funcs[0]
		}
		gs = append(gs, g)
	}
	return gs
}
