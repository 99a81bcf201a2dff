package pgstore

import (
	"testing"

	"github.com/sessiongen/sessiongen/runtime/internal/leakcheck"
)

// TestMain fails the run when a test leaves a goroutine behind: what a
// test opens (stores, clean-up loops, clients) it must close.
func TestMain(m *testing.M) {
	leakcheck.VerifyTestMain(m)
}
