// Package codec is a small, reflection-free msgpack codec for the value types
// a session holds most often: bool, signed and unsigned integers, float32,
// float64, string, []byte and time.Time.
//
// It serves the session runtime's typed fast path (session.Value[T] for these
// types) and the accessors written by the sessiongen generator. It is for
// generated code and usable by anyone.
//
// # Compatibility
//
// The bytes are those of github.com/vmihailenco/msgpack/v5: msgpack.Unmarshal
// reads what this package writes into the same Go type, and the decoders here
// read what msgpack.Marshal writes for that type.
//
//   - Integers are written in the smallest msgpack form (msgpack's compact
//     form). Every decoder of integers accepts every msgpack integer form
//     (positive and negative fixint, int8..int64, uint8..uint64), so the
//     fixed-width forms msgpack.Marshal writes for int8..int64 and
//     uint8..uint64 are read too.
//   - float32 is always written as msgpack float 32, float64 as float 64.
//   - A string is written as str (fixstr, str8, str16, str32), a []byte as
//     bin (bin8, bin16, bin32) and a nil []byte as nil, exactly as msgpack
//     does. Like msgpack, [String] also reads bin and [Bytes] also reads str.
//   - A time.Time is written as the msgpack timestamp extension (type -1) in
//     its 4, 8 or 12 byte layout, chosen as msgpack/v5 chooses it. [Time]
//     returns what msgpack.Unmarshal returns: the instant in [time.Local],
//     except the zero time, which is returned in UTC.
//
// # Decoding rules
//
// Each decoder takes the encoded bytes of exactly one value. Empty input,
// truncated input and bytes left over after the value are errors wrapping
// [ErrMalformed]; the decoders never panic on any input.
//
// A value of another msgpack type gives an error wrapping [ErrType] whose
// message names the type found, e.g. "codec: want int, found str".
//
// Narrow integers are range-checked: Int(b, 8) of a stored 300 fails with an
// error wrapping [ErrRange], where msgpack would silently give 44; Uint of a
// negative value fails the same way.
//
// Like msgpack.Unmarshal, msgpack nil decodes to the zero value without error
// for every type here except time.Time (msgpack rejects nil for a time too):
// false, 0, "" and a nil []byte. Use [IsNil] to tell a stored nil apart.
//
// Deviations from msgpack.Unmarshal:
//   - integer range checks, as above;
//   - [Float32] reads a float 64 only when its value is exactly representable
//     as a float32 (or is NaN); otherwise it fails with [ErrRange], where
//     msgpack rejects every float 64 for a float32;
//   - integers decoded as floats are converted with Go's conversion
//     (rounding to nearest), including uint64 values above math.MaxInt64,
//     which msgpack turns negative;
//   - [Time] rejects a timestamp whose nanoseconds exceed 999999999 (the
//     msgpack specification forbids it) and one whose seconds time.Time
//     cannot hold; it does not read the legacy forms msgpack also reads
//     (a [seconds, nanoseconds] array and an RFC 3339 string); it reads
//     extension type 13 as a timestamp, as msgpack does.
//
// # Untrusted input
//
// Stored bytes are data, not trusted code. The decoders here check every
// declared length against the bytes that remain before they copy anything,
// so no input makes them allocate more than its own size. For values they
// do not decode (slices, maps, structs), [Validate] checks structure
// (declared lengths against the remaining bytes, nesting up to [MaxDepth])
// without allocating, and a [Reader] over validated bytes keeps
// msgpack.Decoder from reading inside ext payloads, which Validate cannot
// vouch for: together they bound what msgpack allocates by a multiple of
// the input's size, and its recursion by MaxDepth.
//
// # Sizes and allocations
//
// The Max* constants and the *Size functions give the worst-case encoded size
// of a value, for budgeting a session's size before any value exists.
//
// The Append functions allocate nothing when dst has room for the value; the
// decoders of bool, integers, floats and time allocate nothing. [String] and
// [Bytes] allocate the returned copy.
package codec

import (
	"errors"
	"strconv"
)

// Errors wrapped by every decoding error; test them with [errors.Is].
var (
	// ErrType reports encoded bytes that hold a msgpack type the decoder does
	// not read, e.g. a string where an integer is wanted.
	ErrType = errors.New("codec: wrong msgpack type")
	// ErrRange reports a value of the right msgpack type that the target Go
	// type cannot hold, e.g. 300 for an int8 or -1 for a uint.
	ErrRange = errors.New("codec: value out of range")
	// ErrMalformed reports bytes that are not exactly one well-formed msgpack
	// value: empty or truncated input, trailing bytes, or an invalid
	// timestamp.
	ErrMalformed = errors.New("codec: malformed msgpack")
)

