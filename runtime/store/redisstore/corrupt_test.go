package redisstore_test

import (
	"context"
	"errors"
	"strconv"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sessiongen/sessiongen/runtime/store"
	"github.com/sessiongen/sessiongen/runtime/store/internal/enginetest"
	"github.com/sessiongen/sessiongen/runtime/store/redisstore"
	"github.com/sessiongen/sessiongen/runtime/store/storetest"
)

// topologies runs check as a subtest on a single server ("single") and
// on the Redis Cluster ("cluster", skipped when envCluster is unset),
// each with a prefix of its own.
func topologies(t *testing.T, check func(t *testing.T, c redis.UniversalClient, prefix string, s *redisstore.Store)) {
	t.Run("single", func(t *testing.T) {
		c := newClient(t, serverAddr(t))
		prefix := testPrefix(t, c)
		check(t, c, prefix, newStore(t, c, prefix))
	})
	t.Run("cluster", func(t *testing.T) {
		c := clusterClient(t)
		prefix := testPrefix(t, c)
		check(t, c, prefix, newStore(t, c, prefix))
	})
}

// plant describes one corruption: what it writes under a session key
// with the raw client.
type plant struct {
	name string
	// versionNotFound: Version cannot tell this record from none (its
	// one HMGET finds no metadata at all) and may answer ErrNotFound.
	versionNotFound bool
	write           func(ctx context.Context, c redis.UniversalClient, name string) error
}

// hashPlant writes a session hash as redisstore does (fields a and b,
// created now, expiring in an hour, version 3), with the metadata in
// bad changed ("" deletes the field).
func hashPlant(name string, bad map[string]string) plant {
	return plant{name: name, write: func(ctx context.Context, c redis.UniversalClient, key string) error {
		now := time.Now().UnixMilli()
		h := map[string]string{
			"a": "1", "b": "2",
			"\xffc": strconv.FormatInt(now, 10),
			"\xffe": strconv.FormatInt(now+time.Hour.Milliseconds(), 10),
			"\xffv": "3",
		}
		for k, v := range bad {
			if v == "" {
				delete(h, k)
			} else {
				h[k] = v
			}
		}
		if err := c.HSet(ctx, key, h).Err(); err != nil {
			return err
		}
		return c.Expire(ctx, key, time.Hour).Err()
	}}
}

// corruptions lists the corruptions of issue "a corrupt record locks its
// user out".
var corruptions = []plant{
	hashPlant("expiry garbage", map[string]string{"\xffe": "soon"}),
	hashPlant("expiry nan", map[string]string{"\xffe": "nan"}),
	hashPlant("expiry hex", map[string]string{"\xffe": "0x7fffffffffff"}),
	hashPlant("expiry float", map[string]string{"\xffe": "1.9e12"}),
	hashPlant("expiry missing", map[string]string{"\xffe": ""}),
	hashPlant("expiry negative", map[string]string{"\xffe": "-5"}),
	hashPlant("expiry zero", map[string]string{"\xffe": "0"}),
	hashPlant("version garbage", map[string]string{"\xffv": "three"}),
	hashPlant("version negative", map[string]string{"\xffv": "-1"}),
	hashPlant("version too long", map[string]string{"\xffv": "99999999999999999999"}),
	hashPlant("version missing", map[string]string{"\xffv": ""}),
	hashPlant("created garbage", map[string]string{"\xffc": "yesterday"}),
	hashPlant("created spaces", map[string]string{"\xffc": " 12"}),
	hashPlant("created missing", map[string]string{"\xffc": ""}),
	{name: "no metadata", versionNotFound: true, write: func(ctx context.Context, c redis.UniversalClient, key string) error {
		return c.HSet(ctx, key, "a", "1").Err()
	}},
	{name: "string", write: func(ctx context.Context, c redis.UniversalClient, key string) error {
		return c.Set(ctx, key, "not a hash", time.Hour).Err()
	}},
	{name: "list", write: func(ctx context.Context, c redis.UniversalClient, key string) error {
		return c.RPush(ctx, key, "a", "1").Err()
	}},
	{name: "set", write: func(ctx context.Context, c redis.UniversalClient, key string) error {
		return c.SAdd(ctx, key, "a").Err()
	}},
}

