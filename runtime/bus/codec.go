package bus

import (
	"errors"
	"fmt"
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
// Decode never panics, whatever b holds.
func Decode(b []byte) (Message, error) {
	s := string(b)
	tag, s, ok := strings.Cut(s, " ")
	if !ok || tag != wireTag {
		return Message{}, fmt.Errorf("bus: decode: %w: not a %s message", ErrMalformed, wireTag)
	}
	parts := strings.Split(s, " ")
	if len(parts) != 4 {
		return Message{}, fmt.Errorf("bus: decode: %w: %d fields after the tag, want 4", ErrMalformed, len(parts))
	}
	var m Message
	switch parts[0] {
	case "C":
		m.Kind = Changed
	case "D":
		m.Kind = Deleted
	default:
		return Message{}, fmt.Errorf("bus: decode: %w: unknown kind", ErrMalformed)
	}
	// Base 10: plain digits only (no sign, prefix or underscore).
	v, err := strconv.ParseUint(parts[1], 10, 64)
	if err != nil {
		return Message{}, fmt.Errorf("bus: decode: %w: bad version", ErrMalformed)
	}
	m.Version = v
	if m.Node, ok = unescape(parts[2]); !ok {
		return Message{}, fmt.Errorf("bus: decode: %w: bad node encoding", ErrMalformed)
	}
	if m.Key, ok = unescape(parts[3]); !ok {
		return Message{}, fmt.Errorf("bus: decode: %w: bad key encoding", ErrMalformed)
	}
	if err := m.Validate(); err != nil {
		return Message{}, fmt.Errorf("bus: decode: %w", err)
	}
	return m, nil
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
func unescape(s string) (string, bool) {
	if !strings.Contains(s, "%") {
		for i := 0; i < len(s); i++ {
			if !plain(s[i]) {
				return "", false
			}
		}
		return s, true
	}
	b := make([]byte, 0, len(s))
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case plain(c):
			b = append(b, c)
		case c == '%' && i+2 < len(s):
			hi, ok1 := unhex(s[i+1])
			lo, ok2 := unhex(s[i+2])
			if !ok1 || !ok2 {
				return "", false
			}
			b = append(b, hi<<4|lo)
			i += 2
		default:
			return "", false
		}
	}
	return string(b), true
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
