package mysqlstore

import (
	"context"
	"database/sql"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sessiongen/sessiongen/runtime/store"
	"github.com/sessiongen/sessiongen/runtime/store/internal/enginetest"
	"github.com/sessiongen/sessiongen/runtime/store/storetest"
)

// requireSealed asserts that the row of key is sealed (its seal matches
// its size and data) and that its size column is store.Size of the fields
// the store reads from it.
func requireSealed(t *testing.T, s *Store, db *sql.DB, table, key, what string) {
	t.Helper()
	var sealed sql.NullBool
	var size sql.NullInt64
	require.NoError(t, db.QueryRow("SELECT "+sealedSQL+", size FROM "+quoteTable(table)+" WHERE session_key = ?", key).
		Scan(&sealed, &size), what)
	require.True(t, sealed.Valid && sealed.Bool, "%s: the row is sealed", what)
	rec, err := s.Load(context.Background(), key)
	require.NoError(t, err, what)
	require.True(t, size.Valid, "%s: size is set", what)
	assert.Equal(t, int64(store.Size(rec.Fields)), size.Int64, "%s: the size column", what)
}

// TestSealedWrites: every write leaves the row sealed with the session's
// size: Create, Updates setting, overwriting and removing fields (with
// and without a limit, and one changing only the expiry), Move, and a
// Create taking over an expired row. On a sealed row the size limit is
// decided from the size column as Change.Check decides it.
func TestSealedWrites(t *testing.T) {
	db := testDB(t)
	table, opt := testTable(t)
	s := newTestStore(t, db, opt, WithCreateSchema(true), WithCleanupInterval(0))
	ctx := context.Background()
	key := storetest.NewKey(t)
	require.NoError(t, s.Create(ctx, key, enginetest.LiveRecord("a", "1", "b", "2")))
	requireSealed(t, s, db, table, key, "Create")

	steps := []struct {
		name string
		c    store.Change
		err  error
	}{
		{"set a field", store.Change{Set: map[string][]byte{"c": []byte("3")}}, nil},                                      // 6
		{"overwrite a field within the limit", store.Change{Set: map[string][]byte{"a": []byte("111")}, MaxSize: 8}, nil}, // 8
		{"grow past the limit", store.Change{Set: map[string][]byte{"d": []byte("4")}, MaxSize: 9}, store.ErrTooLarge},
		{"shrink, whatever the limit", store.Change{Set: map[string][]byte{"a": []byte("1")}, MaxSize: 2}, nil}, // 6
		{"remove and set", store.Change{Set: map[string][]byte{"d": []byte("44")}, Remove: []string{"b", "zz"}, MaxSize: 7}, nil},
		{"expiry only", store.Change{Expires: time.Now().Add(2 * time.Hour)}, nil},
		{"remove every field", store.Change{Remove: []string{"a", "c", "d"}}, nil},
	}
	for _, step := range steps {
		_, err := s.Update(ctx, key, step.c)
		if step.err != nil {
			require.ErrorIs(t, err, step.err, step.name)
		} else {
			require.NoError(t, err, step.name)
		}
		requireSealed(t, s, db, table, key, step.name)
	}

	to := storetest.NewKey(t)
	_, err := s.Move(ctx, key, to, store.Change{Set: map[string][]byte{"m": []byte("moved")}, Expires: time.Now().Add(time.Hour)})
	require.NoError(t, err)
	requireSealed(t, s, db, table, to, "Move")

	old := storetest.NewKey(t)
	require.NoError(t, s.Create(ctx, old, enginetest.ExpiredRecord()))
	require.NoError(t, s.Create(ctx, old, enginetest.LiveRecord("x", "takeover")))
	requireSealed(t, s, db, table, old, "Create over an expired row")
}

// TestUnsealedRows: a row whose seal does not match (one of an earlier
// release, with no size or seal; one whose size or document was changed
// by hand) gets the full check: its fields read as stored, the size
// limit is decided by its real size, not the size column, and the next
// Update seals it. Fields "a" and "b" hold "1" and "2" (size 4) unless
// the plant says otherwise.
func TestUnsealedRows(t *testing.T) {
	db := testDB(t)
	table, opt := testTable(t)
	s := newTestStore(t, db, opt, WithCreateSchema(true), WithCleanupInterval(0))
	ctx := context.Background()
	for _, c := range []struct {
		name   string
		set    string
		args   []any
		fields map[string]string
	}{
		{"earlier release", "size = NULL, seal = NULL", nil, map[string]string{"a": "1", "b": "2"}},
		{"size too large", "size = 1000", nil, map[string]string{"a": "1", "b": "2"}},
		{"size too small", "size = 0", nil, map[string]string{"a": "1", "b": "2"}},
		{"seal changed", "seal = seal + 1", nil, map[string]string{"a": "1", "b": "2"}},
		{"document changed", "data = ?", []any{encodeFields(map[string][]byte{"a": []byte("123")})}, map[string]string{"a": "123"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			key := storetest.NewKey(t)
			require.NoError(t, s.Create(ctx, key, enginetest.LiveRecord("a", "1", "b", "2")))
			plant(t, db, table, key, corruption{name: c.name, set: c.set, args: c.args})

			rec, err := s.Load(ctx, key)
			require.NoError(t, err)
			want := map[string][]byte{}
			size := 0
			for k, v := range c.fields {
				want[k] = []byte(v)
				size += len(k) + len(v)
			}
			assert.Equal(t, want, rec.Fields)

			// Setting "c" to "3" adds 2 bytes: refused by a limit one
			// short of the real size after, taken at that size.
			_, err = s.Update(ctx, key, store.Change{Set: map[string][]byte{"c": []byte("3")}, MaxSize: size + 1})
			require.ErrorIs(t, err, store.ErrTooLarge, "a limit below the real size after")
			_, err = s.Update(ctx, key, store.Change{Set: map[string][]byte{"c": []byte("3")}, MaxSize: size + 2})
			require.NoError(t, err, "a limit at the real size after")
			requireSealed(t, s, db, table, key, "after the Update")
		})
	}
}
