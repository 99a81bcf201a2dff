package codec_test

import (
	"math"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/vmihailenco/msgpack/v5"

	"github.com/sessiongen/sessiongen/runtime/codec"
)

var float64Cases = []float64{
	0, math.Copysign(0, -1), 1, -1, 0.1, 1.5, -2.75, math.Pi,
	math.MaxFloat64, -math.MaxFloat64, math.SmallestNonzeroFloat64,
	math.MaxFloat32, math.SmallestNonzeroFloat32,
	1 << 53, 1<<53 + 1, 1e300, math.Inf(1), math.Inf(-1), math.NaN(),
}

var float32Cases = []float32{
	0, float32(math.Copysign(0, -1)), 1, -1, 0.1, 1.5, -2.75, math.Pi,
	math.MaxFloat32, -math.MaxFloat32, math.SmallestNonzeroFloat32,
	1 << 24, 1<<24 + 1, float32(math.Inf(1)), float32(math.Inf(-1)), float32(math.NaN()),
}

func TestFloat64RoundTrip(t *testing.T) {
	for _, v := range float64Cases {
		b := codec.AppendFloat64(nil, v)
		assert.Len(t, b, codec.MaxFloat64)
		assert.Equal(t, marshal(t, v), b, "%v: same bytes as msgpack", v)

		got, err := codec.Float64(b)
		require.NoError(t, err)
		assert.Equal(t, math.Float64bits(v), math.Float64bits(got), "%v", v)

		var viaMsgpack float64
		require.NoError(t, msgpack.Unmarshal(b, &viaMsgpack))
		assert.Equal(t, math.Float64bits(v), math.Float64bits(viaMsgpack), "%v", v)
	}
}

func TestFloat32RoundTrip(t *testing.T) {
	for _, v := range float32Cases {
		b := codec.AppendFloat32(nil, v)
		assert.Len(t, b, codec.MaxFloat32)
		assert.Equal(t, marshal(t, v), b, "%v: same bytes as msgpack", v)

		got, err := codec.Float32(b)
		require.NoError(t, err)
		assert.Equal(t, math.Float32bits(v), math.Float32bits(got), "%v", v)

		var viaMsgpack float32
		require.NoError(t, msgpack.Unmarshal(b, &viaMsgpack))
		assert.Equal(t, math.Float32bits(v), math.Float32bits(viaMsgpack), "%v", v)

		// A float 32 widens exactly into a float64, as msgpack does.
		wide, err := codec.Float64(b)
		require.NoError(t, err)
		var wideMsgpack float64
		require.NoError(t, msgpack.Unmarshal(b, &wideMsgpack))
		assert.Equal(t, math.Float64bits(wideMsgpack), math.Float64bits(wide), "%v", v)
	}
}

func TestFloat32FromFloat64(t *testing.T) {
	for _, v := range []float64{0, 1.5, -2.75, math.MaxFloat32, math.Inf(1), math.NaN(), 1 << 24} {
		got, err := codec.Float32(codec.AppendFloat64(nil, v))
		require.NoError(t, err, "%v is exactly a float32", v)
		if math.IsNaN(v) {
			assert.True(t, math.IsNaN(float64(got)))
		} else {
			assert.Equal(t, float32(v), got)
		}
	}
	for _, v := range []float64{0.1, math.Pi, math.MaxFloat64, 1<<24 + 1, math.SmallestNonzeroFloat64} {
		_, err := codec.Float32(codec.AppendFloat64(nil, v))
		require.ErrorIs(t, err, codec.ErrRange, "%v", v)
		assert.Contains(t, err.Error(), "not representable as float32")
	}

	// msgpack refuses every float 64 for a float32; codec is more lenient
	// only where no precision is lost.
	var f32 float32
	require.Error(t, msgpack.Unmarshal(codec.AppendFloat64(nil, 1.5), &f32))
}

func TestFloatFromInt(t *testing.T) {
	for _, tt := range intCases {
		b := codec.AppendInt(nil, tt.v)
		f64, err := codec.Float64(b)
		require.NoError(t, err)
		assert.Equal(t, float64(tt.v), f64, "%d", tt.v)
		f32, err := codec.Float32(b)
		require.NoError(t, err)
		assert.Equal(t, float32(tt.v), f32, "%d", tt.v)

		// msgpack converts the same way.
		var viaMsgpack float64
		require.NoError(t, msgpack.Unmarshal(b, &viaMsgpack))
		assert.Equal(t, viaMsgpack, f64, "%d", tt.v)
	}
	// Above math.MaxInt64 codec converts the unsigned value (msgpack
	// would go through int64 and turn it negative).
	f, err := codec.Float64(codec.AppendUint(nil, math.MaxUint64))
	require.NoError(t, err)
	assert.Equal(t, float64(math.MaxUint64), f)
	f32, err := codec.Float32(codec.AppendUint(nil, math.MaxUint64))
	require.NoError(t, err)
	assert.Equal(t, float32(math.MaxUint64), f32)

	f, err = codec.Float64(codec.AppendNil(nil))
	require.NoError(t, err, "nil decodes as 0, as msgpack does")
	assert.Zero(t, f)
}

func TestFloatErrors(t *testing.T) {
	tests := []struct {
		in   []byte
		kind error
		msg  string
	}{
		{codec.AppendString(nil, "1.5"), codec.ErrType, "codec: want %s, found str"},
		{codec.AppendBool(nil, true), codec.ErrType, "codec: want %s, found bool"},
		{codec.AppendTime(nil, timeZero), codec.ErrType, "codec: want %s, found timestamp"},
		{[]byte{0xca, 0, 0}, codec.ErrMalformed, "codec: want %s: truncated input: value needs 5 bytes, have 3"},
		{[]byte{0xcb, 0, 0}, codec.ErrMalformed, "codec: want %s: truncated input: value needs 9 bytes, have 3"},
		{append(codec.AppendFloat32(nil, 1), 0), codec.ErrMalformed, "codec: want %s: 1 trailing bytes after the value"},
		{append(codec.AppendFloat64(nil, 1), 0), codec.ErrMalformed, "codec: want %s: 1 trailing bytes after the value"},
	}
	for _, tt := range tests {
		_, err := codec.Float32(tt.in)
		require.ErrorIs(t, err, tt.kind, "% x", tt.in)
		assert.EqualError(t, err, sprintf(tt.msg, "float32"))
		_, err = codec.Float64(tt.in)
		require.ErrorIs(t, err, tt.kind, "% x", tt.in)
		assert.EqualError(t, err, sprintf(tt.msg, "float64"))
	}
}
