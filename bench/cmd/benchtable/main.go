// Command benchtable turns the output of the bench module's benchmarks
// into the Markdown tables of bench/README.md:
//
//	go test -run '^$' -bench . -benchmem -count 5 | go run ./cmd/benchtable
//
// Benchmarks are named Family/Request/library (Family/Bare for the
// baseline). For every family it prints one row per request and library
// with the median over the -count runs of ns/op, B/op and allocs/op; the
// overhead over Bare when the family has a Bare row; the engine round
// trips per request and the requests per second (1e9 / ns/op) when the
// benchmark reported rtt/op; and how many times sessiongen's ns/op the
// library takes (above 1: slower than sessiongen).
//
// With -stat min it takes the smallest sample instead of the median: on a
// machine shared with other work the least disturbed run.
//
// With -readme path it writes, instead, the summary tables of the
// repository's README.md (write sweep, reads, population, cache policy,
// with the machine and the date) between the markers of its Performance
// section; bench/perf.sh runs the benchmarks and then this.
package main

import (
	"bufio"
	"flag"
	"fmt"
	"io"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

// ours is the library the others are compared with.
const ours = "sessiongen"

// row is one benchmark: its name parts and its samples per unit.
type row struct {
	family, request, lib string
	samples              map[string][]float64
}

// useMin makes median return the smallest sample (-stat min).
var useMin bool

// median returns the median (or, with -stat min, the smallest) of the
// unit's samples and whether there are any.
func (r *row) median(unit string) (float64, bool) {
	s := slices.Clone(r.samples[unit])
	if len(s) == 0 {
		return 0, false
	}
	slices.Sort(s)
	if useMin {
		return s[0], true
	}
	if len(s)%2 == 1 {
		return s[len(s)/2], true
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2, true
}

// procSuffix is the -GOMAXPROCS suffix go test appends to names.
var procSuffix = regexp.MustCompile(`-\d+$`)

// parse reads benchmark result lines and returns the rows in order of
// first appearance.
func parse(r io.Reader) ([]*row, error) {
	var rows []*row
	byName := map[string]*row{}
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) < 4 || !strings.HasPrefix(f[0], "Benchmark") {
			continue
		}
		if _, err := strconv.Atoi(f[1]); err != nil {
			continue
		}
		name := procSuffix.ReplaceAllString(strings.TrimPrefix(f[0], "Benchmark"), "")
		rw := byName[name]
		if rw == nil {
			parts := strings.Split(name, "/")
			rw = &row{family: parts[0], samples: map[string][]float64{}}
			switch len(parts) {
			case 1:
				rw.request = parts[0]
			case 2:
				rw.request = parts[1]
			default:
				rw.request = strings.Join(parts[1:len(parts)-1], "/")
				rw.lib = parts[len(parts)-1]
			}
			byName[name] = rw
			rows = append(rows, rw)
		}
		for i := 2; i+1 < len(f); i += 2 {
			v, err := strconv.ParseFloat(f[i], 64)
			if err != nil {
				return nil, fmt.Errorf("%s: value %q: %w", f[0], f[i], err)
			}
			rw.samples[f[i+1]] = append(rw.samples[f[i+1]], v)
		}
	}
	return rows, sc.Err()
}

// cell formats v, or "–" when missing.
func cell(v float64, ok bool, format string) string {
	if !ok {
		return "–"
	}
	return fmt.Sprintf(format, v)
}

// write prints one Markdown table per family.
func write(w io.Writer, rows []*row) {
	var families []string
	for _, r := range rows {
		if !slices.Contains(families, r.family) {
			families = append(families, r.family)
		}
	}
	for _, fam := range families {
		var rs []*row
		var bare *row
		engine := false
		for _, r := range rows {
			if r.family != fam {
				continue
			}
			if r.request == "Bare" && r.lib == "" {
				bare = r
			}
			if _, ok := r.samples["rtt/op"]; ok {
				engine = true
			}
			rs = append(rs, r)
		}
		oursNS := map[string]float64{}
		for _, r := range rs {
			if r.lib == ours {
				oursNS[r.request], _ = r.median("ns/op")
			}
		}
		bareNS, _ := bare.medianOr("ns/op")
		bareAllocs, _ := bare.medianOr("allocs/op")

		fmt.Fprintf(w, "### %s\n\n", fam)
		head := []string{"request", "library", "ns/op", "B/op", "allocs/op"}
		if bare != nil {
			head = append(head, "over Bare: ns", "over Bare: allocs")
		}
		if engine {
			head = append(head, "rtt/op", "req/s")
		}
		head = append(head, "× sessiongen (time)")
		if bare != nil {
			head = append(head, "× sessiongen (overhead)")
		}
		fmt.Fprintf(w, "| %s |\n|%s\n", strings.Join(head, " | "), strings.Repeat(" --- |", len(head)))
		for _, r := range rs {
			ns, nsOK := r.median("ns/op")
			b, bOK := r.median("B/op")
			a, aOK := r.median("allocs/op")
			lib := r.lib
			if lib == "" {
				lib = "(none)"
			}
			cells := []string{r.request, lib, cell(ns, nsOK, "%.0f"), cell(b, bOK, "%.0f"), cell(a, aOK, "%.0f")}
			if bare != nil {
				isBare := r == bare
				cells = append(cells, cell(ns-bareNS, nsOK && !isBare, "%+.0f"), cell(a-bareAllocs, aOK && !isBare, "%+.0f"))
			}
			if engine {
				rtt, rttOK := r.median("rtt/op")
				cells = append(cells, cell(rtt, rttOK, "%.2f"), cell(1e9/ns, nsOK && ns > 0, "%.0f"))
			}
			o, oOK := oursNS[r.request]
			cells = append(cells, cell(ns/o, nsOK && oOK && o > 0 && r.lib != "", "%.2f"))
			if bare != nil {
				cells = append(cells, cell((ns-bareNS)/(o-bareNS), nsOK && oOK && o > bareNS && r.lib != "", "%.2f"))
			}
			fmt.Fprintf(w, "| %s |\n", strings.Join(cells, " | "))
		}
		fmt.Fprintln(w)
	}
}

// medianOr is median on a row that may be nil.
func (r *row) medianOr(unit string) (float64, bool) {
	if r == nil {
		return 0, false
	}
	return r.median(unit)
}

func main() {
	stat := flag.String("stat", "median", "statistic over the runs of a benchmark: median or min")
	readme := flag.String("readme", "", "instead of the tables of bench/README.md, rewrite the Performance tables of this README.md (between its markers)")
	flag.Parse()
	switch *stat {
	case "median":
	case "min":
		useMin = true
	default:
		fmt.Fprintf(os.Stderr, "benchtable: -stat %q: want median or min\n", *stat)
		os.Exit(2)
	}
	rows, err := parse(os.Stdin)
	if err != nil {
		fmt.Fprintln(os.Stderr, "benchtable:", err)
		os.Exit(1)
	}
	if len(rows) == 0 {
		fmt.Fprintln(os.Stderr, "benchtable: no benchmark results on standard input")
		os.Exit(1)
	}
	if *readme != "" {
		if err := writeReadme(*readme, rows); err != nil {
			fmt.Fprintln(os.Stderr, "benchtable:", err)
			os.Exit(1)
		}
		return
	}
	write(os.Stdout, rows)
}
