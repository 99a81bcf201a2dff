package mysqlstore

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
)

// The data column holds a JSON object: member name = base64url (unpadded)
// of the field key, value = standard base64 of the field's bytes. Both
// alphabets need no JSON escaping, so the document is ASCII whatever the
// keys hold, and a path needs no escaping either: `$."<name>"`.

// encodeFields renders a whole session's fields as the data document.
func encodeFields(fields map[string][]byte) string {
	var b strings.Builder
	b.Grow(2 + len(fields)*16)
	b.WriteByte('{')
	first := true
	for k, v := range fields {
		writeMember(&b, &first, k)
		writeValue(&b, v)
	}
	b.WriteByte('}')
	return b.String()
}

// fieldPath returns the JSON path of a field in the data document.
func fieldPath(key string) string {
	return `$."` + base64.RawURLEncoding.EncodeToString([]byte(key)) + `"`
}

// encodeValue returns the JSON string value (without quotes) of a field.
func encodeValue(v []byte) string {
	return base64.StdEncoding.EncodeToString(v)
}

// writeMember writes `"name":`, preceded by a comma unless first.
func writeMember(b *strings.Builder, first *bool, key string) {
	if !*first {
		b.WriteByte(',')
	}
	*first = false
	b.WriteByte('"')
	b.WriteString(base64.RawURLEncoding.EncodeToString([]byte(key)))
	b.WriteString(`":`)
}

// writeValue writes the quoted base64 of v.
func writeValue(b *strings.Builder, v []byte) {
	b.WriteByte('"')
	b.WriteString(encodeValue(v))
	b.WriteByte('"')
}

// decodeFields parses the data document back into fields. It accepts
// exactly what [sizeSQL] accepts, so the server and the store agree on
// which records are corrupt: a JSON object without escape sequences (the
// store writes none), whose member names are distinct, non-empty,
// canonical base64url shorter than [maxNameLen] and whose values are
// strings of canonical base64 (what the encoders produce, with no stray
// bits or line breaks).
func decodeFields(data []byte) (map[string][]byte, error) {
	if bytes.IndexByte(data, '\\') >= 0 {
		return nil, errors.New("escape sequence in the data document")
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return nil, errors.New("data document is not a JSON object")
	}
	fields := make(map[string][]byte)
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, fmt.Errorf("data document: %w", err)
		}
		name, _ := tok.(string) // member names are always strings
		tok, err = dec.Token()
		if err != nil {
			return nil, fmt.Errorf("data document: %w", err)
		}
		value, ok := tok.(string)
		if !ok {
			return nil, errors.New("field value is not a string")
		}
		if len(name) >= maxNameLen {
			return nil, errors.New("field name too long")
		}
		k, err := decodeCanonical(base64.RawURLEncoding, name)
		if err != nil || len(k) == 0 {
			return nil, errors.New("field name is not canonical base64url")
		}
		v, err := decodeCanonical(base64.StdEncoding, value)
		if err != nil {
			return nil, errors.New("field value is not canonical base64")
		}
		if _, dup := fields[string(k)]; dup {
			return nil, errors.New("field name repeated")
		}
		fields[string(k)] = v
	}
	if tok, err := dec.Token(); err != nil || tok != json.Delim('}') {
		return nil, errors.New("data document is not a JSON object")
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, errors.New("data after the JSON object")
	}
	return fields, nil
}

// decodeCanonical decodes s, refusing any text enc would not have
// produced (the decoders skip line breaks and ignore stray bits).
func decodeCanonical(enc *base64.Encoding, s string) ([]byte, error) {
	b, err := enc.DecodeString(s)
	if err != nil {
		return nil, err
	}
	if enc.EncodeToString(b) != s {
		return nil, errors.New("not canonical")
	}
	return b, nil
}
