package identity

import (
	"crypto/hmac"
	"crypto/sha256"
	"fmt"
	"hash"
	"strings"
	"sync"
)

// MinKeyLen is the shortest key [NewSigner] accepts, in bytes.
const MinKeyLen = 32

// Signature layout. The MAC is HMAC-SHA256 truncated to its first 16 bytes
// (128 bits, as HMAC-SHA-256-128 in RFC 4868): a tag can only be checked
// online, one request per guess, so 2^-128 per guess is far beyond reach,
// and the token stays 21 characters shorter than with the full 32 bytes.
const (
	macLen    = 16
	macB64Len = 22 // unpadded base64url of macLen bytes
	// SignedLen is the length of a token made by [Signer.Sign]: an ID,
	// ".", and the 22-character base64url MAC.
	SignedLen = IDLen + 1 + macB64Len
)

// macLabel is written before the ID into every MAC, so a tag made here
// never equals an HMAC of the bare ID made elsewhere with the same key.
const macLabel = "sessiongen\x00"

// Signer signs session IDs with HMAC-SHA256 so that a forged or random ID
// is refused before any cache or store lookup. It supports key rotation:
// the first key signs, every key verifies. Put a new key first and keep the
// old ones after it until every token signed with them has expired.
//
// A token is id + "." + base64url(mac), [SignedLen] characters, where mac
// is the first 16 bytes of HMAC-SHA256(key, "sessiongen\x00" + id).
//
// A Signer is safe for concurrent use. Create it with [NewSigner]; the zero
// value signs nothing and verifies nothing.
type Signer struct {
	keys []signKey
}

// signKey is one key with a pool of HMAC states keyed with it.
type signKey struct {
	pool sync.Pool // of *macState
}

// macState is a pooled HMAC with scratch buffers, so signing and
// verifying need no allocations of their own.
type macState struct {
	h   hash.Hash
	msg [len(macLabel) + IDLen]byte
	sum [sha256.Size]byte
}

// NewSigner returns a Signer. keys[0] signs; all keys verify. Every key
// must be at least [MinKeyLen] bytes of secret random data; the keys are
// copied.
func NewSigner(keys ...[]byte) (*Signer, error) {
	if len(keys) == 0 {
		return nil, fmt.Errorf("identity: new signer: %w", ErrNoKey)
	}
	s := &Signer{keys: make([]signKey, len(keys))}
	for i, k := range keys {
		if len(k) < MinKeyLen {
			return nil, fmt.Errorf("identity: new signer: key %d has %d bytes, need at least %d: %w",
				i, len(k), MinKeyLen, ErrShortKey)
		}
		key := append([]byte(nil), k...)
		s.keys[i].pool.New = func() any {
			return &macState{h: hmac.New(sha256.New, key)}
		}
	}
	return s, nil
}

// mac writes the MAC of id under key i into out. id must be at most IDLen
// bytes.
func (s *Signer) mac(i int, id string, out *[macLen]byte) {
	p := &s.keys[i].pool
	st := p.Get().(*macState)
	st.h.Reset()
	n := copy(st.msg[:], macLabel)
	n += copy(st.msg[n:], id)
	st.h.Write(st.msg[:n])
	sum := st.h.Sum(st.sum[:0])
	copy(out[:], sum)
	p.Put(st)
}

// Sign returns the signed token for id. id should come from [NewID]: a
// token whose ID part is not a valid ID never verifies, so Sign returns ""
// for such an id (and on a zero Signer).
func (s *Signer) Sign(id string) string {
	if s == nil || len(s.keys) == 0 || !ValidID(id) {
		return ""
	}
	var mac [macLen]byte
	s.mac(0, id, &mac)
	var enc [macB64Len]byte
	encodeMAC(&enc, &mac)
	var b strings.Builder
	b.Grow(SignedLen)
	b.WriteString(id)
	b.WriteByte('.')
	b.Write(enc[:])
	return b.String()
}

// Verify checks a token made by [Signer.Sign] with any of the Signer's
// keys and returns the ID it carries. Anything malformed or forged gives
// ("", false); Verify never panics and does not allocate. MACs are
// compared in constant time.
func (s *Signer) Verify(token string) (id string, ok bool) {
	if s == nil || len(token) != SignedLen || token[IDLen] != '.' {
		return "", false
	}
	id, tag := token[:IDLen], token[IDLen+1:]
	if !ValidID(id) || !validB64(tag, 4) {
		return "", false
	}
	var got [macLen]byte
	decodeMAC(&got, tag)
	for i := range s.keys {
		var want [macLen]byte
		s.mac(i, id, &want)
		if hmac.Equal(got[:], want[:]) {
			return id, true
		}
	}
	return "", false
}

// encodeMAC writes the unpadded base64url encoding of mac into dst.
func encodeMAC(dst *[macB64Len]byte, mac *[macLen]byte) {
	j := 0
	for i := 0; i+3 <= macLen; i += 3 {
		v := uint(mac[i])<<16 | uint(mac[i+1])<<8 | uint(mac[i+2])
		dst[j] = b64[v>>18&0x3F]
		dst[j+1] = b64[v>>12&0x3F]
		dst[j+2] = b64[v>>6&0x3F]
		dst[j+3] = b64[v&0x3F]
		j += 4
	}
	// macLen = 16 = 5*3 + 1: one byte left, two characters.
	v := uint(mac[macLen-1])
	dst[j] = b64[v>>2]
	dst[j+1] = b64[v<<4&0x3F]
}

// decodeMAC decodes the base64url tag into dst. tag must be macB64Len
// characters already checked by validB64.
func decodeMAC(dst *[macLen]byte, tag string) {
	j := 0
	for i := 0; i+4 <= macB64Len; i += 4 {
		v := uint(b64val[tag[i]])<<18 | uint(b64val[tag[i+1]])<<12 |
			uint(b64val[tag[i+2]])<<6 | uint(b64val[tag[i+3]])
		dst[j] = byte(v >> 16)
		dst[j+1] = byte(v >> 8)
		dst[j+2] = byte(v)
		j += 3
	}
	dst[j] = b64val[tag[macB64Len-2]]<<2 | b64val[tag[macB64Len-1]]>>4
}
