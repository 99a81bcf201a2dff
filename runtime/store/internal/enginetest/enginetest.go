// Package enginetest holds what the tests of the storage engines share
// beyond the conformance suite in storetest: finding the servers through
// environment variables, unique names for tables and key prefixes, a TCP
// proxy that simulates an outage, a round-trip counter at the socket, and
// test bodies that several engines run through small adapters (and
// UserRecovers, which runs a manager over an engine). It is
// imported by tests only, and imports no database driver.
package enginetest

import (
	"crypto/rand"
	"encoding/hex"
	"os"
	"testing"
)

// Env returns the value of the environment variable name, which tells the
// tests where engine's server is ("PostgreSQL", "a Redis server"). When it
// is unset the test is skipped, with a message naming the variable and
// form, how a value looks ("host:port").
func Env(t testing.TB, name, engine, form string) string {
	t.Helper()
	v := os.Getenv(name)
	if v == "" {
		t.Skipf("%s is not set: skipping tests against %s (set it to %s)", name, engine, form)
	}
	return v
}

// RequireAnswer fails the test at once when err, from a first call to the
// server that the environment variable name points at, is not nil: a
// server named by a variable that is set must answer.
func RequireAnswer(t testing.TB, name, engine string, err error) {
	t.Helper()
	if err != nil {
		t.Fatalf("%s from %s does not answer: %v", engine, name, err)
	}
}

// UniqueName returns prefix followed by 16 random hexadecimal digits: a
// table name or key prefix no other test run uses.
func UniqueName(prefix string) string {
	var b [8]byte
	_, _ = rand.Read(b[:]) // never fails (crypto/rand)
	return prefix + hex.EncodeToString(b[:])
}
