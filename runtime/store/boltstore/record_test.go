package boltstore

import (
	"bytes"
	"encoding/binary"
	"hash/crc32"
	"runtime"
	"sort"
	"testing"
	"time"

	"github.com/sessiongen/sessiongen/runtime/store"
	"github.com/stretchr/testify/require"
)

func TestRecordRoundTrip(t *testing.T) {
	times := []time.Time{
		{},
		time.Unix(0, 0),
		time.Unix(-1, 999_999_999),
		time.Date(1900, 1, 1, 0, 0, 0, 1, time.UTC),
		time.Now(),
		time.Date(9999, 12, 31, 22, 59, 59, 999_999_999, time.UTC), // expires at the last instant allowed
	}
	fields := map[string][]byte{
		"a": {}, "binary": {0, 0xff, 0}, "ключ": []byte("значение"),
		string(bytes.Repeat([]byte("k"), 300)): bytes.Repeat([]byte{7}, 70_000),
	}
	owners := []string{"", "alice", "ключ", string(bytes.Repeat([]byte("o"), 300))}
	for i, tm := range times {
		owner := owners[i%len(owners)]
		version := uint64(1) << (i * 12)
		b := encodeRecord(header{created: tm, expires: tm.Add(time.Hour), version: version, owner: owner}, fields)
		rec, err := decodeRecord(b)
		require.NoError(t, err)
		require.Equal(t, len(fields), len(rec.Fields))
		for k, v := range fields {
			require.Equal(t, v, rec.Fields[k], "field %q", k)
		}
		require.True(t, tm.Equal(rec.Created), "created %v != %v", tm, rec.Created)
		require.True(t, tm.Add(time.Hour).Equal(rec.Expires))
		require.Equal(t, tm.IsZero(), rec.Created.IsZero())
		require.Equal(t, version, rec.Version)
		require.Equal(t, owner, rec.Owner)
	}
	rec, err := decodeRecord(encodeRecord(header{created: time.Now(), expires: time.Now(), version: 1}, nil))
	require.NoError(t, err)
	require.NotNil(t, rec.Fields)
	require.Empty(t, rec.Fields)
}

// body returns the stored form of a session without its checksum, as
// format 2 would have it apart from the format byte.
func body(h header, fields map[string][]byte) []byte {
	b := encodeRecord(h, fields)
	return b[:len(b)-checksumSize]
}

// seal returns b with a correct checksum appended: a format 3 record
// whatever b holds.
func seal(b []byte) []byte {
	b = bytes.Clone(b)
	return binary.BigEndian.AppendUint32(b, crc32.Checksum(b, castagnoli))
}

// asV2 returns b (a body) as a format 2 record.
func asV2(b []byte) []byte {
	b = bytes.Clone(b)
	b[0] = recordFormatV2
	return b
}

