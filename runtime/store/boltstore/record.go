package boltstore

import (
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"strings"
	"time"

	"github.com/sessiongen/sessiongen/runtime/store"
)

// The value stored for one session (format 3):
//
//	format    1 byte, recordFormat
//	created   8 bytes big-endian Unix seconds, 4 bytes nanoseconds
//	expires   8 bytes big-endian Unix seconds, 4 bytes nanoseconds
//	version   8 bytes big-endian
//	owner     uvarint length, owner text ("" for none)
//	fields    repeated: uvarint key length, key, uvarint value length, value
//	checksum  4 bytes big-endian CRC-32C (Castagnoli) of all the bytes
//	          before it
//
// Older formats still read: format 2 is format 3 without the checksum,
// and format 1, written before sessions had versions and owners, also
// lacks the version and owner. A format 1 record reads as version 1
// without an owner (no manager can hold a version of it, since none
// existed). The first Update rewrites an old record in format 3.
//
// # Reading stored bytes
//
// A record is checked whole before anything is allocated for it: the
// checksum (format 3), the format byte, both times (nanoseconds below
// 1e9, years 1 to 9999, the range Create accepts), the version (not 0,
// top bit clear, so an Update cannot wrap it), and every length, each
// against the bytes that remain, with no empty field key. Nothing nests.
// Only then are the owner, one buffer for all keys, one for all values
// and a map of exactly the field count allocated: at most about
// 40 bytes of map per field besides a copy of the bytes, and a field takes
// at least 3 stored bytes. A format 1 or 2 record (no checksum) cut at a
// field boundary, or holding plausible but wrong times, cannot be told
// from a good one; a format 3 record can.
//
// The expiry index key is the expires encoding above with the sign bit of
// the seconds flipped (so byte order is time order), followed by the
// session key. The owner index key is the owner's uvarint length, the
// owner, then the session key: the length prefix makes the owners'
// prefixes prefix-free, so whatever bytes an owner holds, a scan of one
// owner's prefix never reaches another owner's entries.
const (
	recordFormat   = 3
	recordFormatV2 = 2
	recordFormatV1 = 1
	timeSize       = 12
	headerSizeV1   = 1 + 2*timeSize
	headerSize     = headerSizeV1 + 8 // before the owner
	checksumSize   = 4
)

// Bounds of what a record may hold.
var (
	// minUnix and maxUnix bound the seconds of a stored time: from the
	// zero time (year 1) to the end of year 9999.
	minUnix = time.Time{}.Unix()
	maxUnix = time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC).Unix()
)

// maxVersion is the first version a record may not hold.
const maxVersion = 1 << 63

// castagnoli is the CRC-32C table of the record checksum.
var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// header is the part of a stored session before its fields, and what a
// check of the fields learnt.
type header struct {
	created, expires time.Time
	version          uint64
	owner            string
	// fields is the rest of the value: the encoded fields, without the
	// checksum. It points into the value it was decoded from.
	fields []byte
	// nfields, keyBytes and valueBytes are the number of encoded fields
	// and the sum of their key and of their value lengths.
	nfields, keyBytes, valueBytes int
}

// live reports whether the session has not expired at now.
func (h header) live(now time.Time) bool {
	return now.Before(h.expires)
}

// validTime reports whether t can be stored: its year is 1 to 9999.
func validTime(t time.Time) bool {
	s := t.Unix()
	return s >= minUnix && s < maxUnix
}

// encodeRecord returns the stored form (format 3) of a session with
// header h (its fields and counts are ignored) and the given fields. The
// result shares no memory with fields. Its times must be valid
// ([validTime]) and its version below maxVersion.
func encodeRecord(h header, fields map[string][]byte) []byte {
	n := headerSize + binary.MaxVarintLen64 + len(h.owner) + checksumSize
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
	return binary.BigEndian.AppendUint32(b, crc32.Checksum(b, castagnoli))
}

// decodeHeader checks a stored session whole, in any format, and returns
// its header. It allocates nothing but the owner (and an error).
func decodeHeader(b []byte) (header, error) {
	if len(b) == 0 {
		return header{}, fmt.Errorf("%w: empty value", store.ErrCorrupt)
	}
	var size int
	switch b[0] {
	case recordFormat:
		if len(b) < headerSize+1+checksumSize {
			return header{}, fmt.Errorf("%w: %d bytes", store.ErrCorrupt, len(b))
		}
		body := b[:len(b)-checksumSize]
		if crc32.Checksum(body, castagnoli) != binary.BigEndian.Uint32(b[len(body):]) {
			return header{}, fmt.Errorf("%w: checksum mismatch", store.ErrCorrupt)
		}
		b, size = body, headerSize
	case recordFormatV2:
		size = headerSize
	case recordFormatV1:
		size = headerSizeV1
	default:
		return header{}, fmt.Errorf("%w: format %d", store.ErrCorrupt, b[0])
	}
	if len(b) < size {
		return header{}, fmt.Errorf("%w: %d bytes", store.ErrCorrupt, len(b))
	}
	var h header
	var err error
	if h.created, err = getTime(b[1:]); err != nil {
		return header{}, err
	}
	if h.expires, err = getTime(b[1+timeSize:]); err != nil {
		return header{}, err
	}
	h.version, h.fields = 1, b[headerSizeV1:]
	if b[0] != recordFormatV1 {
		h.version = binary.BigEndian.Uint64(b[1+2*timeSize:])
		if h.version == 0 || h.version >= maxVersion {
			return header{}, fmt.Errorf("%w: version %d", store.ErrCorrupt, h.version)
		}
		owner, rest, err := chunk(b[headerSize:])
		if err != nil {
			return header{}, err
		}
		h.fields = rest
		if len(owner) > 0 {
			h.owner = string(owner)
		}
	}
	err = rangeFields(h.fields, func(k, v []byte) {
		h.nfields++
		h.keyBytes += len(k)
		h.valueBytes += len(v)
	})
	if err != nil {
		return header{}, err
	}
	return h, nil
}

