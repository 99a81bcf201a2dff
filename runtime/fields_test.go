package session

import (
	"bytes"
	"fmt"
	"maps"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// checkFieldSet asserts that f holds exactly want.
func checkFieldSet(t *testing.T, want map[string][]byte, f fieldSet) {
	t.Helper()
	require.Equal(t, sizeOf(want), f.size())
	if len(want) == 0 {
		require.Nil(t, f.keys())
	} else {
		require.Equal(t, sortedKeys(want), f.keys())
	}
	got := map[string][]byte{}
	for it := f.iter(); it.next(); {
		got[string(it.key)] = it.value
	}
	require.Equal(t, len(want), len(got))
	for k, v := range want {
		b, ok := f.get(k)
		require.True(t, ok, k)
		require.Equal(t, v, b, k)
		require.Equal(t, len(b), cap(b), "a value's capacity ends with it")
		require.True(t, bytes.Equal(v, got[k]), k)
	}
	for _, k := range []string{"", "absent", "k", strings.Repeat("x", 300)} {
		if _, in := want[k]; !in {
			_, ok := f.get(k)
			require.False(t, ok, k)
		}
	}
}

func TestFieldSetPack(t *testing.T) {
	for _, tc := range []struct {
		name   string
		fields map[string][]byte
	}{
		{"empty", map[string][]byte{}},
		{"nil", nil},
		{"one", map[string][]byte{"a": {1}}},
		{"same lengths", map[string][]byte{"ab": {1}, "ba": {2, 3}, "aa": {4}, "bb": {}}},
		{"long key", map[string][]byte{strings.Repeat("k", 128): {0xc3}, "k": {0xc2}}},
		{"wide", map[string][]byte{"big": bytes.Repeat([]byte{7}, 70_000), "small": {1}}},
		{"many", manyFields(300)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := packFields(tc.fields)
			checkFieldSet(t, tc.fields, f)
			if len(tc.fields) == 0 {
				assert.Nil(t, f)
			}
		})
	}
}

// manyFields returns n fields with keys of a few lengths.
func manyFields(n int) map[string][]byte {
	m := map[string][]byte{}
	for i := range n {
		m[fmt.Sprintf("f%d", i)] = []byte(fmt.Sprint(i * i))
	}
	return m
}

func TestFieldSetPackCopiesValues(t *testing.T) {
	v := []byte{1, 2, 3}
	f := packFields(map[string][]byte{"k": v})
	v[0] = 9
	b, _ := f.get("k")
	assert.Equal(t, []byte{1, 2, 3}, b)
}

func TestFieldSetWith(t *testing.T) {
	base := map[string][]byte{"b": {2}, "d": {4}, "f": {6}}
	for _, tc := range []struct {
		name string
		fs   []Field
		want map[string][]byte
	}{
		{"add first", []Field{{Key: "a", Value: []byte{1}}}, map[string][]byte{"a": {1}, "b": {2}, "d": {4}, "f": {6}}},
		{"add middle", []Field{{Key: "c", Value: []byte{3}}}, map[string][]byte{"b": {2}, "c": {3}, "d": {4}, "f": {6}}},
		{"add last", []Field{{Key: "z", Value: []byte{26}}}, map[string][]byte{"b": {2}, "d": {4}, "f": {6}, "z": {26}}},
		{"replace", []Field{{Key: "d", Value: []byte{40, 41}}}, map[string][]byte{"b": {2}, "d": {40, 41}, "f": {6}}},
		{"remove", []Field{{Key: "d"}}, map[string][]byte{"b": {2}, "f": {6}}},
		{"remove absent", []Field{{Key: "e"}}, base},
		{"remove all", []Field{{Key: "b"}, {Key: "d"}, {Key: "f"}}, map[string][]byte{}},
		{"later wins", []Field{{Key: "x", Value: []byte{1}}, {Key: "b"}, {Key: "x", Value: []byte{2}}, {Key: "b", Value: []byte{3}}},
			map[string][]byte{"b": {3}, "d": {4}, "f": {6}, "x": {2}}},
		{"set then remove", []Field{{Key: "x", Value: []byte{1}}, {Key: "x"}}, base},
		{"unordered", []Field{{Key: "zz", Value: []byte{1}}, {Key: "a", Value: []byte{2}}, {Key: "f"}, {Key: "c", Value: []byte{3}}},
			map[string][]byte{"a": {2}, "b": {2}, "c": {3}, "d": {4}, "zz": {1}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fs := append([]Field(nil), tc.fs...)
			f := packFields(base).with(fs)
			checkFieldSet(t, tc.want, f)
			assert.Equal(t, tc.fs, fs, "fs is left as it is")
			checkFieldSet(t, base, packFields(base))
		})
	}
	t.Run("from empty", func(t *testing.T) {
		checkFieldSet(t, map[string][]byte{"k": {1}}, fieldSet(nil).with([]Field{{Key: "k", Value: []byte{1}}}))
		assert.Nil(t, fieldSet(nil).with([]Field{{Key: "k"}}))
	})
}

// TestFieldSetWithRandom checks with against a map on random changes,
// across the narrow and wide layouts and one- and two-byte headers.
func TestFieldSetWithRandom(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	want := map[string][]byte{}
	var f fieldSet
	for range 400 {
		fs := make([]Field, 1+r.IntN(5))
		for i := range fs {
			fs[i].Key = fmt.Sprintf("k%d", r.IntN(90))
			if r.IntN(4) > 0 {
				fs[i].Value = bytes.Repeat([]byte{byte(i)}, 1+r.IntN(30)+r.IntN(2)*r.IntN(3000))
			}
		}
		for _, x := range fs {
			if x.Value == nil {
				delete(want, x.Key)
			} else {
				want[x.Key] = x.Value
			}
		}
		f = f.with(fs)
		checkFieldSet(t, maps.Clone(want), f)
	}
}

func TestFieldSetGetAllocatesNothing(t *testing.T) {
	f := packFields(map[string][]byte{"user_id": {1}, "email": {2}, "name": {3}, "csrf": {4}, "flash": {5}})
	allocs := testing.AllocsPerRun(100, func() {
		if b, ok := f.get("flash"); !ok || b[0] != 5 {
			panic("get failed")
		}
		if _, ok := f.get("nope"); ok {
			panic("get found an absent key")
		}
	})
	assert.Zero(t, allocs)
}

// BenchmarkFieldSetGet compares a fieldSet lookup with a map's, the
// representation it replaced.
func BenchmarkFieldSetGet(b *testing.B) {
	for _, n := range []int{1, 5, 20} {
		m := map[string][]byte{}
		var keys []string
		for i := range n {
			k := fmt.Sprintf("key_%02d_%s", i, "abcdefghij"[:i%10])
			m[k] = fmt.Appendf(nil, "value-%d-xxxxxxxxxxxxxxxxxxxxxx", i)
			keys = append(keys, k)
		}
		f := packFields(m)
		var sink []byte
		b.Run(fmt.Sprintf("fieldSet/%d", n), func(b *testing.B) {
			for i := 0; b.Loop(); i++ {
				sink, _ = f.get(keys[i%n])
			}
		})
		b.Run(fmt.Sprintf("map/%d", n), func(b *testing.B) {
			for i := 0; b.Loop(); i++ {
				sink = m[keys[i%n]]
			}
		})
		_ = sink
	}
}
