package main

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

const sample = `goos: linux
BenchmarkMemory/Bare-2        	 100	       300 ns/op	     480 B/op	       4 allocs/op
BenchmarkMemory/Bare-2        	 100	       500 ns/op	     480 B/op	       4 allocs/op
BenchmarkMemory/Bare-2        	 100	       400 ns/op	     480 B/op	       4 allocs/op
BenchmarkMemory/ReadOnly/sessiongen-2 	 100	      1400 ns/op	     992 B/op	       6 allocs/op
BenchmarkMemory/ReadOnly/scs-2 	 100	     20400 ns/op	    9928 B/op	     204 allocs/op
BenchmarkRedis/ReadOnly32Clients/scs-2 	 100	     25000 ns/op	    1000 B/op	      20 allocs/op	 1.000 rtt/op	 40000 req/s
PASS
`

func TestParseAndWrite(t *testing.T) {
	rows, err := parse(strings.NewReader(sample))
	require.NoError(t, err)
	require.Len(t, rows, 4)
	require.Equal(t, "Memory", rows[0].family)
	require.Equal(t, "Bare", rows[0].request)
	require.Empty(t, rows[0].lib)
	m, ok := rows[0].median("ns/op")
	require.True(t, ok)
	require.Equal(t, 400.0, m, "median of three samples")
	require.Equal(t, "ReadOnly32Clients", rows[3].request)
	require.Equal(t, "scs", rows[3].lib)

	var out strings.Builder
	write(&out, rows)
	s := out.String()
	require.Contains(t, s, "### Memory")
	// sessiongen: 1400-400 = +1000 ns, +2 allocs over Bare.
	require.Contains(t, s, "| ReadOnly | sessiongen | 1400 | 992 | 6 | +1000 | +2 | 1.00 | 1.00 |")
	// scs: 20400/1400 = 14.57 in time, 20000/1000 = 20 in overhead.
	require.Contains(t, s, "| ReadOnly | scs | 20400 | 9928 | 204 | +20000 | +200 | 14.57 | 20.00 |")
	require.Contains(t, s, "### Redis")
	require.Contains(t, s, "| ReadOnly32Clients | scs | 25000 | 1000 | 20 | 1.00 | 40000 | – |")
}

func TestParseRejectsBadValue(t *testing.T) {
	_, err := parse(strings.NewReader("BenchmarkX-2 10 abc ns/op\n"))
	require.Error(t, err)
}

func TestMin(t *testing.T) {
	rows, err := parse(strings.NewReader(sample))
	require.NoError(t, err)
	useMin = true
	defer func() { useMin = false }()
	m, ok := rows[0].median("ns/op")
	require.True(t, ok)
	require.Equal(t, 300.0, m, "smallest of three samples")
}

const sweep = `BenchmarkRedis/OneSet32Clients/sessiongen-2 	 100	 10000 ns/op	 100000 req/s	 200 p50-µs	 900 p99-µs	 1.000 rtt/op
BenchmarkRedis/OneSet32Clients/sessiongen-2 	 100	 10000 ns/op	 120000 req/s	 220 p50-µs	 950 p99-µs	 1.000 rtt/op
BenchmarkRedis/OneSet32Clients/sessiongen-2 	 100	 10000 ns/op	 110000 req/s	 210 p50-µs	 990 p99-µs	 1.000 rtt/op
BenchmarkRedis/OneSet32Clients/scs-2 	 100	 40000 ns/op	 25000 req/s	 1000 p50-µs	 3000 p99-µs	 2.000 rtt/op
BenchmarkRedis/OneSet32Clients/sessiongen-alone-2 	 100	 30000 ns/op	 30000 req/s	 500 p50-µs	 2000 p99-µs	 1.000 rtt/op
BenchmarkRedis/ReadOnly32Clients/sessiongen-2 	 100	 1000 ns/op	 1000000 req/s	 1 p50-µs	 9 p99-µs	 0 rtt/op
BenchmarkRedis/ReadOnly32Clients/scs-2 	 100	 50000 ns/op	 20000 req/s	 300 p50-µs	 900 p99-µs	 1.000 rtt/op
BenchmarkPopulation/Redis/sessiongen-2 	 100	 5000 ns/op	 200000 req/s	 0.080 rtt/op	 92.0 hit%
BenchmarkCachePolicy/otter-2 	 1	 5000 ns/op	 81.5 hit%
`

func TestReadmeSummary(t *testing.T) {
	rows, err := parse(strings.NewReader(sweep))
	require.NoError(t, err)
	var out strings.Builder
	summary(&out, rows, time.Date(2026, 12, 7, 0, 0, 0, 0, time.UTC), "test machine")
	s := out.String()
	require.Contains(t, s, "on 2026-12-07 (test machine): medians of 1 runs")
	require.Contains(t, s, "| Redis | 32 | 110,000 (100,000–120,000) | 25,000 | 4.4× | 30,000 | 0.21 / 1.00 | 0.95 / 2.00 / 3.00 |")
	require.Contains(t, s, "| Redis | 1,000,000 | 20,000 | 50× | 0.00 / 1.00 |")
	require.Contains(t, s, "| Redis | sessiongen | 200,000 | 0.080 | 92.0 % |")
	require.Contains(t, s, "| otter | 81.5 % |")

	readme := []byte("# x\n\n" + beginMarker + "\nold\n" + endMarker + "\nafter\n")
	got, err := rewrite(readme, []byte("new\n"))
	require.NoError(t, err)
	require.Equal(t, "# x\n\n"+beginMarker+"\nnew\n"+endMarker+"\nafter\n", string(got))
	_, err = rewrite([]byte("no markers"), nil)
	require.Error(t, err)
}
