package codec

import (
	"encoding/binary"
	"math"
	"strconv"
)

// AppendInt appends v to dst in the smallest msgpack integer form
// (1, 2, 3, 5 or 9 bytes) and returns the extended buffer. Non-negative
// values use the unsigned forms, as msgpack's compact encoding does.
func AppendInt(dst []byte, v int64) []byte {
	switch {
	case v >= 0:
		return AppendUint(dst, uint64(v))
	case v >= -32:
		return append(dst, byte(v))
	case v >= math.MinInt8:
		return append(dst, cInt8, byte(v))
	case v >= math.MinInt16:
		return binary.BigEndian.AppendUint16(append(dst, cInt16), uint16(v))
	case v >= math.MinInt32:
		return binary.BigEndian.AppendUint32(append(dst, cInt32), uint32(v))
	default:
		return binary.BigEndian.AppendUint64(append(dst, cInt64), uint64(v))
	}
}

// AppendUint appends v to dst in the smallest msgpack integer form
// (1, 2, 3, 5 or 9 bytes) and returns the extended buffer.
func AppendUint(dst []byte, v uint64) []byte {
	switch {
	case v <= cPosFixMax:
		return append(dst, byte(v))
	case v <= math.MaxUint8:
		return append(dst, cUint8, byte(v))
	case v <= math.MaxUint16:
		return binary.BigEndian.AppendUint16(append(dst, cUint16), uint16(v))
	case v <= math.MaxUint32:
		return binary.BigEndian.AppendUint32(append(dst, cUint32), uint32(v))
	default:
		return binary.BigEndian.AppendUint64(append(dst, cUint64), v)
	}
}

// Int decodes b, which must hold exactly one msgpack integer in any form,
// as a signed integer of the given bit size: 8, 16, 32 or 64 (0 means the
// size of int). A value outside that size's range, including a uint64 above
// math.MaxInt64, gives an error wrapping [ErrRange]. Msgpack nil decodes as
// 0, as msgpack.Unmarshal does. Another bit size is an error that wraps no
// sentinel: it is a mistake of the caller, not of the data.
func Int(b []byte, bits int) (int64, error) {
	bits, err := bitSize("int", bits)
	if err != nil {
		return 0, err
	}
	u, neg, err := integer("int", b)
	if err != nil {
		return 0, err
	}
	if neg {
		v := int64(u)
		if bits < 64 && v < -1<<(bits-1) {
			return 0, rangeError(u, neg, "int", bits)
		}
		return v, nil
	}
	if u > 1<<(bits-1)-1 {
		return 0, rangeError(u, neg, "int", bits)
	}
	return int64(u), nil
}

// Uint decodes b, which must hold exactly one msgpack integer in any form,
// as an unsigned integer of the given bit size: 8, 16, 32 or 64 (0 means
// the size of uint). A negative value or one above that size's maximum gives
// an error wrapping [ErrRange]. Msgpack nil decodes as 0, as msgpack.Unmarshal
// does. Another bit size is an error that wraps no sentinel, as for [Int].
func Uint(b []byte, bits int) (uint64, error) {
	bits, err := bitSize("uint", bits)
	if err != nil {
		return 0, err
	}
	u, neg, err := integer("uint", b)
	if err != nil {
		return 0, err
	}
	if neg || (bits < 64 && u > 1<<bits-1) {
		return 0, rangeError(u, neg, "uint", bits)
	}
	return u, nil
}

// bitSize validates a bit size argument; 0 means the platform's int size.
func bitSize(want string, bits int) (int, error) {
	switch bits {
	case 0:
		return strconv.IntSize, nil
	case 8, 16, 32, 64:
		return bits, nil
	}
	return 0, &codecError{msg: "codec: want " + want + ": invalid bit size " + strconv.Itoa(bits)}
}

// rangeError reports that the integer (u, neg) does not fit the target.
func rangeError(u uint64, neg bool, typ string, bits int) error {
	var s string
	if neg {
		s = strconv.FormatInt(int64(u), 10)
	} else {
		s = strconv.FormatUint(u, 10)
	}
	return &codecError{kind: ErrRange, msg: "codec: " + s + " out of range for " + typ + strconv.Itoa(bits)}
}

// integer decodes b, which must hold exactly one msgpack integer in any form
// or nil (0). When neg is true the value is negative and u holds its int64
// bit pattern; otherwise u is the value.
func integer(want string, b []byte) (u uint64, neg bool, err error) {
	if len(b) == 0 {
		return 0, false, emptyError(want)
	}
	c := b[0]
	if c <= cPosFixMax {
		if len(b) != 1 {
			return 0, false, sizeError(want, len(b), 1)
		}
		return uint64(c), false, nil
	}
	if c >= cNegFixMin {
		if len(b) != 1 {
			return 0, false, sizeError(want, len(b), 1)
		}
		return uint64(int64(int8(c))), true, nil
	}
	var need uint64
	switch c {
	case cNil:
		need = 1
	case cUint8, cInt8:
		need = 2
	case cUint16, cInt16:
		need = 3
	case cUint32, cInt32:
		need = 5
	case cUint64, cInt64:
		need = 9
	default:
		return 0, false, typeError(want, b)
	}
	if err := checkSize(want, b, need); err != nil {
		return 0, false, err
	}
	var v int64
	switch c {
	case cNil:
		return 0, false, nil
	case cUint8:
		return uint64(b[1]), false, nil
	case cUint16:
		return uint64(binary.BigEndian.Uint16(b[1:])), false, nil
	case cUint32:
		return uint64(binary.BigEndian.Uint32(b[1:])), false, nil
	case cUint64:
		return binary.BigEndian.Uint64(b[1:]), false, nil
	case cInt8:
		v = int64(int8(b[1]))
	case cInt16:
		v = int64(int16(binary.BigEndian.Uint16(b[1:])))
	case cInt32:
		v = int64(int32(binary.BigEndian.Uint32(b[1:])))
	default: // cInt64
		v = int64(binary.BigEndian.Uint64(b[1:]))
	}
	return uint64(v), v < 0, nil
}
