package session

import (
	"context"
	"errors"
	"log/slog"
	"math"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/vmihailenco/msgpack/v5"
)

func TestSetGetRemoveKeysSize(t *testing.T) {
	h := newHarness(t)
	c := h.newSession("name", "ada")

	h.do(func(w http.ResponseWriter, r *http.Request, s *Session) {
		ctx := r.Context()
		var name string
		ok, err := s.Get("name", &name)
		require.NoError(t, err)
		require.True(t, ok)
		assert.Equal(t, "ada", name)

		require.NoError(t, s.Set(ctx, "n", 42))
		require.NoError(t, s.Set(ctx, "list", []string{"a", "b"}))
		assert.Equal(t, []string{"list", "n", "name"}, s.Keys())

		n, ok, err := Value[int](s, "n")
		require.NoError(t, err)
		assert.True(t, ok)
		assert.Equal(t, 42, n)

		var list []string
		ok, err = s.Get("list", &list)
		require.NoError(t, err)
		assert.True(t, ok)
		assert.Equal(t, []string{"a", "b"}, list)

		want := 0
		for _, k := range []string{"name", "n", "list"} {
			b, ok, err := s.Raw(k)
			require.NoError(t, err)
			require.True(t, ok)
			want += len(k) + len(b)
		}
		assert.Equal(t, want, s.Size())

		require.NoError(t, s.Remove(ctx, "name"))
		require.NoError(t, s.Remove(ctx, "absent"))
		_, ok, err = Value[string](s, "name")
		require.NoError(t, err)
		assert.False(t, ok)
		assert.Equal(t, []string{"list", "n"}, s.Keys())
	}, c)

	rec, err := h.engineRecord(c)
	require.NoError(t, err)
	assert.NotContains(t, rec.Fields, "name")
	assert.Contains(t, rec.Fields, "n")
	assert.Contains(t, rec.Fields, "list")
}

func TestValueHotTypesRoundTrip(t *testing.T) {
	h := newHarness(t)
	now := time.Date(2024, 5, 6, 7, 8, 9, 123456789, time.UTC)
	h.do(func(w http.ResponseWriter, r *http.Request, s *Session) {
		ctx := r.Context()
		sets := map[string]any{
			"b": true, "i": -5, "i8": int8(-100), "i16": int16(-30000), "i32": int32(1 << 30),
			"i64": int64(math.MinInt64), "u": uint(7), "u8": uint8(200), "u16": uint16(60000),
			"u32": uint32(1 << 31), "u64": uint64(math.MaxUint64), "f32": float32(1.5),
			"f64": 2.25, "s": "héllo", "bs": []byte{1, 2, 3}, "t": now, "d": 90 * time.Second,
		}
		for k, v := range sets {
			require.NoError(t, s.Set(ctx, k, v), k)
		}
		check := func(got any, ok bool, err error, want any) {
			t.Helper()
			require.NoError(t, err)
			require.True(t, ok)
			assert.Equal(t, want, got)
		}
		v1, ok, err := Value[bool](s, "b")
		check(v1, ok, err, true)
		v2, ok, err := Value[int](s, "i")
		check(v2, ok, err, -5)
		v3, ok, err := Value[int8](s, "i8")
		check(v3, ok, err, int8(-100))
		v4, ok, err := Value[int16](s, "i16")
		check(v4, ok, err, int16(-30000))
		v5, ok, err := Value[int32](s, "i32")
		check(v5, ok, err, int32(1<<30))
		v6, ok, err := Value[int64](s, "i64")
		check(v6, ok, err, int64(math.MinInt64))
		v7, ok, err := Value[uint](s, "u")
		check(v7, ok, err, uint(7))
		v8, ok, err := Value[uint8](s, "u8")
		check(v8, ok, err, uint8(200))
		v9, ok, err := Value[uint16](s, "u16")
		check(v9, ok, err, uint16(60000))
		v10, ok, err := Value[uint32](s, "u32")
		check(v10, ok, err, uint32(1<<31))
		v11, ok, err := Value[uint64](s, "u64")
		check(v11, ok, err, uint64(math.MaxUint64))
		v12, ok, err := Value[float32](s, "f32")
		check(v12, ok, err, float32(1.5))
		v13, ok, err := Value[float64](s, "f64")
		check(v13, ok, err, 2.25)
		v14, ok, err := Value[string](s, "s")
		check(v14, ok, err, "héllo")
		v15, ok, err := Value[[]byte](s, "bs")
		check(v15, ok, err, []byte{1, 2, 3})
		v16, ok, err := Value[time.Time](s, "t")
		require.NoError(t, err)
		require.True(t, ok)
		assert.True(t, v16.Equal(now))
		v17, ok, err := Value[time.Duration](s, "d")
		check(v17, ok, err, 90*time.Second)

		// The bytes are what msgpack itself reads, as the same Go types.
		b, _, _ := s.Raw("u16")
		var viaMsgpack uint16
		require.NoError(t, msgpack.Unmarshal(b, &viaMsgpack))
		assert.Equal(t, uint16(60000), viaMsgpack)
	})
}

