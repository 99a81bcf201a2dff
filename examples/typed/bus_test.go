//go:build redis && postgres && mysql && dynamodb

package main

import (
	"bytes"
	"net"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestParseBusURL(t *testing.T) {
	for _, tc := range []struct {
		bus, store, kind, connKind, where string
	}{
		{"", "redis://127.0.0.1:6379/0", "store", "", ""},
		{"", "redis+cluster://127.0.0.1:7000", "store", "", ""},
		{"", "postgres://u@127.0.0.1/test", "store", "", ""},
		{"", "", "none", "", ""},
		{"", "memory:", "none", "", ""},
		{"", "mysql://root@127.0.0.1:3306/test", "none", "", ""},
		{"", "dynamodb://127.0.0.1:8000/t", "none", "", ""},
		{"none", "redis://127.0.0.1:6379/0", "none", "", ""},
		{"NONE", "postgres://u@127.0.0.1/test", "none", "", ""},
		{"redis://:secret@127.0.0.1:6379/1", "mysql://root@127.0.0.1:3306/test", "redis", "redis", "redis://:xxxxx@127.0.0.1:6379/1"},
		{"redis+cluster://127.0.0.1:7000?addr=127.0.0.1:7001", "", "redis-cluster", "redis-cluster", "redis+cluster://127.0.0.1:7000?addr=127.0.0.1:7001"},
		{"postgres://u:secret@127.0.0.1:5432/test", "dynamodb://127.0.0.1:8000/t", "postgres", "postgres", "postgres://u:xxxxx@127.0.0.1:5432/test"},
	} {
		t.Run(tc.bus+" with "+tc.store, func(t *testing.T) {
			st, err := parseStoreURL(tc.store, t.TempDir())
			require.NoError(t, err)
			b, err := parseBusURL(tc.bus, st)
			require.NoError(t, err)
			assert.Equal(t, tc.kind, b.kind)
			assert.Equal(t, tc.connKind, b.conn.kind)
			assert.Equal(t, tc.where, b.conn.where)
		})
	}
}

func TestParseBusURLErrors(t *testing.T) {
	st, err := parseStoreURL("memory:", "")
	require.NoError(t, err)
	for _, tc := range []struct{ raw, msg string }{
		{"memory:", `not on "memory:"`},
		{"mysql://root:secret@127.0.0.1:3306/test", `not on "mysql:"`},
		{"bolt:/tmp/x.db", `not on "bolt:"`},
		{"ftp://x/y", `not on "ftp:"`},
		{"nothing", `not on "nothing:"`},
		{"redis://:secret@127.0.0.1:6379/x", "invalid -bus URL redis://:xxxxx@127.0.0.1:6379/x: "},
		{"redis://", "no host"},
		{"postgres://u:secret@127.0.0.1:5432/db?pool_max_conns=x", "invalid -bus URL postgres://u:xxxxx@"},
	} {
		t.Run(tc.raw, func(t *testing.T) {
			_, err := parseBusURL(tc.raw, st)
			require.ErrorIs(t, err, errBusURL)
			assert.Contains(t, err.Error(), tc.msg)
			assert.NotContains(t, err.Error(), "secret", "errors never show the password")
		})
	}
}

// TestRunBusArguments: a bad -bus exits 2 before any engine is opened; a
// bus that cannot be reached exits 1.
func TestRunBusArguments(t *testing.T) {
	var out bytes.Buffer
	code := run(t.Context(), []string{"-store", "memory:", "-bus", "mysql://root@127.0.0.1:3306/test"}, &out, func(net.Addr) { t.Error("the demo started listening") })
	assert.Equal(t, 2, code, out.String())
	assert.Contains(t, out.String(), "bad -bus flag")

	// Nothing listens on port 1.
	out.Reset()
	code = run(t.Context(), []string{"-store", "memory:", "-bus", "redis://127.0.0.1:1/0"}, &out, func(net.Addr) { t.Error("the demo started listening") })
	assert.Equal(t, 1, code, out.String())
	assert.Contains(t, out.String(), "open the bus")
}

// TestRunHelpBus: -h documents -bus.
func TestRunHelpBus(t *testing.T) {
	var out bytes.Buffer
	assert.Equal(t, 0, run(t.Context(), []string{"-h"}, &out, nil))
	for _, want := range []string{"-bus", "none", "redis://", "postgres://", "derived from -store"} {
		assert.Contains(t, out.String(), want)
	}
}

// TestRunWithoutBus: on an engine without a bus of its own, the demo runs
// with none and says so.
func TestRunWithoutBus(t *testing.T) {
	p := start(t, "-store", "memory:")
	assert.Contains(t, p.logs.String(), "bus=none")
	assert.Equal(t, 0, p.stop())
}
