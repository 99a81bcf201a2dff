package main

import (
	"strings"
	"testing"

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