type profile struct {
	Name  string
	Roles []string
	Seen  map[string]int
}

func TestValueStructThroughMsgpack(t *testing.T) {
	h := newHarness(t)
	want := profile{Name: "ada", Roles: []string{"admin"}, Seen: map[string]int{"x": 1}}
	c := h.newSession("profile", want)
	h.do(func(w http.ResponseWriter, r *http.Request, s *Session) {
		got, ok, err := Value[profile](s, "profile")
		require.NoError(t, err)
		require.True(t, ok)
		assert.Equal(t, want, got)

		var p profile
		ok, err = s.Get("profile", &p)
		require.NoError(t, err)
		assert.True(t, ok)
		assert.Equal(t, want, p)

		anyv, ok, err := Value[any](s, "profile")
		require.NoError(t, err)
		assert.True(t, ok)
		assert.NotNil(t, anyv)
	}, c)
}

func TestDecodeErrorNamesKeyAndType(t *testing.T) {
	h := newHarness(t)
	h.do(func(w http.ResponseWriter, r *http.Request, s *Session) {
		ctx := r.Context()
		require.NoError(t, s.Set(ctx, "word", "hello"))
		require.NoError(t, s.Set(ctx, "big", 300))

		n, ok, err := Value[int](s, "word")
		require.ErrorIs(t, err, ErrDecode)
		assert.Contains(t, err.Error(), `"word"`)
		assert.Contains(t, err.Error(), "int")
		assert.False(t, ok)
		assert.Zero(t, n)

		_, _, err = Value[int8](s, "big")
		require.ErrorIs(t, err, ErrDecode, "a narrow integer out of range is an error, not a wrapped value")
		assert.Contains(t, err.Error(), `"big"`)
		assert.Contains(t, err.Error(), "int8")

		var i8 int8
		_, err = s.Get("big", &i8)
		require.ErrorIs(t, err, ErrDecode)

		_, _, err = Value[profile](s, "word")
		require.ErrorIs(t, err, ErrDecode)
		assert.Contains(t, err.Error(), "session.profile")

		var p profile
		_, err = s.Get("word", &p)
		require.ErrorIs(t, err, ErrDecode)
		assert.Contains(t, err.Error(), `"word"`)
		assert.Contains(t, err.Error(), "session.profile")

		_, err = s.Get("word", nil)
		require.ErrorIs(t, err, ErrDecode)
		var np *int
		_, err = s.Get("big", np)
		require.ErrorIs(t, err, ErrDecode, "a nil pointer is an error, not a panic")
	})
}

func TestUnencodableValue(t *testing.T) {
	h := newHarness(t)
	h.do(func(w http.ResponseWriter, r *http.Request, s *Session) {
		ctx := r.Context()
		for name, v := range map[string]any{
			"ch":     make(chan int),
			"fn":     func() {},
			"nested": struct{ C chan int }{make(chan int)},
		} {
			err := s.Set(ctx, name, v)
			require.ErrorIs(t, err, ErrEncode, name)
			assert.Contains(t, err.Error(), `"`+name+`"`)
		}
		assert.Empty(t, s.Keys())
		assert.Empty(t, s.ID(), "a failed first Set creates no session")
	})
	assert.Zero(t, h.store.creates.Load())
}

func TestInvalidKeys(t *testing.T) {
	h := newHarness(t)
	h.do(func(w http.ResponseWriter, r *http.Request, s *Session) {
		ctx := r.Context()
		for _, key := range []string{"", strings.Repeat("k", MaxKeyLen+1), "bad\xff", "nul\x00", "tab\t", "del\x7f", strings.Repeat("x", 8192)} {
			err := s.Set(ctx, key, 1)
			require.ErrorIs(t, err, ErrInvalidKey)
			assert.Less(t, len(err.Error()), 200, "a long key is shortened in the message")
			require.ErrorIs(t, s.Remove(ctx, key), ErrInvalidKey)
			require.ErrorIs(t, s.SetRaw(ctx, key, []byte{1}), ErrInvalidKey)
			require.ErrorIs(t, s.SetRawFields(ctx, []Field{{Key: key, Value: []byte{1}}}), ErrInvalidKey)
		}
		require.NoError(t, s.Set(ctx, strings.Repeat("k", MaxKeyLen), 1), "128 bytes is allowed")
		require.NoError(t, s.Set(ctx, "ключ", 1), "non-ASCII UTF-8 is allowed")
	})
}

