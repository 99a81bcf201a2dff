package main

import (
	"fmt"
	"math"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sessiongen/sessiongen/runtime/codec"
)

// number is a basic numeric wire type with the values at its edges.
type number struct {
	wire wireType
	// samples are stored values: the extremes and a few in between.
	samples []float64
	encode  func(v float64) []byte
	// decode decodes b as this type: ok false when it does not decode.
	decode func(b []byte) (float64, bool)
}

func intNumber(bits int) number {
	lo, hi := float64(int64(-1)<<(bits-1)), float64(int64(1)<<(bits-1)-1)
	if bits == 64 {
		lo, hi = math.MinInt64, math.MaxInt64
	}
	return number{
		wire:    wireType{Kind: "int", Bits: bits},
		samples: []float64{lo, -1, 0, 1, hi},
		encode:  func(v float64) []byte { return codec.AppendInt(nil, int64(v)) },
		decode: func(b []byte) (float64, bool) {
			x, err := codec.Int(b, bits)
			return float64(x), err == nil
		},
	}
}

func uintNumber(bits int) number {
	hi := float64(uint64(1)<<bits - 1)
	if bits == 64 {
		hi = math.MaxUint64
	}
	return number{
		wire:    wireType{Kind: "uint", Bits: bits},
		samples: []float64{0, 1, hi},
		encode:  func(v float64) []byte { return codec.AppendUint(nil, uint64(v)) },
		decode: func(b []byte) (float64, bool) {
			x, err := codec.Uint(b, bits)
			return float64(x), err == nil
		},
	}
}

// TestWidensDecodes checks the claim behind every safe numeric change:
// for each pair of numeric wire types that widens calls safe, every
// stored extreme of the old type decodes as the new type (with the
// runtime's decoders) to the same value; for each integer pair it calls
// unsafe, some extreme of the old type does not decode as the new one.
func TestWidensDecodes(t *testing.T) {
	nums := []number{
		{
			wire:    wireType{Kind: "float32"},
			samples: []float64{-math.MaxFloat32, -1.5, 0, math.SmallestNonzeroFloat32, math.MaxFloat32},
			encode:  func(v float64) []byte { return codec.AppendFloat32(nil, float32(v)) },
			decode: func(b []byte) (float64, bool) {
				x, err := codec.Float32(b)
				return float64(x), err == nil
			},
		},
		{
			wire:    wireType{Kind: "float64"},
			samples: []float64{-math.MaxFloat64, -1.5, 0, math.MaxFloat64},
			encode:  func(v float64) []byte { return codec.AppendFloat64(nil, v) },
			decode: func(b []byte) (float64, bool) {
				x, err := codec.Float64(b)
				return x, err == nil
			},
		},
	}
	for _, bits := range []int{8, 16, 32, 64} {
		nums = append(nums, intNumber(bits), uintNumber(bits))
	}
	safe := 0
	for _, o := range nums {
		for _, n := range nums {
			if o.wire.Kind == n.wire.Kind && o.wire.Bits == n.wire.Bits {
				continue
			}
			name := fmt.Sprintf("%s to %s", wireString(o.wire), wireString(n.wire))
			if widens(o.wire, n.wire) {
				safe++
				for _, v := range o.samples {
					got, ok := n.decode(o.encode(v))
					require.True(t, ok, "%s: stored %v must decode", name, v)
					assert.Equal(t, v, got, "%s: stored %v", name, v)
				}
				continue
			}
			if o.wire.Kind == "float64" || n.wire.Kind == "float32" || n.wire.Kind == "float64" {
				continue // not claimed either way: reported as retyped
			}
			fails := false
			for _, v := range o.samples {
				if got, ok := n.decode(o.encode(v)); !ok || got != v {
					fails = true
				}
			}
			assert.True(t, fails, "%s is reported as breaking, yet every extreme decodes", name)
		}
	}
	assert.Equal(t, 6+6+6+1+6, safe, "the number of safe numeric changes: int and uint widenings, uint into a wider int, float32 into float64, 8- to 32-bit integers into float64")
}
