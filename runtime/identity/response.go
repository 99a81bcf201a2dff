package identity

import (
	"net/http"
	"strings"
)

// addListToken adds token to the comma-separated list header key unless a
// value already lists it (case-insensitively). For Vary, "*" counts as
// listing every field.
func addListToken(h http.Header, key, token string) {
	for _, v := range h[key] {
		for v != "" {
			var item string
			item, v, _ = strings.Cut(v, ",")
			item = strings.Trim(item, " \t")
			if strings.EqualFold(item, token) || (key == "Vary" && item == "*") {
				return
			}
		}
	}
	h.Add(key, token)
}

// isToken reports whether s is a non-empty HTTP token (RFC 9110, section
// 5.6.2), as header field names, cookie names and auth schemes must be.
func isToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		case strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0:
		default:
			return false
		}
	}
	return true
}

// trimOWS strips optional whitespace (spaces and tabs) from both ends.
func trimOWS(s string) string {
	return strings.Trim(s, " \t")
}
