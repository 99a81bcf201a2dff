package codec_test

import (
	"math"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/vmihailenco/msgpack/v5"

	"github.com/sessiongen/sessiongen/runtime/codec"
)

// intCases are signed boundaries with the size codec encodes them in.
var intCases = []struct {
	v    int64
	size int
}{
	{math.MinInt64, 9},
	{math.MinInt64 + 1, 9},
	{math.MinInt32 - 1, 9},
	{math.MinInt32, 5},
	{math.MinInt16 - 1, 5},
	{math.MinInt16, 3},
	{math.MinInt8 - 1, 3},
	{math.MinInt8, 2},
	{-33, 2},
	{-32, 1},
	{-1, 1},
	{0, 1},
	{1, 1},
	{127, 1},
	{128, 2},
	{255, 2},
	{256, 3},
	{300, 3},
	{math.MaxInt16, 3},
	{65535, 3},
	{65536, 5},
	{math.MaxInt32, 5},
	{math.MaxUint32, 5},
	{math.MaxUint32 + 1, 9},
	{math.MaxInt64, 9},
}

// uintCases are unsigned boundaries with the size codec encodes them in.
var uintCases = []struct {
	v    uint64
	size int
}{
	{0, 1},
	{127, 1},
	{128, 2},
	{255, 2},
	{256, 3},
	{65535, 3},
	{65536, 5},
	{math.MaxUint32, 5},
	{math.MaxUint32 + 1, 9},
	{math.MaxInt64, 9},
	{math.MaxInt64 + 1, 9},
	{math.MaxUint64, 9},
}

func fitsInt(v int64, bits int) bool {
	return bits == 64 || (v >= -1<<(bits-1) && v <= 1<<(bits-1)-1)
}

func fitsUint(v uint64, bits int) bool {
	return bits == 64 || v <= 1<<bits-1
}

func TestIntRoundTrip(t *testing.T) {
	for _, tt := range intCases {
		b := codec.AppendInt(nil, tt.v)
		assert.Len(t, b, tt.size, "%d", tt.v)
		assert.Equal(t, compact(t, tt.v), b, "%d: same bytes as msgpack's compact ints", tt.v)

		// msgpack reads what codec writes.
		var i64 int64
		require.NoError(t, msgpack.Unmarshal(b, &i64))
		assert.Equal(t, tt.v, i64)

		for _, bits := range []int{8, 16, 32, 64} {
			got, err := codec.Int(b, bits)
			if !fitsInt(tt.v, bits) {
				require.ErrorIs(t, err, codec.ErrRange, "%d in int%d", tt.v, bits)
				assert.Zero(t, got)
				continue
			}
			require.NoError(t, err, "%d in int%d", tt.v, bits)
			assert.Equal(t, tt.v, got)
		}
		if tt.v >= 0 {
			got, err := codec.Uint(b, 64)
			require.NoError(t, err)
			assert.Equal(t, uint64(tt.v), got)
		} else {
			_, err := codec.Uint(b, 64)
			require.ErrorIs(t, err, codec.ErrRange, "negative %d as uint", tt.v)
		}
		if fitsInt(tt.v, 8) {
			var i8 int8
			require.NoError(t, msgpack.Unmarshal(b, &i8))
			assert.Equal(t, int8(tt.v), i8)
		}
		if fitsInt(tt.v, 16) {
			var i16 int16
			require.NoError(t, msgpack.Unmarshal(b, &i16))
			assert.Equal(t, int16(tt.v), i16)
		}
		if fitsInt(tt.v, 32) {
			var i32 int32
			require.NoError(t, msgpack.Unmarshal(b, &i32))
			assert.Equal(t, int32(tt.v), i32)
		}
		var i int
		require.NoError(t, msgpack.Unmarshal(b, &i))
		assert.Equal(t, int(tt.v), i)
	}
}

