package memstore_test

import (
	"testing"

	"github.com/sessiongen/sessiongen/runtime/internal/leakcheck"
)

// TestMain fails the run when a test leaves a goroutine behind: every
// Store a test makes must be closed (its clean-up goroutine stopped).
func TestMain(m *testing.M) {
	leakcheck.VerifyTestMain(m)
}
