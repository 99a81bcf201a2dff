package session

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/vmihailenco/msgpack/v5"

	"github.com/sessiongen/sessiongen/runtime/store"
)

// The fuzz targets below plant arbitrary bytes in the engine and read
// them back through Session.Get and Value into the types of the
// reflective path, failing when a decode allocates more than allocBound
// of the input's size (or panics, or fails without wrapping ErrDecode).
//
// To see the largest allocation the fuzzer meets, set
// SESSIONGEN_FUZZ_ALLOC_LOG to a file name: each fuzzing process appends
// a line whenever it sees a new largest ratio of bytes allocated to bytes
// of input (inputs of at least 64 bytes, where the decoder's fixed cost
// no longer dominates).

func FuzzGetAny(f *testing.F) {
	fuzzGet(f, "any", decodeTargets[0], decodeTargets[3])
}

func FuzzGetMap(f *testing.F) {
	fuzzGet(f, "map", decodeTargets[1], decodeTargets[4])
}

func FuzzGetInts(f *testing.F) {
	fuzzGet(f, "ints", decodeTargets[2])
}

func FuzzGetStruct(f *testing.F) {
	fuzzGet(f, "struct", decodeTargets[5])
}

// fuzzSeeds are valid values of every shape, and the hostile ones.
func fuzzSeeds(f *testing.F) [][]byte {
	var seeds [][]byte
	for _, v := range []any{
		nil, 1, "s", 1.5, true, []byte{1}, time.Unix(1700000000, 931135488),
		[]int{1, 2, 3}, []any{1, "a", []any{}, map[string]any{}},
		map[string]any{"a": 1, "b": map[string]any{"c": []any{"d"}}},
		map[string]string{"k": "v"},
		decodeTarget{Name: "n", IDs: []int{1}, Tags: map[string]string{"a": "b"}, Grid: [][]string{{"x"}},
			Attrs: map[string]any{"m": map[string]any{}}, Next: &decodeTarget{Name: "m"}, Any: []any{1}},
		[]map[string]any{{"": 0}, {"": 0}},
	} {
		b, err := msgpack.Marshal(v)
		if err != nil {
			f.Fatal(err)
		}
		seeds = append(seeds, b)
	}
	for _, b := range hostileValues() {
		if len(b) <= 4096 {
			seeds = append(seeds, b)
		}
	}
	return seeds
}

// fuzzGet runs one fuzz target reading every input into targets.
func fuzzGet(f *testing.F, name string, targets ...decodeTargetFns) {
	for _, b := range fuzzSeeds(f) {
		f.Add(b)
	}
	p := newPlantRig(f)
	f.Fuzz(func(t *testing.T, b []byte) {
		if len(b) == 0 {
			return // an engine never holds an empty value for a present key
		}
		c := p.plant(t, map[string][]byte{"k": b})
		defer func() { _ = p.mem.Delete(context.Background(), store.Key(c.Value)) }()
		p.with(c, func(s *Session) {
			if _, _, err := s.Raw("k"); err != nil { // loads the session
				t.Fatal(err)
			}
			for _, tg := range targets {
				var gerr, verr error
				n := allocated(func() { _, gerr = tg.get(s, "k") })
				m := allocated(func() { verr = tg.value(s, "k") })
				for _, err := range []error{gerr, verr} {
					if err != nil && !errors.Is(err, ErrDecode) {
						t.Fatalf("%s of % x: error %v does not wrap ErrDecode", tg.name, b, err)
					}
				}
				for _, a := range []uint64{n, m} {
					recordAlloc(name+" "+tg.name, b, a)
					if a > allocBound(len(b)) {
						t.Fatalf("decoding %d bytes into %s allocated %d bytes (%.0f per input byte), over %d: % x",
							len(b), tg.name, a, float64(a)/float64(len(b)), allocBound(len(b)), b[:min(len(b), 64)])
					}
				}
			}
		})
	})
}

// allocLog records the largest ratio of allocated bytes to input bytes
// this process has seen, when SESSIONGEN_FUZZ_ALLOC_LOG names a file.
var allocLog struct {
	sync.Mutex
	max float64
}

func recordAlloc(what string, b []byte, n uint64) {
	path := os.Getenv("SESSIONGEN_FUZZ_ALLOC_LOG")
	if path == "" || len(b) < 64 {
		return
	}
	ratio := float64(n) / float64(len(b))
	allocLog.Lock()
	defer allocLog.Unlock()
	if ratio <= allocLog.max {
		return
	}
	allocLog.max = ratio
	fh, err := os.OpenFile(path, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		return
	}
	defer fh.Close()
	fmt.Fprintf(fh, "%.1f bytes/byte: %s, %d bytes allocated for %d: % x\n", ratio, what, n, len(b), b[:min(len(b), 48)])
}
