//go:build redis && postgres && mysql && dynamodb

package main

import (
	"bufio"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// busBound is how long a process may take to act on a change another
// process made: the bus delivers within milliseconds on loopback.
const busBound = 2 * time.Second

// buildDemo builds the demo's binary into dir and returns its path.
func buildDemo(dir string) (string, error) {
	bin := filepath.Join(dir, "typed")
	out, err := exec.Command("go", "build", "-tags", allEngines, "-o", bin, ".").CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("go build: %w\n%s", err, out)
	}
	return bin, nil
}

// instance is the demo running as a process of its own.
type instance struct {
	t    *testing.T
	cmd  *exec.Cmd
	base string      // http://127.0.0.1:port
	logs *syncBuffer // its standard error
	// exited is closed once the process has exited, waitErr is then
	// Wait's result.
	exited  chan struct{}
	waitErr error
}

// listeningURL finds the address in the demo's "listening" log line.
var listeningURL = regexp.MustCompile(`msg=listening url=(http://\S+)/ `)

// startInstance runs the demo binary with args on a free loopback port
// and waits until it listens. The process is killed at the end of the
// test if it still runs.
func startInstance(t *testing.T, bin string, args ...string) *instance {
	t.Helper()
	cmd := exec.Command(bin, append([]string{"-addr", "127.0.0.1:0", "-data", t.TempDir()}, args...)...)
	stderr, err := cmd.StderrPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	p := &instance{t: t, cmd: cmd, logs: &syncBuffer{}, exited: make(chan struct{})}
	base := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			line := sc.Text()
			_, _ = p.logs.Write([]byte(line + "\n"))
			if m := listeningURL.FindStringSubmatch(line); m != nil {
				base <- m[1]
			}
		}
		_, _ = io.Copy(io.Discard, stderr)
		p.waitErr = cmd.Wait()
		close(p.exited)
	}()
	t.Cleanup(func() {
		select {
		case <-p.exited:
		default:
			_ = cmd.Process.Kill()
			<-p.exited
		}
		if t.Failed() {
			t.Logf("logs of %s:\n%s", p.base, p.logs.String())
		}
	})
	select {
	case p.base = <-base:
	case <-p.exited:
		t.Fatalf("the demo exited before listening (%v):\n%s", p.waitErr, p.logs.String())
	case <-time.After(time.Minute):
		t.Fatalf("the demo did not listen within a minute:\n%s", p.logs.String())
	}
	return p
}

// stop sends SIGTERM and requires a clean exit within 30 seconds.
func (p *instance) stop() {
	p.t.Helper()
	require.NoError(p.t, p.cmd.Process.Signal(syscall.SIGTERM))
	select {
	case <-p.exited:
		require.NoError(p.t, p.waitErr, "exit status after SIGTERM:\n%s", p.logs.String())
	case <-time.After(30 * time.Second):
		p.t.Fatalf("the demo did not stop within 30s of SIGTERM:\n%s", p.logs.String())
	}
	assert.Contains(p.t, p.logs.String(), "msg=stopped")
}

