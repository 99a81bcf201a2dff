// Package alloctest measures what a piece of code allocates, for the
// tests that bound decoding's allocations against hostile input. It is
// imported by tests only.
package alloctest

import (
	"math"
	"runtime"
)

// Bytes returns the bytes allocated while fn ran (runtime.MemStats
// TotalAlloc): the least of three runs, as TotalAlloc counts every
// goroutine and other ones (a fuzzing engine's, a test server's) allocate
// now and then.
func Bytes(fn func()) uint64 {
	least := uint64(math.MaxUint64)
	for range 3 {
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		fn()
		runtime.ReadMemStats(&after)
		least = min(least, after.TotalAlloc-before.TotalAlloc)
	}
	return least
}
