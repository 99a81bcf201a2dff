package deploy

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sessiongen/sessiongen/runtime/internal/nodetest"
)

// The environment variables naming the servers (the app reads the same).
const (
	redisAddrVar   = "SESSIONGEN_REDIS_ADDR"
	postgresDSNVar = "SESSIONGEN_POSTGRES_DSN"
)

const (
	// sessions is the number of sessions driven at once.
	sessions = 20
	// rounds is the number of rounds per session; a round is a v1
	// request, then a v2 request.
	rounds = 10
	// buildTimeout bounds each go command that checks or builds the
	// app, generously: a cold build cache on a busy machine is slow.
	buildTimeout = 5 * time.Minute
	// startTimeout bounds a process's start-up (until it prints its
	// address), generously: the machine may be busy.
	startTimeout = 2 * time.Minute
	// stopTimeout bounds a process's clean shutdown.
	stopTimeout = 30 * time.Second
	// reportPrefix starts the lines the app's error reporter prints on
	// stderr (app.ReportPrefix).
	reportPrefix = "report: "
)

// reportKey finds the key an undecodable-value report names
// (session.Session.ReportUndecodable).
var reportKey = regexp.MustCompile(`the value under key "([^"]*)"`)

// TestRollingDeploy runs the rolling deploy of the package documentation
// on each engine with its bus: one process of each build, 20 sessions
// of 10 alternating rounds.
func TestRollingDeploy(t *testing.T) {
	bins := &builds{parent: t}
	t.Run("redis", func(t *testing.T) {
		addr := os.Getenv(redisAddrVar)
		if addr == "" {
			t.Skip(redisAddrVar + " is not set: skipping the rolling deploy on Redis (redisstore + redisbus)")
		}
		admin := redis.NewClient(&redis.Options{Addr: addr})
		t.Cleanup(func() { _ = admin.Close() })
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := admin.Ping(ctx).Err(); err != nil {
			t.Fatalf("%s=%s: Redis does not answer: %v", redisAddrVar, addr, err)
		}
		name := nodetest.Unique("deploy_")
		t.Cleanup(func() { deleteKeys(t, admin, name+":") })
		rollingDeploy(t, bins.get(t), "redis", name)
	})
	t.Run("postgres", func(t *testing.T) {
		dsn := os.Getenv(postgresDSNVar)
		if dsn == "" {
			t.Skip(postgresDSNVar + " is not set: skipping the rolling deploy on PostgreSQL (pgstore + pgbus)")
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		admin, err := pgxpool.New(ctx, dsn)
		if err != nil {
			t.Fatalf("%s: %v", postgresDSNVar, err)
		}
		t.Cleanup(admin.Close)
		if err := admin.Ping(ctx); err != nil {
			t.Fatalf("%s: PostgreSQL does not answer: %v", postgresDSNVar, err)
		}
		name := nodetest.Unique("deploy_")
		t.Cleanup(func() {
			_, err := admin.Exec(context.Background(), `DROP TABLE IF EXISTS "`+name+`_fields", "`+name+`_sessions" CASCADE`)
			if err != nil {
				t.Logf("cleanup: %v", err)
			}
		})
		rollingDeploy(t, bins.get(t), "postgres", name)
	})
}

// rollingDeploy starts one process of each build on engine under the
// test run's name, drives the sessions through their schedules, stops
// both processes and checks their error reports.
func rollingDeploy(t *testing.T, bins map[string]string, engine, name string) {
	start := time.Now()
	// v1 serves first, then v2 joins it: the deploy has begun.
	procs := map[string]*process{}
	for _, build := range []string{"v1", "v2"} {
		procs[build] = startProcess(t, build, bins[build], "-engine", engine, "-name", name)
	}
	started := time.Now()

	transport := &http.Transport{MaxIdleConnsPerHost: sessions}
	t.Cleanup(transport.CloseIdleConnections)
	undecodable := map[string]map[string]bool{"v1": {}, "v2": {}}
	var wg sync.WaitGroup
	var mu sync.Mutex
	for i := range sessions {
		wg.Go(func() {
			seen := drive(t, i, procs, transport)
			mu.Lock()
			defer mu.Unlock()
			for build, keys := range seen {
				maps.Copy(undecodable[build], keys)
			}
		})
	}
	wg.Wait()
	driven := time.Now()
	for _, p := range procs {
		// At once: a build under the race detector takes a second to
		// exit.
		wg.Go(func() { p.stop(t) })
	}
	wg.Wait()
	if t.Failed() {
		// The sessions stopped at their first failure: the reports of
		// the requests not made would not match.
		return
	}

	for _, build := range []string{"v1", "v2"} {
		p := procs[build]
		reports := map[string]int{}
		for _, line := range p.lines() {
			msg, ok := strings.CutPrefix(line, reportPrefix)
			if !ok {
				continue
			}
			m := reportKey.FindStringSubmatch(msg)
			if !assert.NotNil(t, m, "%s reported an error other than an undecodable value: %s", build, msg) {
				continue
			}
			reports[m[1]]++
		}
		want := map[string]int{}
		for key := range undecodable[build] {
			want[key] = 1
		}
		assert.Equal(t, want, reports, "%s reports each key whose value it cannot decode once (not once per request or session)", build)
	}
	assert.Equal(t, map[string]bool{"score": true}, undecodable["v1"], "the schedule makes v1 meet a Score written by v2")
	assert.Equal(t, map[string]bool{"score": true}, undecodable["v2"], "the schedule makes v2 meet a Score written by v1")
	t.Logf("%s: start %v, %d sessions × %d requests %v, stop %v", engine,
		started.Sub(start).Round(time.Millisecond), sessions, 2*rounds,
		driven.Sub(started).Round(time.Millisecond), time.Since(driven).Round(time.Millisecond))
}

// step is one request of a session's schedule.
type step struct {
	// build is the build that serves it: "v1" or "v2".
	build string
	// op is the route: "get", "set" or "save".
	op string
	// form holds the values to write (set, save).
	form url.Values
	// why says what the step shows, for failure messages.
	why string
}

// schedule returns the requests of session i: rounds rounds of a v1
// request, then a v2 request. Odd sessions make v2's first write of
// DisplayName with Save, even ones with the setter.
func schedule(i int) []step {
	first := "set"
	if i%2 == 1 {
		first = "save"
	}
	form := func(kv ...string) url.Values {
		f := url.Values{}
		for j := 0; j < len(kv); j += 2 {
			f.Set(kv[j], kv[j+1])
		}
		return f
	}
	v := func(what string) string { return fmt.Sprintf("%s-%d", what, i) }
	s := []step{
		// Round 0: before v2 writes anything.
		{"v1", "set", form("name", v("ann"), "score", fmt.Sprint(100+i), "legacy", v("old")), "v1 creates the session"},
		{"v2", "get", nil, "v2 reads v1's Name as DisplayName (was=name) and v1's int32 Score as absent"},
		// Round 1.
		{"v1", "get", nil, "v1 reads its fields after a v2 request"},
		{"v2", "set", form("added", "true"), "v2 writes a field v1 does not know"},
		// Round 2.
		{"v1", "set", form("name", v("bea")), "v1 changes Name before v2 writes DisplayName"},
		{"v2", "get", nil, "v2 reads v1's new Name through was=name; Added survives v1's write"},
		// Round 3: v2's first write of DisplayName.
		{"v1", "get", nil, "v1 does not know Added, which stays"},
		{"v2", first, form("display", v("cat")), "v2's first write of DisplayName stores display and removes name in one change (" + first + ")"},
		// Round 4.
		{"v1", "get", nil, "v1 no longer sees name; Legacy survives v2's writes"},
		{"v2", "get", nil, "v2 reads its own DisplayName"},
		// Round 5: the old build writes the old key again.
		{"v1", "set", form("name", v("dan"), "score", fmt.Sprint(200+i)), "v1 writes Name and Score after v2's rename"},
		{"v2", "get", nil, "v2's DisplayName wins over the name v1 wrote; v1's int32 Score reads as absent"},
		// Round 6.
		{"v1", "set", form("legacy", v("new")), "v1 writes Legacy, a field v2 does not know"},
		{"v2", "set", form("score", v("s")), "v2 writes Score as a string"},
		// Round 7.
		{"v1", "get", nil, "v1 reads v2's string Score as absent; its other fields are intact"},
		{"v2", "save", form("display", v("eve")), "v2's Save keeps the keys v2 does not know (legacy)"},
		// Round 8.
		{"v1", "save", form("legacy", v("end")), "v1's Save keeps the keys v1 does not know (display, added)"},
		{"v2", "get", nil, "Added and DisplayName survive v1's Save"},
		// Round 9.
		{"v1", "get", nil, "the final state, as v1 reads it"},
		{"v2", "get", nil, "the final state, as v2 reads it"},
	}
	if len(s) != 2*rounds {
		panic(fmt.Sprintf("schedule: %d steps, want %d", len(s), 2*rounds))
	}
	return s
}

// reply is the JSON body of the app's responses (app.Reply), with the
// field values left encoded, to be compared with the model's.
type reply struct {
	Build  string   `json:"build"`
	Visits int64    `json:"visits"`
	Keys   []string `json:"keys"`
	Fields map[string]struct {
		Value json.RawMessage `json:"value"`
		OK    bool            `json:"ok"`
	} `json:"fields"`
}

// drive runs session i's schedule against the processes, one request
// after the other, with a cookie jar of its own (one jar serves both
// processes: cookies do not depend on the port). It checks each reply
// against the model and stops at the first request that fails. It
// returns, per build, the keys the model says that build met a value of
// it cannot decode.
func drive(t *testing.T, i int, procs map[string]*process, transport http.RoundTripper) map[string]map[string]bool {
	jar, err := cookiejar.New(nil)
	if !assert.NoError(t, err) {
		return nil
	}
	client := &http.Client{Jar: jar, Transport: transport, Timeout: 30 * time.Second}
	m := &model{vals: map[string]any{}, undecodable: map[string]map[string]bool{"v1": {}, "v2": {}}}
	for n, st := range schedule(i) {
		if t.Failed() {
			// Another session failed: one failure's messages suffice.
			return m.undecodable
		}
		what := fmt.Sprintf("session %d, request %d (%s /%s", i, n+1, st.build, st.op)
		if len(st.form) > 0 {
			what += " " + st.form.Encode()
		}
		what += "): " + st.why
		got, ok := request(t, client, procs[st.build].addr, st, what)
		if !ok {
			return m.undecodable
		}
		want := m.apply(st)
		ok = assert.Equal(t, st.build, got.Build, "%s: the build that answered", what)
		ok = assert.Equal(t, want.visits, got.Visits, "%s: Visits counts every request of both builds", what) && ok
		ok = assert.Equal(t, want.keys, got.Keys, "%s: the session's keys", what) && ok
		for key, w := range want.fields {
			g, present := got.Fields[key]
			if !assert.True(t, present, "%s: the reply has field %q", what, key) {
				ok = false
				continue
			}
			ok = assert.Equal(t, w.ok, g.OK, "%s: field %q is present (ok)", what, key) && ok
			if w.ok {
				b, _ := json.Marshal(w.value) // a string, an int32 or a bool
				ok = assert.JSONEq(t, string(b), string(g.Value), "%s: field %q", what, key) && ok
			}
		}
		ok = assert.Len(t, got.Fields, len(want.fields), "%s: the fields the build knows", what) && ok
		if !ok {
			// The model no longer matches the engine: the rest would
			// only repeat the failure.
			return m.undecodable
		}
	}
	return m.undecodable
}

// request sends st to the process at addr and decodes the reply; a
// failure (transport, status other than 200, bad body) fails the test and
// returns false.
func request(t *testing.T, client *http.Client, addr string, st step, what string) (reply, bool) {
	u := "http://" + addr + "/" + st.op
	var resp *http.Response
	var err error
	if st.op == "get" {
		resp, err = client.Get(u)
	} else {
		resp, err = client.PostForm(u, st.form)
	}
	if !assert.NoError(t, err, what) {
		return reply{}, false
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if !assert.NoError(t, err, what) || !assert.Equal(t, http.StatusOK, resp.StatusCode, "%s: %s", what, body) {
		return reply{}, false
	}
	var r reply
	if !assert.NoError(t, json.Unmarshal(body, &r), "%s: %s", what, body) {
		return reply{}, false
	}
	return r, true
}

// model is what the engine holds for one session, as the test expects
// it, and what each build should read of it.
type model struct {
	// visits is the number of requests so far.
	visits int64
	// vals holds every key but "visits", with a value of the Go type of
	// the build that wrote it last: "name", "display", "legacy" and
	// "score" (v2) strings, "score" (v1) int32, "added" bool.
	vals map[string]any
	// undecodable holds, per build, the keys the build has met a value
	// of that it cannot decode (a getter or Load reads it as absent and
	// reports it).
	undecodable map[string]map[string]bool
}

// fieldWant is a field's expected value and ok flag.
type fieldWant struct {
	value any
	ok    bool
}

// want is a request's expected reply.
type want struct {
	visits int64
	keys   []string
	fields map[string]fieldWant
}

// apply changes the model as st does and returns st's expected reply:
// Visits first, then st's writes, then the fields as st.build reads them.
func (m *model) apply(st step) want {
	m.visits++
	switch st.build + " " + st.op {
	case "v1 get", "v2 get":
	case "v1 set":
		for key, val := range formValues(st.form) {
			if key == "score" {
				m.vals[key] = parseScore(val)
			} else {
				m.vals[key] = val
			}
		}
	case "v2 set":
		for key, val := range formValues(st.form) {
			switch key {
			case "display":
				// The first write of DisplayName removes the old key
				// in the same change (was=name); later ones find it
				// gone, or remove the one v1 wrote again.
				m.vals[key] = val
				delete(m.vals, "name")
			case "added":
				m.vals[key] = val == "true"
			default:
				m.vals[key] = val
			}
		}
	case "v1 save":
		// Load: absent and undecodable fields are zero; Save writes
		// every field of v1 (Visits with the count just stored) and
		// leaves the other keys alone.
		f := m.view("v1")
		name, score, legacy := f["name"].value.(string), f["score"].value.(int32), f["legacy"].value.(string)
		for key, val := range formValues(st.form) {
			switch key {
			case "name":
				name = val
			case "score":
				score = parseScore(val)
			case "legacy":
				legacy = val
			}
		}
		m.vals["name"], m.vals["score"], m.vals["legacy"] = name, score, legacy
	case "v2 save":
		f := m.view("v2")
		display, score, added := f["display"].value.(string), f["score"].value.(string), f["added"].value.(bool)
		for key, val := range formValues(st.form) {
			switch key {
			case "display":
				display = val
			case "score":
				score = val
			case "added":
				added = val == "true"
			}
		}
		m.vals["display"], m.vals["score"], m.vals["added"] = display, score, added
		delete(m.vals, "name") // as SetDisplayName does
	default:
		panic("model: unknown step " + st.build + " " + st.op)
	}
	keys := append([]string{"visits"}, slices.Collect(maps.Keys(m.vals))...)
	slices.Sort(keys)
	return want{visits: m.visits, keys: keys, fields: m.view(st.build)}
}

// view returns the fields build reads (each build's getters), noting the
// keys whose values it cannot decode.
func (m *model) view(build string) map[string]fieldWant {
	str := func(key string) fieldWant {
		s, ok := m.vals[key].(string)
		return fieldWant{s, ok}
	}
	if build == "v1" {
		score := fieldWant{int32(0), false}
		switch x := m.vals["score"].(type) {
		case int32:
			score = fieldWant{x, true}
		case string:
			m.undecodable[build]["score"] = true
		}
		return map[string]fieldWant{"name": str("name"), "score": score, "legacy": str("legacy")}
	}
	display := str("display")
	if !display.ok {
		// was=name: v1's key while v2's is absent.
		display = str("name")
	}
	score := str("score")
	if _, isInt := m.vals["score"].(int32); isInt {
		m.undecodable[build]["score"] = true
	}
	added, ok := m.vals["added"].(bool)
	return map[string]fieldWant{"display": display, "score": score, "added": {added, ok}}
}

// formValues returns the form's first value of each key.
func formValues(f url.Values) map[string]string {
	out := map[string]string{}
	for key := range f {
		out[key] = f.Get(key)
	}
	return out
}

// parseScore parses a score the schedule wrote for v1.
func parseScore(s string) int32 {
	var n int32
	if _, err := fmt.Sscan(s, &n); err != nil {
		panic("model: bad score " + s)
	}
	return n
}

// builds builds the two programs once per test run, for every subtest.
type builds struct {
	// parent is the top-level test, whose temporary directory holds the
	// binaries.
	parent *testing.T
	once   sync.Once
	bins   map[string]string
	err    error
}

// get returns the paths of the binaries by build name, building them at
// the first call; it fails t when checking or building failed.
func (b *builds) get(t *testing.T) map[string]string {
	t.Helper()
	b.once.Do(func() { b.bins, b.err = build(b.parent.TempDir()) })
	require.NoError(t, b.err)
	return b.bins
}

// build checks that the committed generated files of both programs are
// fresh (sessiongen -check, from the package directory), then builds
// both into dir (go build, from the module directory; with -race when
// the test runs under the race detector).
func build(dir string) (map[string]string, error) {
	pkgDir, err := os.Getwd()
	if err != nil {
		return nil, err
	}
	modDir, err := moduleDir(pkgDir)
	if err != nil {
		return nil, err
	}
	rel, err := filepath.Rel(modDir, pkgDir)
	if err != nil {
		return nil, err
	}
	builds := []string{"v1", "v2"}
	if err := goParallel(pkgDir, builds, func(b string) []string {
		return []string{"run", "github.com/sessiongen/sessiongen/cmd/sessiongen", "-check", "-type=AppSession", "./testdata/" + b}
	}); err != nil {
		return nil, fmt.Errorf("the generated files are not fresh (regenerate them: see the package documentation): %w", err)
	}
	bins := map[string]string{}
	for _, b := range builds {
		bins[b] = filepath.Join(dir, b)
	}
	if err := goParallel(modDir, builds, func(b string) []string {
		args := []string{"build", "-o", bins[b]}
		if raceEnabled {
			args = append(args, "-race")
		}
		return append(args, "./"+filepath.ToSlash(filepath.Join(rel, "testdata", b)))
	}); err != nil {
		return nil, err
	}
	return bins, nil
}

// goParallel runs the go command with args(b) in dir for each of bs at
// once, each bounded by buildTimeout, and returns their errors joined,
// each with the command and its output.
func goParallel(dir string, bs []string, args func(b string) []string) error {
	errs := make([]error, len(bs))
	var wg sync.WaitGroup
	for i, b := range bs {
		wg.Go(func() {
			ctx, cancel := context.WithTimeout(context.Background(), buildTimeout)
			defer cancel()
			a := args(b)
			cmd := exec.CommandContext(ctx, "go", a...)
			cmd.Dir = dir
			if out, err := cmd.CombinedOutput(); err != nil {
				errs[i] = fmt.Errorf("go %s (in %s): %w\n%s", strings.Join(a, " "), dir, err, out)
			}
		})
	}
	wg.Wait()
	return errors.Join(errs...)
}

// moduleDir returns the directory of the module holding dir: the
// nearest one upwards with a go.mod.
func moduleDir(dir string) (string, error) {
	for d := dir; ; {
		if _, err := os.Stat(filepath.Join(d, "go.mod")); err == nil {
			return d, nil
		}
		up := filepath.Dir(d)
		if up == d {
			return "", fmt.Errorf("no go.mod above %s", dir)
		}
		d = up
	}
}

// process is a running build of the app.
type process struct {
	build string
	cmd   *exec.Cmd
	// addr is the address the process listens on (host:port).
	addr string
	// exited is closed once the process has exited and both of its
	// pipes are drained; waitErr is then its exit error.
	exited  chan struct{}
	waitErr error

	mu     sync.Mutex
	stderr []string
}

// startProcess starts the binary bin of build with args and waits (at
// most startTimeout) for the address it prints. The process is killed at
// the end of the test if still running; its stderr is logged when the
// test failed.
func startProcess(t *testing.T, build, bin string, args ...string) *process {
	p := &process{build: build, cmd: exec.Command(bin, args...), exited: make(chan struct{})}
	stdout, err := p.cmd.StdoutPipe()
	require.NoError(t, err)
	stderr, err := p.cmd.StderrPipe()
	require.NoError(t, err)
	require.NoError(t, p.cmd.Start(), "start %s", build)

	addrs := make(chan string, 1)
	var pipes sync.WaitGroup
	pipes.Go(func() {
		sc := bufio.NewScanner(stdout)
		if sc.Scan() {
			addrs <- sc.Text()
		}
		_, _ = io.Copy(io.Discard, stdout)
	})
	pipes.Go(func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			p.mu.Lock()
			p.stderr = append(p.stderr, sc.Text())
			p.mu.Unlock()
		}
		_, _ = io.Copy(io.Discard, stderr)
	})
	go func() {
		// Wait closes the pipes: read them to the end first.
		pipes.Wait()
		p.waitErr = p.cmd.Wait()
		close(p.exited)
	}()
	t.Cleanup(func() {
		select {
		case <-p.exited:
		default:
			_ = p.cmd.Process.Kill()
			<-p.exited
		}
		if t.Failed() {
			t.Logf("%s's stderr:\n%s", build, strings.Join(p.lines(), "\n"))
		}
	})

	timer := time.NewTimer(startTimeout)
	defer timer.Stop()
	select {
	case p.addr = <-addrs:
	case <-p.exited:
		t.Fatalf("%s exited before listening: %v", build, p.waitErr)
	case <-timer.C:
		t.Fatalf("%s printed no address within %v", build, startTimeout)
	}
	_, _, err = net.SplitHostPort(p.addr)
	require.NoError(t, err, "%s printed %q, not an address", build, p.addr)
	return p
}

