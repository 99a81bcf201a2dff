package pgbus_test

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the run when a test leaves a goroutine behind: every subscription must have returned and every pool, proxy and Manager been closed.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}
