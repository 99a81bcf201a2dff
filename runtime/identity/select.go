package identity

import (
	"net/http"
	"strings"
)

// Select returns the first identity in ids whose Match reports true for r,
// or nil when none does. nil entries are skipped. Put the most specific
// identities (a host, a longer path) first. [Cookie] and [Header] match
// the path the client requested (from r.RequestURI), so Select gives the
// same answer before and inside http.StripPrefix (see [Cookie.Match]).
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

// requestPath returns the path the client requested, as browsers match
// cookie paths against it: the path of r.RequestURI, which handlers such
// as http.StripPrefix do not rewrite (unlike r.URL.Path). When
// RequestURI is empty (a request built in the program, not received by
// a server), "*" or without a path (authority-form), it falls back to
// r.URL's escaped path (RawPath when valid, else Path). The result is
// "/" when there is no path at all. It does not allocate unless
// r.URL.Path needs escaping.
func requestPath(r *http.Request) string {
	if p, ok := uriPath(r.RequestURI); ok {
		return p
	}
	if r.URL == nil {
		return "/"
	}
	if p := r.URL.EscapedPath(); p != "" {
		return p
	}
	return "/"
}

// uriPath returns the path of a request-target (RFC 9112, section 3.2):
// the part of an origin-form target ("/a/b?q") before the query, or the
// path of an absolute-form target ("http://h/a/b?q"; "/" when it has
// none). ok is false for an empty target, "*" and an authority-form
// target ("host:443"), which carry no path.
func uriPath(uri string) (path string, ok bool) {
	if uri == "" {
		return "", false
	}
	if uri[0] != '/' {
		i := strings.Index(uri, "://")
		if i <= 0 || strings.ContainsAny(uri[:i], "/?#") {
			return "", false // "*", authority-form or not a URI
		}
		rest := uri[i+3:]
		j := strings.IndexAny(rest, "/?#")
		if j < 0 || rest[j] != '/' {
			return "/", true
		}
		uri = rest[j:]
	}
	if i := strings.IndexAny(uri, "?#"); i >= 0 {
		uri = uri[:i]
	}
	return uri, true
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
