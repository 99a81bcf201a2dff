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
//	version   1 byte, recordVersion
//	created   8 bytes big-endian Unix seconds, 4 bytes nanoseconds
//	expires   8 bytes big-endian Unix seconds, 4 bytes nanoseconds
//	fields    repeated: uvarint key length, key, uvarint value length, value
//
// The expiry index key is the expires encoding above with the sign bit of
// the seconds flipped (so byte order is time order), followed by the
// session key.
const (
	recordVersion = 1
	timeSize      = 12
	headerSize    = 1 + 2*timeSize
)

// errCorrupt reports a stored value this package cannot read.
var errCorrupt = errors.New("corrupt record")

// encodeRecord returns the stored form of a session.
func encodeRecord(fields map[string][]byte, created, expires time.Time) []byte {
	n := headerSize
	for k, v := range fields {
		n += 2*binary.MaxVarintLen64 + len(k) + len(v)
	}
	b := make([]byte, headerSize, n)
	b[0] = recordVersion
	putTime(b[1:], created)
	putTime(b[1+timeSize:], expires)
	for k, v := range fields {
		b = binary.AppendUvarint(b, uint64(len(k)))
		b = append(b, k...)
		b = binary.AppendUvarint(b, uint64(len(v)))
		b = append(b, v...)
	}
	return b
}

// decodeHeader returns the times of a stored session.
func decodeHeader(b []byte) (created, expires time.Time, err error) {
	if len(b) < headerSize {
		return time.Time{}, time.Time{}, fmt.Errorf("%w: %d bytes", errCorrupt, len(b))
	}
	if b[0] != recordVersion {
		return time.Time{}, time.Time{}, fmt.Errorf("%w: version %d", errCorrupt, b[0])
	}
	created, err = getTime(b[1:])
	if err != nil {
		return time.Time{}, time.Time{}, err
	}
	expires, err = getTime(b[1+timeSize:])
	return created, expires, err
}

// rangeFields calls fn for each field of a stored session. The slices
// point into b.
func rangeFields(b []byte, fn func(k, v []byte)) error {
	b = b[headerSize:]
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
	created, expires, err := decodeHeader(b)
	if err != nil {
		return store.Record{}, err
	}
	buf := make([]byte, 0, len(b)-headerSize)
	fields := make(map[string][]byte)
	err = rangeFields(b, func(k, v []byte) {
		start := len(buf)
		buf = append(buf, v...)
		fields[string(k)] = buf[start:len(buf):len(buf)]
	})
	if err != nil {
		return store.Record{}, err
	}
	return store.Record{Fields: fields, Created: created, Expires: expires}, nil
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
