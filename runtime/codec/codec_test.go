package codec_test

import (
	"bytes"
	"errors"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/vmihailenco/msgpack/v5"

	"github.com/sessiongen/sessiongen/runtime/codec"
)

// compact encodes v with msgpack's compact integer encoding, the form codec
// writes integers in.
func compact(t testing.TB, v any) []byte {
	t.Helper()
	var buf bytes.Buffer
	enc := msgpack.NewEncoder(&buf)
	enc.UseCompactInts(true)
	require.NoError(t, enc.Encode(v))
	return buf.Bytes()
}

// marshal is msgpack.Marshal that fails the test on error.
func marshal(t testing.TB, v any) []byte {
	t.Helper()
	b, err := msgpack.Marshal(v)
	require.NoError(t, err)
	return b
}

// sentinels counts how many of the codec sentinels err wraps.
func sentinels(err error) int {
	n := 0
	for _, s := range []error{codec.ErrType, codec.ErrRange, codec.ErrMalformed} {
		if errors.Is(err, s) {
			n++
		}
	}
	return n
}

func TestBool(t *testing.T) {
	for _, v := range []bool{false, true} {
		b := codec.AppendBool(nil, v)
		assert.Len(t, b, codec.MaxBool)
		assert.Equal(t, marshal(t, v), b, "same bytes as msgpack")

		got, err := codec.Bool(b)
		require.NoError(t, err)
		assert.Equal(t, v, got)

		var viaMsgpack bool
		require.NoError(t, msgpack.Unmarshal(b, &viaMsgpack))
		assert.Equal(t, v, viaMsgpack)
	}

	got, err := codec.Bool(codec.AppendNil(nil))
	require.NoError(t, err, "nil decodes as false, as msgpack does")
	assert.False(t, got)
}

func TestBoolErrors(t *testing.T) {
	_, err := codec.Bool(nil)
	require.ErrorIs(t, err, codec.ErrMalformed)

	_, err = codec.Bool([]byte{0xc3, 0xc3})
	require.ErrorIs(t, err, codec.ErrMalformed)
	assert.EqualError(t, err, "codec: want bool: 1 trailing bytes after the value")

	_, err = codec.Bool(codec.AppendInt(nil, 1))
	require.ErrorIs(t, err, codec.ErrType)
	assert.EqualError(t, err, "codec: want bool, found int")

	_, err = codec.Bool(codec.AppendString(nil, "true"))
	require.ErrorIs(t, err, codec.ErrType)
	assert.EqualError(t, err, "codec: want bool, found str")
}

func TestNil(t *testing.T) {
	b := codec.AppendNil([]byte{1})
	assert.Equal(t, []byte{1, 0xc0}, b)
	assert.True(t, codec.IsNil(b[1:]))
	assert.Equal(t, marshal(t, nil), b[1:])
	assert.False(t, codec.IsNil(b))
	assert.False(t, codec.IsNil(nil))
	assert.False(t, codec.IsNil(codec.AppendBool(nil, false)))
}

func TestErrorNamesFoundType(t *testing.T) {
	tests := []struct {
		in    []byte
		found string
	}{
		{marshal(t, map[string]int{"a": 1}), "map"},
		{[]byte{0xde, 0, 0}, "map"},
		{marshal(t, []int{1, 2}), "array"},
		{[]byte{0xdc, 0, 0}, "array"},
		{marshal(t, "s"), "str"},
		{marshal(t, strings.Repeat("s", 40)), "str"},
		{marshal(t, []byte("b")), "bin"},
		{marshal(t, float32(1)), "float32"},
		{marshal(t, 1.0), "float64"},
		{[]byte{0xc2}, "bool"},
		{[]byte{0xd4, 5, 0}, "ext type 5"},
		{[]byte{0xc7, 1, 0xfe, 0}, "ext type -2"},
		{[]byte{0xc7}, "ext"},
		{marshal(t, time.Unix(1, 0)), "timestamp"},
		{[]byte{0xc1}, "invalid code 0xc1"},
	}
	for _, tt := range tests {
		_, err := codec.Int(tt.in, 64)
		require.ErrorIs(t, err, codec.ErrType, "% x", tt.in)
		assert.EqualError(t, err, "codec: want int, found "+tt.found)
	}
	_, err := codec.Time([]byte{0xc0})
	assert.EqualError(t, err, "codec: want timestamp, found nil")
	_, err = codec.String(codec.AppendInt(nil, 1))
	assert.EqualError(t, err, "codec: want str, found int")
	_, err = codec.Bytes(codec.AppendBool(nil, true))
	assert.EqualError(t, err, "codec: want bin, found bool")
	_, err = codec.Float64(codec.AppendString(nil, "1"))
	assert.EqualError(t, err, "codec: want float64, found str")
}

// TestEmptyInput checks every decoder on empty input.
func TestEmptyInput(t *testing.T) {
	errs := []error{}
	_, err := codec.Bool(nil)
	errs = append(errs, err)
	_, err = codec.Int(nil, 64)
	errs = append(errs, err)
	_, err = codec.Uint(nil, 64)
	errs = append(errs, err)
	_, err = codec.Float32(nil)
	errs = append(errs, err)
	_, err = codec.Float64(nil)
	errs = append(errs, err)
	_, err = codec.String(nil)
	errs = append(errs, err)
	_, err = codec.Bytes(nil)
	errs = append(errs, err)
	_, err = codec.Time(nil)
	errs = append(errs, err)
	for _, err := range errs {
		require.ErrorIs(t, err, codec.ErrMalformed)
		assert.Contains(t, err.Error(), "found no data")
		assert.Equal(t, 1, sentinels(err))
	}
}

