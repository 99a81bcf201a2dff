package codec

import (
	"encoding/binary"
	"math"
	"strconv"
)

// AppendFloat32 appends v to dst as a msgpack float 32 (5 bytes), as
// msgpack writes a float32, and returns the extended buffer.
func AppendFloat32(dst []byte, v float32) []byte {
	return binary.BigEndian.AppendUint32(append(dst, cFloat32), math.Float32bits(v))
}

// AppendFloat64 appends v to dst as a msgpack float 64 (9 bytes), as
// msgpack writes a float64, and returns the extended buffer.
func AppendFloat64(dst []byte, v float64) []byte {
	return binary.BigEndian.AppendUint64(append(dst, cFloat64), math.Float64bits(v))
}

// Float32 decodes b, which must hold exactly one msgpack number.
//
// A float 32 is read as is. A float 64 is read only when its value is
// exactly representable as a float32 (infinities and NaN included);
// otherwise the error wraps [ErrRange] (msgpack rejects every float 64 for a
// float32). An integer in any form is converted as Go converts it, rounding
// to the nearest float32, as msgpack does. Msgpack nil decodes as 0, as
// msgpack.Unmarshal does.
func Float32(b []byte) (float32, error) {
	if len(b) > 0 {
		switch b[0] {
		case cFloat32:
			if err := checkSize("float32", b, 5); err != nil {
				return 0, err
			}
			return math.Float32frombits(binary.BigEndian.Uint32(b[1:])), nil
		case cFloat64:
			if err := checkSize("float32", b, 9); err != nil {
				return 0, err
			}
			f := math.Float64frombits(binary.BigEndian.Uint64(b[1:]))
			if float64(float32(f)) != f && !math.IsNaN(f) {
				return 0, &codecError{kind: ErrRange, msg: "codec: float64 " +
					strconv.FormatFloat(f, 'g', -1, 64) + " not representable as float32"}
			}
			return float32(f), nil
		}
	}
	u, neg, err := integer("float32", b)
	if err != nil {
		return 0, err
	}
	if neg {
		return float32(int64(u)), nil
	}
	return float32(u), nil
}

// Float64 decodes b, which must hold exactly one msgpack number.
//
// A float 64 is read as is and a float 32 is widened exactly. An integer in
// any form is converted as Go converts it, rounding to the nearest float64
// beyond 2^53, as msgpack does. Msgpack nil decodes as 0, as
// msgpack.Unmarshal does.
func Float64(b []byte) (float64, error) {
	if len(b) > 0 {
		switch b[0] {
		case cFloat64:
			if err := checkSize("float64", b, 9); err != nil {
				return 0, err
			}
			return math.Float64frombits(binary.BigEndian.Uint64(b[1:])), nil
		case cFloat32:
			if err := checkSize("float64", b, 5); err != nil {
				return 0, err
			}
			return float64(math.Float32frombits(binary.BigEndian.Uint32(b[1:]))), nil
		}
	}
	u, neg, err := integer("float64", b)
	if err != nil {
		return 0, err
	}
	if neg {
		return float64(int64(u)), nil
	}
	return float64(u), nil
}
