package session

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
	"unsafe"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/vmihailenco/msgpack/v5"

	"github.com/sessiongen/sessiongen/runtime/codec"
	"github.com/sessiongen/sessiongen/runtime/identity"
	"github.com/sessiongen/sessiongen/runtime/internal/alloctest"
	"github.com/sessiongen/sessiongen/runtime/store"
	"github.com/sessiongen/sessiongen/runtime/store/memstore"
)

// Stored bytes are data, not trusted code: an engine can hold anything (a
// bug, a restored backup, an attacker with write access to Redis). These
// tests plant hostile values straight into the engine and read them back
// through Get and Value, asserting an error wrapping ErrDecode and an
// allocation bounded by the size of the input.

// allocBound is the most a decode of n bytes into the targets below may
// allocate: a small multiple of its size plus a constant for the decoder
// itself. The multiple is set by the worst case, which is Go's and not
// msgpack's: a one-entry Go map costs about 336 bytes (map header and a
// group of 8 slots), and msgpack nests one in 2 bytes (fixmap, empty
// key), so nested one-entry maps cost about 168 bytes per byte (see
// TestDecodeWorstCaseRatio). A target whose elements are larger in Go
// allocates proportionally more: msgpack can fill a slice of n elements
// with n bytes of nil, and makes the slice twice (see structBound).
func allocBound(n int) uint64 {
	return 192*uint64(n) + 64<<10
}

// structBound is allocBound for a []decodeTarget, whose elements are 128
// bytes each: msgpack allocates the slice, then copies it once.
func structBound(n int) uint64 {
	return max(allocBound(n), (3*uint64(unsafe.Sizeof(decodeTarget{})))*uint64(n)+64<<10)
}

// allocated returns the bytes fn allocates (the least of three runs).
var allocated = alloctest.Bytes

// decodeTarget is a struct with nested slices, maps and pointers, the
// shape of a typical untyped session value.
type decodeTarget struct {
	Name  string
	IDs   []int
	Tags  map[string]string
	Grid  [][]string
	Attrs map[string]any
	Next  *decodeTarget
	When  time.Time
	Any   any
}

// decodeTargetFns reads a key into one destination type, with Get into a
// fresh variable and with Value[T].
type decodeTargetFns struct {
	name  string
	get   func(s *Session, key string) (bool, error)
	value func(s *Session, key string) error
}

// decodeTargets are the destinations of the reflective path under test.
var decodeTargets = []decodeTargetFns{
	{"any",
		func(s *Session, key string) (bool, error) { var v any; return s.Get(key, &v) },
		func(s *Session, key string) error { _, _, err := Value[any](s, key); return err }},
	{"map[string]any",
		func(s *Session, key string) (bool, error) { var v map[string]any; return s.Get(key, &v) },
		func(s *Session, key string) error { _, _, err := Value[map[string]any](s, key); return err }},
	{"[]int",
		func(s *Session, key string) (bool, error) { var v []int; return s.Get(key, &v) },
		func(s *Session, key string) error { _, _, err := Value[[]int](s, key); return err }},
	{"[]any",
		func(s *Session, key string) (bool, error) { var v []any; return s.Get(key, &v) },
		func(s *Session, key string) error { _, _, err := Value[[]any](s, key); return err }},
	{"map[string]string",
		func(s *Session, key string) (bool, error) { var v map[string]string; return s.Get(key, &v) },
		func(s *Session, key string) error { _, _, err := Value[map[string]string](s, key); return err }},
	{"struct",
		func(s *Session, key string) (bool, error) { var v decodeTarget; return s.Get(key, &v) },
		func(s *Session, key string) error { _, _, err := Value[decodeTarget](s, key); return err }},
	{"[]struct",
		func(s *Session, key string) (bool, error) { var v []decodeTarget; return s.Get(key, &v) },
		func(s *Session, key string) error { _, _, err := Value[[]decodeTarget](s, key); return err }},
}

// plantRig is a manager over a memstore into which a test writes records
// directly, bypassing every check of the manager.
type plantRig struct {
	m   *Manager
	mem *memstore.Store
}

func newPlantRig(t testing.TB) *plantRig {
	t.Helper()
	mem := memstore.New()
	t.Cleanup(func() { _ = mem.Close() })
	m, err := New(WithStore(mem))
	require.NoError(t, err)
	t.Cleanup(func() { _ = m.Close() })
	return &plantRig{m: m, mem: mem}
}

