package bus_test

import (
	"fmt"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sessiongen/sessiongen/runtime/bus"
	"github.com/sessiongen/sessiongen/runtime/internal/alloctest"
)

func TestCodecRoundTrip(t *testing.T) {
	for _, m := range []bus.Message{
		{Node: "node-a", Key: "q8Vx0bJm7Lk3p_9-AbCdEfGhIjKlMnOpQrStUvWxYz0", Version: 1, Kind: bus.Changed},
		{Node: "", Key: "k", Version: 0, Kind: bus.Deleted},
		{Node: "with space and %41 percent", Key: "a b\tc\nd", Version: 18446744073709551615, Kind: bus.Changed},
		{Node: "ünïcödé 節點", Key: "\x00\xff\xfe invalid utf-8 \x80", Version: 42, Kind: bus.Deleted},
		{Node: strings.Repeat("n", 1000), Key: strings.Repeat("/+=", 300), Version: 7, Kind: bus.Changed},
	} {
		b := bus.Encode(m)
		for _, c := range b {
			require.True(t, c > 0x20 && c < 0x7f || c == ' ', "byte %#x of %q is not printable ASCII", c, b)
		}
		got, err := bus.Decode(b)
		require.NoError(t, err, "%q", b)
		assert.Equal(t, m, got)
	}
}

func TestCodecPlainKeyUnchanged(t *testing.T) {
	// A base64url key travels as it is: the payload stays short and
	// readable in MONITOR or pg_stat_activity.
	b := bus.Encode(bus.Message{Node: "n1", Key: "AbC-_09", Version: 12, Kind: bus.Changed})
	assert.Equal(t, "sgb1 C 12 n1 AbC-_09", string(b))
	b = bus.Encode(bus.Message{Node: "a b", Key: "%", Kind: bus.Deleted})
	assert.Equal(t, "sgb1 D 0 a%20b %25", string(b))
}

func TestDecodeMalformed(t *testing.T) {
	for _, s := range []string{
		"",
		"hello",
		"sgb1",
		"sgb1 ",
		"sgb2 C 1 n k",
		"SGB1 C 1 n k",
		"sgb1 C 1 n",
		"sgb1 C 1 n k extra",
		"sgb1 C 1 n  k",
		"sgb1 X 1 n k",
		"sgb1 c 1 n k",
		"sgb1 C -1 n k",
		"sgb1 C +1 n k",
		"sgb1 C 0x1 n k",
		"sgb1 C 1_0 n k",
		"sgb1 C  n k",
		"sgb1 C 18446744073709551616 n k",
		"sgb1 C 1 n %",
		"sgb1 C 1 n %4",
		"sgb1 C 1 n %zz",
		"sgb1 C 1 n% k",
		"sgb1 C 1 n k/",
		"sgb1 C 1 n k\x00",
		"sgb1 C 1 n ",
		"sgb1 C 1 n k\n",
	} {
		_, err := bus.Decode([]byte(s))
		require.ErrorIs(t, err, bus.ErrMalformed, "%q", s)
		assert.True(t, strings.HasPrefix(err.Error(), "bus: decode: "), "%v", err)
	}
	// Lower-case hexadecimal digits are accepted.
	m, err := bus.Decode([]byte("sgb1 D 3 %c3%a9 %2f"))
	require.NoError(t, err)
	assert.Equal(t, bus.Message{Node: "é", Key: "/", Version: 3, Kind: bus.Deleted}, m)
}

func TestValidate(t *testing.T) {
	require.NoError(t, bus.Message{Key: "k", Kind: bus.Changed}.Validate())
	require.NoError(t, bus.Message{Key: "k", Kind: bus.Deleted}.Validate())
	require.ErrorIs(t, bus.Message{Key: "k"}.Validate(), bus.ErrMalformed)
	require.ErrorIs(t, bus.Message{Key: "k", Kind: 3}.Validate(), bus.ErrMalformed)
	require.ErrorIs(t, bus.Message{Kind: bus.Changed}.Validate(), bus.ErrMalformed)
	// What Validate rejects encodes to bytes Decode rejects.
	for _, m := range []bus.Message{{Key: "k", Kind: 9}, {Kind: bus.Deleted}} {
		_, err := bus.Decode(bus.Encode(m))
		require.ErrorIs(t, err, bus.ErrMalformed)
	}
}

func FuzzCodec(f *testing.F) {
	f.Add("node", "key", uint64(1), uint8(1), []byte("sgb1 C 1 n k"))
	f.Add("", "%", uint64(0), uint8(2), []byte("sgb1 D 0 %25 %"))
	f.Add("a b", "\x00", uint64(1<<63), uint8(0), []byte("garbage"))
	f.Fuzz(func(t *testing.T, node, key string, version uint64, kind uint8, raw []byte) {
		m := bus.Message{Node: node, Key: key, Version: version, Kind: bus.Kind(kind)}
		got, err := bus.Decode(bus.Encode(m))
		if m.Validate() == nil {
			require.NoError(t, err)
			require.Equal(t, m, got)
		} else {
			require.ErrorIs(t, err, bus.ErrMalformed)
		}
		// Arbitrary bytes: no panic; the same answer as the reference
		// decoder; an allocation bounded by the input's size; what
		// decodes re-encodes to a message that decodes the same.
		var d bus.Message
		n := allocated(func() { d, err = bus.Decode(raw) })
		require.LessOrEqual(t, n, decodeAllocBound(len(raw)), "Decode of %d bytes allocated %d", len(raw), n)
		ref, refErr := referenceDecode(raw)
		require.Equal(t, refErr == nil, err == nil, "Decode(%q): %v, reference: %v", raw, err, refErr)
		require.Equal(t, ref, d)
		if err == nil {
			again, err := bus.Decode(bus.Encode(d))
			require.NoError(t, err)
			require.Equal(t, d, again)
		} else {
			require.ErrorIs(t, err, bus.ErrMalformed)
		}
	})
}

