package mysqlstore

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sessiongen/sessiongen/runtime/store"
	"github.com/sessiongen/sessiongen/runtime/store/internal/enginetest"
	"github.com/sessiongen/sessiongen/runtime/store/storetest"
)

// corruption is a damage planted in a session's row through raw SQL: set
// is the SET clause's text, args its arguments.
type corruption struct {
	name string
	set  string
	args []any
	// gone: the row reads as missing (ErrNotFound) rather than corrupt.
	gone bool
}

// dataIs returns the corruption setting the data document to doc.
func dataIs(name, doc string) corruption {
	return corruption{name: name, set: "data = ?", args: []any{doc}}
}

// corruptions lists every damage the store must survive. Field "a" is
// "YQ" in the document, field "b" is "Yg"; the valid value "MQ==" is "1".
var corruptions = []corruption{
	dataIs("document is an array", `[{"YQ":"MQ=="}]`),
	dataIs("document is a number", `5`),
	dataIs("document is a string", `"YQ"`),
	dataIs("document is null", `null`),
	dataIs("value not base64", `{"YQ":"MQ==","Yg":"%%"}`),
	dataIs("value with stray bits", `{"YQ":"MR=="}`),
	dataIs("value unpadded", `{"YQ":"MQ"}`),
	dataIs("value with a line break", `{"YQ":"MQ\n=="}`),
	dataIs("value a number", `{"YQ":"MQ==","Yg":1234}`),
	dataIs("value null", `{"YQ":null}`),
	dataIs("value an array", `{"YQ":["MQ=="]}`),
	dataIs("value an object", `{"YQ":{"YQ":"MQ=="}}`),
	dataIs("name not base64url", `{"!!":"AA=="}`),
	dataIs("name in the standard alphabet", `{"YQ":"MQ==","a+/a":"MQ=="}`),
	dataIs("name padded", `{"YQ==":"MQ=="}`),
	dataIs("name of one character", `{"Y":"MQ=="}`),
	dataIs("name with stray bits", `{"YR":"MQ=="}`),
	dataIs("empty name", `{"":"MQ=="}`),
	dataIs("empty name beside a field", `{"YQ":"MQ==","":"MQ=="}`),
	dataIs("escaped name", `{"Y\u0051":"MQ=="}`),
	dataIs("escaped value", `{"YQ":"M\u0051=="}`),
	dataIs("repeated name", `{"YQ":"MQ==","YQ":"Mg=="}`),
	{name: "negative version", set: "version = -1"},
	{name: "version 0", set: "version = 0"},
	{name: "created 0", set: "created = 0"},
	{name: "expires 0", set: "expires = 0", gone: true},
}

// TestCorrupt plants each corruption in a live, owned session and checks
// that the store reports it without writing: Load, Version, Move and a
// conditional Update say ErrCorrupt (an unconditional Update says
// ErrNotFound, as documented), Owned leaves the session out, the row is
// left as it was; then storetest.Corrupt, whose Delete must remove it.
// Each corruption is planted twice: on the sealed row the store wrote,
// and with the seal and size taken away, as on a row of an earlier
// release, so both the sealed statement and the full check meet it.
func TestCorrupt(t *testing.T) {
	db := testDB(t)
	table, opt := testTable(t)
	s := newTestStore(t, db, opt, WithCreateSchema(true), WithCleanupInterval(0))
	for _, unsealed := range []bool{false, true} {
		for _, c := range corruptions {
			name := c.name
			if unsealed {
				name += " (unsealed)"
			}
			t.Run(name, func(t *testing.T) { testCorruption(t, s, db, table, c, unsealed) })
		}
	}
}

