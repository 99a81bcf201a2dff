package main

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"
)

// The markers around the generated part of README.md's Performance
// section: -readme replaces what lies between them.
const (
	beginMarker = "<!-- performance:begin (written by bench/perf.sh: do not edit) -->"
	endMarker   = "<!-- performance:end -->"
)

// engines are the families of the write sweep, in table order, with the
// names the tables give them.
var engines = []struct{ family, name string }{
	{"Redis", "Redis"},
	{"Postgres", "PostgreSQL"},
	{"MySQL", "MariaDB"},
	{"Bolt", "bbolt file"},
}

// writeRequest matches the requests of the write sweep.
var writeRequest = regexp.MustCompile(`^OneSet(\d+)Clients$`)

// spread returns the smallest and the largest sample of unit.
func (r *row) spread(unit string) (lo, hi float64, ok bool) {
	s := r.samples[unit]
	if len(s) == 0 {
		return 0, 0, false
	}
	return slices.Min(s), slices.Max(s), true
}

// find returns the row of family/request/lib, or nil.
func find(rows []*row, family, request, lib string) *row {
	for _, r := range rows {
		if r.family == family && r.request == request && r.lib == lib {
			return r
		}
	}
	return nil
}

// runs returns the number of samples of ns/op the rows of the families
// (all when none is named) hold at least: the -count of their run.
func runs(rows []*row, families ...string) int {
	n := 0
	for _, r := range rows {
		if len(families) > 0 && !slices.Contains(families, r.family) {
			continue
		}
		if k := len(r.samples["ns/op"]); n == 0 || k < n {
			n = k
		}
	}
	return n
}

// engineName returns the table name of an engine family.
func engineName(family string) string {
	for _, e := range engines {
		if e.family == family {
			return e.name
		}
	}
	return family
}

// thousands formats v rounded, with thin separators: 12,345.
func thousands(v float64) string {
	s := strconv.FormatInt(int64(v+0.5), 10)
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	return b.String()
}

// rate formats the median req/s of r with its range over the runs.
func rate(r *row) string {
	if r == nil {
		return "–"
	}
	m, ok := r.median("req/s")
	lo, hi, _ := r.spread("req/s")
	if !ok {
		return "–"
	}
	if len(r.samples["req/s"]) == 1 {
		return thousands(m)
	}
	return fmt.Sprintf("%s (%s–%s)", thousands(m), thousands(lo), thousands(hi))
}

// ms formats the median of unit (µs) of r in milliseconds.
func ms(r *row, unit string) string {
	if r == nil {
		return "–"
	}
	m, ok := r.median(unit)
	if !ok {
		return "–"
	}
	return fmt.Sprintf("%.2f", m/1e3)
}

// machine describes the machine the program runs on.
func machine() string {
	model := runtime.GOARCH
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for line := range strings.SplitSeq(string(b), "\n") {
			if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
				model = strings.TrimSpace(v)
				break
			}
		}
	}
	return fmt.Sprintf("%s/%s, %d × %s, %s", runtime.GOOS, runtime.GOARCH, runtime.NumCPU(), model, runtime.Version())
}