func TestUintRoundTrip(t *testing.T) {
	for _, tt := range uintCases {
		b := codec.AppendUint(nil, tt.v)
		assert.Len(t, b, tt.size, "%d", tt.v)
		assert.Equal(t, compact(t, tt.v), b, "%d: same bytes as msgpack's compact ints", tt.v)

		var u64 uint64
		require.NoError(t, msgpack.Unmarshal(b, &u64))
		assert.Equal(t, tt.v, u64)

		for _, bits := range []int{8, 16, 32, 64} {
			got, err := codec.Uint(b, bits)
			if !fitsUint(tt.v, bits) {
				require.ErrorIs(t, err, codec.ErrRange, "%d in uint%d", tt.v, bits)
				continue
			}
			require.NoError(t, err, "%d in uint%d", tt.v, bits)
			assert.Equal(t, tt.v, got)
		}
		got, err := codec.Int(b, 64)
		if tt.v > math.MaxInt64 {
			require.ErrorIs(t, err, codec.ErrRange, "%d as int64", tt.v)
		} else {
			require.NoError(t, err)
			assert.Equal(t, int64(tt.v), got)
		}
		if fitsUint(tt.v, 8) {
			var u8 uint8
			require.NoError(t, msgpack.Unmarshal(b, &u8))
			assert.Equal(t, uint8(tt.v), u8)
		}
		if fitsUint(tt.v, 16) {
			var u16 uint16
			require.NoError(t, msgpack.Unmarshal(b, &u16))
			assert.Equal(t, uint16(tt.v), u16)
		}
		if fitsUint(tt.v, 32) {
			var u32 uint32
			require.NoError(t, msgpack.Unmarshal(b, &u32))
			assert.Equal(t, uint32(tt.v), u32)
		}
	}
}

// TestIntReadsMsgpackMarshal checks that codec reads the fixed-width forms
// msgpack.Marshal writes for each Go integer type.
func TestIntReadsMsgpackMarshal(t *testing.T) {
	for _, tt := range intCases {
		v := tt.v
		check := func(goValue any, bits int) {
			t.Helper()
			b := marshal(t, goValue)
			got, err := codec.Int(b, bits)
			require.NoError(t, err, "%T(%d) % x", goValue, v, b)
			assert.Equal(t, v, got)
			f, err := codec.Float64(b)
			require.NoError(t, err)
			assert.Equal(t, float64(v), f)
		}
		if fitsInt(v, 8) {
			check(int8(v), 8)
		}
		if fitsInt(v, 16) {
			check(int16(v), 16)
		}
		if fitsInt(v, 32) {
			check(int32(v), 32)
		}
		check(v, 64)
		check(int(v), 0)
	}
	for _, tt := range uintCases {
		v := tt.v
		check := func(goValue any, bits int) {
			t.Helper()
			b := marshal(t, goValue)
			got, err := codec.Uint(b, bits)
			require.NoError(t, err, "%T(%d) % x", goValue, v, b)
			assert.Equal(t, v, got)
		}
		if fitsUint(v, 8) {
			check(uint8(v), 8)
		}
		if fitsUint(v, 16) {
			check(uint16(v), 16)
		}
		if fitsUint(v, 32) {
			check(uint32(v), 32)
		}
		check(v, 64)
		check(uint(v), 0)
	}
}

// TestIntAcceptsEveryForm feeds every msgpack integer form by hand.
func TestIntAcceptsEveryForm(t *testing.T) {
	forms := map[string]struct {
		b []byte
		v int64
	}{
		"positive fixint": {[]byte{0x05}, 5},
		"negative fixint": {[]byte{0xfb}, -5},
		"uint8":           {[]byte{0xcc, 0x05}, 5},
		"uint16":          {[]byte{0xcd, 0x00, 0x05}, 5},
		"uint32":          {[]byte{0xce, 0x00, 0x00, 0x00, 0x05}, 5},
		"uint64":          {[]byte{0xcf, 0, 0, 0, 0, 0, 0, 0, 0x05}, 5},
		"int8":            {[]byte{0xd0, 0x05}, 5},
		"int8 negative":   {[]byte{0xd0, 0xfb}, -5},
		"int16":           {[]byte{0xd1, 0x00, 0x05}, 5},
		"int16 negative":  {[]byte{0xd1, 0xff, 0xfb}, -5},
		"int32":           {[]byte{0xd2, 0x00, 0x00, 0x00, 0x05}, 5},
		"int32 negative":  {[]byte{0xd2, 0xff, 0xff, 0xff, 0xfb}, -5},
		"int64":           {[]byte{0xd3, 0, 0, 0, 0, 0, 0, 0, 0x05}, 5},
		"int64 negative":  {[]byte{0xd3, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xfb}, -5},
		"nil":             {[]byte{0xc0}, 0},
	}
	for name, f := range forms {
		got, err := codec.Int(f.b, 8)
		require.NoError(t, err, name)
		assert.Equal(t, f.v, got, name)

		u, err := codec.Uint(f.b, 8)
		if f.v < 0 {
			require.ErrorIs(t, err, codec.ErrRange, name)
		} else {
			require.NoError(t, err, name)
			assert.Equal(t, uint64(f.v), u, name)
		}

		f32, err := codec.Float32(f.b)
		require.NoError(t, err, name)
		assert.Equal(t, float32(f.v), f32, name)

		var viaMsgpack int64
		require.NoError(t, msgpack.Unmarshal(f.b, &viaMsgpack), name)
		assert.Equal(t, f.v, viaMsgpack, name)
	}
}

