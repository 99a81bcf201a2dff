package mysqlstore

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
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

// decodeFields parses the data document back into fields.
func decodeFields(data []byte) (map[string][]byte, error) {
	var doc map[string]string
	if err := json.Unmarshal(data, &doc); err != nil {
		return nil, fmt.Errorf("corrupt session data: %w", err)
	}
	fields := make(map[string][]byte, len(doc))
	for name, value := range doc {
		k, err := base64.RawURLEncoding.DecodeString(name)
		if err != nil {
			return nil, fmt.Errorf("corrupt field name in session data: %w", err)
		}
		v, err := base64.StdEncoding.DecodeString(value)
		if err != nil {
			return nil, fmt.Errorf("corrupt field value in session data: %w", err)
		}
		fields[string(k)] = v
	}
	return fields, nil
}
