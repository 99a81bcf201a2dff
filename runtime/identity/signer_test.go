package identity

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func key(c byte) []byte { return []byte(strings.Repeat(string(c), MinKeyLen)) }

// flip returns s with byte i changed to another base64url character
// ('A' or 'Q'), keeping the last character's unused bits clear.
func flip(s string, i int) string {
	b := []byte(s)
	if b[i] == 'A' {
		b[i] = 'Q' // 'A' and 'Q' both have the low four bits clear
	} else {
		b[i] = 'A'
	}
	return string(b)
}

func newID(t testing.TB) string {
	t.Helper()
	id, err := NewID()
	require.NoError(t, err)
	return id
}

func TestNewSignerErrors(t *testing.T) {
	_, err := NewSigner()
	require.ErrorIs(t, err, ErrNoKey)

	_, err = NewSigner(key('a'), make([]byte, MinKeyLen-1))
	require.ErrorIs(t, err, ErrShortKey)
	assert.Contains(t, err.Error(), "key 1")

	_, err = NewSigner(nil)
	require.ErrorIs(t, err, ErrShortKey)

	s, err := NewSigner(key('a'))
	require.NoError(t, err)
	require.NotNil(t, s)
}

func TestSignerRoundTrip(t *testing.T) {
	s, err := NewSigner(key('a'))
	require.NoError(t, err)
	id := newID(t)
	tok := s.Sign(id)
	require.Len(t, tok, SignedLen)
	assert.True(t, strings.HasPrefix(tok, id+"."))
	got, ok := s.Verify(tok)
	require.True(t, ok)
	assert.Equal(t, id, got)
	assert.Equal(t, tok, s.Sign(id), "signing is deterministic")
}

// TestSignerFormat checks the documented token format against an
// independent HMAC computation.
func TestSignerFormat(t *testing.T) {
	k := key('k')
	s, err := NewSigner(k)
	require.NoError(t, err)
	id := newID(t)
	m := hmac.New(sha256.New, k)
	m.Write([]byte("sessiongen\x00" + id))
	want := id + "." + base64.RawURLEncoding.EncodeToString(m.Sum(nil)[:16])
	assert.Equal(t, want, s.Sign(id))
}

func TestSignerRotation(t *testing.T) {
	oldS, err := NewSigner(key('o'))
	require.NoError(t, err)
	rotated, err := NewSigner(key('n'), key('o'))
	require.NoError(t, err)
	newOnly, err := NewSigner(key('n'))
	require.NoError(t, err)

	id := newID(t)
	oldTok := oldS.Sign(id)
	got, ok := rotated.Verify(oldTok)
	require.True(t, ok, "old key must still verify")
	assert.Equal(t, id, got)

	newTok := rotated.Sign(id)
	assert.NotEqual(t, oldTok, newTok, "first key signs")
	assert.Equal(t, newOnly.Sign(id), newTok, "first key signs")
	_, ok = oldS.Verify(newTok)
	assert.False(t, ok, "a token of the new key does not verify with only the old key")

	_, ok = newOnly.Verify(oldTok)
	assert.False(t, ok, "old key dropped: old tokens refused")
}

func TestSignerKeysCopied(t *testing.T) {
	k := key('a')
	s, err := NewSigner(k)
	require.NoError(t, err)
	id := newID(t)
	tok := s.Sign(id)
	k[0] = 'b'
	_, ok := s.Verify(tok)
	assert.True(t, ok, "changing the caller's slice must not change the key")
}

func TestSignerRejects(t *testing.T) {
	s, err := NewSigner(key('a'))
	require.NoError(t, err)
	other, err := NewSigner(key('b'))
	require.NoError(t, err)
	id := newID(t)
	tok := s.Sign(id)
	otherID := newID(t)

	// Last character of the tag with non-zero unused bits: decodes to the
	// same MAC but is not the canonical spelling.
	last := b64val[tok[SignedLen-1]]
	nonCanon := tok[:SignedLen-1] + string(b64[last|1])

	cases := map[string]string{
		"empty":             "",
		"bare id":           id,
		"dot only":          ".",
		"id dot":            id + ".",
		"truncated":         tok[:SignedLen-1],
		"extended":          tok + "A",
		"other key":         other.Sign(id),
		"swapped id":        otherID + tok[IDLen:],
		"flipped id":        flip(tok, 0),
		"flipped mac":       flip(tok, IDLen+3),
		"flipped last":      flip(tok, SignedLen-2),
		"non-canonical tag": nonCanon,
		"wrong separator":   id + ":" + tok[IDLen+1:],
		"random":            strings.Repeat("x", IDLen) + "." + strings.Repeat("y", 22),
		"8KB":               strings.Repeat("A", 8192),
		"8KB with dot":      id + "." + strings.Repeat("A", 8192),
		"non-ASCII":         strings.Repeat("é", SignedLen/2),
		"non-ASCII in mac":  tok[:SignedLen-2] + "é",
		"padded":            tok + "==",
		"std alphabet":      "+" + tok[1:IDLen+1] + "/" + tok[IDLen+2:],
		"NUL":               tok[:10] + "\x00" + tok[11:],
	}
	for name, in := range cases {
		t.Run(name, func(t *testing.T) {
			var got string
			var ok bool
			require.NotPanics(t, func() { got, ok = s.Verify(in) })
			assert.False(t, ok)
			assert.Empty(t, got)
		})
	}
	assert.NotEqual(t, tok, nonCanon)
}