// rangeFields calls fn for each of the encoded fields in b (a header's
// fields), or returns an error for the first malformed one; it may have
// called fn for the fields before it. The slices point into b.
func rangeFields(b []byte, fn func(k, v []byte)) error {
	for len(b) > 0 {
		k, rest, err := chunk(b)
		if err != nil {
			return err
		}
		if len(k) == 0 {
			return fmt.Errorf("%w: empty field key", store.ErrCorrupt)
		}
		v, rest, err := chunk(rest)
		if err != nil {
			return err
		}
		fn(k, v)
		b = rest
	}
	return nil
}

// fieldMap returns the fields of h as a map whose values point into the
// value h was decoded from (valid only as long as it is).
func (h header) fieldMap() map[string][]byte {
	fields := make(map[string][]byte, h.nfields)
	// decodeHeader checked the fields already.
	_ = rangeFields(h.fields, func(k, v []byte) { fields[string(k)] = v })
	return fields
}

// decodeRecord returns a stored session as a Record that shares no memory
// with b: the keys are cut from one string and the values from one
// buffer, each value capped to its length.
func decodeRecord(b []byte) (store.Record, error) {
	h, err := decodeHeader(b)
	if err != nil {
		return store.Record{}, err
	}
	var keys strings.Builder
	keys.Grow(h.keyBytes)
	values := make([]byte, 0, h.valueBytes)
	fields := make(map[string][]byte, h.nfields)
	// decodeHeader checked the fields, and the buffers are sized for
	// them, so neither moves: keys written earlier stay where they are.
	_ = rangeFields(h.fields, func(k, v []byte) {
		start := keys.Len()
		keys.Write(k)
		vstart := len(values)
		values = append(values, v...)
		fields[keys.String()[start:]] = values[vstart:len(values):len(values)]
	})
	return store.Record{
		Fields:  fields,
		Created: h.created,
		Expires: h.expires,
		Version: h.version,
		Owner:   h.owner,
	}, nil
}

// chunk splits a uvarint-length-prefixed byte string off b, checking the
// length against the bytes that remain.
func chunk(b []byte) (s, rest []byte, err error) {
	n, w := binary.Uvarint(b)
	if w <= 0 || n > uint64(len(b)-w) {
		return nil, nil, fmt.Errorf("%w: bad length", store.ErrCorrupt)
	}
	end := w + int(n)
	return b[w:end], b[end:], nil
}

// putTime writes t into b[:timeSize].
func putTime(b []byte, t time.Time) {
	binary.BigEndian.PutUint64(b, uint64(t.Unix()))
	binary.BigEndian.PutUint32(b[8:], uint32(t.Nanosecond()))
}

// getTime reads a time written by putTime, refusing one putTime of a
// valid time ([validTime]) cannot have written.
func getTime(b []byte) (time.Time, error) {
	sec := int64(binary.BigEndian.Uint64(b))
	nsec := binary.BigEndian.Uint32(b[8:])
	if nsec >= 1e9 || sec < minUnix || sec >= maxUnix {
		return time.Time{}, fmt.Errorf("%w: bad time", store.ErrCorrupt)
	}
	return time.Unix(sec, int64(nsec)), nil
}

// expiryKey returns the expiry index key of a session.
func expiryKey(expires time.Time, key string) []byte {
	b := make([]byte, timeSize, timeSize+len(key))
	putTime(b, expires)
	return rawExpiryKey(b, key)
}

// rawExpiryKey returns the expiry index key of a session whose expires
// is stored as raw (timeSize bytes, as putTime writes them).
func rawExpiryKey(raw []byte, key string) []byte {
	b := make([]byte, timeSize, timeSize+len(key))
	copy(b, raw)
	b[0] ^= 0x80
	return append(b, key...)
}

// parseExpiryKey splits an expiry index key.
func parseExpiryKey(b []byte) (expires time.Time, key []byte, err error) {
	if len(b) <= timeSize {
		return time.Time{}, nil, fmt.Errorf("%w: short index key", store.ErrCorrupt)
	}
	var t [timeSize]byte
	copy(t[:], b)
	t[0] ^= 0x80
	expires, err = getTime(t[:])
	return expires, b[timeSize:], err
}

// indexKeys returns the index entries that the stored value v of session
// key may have, read from where the formats put them, whether or not v
// is readable: its expiry entry when v holds the expires bytes, and its
// owner entry when v holds an owner where formats 2 and 3 put one. The
// keys are copies. Every one ends in key, so deleting them can only
// remove entries of this session.
func indexKeys(key string, v []byte) (expiry, owner []byte) {
	if len(v) >= 1+2*timeSize {
		expiry = rawExpiryKey(v[1+timeSize:1+2*timeSize], key)
	}
	if len(v) > headerSize && v[0] != recordFormatV1 {
		if o, _, err := chunk(v[headerSize:]); err == nil && len(o) > 0 {
			owner = ownerKey(string(o), key)
		}
	}
	return expiry, owner
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
