package codec

import (
	"encoding/binary"
	"strconv"
)

// MaxDepth is the deepest nesting of arrays and maps that [Validate]
// accepts: the top-level value is at depth 0, the values inside a
// top-level array or map at depth 1, and a value deeper than MaxDepth is
// refused, so that a decoder recursing into a validated value recurses at
// most MaxDepth+1 times.
const MaxDepth = 64

// Validate reports whether b holds exactly one complete msgpack value and
// nothing after it: nil when it does, otherwise an error wrapping
// [ErrMalformed] that names the offset and the reason.
//
// It checks structure only: the format codes, that every length a str,
// bin, ext, array or map header declares fits in the bytes that remain
// after the header (an array element or a map key or value takes at least
// one byte), and nesting up to [MaxDepth]. It does not look inside strings
// or extensions. It allocates nothing when b is valid.
//
// Validate is the guard to run before handing bytes from an untrusted
// source to a decoder that sizes its allocations from declared lengths, as
// msgpack.Unmarshal and msgpack.Decoder do: on bytes it accepts, every
// such length is at most len(b), so what the decoder allocates is linear
// in len(b) (times the size of the Go values it builds) rather than in a
// length of up to 2^32 that five hostile bytes can declare, and the
// decoder's recursion stays within MaxDepth.
func Validate(b []byte) error {
	if f := check(b, nil); f.why != "" {
		return f.err()
	}
	return nil
}

// check is Validate without the error value. When exts is not nil, it
// appends the payload of every ext value in b to *exts, in order.
func check(b []byte, exts *[]span) failure {
	sc := scanner{b: b, exts: exts}
	if end := sc.skip(0, 0); end >= 0 && end != len(b) {
		sc.fail = failure{at: end, why: whyTrailing, n: uint64(len(b) - end)}
	}
	return sc.fail
}

// span is the range b[start:end] of one ext payload.
type span struct{ start, end int }

// Reasons for refusing bytes, in [failure].
const (
	whyEmpty    = "no data"
	whyTrunc    = "truncated input"
	whyCode     = "invalid code 0xc1"
	whyDepth    = "arrays and maps nested deeper than MaxDepth"
	whyTrailing = "trailing bytes after the value"
	whyItems    = "more elements declared than bytes remain"
	whyEntries  = "more entries declared than bytes remain"
	whyPayload  = "longer payload declared than bytes remain"
)

// failure describes why skip refused its input; the zero value is
// success. It is built without allocating and turned into an error only
// when Validate returns one.
type failure struct {
	at  int    // offset of the value in error
	why string // one of the why constants
	n   uint64 // the declared count or length (or trailing byte count)
	rem int    // bytes that remain after the header
}

// errNoData is the error for empty input, made once: Reader.Reset(nil),
// which drops a Reader's bytes, allocates nothing.
var errNoData error = &codecError{kind: ErrMalformed, msg: "codec: malformed msgpack at offset 0: " + whyEmpty}

func (f failure) err() error {
	if f.why == whyEmpty {
		return errNoData
	}
	msg := "codec: malformed msgpack at offset " + strconv.Itoa(f.at) + ": " + f.why
	switch f.why {
	case whyTrailing:
		msg = "codec: malformed msgpack: " + strconv.FormatUint(f.n, 10) + " " + f.why +
			" (at offset " + strconv.Itoa(f.at) + ")"
	case whyDepth:
		msg += " (" + strconv.Itoa(MaxDepth) + ")"
	case whyItems, whyEntries, whyPayload:
		msg += " (" + strconv.FormatUint(f.n, 10) + " declared, " + strconv.Itoa(f.rem) + " bytes remain)"
	}
	return &codecError{kind: ErrMalformed, msg: msg}
}

// scanner walks the values of b. Its methods return the end offset of
// what they skipped, or -1 after recording the reason in fail.
type scanner struct {
	b    []byte
	exts *[]span // where to record ext payloads, or nil
	fail failure
}

// refuse records a failure and returns -1.
func (s *scanner) refuse(f failure) int {
	s.fail = f
	return -1
}