// waitFor polls cond every 10ms until it holds or busBound has passed,
// and reports whether it held.
func waitFor(cond func() bool) bool {
	deadline := time.Now().Add(busBound)
	for {
		if cond() {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// visitsOnPage returns the visit count that GET / shows.
var visitsOnPage = regexp.MustCompile(`<span id="visits">(\d+)</span>`)

// TestInstances runs the demo as two processes on two ports sharing one
// engine and a bus, with no session affinity: a session signed in on one
// is seen on the other; a change on one is seen on the other, which had
// the session cached; sign-out and log-out-everywhere on one are refused
// on both as soon as the bus delivers. The bus is the default one on the
// engine's own connection (Redis pub/sub, PostgreSQL LISTEN/NOTIFY), or
// a Redis of its own beside PostgreSQL (-bus redis://...).
func TestInstances(t *testing.T) {
	// Built once, by the first subtest that runs.
	build := sync.OnceValues(func() (string, error) { return buildDemo(t.TempDir()) })
	redisURL := func(t *testing.T) string {
		return engineURL(t, "SESSIONGEN_REDIS_ADDR", func(v string) string { return "redis://" + v + "/0" })
	}
	pgURL := func(t *testing.T) string {
		return engineURL(t, "SESSIONGEN_POSTGRES_DSN", func(v string) string {
			if !strings.HasPrefix(v, "postgres://") && !strings.HasPrefix(v, "postgresql://") {
				t.Fatalf("SESSIONGEN_POSTGRES_DSN must be a postgres:// URL for the demo, got a keyword DSN")
			}
			return v
		})
	}
	for _, tc := range []struct {
		name string
		// args returns the flags of both processes (it skips the test
		// when an engine's variable is not set).
		args func(t *testing.T) []string
		// bus is the start of the bus's description in the log.
		bus string
	}{
		{"redis", func(t *testing.T) []string { return []string{"-store", redisURL(t)} }, "redis pub/sub on the store's client"},
		{"postgres", func(t *testing.T) []string { return []string{"-store", pgURL(t)} }, "postgres LISTEN/NOTIFY on the store's pool"},
		{"postgres with a redis bus", func(t *testing.T) []string {
			return []string{"-store", pgURL(t), "-bus", redisURL(t)}
		}, "redis pub/sub at redis://"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			args := tc.args(t)
			bin, err := build()
			require.NoError(t, err)
			p1 := startInstance(t, bin, args...)
			p2 := startInstance(t, bin, args...)
			for _, p := range []*instance{p1, p2} {
				assert.Contains(t, p.logs.String(), "bus=\""+tc.bus)
				// Until then, the process revalidates what it caches.
				deadline := time.Now().Add(10 * time.Second)
				for !strings.Contains(p.logs.String(), "bus subscription up") {
					require.True(t, time.Now().Before(deadline), "the bus subscription of %s is not up within 10s", p.base)
					time.Sleep(10 * time.Millisecond)
				}
			}
			testInstances(t, p1, p2)
			p1.stop()
			p2.stop()
		})
	}
}

// testInstances runs the two-process scenario on the running processes
// p1 and p2.
func testInstances(t *testing.T, p1, p2 *instance) {
	// A user of its own: other tests may share the engine.
	var r [6]byte
	_, _ = rand.Read(r[:])
	user := "inst-" + hex.EncodeToString(r[:])

	// Sign in on 1: 2 knows the user.
	on1 := newBrowser(t, p1.base)
	on2 := on1.at(p2.base)
	on1.login(user)
	sid := on1.sid()
	require.NotEmpty(t, sid)
	var me meResponse
	require.True(t, waitFor(func() bool {
		res := on2.get("/api/me")
		if res.status != http.StatusOK {
			return false
		}
		me = decode[meResponse](t, res)
		return true
	}), "process 2 sees the session signed in on process 1")
	assert.Equal(t, user, me.User)
	assert.Equal(t, int64(1), me.Visits)

	// 2 has the session cached now. A change on 1 reaches it. The probes
	// from here on only read the session (GET /, GET /api/sessions): a
	// write, such as the visit GET /api/me counts, would find out by
	// itself that the cached copy is stale, and prove nothing about the
	// bus.
	require.Equal(t, http.StatusOK, on1.addItem("apple").status)
	assert.True(t, waitFor(func() bool {
		return strings.Contains(on2.get("/").body, `<ul id="cart"><li>apple</li></ul>`)
	}), "process 2 sees the cart changed on process 1")

	// And the other way round: 1 caches the session afresh (a read), and
	// sees the visit 2 counts next. GET / shows it without counting one.
	require.Contains(t, on1.get("/").body, `<li>apple</li>`)
	me = on2.me()
	assert.Equal(t, []string{"apple"}, me.Cart)
	visits := strconv.FormatInt(me.Visits, 10)
	assert.True(t, waitFor(func() bool {
		m := visitsOnPage.FindStringSubmatch(on1.get("/").body)
		return m != nil && m[1] == visits
	}), "process 1 sees the %s visits counted on process 2", visits)

	// 2 caches the session afresh (a read), then sign out on 1. The jar
	// loses the cookie, so the old one is carried by hand: both processes
	// refuse it, 2 as soon as the bus delivers.
	require.Contains(t, on2.get("/").body, `<strong id="user">`+user+`</strong>`)
	require.Equal(t, http.StatusSeeOther, on1.post("/logout").status)
	// The jar now names a fresh session holding only the notice "You are
	// signed out." (see TestFlash).
	assert.NotEqual(t, sid, on1.sid(), "logout replaces the cookie")
	old1, old2 := on1.withSID(sid), on1.withSID(sid).at(p2.base)
	jsonError(t, old1.get("/api/sessions"), http.StatusUnauthorized)
	jsonError(t, old1.get("/api/me"), http.StatusUnauthorized)
	var status int
	assert.True(t, waitFor(func() bool {
		status = old2.get("/api/sessions").status
		return status == http.StatusUnauthorized
	}), "process 2 refuses the signed-out session within %v (last status %d)", busBound, status)
	jsonError(t, old2.get("/api/me"), http.StatusUnauthorized)

	// Two devices of the user: one signs in on 1, the other on 2.
	laptop := newBrowser(t, p1.base)
	laptop.login(user)
	assert.Equal(t, user, laptop.me().User, "cached on process 1")
	phone := newBrowser(t, p2.base)
	phone.login(user)
	res := phone.get("/api/sessions")
	require.Equal(t, http.StatusOK, res.status, res.body)
	list := decode[sessionsResponse](t, res)
	require.Len(t, list.Sessions, 2, "both devices' sessions, listed on either process")
	assert.Equal(t, 1, countCurrent(list), "exactly the phone's session is current")
	res = laptop.get("/api/sessions")
	require.Equal(t, http.StatusOK, res.status, res.body)
	assert.Equal(t, 1, countCurrent(decode[sessionsResponse](t, res)), "exactly the laptop's session is current")

	// Log out everywhere from the phone on 2: the laptop's session,
	// cached on 1, is refused there as soon as the bus delivers.
	laptopSID, phoneSID := laptop.sid(), phone.sid()
	res = phone.post("/api/logout-everywhere")
	require.Equal(t, http.StatusOK, res.status, res.body)
	assert.Equal(t, 2, decode[revokedResponse](t, res).Revoked)
	assert.True(t, waitFor(func() bool {
		status = laptop.get("/api/sessions").status
		return status == http.StatusUnauthorized
	}), "process 1 refuses the revoked session within %v (last status %d)", busBound, status)
	jsonError(t, laptop.get("/api/me"), http.StatusUnauthorized)
	jsonError(t, laptop.at(p2.base).get("/api/me"), http.StatusUnauthorized)
	jsonError(t, phone.withSID(phoneSID).get("/api/me"), http.StatusUnauthorized)
	jsonError(t, phone.withSID(phoneSID).at(p1.base).get("/api/me"), http.StatusUnauthorized)

	for _, p := range []*instance{p1, p2} {
		for _, id := range []string{sid, laptopSID, phoneSID} {
			assert.NotContains(t, p.logs.String(), id, "a session ID is never logged")
		}
	}
}

// allEngines is the build tag list that compiles in every server engine:
// the demo binary the test runs must reach Redis and PostgreSQL.
const allEngines = "redis,postgres,mysql,dynamodb"