// TestCorrupt plants each corruption under a session key and checks that
// Load, Version, Update and Move report ErrCorrupt naming the engine and
// the key (Version may report ErrNotFound for a hash without metadata),
// and then that the record behaves as storetest.Corrupt requires: nothing
// written, Delete removes it, a new session can take the key.
func TestCorrupt(t *testing.T) {
	topologies(t, func(t *testing.T, c redis.UniversalClient, prefix string, s *redisstore.Store) {
		ctx := context.Background()
		for _, p := range corruptions {
			t.Run(p.name, func(t *testing.T) {
				key := storetest.NewKey(t)
				name := prefix + "{" + key + "}"
				require.NoError(t, p.write(ctx, c, name))
				before := dump(t, c, name)

				requireCorrupt := func(err error, op string) {
					t.Helper()
					require.ErrorIsf(t, err, store.ErrCorrupt, "%s", op)
					assert.Containsf(t, err.Error(), "redisstore: "+op+": ", "%s", op)
					assert.Containsf(t, err.Error(), key, "%s names the key", op)
				}
				_, err := s.Load(ctx, key)
				requireCorrupt(err, "load")
				_, err = s.Version(ctx, key)
				if !p.versionNotFound || !errors.Is(err, store.ErrNotFound) {
					requireCorrupt(err, "version")
				}
				_, err = s.Update(ctx, key, store.Change{Set: map[string][]byte{"a": []byte("2")}, Expires: time.Now().Add(2 * time.Hour)})
				requireCorrupt(err, "update")
				_, err = s.Move(ctx, key, storetest.NewKey(t), store.Change{Expires: time.Now().Add(time.Hour)})
				requireCorrupt(err, "move")
				assert.Equal(t, before, dump(t, c, name), "the refused calls wrote nothing")

				storetest.Corrupt(t, s, key)
			})
		}
	})
}

// TestCorruptCreateReplaces checks that Create replaces a record it
// cannot read (here a string and a hash with garbage metadata) as it
// replaces an expired one.
func TestCorruptCreateReplaces(t *testing.T) {
	topologies(t, func(t *testing.T, c redis.UniversalClient, prefix string, s *redisstore.Store) {
		ctx := context.Background()
		for _, p := range []plant{corruptions[0], corruptions[len(corruptions)-3]} {
			key := storetest.NewKey(t)
			require.NoError(t, p.write(ctx, c, prefix+"{"+key+"}"))
			rec := store.Record{Fields: map[string][]byte{"new": []byte("1")}, Created: time.Now(), Expires: time.Now().Add(time.Hour)}
			require.NoErrorf(t, s.Create(ctx, key, rec), "Create over %s", p.name)
			got, err := s.Load(ctx, key)
			require.NoError(t, err)
			assert.Equal(t, rec.Fields, got.Fields)
			assert.Equal(t, uint64(1), got.Version)
		}
	})
}

// TestCorruptOwned checks that Owned leaves out, without an error, the
// sessions of the owner that became corrupt (garbage metadata, a string
// in place of the hash), and drops their index entries.
func TestCorruptOwned(t *testing.T) {
	topologies(t, func(t *testing.T, c redis.UniversalClient, prefix string, s *redisstore.Store) {
		ctx := context.Background()
		const owner = "corrupted"
		rec := func() store.Record {
			return store.Record{Created: time.Now(), Expires: time.Now().Add(time.Hour), Owner: owner}
		}
		good, garbage, str := storetest.NewKey(t), storetest.NewKey(t), storetest.NewKey(t)
		for _, k := range []string{good, garbage, str} {
			require.NoError(t, s.Create(ctx, k, rec()))
		}
		require.NoError(t, c.HSet(ctx, prefix+"{"+garbage+"}", "\xffv", "x").Err())
		require.NoError(t, c.Del(ctx, prefix+"{"+str+"}").Err())
		require.NoError(t, c.Set(ctx, prefix+"{"+str+"}", "x", time.Hour).Err())

		owned, err := s.Owned(ctx, owner)
		require.NoError(t, err)
		require.Len(t, owned, 1)
		assert.Equal(t, good, owned[0].Key)
		members, err := c.ZRange(ctx, indexKey(prefix, owner), 0, -1).Result()
		require.NoError(t, err)
		assert.Equal(t, []string{good}, members, "the corrupt sessions' entries are dropped")
	})
}

