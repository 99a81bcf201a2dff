package identity

import (
	"fmt"
	"net/http"
	"strings"
	"time"
)

// DefaultCookieName is the cookie name used when [Cookie.Name] is empty.
const DefaultCookieName = "sid"

// Cookie is an [Identity] that carries the session ID in a cookie. The
// zero value is ready to use and safe: a cookie named "sid" on path "/",
// HttpOnly, SameSite=Lax, Secure when the request came over TLS, lasting
// for the browser session, unsigned. Set only the fields you need:
//
//	&identity.Cookie{Host: ".example.com", Path: "/app", Persistent: true}
//
// For HTTPS deployments prefer the name "__Host-sid": browsers accept a
// "__Host-" cookie only when it is Secure, has Path=/ and no Domain, so a
// sibling subdomain (or a plain-HTTP page of the same host) can neither
// set nor overwrite it. See [Cookie.Read] for what Read does with cookies
// planted under an ordinary name.
//
// Do not change a Cookie's fields once it is in use; it is then safe for
// concurrent use. Use a pointer (*Cookie implements [Identity]).
type Cookie struct {
	// Name is the cookie name, an HTTP token. Default "sid".
	//
	// Cookie name prefixes (matched case-insensitively, as current
	// browsers do) are honoured so that a configuration can never produce
	// a cookie browsers reject: a name starting with "__Secure-" makes the
	// cookie Secure always; a name starting with "__Host-" makes it
	// Secure, with Path=/ and no Domain, always. [Cookie.Validate] (which
	// the session manager calls when it is built) refuses a "__Host-"
	// cookie configured with a Domain or a Path other than "/" instead of
	// silently dropping them; a Cookie used without Validate still writes
	// Path=/ and no Domain. Browsers accept prefixed cookies only from
	// secure origins (https, or http://localhost).
	Name string

	// Path is the cookie's Path attribute and also the path prefix this
	// identity serves (see [MatchPath]): "/app" serves "/app" and
	// "/app/..." but not "/apple". Default "/".
	//
	// Path is the path the browser sees: it is matched against the path
	// of the request line (r.RequestURI), not r.URL.Path, so a handler
	// mounted with http.StripPrefix("/app", ...) is served by Path "/app"
	// and the cookie is set where the browser sends it back (see
	// [Cookie.Match]).
	Path string

	// Domain is the cookie's Domain attribute. Empty (the default) makes a
	// host-only cookie, sent back only to the host that set it; a domain
	// such as "example.com" also sends it to every subdomain.
	Domain string

	// Host selects the requests this identity serves (see [MatchHost]):
	// the request host must equal Host or, when Host starts with ".", be
	// the name after the dot or one of its subdomains. Ports are ignored
	// and case does not matter. Default "" (every host).
	Host string

	// ForceSecure sets the Secure attribute on every response. By default
	// the cookie is Secure when the request came over TLS (r.TLS != nil)
	// and always when SameSite is None, Partitioned is set or the name has
	// a "__Secure-"/"__Host-" prefix. Set ForceSecure behind a proxy that
	// terminates TLS, where r.TLS is nil.
	ForceSecure bool

	// AllowScript leaves out the HttpOnly attribute, so page scripts can
	// read the cookie. Default false: the cookie is HttpOnly.
	AllowScript bool

	// SameSite is the SameSite attribute. The zero value means
	// http.SameSiteLaxMode (the default); http.SameSiteDefaultMode leaves
	// the attribute out (the browser's default applies);
	// http.SameSiteNoneMode also makes the cookie Secure.
	SameSite http.SameSite

	// Partitioned sets the Partitioned attribute (CHIPS: a cookie kept per
	// top-level site, for embedded third-party use). It implies Secure.
	// Default false.
	Partitioned bool

	// Persistent makes the cookie outlive the browser session: Expires and
	// Max-Age are set from the session's expiry passed to Write. Default
	// false: a browser-session cookie without Expires or Max-Age.
	Persistent bool

	// Signer, when set, signs the ID in the cookie and Read refuses any
	// value that does not verify. Default nil: the cookie holds the bare ID.
	Signer *Signer
}

// DefaultCookie returns a Cookie with every default written out: name
// "sid", path "/", SameSite=Lax (and, as in the zero value, HttpOnly and
// Secure over TLS). It behaves exactly like &Cookie{}.
func DefaultCookie() *Cookie {
	return &Cookie{Name: DefaultCookieName, Path: "/", SameSite: http.SameSiteLaxMode}
}

func (c *Cookie) name() string {
	if c.Name == "" {
		return DefaultCookieName
	}
	return c.Name
}

func (c *Cookie) path() string {
	if c.Path == "" {
		return "/"
	}
	return c.Path
}

