package leakcheck

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// recorder is a testing.TB that keeps what Errorf reports.
type recorder struct {
	testing.TB
	errors []string
}

func (r *recorder) Helper() {}

func (r *recorder) Errorf(format string, args ...any) {
	r.errors = append(r.errors, fmt.Sprintf(format, args...))
}

func parked(stop <-chan struct{}) { <-stop }

// TestVerifyNone: a goroutine started after the snapshot is reported with
// its stack until it returns; one from before the snapshot is not.
func TestVerifyNone(t *testing.T) {
	defer func(d time.Duration) { settle = d }(settle)
	settle = 50 * time.Millisecond // a leak is reported after this
	before := make(chan struct{})
	go parked(before)
	defer close(before)
	snap := Current()

	stop := make(chan struct{})
	go parked(stop)
	rec := &recorder{TB: t}
	VerifyNone(rec, Except(snap))
	require.Len(t, rec.errors, 1, "the goroutine started after the snapshot is a leak")
	assert.Contains(t, rec.errors[0], "leakcheck.parked")
	assert.Equal(t, 1, countParked(rec.errors[0]), "the one from before the snapshot is ignored")

	close(stop)
	rec = &recorder{TB: t}
	VerifyNone(rec, Except(snap))
	assert.Empty(t, rec.errors, "a goroutine that returned is no leak")
}

// TestIgnoreTop: a goroutine whose innermost function is ignored is not
// reported.
func TestIgnoreTop(t *testing.T) {
	snap := Current()
	stop := make(chan struct{})
	defer close(stop)
	go parked(stop)
	rec := &recorder{TB: t}
	VerifyNone(rec, Except(snap), IgnoreTop("github.com/sessiongen/sessiongen/runtime/internal/leakcheck.parked"))
	assert.Empty(t, rec.errors)
}

// countParked counts the goroutines of a report parked in parked.
func countParked(report string) int {
	return strings.Count(report, "leakcheck.parked(")
}
