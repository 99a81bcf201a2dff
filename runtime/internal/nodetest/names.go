package nodetest

import (
	"crypto/rand"
	"encoding/hex"
)

// Unique returns prefix followed by 12 random hex digits: a name (a table,
// a key prefix, a channel) no other test run uses.
func Unique(prefix string) string {
	var b [6]byte
	_, _ = rand.Read(b[:]) // never fails (crypto/rand)
	return prefix + hex.EncodeToString(b[:])
}