// testCorruption is TestCorrupt for one corruption, on a sealed row or,
// when unsealed is true, on one whose seal and size are NULL.
func testCorruption(t *testing.T, s *Store, db *sql.DB, table string, c corruption, unsealed bool) {
	ctx := context.Background()
	key := storetest.NewKey(t)
	owner := enginetest.UniqueName("corrupt-")
	rec := enginetest.LiveRecord("a", "1", "b", "2")
	rec.Owner = owner
	require.NoError(t, s.Create(ctx, key, rec))
	plant(t, db, table, key, c)
	if unsealed {
		plant(t, db, table, key, corruption{name: "unseal", set: "seal = NULL, size = NULL"})
	}
	before := rawRow(t, db, table, key)

	want := store.ErrCorrupt
	if c.gone {
		want = store.ErrNotFound
	}
	_, err := s.Load(ctx, key)
	require.ErrorIs(t, err, want, "Load")
	if !c.gone {
		require.ErrorContains(t, err, "mysqlstore: load: corrupt session record under key")
	}
	_, err = s.Version(ctx, key)
	require.ErrorIs(t, err, want, "Version")
	exp := time.Now().Add(time.Hour)
	_, err = s.Update(ctx, key, store.Change{Set: map[string][]byte{"a": []byte("2")}, Expires: exp, Owner: ptr("other")})
	require.ErrorIs(t, err, store.ErrNotFound, "unconditional Update")
	_, err = s.Update(ctx, key, store.Change{Set: map[string][]byte{"a": []byte("2")}, Expect: map[string][]byte{"a": []byte("1")}})
	require.ErrorIs(t, err, want, "Update with Expect")
	_, err = s.Update(ctx, key, store.Change{Set: map[string][]byte{"c": []byte("3")}, MaxSize: 1000})
	require.ErrorIs(t, err, want, "Update with MaxSize")
	_, err = s.Update(ctx, key, store.Change{Set: map[string][]byte{"b": []byte("3")}, Remove: []string{"a"}, MaxSize: 1000})
	require.ErrorIs(t, err, want, "Update with MaxSize touching the fields")
	to := storetest.NewKey(t)
	_, err = s.Move(ctx, key, to, store.Change{Expires: exp})
	require.ErrorIs(t, err, want, "Move")
	assert.Equal(t, 0, rowCount(t, db, table, to), "Move left a row under the new key")
	owned, err := s.Owned(ctx, owner)
	require.NoError(t, err)
	assert.Empty(t, owned, "Owned lists a corrupt session")
	assert.Equal(t, before, rawRow(t, db, table, key), "a refused call changed the row")

	storetest.Corrupt(t, s, key)
}

// TestCorruptionsTheSchemaRefuses: invalid JSON and NULL in a NOT NULL
// column cannot be planted; a server that takes them anyway (a non-strict
// sql_mode turns NULL into 0) leaves a row the store finds corrupt or
// missing.
func TestCorruptionsTheSchemaRefuses(t *testing.T) {
	db := testDB(t)
	table, opt := testTable(t)
	s := newTestStore(t, db, opt, WithCreateSchema(true), WithCleanupInterval(0))
	ctx := context.Background()
	for _, c := range []corruption{
		dataIs("invalid JSON", `{"YQ":"MQ=="`),
		dataIs("not JSON", `garbage`),
		{name: "NULL data", set: "data = NULL"},
		{name: "NULL version", set: "version = NULL"},
		{name: "NULL created", set: "created = NULL"},
		{name: "NULL expires", set: "expires = NULL"},
	} {
		t.Run(c.name, func(t *testing.T) {
			key := storetest.NewKey(t)
			require.NoError(t, s.Create(ctx, key, enginetest.LiveRecord("a", "1")))
			_, err := db.ExecContext(ctx, "UPDATE "+quoteTable(table)+" SET "+c.set+" WHERE session_key = ?", append(c.args, key)...)
			if err != nil {
				t.Logf("refused by the server: %v", err)
				_, err = s.Load(ctx, key)
				require.NoError(t, err, "the row was left as it was")
				return
			}
			storetest.Corrupt(t, s, key)
		})
	}
}

// TestCorruptRowsCleanedUp: expired rows holding every corruption are
// deleted by the cleanup like any other, by DeleteExpired and by the
// background loop, and do not stop it.
func TestCorruptRowsCleanedUp(t *testing.T) {
	db := testDB(t)
	table, opt := testTable(t)
	manual := newTestStore(t, db, opt, WithCreateSchema(true), WithCleanupInterval(0))
	ctx := context.Background()
	// plantExpired creates a session per corruption, plants it and moves
	// the row's expiry into the past.
	plantExpired := func() []string {
		var keys []string
		for _, c := range corruptions {
			key := storetest.NewKey(t)
			require.NoError(t, manual.Create(ctx, key, enginetest.LiveRecord("a", "1")))
			plant(t, db, table, key, c)
			_, err := db.ExecContext(ctx, "UPDATE "+quoteTable(table)+" SET expires = LEAST(expires, 1) WHERE session_key = ?", key)
			require.NoError(t, err)
			keys = append(keys, key)
		}
		return keys
	}
	gone := func(keys []string) bool {
		for _, key := range keys {
			if rowCount(t, db, table, key) != 0 {
				return false
			}
		}
		return true
	}
	live := storetest.NewKey(t)
	require.NoError(t, manual.Create(ctx, live, enginetest.LiveRecord("a", "1")))

	keys := plantExpired()
	n, err := manual.DeleteExpired(ctx)
	require.NoError(t, err)
	assert.Equal(t, int64(len(keys)), n, "rows deleted")
	assert.True(t, gone(keys), "DeleteExpired left a corrupt row")

	keys = plantExpired()
	newTestStore(t, db, opt, WithCleanupInterval(20*time.Millisecond))
	require.Eventually(t, func() bool { return gone(keys) }, 10*time.Second, 10*time.Millisecond,
		"the cleanup loop deletes the corrupt rows")
	assert.Equal(t, 1, rowCount(t, db, table, live), "the live session")
}

