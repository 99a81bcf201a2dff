package bus_test

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the run when a test leaves a goroutine behind: every Local subscription a test starts must have returned.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}