func TestDecodeRejectsCorrupt(t *testing.T) {
	h := header{created: time.Now(), expires: time.Now(), version: 7}
	good := body(h, map[string][]byte{"key": []byte("value")})
	head := body(h, nil) // up to and including the empty owner
	owned := body(header{created: time.Now(), expires: time.Now(), version: 7, owner: "alice"}, nil)
	setTime := func(b []byte, at int, sec uint64, nsec uint32) []byte {
		b = bytes.Clone(b)
		binary.BigEndian.PutUint64(b[at:], sec)
		binary.BigEndian.PutUint32(b[at+8:], nsec)
		return b
	}
	setVersion := func(v uint64) []byte {
		b := bytes.Clone(good)
		binary.BigEndian.PutUint64(b[1+2*timeSize:], v)
		return b
	}
	// Bodies (format byte 3) that no writer produces: each is checked
	// sealed with a correct checksum (format 3) and as format 2.
	bad := map[string][]byte{
		"ShortHeader":        good[:headerSize-1],
		"NoOwnerLength":      good[:headerSize],
		"OwnerTruncated":     owned[:len(owned)-1],
		"OwnerTooLong":       append(bytes.Clone(head[:headerSize]), 0xff, 0xff, 0xff, 0xff, 0x0f, 'o'),
		"OwnerLengthHuge":    append(bytes.Clone(head[:headerSize]), 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f, 'o'),
		"OwnerLengthVarint":  append(bytes.Clone(head[:headerSize]), bytes.Repeat([]byte{0xff}, 11)...),
		"VersionZero":        setVersion(0),
		"VersionTopBit":      setVersion(maxVersion),
		"VersionMax":         setVersion(^uint64(0)),
		"Truncated":          good[:len(good)-1],
		"LengthTooBig":       append(bytes.Clone(head), 0xff, 0xff, 0xff, 0xff, 0x0f, 'k'),
		"ValueLengthTooBig":  append(bytes.Clone(head), 1, 'k', 0xff, 0xff, 0xff, 0xff, 0x0f, 'v'),
		"NoValue":            append(bytes.Clone(head), 1, 'k'),
		"EmptyKey":           append(bytes.Clone(head), 0, 1, 'v'),
		"BadNanos":           setTime(good, 1, uint64(time.Now().Unix()), 1e9),
		"CreatedTooLate":     setTime(good, 1, uint64(maxUnix), 0),
		"CreatedTooEarly":    setTime(good, 1, uint64(minUnix-1), 0),
		"ExpiresGarbage":     setTime(good, 1+timeSize, 0xdeadbeefdeadbeef, 5),
		"ExpiresNegativeMax": setTime(good, 1+timeSize, 1<<63, 0),
	}
	for name, b := range bad {
		t.Run(name, func(t *testing.T) {
			_, err := decodeRecord(seal(b))
			require.ErrorIs(t, err, store.ErrCorrupt, "format 3")
			if len(b) > 0 {
				_, err = decodeRecord(asV2(b))
				require.ErrorIs(t, err, store.ErrCorrupt, "format 2")
			}
		})
	}

	// Damage the checksum catches, though the rest would parse.
	sealed := encodeRecord(header{created: time.Now(), expires: time.Now(), version: 7, owner: "alice"}, map[string][]byte{"a": []byte("1"), "b": []byte("2")})
	v1 := encodeV1(map[string][]byte{"key": []byte("value")}, time.Now(), time.Now())
	whole := map[string][]byte{
		"Empty":            nil,
		"Format":           append([]byte{9}, sealed[1:]...),
		"FormatZero":       append([]byte{0}, sealed[1:]...),
		"NoChecksum":       sealed[:len(sealed)-checksumSize],
		"CutAtField":       sealed[:len(sealed)-checksumSize-4],
		"ChecksumFlipped":  func() []byte { b := bytes.Clone(sealed); b[len(b)-1] ^= 1; return b }(),
		"CreatedChanged":   func() []byte { b := bytes.Clone(sealed); b[5]++; return b }(),
		"VersionChanged":   func() []byte { b := bytes.Clone(sealed); b[headerSize-1]++; return b }(),
		"ValueChanged":     func() []byte { b := bytes.Clone(sealed); b[len(b)-checksumSize-1]++; return b }(),
		"OnlyFormatByte":   {recordFormat},
		"V2OnlyFormatByte": {recordFormatV2},
		"V1OnlyFormatByte": {recordFormatV1},
		"V1ShortHeader":    v1[:headerSizeV1-1],
		"V1Truncated":      v1[:len(v1)-1],
		"V1BadNanos":       setTime(v1, 1+timeSize, 0, 0xffffffff),
		"V1CreatedGarbage": setTime(v1, 1, 0x7fffffffffffffff, 0),
	}
	for name, b := range whole {
		t.Run(name, func(t *testing.T) {
			_, err := decodeRecord(b)
			require.ErrorIs(t, err, store.ErrCorrupt)
			_, err = decodeHeader(b)
			require.ErrorIs(t, err, store.ErrCorrupt)
		})
	}
}

