package identity

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// readLines reads c from a request carrying the given Cookie header lines.
func readLines(t *testing.T, c *Cookie, lines ...string) string {
	t.Helper()
	r := req("http://www.example.com/")
	for _, l := range lines {
		r.Header.Add("Cookie", l)
	}
	var got string
	require.NotPanics(t, func() { got = c.Read(r) })
	return got
}

// planted returns n cookies "name=value" joined as one Cookie header.
func planted(name, value string, n int) string {
	parts := make([]string, n)
	for i := range parts {
		parts[i] = name + "=" + value
	}
	return strings.Join(parts, "; ")
}

// TestCookieReadPlanted: a sibling subdomain plants cookies of the same
// name (Domain=.example.com); browsers send them next to the real one,
// often first. Read takes the first well-formed (and, with a Signer,
// verifying) one among the first maxReadCookies cookies of its name.
func TestCookieReadPlanted(t *testing.T) {
	id, id2 := newID(t), newID(t)
	c := &Cookie{}

	t.Run("garbage before the real one", func(t *testing.T) {
		assert.Equal(t, id, readLines(t, c, "sid=garbage; sid="+id))
		assert.Equal(t, id, readLines(t, c, "sid=; sid="+id), "empty value")
		assert.Equal(t, id, readLines(t, c, `sid="garbage"; sid="`+id+`"`), "quoted")
		assert.Equal(t, id, readLines(t, c, "sid="+id+"A; sid="+id), "too long")
		assert.Equal(t, id, readLines(t, c, "sid="+id[:IDLen-1]+"B; sid="+id), "non-canonical")
		assert.Equal(t, id, readLines(t, c, "sid="+strings.Repeat("A", 4096)+"; sid="+id), "4KB")
		assert.Equal(t, id, readLines(t, c, "sid=garbage", "sid="+id), "across Cookie header lines")
		assert.Equal(t, id, readLines(t, c, "sid=garbage; theme=dark; sid="+id+"; sid=junk"))
	})

	t.Run("bound", func(t *testing.T) {
		require.Equal(t, 4, maxReadCookies, "documented in Cookie.Read")
		for n := 1; n < maxReadCookies; n++ {
			assert.Equal(t, id, readLines(t, c, planted("sid", "garbage", n)+"; sid="+id), "%d planted", n)
		}
		assert.Empty(t, readLines(t, c, planted("sid", "garbage", maxReadCookies)+"; sid="+id),
			"the real cookie is the 5th of its name: not considered")
		assert.Empty(t, readLines(t, c, planted("sid", "garbage", 10)+"; sid="+id),
			"10 planted: only the first 4 are considered")
		assert.Empty(t, readLines(t, c, planted("sid", "x", 2), planted("sid", "y", 2), "sid="+id),
			"the bound counts across header lines")
		assert.Equal(t, id, readLines(t, c, planted("other", "garbage", 50)+"; sidx=1; xsid=2; sid="+id),
			"cookies of other names do not count")
		assert.Equal(t, id, readLines(t, c, "sid", "sid; sid; sid; sid; sid="+id),
			"a bare name without '=' is not a cookie of that name")
	})

	t.Run("duplicates", func(t *testing.T) {
		assert.Equal(t, id, readLines(t, c, "sid="+id+"; sid="+id))
		assert.Equal(t, id, readLines(t, c, "sid="+id, "sid="+id))
		assert.Equal(t, id, readLines(t, c, "sid="+id+"; sid="+id2), "the first well-formed one wins")
		assert.Equal(t, id2, readLines(t, c, "sid=garbage; sid="+id2+"; sid="+id))
		assert.Equal(t, id, readLines(t, c, planted("sid", id, 10)))
	})

	t.Run("signed", func(t *testing.T) {
		s, err := NewSigner(key('n'), key('o'))
		require.NoError(t, err)
		other, err := NewSigner(key('x'))
		require.NoError(t, err)
		sc := &Cookie{Signer: s}
		good := s.Sign(id)
		forged := id + ".AAAAAAAAAAAAAAAAAAAAAA"

		assert.Equal(t, id, readLines(t, sc, "sid="+forged+"; sid="+good), "forged signature before the real one")
		assert.Equal(t, id, readLines(t, sc, "sid="+other.Sign(id2)+"; sid="+good), "signed with a foreign key")
		assert.Equal(t, id, readLines(t, sc, "sid="+id2+"; sid="+good), "a bare ID is not a signed token")
		assert.Equal(t, id, readLines(t, sc, "sid=garbage; sid="+forged+"; sid="+good))
		assert.Empty(t, readLines(t, sc, planted("sid", forged, 10)+"; sid="+good), "only the first 4 are verified")
		assert.Equal(t, id, readLines(t, sc, "sid="+good+"; sid="+s.Sign(id2)), "first verifying token wins")
	})

	t.Run("custom name", func(t *testing.T) {
		hc := &Cookie{Name: "__Host-sid"}
		assert.Equal(t, id, readLines(t, hc, "__Host-sid=garbage; sid=junk; __Host-sid="+id))
	})
}

func TestCookieReadPlantedAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("allocation counts are not meaningful under -race (sync.Pool drops items)")
	}
	s, err := NewSigner(key('a'))
	require.NoError(t, err)
	id := newID(t)
	plain, signed := &Cookie{}, &Cookie{Signer: s}
	rp, rs := req("http://e.com/"), req("http://e.com/")
	rp.Header.Set("Cookie", "sid=garbage; theme=dark; sid="+id)
	rs.Header.Set("Cookie", "sid="+id+".AAAAAAAAAAAAAAAAAAAAAA; sid=x; sid="+s.Sign(id))
	allocs := testing.AllocsPerRun(200, func() {
		if plain.Read(rp) != id || signed.Read(rs) != id {
			t.Fatal("wrong ID")
		}
	})
	assert.Zero(t, allocs)
}
