package codec_test

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/vmihailenco/msgpack/v5"

	"github.com/sessiongen/sessiongen/runtime/codec"
	"github.com/sessiongen/sessiongen/runtime/internal/alloctest"
)

// be32 is a big-endian 32-bit length.
func be32(n uint32) []byte { return []byte{byte(n >> 24), byte(n >> 16), byte(n >> 8), byte(n)} }

// cat concatenates byte slices.
func cat(parts ...[]byte) []byte { return bytes.Join(parts, nil) }

// nested returns depth arrays of one element each around 0x01.
func nested(depth int) []byte {
	return cat(bytes.Repeat([]byte{0x91}, depth), []byte{0x01})
}

// regExt is a type msgpack reads from an ext payload with
// msgpack.RegisterExt: the payload is read whole, never parsed.
type regExt struct{ b []byte }

func (r *regExt) MarshalMsgpack() ([]byte, error) { return r.b, nil }

func (r *regExt) UnmarshalMsgpack(b []byte) error {
	r.b = append([]byte(nil), b...)
	return nil
}

const regExtID = 77

func init() {
	msgpack.RegisterExt(regExtID, (*regExt)(nil))
}

func TestValidateAcceptsMsgpackOutput(t *testing.T) {
	deep := any(1)
	for range codec.MaxDepth {
		deep = []any{deep}
	}
	for _, v := range []any{
		nil, true, false, 0, -1, 127, 128, -33, 1 << 40, -1 << 40, uint64(1 << 63),
		float32(1.5), 2.5, "", "hi", string(make([]byte, 40)), string(make([]byte, 300)),
		string(make([]byte, 70000)), []byte{}, []byte{1, 2}, make([]byte, 300),
		[]int{1, 2, 3}, make([]int, 20), make([]int, 70000), map[string]int{"a": 1},
		map[string]any{"x": []any{1, "two", map[string]bool{"t": true}}},
		time.Unix(1, 0), time.Unix(1<<33, 5), time.Date(3000, 1, 1, 0, 0, 0, 1, time.UTC),
		&regExt{b: []byte{0xdf, 0xff, 0xff, 0xff, 0xff}}, deep,
		struct {
			A []string
			M map[string][]int
		}{[]string{"a"}, map[string][]int{"m": {1}}},
	} {
		b := marshal(t, v)
		require.NoError(t, codec.Validate(b), "%T % x", v, b[:min(len(b), 16)])
		for _, bad := range [][]byte{b[:len(b)-1], append(b[:len(b):len(b)], 0)} {
			err := codec.Validate(bad)
			require.ErrorIs(t, err, codec.ErrMalformed, "%T", v)
			assert.Equal(t, 1, sentinels(err))
		}
	}
}

func TestValidateRejects(t *testing.T) {
	huge := be32(math.MaxUint32)
	for _, c := range []struct {
		b    []byte
		want string
	}{
		{nil, "at offset 0: no data"},
		{[]byte{0xc1}, "at offset 0: invalid code 0xc1"},
		{[]byte{0x92, 0x01, 0xc1}, "at offset 2: invalid code 0xc1"},
		{[]byte{0x01, 0x02}, "1 trailing bytes after the value (at offset 1)"},
		{[]byte{0xcd, 0x01}, "at offset 0: truncated input"},
		{[]byte{0xdc, 0xff}, "at offset 0: truncated input"},
		{[]byte{0x92, 0x01, 0xcd}, "at offset 2: truncated input"},
		{[]byte{0x92, 0x01}, "more elements declared than bytes remain (2 declared, 1 bytes remain)"},
		{cat([]byte{0xdd}, huge), "at offset 0: more elements declared than bytes remain (4294967295 declared, 0 bytes remain)"},
		{cat([]byte{0xdf}, huge), "at offset 0: more entries declared than bytes remain (4294967295 declared, 0 bytes remain)"},
		{cat([]byte{0xdb}, huge), "at offset 0: longer payload declared than bytes remain (4294967295 declared, 0 bytes remain)"},
		{cat([]byte{0xc6}, huge, []byte("abc")), "(4294967295 declared, 3 bytes remain)"},
		{cat([]byte{0xc9}, huge, []byte{0x01}), "at offset 0: longer payload declared than bytes remain"},
		{cat([]byte{0x91, 0xdd}, huge), "at offset 1: more elements declared than bytes remain"},
		{[]byte{0xde, 0x00, 0x02, 0xa0, 0x01, 0xa0}, "more entries declared than bytes remain (2 declared, 3 bytes remain)"},
		{[]byte{0xc7, 0x05, 0x01}, "(5 declared, 0 bytes remain)"},
		{nested(codec.MaxDepth + 1), "at offset 65: arrays and maps nested deeper than MaxDepth (64)"},
		{nested(1 << 20), "nested deeper than MaxDepth"},
	} {
		err := codec.Validate(c.b)
		require.Error(t, err, "% x", c.b[:min(len(c.b), 16)])
		assert.ErrorIs(t, err, codec.ErrMalformed)
		assert.Equal(t, 1, sentinels(err))
		assert.Contains(t, err.Error(), c.want)
		assert.Contains(t, err.Error(), "codec: malformed msgpack")
	}
	require.NoError(t, codec.Validate(nested(codec.MaxDepth)))
}

