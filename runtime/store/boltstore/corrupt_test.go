package boltstore

import (
	"bytes"
	"context"
	"encoding/binary"
	"testing"
	"time"

	"github.com/sessiongen/sessiongen/runtime/store"
	"github.com/sessiongen/sessiongen/runtime/store/internal/enginetest"
	"github.com/sessiongen/sessiongen/runtime/store/storetest"
	"github.com/stretchr/testify/require"
	bolt "go.etcd.io/bbolt"
)

// Offsets in a stored record whose owner is corruptOwner (7 bytes).
const (
	createdAt = 1
	expiresAt = 1 + timeSize
	versionAt = 1 + 2*timeSize
	ownerAt   = headerSize         // the owner's length byte
	fieldsAt  = headerSize + 1 + 7 // the first field
)

// corruptOwner is the owner of the records the corruption test damages.
const corruptOwner = "owner-7"

// corruption is one way to damage a stored record.
type corruption struct {
	name string
	// damage returns the bytes to store instead of v, a format 3 record
	// of corruptOwner.
	damage func(v []byte) []byte
	// lost names the index entries Delete cannot find in the damaged
	// bytes ("expiry", "owner"); the cleanup and Owned remove them.
	lost []string
}

// unsealed returns v's body (v without its checksum).
func unsealed(v []byte) []byte {
	return bytes.Clone(v[:len(v)-checksumSize])
}

// splice returns b with b[i:j] replaced by with.
func splice(b []byte, i, j int, with ...byte) []byte {
	return bytes.Join([][]byte{b[:i], with, b[j:]}, nil)
}

// put8 returns b with the 8 bytes at i set to x.
func put8(b []byte, i int, x uint64) []byte {
	b = bytes.Clone(b)
	binary.BigEndian.PutUint64(b[i:], x)
	return b
}

var corruptions = []corruption{
	// Format 3: the checksum catches what the other checks might not.
	{name: "Empty", damage: func([]byte) []byte { return []byte{} }, lost: []string{"expiry", "owner"}},
	{name: "TruncatedHeader", damage: func(v []byte) []byte { return v[:20] }, lost: []string{"expiry", "owner"}},
	{name: "TruncatedInFields", damage: func(v []byte) []byte { return v[:len(v)-6] }},
	{name: "TruncatedAtFieldBoundary", damage: func(v []byte) []byte { return v[:fieldsAt] }},
	{name: "BadFormatByte", damage: func(v []byte) []byte { v = bytes.Clone(v); v[0] = 0x42; return v }},
	{name: "FormatZero", damage: func(v []byte) []byte { v = bytes.Clone(v); v[0] = 0; return v }},
	{name: "FormatByteV1", damage: func(v []byte) []byte { v = bytes.Clone(v); v[0] = recordFormatV1; return v }, lost: []string{"owner"}},
	{name: "ChecksumFlipped", damage: func(v []byte) []byte { v = bytes.Clone(v); v[len(v)-1] ^= 0x10; return v }},
	{name: "ValueBitFlip", damage: func(v []byte) []byte { v = bytes.Clone(v); v[len(v)-checksumSize-1] ^= 1; return v }},
	{name: "ExpiresGarbage", damage: func(v []byte) []byte { return seal(put8(unsealed(v), expiresAt+4, ^uint64(0))) }, lost: []string{"expiry"}},
	{name: "ExpiresYear1e10", damage: func(v []byte) []byte { return seal(put8(unsealed(v), expiresAt, 1<<60)) }, lost: []string{"expiry"}},
	{name: "CreatedGarbage", damage: func(v []byte) []byte { return seal(put8(unsealed(v), createdAt, 0xdeadbeefdeadbeef)) }},
	{name: "VersionZero", damage: func(v []byte) []byte { return seal(put8(unsealed(v), versionAt, 0)) }},
	{name: "VersionGarbage", damage: func(v []byte) []byte { return seal(put8(unsealed(v), versionAt, ^uint64(0))) }},
	{name: "OwnerLengthPastEnd", damage: func(v []byte) []byte {
		return seal(splice(unsealed(v), ownerAt, ownerAt+1, 0xff, 0xff, 0xff, 0xff, 0x0f))
	}, lost: []string{"owner"}},
	{name: "FieldLengthPastEnd", damage: func(v []byte) []byte {
		return seal(splice(unsealed(v), fieldsAt, fieldsAt+1, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f))
	}},
	{name: "ManyFieldsPastEnd", damage: func(v []byte) []byte {
		b := unsealed(v)
		return seal(append(b, bytes.Repeat([]byte{1, 'z', 0}, 100)[:299]...))
	}},
	{name: "EmptyFieldName", damage: func(v []byte) []byte { return seal(splice(unsealed(v), fieldsAt, fieldsAt, 0, 1, 'v')) }},
	// Format 2 (no checksum): the checks on every header part and length.
	{name: "V2TruncatedInField", damage: func(v []byte) []byte { b := asV2(unsealed(v)); return b[:len(b)-1] }},
	{name: "V2ExpiresGarbage", damage: func(v []byte) []byte { return asV2(put8(unsealed(v), expiresAt+4, ^uint64(0))) }, lost: []string{"expiry"}},
	{name: "V2CreatedGarbage", damage: func(v []byte) []byte { return asV2(put8(unsealed(v), createdAt, 1<<63)) }},
	{name: "V2VersionZero", damage: func(v []byte) []byte { return asV2(put8(unsealed(v), versionAt, 0)) }},
	{name: "V2FieldLengthPastEnd", damage: func(v []byte) []byte {
		return asV2(splice(unsealed(v), fieldsAt, fieldsAt+1, 0x80, 0x80, 0x80, 0x80, 0x10))
	}},
	{name: "V2EmptyFieldName", damage: func(v []byte) []byte { return asV2(splice(unsealed(v), fieldsAt, fieldsAt, 0, 0)) }},
}

