package dynamostore_test

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the run when a test leaves a goroutine behind: what a
// test opens (stores, clean-up loops) it must close. The DynamoDB
// client's HTTP transport, which the caller owns and not the Store, keeps
// idle keep-alive connections with a reader and a writer goroutine each:
// those are expected.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m,
		goleak.IgnoreTopFunction("net/http.(*persistConn).writeLoop"),
		goleak.IgnoreTopFunction("net/http.(*persistConn).readLoop"),
		goleak.IgnoreTopFunction("internal/poll.runtime_pollWait"),
	)
}