// summary writes the Performance tables of README.md from rows.
func summary(w io.Writer, rows []*row, date time.Time, host string) {
	var sweepFamilies []string
	for _, e := range engines {
		sweepFamilies = append(sweepFamilies, e.family)
	}
	fmt.Fprintf(w, "Measured by `bench/perf.sh` on %s (%s): medians of %d runs, with the range of the runs in brackets. Both libraries use connection pools of the same size (32), and each client works on a session of its own.\n\n",
		date.Format("2006-01-02"), host, runs(rows, sweepFamilies...))

	fmt.Fprintln(w, "**One-field writes.** *Ungrouped* is sessiongen on the same engine with group commit off (`WithMaxGroup(1)`), in the same run: each write alone, as before grouping.")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "| engine | clients | sessiongen req/s | scs req/s | × scs | ungrouped req/s | p50 ms, ours / scs | p99 ms, ours / ungrouped / scs |")
	fmt.Fprintln(w, "|---|---|---|---|---|---|---|---|")
	for _, e := range engines {
		var sizes []int
		for _, r := range rows {
			if m := writeRequest.FindStringSubmatch(r.request); r.family == e.family && m != nil {
				n, _ := strconv.Atoi(m[1])
				if !slices.Contains(sizes, n) {
					sizes = append(sizes, n)
				}
			}
		}
		slices.Sort(sizes)
		for _, n := range sizes {
			req := fmt.Sprintf("OneSet%dClients", n)
			ours, theirs := find(rows, e.family, req, "sessiongen"), find(rows, e.family, req, "scs")
			alone := find(rows, e.family, req, "sessiongen-alone")
			if ours == nil || theirs == nil {
				continue
			}
			o, _ := ours.median("req/s")
			t, _ := theirs.median("req/s")
			ratio := "–"
			if t > 0 {
				ratio = fmt.Sprintf("%.1f×", o/t)
			}
			fmt.Fprintf(w, "| %s | %d | %s | %s | %s | %s | %s / %s | %s / %s / %s |\n", e.name, n, rate(ours), rate(theirs), ratio, rate(alone),
				ms(ours, "p50-µs"), ms(theirs, "p50-µs"), ms(ours, "p99-µs"), ms(alone, "p99-µs"), ms(theirs, "p99-µs"))
		}
	}
	fmt.Fprintln(w)

	fmt.Fprintln(w, "**Reads, 32 concurrent clients.** A warm read costs sessiongen no engine call.")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "| engine | sessiongen req/s | scs req/s | × scs | round trips per request, ours / scs |")
	fmt.Fprintln(w, "|---|---|---|---|---|")
	for _, e := range engines {
		ours, theirs := find(rows, e.family, "ReadOnly32Clients", "sessiongen"), find(rows, e.family, "ReadOnly32Clients", "scs")
		if ours == nil || theirs == nil {
			continue
		}
		o, _ := ours.median("req/s")
		t, _ := theirs.median("req/s")
		ro, rok := ours.median("rtt/op")
		rt, tok := theirs.median("rtt/op")
		fmt.Fprintf(w, "| %s | %s | %s | %.0f× | %s / %s |\n", e.name, rate(ours), rate(theirs), o/t,
			cell(ro, rok, "%.2f"), cell(rt, tok, "%.2f"))
	}
	fmt.Fprintln(w)

	var pop []*row
	for _, r := range rows {
		if r.family == "Population" && r.lib != "" {
			pop = append(pop, r)
		}
	}
	if len(pop) > 0 {
		fmt.Fprintf(w, "**A population bigger than the cache.** Read requests from 32 clients, sessions drawn from a Zipf distribution (s = 1.1) over a population ten times the size of sessiongen's cache (a million sessions and a cache of 100,000 in a full run); %d run(s).\n", runs(rows, "Population"))
		fmt.Fprintln(w)
		fmt.Fprintln(w, "| engine | library | req/s | engine calls per request | cache hit ratio |")
		fmt.Fprintln(w, "|---|---|---|---|---|")
		for _, r := range pop {
			calls, cok := r.median("calls/op")
			if !cok {
				calls, cok = r.median("rtt/op")
			}
			hit, hok := r.median("hit%")
			fmt.Fprintf(w, "| %s | %s | %s | %s | %s |\n", engineName(r.request), r.lib, rate(r), cell(calls, cok, "%.3f"), cell(hit, hok, "%.1f %%"))
		}
		fmt.Fprintln(w)
	}

	var policy []*row
	for _, r := range rows {
		if r.family == "CachePolicy" {
			policy = append(policy, r)
		}
	}
	if len(policy) > 0 {
		fmt.Fprintln(w, "**Cache policy on the same trace**, same capacity (otter as the runtime configures it; otter-sync with its maintenance run by the caller, so its size never passes the limit; a plain LRU):")
		fmt.Fprintln(w)
		fmt.Fprintln(w, "| policy | hit ratio |")
		fmt.Fprintln(w, "|---|---|")
		for _, r := range policy {
			name := r.request
			if r.lib != "" {
				name += "/" + r.lib
			}
			hit, ok := r.median("hit%")
			fmt.Fprintf(w, "| %s | %s |\n", name, cell(hit, ok, "%.1f %%"))
		}
		fmt.Fprintln(w)
	}
}

// rewrite replaces the part of readme between the markers with text.
func rewrite(readme, text []byte) ([]byte, error) {
	begin := bytes.Index(readme, []byte(beginMarker))
	end := bytes.Index(readme, []byte(endMarker))
	if begin < 0 || end < begin {
		return nil, errors.New("README has no performance markers (" + beginMarker + " … " + endMarker + ")")
	}
	var out bytes.Buffer
	out.Write(readme[:begin+len(beginMarker)])
	out.WriteString("\n")
	out.Write(text)
	out.Write(readme[end:])
	return out.Bytes(), nil
}

// writeReadme rewrites the Performance tables of the README at path.
func writeReadme(path string, rows []*row) error {
	readme, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	var text bytes.Buffer
	summary(&text, rows, time.Now().UTC(), machine())
	out, err := rewrite(readme, text.Bytes())
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	return os.WriteFile(path, out, 0o644)
}