// TestCorruption plants each corruption in a stored session (raw bytes
// written through bbolt) and checks that Load, Version, Update and Move
// report ErrCorrupt naming the key and write nothing, then runs
// storetest.Corrupt (Delete removes it, the key can be reused), and that
// no index entry of the damaged session outlives it: Delete removes those
// it can still find, Owned and the cleanup the others.
func TestCorruption(t *testing.T) {
	ctx := context.Background()
	for _, c := range corruptions {
		t.Run(c.name, func(t *testing.T) {
			s := openTest(t, "", WithCleanupInterval(0))
			key := storetest.NewKey(t)
			// Expires before the record storetest.Corrupt creates (in an
			// hour), so a purge at this time leaves that one alone.
			expires := time.Now().Add(30 * time.Minute)
			rec := store.Record{Fields: map[string][]byte{"a": []byte("1"), "b": []byte("22")}, Created: time.Now(), Expires: expires, Owner: corruptOwner}
			require.NoError(t, s.Create(ctx, key, rec))
			stored := rawRecord(t, s, key)
			require.Equal(t, byte(fieldsAt), stored[ownerAt]+ownerAt+1, "layout assumed by the corruptions")
			damaged := c.damage(stored)
			putRaw(t, s, key, damaged)

			otherOwner := "other"
			requireCorrupt := func(err error, op string) {
				t.Helper()
				require.ErrorIs(t, err, store.ErrCorrupt, op)
				require.ErrorContains(t, err, "boltstore: "+op+": record "+key+": ", op)
			}
			_, err := s.Load(ctx, key)
			requireCorrupt(err, "load")
			_, err = s.Version(ctx, key)
			requireCorrupt(err, "version")
			_, err = s.Update(ctx, key, store.Change{Set: map[string][]byte{"a": []byte("2")}, Expires: time.Now().Add(2 * time.Hour), Owner: &otherOwner})
			requireCorrupt(err, "update")
			to := storetest.NewKey(t)
			_, err = s.Move(ctx, key, to, store.Change{Expires: time.Now().Add(2 * time.Hour)})
			requireCorrupt(err, "move")
			require.Equal(t, damaged, rawRecord(t, s, key), "a refused write changed the record")
			recs, idx := counts(t, s)
			require.Equal(t, 1, recs, "records")
			require.Equal(t, 1, idx, "expiry entries")
			require.Equal(t, 1, ownerEntries(t, s, corruptOwner))
			require.Zero(t, ownerEntries(t, s, "other"))
			owned, err := s.Owned(ctx, corruptOwner)
			require.NoError(t, err)
			require.Empty(t, owned, "Owned lists a corrupt session")
			require.Zero(t, ownerEntries(t, s, corruptOwner), "Owned dropped the entry of a corrupt session")
			require.Equal(t, damaged, rawRecord(t, s, key), "Owned deleted a corrupt session")
			// Put the entry back, to see what Delete finds.
			require.NoError(t, s.db.Update(func(tx *bolt.Tx) error {
				bk, err := s.buckets(tx)
				if err != nil {
					return err
				}
				return bk.owners.Put(ownerKey(corruptOwner, key), nil)
			}))

			storetest.Corrupt(t, s, key)

			// Delete removed the index entries it could find; only the
			// lost ones remain.
			_, idx = counts(t, s)
			wantIdx, wantOwner := 1, 0
			for _, l := range c.lost {
				switch l {
				case "expiry":
					wantIdx++
				case "owner":
					wantOwner++
				}
			}
			require.Equal(t, wantIdx, idx, "expiry entries after Delete and Create")
			require.Equal(t, wantOwner, ownerEntries(t, s, corruptOwner), "owner entries after Delete")
			// Owned and the cleanup drop those, and keep the new session.
			owned, err = s.Owned(ctx, corruptOwner)
			require.NoError(t, err)
			require.Empty(t, owned)
			_, err = s.purge(expires)
			require.NoError(t, err)
			require.Zero(t, ownerEntries(t, s, corruptOwner))
			requireConsistent(t, s)
			got, err := s.Load(ctx, key)
			require.NoError(t, err)
			require.Equal(t, "1", string(got.Fields["fresh"]))
		})
	}
}

