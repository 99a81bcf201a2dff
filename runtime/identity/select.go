package identity

import (
	"net/http"
	"strings"
)

// Select returns the first identity in ids whose Match reports true for r,
// or nil when none does. nil entries are skipped. Put the most specific
// identities (a host, a longer path) first.
func Select(ids []Identity, r *http.Request) Identity {
	for _, id := range ids {
		if id != nil && id.Match(r) {
			return id
		}
	}
	return nil
}

// MatchPath reports whether the request path p lies under prefix, with
// the path-match rule of cookies (RFC 6265, section 5.1.4): "/x" matches
// "/x" and "/x/..." but not "/xy"; "/x/" matches "/x/..." but not "/x".
// An empty prefix or "/" matches every path; an empty p is taken as "/".
// Paths are compared case-sensitively.
func MatchPath(prefix, p string) bool {
	if prefix == "" || prefix == "/" {
		return true
	}
	if p == "" {
		p = "/"
	}
	if !strings.HasPrefix(p, prefix) {
		return false
	}
	return len(p) == len(prefix) || prefix[len(prefix)-1] == '/' || p[len(prefix)] == '/'
}

// MatchHost reports whether the request host (as in [http.Request.Host],
// possibly with a port) matches pattern. pattern is a host name or IP
// address without port; an empty pattern matches every host. A pattern
// that starts with "." matches the name after the dot and every subdomain
// of it, like a cookie's Domain attribute: ".example.com" matches
// "example.com" and "a.b.example.com" but not "badexample.com". Ports,
// IPv6 brackets and one trailing dot are ignored; case is not significant.
func MatchHost(pattern, host string) bool {
	if pattern == "" {
		return true
	}
	h := hostname(host)
	if h == "" {
		return false
	}
	pattern = trimHostPattern(pattern)
	if base, sub := strings.CutPrefix(pattern, "."); sub {
		if base == "" {
			return false
		}
		if len(h) == len(base) {
			return strings.EqualFold(h, base)
		}
		n := len(h) - len(base)
		return n > 1 && h[n-1] == '.' && strings.EqualFold(h[n:], base)
	}
	return pattern != "" && strings.EqualFold(h, pattern)
}

// requestHost returns the host a request was sent to: r.Host, or
// r.URL.Host when r.Host is empty.
func requestHost(r *http.Request) string {
	if r.Host != "" {
		return r.Host
	}
	if r.URL != nil {
		return r.URL.Host
	}
	return ""
}

// requestPath returns r.URL.Path, or "/" when there is none.
func requestPath(r *http.Request) string {
	if r.URL == nil || r.URL.Path == "" {
		return "/"
	}
	return r.URL.Path
}

// matchRequest reports whether r matches a host pattern and path prefix.
func matchRequest(r *http.Request, host, path string) bool {
	return r != nil && MatchHost(host, requestHost(r)) && MatchPath(path, requestPath(r))
}

// hostname strips the port, IPv6 brackets and one trailing dot from a
// Host header value.
func hostname(h string) string {
	if strings.HasPrefix(h, "[") {
		end := strings.IndexByte(h, ']')
		if end < 0 {
			return ""
		}
		return h[1:end]
	}
	if i := strings.LastIndexByte(h, ':'); i >= 0 {
		h = h[:i]
	}
	return strings.TrimSuffix(h, ".")
}

// trimHostPattern strips IPv6 brackets and one trailing dot from a
// configured host pattern.
func trimHostPattern(p string) string {
	if len(p) > 2 && p[0] == '[' && p[len(p)-1] == ']' {
		return p[1 : len(p)-1]
	}
	return strings.TrimSuffix(p, ".")
}