// plant stores fields under a fresh session ID straight into the engine
// and returns the cookie that names the session.
func (p *plantRig) plant(t testing.TB, fields map[string][]byte) *http.Cookie {
	t.Helper()
	id, err := identity.NewID()
	require.NoError(t, err)
	now := time.Now()
	require.NoError(t, p.mem.Create(context.Background(), store.Key(id), store.Record{
		Fields: fields, Created: now, Expires: now.Add(time.Hour),
	}))
	return &http.Cookie{Name: identity.DefaultCookieName, Value: id}
}

// with runs fn inside the middleware for a request carrying c.
func (p *plantRig) with(c *http.Cookie, fn func(s *Session)) {
	req := httptest.NewRequest(http.MethodGet, "/", nil)
	if c != nil {
		req.AddCookie(c)
	}
	p.m.Handler(http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) {
		fn(FromContext(r.Context()))
	})).ServeHTTP(httptest.NewRecorder(), req)
}

// be32 is a big-endian 32-bit length.
func be32(n uint32) []byte { return []byte{byte(n >> 24), byte(n >> 16), byte(n >> 8), byte(n)} }

// cat concatenates byte slices.
func cat(parts ...[]byte) []byte { return bytes.Join(parts, nil) }

// hostileValues are stored values whose headers declare far more than
// the bytes that follow, or that nest far too deep.
func hostileValues() map[string][]byte {
	huge := be32(0xffffffff)
	top := map[string][]byte{
		"array32":  cat([]byte{0xdd}, huge),
		"map32":    cat([]byte{0xdf}, huge),
		"str32":    cat([]byte{0xdb}, huge),
		"bin32":    cat([]byte{0xc6}, huge),
		"ext32":    cat([]byte{0xc9}, huge, []byte{0x01}),
		"array16":  {0xdc, 0xff, 0xff},
		"map16":    {0xde, 0xff, 0xff},
		"array32+": cat([]byte{0xdd}, huge, bytes.Repeat([]byte{0x01}, 64)),
		"map32+":   cat([]byte{0xdf}, huge, bytes.Repeat([]byte{0xa0, 0x01}, 64)),
		// msgpack reads a map header from inside an ext payload when it
		// wants a map and meets an ext: five bytes of ext data would
		// declare 2^32 entries, or an entry would hold such an array.
		"ext-wrapped map32":   cat([]byte{0xc7, 0x05, 0x01, 0xdf}, huge),
		"ext-wrapped array32": cat([]byte{0xc7, 0x07, 0x01, 0x81, 0xa0, 0xdd}, huge),
		"fixext-wrapped map":  cat([]byte{0xd7, 0x01, 0xdf}, huge, []byte{0xa0, 0xc0, 0xc0}),
		"deep 1MB":            cat(bytes.Repeat([]byte{0x91}, 1<<20), []byte{0x01}),
		"deep maps":           cat(bytes.Repeat([]byte{0x81, 0xa1, 'A'}, 100), []byte{0xc0}),
	}
	out := map[string][]byte{}
	for name, v := range top {
		out[name] = v
		// The same value nested in a struct, as a field of each kind.
		for _, field := range []string{"IDs", "Tags", "Grid", "Attrs", "Any", "Next", "When"} {
			out[name+" in "+field] = cat([]byte{0x82, 0xa4, 'N', 'a', 'm', 'e', 0xa1, 'x', 0xa0 | byte(len(field))}, []byte(field), v)
		}
		// And as the element of an array.
		out[name+" in array"] = cat([]byte{0x92, 0x01}, v)
	}
	return out
}

func TestDecodeHostileValues(t *testing.T) {
	p := newPlantRig(t)
	var most uint64
	defer func() { t.Logf("most allocated by one decode of a hostile value: %d bytes", most) }()
	for name, b := range hostileValues() {
		c := p.plant(t, map[string][]byte{"k": b})
		p.with(c, func(s *Session) {
			raw, ok, err := s.Raw("k")
			require.NoError(t, err)
			require.True(t, ok, name)
			require.Equal(t, b, raw)
			for _, tg := range decodeTargets {
				var ok bool
				var gerr, verr error
				n := allocated(func() { ok, gerr = tg.get(s, "k") })
				m := allocated(func() { verr = tg.value(s, "k") })
				for what, err := range map[string]error{"Get": gerr, "Value": verr} {
					require.Error(t, err, "%s of %s into %s", what, name, tg.name)
					assert.ErrorIs(t, err, ErrDecode, "%s of %s into %s", what, name, tg.name)
				}
				assert.False(t, ok)
				most = max(most, n, m)
				bound := allocBound(len(b))
				if tg.name == "[]struct" {
					bound = structBound(len(b))
				}
				assert.LessOrEqual(t, n, bound, "Get of %s into %s allocated %d bytes for %d", name, tg.name, n, len(b))
				assert.LessOrEqual(t, m, bound, "Value of %s into %s allocated %d bytes for %d", name, tg.name, m, len(b))
			}
		})
	}
}