// TestValidateAllocatesNothing on valid input, however large.
func TestValidateAllocatesNothing(t *testing.T) {
	b := marshal(t, map[string]any{"a": []any{1, "x", time.Unix(5, 6), map[string]int{"b": 2}}, "big": make([]int, 1000)})
	assert.Zero(t, testing.AllocsPerRun(100, func() {
		if codec.Validate(b) != nil {
			panic("refused")
		}
	}))
}

// TestDecodersCheckLengthsFirst: the decoders of str, bin and timestamps
// check a declared length against the input before copying anything.
func TestDecodersCheckLengthsFirst(t *testing.T) {
	huge := be32(math.MaxUint32)
	for _, b := range [][]byte{
		cat([]byte{0xdb}, huge), cat([]byte{0xc6}, huge), cat([]byte{0xdb}, huge, []byte("abc")),
		cat([]byte{0xc9}, huge, []byte{0xff}), {0xda, 0xff, 0xff}, {0xc5, 0xff, 0xff},
	} {
		n := allocated(func() {
			_, err := codec.String(b)
			require.Error(t, err) // ErrType for an ext
			_, err = codec.Bytes(b)
			require.Error(t, err)
			_, err = codec.Time(b)
			require.Error(t, err) // ErrType for a str or bin
		})
		assert.Less(t, n, uint64(4096), "% x: %d bytes allocated", b, n)
	}
}

// allocated returns the bytes fn allocates (the least of three runs).
var allocated = alloctest.Bytes

// decodeVia decodes b into dst with msgpack.Decoder reading from a
// codec.Reader.
func decodeVia(b []byte, dst any) error {
	r, err := codec.NewReader(b)
	if err != nil {
		return err
	}
	return msgpack.NewDecoder(r).Decode(dst)
}

// TestReaderRefusesValuesInsideExt: msgpack reads a map from inside an
// ext payload when it wants a map; through a Reader it cannot.
func TestReaderRefusesValuesInsideExt(t *testing.T) {
	huge := be32(math.MaxUint32)
	for _, b := range [][]byte{
		cat([]byte{0xc7, 0x05, 0x01, 0xdf}, huge),                        // ext8: a map32 header
		cat([]byte{0xc7, 0x07, 0x01, 0x81, 0xa0, 0xdd}, huge),            // a map whose value is an array32
		cat([]byte{0xd7, 0x01, 0xdf}, huge, []byte{0xa0, 0xc0, 0xc0}),    // fixext8
		cat([]byte{0xc8, 0x00, 0x05, 0x01, 0xdf}, huge),                  // ext16
		cat([]byte{0xc9, 0x00, 0x00, 0x00, 0x05, 0x01, 0xdf}, huge),      // ext32
		cat([]byte{0x81, 0xa1, 'k', 0xc7, 0x03, 0x01, 0xde, 0xff, 0xff}), // nested: map16
	} {
		require.NoError(t, codec.Validate(b))
		for _, dst := range []any{new(map[string]any), new(map[string]string), new(map[string]int), new(map[string]map[string]any)} {
			var err error
			n := allocated(func() { err = decodeVia(b, dst) })
			require.Error(t, err, "% x into %T", b, dst)
			assert.Less(t, n, uint64(8192), "% x into %T: %d bytes allocated", b, dst, n)
		}
		var m map[string]any
		err := decodeVia(b, &m)
		if b[0] != 0x81 {
			assert.ErrorIs(t, err, codec.ErrType)
			assert.Contains(t, err.Error(), "inside the payload of the ext value")
		}
	}
}