func TestSignerSignInvalid(t *testing.T) {
	s, err := NewSigner(key('a'))
	require.NoError(t, err)
	assert.Empty(t, s.Sign(""))
	assert.Empty(t, s.Sign("not an id"))
	assert.Empty(t, s.Sign(strings.Repeat("A", 8192)))

	var zero Signer
	id := newID(t)
	assert.Empty(t, zero.Sign(id), "zero Signer signs nothing")
	_, ok := zero.Verify(s.Sign(id))
	assert.False(t, ok, "zero Signer verifies nothing")

	var nilS *Signer
	assert.Empty(t, nilS.Sign(id))
	_, ok = nilS.Verify(s.Sign(id))
	assert.False(t, ok)
}

func TestMACCodec(t *testing.T) {
	for i := range 256 {
		var mac [macLen]byte
		for j := range mac {
			mac[j] = byte(i*7 + j*31)
		}
		var enc [macB64Len]byte
		encodeMAC(&enc, &mac)
		require.Equal(t, base64.RawURLEncoding.EncodeToString(mac[:]), string(enc[:]))
		require.True(t, validB64(string(enc[:]), 4))
		var dec [macLen]byte
		decodeMAC(&dec, string(enc[:]))
		require.Equal(t, mac, dec)
	}
}

func TestSignerConcurrent(t *testing.T) {
	s, err := NewSigner(key('a'), key('b'))
	require.NoError(t, err)
	var wg sync.WaitGroup
	errs := make(chan string, 8)
	for range 8 {
		wg.Go(func() {
			for range 200 {
				id, err := NewID()
				if err != nil {
					errs <- err.Error()
					return
				}
				got, ok := s.Verify(s.Sign(id))
				if !ok || got != id {
					errs <- "round trip failed"
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Error(e)
	}
}

func TestVerifyAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("allocation counts are not meaningful under -race (sync.Pool drops items)")
	}
	s, err := NewSigner(key('a'), key('b'))
	require.NoError(t, err)
	old, err := NewSigner(key('b'))
	require.NoError(t, err)
	id := newID(t)
	tok, oldTok := s.Sign(id), old.Sign(id)
	allocs := testing.AllocsPerRun(200, func() {
		if _, ok := s.Verify(tok); !ok {
			t.Fatal("no verify")
		}
		if _, ok := s.Verify(oldTok); !ok {
			t.Fatal("no verify with old key")
		}
	})
	assert.Zero(t, allocs)
}

func FuzzVerify(f *testing.F) {
	s, err := NewSigner(key('a'), key('b'))
	require.NoError(f, err)
	id, err := NewID()
	require.NoError(f, err)
	tok := s.Sign(id)
	for _, seed := range []string{"", id, tok, tok[:SignedLen-1], tok + "x", strings.Repeat("é", 33), id + ".", "." + tok} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, in string) {
		got, ok := s.Verify(in)
		if !ok {
			if got != "" {
				t.Fatalf("Verify(%q) = %q, false", in, got)
			}
			return
		}
		if !ValidID(got) || got != in[:IDLen] {
			t.Fatalf("Verify(%q) = %q, true", in, got)
		}
		if s.Sign(got) != in {
			t.Fatalf("Verify accepted %q, which is not the token Sign gives", in)
		}
	})
}

func BenchmarkSign(b *testing.B) {
	s, err := NewSigner(key('a'))
	require.NoError(b, err)
	id := newID(b)
	b.ReportAllocs()
	for b.Loop() {
		if s.Sign(id) == "" {
			b.Fatal("empty")
		}
	}
}

func BenchmarkVerify(b *testing.B) {
	s, err := NewSigner(key('a'))
	require.NoError(b, err)
	tok := s.Sign(newID(b))
	b.ReportAllocs()
	for b.Loop() {
		if _, ok := s.Verify(tok); !ok {
			b.Fatal("no verify")
		}
	}
}