func TestIntRange(t *testing.T) {
	b := codec.AppendInt(nil, 300)
	_, err := codec.Int(b, 8)
	require.ErrorIs(t, err, codec.ErrRange)
	assert.EqualError(t, err, "codec: 300 out of range for int8")
	assert.Equal(t, 1, sentinels(err))

	// msgpack itself truncates silently; codec exists to catch this.
	var i8 int8
	require.NoError(t, msgpack.Unmarshal(b, &i8))
	assert.Equal(t, int8(44), i8)

	_, err = codec.Uint(codec.AppendInt(nil, -1), 64)
	require.ErrorIs(t, err, codec.ErrRange)
	assert.EqualError(t, err, "codec: -1 out of range for uint64")

	_, err = codec.Uint(marshal(t, int64(-1)), 8)
	require.ErrorIs(t, err, codec.ErrRange)

	_, err = codec.Int(codec.AppendUint(nil, math.MaxUint64), 64)
	require.ErrorIs(t, err, codec.ErrRange)
	assert.EqualError(t, err, "codec: 18446744073709551615 out of range for int64")

	_, err = codec.Uint(codec.AppendUint(nil, 256), 8)
	require.ErrorIs(t, err, codec.ErrRange)
	assert.EqualError(t, err, "codec: 256 out of range for uint8")

	_, err = codec.Int(codec.AppendInt(nil, -129), 8)
	require.ErrorIs(t, err, codec.ErrRange)
	_, err = codec.Int(codec.AppendInt(nil, 128), 8)
	require.ErrorIs(t, err, codec.ErrRange)
	_, err = codec.Int(codec.AppendInt(nil, math.MinInt32-1), 32)
	require.ErrorIs(t, err, codec.ErrRange)
	_, err = codec.Uint(codec.AppendUint(nil, math.MaxUint32+1), 32)
	require.ErrorIs(t, err, codec.ErrRange)
}

func TestIntBitSize(t *testing.T) {
	b := codec.AppendInt(nil, math.MinInt64)
	got, err := codec.Int(b, 0)
	require.NoError(t, err, "0 bits means the size of int (64-bit platform)")
	assert.Equal(t, int64(math.MinInt64), got)

	u, err := codec.Uint(codec.AppendUint(nil, math.MaxUint64), 0)
	require.NoError(t, err)
	assert.Equal(t, uint64(math.MaxUint64), u)

	for _, bits := range []int{-1, 1, 7, 24, 65, 128} {
		_, err := codec.Int(b, bits)
		require.Error(t, err, "bits %d", bits)
		assert.Contains(t, err.Error(), "invalid bit size")
		_, err = codec.Uint(b, bits)
		require.Error(t, err, "bits %d", bits)
		assert.Contains(t, err.Error(), "invalid bit size")
	}
}

func TestIntMalformed(t *testing.T) {
	tests := []struct {
		in  []byte
		msg string
	}{
		{[]byte{0x01, 0x02}, "codec: want int: 1 trailing bytes after the value"},
		{[]byte{0xff, 0x00}, "codec: want int: 1 trailing bytes after the value"},
		{[]byte{0xc0, 0x00}, "codec: want int: 1 trailing bytes after the value"},
		{[]byte{0xcc}, "codec: want int: truncated input: value needs 2 bytes, have 1"},
		{[]byte{0xcd, 0x01}, "codec: want int: truncated input: value needs 3 bytes, have 2"},
		{[]byte{0xd2, 0x01, 0x02, 0x03}, "codec: want int: truncated input: value needs 5 bytes, have 4"},
		{[]byte{0xd3}, "codec: want int: truncated input: value needs 9 bytes, have 1"},
		{append(codec.AppendInt(nil, math.MinInt64), 0, 0), "codec: want int: 2 trailing bytes after the value"},
	}
	for _, tt := range tests {
		_, err := codec.Int(tt.in, 64)
		require.ErrorIs(t, err, codec.ErrMalformed, "% x", tt.in)
		assert.EqualError(t, err, tt.msg)
		assert.Equal(t, 1, sentinels(err))

		_, err = codec.Uint(tt.in, 64)
		require.ErrorIs(t, err, codec.ErrMalformed, "% x", tt.in)
	}
}

func TestAppendIntAppends(t *testing.T) {
	buf := []byte("prefix")
	buf = codec.AppendInt(buf, -1000)
	buf = codec.AppendUint(buf, 70000)
	assert.Equal(t, "prefix", string(buf[:6]))
	got, err := codec.Int(buf[6:9], 16)
	require.NoError(t, err)
	assert.Equal(t, int64(-1000), got)
	u, err := codec.Uint(buf[9:], 32)
	require.NoError(t, err)
	assert.Equal(t, uint64(70000), u)
}