// TestDecodeHostileErrorNamesTheProblem checks that the error of a
// refused value says what is wrong, with the key and the type.
func TestDecodeHostileErrorNamesTheProblem(t *testing.T) {
	p := newPlantRig(t)
	c := p.plant(t, map[string][]byte{"cart": {0xdd, 0xff, 0xff, 0xff, 0xff}})
	p.with(c, func(s *Session) {
		var v []int
		_, err := s.Get("cart", &v)
		require.ErrorIs(t, err, ErrDecode)
		require.ErrorIs(t, err, codec.ErrMalformed)
		assert.Contains(t, err.Error(), `"cart"`)
		assert.Contains(t, err.Error(), "[]int")
		assert.Contains(t, err.Error(), "more elements declared than bytes remain (4294967295 declared, 0 bytes remain)")
	})
}

// TestDecodeStillReadsValidValues: the checks refuse nothing msgpack
// writes, including timestamps whose payload starts with a byte that
// would be a map header (an ext payload is read whole, never parsed).
func TestDecodeStillReadsValidValues(t *testing.T) {
	// 931135488 ns puts 0xde (map16) first in a timestamp 64's payload,
	// 0xdf000000 s does the same for a timestamp 32.
	t64 := time.Unix(1700000000, 931135488)
	t32 := time.Unix(0xdf000000, 0)
	deep := any(1)
	for range maxDepth {
		deep = []any{deep}
	}
	values := map[string]any{
		"struct": decodeTarget{
			Name: "n", IDs: []int{1, 2, 3}, Tags: map[string]string{"a": "b"},
			Grid: [][]string{{"x"}, {}}, Attrs: map[string]any{"t": t64, "n": 1.5, "l": []any{"s", true}},
			Next: &decodeTarget{Name: "inner", When: t32}, When: t64, Any: map[string]any{"k": []any{}},
		},
		"times":      []time.Time{t64, t32, time.Unix(1<<35, 5)},
		"time map":   map[string]time.Time{"a": t64, "b": t32},
		"deepest":    deep,
		"big array":  make([]int, 500),
		"big string": string(make([]byte, 900)),
	}
	p := newPlantRig(t)
	fields := map[string][]byte{}
	for k, v := range values {
		b, err := msgpack.Marshal(v)
		require.NoError(t, err)
		fields[k] = b
	}
	c := p.plant(t, fields)
	p.with(c, func(s *Session) {
		var st decodeTarget
		ok, err := s.Get("struct", &st)
		require.NoError(t, err)
		require.True(t, ok)
		assert.True(t, st.When.Equal(t64))
		assert.True(t, st.Next.When.Equal(t32))
		assert.True(t, st.Attrs["t"].(time.Time).Equal(t64))

		ts, ok, err := Value[[]time.Time](s, "times")
		require.NoError(t, err)
		require.True(t, ok)
		require.Len(t, ts, 3)
		assert.True(t, ts[0].Equal(t64) && ts[1].Equal(t32))

		tm, _, err := Value[map[string]time.Time](s, "time map")
		require.NoError(t, err)
		assert.True(t, tm["a"].Equal(t64))

		var a any
		_, err = s.Get("times", &a)
		require.NoError(t, err)

		_, _, err = Value[any](s, "deepest")
		require.NoError(t, err)
		n, _, err := Value[[]int](s, "big array")
		require.NoError(t, err)
		assert.Len(t, n, 500)
		str, _, err := Value[string](s, "big string")
		require.NoError(t, err)
		assert.Len(t, str, 900)
	})
}