func (c *Cookie) sameSite() http.SameSite {
	if c.SameSite == 0 {
		return http.SameSiteLaxMode
	}
	return c.SameSite
}

// hasPrefixFold reports whether s starts with prefix, ignoring ASCII
// case.
func hasPrefixFold(s, prefix string) bool {
	return len(s) >= len(prefix) && strings.EqualFold(s[:len(prefix)], prefix)
}

// hostPrefixed reports whether the cookie name has the "__Host-" prefix.
func (c *Cookie) hostPrefixed() bool {
	return hasPrefixFold(c.name(), "__Host-")
}

// secure reports whether the cookie written for r gets the Secure
// attribute.
func (c *Cookie) secure(r *http.Request) bool {
	return c.ForceSecure || (r != nil && r.TLS != nil) || c.Partitioned ||
		c.sameSite() == http.SameSiteNoneMode ||
		hasPrefixFold(c.name(), "__Secure-") || c.hostPrefixed()
}

// Match reports whether c serves r: the request host matches Host (see
// [MatchHost]) and the path the client requested lies under Path (see
// [MatchPath]). The path is taken from r.RequestURI (origin-form
// "/app/x?q" or absolute-form "https://host/app/x"), which handlers such
// as http.StripPrefix leave alone, because that is the path the browser
// matches the cookie's Path against. When r.RequestURI is empty (a
// request built in the program rather than received by a server), "*"
// or has no path, r.URL's escaped path (RawPath, else Path) is used.
func (c *Cookie) Match(r *http.Request) bool {
	return matchRequest(r, c.Host, c.path())
}

// maxReadCookies is the most cookies named Name that [Cookie.Read]
// examines in one request.
const maxReadCookies = 4

// Read returns the session ID carried by a cookie named Name, or "" when
// there is none that holds a valid ID (with a Signer: a token that
// verifies).
//
// A request may carry several cookies of one name: a sibling subdomain
// can plant "sid=garbage" with Domain set to the parent domain, and
// browsers send it alongside the real one, often before it (they list
// cookies with longer paths first, then older ones first). Read
// therefore examines the cookies named Name in the order the request
// lists them and returns the first that is a well-formed ID (with a
// Signer: the first that verifies), so a planted malformed or forged
// cookie does not log the user out. At most the first 4 cookies of that
// name are examined, bounding the work one request can cause; a real
// cookie listed after 4 others of its name is not seen, and Read returns
// "". A planted cookie that is itself a well-formed ID (with a Signer: a
// validly signed token of another session) still wins when listed first.
// Only a "__Host-" name (see [Cookie.Name]) keeps other hosts from
// planting a cookie at all.
//
// One pair of surrounding double quotes is allowed. Read never panics
// and does not allocate.
func (c *Cookie) Read(r *http.Request) string {
	if r == nil {
		return ""
	}
	name := c.name()
	seen := 0
	for _, line := range r.Header["Cookie"] {
		for line != "" {
			var part string
			part, line, _ = strings.Cut(line, ";")
			part = trimOWS(part)
			if len(part) <= len(name) || part[len(name)] != '=' || part[:len(name)] != name {
				continue
			}
			if id := c.parse(part[len(name)+1:]); id != "" {
				return id
			}
			if seen++; seen == maxReadCookies {
				return ""
			}
		}
	}
	return ""
}

// parse returns the ID in the cookie value v, or "" when v is not a valid
// ID (with a Signer: not a token that verifies).
func (c *Cookie) parse(v string) string {
	if len(v) >= 2 && v[0] == '"' && v[len(v)-1] == '"' {
		v = v[1 : len(v)-1]
	}
	if c.Signer != nil {
		id, _ := c.Signer.Verify(v)
		return id
	}
	if ValidID(v) {
		return v
	}
	return ""
}

// Write sets the cookie to id (signed when Signer is set) with a
// Set-Cookie header, replacing one this identity already put on w. With
// Persistent, Expires and Max-Age follow expires (a zero expires gives a
// browser-session cookie). It also adds `Cache-Control: no-cache="Set-Cookie"`
// and `Vary: Cookie` (unless already present) so shared caches neither
// store nor replay the cookie. An id that is not a valid ID (see
// [ValidID]) is not written. The cookie's Path is Path as configured,
// whatever r.URL.Path a handler such as http.StripPrefix left; a
// "__Host-" cookie always gets Path=/, no Domain and Secure (see
// [Cookie.Name]).
func (c *Cookie) Write(w http.ResponseWriter, r *http.Request, id string, expires time.Time) {
	c.WriteLifetime(w, r, id, expires, c.Persistent)
}

