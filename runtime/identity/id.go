package identity

import (
	"crypto/rand"
	"encoding/base64"
	"fmt"
)

// IDBytes is the number of random bytes in a session ID.
const IDBytes = 32

// IDLen is the length of a session ID string: [IDBytes] bytes in unpadded
// base64url.
const IDLen = 43

// b64 is the base64url alphabet used for IDs and signatures.
const b64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"

// b64val maps a byte to its base64url value, or 0xFF when the byte is not
// in the alphabet.
var b64val = func() (t [256]byte) {
	for i := range t {
		t[i] = 0xFF
	}
	for i := 0; i < len(b64); i++ {
		t[b64[i]] = byte(i)
	}
	return t
}()

// NewID returns a new session ID: [IDBytes] bytes from crypto/rand,
// encoded as unpadded base64url ([IDLen] characters).
func NewID() (string, error) {
	var b [IDBytes]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("identity: new id: %w", err)
	}
	var s [IDLen]byte
	base64.RawURLEncoding.Encode(s[:], b[:])
	return string(s[:]), nil
}

// ValidID reports whether s is a well-formed session ID: exactly [IDLen]
// characters of the base64url alphabet, in the canonical encoding of
// [IDBytes] bytes (the unused low bits of the last character are zero, so
// every ID has exactly one spelling). It does not allocate.
func ValidID(s string) bool {
	return len(s) == IDLen && validB64(s, 2)
}

// validB64 reports whether s consists of base64url characters only and the
// last character has its low unused bits (a mask of that many bits) clear.
func validB64(s string, unused uint) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if b64val[s[i]] == 0xFF {
			return false
		}
	}
	return b64val[s[len(s)-1]]&(1<<unused-1) == 0
}
