package session

import (
	"context"
	"maps"
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sessiongen/sessiongen/runtime/store"
	"github.com/sessiongen/sessiongen/runtime/store/memstore"
)

// plantingStore is a real memory engine whose Load and Move answers
// also hold the fields in planted, as an engine holding fields no
// manager wrote (planted by hand, or by another program) returns them.
type plantingStore struct {
	*memstore.Store
	planted map[string][]byte
}

func (p plantingStore) with(rec store.Record) store.Record {
	fields := maps.Clone(rec.Fields)
	if fields == nil {
		fields = map[string][]byte{}
	}
	maps.Copy(fields, p.planted)
	rec.Fields = fields
	return rec
}

func (p plantingStore) Load(ctx context.Context, key string) (store.Record, error) {
	rec, err := p.Store.Load(ctx, key)
	return p.with(rec), err
}

func (p plantingStore) Move(ctx context.Context, from, to string, c store.Change) (store.Record, error) {
	rec, err := p.Store.Move(ctx, from, to, c)
	return p.with(rec), err
}

// TestPlantedFieldNames serves a session whose engine record holds,
// beside the session's own field, fields no manager writes (an empty
// name, a control character, invalid UTF-8, an empty value), from a
// manager with a cold cache: the session reads without them (Keys,
// Size), is reported in the log with its hash, and Renew, a write, a
// second read and Destroy all succeed, the moved session without them
// either (the engine here returns them from Move too, as one that does
// not filter them would).
func TestPlantedFieldNames(t *testing.T) {
	ctx := context.Background()
	mem := memstore.New()
	t.Cleanup(func() { _ = mem.Close() })
	c := newHarnessOn(t, mem).newSession("uid", 42)
	planted := map[string][]byte{"": {1}, "ctl\x01": {1}, "bad\xc3\x28": {1}, "empty": {}}
	h := newHarnessOn(t, plantingStore{mem, planted}) // a cold cache: the engine is read
	key := store.Key(c.Value)
	var renewed *http.Cookie
	resp := h.do(func(w http.ResponseWriter, r *http.Request, s *Session) {
		assert.Equal(t, []string{"uid"}, s.Keys())
		assert.Equal(t, 3+1, s.Size(), `"uid" and 42 encoded`)
		require.NoError(t, s.Renew(r.Context()))
		assert.Equal(t, []string{"uid"}, s.Keys(), "after Renew")
		require.NoError(t, s.Set(r.Context(), "uid", 7))
	}, c)
	require.Equal(t, http.StatusOK, resp.Code, resp.Body.String())
	renewed = sidCookie(resp.Result())
	require.NotNil(t, renewed)
	require.NotEqual(t, c.Value, renewed.Value)
	assert.Contains(t, h.log.String(), "invalid names")
	assert.Contains(t, h.log.String(), key, "the report names the hash")
	assert.NotContains(t, h.log.String(), c.Value, "the ID is never logged")

	fresh := newHarnessOn(t, mem)
	resp = fresh.do(func(w http.ResponseWriter, r *http.Request, s *Session) {
		assert.Equal(t, []string{"uid"}, s.Keys())
		v, ok, err := Value[int](s, "uid")
		require.NoError(t, err)
		assert.True(t, ok)
		assert.Equal(t, 7, v)
		require.NoError(t, s.Destroy(r.Context()))
	}, renewed)
	require.Equal(t, http.StatusOK, resp.Code, resp.Body.String())
	_, err := mem.Load(ctx, store.Key(renewed.Value))
	require.ErrorIs(t, err, store.ErrNotFound, "Destroy removed the session, planted fields and all")
}