// TestUserRecoversFromCorruption: for each corruption, a user whose row
// was damaged can read (and gets a fresh session), sign out and sign in
// through a manager, with no 500.
func TestUserRecoversFromCorruption(t *testing.T) {
	db := testDB(t)
	table, opt := testTable(t)
	s := newTestStore(t, db, opt, WithCreateSchema(true), WithCleanupInterval(0))
	for _, c := range corruptions {
		t.Run(c.name, func(t *testing.T) {
			enginetest.UserRecovers(t, s, func(t *testing.T, key string) {
				plant(t, db, table, key, c)
			})
		})
	}
}

// TestServerAgreesWithStore: for documents the store writes and for
// corrupt ones, the server's size of a row (sizeSQL, which Update's size
// limit and every corruption check use) is store.Size of what
// decodeFields reads, and NULL exactly where decodeFields fails.
func TestServerAgreesWithStore(t *testing.T) {
	db := testDB(t)
	table, opt := testTable(t)
	s := newTestStore(t, db, opt, WithCreateSchema(true), WithCleanupInterval(0))
	ctx := context.Background()
	type doc struct {
		text  string
		valid bool
	}
	docs := []doc{
		{encodeFields(nil), true},
		{encodeFields(map[string][]byte{"a": nil}), true},
		{encodeFields(map[string][]byte{"a": {}, "bb": {0}, "ccc": {0, 1}, "dddd": {0, 1, 2}}), true},
		{encodeFields(map[string][]byte{"ключ 🍪": []byte("значение"), `"\`: []byte("x"), "$.a[0]": {0xff, 0xfe}}), true},
		{encodeFields(map[string][]byte{strings.Repeat("k", 128): []byte(strings.Repeat("v", 1000))}), true},
		{encodeFields(map[string][]byte{"big": []byte(strings.Repeat("\x00\xff", 40000))}), true},
		// Names of maxNameLen-1 and maxNameLen characters: the longest
		// kept, and the shortest refused by both.
		{encodeFields(map[string][]byte{strings.Repeat("n", 1535): []byte("v")}), true},
		{encodeFields(map[string][]byte{strings.Repeat("n", 1536): []byte("v")}), false},
	}
	for _, c := range corruptions {
		if len(c.args) == 1 {
			docs = append(docs, doc{c.args[0].(string), false})
		}
	}
	key := storetest.NewKey(t)
	require.NoError(t, s.Create(ctx, key, enginetest.LiveRecord()))
	for _, d := range docs {
		_, err := db.ExecContext(ctx, "UPDATE "+quoteTable(table)+" SET data = ? WHERE session_key = ?", d.text, key)
		require.NoError(t, err)
		var stored []byte
		var size sql.NullInt64
		require.NoError(t, db.QueryRowContext(ctx, "SELECT data, "+sizeSQL+" FROM "+quoteTable(table)+" WHERE session_key = ?", key).Scan(&stored, &size))
		fields, err := decodeFields(stored)
		assert.Equal(t, d.valid, err == nil, "the store parses %s: %v", short(d.text), err)
		assert.Equal(t, d.valid, size.Valid, "the server parses %s", short(d.text))
		if err == nil && size.Valid {
			assert.Equal(t, int64(store.Size(fields)), size.Int64, "size of %s", short(d.text))
		}
	}
}

// plant applies c to the row of key.
func plant(t *testing.T, db *sql.DB, table, key string, c corruption) {
	t.Helper()
	res, err := db.Exec("UPDATE "+quoteTable(table)+" SET "+c.set+" WHERE session_key = ?", append(c.args, key)...)
	require.NoError(t, err, "plant %s", c.name)
	n, err := res.RowsAffected()
	require.NoError(t, err)
	require.EqualValues(t, 1, n, "plant %s: rows changed", c.name)
}

// rawRow returns the row of key as text, for comparing before and after.
func rawRow(t *testing.T, db *sql.DB, table, key string) string {
	t.Helper()
	var created, expires, version int64
	var owner, data []byte
	require.NoError(t, db.QueryRow("SELECT created, expires, version, owner, data FROM "+quoteTable(table)+" WHERE session_key = ?", key).
		Scan(&created, &expires, &version, &owner, &data))
	return fmt.Sprintf("created=%d expires=%d version=%d owner=%q data=%s", created, expires, version, owner, data)
}

// short returns doc cut to a readable length.
func short(doc string) string {
	if len(doc) > 80 {
		return doc[:80] + "..."
	}
	return doc
}

// ptr returns a pointer to v.
func ptr[T any](v T) *T { return &v }