func TestNilSessionWithoutMiddleware(t *testing.T) {
	s := FromContext(context.Background())
	require.Nil(t, s)
	req, err := http.NewRequest(http.MethodGet, "/", nil)
	require.NoError(t, err)
	require.Nil(t, FromContext(req.Context()))
	//lint:ignore SA1012 a nil context must not panic
	require.Nil(t, FromContext(nil))

	ctx := context.Background()
	assert.Equal(t, "", s.ID())
	assert.Nil(t, s.Keys())
	assert.Equal(t, 0, s.Size())
	_, err = s.Get("k", new(int))
	assert.ErrorIs(t, err, ErrNoSession)
	assert.ErrorIs(t, s.Set(ctx, "k", 1), ErrNoSession)
	assert.ErrorIs(t, s.Remove(ctx, "k"), ErrNoSession)
	assert.ErrorIs(t, s.Renew(ctx), ErrNoSession)
	assert.ErrorIs(t, s.Destroy(ctx), ErrNoSession)
	_, _, err = s.Raw("k")
	assert.ErrorIs(t, err, ErrNoSession)
	assert.ErrorIs(t, s.SetRaw(ctx, "k", []byte{1}), ErrNoSession)
	assert.ErrorIs(t, s.SetRawFields(ctx, []Field{{Key: "k", Value: []byte{1}}}), ErrNoSession)
	_, _, err = Value[int64](s, "k")
	assert.ErrorIs(t, err, ErrNoSession)

	var logged syncBuffer
	prev := slog.Default()
	slog.SetDefault(slog.New(slog.NewTextHandler(&logged, nil)))
	defer slog.SetDefault(prev)
	assert.NotPanics(t, func() { s.Report(ctx, errors.New("reported without a session")) })
	assert.Contains(t, logged.String(), "reported without a session", "a nil session reports to slog.Default")
}

func TestNoIdentityMatches(t *testing.T) {
	h := newHarness(t, WithIdentities(&identityForPath{prefix: "/app"}))
	rec := h.do(func(w http.ResponseWriter, r *http.Request, s *Session) {
		require.NotNil(t, s)
		err := s.Set(r.Context(), "k", 1)
		require.ErrorIs(t, err, ErrNoSession)
		_, _, err = Value[int](s, "k")
		require.ErrorIs(t, err, ErrNoSession)
		w.WriteHeader(http.StatusTeapot)
	})
	assert.Equal(t, http.StatusTeapot, rec.Code, "no identity is not a failed request")
	assert.Zero(t, h.store.calls())
}

func TestRawPrimitives(t *testing.T) {
	h := newHarness(t)
	c := h.newSession("a", 1)
	h.do(func(w http.ResponseWriter, r *http.Request, s *Session) {
		ctx := r.Context()
		buf := []byte{0xa3, 'x', 'y', 'z'}
		require.NoError(t, s.SetRaw(ctx, "s", buf))
		buf[1] = 'Q' // SetRaw copied it
		v, ok, err := Value[string](s, "s")
		require.NoError(t, err)
		require.True(t, ok)
		assert.Equal(t, "xyz", v)

		for _, bad := range [][]byte{nil, {}, {0xa3, 'x'}, {0x01, 0x02}, {0xc1}, {0x92, 0x01}} {
			require.ErrorIs(t, s.SetRaw(ctx, "bad", bad), ErrInvalidValue, "%x", bad)
		}
		nested := []byte{0x82, 0xa1, 'a', 0x91, 0x01, 0xa1, 'b', 0xc0}
		require.NoError(t, s.SetRaw(ctx, "map", nested))

		before := h.store.updates.Load()
		require.NoError(t, s.SetRawFields(ctx, []Field{
			{Key: "x", Value: []byte{0x05}},
			{Key: "y", Value: []byte{0x06}},
			{Key: "a"}, // nil removes
		}))
		assert.Equal(t, before+1, h.store.updates.Load(), "several fields, one engine call")
		assert.Equal(t, []string{"map", "s", "x", "y"}, s.Keys())

		require.ErrorIs(t, s.SetRawFields(ctx, []Field{{Key: "ok", Value: []byte{1}}, {Key: "bad", Value: []byte{0xc1}}}), ErrInvalidValue)
		_, ok, _ = s.Raw("ok")
		assert.False(t, ok, "a refused batch writes nothing")
	}, c)
	rec, err := h.engineRecord(c)
	require.NoError(t, err)
	assert.Equal(t, []byte{0x05}, rec.Fields["x"])
	assert.NotContains(t, rec.Fields, "a")
}

func TestReportLogsAndCallsReporter(t *testing.T) {
	var got []error
	h := newHarness(t, WithErrorReporter(func(ctx context.Context, err error) { got = append(got, err) }))
	h.do(func(w http.ResponseWriter, r *http.Request, s *Session) {
		s.Report(r.Context(), errors.New("getter broke"))
		s.Report(r.Context(), nil)
	})
	require.Len(t, got, 1)
	assert.Contains(t, h.log.String(), "getter broke")
	assert.Equal(t, 1, strings.Count(h.log.String(), "\n"))
}

func TestNilContextUsesRequestContext(t *testing.T) {
	h := newHarness(t)
	c := h.newSession("k", 1)
	h.do(func(w http.ResponseWriter, r *http.Request, s *Session) {
		//lint:ignore SA1012 a nil context must not panic
		require.NoError(t, s.Set(nil, "x", 1))
		//lint:ignore SA1012 a nil context must not panic
		require.NoError(t, s.Renew(nil))
		//lint:ignore SA1012 a nil context must not panic
		require.NoError(t, s.Destroy(nil))
	}, c)
}