// stop asks the process to shut down (SIGINT) and waits for it to exit
// cleanly, within stopTimeout; its stderr is then complete.
func (p *process) stop(t *testing.T) {
	if err := p.cmd.Process.Signal(os.Interrupt); err != nil {
		_ = p.cmd.Process.Kill()
	}
	timer := time.NewTimer(stopTimeout)
	defer timer.Stop()
	select {
	case <-p.exited:
	case <-timer.C:
		_ = p.cmd.Process.Kill()
		<-p.exited
		t.Errorf("%s did not stop within %v", p.build, stopTimeout)
		return
	}
	for _, line := range p.lines() {
		assert.NotContains(t, line, "DATA RACE", "%s: the race detector found a race (its report is in the stderr logged below)", p.build)
	}
	assert.NoError(t, p.waitErr, "%s exits cleanly", p.build)
}

// lines returns the lines the process wrote on stderr so far.
func (p *process) lines() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return slices.Clone(p.stderr)
}

// deleteKeys removes the Redis keys under prefix (the test run's own).
func deleteKeys(t *testing.T, admin *redis.Client, prefix string) {
	ctx := context.Background()
	var keys []string
	iter := admin.Scan(ctx, 0, prefix+"*", 500).Iterator()
	for iter.Next(ctx) {
		keys = append(keys, iter.Val())
	}
	if err := iter.Err(); err != nil {
		t.Logf("cleanup: scan: %v", err)
		return
	}
	for chunk := range slices.Chunk(keys, 500) {
		if err := admin.Del(ctx, chunk...).Err(); err != nil {
			t.Logf("cleanup: del: %v", err)
			return
		}
	}
}
