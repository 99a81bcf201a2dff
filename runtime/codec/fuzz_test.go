package codec_test

import (
	"bytes"
	"math"
	"testing"
	"time"

	"github.com/vmihailenco/msgpack/v5"

	"github.com/sessiongen/sessiongen/runtime/codec"
)

// FuzzDecode feeds arbitrary bytes to every decoder. No decoder may panic;
// every error must wrap exactly one codec sentinel; every successful decode
// must re-encode to bytes that decode to the same value; and where codec
// accepts input, msgpack must read the same value from it.
func FuzzDecode(f *testing.F) {
	seeds := [][]byte{
		{}, {0xc0}, {0xc1}, {0xc2}, {0xc3}, {0x00}, {0x7f}, {0x80}, {0x90}, {0xe0}, {0xff},
		{0xcc}, {0xcd, 0x01}, {0xd3, 0xff}, {0xcf, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff},
		{0xca, 0x7f, 0xc0, 0, 0}, {0xd9, 0x05, 'a'}, {0xdb, 0xff, 0xff, 0xff, 0xff},
		{0xc6, 0, 0, 0, 1, 'x'}, {0xd6, 0xff}, {0xd7, 0xff, 0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0},
		{0xc7, 12, 0xff}, {0xc9, 0, 0, 0, 4, 13, 0, 0, 0, 1}, {0xd8, 0xff},
	}
	for _, v := range intCases {
		seeds = append(seeds, codec.AppendInt(nil, v.v))
	}
	for _, v := range uintCases {
		seeds = append(seeds, codec.AppendUint(nil, v.v))
	}
	for _, v := range float64Cases {
		seeds = append(seeds, codec.AppendFloat64(nil, v))
	}
	for _, v := range float32Cases {
		seeds = append(seeds, codec.AppendFloat32(nil, v))
	}
	for _, tt := range timeCases {
		seeds = append(seeds, codec.AppendTime(nil, tt.t))
	}
	seeds = append(seeds,
		codec.AppendString(nil, ""), codec.AppendString(nil, "hello"),
		codec.AppendString(nil, string(make([]byte, 40))), codec.AppendBytes(nil, []byte{1, 2, 3}),
		codec.AppendBytes(nil, []byte{}), codec.AppendBool(nil, true),
		marshal(f, int8(-3)), marshal(f, uint16(7)), marshal(f, []int{1}), marshal(f, map[string]int{}),
	)
	for _, s := range seeds {
		f.Add(s)
	}

	f.Fuzz(func(t *testing.T, b []byte) {
		checkErr := func(what string, err error) bool {
			if err == nil {
				return true
			}
			if sentinels(err) != 1 {
				t.Fatalf("%s(% x): error %q wraps %d sentinels, want 1", what, b, err, sentinels(err))
			}
			return false
		}

		if v, err := codec.Bool(b); checkErr("Bool", err) {
			if got, err := codec.Bool(codec.AppendBool(nil, v)); err != nil || got != v {
				t.Fatalf("Bool(% x) = %v, re-decoded %v, %v", b, v, got, err)
			}
			var m bool
			if err := msgpack.Unmarshal(b, &m); err != nil || m != v {
				t.Fatalf("Bool(% x) = %v, msgpack %v, %v", b, v, m, err)
			}
		}

		for _, bits := range []int{8, 16, 32, 64} {
			if v, err := codec.Int(b, bits); checkErr("Int", err) {
				if got, err := codec.Int(codec.AppendInt(nil, v), bits); err != nil || got != v {
					t.Fatalf("Int(% x, %d) = %d, re-decoded %d, %v", b, bits, v, got, err)
				}
				var m int64
				if err := msgpack.Unmarshal(b, &m); err != nil || m != v {
					t.Fatalf("Int(% x) = %d, msgpack %d, %v", b, v, m, err)
				}
			}
			if v, err := codec.Uint(b, bits); checkErr("Uint", err) {
				if got, err := codec.Uint(codec.AppendUint(nil, v), bits); err != nil || got != v {
					t.Fatalf("Uint(% x, %d) = %d, re-decoded %d, %v", b, bits, v, got, err)
				}
				var m uint64
				if err := msgpack.Unmarshal(b, &m); err != nil || m != v {
					t.Fatalf("Uint(% x) = %d, msgpack %d, %v", b, v, m, err)
				}
			}
		}

		if v, err := codec.Float32(b); checkErr("Float32", err) {
			got, err := codec.Float32(codec.AppendFloat32(nil, v))
			if err != nil || math.Float32bits(got) != math.Float32bits(v) {
				t.Fatalf("Float32(% x) = %v, re-decoded %v, %v", b, v, got, err)
			}
		}
		if v, err := codec.Float64(b); checkErr("Float64", err) {
			got, err := codec.Float64(codec.AppendFloat64(nil, v))
			if err != nil || math.Float64bits(got) != math.Float64bits(v) {
				t.Fatalf("Float64(% x) = %v, re-decoded %v, %v", b, v, got, err)
			}
			if b[0] == 0xca || b[0] == 0xcb {
				var m float64
				if err := msgpack.Unmarshal(b, &m); err != nil || math.Float64bits(m) != math.Float64bits(v) {
					t.Fatalf("Float64(% x) = %v, msgpack %v, %v", b, v, m, err)
				}
			}
		}

		if v, err := codec.String(b); checkErr("String", err) {
			if got, err := codec.String(codec.AppendString(nil, v)); err != nil || got != v {
				t.Fatalf("String(% x) = %q, re-decoded %q, %v", b, v, got, err)
			}
			var m string
			if err := msgpack.Unmarshal(b, &m); err != nil || m != v {
				t.Fatalf("String(% x) = %q, msgpack %q, %v", b, v, m, err)
			}
		}
		if v, err := codec.Bytes(b); checkErr("Bytes", err) {
			got, err := codec.Bytes(codec.AppendBytes(nil, v))
			if err != nil || !bytes.Equal(got, v) || (got == nil) != (v == nil) {
				t.Fatalf("Bytes(% x) = %q, re-decoded %q, %v", b, v, got, err)
			}
			var m []byte
			if err := msgpack.Unmarshal(b, &m); err != nil || !bytes.Equal(m, v) || (m == nil) != (v == nil) {
				t.Fatalf("Bytes(% x) = %q, msgpack %q, %v", b, v, m, err)
			}
		}

		if v, err := codec.Time(b); checkErr("Time", err) {
			if got, err := codec.Time(codec.AppendTime(nil, v)); err != nil || got != v {
				t.Fatalf("Time(% x) = %v, re-decoded %v, %v", b, v, got, err)
			}
			var m time.Time
			if err := msgpack.Unmarshal(b, &m); err != nil || m != v {
				t.Fatalf("Time(% x) = %v, msgpack %v, %v", b, v, m, err)
			}
		}
	})
}