// Worst-case encoded sizes, in bytes, of one value of each fixed-size type.
const (
	// MaxBool is the encoded size of a bool.
	MaxBool = 1
	// MaxNil is the encoded size of nil.
	MaxNil = 1
	// MaxInt8 is the worst-case encoded size of an int8.
	MaxInt8 = 2
	// MaxInt16 is the worst-case encoded size of an int16.
	MaxInt16 = 3
	// MaxInt32 is the worst-case encoded size of an int32.
	MaxInt32 = 5
	// MaxInt64 is the worst-case encoded size of an int64.
	MaxInt64 = 9
	// MaxInt is the worst-case encoded size of an int on any platform.
	MaxInt = MaxInt64
	// MaxUint8 is the worst-case encoded size of a uint8.
	MaxUint8 = 2
	// MaxUint16 is the worst-case encoded size of a uint16.
	MaxUint16 = 3
	// MaxUint32 is the worst-case encoded size of a uint32.
	MaxUint32 = 5
	// MaxUint64 is the worst-case encoded size of a uint64.
	MaxUint64 = 9
	// MaxUint is the worst-case encoded size of a uint or uintptr on any
	// platform.
	MaxUint = MaxUint64
	// MaxFloat32 is the encoded size of a float32.
	MaxFloat32 = 5
	// MaxFloat64 is the encoded size of a float64.
	MaxFloat64 = 9
	// MaxTime is the worst-case encoded size of a time.Time (ext8 header,
	// type, 12 bytes of timestamp).
	MaxTime = 15
)

// msgpack format codes.
const (
	cPosFixMax = 0x7f
	cFixMap    = 0x80
	cFixMapMax = 0x8f
	cFixArr    = 0x90
	cFixArrMax = 0x9f
	cFixStr    = 0xa0
	cFixStrMax = 0xbf
	cNil       = 0xc0
	cNever     = 0xc1
	cFalse     = 0xc2
	cTrue      = 0xc3
	cBin8      = 0xc4
	cBin16     = 0xc5
	cBin32     = 0xc6
	cExt8      = 0xc7
	cExt16     = 0xc8
	cExt32     = 0xc9
	cFloat32   = 0xca
	cFloat64   = 0xcb
	cUint8     = 0xcc
	cUint16    = 0xcd
	cUint32    = 0xce
	cUint64    = 0xcf
	cInt8      = 0xd0
	cInt16     = 0xd1
	cInt32     = 0xd2
	cInt64     = 0xd3
	cFixExt1   = 0xd4
	cFixExt2   = 0xd5
	cFixExt4   = 0xd6
	cFixExt8   = 0xd7
	cFixExt16  = 0xd8
	cStr8      = 0xd9
	cStr16     = 0xda
	cStr32     = 0xdb
	cArr16     = 0xdc
	cArr32     = 0xdd
	cMap16     = 0xde
	cMap32     = 0xdf
	cNegFixMin = 0xe0
)

// StringSize returns the worst-case encoded size of a string of n bytes:
// the str header msgpack uses for that length plus n. A negative n counts
// as 0.
func StringSize(n int) int {
	switch {
	case n < 0:
		return 1
	case n < 32:
		return 1 + n
	case n <= 0xff:
		return 2 + n
	case n <= 0xffff:
		return 3 + n
	default:
		return 5 + n
	}
}

// BytesSize returns the worst-case encoded size of a []byte of n bytes: the
// bin header msgpack uses for that length plus n. A nil slice encodes as nil
// (1 byte), which BytesSize(0) (2, an empty bin8) covers. A negative n counts
// as 0.
func BytesSize(n int) int {
	switch {
	case n < 0:
		return 2
	case n <= 0xff:
		return 2 + n
	case n <= 0xffff:
		return 3 + n
	default:
		return 5 + n
	}
}

// ArrayHeaderSize returns the encoded size of the header of a msgpack array
// of n elements, as msgpack writes it for a slice or array (the elements
// are not included). A negative n counts as 0.
func ArrayHeaderSize(n int) int {
	return containerHeaderSize(n)
}

