package codec

import (
	"errors"
	"io"
	"strconv"
)

// Reader reads the bytes of one msgpack value that [Validate] accepts, for
// a streaming decoder such as msgpack.Decoder: it implements [io.Reader]
// and [io.ByteScanner], so msgpack.NewDecoder (and Decoder.Reset) read
// from it directly, without a bufio.Reader in between.
//
// It exists because validating the bytes is not enough to bound what
// msgpack.Decoder allocates. When the decoder expects a map and meets an
// ext value, msgpack/v5 skips the ext header and reads a map header from
// the ext payload, then keeps reading values from there: bytes that
// Validate treats as opaque, where a header can declare 2^32 entries (a
// fatal out-of-memory error for a map[string]any). A Reader refuses to
// hand out, through ReadByte, a byte inside an ext payload, which is how
// a decoder reads a format code; the payloads of timestamps and of types
// registered with msgpack.RegisterExt are read with Read and are not
// affected. A decoder reading from a Reader therefore reads format codes
// only where Validate found values, and every length it reads was checked
// against the bytes that remain.
//
// A refused read returns an error wrapping [ErrType] (the decoder wanted
// something else than the ext value it found).
type Reader struct {
	b   []byte
	off int
	// ext holds the payload spans of b's ext values, in order; next is
	// the index of the first one that ends after off.
	ext  []span
	next int
	// inline holds ext's first spans, so that a value with few ext
	// values costs no allocation beyond the Reader.
	inline [4]span
}

// NewReader returns a Reader over b, which must hold exactly one msgpack
// value: otherwise it returns the error of [Validate]. The Reader does not
// copy b.
func NewReader(b []byte) (*Reader, error) {
	r := new(Reader)
	if err := r.Reset(b); err != nil {
		return nil, err
	}
	return r, nil
}

// Reset makes r read b from its start, as [NewReader] does, so that a
// Reader can be reused (kept in a sync.Pool, say). When b is refused
// (with the error of [Validate]), r reads nothing: Reset(nil) drops r's
// reference to the bytes it read before.
func (r *Reader) Reset(b []byte) error {
	if r.ext == nil {
		r.ext = r.inline[:0]
	}
	r.b, r.off, r.ext, r.next = nil, 0, r.ext[:0], 0
	if f := check(b, &r.ext); f.why != "" {
		r.ext = r.ext[:0]
		return f.err()
	}
	r.b = b
	return nil
}

// Len returns the number of bytes not yet read.
func (r *Reader) Len() int {
	return len(r.b) - r.off
}

// Read reads up to len(p) bytes into p. It returns [io.EOF] once every
// byte has been read.
func (r *Reader) Read(p []byte) (int, error) {
	if r.off >= len(r.b) {
		if len(p) == 0 {
			return 0, nil
		}
		return 0, io.EOF
	}
	n := copy(p, r.b[r.off:])
	r.off += n
	return n, nil
}

// ReadByte reads the next byte. It refuses a byte inside the payload of an
// ext value with an error wrapping [ErrType], and returns [io.EOF] once
// every byte has been read.
func (r *Reader) ReadByte() (byte, error) {
	if r.off >= len(r.b) {
		return 0, io.EOF
	}
	for r.next < len(r.ext) && r.ext[r.next].end <= r.off {
		r.next++
	}
	if r.next < len(r.ext) && r.ext[r.next].start <= r.off {
		return 0, &codecError{kind: ErrType, msg: "codec: msgpack value read inside the payload of the ext value ending at offset " +
			strconv.Itoa(r.ext[r.next].end) + " (ext payloads are opaque)"}
	}
	c := r.b[r.off]
	r.off++
	return c, nil
}

// errUnread is returned by UnreadByte at the start of the input.
var errUnread = errors.New("codec: Reader.UnreadByte: at the beginning of the input")

// UnreadByte steps back one byte.
func (r *Reader) UnreadByte() error {
	if r.off <= 0 {
		return errUnread
	}
	r.off--
	return nil
}
