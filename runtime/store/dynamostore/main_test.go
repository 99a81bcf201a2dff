package dynamostore_test

import (
	"testing"

	"github.com/sessiongen/sessiongen/runtime/internal/leakcheck"
)

// TestMain fails the run when a test leaves a goroutine behind: what a
// test opens (stores, clean-up loops) it must close. The DynamoDB
// client's HTTP transport, which the caller owns and not the Store, keeps
// idle keep-alive connections with a reader and a writer goroutine each:
// those are expected.
func TestMain(m *testing.M) {
	leakcheck.VerifyTestMain(m,
		leakcheck.IgnoreTop("net/http.(*persistConn).writeLoop"),
		leakcheck.IgnoreTop("net/http.(*persistConn).readLoop"),
		leakcheck.IgnoreTop("internal/poll.runtime_pollWait"),
	)
}