// MapHeaderSize returns the encoded size of the header of a msgpack map of
// n entries, as msgpack writes it for a Go map (the keys and values are not
// included). A negative n counts as 0.
func MapHeaderSize(n int) int {
	return containerHeaderSize(n)
}

func containerHeaderSize(n int) int {
	switch {
	case n < 16:
		return 1
	case n <= 0xffff:
		return 3
	default:
		return 5
	}
}

// AppendNil appends msgpack nil to dst and returns the extended buffer.
func AppendNil(dst []byte) []byte {
	return append(dst, cNil)
}

// IsNil reports whether b is exactly one msgpack nil.
func IsNil(b []byte) bool {
	return len(b) == 1 && b[0] == cNil
}

// AppendBool appends v to dst as msgpack true or false and returns the
// extended buffer.
func AppendBool(dst []byte, v bool) []byte {
	if v {
		return append(dst, cTrue)
	}
	return append(dst, cFalse)
}

// Bool decodes b, which must hold exactly one msgpack bool. Msgpack nil
// decodes as false, as msgpack.Unmarshal does.
func Bool(b []byte) (bool, error) {
	if len(b) != 1 {
		if len(b) == 0 {
			return false, emptyError("bool")
		}
		switch b[0] {
		case cNil, cFalse, cTrue:
			return false, sizeError("bool", len(b), 1)
		}
		return false, typeError("bool", b)
	}
	switch b[0] {
	case cTrue:
		return true, nil
	case cFalse, cNil:
		return false, nil
	}
	return false, typeError("bool", b)
}

// codecError is every error the decoders return: a message and the sentinel
// it wraps.
type codecError struct {
	kind error
	msg  string
}

func (e *codecError) Error() string { return e.msg }

func (e *codecError) Unwrap() error { return e.kind }

// typeError reports that b holds another msgpack type than want.
func typeError(want string, b []byte) error {
	return &codecError{kind: ErrType, msg: "codec: want " + want + ", found " + TypeName(b)}
}

// emptyError reports empty input.
func emptyError(want string) error {
	return &codecError{kind: ErrMalformed, msg: "codec: want " + want + ", found no data"}
}

// sizeError reports input of have bytes where the value read needs exactly
// need: truncated input or trailing bytes.
func sizeError(want string, have int, need uint64) error {
	if uint64(have) < need {
		return &codecError{kind: ErrMalformed, msg: "codec: want " + want + ": truncated input: value needs " +
			strconv.FormatUint(need, 10) + " bytes, have " + strconv.Itoa(have)}
	}
	return &codecError{kind: ErrMalformed, msg: "codec: want " + want + ": " +
		strconv.FormatUint(uint64(have)-need, 10) + " trailing bytes after the value"}
}

// checkSize returns nil when b is exactly need bytes long and a sizeError
// otherwise.
func checkSize(want string, b []byte, need uint64) error {
	if uint64(len(b)) == need {
		return nil
	}
	return sizeError(want, len(b), need)
}

// TypeName names the msgpack type whose encoding starts b, for messages:
// "int", "str", "bin", "array", "map", "timestamp"... ("no data" for an
// empty b).
func TypeName(b []byte) string {
	if len(b) == 0 {
		return "no data"
	}
	c := b[0]
	switch {
	case c <= cPosFixMax || c >= cNegFixMin:
		return "int"
	case c <= cFixMapMax:
		return "map"
	case c <= cFixArrMax:
		return "array"
	case c <= cFixStrMax:
		return "str"
	}
	switch c {
	case cNil:
		return "nil"
	case cFalse, cTrue:
		return "bool"
	case cBin8, cBin16, cBin32:
		return "bin"
	case cFloat32:
		return "float32"
	case cFloat64:
		return "float64"
	case cUint8, cUint16, cUint32, cUint64, cInt8, cInt16, cInt32, cInt64:
		return "int"
	case cStr8, cStr16, cStr32:
		return "str"
	case cArr16, cArr32:
		return "array"
	case cMap16, cMap32:
		return "map"
	case cExt8, cExt16, cExt32, cFixExt1, cFixExt2, cFixExt4, cFixExt8, cFixExt16:
		_, typ, _, ok := extHeader(b)
		if !ok {
			return "ext"
		}
		if typ == timeExtType {
			return "timestamp"
		}
		return "ext type " + strconv.Itoa(int(typ))
	}
	return "invalid code 0x" + strconv.FormatUint(uint64(c), 16)
}
