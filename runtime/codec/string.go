package codec

import "encoding/binary"

// AppendString appends v to dst as a msgpack str (fixstr, str8, str16 or
// str32, the smallest that fits, as msgpack writes a string) and returns the
// extended buffer. The bytes of v are copied as they are; msgpack does not
// check UTF-8 either. Msgpack cannot represent a string of 2^32 bytes or
// more; the output for one is invalid, as msgpack's is.
func AppendString(dst []byte, v string) []byte {
	n := len(v)
	switch {
	case n < 32:
		dst = append(dst, cFixStr|byte(n))
	case n <= 0xff:
		dst = append(dst, cStr8, byte(n))
	case n <= 0xffff:
		dst = binary.BigEndian.AppendUint16(append(dst, cStr16), uint16(n))
	default:
		dst = binary.BigEndian.AppendUint32(append(dst, cStr32), uint32(n))
	}
	return append(dst, v...)
}

// String decodes b, which must hold exactly one msgpack str. Like msgpack,
// it also reads a bin, and msgpack nil decodes as "".
func String(b []byte) (string, error) {
	p, _, err := raw("str", b)
	if err != nil {
		return "", err
	}
	return string(p), nil
}

// AppendBytes appends v to dst as a msgpack bin (bin8, bin16 or bin32, the
// smallest that fits, as msgpack writes a []byte) and returns the extended
// buffer. A nil v is written as msgpack nil, as msgpack does; an empty
// non-nil v as an empty bin. Msgpack cannot represent 2^32 bytes or more; the
// output for such a slice is invalid, as msgpack's is.
func AppendBytes(dst []byte, v []byte) []byte {
	if v == nil {
		return append(dst, cNil)
	}
	n := len(v)
	switch {
	case n <= 0xff:
		dst = append(dst, cBin8, byte(n))
	case n <= 0xffff:
		dst = binary.BigEndian.AppendUint16(append(dst, cBin16), uint16(n))
	default:
		dst = binary.BigEndian.AppendUint32(append(dst, cBin32), uint32(n))
	}
	return append(dst, v...)
}

// Bytes decodes b, which must hold exactly one msgpack bin, and returns a
// copy of its contents that does not alias b. Like msgpack, it also reads a
// str. Msgpack nil decodes as a nil slice and an empty bin as an empty
// non-nil slice, as msgpack.Unmarshal does.
func Bytes(b []byte) ([]byte, error) {
	p, isNil, err := raw("bin", b)
	if err != nil || isNil {
		return nil, err
	}
	return append(make([]byte, 0, len(p)), p...), nil
}

// raw returns the payload of the str or bin value that b holds exactly,
// aliasing b. isNil reports msgpack nil (p is then nil).
func raw(want string, b []byte) (p []byte, isNil bool, err error) {
	if len(b) == 0 {
		return nil, false, emptyError(want)
	}
	c := b[0]
	var n uint64
	hdr := 1
	switch {
	case c >= cFixStr && c <= cFixStrMax:
		n = uint64(c & 0x1f)
	case c == cNil:
		if len(b) != 1 {
			return nil, false, sizeError(want, len(b), 1)
		}
		return nil, true, nil
	case c == cStr8 || c == cBin8:
		hdr = 2
	case c == cStr16 || c == cBin16:
		hdr = 3
	case c == cStr32 || c == cBin32:
		hdr = 5
	default:
		return nil, false, typeError(want, b)
	}
	if len(b) < hdr {
		return nil, false, sizeError(want, len(b), uint64(hdr))
	}
	switch hdr {
	case 2:
		n = uint64(b[1])
	case 3:
		n = uint64(binary.BigEndian.Uint16(b[1:]))
	case 5:
		n = uint64(binary.BigEndian.Uint32(b[1:]))
	}
	if err := checkSize(want, b, uint64(hdr)+n); err != nil {
		return nil, false, err
	}
	return b[hdr:], false, nil
}