// TestCorruptOwnerIndex: damaged owner index entries (one naming no key,
// a missing record, a corrupt record or another owner's session, one
// holding a value, a nested bucket) never break Owned nor hide the live
// session, and Owned deletes all but the bucket.
func TestCorruptOwnerIndex(t *testing.T) {
	ctx := context.Background()
	s := openTest(t, "", WithCleanupInterval(0))
	live := record(time.Hour)
	live.Owner = "u"
	liveKey := storetest.NewKey(t)
	require.NoError(t, s.Create(ctx, liveKey, live))
	otherKey := storetest.NewKey(t)
	other := record(time.Hour)
	other.Owner = "v"
	require.NoError(t, s.Create(ctx, otherKey, other))
	corruptKey := storetest.NewKey(t)
	prefix := ownerPrefix("u")
	require.NoError(t, s.db.Update(func(tx *bolt.Tx) error {
		bk, err := s.buckets(tx)
		if err != nil {
			return err
		}
		if err := bk.recs.Put([]byte(corruptKey), []byte{recordFormat, 0xff}); err != nil {
			return err
		}
		for k, v := range map[string][]byte{
			string(prefix):                   nil,                             // no key
			string(prefix) + "missing":       nil,                             // no record
			string(prefix) + corruptKey:      nil,                             // a corrupt record
			string(prefix) + otherKey:        nil,                             // v's session
			string(prefix) + "\x00\xff\x00":  []byte("a value"),               // binary key, a value
			string(prefix) + liveKey + "xyz": bytes.Repeat([]byte{0xff}, 100), // a longer key
		} {
			if err := bk.owners.Put([]byte(k), v); err != nil {
				return err
			}
		}
		_, err = bk.owners.CreateBucket(append(bytes.Clone(prefix), "bucket"...))
		return err
	}))
	require.Equal(t, 8, ownerEntries(t, s, "u"))

	for range 2 {
		owned, err := s.Owned(ctx, "u")
		require.NoError(t, err)
		require.Len(t, owned, 1)
		require.Equal(t, liveKey, owned[0].Key)
		require.Equal(t, uint64(1), owned[0].Version)
	}
	require.Equal(t, 2, ownerEntries(t, s, "u"), "the live entry and the bucket remain")
	owned, err := s.Owned(ctx, "v")
	require.NoError(t, err)
	require.Len(t, owned, 1, "another owner's entry is not touched")
	_, err = s.Load(ctx, corruptKey)
	require.ErrorIs(t, err, store.ErrCorrupt, "Owned leaves a corrupt record for Load and Delete")
}

// rawRecord returns a copy of the value stored under key.
func rawRecord(t *testing.T, s *Store, key string) []byte {
	t.Helper()
	var v []byte
	require.NoError(t, s.db.View(func(tx *bolt.Tx) error {
		bk, err := s.buckets(tx)
		if err != nil {
			return err
		}
		v = bytes.Clone(bk.recs.Get([]byte(key)))
		return nil
	}))
	require.NotNil(t, v, "no record under the key")
	return v
}

// putRaw stores v under key as it is, leaving the indexes alone.
func putRaw(t *testing.T, s *Store, key string, v []byte) {
	t.Helper()
	require.NoError(t, s.db.Update(func(tx *bolt.Tx) error {
		bk, err := s.buckets(tx)
		if err != nil {
			return err
		}
		return bk.recs.Put([]byte(key), v)
	}))
}

// TestUserRecoversFromCorruption: for each corruption, a user whose
// record was damaged can read (and gets a fresh session), sign out and
// sign in through a manager, with no 500.
func TestUserRecoversFromCorruption(t *testing.T) {
	for _, c := range corruptions {
		t.Run(c.name, func(t *testing.T) {
			s := openTest(t, "", WithCleanupInterval(0))
			enginetest.UserRecovers(t, s, func(t *testing.T, key string) {
				// Rewrite the record in the layout the corruptions assume
				// (owned by corruptOwner), then damage it.
				ctx := context.Background()
				require.NoError(t, s.Delete(ctx, key))
				rec := store.Record{Fields: map[string][]byte{"a": []byte("1"), "b": []byte("22")}, Created: time.Now(), Expires: time.Now().Add(time.Hour), Owner: corruptOwner}
				require.NoError(t, s.Create(ctx, key, rec))
				putRaw(t, s, key, c.damage(rawRecord(t, s, key)))
			})
		})
	}
}
