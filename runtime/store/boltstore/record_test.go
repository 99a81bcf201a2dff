package boltstore

import (
	"bytes"
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
	for _, tm := range times {
		b := encodeRecord(fields, tm, tm.Add(time.Hour))
		rec, err := decodeRecord(b)
		require.NoError(t, err)
		require.Equal(t, len(fields), len(rec.Fields))
		for k, v := range fields {
			require.Equal(t, v, rec.Fields[k], "field %q", k)
		}
		require.True(t, tm.Equal(rec.Created), "created %v != %v", tm, rec.Created)
		require.True(t, tm.Add(time.Hour).Equal(rec.Expires))
		require.Equal(t, tm.IsZero(), rec.Created.IsZero())
	}
	rec, err := decodeRecord(encodeRecord(nil, time.Now(), time.Now()))
	require.NoError(t, err)
	require.NotNil(t, rec.Fields)
	require.Empty(t, rec.Fields)
}

func TestDecodeRejectsCorrupt(t *testing.T) {
	good := encodeRecord(map[string][]byte{"key": []byte("value")}, time.Now(), time.Now())
	bad := map[string][]byte{
		"Empty":        nil,
		"ShortHeader":  good[:headerSize-1],
		"Version":      append([]byte{9}, good[1:]...),
		"Truncated":    good[:len(good)-1],
		"LengthTooBig": append(append([]byte(nil), good[:headerSize]...), 0xff, 0xff, 0xff, 0xff, 0x0f, 'k'),
		"NoValue":      append(append([]byte(nil), good[:headerSize]...), 1, 'k'),
		"EmptyKey":     append(append([]byte(nil), good[:headerSize]...), 0, 1, 'v'),
		"BadNanos":     func() []byte { b := bytes.Clone(good); copy(b[9:13], []byte{0xff, 0xff, 0xff, 0xff}); return b }(),
	}
	for name, b := range bad {
		t.Run(name, func(t *testing.T) {
			_, err := decodeRecord(b)
			require.ErrorIs(t, err, errCorrupt)
		})
	}
}

func TestDecodeDoesNotAlias(t *testing.T) {
	b := encodeRecord(map[string][]byte{"a": []byte("1111"), "b": []byte("2222")}, time.Now(), time.Now())
	rec, err := decodeRecord(b)
	require.NoError(t, err)
	clear(b)
	require.Equal(t, "1111", string(rec.Fields["a"]))
	extended := append(rec.Fields["a"], "XXXX"...)
	require.Equal(t, "1111XXXX", string(extended))
	require.Equal(t, "2222", string(rec.Fields["b"]), "append to one value wrote into another")
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
	f.Add(encodeRecord(map[string][]byte{"a": []byte("1"), "ключ": {0, 0xff}}, time.Now(), time.Now().Add(time.Hour)))
	f.Add(encodeRecord(nil, time.Time{}, time.Time{}))
	f.Add([]byte{recordVersion})
	f.Fuzz(func(t *testing.T, b []byte) {
		rec, err := decodeRecord(b)
		if err != nil {
			require.ErrorIs(t, err, errCorrupt)
			return
		}
		again, err := decodeRecord(encodeRecord(rec.Fields, rec.Created, rec.Expires))
		require.NoError(t, err)
		require.Equal(t, len(rec.Fields), len(again.Fields))
		for k, v := range rec.Fields {
			require.True(t, bytes.Equal(v, again.Fields[k]), "field %q", k)
		}
		require.True(t, rec.Created.Equal(again.Created))
		require.True(t, rec.Expires.Equal(again.Expires))
	})
}
