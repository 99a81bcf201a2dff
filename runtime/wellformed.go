package session

import "encoding/binary"

// maxDepth bounds the nesting of arrays and maps wellFormed accepts, so a
// hostile value cannot exhaust the stack.
const maxDepth = 64

// wellFormed reports whether b holds exactly one complete msgpack value,
// with nothing after it. It checks structure (headers, lengths, nesting)
// only, not the content of strings or extensions.
func wellFormed(b []byte) bool {
	n, ok := skipValue(b, 0)
	return ok && n == len(b)
}

// skipValue returns the length of the msgpack value at the start of b.
func skipValue(b []byte, depth int) (int, bool) {
	if len(b) == 0 || depth > maxDepth {
		return 0, false
	}
	c := b[0]
	switch {
	case c <= 0x7f, c >= 0xe0: // positive and negative fixint
		return 1, true
	case c <= 0x8f: // fixmap
		return skipItems(b, 1, 2*int(c&0x0f), depth)
	case c <= 0x9f: // fixarray
		return skipItems(b, 1, int(c&0x0f), depth)
	case c <= 0xbf: // fixstr
		return fixed(b, 1+int(c&0x1f))
	}
	switch c {
	case 0xc0, 0xc2, 0xc3: // nil, false, true
		return 1, true
	case 0xcc, 0xd0: // uint8, int8
		return fixed(b, 2)
	case 0xcd, 0xd1: // uint16, int16
		return fixed(b, 3)
	case 0xca, 0xce, 0xd2: // float32, uint32, int32
		return fixed(b, 5)
	case 0xcb, 0xcf, 0xd3: // float64, uint64, int64
		return fixed(b, 9)
	case 0xd4, 0xd5, 0xd6, 0xd7, 0xd8: // fixext 1, 2, 4, 8, 16
		return fixed(b, 2+1<<(c-0xd4))
	case 0xc4, 0xd9: // bin8, str8
		return sized(b, 1, 0)
	case 0xc5, 0xda: // bin16, str16
		return sized(b, 2, 0)
	case 0xc6, 0xdb: // bin32, str32
		return sized(b, 4, 0)
	case 0xc7: // ext8
		return sized(b, 1, 1)
	case 0xc8: // ext16
		return sized(b, 2, 1)
	case 0xc9: // ext32
		return sized(b, 4, 1)
	case 0xdc: // array16
		n, ok := count(b, 2)
		if !ok {
			return 0, false
		}
		return skipItems(b, 3, n, depth)
	case 0xdd: // array32
		n, ok := count(b, 4)
		if !ok {
			return 0, false
		}
		return skipItems(b, 5, n, depth)
	case 0xde: // map16
		n, ok := count(b, 2)
		if !ok {
			return 0, false
		}
		return skipItems(b, 3, 2*n, depth)
	case 0xdf: // map32
		n, ok := count(b, 4)
		if !ok {
			return 0, false
		}
		return skipItems(b, 5, 2*n, depth)
	}
	return 0, false // 0xc1 is never used
}

// fixed checks that b holds at least n bytes and returns n.
func fixed(b []byte, n int) (int, bool) {
	return n, len(b) >= n
}

// count reads the big-endian length of width bytes after the format byte.
func count(b []byte, width int) (int, bool) {
	if len(b) < 1+width {
		return 0, false
	}
	var n uint64
	switch width {
	case 1:
		n = uint64(b[1])
	case 2:
		n = uint64(binary.BigEndian.Uint16(b[1:]))
	default:
		n = uint64(binary.BigEndian.Uint32(b[1:]))
	}
	if n > uint64(len(b)) { // every item takes at least one byte
		return 0, false
	}
	return int(n), true
}

// sized returns the length of a str, bin or ext value: format byte, a
// length of width bytes, extra bytes (the ext type) and the payload.
func sized(b []byte, width, extra int) (int, bool) {
	n, ok := count(b, width)
	if !ok {
		return 0, false
	}
	return fixed(b, 1+width+extra+n)
}

// skipItems returns the length of a container whose header takes hdr
// bytes and which holds n values.
func skipItems(b []byte, hdr, n, depth int) (int, bool) {
	off := hdr
	if off > len(b) {
		return 0, false
	}
	for range n {
		m, ok := skipValue(b[off:], depth+1)
		if !ok {
			return 0, false
		}
		off += m
	}
	return off, true
}