// TestDecodeTooDeep: one level more than maxDepth is refused, however
// it is nested.
func TestDecodeTooDeep(t *testing.T) {
	deep := any(1)
	for range maxDepth + 1 {
		deep = []any{deep}
	}
	b, err := msgpack.Marshal(deep)
	require.NoError(t, err)
	p := newPlantRig(t)
	c := p.plant(t, map[string][]byte{"k": b})
	p.with(c, func(s *Session) {
		_, _, err := Value[any](s, "k")
		require.ErrorIs(t, err, ErrDecode)
		assert.Contains(t, err.Error(), "nested deeper than MaxDepth (64)")
	})
}

// TestSetRefusesWhatSetRawRefuses: msgpack.Marshal passes a RawMessage (or
// a MarshalMsgpack result) through as it is, so Set checks its output as
// SetRaw checks its input, and nothing changes on refusal.
func TestSetRefusesWhatSetRawRefuses(t *testing.T) {
	p := newPlantRig(t)
	c := p.plant(t, map[string][]byte{"keep": {0x01}})
	for name, v := range map[string]any{
		"array32":   msgpack.RawMessage{0xdd, 0xff, 0xff, 0xff, 0xff},
		"two":       msgpack.RawMessage{0x01, 0x02},
		"marshaler": hostileMarshaler{},
	} {
		p.with(c, func(s *Session) {
			err := s.Set(context.Background(), "k", v)
			require.ErrorIs(t, err, ErrInvalidValue, name)
			require.ErrorIs(t, err, ErrEncode, name)
			_, ok, err := s.Raw("k")
			require.NoError(t, err)
			assert.False(t, ok, "%s: refused value visible in the session", name)
			assert.Equal(t, []string{"keep"}, s.Keys())
		})
		rec, err := p.mem.Load(context.Background(), store.Key(c.Value))
		require.NoError(t, err)
		assert.Equal(t, map[string][]byte{"keep": {0x01}}, rec.Fields, name)
	}
	// A valid RawMessage still goes through.
	p.with(c, func(s *Session) {
		require.NoError(t, s.Set(context.Background(), "k", msgpack.RawMessage{0x92, 0x01, 0x02}))
		v, ok, err := Value[[]int](s, "k")
		require.NoError(t, err)
		require.True(t, ok)
		assert.Equal(t, []int{1, 2}, v)
	})
}

// hostileMarshaler encodes itself as a truncated array.
type hostileMarshaler struct{}

func (hostileMarshaler) MarshalMsgpack() ([]byte, error) { return []byte{0x93, 0x01}, nil }

func TestEncodeRefusesInvalidOutput(t *testing.T) {
	_, err := encode(msgpack.RawMessage{0xdf, 0xff, 0xff, 0xff, 0xff})
	require.ErrorIs(t, err, ErrInvalidValue)
	assert.True(t, errors.Is(err, codec.ErrMalformed))
	b, err := encode(map[string]int{"a": 1})
	require.NoError(t, err)
	assert.True(t, wellFormed(b))
}

// TestDecodeMsgpackPanicIsAnError: msgpack panics when a map gives a
// struct field of interface type twice and it cannot set the second value
// into the first; found by FuzzGetStruct. The panic is a decode error.
func TestDecodeMsgpackPanicIsAnError(t *testing.T) {
	b := []byte("\x82\xa3Any\x30\xa3Any\x30")
	p := newPlantRig(t)
	c := p.plant(t, map[string][]byte{"k": b})
	p.with(c, func(s *Session) {
		var v decodeTarget
		_, err := s.Get("k", &v)
		require.ErrorIs(t, err, ErrDecode)
		assert.Contains(t, err.Error(), "unaddressable")
		_, _, err = Value[decodeTarget](s, "k")
		require.ErrorIs(t, err, ErrDecode)
		// Later decodes are unaffected.
		var a any
		_, err = s.Get("k", &a)
		require.NoError(t, err)
		assert.Equal(t, map[string]any{"Any": int8(48)}, a)
	})
}

