package codec

import (
	"encoding/binary"
	"math"
	"strconv"
	"time"
)

// timeExtType is the msgpack extension type of a timestamp.
const timeExtType int8 = -1

// timeExtByte is timeExtType as it is written.
const timeExtByte byte = 0xff

// nodeTimeExtType is the extension type some Node.js encoders use for a
// timestamp; msgpack/v5 reads it as one, and so does [Time].
const nodeTimeExtType int8 = 13

// unixToInternal is the offset, in seconds, from time.Time's internal epoch
// (January 1, year 1) to the Unix epoch. A Unix second above
// math.MaxInt64-unixToInternal does not fit a time.Time.
const unixToInternal int64 = (1969*365 + 1969/4 - 1969/100 + 1969/400) * 24 * 60 * 60

// AppendTime appends t to dst as a msgpack timestamp (extension type -1) and
// returns the extended buffer. The layout is the one msgpack/v5 writes:
// timestamp 32 (fixext4, 6 bytes) for whole seconds in [0, 2^32), timestamp
// 64 (fixext8, 10 bytes) for seconds in [0, 2^34), timestamp 96 (ext8 with
// 12 bytes, 15 bytes in all) otherwise. The location and monotonic reading
// of t are not encoded.
func AppendTime(dst []byte, t time.Time) []byte {
	secs := uint64(t.Unix())
	nsec := uint64(t.Nanosecond())
	if secs>>34 == 0 {
		data := nsec<<34 | secs
		if data>>32 == 0 {
			dst = append(dst, cFixExt4, timeExtByte)
			return binary.BigEndian.AppendUint32(dst, uint32(data))
		}
		dst = append(dst, cFixExt8, timeExtByte)
		return binary.BigEndian.AppendUint64(dst, data)
	}
	dst = append(dst, cExt8, 12, timeExtByte)
	dst = binary.BigEndian.AppendUint32(dst, uint32(nsec))
	return binary.BigEndian.AppendUint64(dst, secs)
}

// Time decodes b, which must hold exactly one msgpack timestamp: extension
// type -1 (or 13, as msgpack/v5 also accepts) with 4, 8 or 12 bytes of data,
// under any ext header. Like msgpack.Unmarshal it returns the instant in
// [time.Local], except the zero time, which it returns in UTC.
//
// Nanoseconds above 999999999, a seconds value time.Time cannot hold and any
// other data length give an error wrapping [ErrMalformed] or [ErrRange];
// msgpack nil and every other type give an error wrapping [ErrType].
func Time(b []byte) (time.Time, error) {
	const want = "timestamp"
	if len(b) == 0 {
		return time.Time{}, emptyError(want)
	}
	n, typ, hdr, ok := extHeader(b)
	if !ok {
		if h := extHeaderLen(b[0]); h > 0 {
			return time.Time{}, sizeError(want, len(b), uint64(h))
		}
		return time.Time{}, typeError(want, b)
	}
	if typ != timeExtType && typ != nodeTimeExtType {
		return time.Time{}, typeError(want, b)
	}
	if err := checkSize(want, b, uint64(hdr)+n); err != nil {
		return time.Time{}, err
	}
	p := b[hdr:]
	var sec int64
	var nsec uint64
	switch len(p) {
	case 4:
		sec = int64(binary.BigEndian.Uint32(p))
	case 8:
		v := binary.BigEndian.Uint64(p)
		nsec = v >> 34
		sec = int64(v & (1<<34 - 1))
	case 12:
		nsec = uint64(binary.BigEndian.Uint32(p))
		sec = int64(binary.BigEndian.Uint64(p[4:]))
	default:
		return time.Time{}, &codecError{kind: ErrMalformed,
			msg: "codec: want timestamp: invalid data length " + strconv.Itoa(len(p))}
	}
	if nsec > 999999999 {
		return time.Time{}, &codecError{kind: ErrMalformed,
			msg: "codec: want timestamp: nanoseconds " + strconv.FormatUint(nsec, 10) + " above 999999999"}
	}
	if sec > math.MaxInt64-unixToInternal {
		return time.Time{}, &codecError{kind: ErrRange,
			msg: "codec: timestamp seconds " + strconv.FormatInt(sec, 10) + " out of range for time.Time"}
	}
	t := time.Unix(sec, int64(nsec))
	if t.IsZero() {
		// As msgpack: the zero time carries no location.
		return t.UTC(), nil
	}
	return t, nil
}

// extHeaderLen is the header size (type byte included) of an ext value
// starting with code c, or 0 when c starts no ext value.
func extHeaderLen(c byte) int {
	switch c {
	case cFixExt1, cFixExt2, cFixExt4, cFixExt8, cFixExt16:
		return 2
	case cExt8:
		return 3
	case cExt16:
		return 4
	case cExt32:
		return 6
	}
	return 0
}

// extHeader parses the header of the ext value starting b. It returns the
// data length, the ext type and the header size; ok is false when b does
// not start with a complete ext header.
func extHeader(b []byte) (n uint64, typ int8, hdr int, ok bool) {
	if len(b) == 0 {
		return 0, 0, 0, false
	}
	hdr = extHeaderLen(b[0])
	if hdr == 0 || len(b) < hdr {
		return 0, 0, 0, false
	}
	switch b[0] {
	case cFixExt1:
		n = 1
	case cFixExt2:
		n = 2
	case cFixExt4:
		n = 4
	case cFixExt8:
		n = 8
	case cFixExt16:
		n = 16
	case cExt8:
		n = uint64(b[1])
	case cExt16:
		n = uint64(binary.BigEndian.Uint16(b[1:]))
	default: // cExt32
		n = uint64(binary.BigEndian.Uint32(b[1:]))
	}
	return n, int8(b[hdr-1]), hdr, true
}