// TestBadFieldNames plants field names a session cannot have (empty, a
// control character, DEL, invalid UTF-8, a stray 0xff name) among a
// session's fields. The Store leaves them out: Load returns the session
// without them, the size limit does not count them, Move leaves them
// behind, and Delete removes the record.
func TestBadFieldNames(t *testing.T) {
	topologies(t, func(t *testing.T, c redis.UniversalClient, prefix string, s *redisstore.Store) {
		ctx := context.Background()
		key := storetest.NewKey(t)
		fields := map[string][]byte{"a": []byte("1"), "é": []byte("22")}
		require.NoError(t, s.Create(ctx, key, store.Record{Fields: fields, Created: time.Now(), Expires: time.Now().Add(time.Hour)}))
		name := prefix + "{" + key + "}"
		bad := []string{"", "ctl\x01", "del\x7f", "nl\n", "bad\xc3\x28", "\xed\xa0\x80", "\xf4\x90\x80\x80", "\xc0\xaf", "\xfez"}
		for _, k := range bad {
			require.NoError(t, c.HSet(ctx, name, k, "planted value").Err())
		}
		planted := dump(t, c, name)
		for _, k := range bad {
			require.Containsf(t, planted, k, "planted %q", k)
		}

		got, err := s.Load(ctx, key)
		require.NoError(t, err)
		assert.Equal(t, fields, got.Fields, "Load leaves the bad names out")
		v, err := s.Version(ctx, key)
		require.NoError(t, err)
		assert.Equal(t, uint64(1), v)

		// The size is 1+1 + 2+2 = 6 without the planted fields: adding
		// 1+3 reaches a limit of 10 exactly, one more byte passes it.
		_, err = s.Update(ctx, key, store.Change{Set: map[string][]byte{"b": []byte("4444")}, MaxSize: 10})
		require.ErrorIs(t, err, store.ErrTooLarge)
		v, err = s.Update(ctx, key, store.Change{Set: map[string][]byte{"b": []byte("333")}, MaxSize: 10})
		require.NoError(t, err)
		assert.Equal(t, uint64(2), v)
		fields["b"] = []byte("333")

		to := storetest.NewKey(t)
		moved, err := s.Move(ctx, key, to, store.Change{Expires: time.Now().Add(time.Hour), Set: map[string][]byte{"c": []byte("1")}, MaxSize: 12})
		require.NoError(t, err, "Move of a record with bad names")
		fields["c"] = []byte("1")
		assert.Equal(t, fields, moved.Fields)
		raw := dump(t, c, prefix+"{"+to+"}")
		for _, k := range bad {
			assert.NotContainsf(t, raw, k, "Move copied the bad name %q", k)
		}
		_, err = s.Load(ctx, key)
		require.ErrorIs(t, err, store.ErrNotFound)

		// Delete removes a record holding bad names.
		for _, k := range bad {
			require.NoError(t, c.HSet(ctx, prefix+"{"+to+"}", k, "again").Err())
		}
		require.NoError(t, s.Delete(ctx, to))
		n, err := c.Exists(ctx, prefix+"{"+to+"}").Result()
		require.NoError(t, err)
		assert.Zero(t, n)
	})
}

// dump returns what Redis holds under name: its type and, for a hash,
// its fields.
func dump(t *testing.T, c redis.UniversalClient, name string) map[string]string {
	t.Helper()
	ctx := context.Background()
	typ, err := c.Type(ctx, name).Result()
	require.NoError(t, err)
	out := map[string]string{"\x00type": typ}
	if typ == "hash" {
		h, err := c.HGetAll(ctx, name).Result()
		require.NoError(t, err)
		for k, v := range h {
			out[k] = v
		}
	}
	return out
}

// TestUserRecoversFromCorruption: for each corruption, a user whose
// record was damaged can read (and gets a fresh session), sign out and
// sign in through a manager, with no 500.
func TestUserRecoversFromCorruption(t *testing.T) {
	topologies(t, func(t *testing.T, c redis.UniversalClient, prefix string, s *redisstore.Store) {
		for _, p := range corruptions {
			t.Run(p.name, func(t *testing.T) {
				enginetest.UserRecovers(t, s, func(t *testing.T, key string) {
					ctx := context.Background()
					name := prefix + "{" + key + "}"
					require.NoError(t, c.Del(ctx, name).Err())
					require.NoError(t, p.write(ctx, c, name))
				})
			})
		}
	})
}

// TestVersionBumpIsExact plants versions that Lua's numbers could not
// bump exactly (eighteen nines, past 2^53) or that are written unusually
// (leading zeros), and checks that Update adds exactly one, in the answer
// and in the record.
func TestVersionBumpIsExact(t *testing.T) {
	topologies(t, func(t *testing.T, c redis.UniversalClient, prefix string, s *redisstore.Store) {
		ctx := context.Background()
		for _, tc := range []struct{ planted, want string }{
			{"999999999999999999", "1000000000000000000"},
			{"9007199254740993", "9007199254740994"},
			{"007", "008"},
			{"1", "2"},
		} {
			key := storetest.NewKey(t)
			name := prefix + "{" + key + "}"
			require.NoError(t, hashPlant(tc.planted, map[string]string{"\xffv": tc.planted}).write(ctx, c, name))
			v, err := s.Update(ctx, key, store.Change{Set: map[string][]byte{"a": []byte("9")}})
			require.NoErrorf(t, err, "version %s", tc.planted)
			want, err := strconv.ParseUint(tc.want, 10, 64)
			require.NoError(t, err)
			assert.Equalf(t, want, v, "Update of version %s", tc.planted)
			assert.Equalf(t, tc.want, dump(t, c, name)["\xffv"], "stored version after %s", tc.planted)
		}
	})
}
