package boltstore

import (
	"encoding/binary"
	"errors"
	"fmt"
	"time"

	"github.com/sessiongen/sessiongen/runtime/store"
)

// The value stored for one session:
//
//	format    1 byte, recordFormat
//	created   8 bytes big-endian Unix seconds, 4 bytes nanoseconds
//	expires   8 bytes big-endian Unix seconds, 4 bytes nanoseconds
//	version   8 bytes big-endian
//	owner     uvarint length, owner text ("" for none)
//	fields    repeated: uvarint key length, key, uvarint value length, value
//
// Format 1, written before sessions had versions and owners, lacks the
// version and owner; such a record reads as version 1 without an owner (no
// manager can hold a version of it, since none existed), and the first
// Update rewrites it in the current format with version 2.
//
// The expiry index key is the expires encoding above with the sign bit of
// the seconds flipped (so byte order is time order), followed by the
// session key. The owner index key is the owner's uvarint length, the
// owner, then the session key: the length prefix makes the owners'
// prefixes prefix-free, so whatever bytes an owner holds, a scan of one
// owner's prefix never reaches another owner's entries.
const (
	recordFormat   = 2
	recordFormatV1 = 1
	timeSize       = 12
	headerSizeV1   = 1 + 2*timeSize
	headerSize     = headerSizeV1 + 8 // before the owner
)

// errCorrupt reports a stored value this package cannot read.
var errCorrupt = errors.New("corrupt record")

// header is the part of a stored session before its fields.
type header struct {
	created, expires time.Time
	version          uint64
	owner            string
	// fields is the rest of the value: the encoded fields. It points into
	// the value it was decoded from.
	fields []byte
}

// live reports whether the session has not expired at now.
func (h header) live(now time.Time) bool {
	return now.Before(h.expires)
}

// encodeRecord returns the stored form of a session with header h (its
// fields slice is ignored) and the given fields.
func encodeRecord(h header, fields map[string][]byte) []byte {
	n := headerSize + binary.MaxVarintLen64 + len(h.owner)
	for k, v := range fields {
		n += 2*binary.MaxVarintLen64 + len(k) + len(v)
	}
	b := make([]byte, headerSize, n)
	b[0] = recordFormat
	putTime(b[1:], h.created)
	putTime(b[1+timeSize:], h.expires)
	binary.BigEndian.PutUint64(b[1+2*timeSize:], h.version)
	b = binary.AppendUvarint(b, uint64(len(h.owner)))
	b = append(b, h.owner...)
	for k, v := range fields {
		b = binary.AppendUvarint(b, uint64(len(k)))
		b = append(b, k...)
		b = binary.AppendUvarint(b, uint64(len(v)))
		b = append(b, v...)
	}
	return b
}

// decodeHeader returns the header of a stored session, in either format.
func decodeHeader(b []byte) (header, error) {
	if len(b) == 0 {
		return header{}, fmt.Errorf("%w: empty value", errCorrupt)
	}
	var size int
	switch b[0] {
	case recordFormat:
		size = headerSize
	case recordFormatV1:
		size = headerSizeV1
	default:
		return header{}, fmt.Errorf("%w: format %d", errCorrupt, b[0])
	}
	if len(b) < size {
		return header{}, fmt.Errorf("%w: %d bytes", errCorrupt, len(b))
	}
	var h header
	var err error
	if h.created, err = getTime(b[1:]); err != nil {
		return header{}, err
	}
	if h.expires, err = getTime(b[1+timeSize:]); err != nil {
		return header{}, err
	}
	if b[0] == recordFormatV1 {
		h.version, h.fields = 1, b[headerSizeV1:]
		return h, nil
	}
	h.version = binary.BigEndian.Uint64(b[1+2*timeSize:])
	if h.version == 0 {
		return header{}, fmt.Errorf("%w: version 0", errCorrupt)
	}
	owner, rest, err := chunk(b[headerSize:])
	if err != nil {
		return header{}, err
	}
	h.owner, h.fields = string(owner), rest
	return h, nil
}

// rangeFields calls fn for each of the encoded fields in b (a header's
// fields). The slices point into b.
func rangeFields(b []byte, fn func(k, v []byte)) error {
	for len(b) > 0 {
		k, rest, err := chunk(b)
		if err != nil {
			return err
		}
		v, rest, err := chunk(rest)
		if err != nil {
			return err
		}
		if len(k) == 0 {
			return fmt.Errorf("%w: empty field key", errCorrupt)
		}
		fn(k, v)
		b = rest
	}
	return nil
}

// decodeRecord returns a stored session as a Record that shares no memory
// with b: the values are copied into one buffer, each capped to its length.
func decodeRecord(b []byte) (store.Record, error) {
	h, err := decodeHeader(b)
	if err != nil {
		return store.Record{}, err
	}
	buf := make([]byte, 0, len(h.fields))
	fields := make(map[string][]byte)
	err = rangeFields(h.fields, func(k, v []byte) {
		start := len(buf)
		buf = append(buf, v...)
		fields[string(k)] = buf[start:len(buf):len(buf)]
	})
	if err != nil {
		return store.Record{}, err
	}
	return store.Record{
		Fields:  fields,
		Created: h.created,
		Expires: h.expires,
		Version: h.version,
		Owner:   h.owner,
	}, nil
}

// chunk splits a uvarint-length-prefixed byte string off b.
func chunk(b []byte) (s, rest []byte, err error) {
	n, w := binary.Uvarint(b)
	if w <= 0 || n > uint64(len(b)-w) {
		return nil, nil, fmt.Errorf("%w: bad length", errCorrupt)
	}
	end := w + int(n)
	return b[w:end], b[end:], nil
}

// putTime writes t into b[:timeSize].
func putTime(b []byte, t time.Time) {
	binary.BigEndian.PutUint64(b, uint64(t.Unix()))
	binary.BigEndian.PutUint32(b[8:], uint32(t.Nanosecond()))
}

// getTime reads a time written by putTime.
func getTime(b []byte) (time.Time, error) {
	sec := int64(binary.BigEndian.Uint64(b))
	nsec := binary.BigEndian.Uint32(b[8:])
	if nsec >= 1e9 {
		return time.Time{}, fmt.Errorf("%w: bad time", errCorrupt)
	}
	return time.Unix(sec, int64(nsec)), nil
}

// expiryKey returns the expiry index key of a session.
func expiryKey(expires time.Time, key string) []byte {
	b := make([]byte, timeSize, timeSize+len(key))
	putTime(b, expires)
	b[0] ^= 0x80
	return append(b, key...)
}

// parseExpiryKey splits an expiry index key.
func parseExpiryKey(b []byte) (expires time.Time, key []byte, err error) {
	if len(b) <= timeSize {
		return time.Time{}, nil, fmt.Errorf("%w: short index key", errCorrupt)
	}
	var t [timeSize]byte
	copy(t[:], b)
	t[0] ^= 0x80
	expires, err = getTime(t[:])
	return expires, b[timeSize:], err
}

// ownerPrefix returns the prefix of owner's entries in the owner index.
func ownerPrefix(owner string) []byte {
	b := make([]byte, 0, binary.MaxVarintLen64+len(owner))
	b = binary.AppendUvarint(b, uint64(len(owner)))
	return append(b, owner...)
}

// ownerKey returns the owner index key of session key of owner.
func ownerKey(owner, key string) []byte {
	return append(ownerPrefix(owner), key...)
}