// decodeAllocBound is the most Decode may allocate for n bytes: the node
// and key it returns, at most n bytes together, and the error.
func decodeAllocBound(n int) uint64 {
	return uint64(n) + 1024
}

// allocated returns the bytes fn allocates (the least of three runs).
var allocated = alloctest.Bytes

// TestDecodeAllocatesLittle: a payload arrives from the network (any
// publisher on the Redis channel or PostgreSQL notification channel), so
// Decode allocates no more than the node and key it returns, however the
// bytes are shaped.
func TestDecodeAllocatesLittle(t *testing.T) {
	const n = 1 << 20
	for name, b := range map[string][]byte{
		"spaces":         []byte("sgb1 " + strings.Repeat(" ", n)),
		"escapes":        []byte("sgb1 C 1 " + strings.Repeat("%41", n/3) + " k"),
		"plain node":     []byte("sgb1 C 1 " + strings.Repeat("n", n) + " k"),
		"long version":   []byte("sgb1 C " + strings.Repeat("0", n) + "1 n k"),
		"bad escape end": []byte("sgb1 C 1 n " + strings.Repeat("%41", n/3) + "%4"),
		"no tag":         []byte(strings.Repeat("x", n)),
	} {
		var err error
		got := allocated(func() { _, err = bus.Decode(b) })
		assert.LessOrEqual(t, got, decodeAllocBound(len(b)), "%s: %d bytes allocated for %d", name, got, len(b))
		if name == "long version" || name == "plain node" || name == "escapes" {
			require.NoError(t, err, name)
		} else {
			require.ErrorIs(t, err, bus.ErrMalformed, name)
		}
	}
}

// referenceDecode is Decode as first written (strings.Split,
// strconv.ParseUint): FuzzCodec checks that Decode gives the same answers.
func referenceDecode(b []byte) (bus.Message, error) {
	tag, s, ok := strings.Cut(string(b), " ")
	if !ok || tag != "sgb1" {
		return bus.Message{}, bus.ErrMalformed
	}
	parts := strings.Split(s, " ")
	if len(parts) != 4 {
		return bus.Message{}, bus.ErrMalformed
	}
	var m bus.Message
	switch parts[0] {
	case "C":
		m.Kind = bus.Changed
	case "D":
		m.Kind = bus.Deleted
	default:
		return bus.Message{}, bus.ErrMalformed
	}
	v, err := strconv.ParseUint(parts[1], 10, 64)
	if err != nil {
		return bus.Message{}, bus.ErrMalformed
	}
	m.Version = v
	unescape := func(s string) (string, bool) {
		var out []byte
		for i := 0; i < len(s); i++ {
			c := s[i]
			switch {
			case 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' ||
				c == '-' || c == '_' || c == '.' || c == '~':
				out = append(out, c)
			case c == '%' && i+2 < len(s):
				v, err := strconv.ParseUint(s[i+1:i+3], 16, 8)
				if err != nil {
					return "", false
				}
				out = append(out, byte(v))
				i += 2
			default:
				return "", false
			}
		}
		return string(out), true
	}
	if m.Node, ok = unescape(parts[2]); !ok {
		return bus.Message{}, bus.ErrMalformed
	}
	if m.Key, ok = unescape(parts[3]); !ok {
		return bus.Message{}, bus.ErrMalformed
	}
	if err := m.Validate(); err != nil {
		return bus.Message{}, err
	}
	return m, nil
}

func BenchmarkEncode(b *testing.B) {
	m := bus.Message{Node: "node-a", Key: "q8Vx0bJm7Lk3p_9-AbCdEfGhIjKlMnOpQrStUvWxYz0", Version: 123456, Kind: bus.Changed}
	b.ReportAllocs()
	for b.Loop() {
		_ = bus.Encode(m)
	}
}

func BenchmarkDecode(b *testing.B) {
	raw := bus.Encode(bus.Message{Node: "node-a", Key: "q8Vx0bJm7Lk3p_9-AbCdEfGhIjKlMnOpQrStUvWxYz0", Version: 123456, Kind: bus.Changed})
	b.ReportAllocs()
	for b.Loop() {
		if _, err := bus.Decode(raw); err != nil {
			b.Fatal(err)
		}
	}
}

// ExampleEncode shows the wire format: one line of printable ASCII, the
// session key unchanged when it is base64url.
func ExampleEncode() {
	b := bus.Encode(bus.Message{Node: "web 1", Key: "Xy_z-42", Version: 7, Kind: bus.Changed})
	fmt.Println(string(b))
	m, err := bus.Decode(b)
	fmt.Println(m.Node, m.Key, m.Version, m.Kind == bus.Changed, err)
	// Output:
	// sgb1 C 7 web%201 Xy_z-42
	// web 1 Xy_z-42 7 true <nil>
}
