package session

import (
	"bytes"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/vmihailenco/msgpack/v5"
)

func TestWellFormedAcceptsMsgpackOutput(t *testing.T) {
	values := []any{
		nil, true, false, 0, -1, 127, 128, -33, 1 << 40, -1 << 40, uint64(1 << 63),
		float32(1.5), 2.5, "", "hi", string(make([]byte, 40)), string(make([]byte, 300)),
		string(make([]byte, 70000)), []byte{}, []byte{1, 2}, make([]byte, 300),
		[]int{1, 2, 3}, make([]int, 20), make([]int, 70000), map[string]int{"a": 1},
		map[string]any{"x": []any{1, "two", map[string]bool{"t": true}}},
		time.Unix(1, 0), time.Unix(1<<33, 5), time.Date(3000, 1, 1, 0, 0, 0, 1, time.UTC),
		profile{Name: "n", Roles: []string{"r"}},
	}
	for _, v := range values {
		b, err := msgpack.Marshal(v)
		require.NoError(t, err)
		assert.True(t, wellFormed(b), "%T % x", v, b[:min(len(b), 16)])
		assert.False(t, wellFormed(b[:len(b)-1]), "truncated %T", v)
		assert.False(t, wellFormed(append(b, 0)), "trailing byte after %T", v)
	}
}

func TestWellFormedRejects(t *testing.T) {
	deep := bytes.Repeat([]byte{0x91}, maxDepth+2)
	deep = append(deep, 0x01)
	for _, b := range [][]byte{
		nil, {}, {0xc1}, {0xdc, 0xff}, {0xdd, 0xff, 0xff, 0xff, 0xff}, {0xdf, 0, 0, 0, 1, 0x01},
		{0xc7, 0x05, 0x01}, {0xd9}, {0xdb, 0xff, 0xff, 0xff, 0xff, 'a'}, deep,
	} {
		assert.False(t, wellFormed(b), "% x", b)
	}
}

func FuzzWellFormed(f *testing.F) {
	for _, v := range []any{1, "s", []any{1, "a"}, map[string]int{"k": 2}, time.Unix(5, 6), 1.5} {
		b, _ := msgpack.Marshal(v)
		f.Add(b)
	}
	f.Add([]byte{0xdd, 0xff, 0xff, 0xff, 0xff})
	f.Fuzz(func(t *testing.T, b []byte) {
		if !wellFormed(b) {
			return
		}
		// A value wellFormed accepts is one whole value to msgpack too.
		d := msgpack.NewDecoder(bytes.NewReader(b))
		if err := d.Skip(); err != nil {
			t.Fatalf("wellFormed accepted % x, msgpack cannot skip it: %v", b, err)
		}
		if _, err := d.Buffered().Read(make([]byte, 1)); err == nil {
			t.Fatalf("wellFormed accepted % x with bytes after the value", b)
		}
	})
}
