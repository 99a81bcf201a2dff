package pgbus_test

import (
	"testing"

	"github.com/sessiongen/sessiongen/runtime/internal/leakcheck"
)

// TestMain fails the run when a test leaves a goroutine behind: every subscription must have returned and every pool, proxy and Manager been closed.
func TestMain(m *testing.M) {
	leakcheck.VerifyTestMain(m)
}