// TestDecodeBoundedAllocation: records declaring huge lengths are
// refused without allocating for them, and the worst record that does
// decode (the most, smallest fields) allocates a bounded multiple of its
// size.
func TestDecodeBoundedAllocation(t *testing.T) {
	head := body(header{created: time.Now(), expires: time.Now().Add(time.Hour), version: 1}, nil)
	pad := bytes.Repeat([]byte{'x'}, 4000)
	huge := func(n uint64) []byte { return binary.AppendUvarint(nil, n) }
	cat := func(parts ...[]byte) []byte { return bytes.Join(parts, nil) }
	hostile := map[string][]byte{
		"OwnerLength":       cat(head[:headerSize], huge(1<<62), pad),
		"OwnerLength4GB":    cat(head[:headerSize], huge(1<<32), pad),
		"KeyLength":         cat(head, huge(1<<62), pad),
		"ValueLength":       cat(head, []byte{1, 'k'}, huge(1<<40), pad),
		"LastValueLength":   cat(head, bytes.Repeat([]byte{1, 'k', 1, 'v'}, 900), []byte{1, 'k'}, huge(1<<31)),
		"VarintOverflow":    cat(head, bytes.Repeat([]byte{0xff}, 4000)),
		"FieldsThenGarbage": cat(head, bytes.Repeat([]byte{1, 'k', 0}, 1300), []byte{0, 0}),
	}
	for name, b := range hostile {
		t.Run(name, func(t *testing.T) {
			for _, rec := range [][]byte{seal(b), asV2(b)} {
				_, err := decodeRecord(rec)
				require.ErrorIs(t, err, store.ErrCorrupt)
				perDecode := allocated(t, func() { _, _ = decodeRecord(rec) })
				require.LessOrEqualf(t, perDecode, uint64(2048), "bytes allocated to refuse %d bytes", len(rec))
			}
		})
	}

	// The worst that decodes: about 4 KB of distinct fields of three to
	// five bytes (a one or two byte key, an empty value).
	var fields []byte
	for i := 0; len(fields) < 4000; i++ {
		k := []byte{byte('a' + i%26)}
		if i >= 26 {
			k = []byte{byte('a' + i%26), byte('a' + i/26)}
		}
		fields = cat(fields, []byte{byte(len(k))}, k, []byte{0})
	}
	for _, rec := range [][]byte{seal(cat(head, fields)), asV2(cat(head, fields))} {
		got, err := decodeRecord(rec)
		require.NoError(t, err)
		require.Greater(t, len(got.Fields), 1000)
		perDecode := allocated(t, func() { _, _ = decodeRecord(rec) })
		t.Logf("%d bytes, %d fields: %d bytes allocated (%.1f per stored byte)", len(rec), len(got.Fields), perDecode, float64(perDecode)/float64(len(rec)))
		require.LessOrEqualf(t, perDecode, uint64(maxAllocPerByte*len(rec)), "bytes allocated to decode %d bytes", len(rec))
	}
}

// maxAllocPerByte bounds what decoding allocates per stored byte: mostly
// the map, which costs a few tens of bytes per field.
const maxAllocPerByte = 40

// allocated returns the bytes fn allocates on average over many calls.
func allocated(t *testing.T, fn func()) uint64 {
	t.Helper()
	const runs = 200
	fn() // warm up
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	for range runs {
		fn()
	}
	runtime.ReadMemStats(&after)
	return (after.TotalAlloc - before.TotalAlloc) / runs
}

func TestDecodeDoesNotAlias(t *testing.T) {
	b := encodeRecord(header{created: time.Now(), expires: time.Now(), version: 1, owner: "alice"}, map[string][]byte{"a": []byte("1111"), "b": []byte("2222")})
	rec, err := decodeRecord(b)
	require.NoError(t, err)
	clear(b)
	require.Equal(t, "1111", string(rec.Fields["a"]))
	extended := append(rec.Fields["a"], "XXXX"...)
	require.Equal(t, "1111XXXX", string(extended))
	require.Equal(t, "2222", string(rec.Fields["b"]), "append to one value wrote into another")
	require.Equal(t, "alice", rec.Owner, "the owner does not alias the value")
}

func TestExpiryKeyOrder(t *testing.T) {
	base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	times := []time.Time{
		time.Unix(-100, 0), time.Unix(-1, 5), time.Unix(0, 0), time.Unix(0, 1),
		base, base.Add(time.Nanosecond), base.Add(time.Second), base.Add(1000 * time.Hour),
	}
	keys := make([][]byte, len(times))
	for i, tm := range times {
		keys[i] = expiryKey(tm, "k")
	}
	require.True(t, sort.SliceIsSorted(keys, func(i, j int) bool { return bytes.Compare(keys[i], keys[j]) < 0 }))
	for i, k := range keys {
		exp, key, err := parseExpiryKey(k)
		require.NoError(t, err)
		require.True(t, times[i].Equal(exp))
		require.Equal(t, "k", string(key))
	}
	_, _, err := parseExpiryKey(make([]byte, timeSize))
	require.ErrorIs(t, err, store.ErrCorrupt)
}

