package codec_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/vmihailenco/msgpack/v5"

	"github.com/sessiongen/sessiongen/runtime/codec"
)

func sprintf(format string, args ...any) string { return fmt.Sprintf(format, args...) }

// stringLengths are the length boundaries of msgpack's str and bin headers,
// with the header size codec writes for a string of that length.
var stringLengths = []struct {
	n, strHeader, binHeader int
}{
	{0, 1, 2},
	{1, 1, 2},
	{31, 1, 2},
	{32, 2, 2},
	{255, 2, 2},
	{256, 3, 3},
	{65535, 3, 3},
	{65536, 5, 5},
	{70000, 5, 5},
}

func TestStringRoundTrip(t *testing.T) {
	for _, tt := range stringLengths {
		s := strings.Repeat("é", tt.n/2) + strings.Repeat("x", tt.n%2)
		require.Len(t, s, tt.n)

		b := codec.AppendString(nil, s)
		assert.Len(t, b, tt.strHeader+tt.n, "len %d", tt.n)
		assert.Equal(t, codec.StringSize(tt.n), len(b), "StringSize(%d)", tt.n)
		assert.Equal(t, marshal(t, s), b, "len %d: same bytes as msgpack", tt.n)

		got, err := codec.String(b)
		require.NoError(t, err)
		assert.Equal(t, s, got)

		var viaMsgpack string
		require.NoError(t, msgpack.Unmarshal(b, &viaMsgpack))
		assert.Equal(t, s, viaMsgpack)
	}

	// Bytes are copied as they are, valid UTF-8 or not, as msgpack does.
	bad := "a\xff\xfe"
	b := codec.AppendString(nil, bad)
	assert.Equal(t, marshal(t, bad), b)
	got, err := codec.String(b)
	require.NoError(t, err)
	assert.Equal(t, bad, got)
}

func TestBytesRoundTrip(t *testing.T) {
	for _, tt := range stringLengths {
		v := []byte(strings.Repeat("\x00\xff", tt.n/2) + strings.Repeat("x", tt.n%2))
		require.Len(t, v, tt.n)

		b := codec.AppendBytes(nil, v)
		assert.Len(t, b, tt.binHeader+tt.n, "len %d", tt.n)
		assert.Equal(t, codec.BytesSize(tt.n), len(b), "BytesSize(%d)", tt.n)
		assert.Equal(t, marshal(t, v), b, "len %d: same bytes as msgpack", tt.n)

		got, err := codec.Bytes(b)
		require.NoError(t, err)
		require.NotNil(t, got, "a non-nil slice stays non-nil")
		assert.Equal(t, v, got)

		var viaMsgpack []byte
		require.NoError(t, msgpack.Unmarshal(b, &viaMsgpack))
		assert.Equal(t, v, viaMsgpack)
	}
}

func TestBytesNil(t *testing.T) {
	b := codec.AppendBytes(nil, nil)
	assert.Equal(t, []byte{0xc0}, b)
	assert.Equal(t, marshal(t, []byte(nil)), b, "msgpack writes a nil slice as nil too")
	assert.LessOrEqual(t, len(b), codec.BytesSize(0))

	got, err := codec.Bytes(b)
	require.NoError(t, err)
	assert.Nil(t, got)

	viaMsgpack := []byte("not nil")
	require.NoError(t, msgpack.Unmarshal(b, &viaMsgpack))
	assert.Nil(t, viaMsgpack)

	// An empty non-nil slice stays empty and non-nil, both ways.
	empty := codec.AppendBytes(nil, []byte{})
	assert.Equal(t, []byte{0xc4, 0x00}, empty)
	got, err = codec.Bytes(empty)
	require.NoError(t, err)
	assert.NotNil(t, got)
	assert.Empty(t, got)
	require.NoError(t, msgpack.Unmarshal(empty, &viaMsgpack))
	assert.NotNil(t, viaMsgpack)

	s, err := codec.String(b)
	require.NoError(t, err, "nil decodes as an empty string, as msgpack does")
	assert.Empty(t, s)
}