// TestReaderReadsExtPayloads: timestamps (even one whose payload starts
// with a map16 code) and types registered with msgpack.RegisterExt are
// read whole, so they decode through a Reader as they do without.
func TestReaderReadsExtPayloads(t *testing.T) {
	t64 := time.Unix(1700000000, 931135488) // payload starts with 0xde
	for _, v := range []any{
		t64, []time.Time{t64, time.Unix(0xdf000000, 0)}, map[string]time.Time{"t": t64},
		&regExt{b: []byte{0xdf, 0xff, 0xff, 0xff, 0xff}},
		map[string]any{"r": &regExt{b: []byte{0xdd, 0, 0, 0, 9}}, "t": t64},
	} {
		b := marshal(t, v)
		var want, got any
		require.NoError(t, msgpack.Unmarshal(b, &want))
		require.NoError(t, decodeVia(b, &got), "%T", v)
		assert.Equal(t, want, got)
	}
	var tm time.Time
	require.NoError(t, decodeVia(marshal(t, t64), &tm))
	assert.True(t, tm.Equal(t64))
	var r regExt
	require.NoError(t, decodeVia(marshal(t, &regExt{b: []byte{0xdf, 1}}), &r))
	assert.Equal(t, []byte{0xdf, 1}, r.b)
}

func TestReaderIO(t *testing.T) {
	b := marshal(t, []any{"ab", 1})
	r, err := codec.NewReader(b)
	require.NoError(t, err)
	assert.Equal(t, len(b), r.Len())
	assert.Error(t, r.UnreadByte(), "nothing read yet")
	c, err := r.ReadByte()
	require.NoError(t, err)
	assert.Equal(t, b[0], c)
	require.NoError(t, r.UnreadByte())
	all, err := io.ReadAll(r)
	require.NoError(t, err)
	assert.Equal(t, b, all)
	assert.Zero(t, r.Len())
	_, err = r.ReadByte()
	assert.Equal(t, io.EOF, err)
	n, err := r.Read(nil)
	assert.Zero(t, n)
	assert.NoError(t, err)

	_, err = codec.NewReader(b[:len(b)-1])
	assert.ErrorIs(t, err, codec.ErrMalformed)
	_, err = codec.NewReader(nil)
	assert.ErrorIs(t, err, codec.ErrMalformed)

	// Reset reuses a Reader; a refused input leaves nothing to read.
	require.NoError(t, r.Reset([]byte{0x05}))
	c, err = r.ReadByte()
	require.NoError(t, err)
	assert.Equal(t, byte(0x05), c)
	assert.ErrorIs(t, r.Reset(nil), codec.ErrMalformed)
	assert.Zero(t, r.Len())
	_, err = r.ReadByte()
	assert.Equal(t, io.EOF, err)
	ext := marshal(t, []time.Time{time.Unix(1, 0), time.Unix(2, 0), time.Unix(3, 0), time.Unix(4, 0), time.Unix(5, 0)})
	require.NoError(t, r.Reset(ext))
	var ts []time.Time
	require.NoError(t, msgpack.NewDecoder(r).Decode(&ts))
	assert.Len(t, ts, 5)
	assert.Zero(t, testing.AllocsPerRun(10, func() {
		if r.Reset(b) != nil {
			panic("refused")
		}
		if r.Reset(nil) == nil {
			panic("accepted nil")
		}
	}), "Reset allocates nothing once the Reader has room for the ext spans, nor to drop its bytes")
}

