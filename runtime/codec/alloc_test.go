package codec_test

import (
	"math"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/vmihailenco/msgpack/v5"

	"github.com/sessiongen/sessiongen/runtime/codec"
)

// TestZeroAllocs proves that the Append functions into a buffer with room,
// and the decoders of fixed-size types, allocate nothing. Allocation counts
// are deterministic, so this is a plain test.
func TestZeroAllocs(t *testing.T) {
	buf := make([]byte, 0, 128)
	str := strings.Repeat("s", 100)
	bin := []byte(str)
	tm := time.Date(2030, 1, 2, 3, 4, 5, 6, time.UTC)
	intB := codec.AppendInt(nil, math.MinInt64)
	uintB := codec.AppendUint(nil, math.MaxUint64)
	boolB := codec.AppendBool(nil, true)
	f32B := codec.AppendFloat32(nil, 1.5)
	f64B := codec.AppendFloat64(nil, 1.5)
	timeB := codec.AppendTime(nil, tm)
	time96B := codec.AppendTime(nil, time.Date(1900, 1, 2, 3, 4, 5, 6, time.UTC))
	var sink struct {
		b   []byte
		i   int64
		u   uint64
		ok  bool
		f32 float32
		f64 float64
		t   time.Time
		s   string
		err error
	}

	cases := map[string]func(){
		"AppendBool":     func() { sink.b = codec.AppendBool(buf, true) },
		"AppendNil":      func() { sink.b = codec.AppendNil(buf) },
		"AppendInt":      func() { sink.b = codec.AppendInt(buf, math.MinInt64) },
		"AppendUint":     func() { sink.b = codec.AppendUint(buf, math.MaxUint64) },
		"AppendFloat32":  func() { sink.b = codec.AppendFloat32(buf, 1.5) },
		"AppendFloat64":  func() { sink.b = codec.AppendFloat64(buf, 1.5) },
		"AppendString":   func() { sink.b = codec.AppendString(buf, str) },
		"AppendBytes":    func() { sink.b = codec.AppendBytes(buf, bin) },
		"AppendTime":     func() { sink.b = codec.AppendTime(buf, tm) },
		"Bool":           func() { sink.ok, sink.err = codec.Bool(boolB) },
		"Int":            func() { sink.i, sink.err = codec.Int(intB, 64) },
		"Int8":           func() { sink.i, sink.err = codec.Int([]byte{0xd0, 0x80}, 8) },
		"Uint":           func() { sink.u, sink.err = codec.Uint(uintB, 64) },
		"Float32":        func() { sink.f32, sink.err = codec.Float32(f32B) },
		"Float64":        func() { sink.f64, sink.err = codec.Float64(f64B) },
		"Float64 of int": func() { sink.f64, sink.err = codec.Float64(intB) },
		"Time":           func() { sink.t, sink.err = codec.Time(timeB) },
		"Time 96":        func() { sink.t, sink.err = codec.Time(time96B) },
		"String empty":   func() { sink.s, sink.err = codec.String([]byte{0xa0}) },
		"Bytes empty":    func() { sink.b, sink.err = codec.Bytes([]byte{0xc4, 0}) },
	}
	for name, fn := range cases {
		fn()
		require.NoError(t, sink.err, name)
		assert.Zero(t, testing.AllocsPerRun(100, fn), "%s allocates", name)
	}

	// String and Bytes allocate exactly the returned copy.
	assert.Equal(t, 1.0, testing.AllocsPerRun(100, func() {
		sink.s, sink.err = codec.String(codec.AppendString(buf, str))
	}))
	assert.Equal(t, 1.0, testing.AllocsPerRun(100, func() {
		sink.b, sink.err = codec.Bytes(codec.AppendBytes(buf, bin))
	}))
}

// Benchmarks: run with -benchmem; every codec benchmark reports its
// allocations.

func BenchmarkAppendInt(b *testing.B) {
	b.ReportAllocs()
	buf := make([]byte, 0, codec.MaxInt64)
	for i := 0; b.Loop(); i++ {
		buf = codec.AppendInt(buf[:0], int64(i)*-7919)
	}
}

func BenchmarkInt(b *testing.B) {
	b.ReportAllocs()
	enc := codec.AppendInt(nil, -123456789)
	for b.Loop() {
		if _, err := codec.Int(enc, 32); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkUint(b *testing.B) {
	b.ReportAllocs()
	enc := codec.AppendUint(nil, math.MaxUint64)
	for b.Loop() {
		if _, err := codec.Uint(enc, 64); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkMsgpackUnmarshalInt(b *testing.B) {
	b.ReportAllocs()
	enc := codec.AppendInt(nil, -123456789)
	var v int32
	for b.Loop() {
		if err := msgpack.Unmarshal(enc, &v); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkBool(b *testing.B) {
	b.ReportAllocs()
	buf := make([]byte, 0, 1)
	for b.Loop() {
		buf = codec.AppendBool(buf[:0], true)
		if _, err := codec.Bool(buf); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkAppendFloat64(b *testing.B) {
	b.ReportAllocs()
	buf := make([]byte, 0, codec.MaxFloat64)
	for b.Loop() {
		buf = codec.AppendFloat64(buf[:0], math.Pi)
	}
}

func BenchmarkFloat64(b *testing.B) {
	b.ReportAllocs()
	enc := codec.AppendFloat64(nil, math.Pi)
	for b.Loop() {
		if _, err := codec.Float64(enc); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkFloat32(b *testing.B) {
	b.ReportAllocs()
	enc := codec.AppendFloat32(nil, math.Pi)
	for b.Loop() {
		if _, err := codec.Float32(enc); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkAppendString(b *testing.B) {
	b.ReportAllocs()
	s := strings.Repeat("x", 64)
	buf := make([]byte, 0, codec.StringSize(len(s)))
	for b.Loop() {
		buf = codec.AppendString(buf[:0], s)
	}
}

func BenchmarkString(b *testing.B) {
	b.ReportAllocs()
	enc := codec.AppendString(nil, strings.Repeat("x", 64))
	for b.Loop() {
		if _, err := codec.String(enc); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkMsgpackUnmarshalString(b *testing.B) {
	b.ReportAllocs()
	enc := codec.AppendString(nil, strings.Repeat("x", 64))
	var s string
	for b.Loop() {
		if err := msgpack.Unmarshal(enc, &s); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkBytes(b *testing.B) {
	b.ReportAllocs()
	enc := codec.AppendBytes(nil, make([]byte, 64))
	for b.Loop() {
		if _, err := codec.Bytes(enc); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkAppendTime(b *testing.B) {
	b.ReportAllocs()
	tm := time.Date(2030, 1, 2, 3, 4, 5, 6, time.UTC)
	buf := make([]byte, 0, codec.MaxTime)
	for b.Loop() {
		buf = codec.AppendTime(buf[:0], tm)
	}
}

func BenchmarkTime(b *testing.B) {
	b.ReportAllocs()
	enc := codec.AppendTime(nil, time.Date(2030, 1, 2, 3, 4, 5, 6, time.UTC))
	for b.Loop() {
		if _, err := codec.Time(enc); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkMsgpackUnmarshalTime(b *testing.B) {
	b.ReportAllocs()
	enc := codec.AppendTime(nil, time.Date(2030, 1, 2, 3, 4, 5, 6, time.UTC))
	var tm time.Time
	for b.Loop() {
		if err := msgpack.Unmarshal(enc, &tm); err != nil {
			b.Fatal(err)
		}
	}
}