func TestBytesCopies(t *testing.T) {
	b := codec.AppendBytes(nil, []byte("hello"))
	got, err := codec.Bytes(b)
	require.NoError(t, err)
	got[0] = 'J'
	assert.Equal(t, "hello", string(b[2:]), "input unchanged by writes to the result")
	b[3] = 'X'
	assert.Equal(t, "Jello", string(got), "result unchanged by writes to the input")
}

// TestStringBinInterchange checks that str and bin read as each other, as in
// msgpack.
func TestStringBinInterchange(t *testing.T) {
	s, err := codec.String(codec.AppendBytes(nil, []byte("bin")))
	require.NoError(t, err)
	assert.Equal(t, "bin", s)

	p, err := codec.Bytes(codec.AppendString(nil, "str"))
	require.NoError(t, err)
	assert.Equal(t, []byte("str"), p)

	var viaMsgpack string
	require.NoError(t, msgpack.Unmarshal(codec.AppendBytes(nil, []byte("bin")), &viaMsgpack))
	assert.Equal(t, "bin", viaMsgpack)

	// Non-minimal headers, which other encoders may write, are read too.
	s, err = codec.String([]byte{0xda, 0x00, 0x02, 'h', 'i'})
	require.NoError(t, err)
	assert.Equal(t, "hi", s)
	p, err = codec.Bytes([]byte{0xc6, 0, 0, 0, 0x02, 'h', 'i'})
	require.NoError(t, err)
	assert.Equal(t, []byte("hi"), p)
}

func TestStringMalformed(t *testing.T) {
	tests := []struct {
		in  []byte
		msg string
	}{
		{[]byte{0xa3, 'a', 'b'}, "codec: want %s: truncated input: value needs 4 bytes, have 3"},
		{[]byte{0xa1, 'a', 'b'}, "codec: want %s: 1 trailing bytes after the value"},
		{[]byte{0xd9}, "codec: want %s: truncated input: value needs 2 bytes, have 1"},
		{[]byte{0xda, 0x01}, "codec: want %s: truncated input: value needs 3 bytes, have 2"},
		{[]byte{0xdb, 0xff, 0xff, 0xff, 0xff, 'a'}, "codec: want %s: truncated input: value needs 4294967300 bytes, have 6"},
		{[]byte{0xc6, 0xff, 0xff, 0xff}, "codec: want %s: truncated input: value needs 5 bytes, have 4"},
		{[]byte{0xc4, 0x02, 'a'}, "codec: want %s: truncated input: value needs 4 bytes, have 3"},
		{[]byte{0xc0, 0xc0}, "codec: want %s: 1 trailing bytes after the value"},
	}
	for _, tt := range tests {
		_, err := codec.String(tt.in)
		require.ErrorIs(t, err, codec.ErrMalformed, "% x", tt.in)
		assert.EqualError(t, err, sprintf(tt.msg, "str"))
		assert.Equal(t, 1, sentinels(err))

		_, err = codec.Bytes(tt.in)
		require.ErrorIs(t, err, codec.ErrMalformed, "% x", tt.in)
		assert.EqualError(t, err, sprintf(tt.msg, "bin"))
	}

	_, err := codec.String(codec.AppendInt(nil, 5))
	require.ErrorIs(t, err, codec.ErrType)
	_, err = codec.Bytes([]byte{0x91, 0x01})
	require.ErrorIs(t, err, codec.ErrType)
	assert.EqualError(t, err, "codec: want bin, found array")
}

func TestSizeFunctions(t *testing.T) {
	assert.Equal(t, 1, codec.StringSize(0))
	assert.Equal(t, 32, codec.StringSize(31))
	assert.Equal(t, 34, codec.StringSize(32))
	assert.Equal(t, 1, codec.StringSize(-5))
	assert.Equal(t, 2, codec.BytesSize(0))
	assert.Equal(t, 2, codec.BytesSize(-5))
	assert.Equal(t, 3+256, codec.BytesSize(256))
	assert.Equal(t, 5+65536, codec.StringSize(65536))
}
