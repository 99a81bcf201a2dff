package bus

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
)

// The wire format every transport uses for a [Message] is one line of
// printable ASCII, so it fits a Redis pub/sub payload and a PostgreSQL
// NOTIFY payload (text: no NUL byte, valid in any server encoding) alike:
//
//	sgb1 <kind> <version> <node> <key>
//
// separated by single spaces, where kind is "C" ([Changed]) or "D"
// ([Deleted]), version is the decimal [Message.Version], and node and key
// are percent-encoded: the bytes A-Z a-z 0-9 - _ . ~ stand for
// themselves, every other byte is %XX (two upper-case hexadecimal
// digits). Any Go string, including invalid UTF-8 and NUL bytes, round
// trips; a base64url session key (store.Key) travels unchanged. The
// "sgb1" tag names the format's version: a later format gets a new tag,
// and a node that does not know it skips such messages as malformed.

// wireTag opens every encoded message.
const wireTag = "sgb1"

// ErrMalformed is wrapped by the errors of [Decode] for bytes that are not
// an encoded message and of [Message.Validate] (and so of every
// transport's Publish) for a message that cannot be sent.
var ErrMalformed = errors.New("malformed bus message")

// Validate reports whether m can be sent: its Kind must be [Changed] or
// [Deleted] and its Key must not be empty. Node may be empty. The error
// wraps [ErrMalformed].
func (m Message) Validate() error {
	if m.Kind != Changed && m.Kind != Deleted {
		return fmt.Errorf("%w: unknown kind %d", ErrMalformed, m.Kind)
	}
	if m.Key == "" {
		return fmt.Errorf("%w: empty key", ErrMalformed)
	}
	return nil
}

// Encode returns m in the wire format described above. It does not check
// m: for every m that [Message.Validate] accepts, Decode(Encode(m))
// returns m; a message it rejects encodes to bytes Decode rejects.
func Encode(m Message) []byte {
	n := len(wireTag) + 4 + 20 + escapedLen(m.Node) + escapedLen(m.Key)
	b := make([]byte, 0, n)
	b = append(b, wireTag...)
	b = append(b, ' ')
	switch m.Kind {
	case Changed:
		b = append(b, 'C')
	case Deleted:
		b = append(b, 'D')
	default:
		b = append(b, '?')
	}
	b = append(b, ' ')
	b = strconv.AppendUint(b, m.Version, 10)
	b = append(b, ' ')
	b = appendEscaped(b, m.Node)
	b = append(b, ' ')
	b = appendEscaped(b, m.Key)
	return b
}

// Decode parses one message in the wire format. Its errors wrap
// [ErrMalformed]; they describe what is wrong without quoting the bytes.
// Decode never panics, whatever b holds, and allocates little: the node
// and key it returns (at most len(b) bytes together) and, for bytes it
// refuses, the error.
func Decode(b []byte) (Message, error) {
	tag, rest, ok := bytes.Cut(b, sep)
	if !ok || string(tag) != wireTag {
		return Message{}, fmt.Errorf("bus: decode: %w: not a %s message", ErrMalformed, wireTag)
	}
	if n := bytes.Count(rest, sep) + 1; n != 4 {
		return Message{}, fmt.Errorf("bus: decode: %w: %d fields after the tag, want 4", ErrMalformed, n)
	}
	kind, rest, _ := bytes.Cut(rest, sep)
	version, rest, _ := bytes.Cut(rest, sep)
	node, key, _ := bytes.Cut(rest, sep)
	var m Message
	switch string(kind) {
	case "C":
		m.Kind = Changed
	case "D":
		m.Kind = Deleted
	default:
		return Message{}, fmt.Errorf("bus: decode: %w: unknown kind", ErrMalformed)
	}
	v, ok := parseVersion(version)
	if !ok {
		return Message{}, fmt.Errorf("bus: decode: %w: bad version", ErrMalformed)
	}
	m.Version = v
	if m.Node, ok = unescape(node); !ok {
		return Message{}, fmt.Errorf("bus: decode: %w: bad node encoding", ErrMalformed)
	}
	if m.Key, ok = unescape(key); !ok {
		return Message{}, fmt.Errorf("bus: decode: %w: bad key encoding", ErrMalformed)
	}
	if err := m.Validate(); err != nil {
		return Message{}, fmt.Errorf("bus: decode: %w", err)
	}
	return m, nil
}

// sep separates the fields of an encoded message.
var sep = []byte{' '}

// parseVersion parses a version: decimal digits only (no sign, prefix or
// underscore), at least one, of a value that fits a uint64, as
// strconv.ParseUint(s, 10, 64) does, without converting p to a string.
func parseVersion(p []byte) (uint64, bool) {
	if len(p) == 0 {
		return 0, false
	}
	var v uint64
	for _, c := range p {
		if c < '0' || c > '9' {
			return 0, false
		}
		d := uint64(c - '0')
		if v > (math.MaxUint64-d)/10 {
			return 0, false
		}
		v = v*10 + d
	}
	return v, true
}

// plain reports whether c stands for itself in an encoded string.
func plain(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' ||
		c == '-' || c == '_' || c == '.' || c == '~'
}

// escapedLen is the length of s once percent-encoded.
func escapedLen(s string) int {
	n := len(s)
	for i := 0; i < len(s); i++ {
		if !plain(s[i]) {
			n += 2
		}
	}
	return n
}

// appendEscaped appends s, percent-encoded, to b.
func appendEscaped(b []byte, s string) []byte {
	const hex = "0123456789ABCDEF"
	for i := 0; i < len(s); i++ {
		c := s[i]
		if plain(c) {
			b = append(b, c)
			continue
		}
		b = append(b, '%', hex[c>>4], hex[c&15])
	}
	return b
}

// unescape reverses appendEscaped. It rejects bytes that must have been
// encoded and a '%' not followed by two hexadecimal digits (either case).
// Its one allocation is the returned string.
func unescape(p []byte) (string, bool) {
	n := 0 // decoded length
	for i := 0; i < len(p); i++ {
		switch c := p[i]; {
		case plain(c):
		case c == '%' && i+2 < len(p):
			if _, ok := unhex(p[i+1]); !ok {
				return "", false
			}
			if _, ok := unhex(p[i+2]); !ok {
				return "", false
			}
			i += 2
		default:
			return "", false
		}
		n++
	}
	if n == len(p) {
		return string(p), true
	}
	var sb strings.Builder
	sb.Grow(n)
	for i := 0; i < len(p); i++ {
		c := p[i]
		if c == '%' {
			hi, _ := unhex(p[i+1])
			lo, _ := unhex(p[i+2])
			c = hi<<4 | lo
			i += 2
		}
		sb.WriteByte(c)
	}
	return sb.String(), true
}

// unhex is the value of one hexadecimal digit.
func unhex(c byte) (byte, bool) {
	switch {
	case '0' <= c && c <= '9':
		return c - '0', true
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10, true
	case 'A' <= c && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}
