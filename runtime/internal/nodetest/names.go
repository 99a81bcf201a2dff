package nodetest

import (
	"crypto/rand"
	"encoding/hex"
)

// unique returns prefix followed by 12 random hexadecimal digits: a name
// (key prefix, table, channel) no other test run uses.
func unique(prefix string) string {
	var b [6]byte
	_, _ = rand.Read(b[:]) // never fails (crypto/rand)
	return prefix + hex.EncodeToString(b[:])
}
