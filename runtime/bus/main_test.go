package bus_test

import (
	"testing"

	"github.com/sessiongen/sessiongen/runtime/internal/leakcheck"
)

// TestMain fails the run when a test leaves a goroutine behind: every Local subscription a test starts must have returned.
func TestMain(m *testing.M) {
	leakcheck.VerifyTestMain(m)
}