// TestMaxSizes checks that no value encodes larger than its Max constant
// and that some value reaches it.
func TestMaxSizes(t *testing.T) {
	maxLen := func(encs ...[]byte) int {
		n := 0
		for _, b := range encs {
			n = max(n, len(b))
		}
		return n
	}
	ints := func(lo, hi int64) int {
		n := 0
		for _, v := range []int64{lo, lo + 1, -33, -32, -1, 0, 127, 128, hi - 1, hi} {
			if v >= lo && v <= hi {
				n = max(n, len(codec.AppendInt(nil, v)))
			}
		}
		return n
	}
	uints := func(hi uint64) int {
		n := 0
		for _, v := range []uint64{0, 127, 128, 255, 256, hi - 1, hi} {
			if v <= hi {
				n = max(n, len(codec.AppendUint(nil, v)))
			}
		}
		return n
	}

	// Exhaustive for the narrow types.
	n8, n16 := 0, 0
	for v := int64(math.MinInt16); v <= math.MaxInt16; v++ {
		l := len(codec.AppendInt(nil, v))
		if v >= math.MinInt8 && v <= math.MaxInt8 {
			n8 = max(n8, l)
		}
		n16 = max(n16, l)
	}
	assert.Equal(t, codec.MaxInt8, n8)
	assert.Equal(t, codec.MaxInt16, n16)
	u8, u16 := 0, 0
	for v := uint64(0); v <= math.MaxUint16; v++ {
		l := len(codec.AppendUint(nil, v))
		if v <= math.MaxUint8 {
			u8 = max(u8, l)
		}
		u16 = max(u16, l)
	}
	assert.Equal(t, codec.MaxUint8, u8)
	assert.Equal(t, codec.MaxUint16, u16)

	assert.Equal(t, codec.MaxInt8, ints(math.MinInt8, math.MaxInt8))
	assert.Equal(t, codec.MaxInt16, ints(math.MinInt16, math.MaxInt16))
	assert.Equal(t, codec.MaxInt32, ints(math.MinInt32, math.MaxInt32))
	assert.Equal(t, codec.MaxInt64, ints(math.MinInt64, math.MaxInt64))
	assert.Equal(t, codec.MaxInt, ints(math.MinInt64, math.MaxInt64))
	assert.Equal(t, codec.MaxUint8, uints(math.MaxUint8))
	assert.Equal(t, codec.MaxUint16, uints(math.MaxUint16))
	assert.Equal(t, codec.MaxUint32, uints(math.MaxUint32))
	assert.Equal(t, codec.MaxUint64, uints(math.MaxUint64))
	assert.Equal(t, codec.MaxUint, uints(math.MaxUint64))

	// msgpack.Marshal's fixed-width forms stay within the same bounds.
	assert.Equal(t, codec.MaxInt8, maxLen(marshal(t, int8(1)), marshal(t, int8(-128))))
	assert.Equal(t, codec.MaxInt16, maxLen(marshal(t, int16(1)), marshal(t, int16(-1))))
	assert.Equal(t, codec.MaxInt32, maxLen(marshal(t, int32(1)), marshal(t, int32(-1))))
	assert.Equal(t, codec.MaxInt64, maxLen(marshal(t, int64(1)), marshal(t, int(math.MinInt64))))
	assert.Equal(t, codec.MaxUint8, maxLen(marshal(t, uint8(1)), marshal(t, uint8(255))))
	assert.Equal(t, codec.MaxUint16, maxLen(marshal(t, uint16(1))))
	assert.Equal(t, codec.MaxUint32, maxLen(marshal(t, uint32(1))))
	assert.Equal(t, codec.MaxUint64, maxLen(marshal(t, uint64(1)), marshal(t, uint(math.MaxUint64))))

	assert.Equal(t, codec.MaxBool, maxLen(codec.AppendBool(nil, true), codec.AppendBool(nil, false)))
	assert.Equal(t, codec.MaxNil, len(codec.AppendNil(nil)))
	assert.Equal(t, codec.MaxFloat32, maxLen(codec.AppendFloat32(nil, 0), codec.AppendFloat32(nil, math.MaxFloat32),
		marshal(t, float32(math.Inf(-1)))))
	assert.Equal(t, codec.MaxFloat64, maxLen(codec.AppendFloat64(nil, 0), codec.AppendFloat64(nil, math.MaxFloat64),
		marshal(t, math.NaN())))

	times := []time.Time{
		{}, time.Unix(0, 0), time.Unix(1, 1), time.Unix(-1, 999999999),
		time.Date(9999, 12, 31, 23, 59, 59, 999999999, time.UTC),
		time.Unix(math.MaxInt64-62135596800, 999999999),
		time.Unix(math.MinInt64, 0),
	}
	n := 0
	for _, tm := range times {
		n = max(n, len(codec.AppendTime(nil, tm)), len(marshal(t, tm)))
	}
	assert.Equal(t, codec.MaxTime, n)
}

func TestContainerHeaderSize(t *testing.T) {
	for _, n := range []int{0, 1, 15, 16, 255, 256, 65535, 65536, 1 << 20} {
		var buf bytes.Buffer
		enc := msgpack.NewEncoder(&buf)
		require.NoError(t, enc.EncodeArrayLen(n))
		assert.Equal(t, buf.Len(), codec.ArrayHeaderSize(n), "array of %d", n)

		buf.Reset()
		require.NoError(t, enc.EncodeMapLen(n))
		assert.Equal(t, buf.Len(), codec.MapHeaderSize(n), "map of %d", n)
	}
	assert.Equal(t, 1, codec.ArrayHeaderSize(-1))
	assert.Equal(t, 1, codec.MapHeaderSize(-1))

	// A whole slice: header plus elements.
	s := make([]bool, 20)
	assert.Len(t, marshal(t, s), codec.ArrayHeaderSize(20)+20*codec.MaxBool)
}