// skip returns the end offset of the msgpack value that starts at
// s.b[off], which is at the given nesting depth.
func (s *scanner) skip(off, depth int) int {
	b := s.b
	if off >= len(b) {
		if off == 0 {
			return s.refuse(failure{at: off, why: whyEmpty})
		}
		return s.refuse(failure{at: off, why: whyTrunc})
	}
	if depth > MaxDepth {
		return s.refuse(failure{at: off, why: whyDepth})
	}
	c := b[off]
	switch {
	case c <= cPosFixMax, c >= cNegFixMin:
		return off + 1
	case c <= cFixMapMax:
		return s.items(off, 1, 2*uint64(c&0x0f), depth, whyEntries)
	case c <= cFixArrMax:
		return s.items(off, 1, uint64(c&0x0f), depth, whyItems)
	case c <= cFixStrMax:
		return s.fixed(off, 1+int(c&0x1f))
	}
	switch c {
	case cNil, cFalse, cTrue:
		return off + 1
	case cUint8, cInt8:
		return s.fixed(off, 2)
	case cUint16, cInt16:
		return s.fixed(off, 3)
	case cFloat32, cUint32, cInt32:
		return s.fixed(off, 5)
	case cFloat64, cUint64, cInt64:
		return s.fixed(off, 9)
	case cFixExt1, cFixExt2, cFixExt4, cFixExt8, cFixExt16:
		end := s.fixed(off, 2+1<<(c-cFixExt1))
		if s.exts != nil && end >= 0 {
			*s.exts = append(*s.exts, span{off + 2, end})
		}
		return end
	case cBin8, cStr8:
		return s.sized(off, 1, 0)
	case cBin16, cStr16:
		return s.sized(off, 2, 0)
	case cBin32, cStr32:
		return s.sized(off, 4, 0)
	case cExt8, cExt16, cExt32:
		width := 1 << (c - cExt8) // 1, 2, 4
		end := s.sized(off, width, 1)
		if s.exts != nil && end >= 0 {
			*s.exts = append(*s.exts, span{off + 2 + width, end})
		}
		return end
	case cArr16, cMap16:
		if len(b)-off < 3 {
			return s.refuse(failure{at: off, why: whyTrunc})
		}
		n := uint64(binary.BigEndian.Uint16(b[off+1:]))
		if c == cMap16 {
			return s.items(off, 3, 2*n, depth, whyEntries)
		}
		return s.items(off, 3, n, depth, whyItems)
	case cArr32, cMap32:
		if len(b)-off < 5 {
			return s.refuse(failure{at: off, why: whyTrunc})
		}
		n := uint64(binary.BigEndian.Uint32(b[off+1:]))
		if c == cMap32 {
			return s.items(off, 5, 2*n, depth, whyEntries)
		}
		return s.items(off, 5, n, depth, whyItems)
	}
	return s.refuse(failure{at: off, why: whyCode}) // 0xc1 is never used
}

// fixed skips a value of n bytes at s.b[off].
func (s *scanner) fixed(off, n int) int {
	if len(s.b)-off < n {
		return s.refuse(failure{at: off, why: whyTrunc})
	}
	return off + n
}

// sized skips a str, bin or ext value at s.b[off]: format byte, a length
// of width bytes, extra bytes (the ext type) and the payload. The length
// is checked against the bytes that remain before anything else.
func (s *scanner) sized(off, width, extra int) int {
	b := s.b
	hdr := 1 + width + extra
	rem := len(b) - off - hdr
	if rem < 0 {
		return s.refuse(failure{at: off, why: whyTrunc})
	}
	var n uint64
	switch width {
	case 1:
		n = uint64(b[off+1])
	case 2:
		n = uint64(binary.BigEndian.Uint16(b[off+1:]))
	default:
		n = uint64(binary.BigEndian.Uint32(b[off+1:]))
	}
	if n > uint64(rem) {
		return s.refuse(failure{at: off, why: whyPayload, n: n, rem: rem})
	}
	return off + hdr + int(n)
}

// items skips an array or map at s.b[off] whose header takes hdr bytes
// and which holds n values (twice its entries, for a map). n is checked
// against the bytes that remain (each value takes at least one) before
// any value is read.
func (s *scanner) items(off, hdr int, n uint64, depth int, why string) int {
	rem := len(s.b) - off - hdr
	if rem < 0 {
		return s.refuse(failure{at: off, why: whyTrunc})
	}
	if n > uint64(rem) {
		if why == whyEntries {
			n /= 2
		}
		return s.refuse(failure{at: off, why: why, n: n, rem: rem})
	}
	end := off + hdr
	for range n {
		if end = s.skip(end, depth+1); end < 0 {
			return -1
		}
	}
	return end
}
