package identity

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the run when a test leaves a goroutine behind: what a
// test opens (stores, clean-up loops, clients) it must close.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}
