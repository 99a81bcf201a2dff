package boltstore

import (
	"bytes"
	"encoding/binary"
	"sort"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestRecordRoundTrip(t *testing.T) {
	times := []time.Time{
		{},
		time.Unix(0, 0),
		time.Unix(-1, 999_999_999),
		time.Date(1900, 1, 1, 0, 0, 0, 1, time.UTC),
		time.Now(),
		time.Date(9999, 12, 31, 23, 59, 59, 999_999_999, time.UTC),
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

func TestDecodeRejectsCorrupt(t *testing.T) {
	h := header{created: time.Now(), expires: time.Now(), version: 7}
	good := encodeRecord(h, map[string][]byte{"key": []byte("value")})
	head := encodeRecord(h, nil) // up to and including the empty owner
	owned := encodeRecord(header{created: time.Now(), expires: time.Now(), version: 7, owner: "alice"}, nil)
	v1 := encodeV1(map[string][]byte{"key": []byte("value")}, time.Now(), time.Now())
	bad := map[string][]byte{
		"Empty":          nil,
		"ShortHeader":    good[:headerSize-1],
		"Format":         append([]byte{9}, good[1:]...),
		"FormatZero":     append([]byte{0}, good[1:]...),
		"NoOwnerLength":  good[:headerSize],
		"OwnerTruncated": owned[:len(owned)-1],
		"OwnerTooLong":   append(append([]byte(nil), good[:headerSize]...), 0xff, 0xff, 0xff, 0xff, 0x0f, 'o'),
		"VersionZero":    func() []byte { b := bytes.Clone(good); clear(b[1+2*timeSize : headerSize]); return b }(),
		"Truncated":      good[:len(good)-1],
		"LengthTooBig":   append(bytes.Clone(head), 0xff, 0xff, 0xff, 0xff, 0x0f, 'k'),
		"NoValue":        append(bytes.Clone(head), 1, 'k'),
		"EmptyKey":       append(bytes.Clone(head), 0, 1, 'v'),
		"BadNanos":       func() []byte { b := bytes.Clone(good); copy(b[9:13], []byte{0xff, 0xff, 0xff, 0xff}); return b }(),
		"V1ShortHeader":  v1[:headerSizeV1-1],
		"V1Truncated":    v1[:len(v1)-1],
		"V1BadNanos":     func() []byte { b := bytes.Clone(v1); copy(b[21:25], []byte{0xff, 0xff, 0xff, 0xff}); return b }(),
	}
	for name, b := range bad {
		t.Run(name, func(t *testing.T) {
			_, err := decodeRecord(b)
			require.ErrorIs(t, err, errCorrupt)
		})
	}
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
	require.ErrorIs(t, err, errCorrupt)
}

// FuzzDecodeRecord: no input makes decoding panic, and what decodes
// encodes back to an equal record.
func FuzzDecodeRecord(f *testing.F) {
	f.Add(encodeRecord(header{created: time.Now(), expires: time.Now().Add(time.Hour), version: 3, owner: "ü"}, map[string][]byte{"a": []byte("1"), "ключ": {0, 0xff}}))
	f.Add(encodeRecord(header{version: 1}, nil))
	f.Add(encodeV1(map[string][]byte{"a": []byte("1")}, time.Now(), time.Now()))
	f.Add([]byte{recordFormat})
	f.Add([]byte{recordFormatV1})
	f.Fuzz(func(t *testing.T, b []byte) {
		rec, err := decodeRecord(b)
		if err != nil {
			require.ErrorIs(t, err, errCorrupt)
			return
		}
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
	})
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