// WriteLifetime is [Cookie.Write] with the cookie's lifetime chosen for
// this session: persistent (Expires and Max-Age follow expires) or a
// browser-session cookie, whatever Persistent says. The session manager
// calls it for a session whose lifetime was chosen
// (session.Session.SetPersistent: remember me).
func (c *Cookie) WriteLifetime(w http.ResponseWriter, r *http.Request, id string, expires time.Time, persistent bool) {
	if !ValidID(id) {
		return
	}
	v := id
	if c.Signer != nil {
		if v = c.Signer.Sign(id); v == "" {
			return
		}
	}
	hc := c.cookie(r)
	hc.Value = v
	if persistent && !expires.IsZero() {
		secs := (time.Until(expires) + time.Second - 1) / time.Second
		if secs > 0 {
			hc.MaxAge = int(secs)
			hc.Expires = expires
		} else {
			hc.MaxAge = -1
			hc.Expires = time.Unix(0, 0)
		}
	}
	setCookie(w.Header(), hc)
}

// Clear expires the cookie: a Set-Cookie with the same Name, Path,
// Domain and attributes as Write sends, an empty value, Max-Age=0 and an
// Expires in 1970. It replaces a Set-Cookie this identity already put on w.
func (c *Cookie) Clear(w http.ResponseWriter, r *http.Request) {
	hc := c.cookie(r)
	hc.MaxAge = -1
	hc.Expires = time.Unix(0, 0)
	setCookie(w.Header(), hc)
}

// Validate reports a configuration that cannot work, wrapping
// [ErrInvalid]: a Name that is not an HTTP token, a Path or Domain with
// bytes a cookie cannot carry, a "__Host-" cookie with a Domain or a Path
// other than "/" (browsers reject such a cookie; Write would drop them),
// or an unknown SameSite value.
func (c *Cookie) Validate() error {
	hc := c.cookie(nil)
	hc.Path, hc.Domain = c.path(), c.Domain
	hc.Secure = true
	if err := hc.Valid(); err != nil {
		return fmt.Errorf("identity: cookie %q: %w: %w", c.name(), ErrInvalid, err)
	}
	if c.hostPrefixed() && (c.Domain != "" || c.path() != "/") {
		return fmt.Errorf("identity: cookie %q: %w: a __Host- cookie is only accepted by browsers with Path \"/\" and no Domain "+
			"(have Path %q, Domain %q): remove them, or drop the __Host- prefix", hc.Name, ErrInvalid, c.path(), c.Domain)
	}
	if s := c.SameSite; s < 0 || s > http.SameSiteNoneMode {
		return fmt.Errorf("identity: cookie %q: %w: unknown SameSite value %d", hc.Name, ErrInvalid, s)
	}
	if c.Host != "" && (strings.Trim(c.Host, ".") == "" || strings.ContainsAny(c.Host, "/ \t")) {
		return fmt.Errorf("identity: cookie %q: %w: Host %q is not a host name", hc.Name, ErrInvalid, c.Host)
	}
	return nil
}

// cookie returns the cookie this identity writes for r, without value and
// expiry. A "__Host-" cookie always gets Path=/ and no Domain.
func (c *Cookie) cookie(r *http.Request) *http.Cookie {
	path, domain := c.path(), c.Domain
	if c.hostPrefixed() {
		path, domain = "/", ""
	}
	return &http.Cookie{
		Name:        c.name(),
		Path:        path,
		Domain:      domain,
		Secure:      c.secure(r),
		HttpOnly:    !c.AllowScript,
		SameSite:    c.sameSite(),
		Partitioned: c.Partitioned,
	}
}

// setCookie adds hc to h as a Set-Cookie header, first removing any
// Set-Cookie for the same name, path and domain, and marks the response
// as not to be stored by shared caches.
func setCookie(h http.Header, hc *http.Cookie) {
	line := hc.String()
	if line == "" {
		return
	}
	if old := h["Set-Cookie"]; len(old) > 0 {
		kept := old[:0:0]
		for _, l := range old {
			if !sameCookie(l, hc) {
				kept = append(kept, l)
			}
		}
		h["Set-Cookie"] = kept
	}
	h.Add("Set-Cookie", line)
	addListToken(h, "Cache-Control", `no-cache="Set-Cookie"`)
	addListToken(h, "Vary", "Cookie")
}

// sameCookie reports whether the Set-Cookie line l sets the cookie hc
// (same name, path and domain).
func sameCookie(l string, hc *http.Cookie) bool {
	if len(l) <= len(hc.Name) || l[:len(hc.Name)] != hc.Name || l[len(hc.Name)] != '=' {
		return false
	}
	p, err := http.ParseSetCookie(l)
	if err != nil {
		return false
	}
	path := p.Path
	if path == "" {
		path = "/"
	}
	return p.Name == hc.Name && path == hc.Path &&
		strings.EqualFold(strings.TrimPrefix(p.Domain, "."), strings.TrimPrefix(hc.Domain, "."))
}