// FuzzDecodeRecord: no input makes decoding panic, decodeHeader and
// decodeRecord agree, what decodes holds no more than the input, and it
// encodes back to an equal record. Every input is also tried as the body
// of a format 3 record with a correct checksum, so the fuzzer reaches the
// checks behind the checksum.
func FuzzDecodeRecord(f *testing.F) {
	f.Add(encodeRecord(header{created: time.Now(), expires: time.Now().Add(time.Hour), version: 3, owner: "ü"}, map[string][]byte{"a": []byte("1"), "ключ": {0, 0xff}}))
	f.Add(encodeRecord(header{version: 1}, nil))
	f.Add(body(header{created: time.Now(), expires: time.Now(), version: 2}, map[string][]byte{"k": nil, "x": []byte("y")}))
	f.Add(asV2(body(header{created: time.Now(), expires: time.Now(), version: 9, owner: "o"}, map[string][]byte{"a": []byte("1")})))
	f.Add(encodeV1(map[string][]byte{"a": []byte("1")}, time.Now(), time.Now()))
	f.Add([]byte{recordFormat})
	f.Add([]byte{recordFormatV2})
	f.Add([]byte{recordFormatV1})
	f.Fuzz(func(t *testing.T, b []byte) {
		checkDecode(t, b)
		if len(b) > 0 {
			s := bytes.Clone(b)
			s[0] = recordFormat
			checkDecode(t, seal(s))
		}
	})
}

// checkDecode is FuzzDecodeRecord's check of one input.
func checkDecode(t *testing.T, b []byte) {
	rec, err := decodeRecord(b)
	_, herr := decodeHeader(b)
	require.Equal(t, err == nil, herr == nil, "decodeHeader and decodeRecord disagree: %v, %v", herr, err)
	if err != nil {
		require.ErrorIs(t, err, store.ErrCorrupt)
		return
	}
	size := len(rec.Owner)
	for k, v := range rec.Fields {
		require.NotEmpty(t, k)
		size += len(k) + len(v)
	}
	require.LessOrEqual(t, size, len(b), "decoded more bytes than stored")
	require.LessOrEqual(t, 3*len(rec.Fields), len(b), "decoded more fields than fit")
	h := header{created: rec.Created, expires: rec.Expires, version: rec.Version, owner: rec.Owner}
	again, err := decodeRecord(encodeRecord(h, rec.Fields))
	require.NoError(t, err)
	require.Equal(t, len(rec.Fields), len(again.Fields))
	for k, v := range rec.Fields {
		require.True(t, bytes.Equal(v, again.Fields[k]), "field %q", k)
	}
	require.True(t, rec.Created.Equal(again.Created))
	require.True(t, rec.Expires.Equal(again.Expires))
	require.Equal(t, rec.Version, again.Version)
	require.Equal(t, rec.Owner, again.Owner)
}

// TestDecodeV1: a record written before versions and owners (format 1)
// reads as version 1 without an owner.
func TestDecodeV1(t *testing.T) {
	created := time.Date(2025, 1, 2, 3, 4, 5, 6, time.UTC)
	fields := map[string][]byte{"a": []byte("1"), "ключ": {0, 0xff}}
	rec, err := decodeRecord(encodeV1(fields, created, created.Add(time.Hour)))
	require.NoError(t, err)
	require.Equal(t, fields, rec.Fields)
	require.True(t, created.Equal(rec.Created))
	require.True(t, created.Add(time.Hour).Equal(rec.Expires))
	require.Equal(t, uint64(1), rec.Version)
	require.Empty(t, rec.Owner)
}

func TestOwnerKey(t *testing.T) {
	require.Equal(t, []byte("\x05aliceKEY"), ownerKey("alice", "KEY"))
	long := string(bytes.Repeat([]byte("o"), 200))
	require.Equal(t, append([]byte{0xc8, 0x01}, long+"K"...), ownerKey(long, "K"))
	// No owner's prefix is a prefix of another owner's key.
	owners := []string{"", "a", "ab", "\x01a", "\x02ab", long, long + "o"}
	for _, a := range owners {
		for _, b := range owners {
			if a != b {
				require.False(t, bytes.HasPrefix(ownerKey(b, "K"), ownerPrefix(a)), "%q under %q", b, a)
			}
		}
	}
}

// encodeV1 returns a record as boltstore wrote it before format 2.
func encodeV1(fields map[string][]byte, created, expires time.Time) []byte {
	b := make([]byte, headerSizeV1)
	b[0] = recordFormatV1
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