// TestDecodeWorstCaseRatio measures the shapes that cost the most Go
// memory per byte of msgpack, at the default session limit (1024 bytes)
// and at 4 KiB, and checks them against allocBound. Run with -v for the
// figures.
func TestDecodeWorstCaseRatio(t *testing.T) {
	// array16 header, then as many copies of elem as fit in n bytes.
	fill := func(n int, elem []byte) []byte {
		k := (n - 3) / len(elem)
		return cat([]byte{0xdc, byte(k >> 8), byte(k)}, bytes.Repeat(elem, k))
	}
	chain := cat(bytes.Repeat([]byte{0x81, 0xa0}, maxDepth-1), []byte{0xc0}) // 63 nested one-entry maps
	shapes := map[string]func(n int) []byte{
		"one-entry maps":        func(n int) []byte { return fill(n, []byte{0x81, 0xa0, 0x00}) },
		"nested one-entry maps": func(n int) []byte { return fill(n, chain) },
		"empty maps":            func(n int) []byte { return fill(n, []byte{0x80}) },
		"empty arrays":          func(n int) []byte { return fill(n, []byte{0x90}) },
		"one-element arrays":    func(n int) []byte { return fill(n, []byte{0x91, 0x00}) },
		"empty strings":         func(n int) []byte { return fill(n, []byte{0xa0}) },
		"small ints":            func(n int) []byte { return fill(n, []byte{0x01}) },
		"timestamps":            func(n int) []byte { return fill(n, []byte{0xd6, 0xff, 0, 0, 0, 1}) },
	}
	p := newPlantRig(t)
	worst := 0.0
	for name, shape := range shapes {
		for _, n := range []int{1024, 4096} {
			b := shape(n)
			require.True(t, wellFormed(b), name)
			c := p.plant(t, map[string][]byte{"k": b})
			p.with(c, func(s *Session) {
				_, _, err := s.Raw("k")
				require.NoError(t, err)
				for _, tg := range decodeTargets {
					var err error
					a := allocated(func() { _, err = tg.get(s, "k") })
					if err != nil {
						continue // not this target's shape
					}
					ratio := float64(a) / float64(len(b))
					t.Logf("%-22s %5d bytes into %-18s %8d allocated, %6.1f per byte", name, len(b), tg.name, a, ratio)
					bound := allocBound(len(b))
					if tg.name == "[]struct" {
						bound = structBound(len(b))
					} else {
						worst = max(worst, ratio)
					}
					assert.LessOrEqual(t, a, bound, "%s into %s", name, tg.name)
				}
			})
		}
	}
	t.Logf("worst (but []struct): %.1f bytes allocated per byte of input", worst)
}

// BenchmarkGetStructCacheHit is the reflective path on a cache hit: the
// checks of codec.NewReader plus msgpack.
func BenchmarkGetStructCacheHit(b *testing.B) {
	p := newPlantRig(b)
	v, err := msgpack.Marshal(decodeTarget{Name: "n", IDs: []int{1, 2, 3}, Tags: map[string]string{"a": "b"}, When: time.Unix(1700000000, 5)})
	require.NoError(b, err)
	c := p.plant(b, map[string][]byte{"k": v})
	p.with(c, func(s *Session) {
		var dst decodeTarget
		_, err := s.Get("k", &dst)
		require.NoError(b, err)
		b.ReportAllocs()
		b.ResetTimer()
		for b.Loop() {
			dst = decodeTarget{}
			if _, err := s.Get("k", &dst); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkValueSliceCacheHit is Value[[]int] on a cache hit, the
// reflective path of Value.
func BenchmarkValueSliceCacheHit(b *testing.B) {
	p := newPlantRig(b)
	v, err := msgpack.Marshal([]int{1, 2, 3, 4, 5, 6, 7, 8})
	require.NoError(b, err)
	c := p.plant(b, map[string][]byte{"k": v})
	p.with(c, func(s *Session) {
		_, _, err := Value[[]int](s, "k")
		require.NoError(b, err)
		b.ReportAllocs()
		b.ResetTimer()
		for b.Loop() {
			if _, _, err := Value[[]int](s, "k"); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// TestUnmarshalCostsNoMoreThanMsgpack: the checks add no allocation to
// the reflective path (the codec.Reader is pooled and replaces
// msgpack.Unmarshal's bytes.Reader).
func TestUnmarshalCostsNoMoreThanMsgpack(t *testing.T) {
	b, err := msgpack.Marshal(decodeTarget{Name: "n", IDs: []int{1, 2}, Tags: map[string]string{"a": "b"}, When: time.Unix(1700000000, 5)})
	require.NoError(t, err)
	ours := testing.AllocsPerRun(100, func() {
		var v decodeTarget
		if err := unmarshal(b, &v); err != nil {
			panic(err)
		}
	})
	theirs := testing.AllocsPerRun(100, func() {
		var v decodeTarget
		if err := msgpack.Unmarshal(b, &v); err != nil {
			panic(err)
		}
	})
	assert.LessOrEqual(t, ours, theirs)
}