// FuzzValidate checks Validate against msgpack and bounds what msgpack
// allocates decoding through a Reader: Validate never panics; what it
// accepts, msgpack skips exactly; what it refuses wraps ErrMalformed
// alone; and decoding accepted bytes into an any or a map[string]any
// allocates at most 192 bytes per input byte (a one-entry Go map costs
// about 336 bytes, for 2 bytes of msgpack) plus 64 KiB.
func FuzzValidate(f *testing.F) {
	huge := be32(math.MaxUint32)
	for _, b := range [][]byte{
		{0x01}, {0xc0}, marshal(f, []any{1, "a", map[string]any{"b": 1.5}}), marshal(f, time.Unix(1700000000, 931135488)),
		cat([]byte{0xdd}, huge), cat([]byte{0xdf}, huge), cat([]byte{0xc7, 0x05, 0x01, 0xdf}, huge),
		cat([]byte{0xc7, 0x07, 0x01, 0x81, 0xa0, 0xdd}, huge), nested(70), marshal(f, &regExt{b: []byte{1}}),
		cat([]byte{0x81, 0xa0}, bytes.Repeat([]byte{0x81, 0xa0}, 60), []byte{0xc0}),
	} {
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		err := codec.Validate(b)
		if err != nil {
			if !errors.Is(err, codec.ErrMalformed) || sentinels(err) != 1 {
				t.Fatalf("Validate(% x): %v wraps the wrong sentinels", b, err)
			}
			if _, rerr := codec.NewReader(b); rerr == nil {
				t.Fatalf("NewReader accepts % x, Validate refuses it", b)
			}
			return
		}
		d := msgpack.NewDecoder(bytes.NewReader(b))
		if err := d.Skip(); err != nil {
			t.Fatalf("Validate accepted % x, msgpack cannot skip it: %v", b, err)
		}
		if _, err := d.Buffered().Read(make([]byte, 1)); err == nil {
			t.Fatalf("Validate accepted % x, msgpack skips less", b)
		}
		for _, dst := range []func() any{
			func() any { return new(any) },
			func() any { return new(map[string]any) },
			func() any { return new([]any) },
			func() any { return new(map[string]string) },
		} {
			n := allocated(func() {
				defer func() { _ = recover() }() // msgpack panics on some inputs; runtime's unmarshal recovers
				_ = decodeVia(b, dst())
			})
			if bound := 192*uint64(len(b)) + 64<<10; n > bound {
				t.Fatalf("decoding % x into %T allocated %d bytes, over %d", b[:min(len(b), 64)], dst(), n, bound)
			}
		}
	})
}

// ExampleNewReader decodes stored bytes with msgpack without trusting
// them: the lengths the headers declare are checked first.
func ExampleNewReader() {
	for _, stored := range [][]byte{
		{0x93, 0x01, 0x02, 0x03},       // [1, 2, 3]
		{0xdd, 0xff, 0xff, 0xff, 0xff}, // an array that claims 2^32 elements
	} {
		var v []int
		r, err := codec.NewReader(stored)
		if err == nil {
			err = msgpack.NewDecoder(r).Decode(&v)
		}
		fmt.Println(v, err)
	}
	// Output:
	// [1 2 3] <nil>
	// [] codec: malformed msgpack at offset 0: more elements declared than bytes remain (4294967295 declared, 0 bytes remain)
}

// BenchmarkValidate checks a 1 KiB session-sized value of mixed shapes.
func BenchmarkValidate(b *testing.B) {
	v := marshal(b, map[string]any{
		"user": "someone@example.com", "roles": []string{"admin", "editor"}, "seen": time.Unix(1700000000, 5),
		"cart": []map[string]any{{"sku": "a-1", "qty": 2}, {"sku": "b-2", "qty": 1}}, "blob": make([]byte, 700),
	})
	b.SetBytes(int64(len(v)))
	b.ReportAllocs()
	for b.Loop() {
		if codec.Validate(v) != nil {
			b.Fatal("refused")
		}
	}
}
