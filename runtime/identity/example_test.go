package identity_test

import (
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"time"

	"github.com/sessiongen/sessiongen/runtime/identity"
)

// A cookie identity with the safe defaults, written on a plain-HTTP
// response and read back from the next request.
func ExampleCookie() {
	c := &identity.Cookie{Path: "/app"}

	id, err := identity.NewID()
	if err != nil {
		panic(err)
	}
	r := httptest.NewRequest(http.MethodGet, "http://example.com/app/login", nil)
	w := httptest.NewRecorder()
	c.Write(w, r, id, time.Now().Add(time.Hour))

	setCookie := w.Header().Get("Set-Cookie")
	fmt.Println(strings.Replace(setCookie, id, "<id>", 1))
	fmt.Println("Cache-Control:", w.Header().Get("Cache-Control"))
	fmt.Println("Vary:", w.Header().Get("Vary"))

	next := httptest.NewRequest(http.MethodGet, "http://example.com/app/home", nil)
	next.AddCookie(w.Result().Cookies()[0])
	fmt.Println("matches:", c.Match(next), "same id:", c.Read(next) == id)
	// Output:
	// sid=<id>; Path=/app; HttpOnly; SameSite=Lax
	// Cache-Control: no-cache="Set-Cookie"
	// Vary: Cookie
	// matches: true same id: true
}

// A header identity for API clients: "Authorization: Bearer <token>" in,
// "X-Session-Token: <token>" out.
func ExampleHeader() {
	h := &identity.Header{Name: "Authorization", Scheme: "Bearer", Path: "/api"}

	id, err := identity.NewID()
	if err != nil {
		panic(err)
	}
	w := httptest.NewRecorder()
	h.Write(w, httptest.NewRequest(http.MethodPost, "/api/login", nil), id, time.Time{})
	token := w.Header().Get("X-Session-Token")

	r := httptest.NewRequest(http.MethodGet, "/api/me", nil)
	r.Header.Set("Authorization", "Bearer "+token)
	fmt.Println("matches:", h.Match(r), "same id:", h.Read(r) == id)
	fmt.Println("Cache-Control:", w.Header().Get("Cache-Control"))
	// Output:
	// matches: true same id: true
	// Cache-Control: no-store
}

// Several identities: the first whose host and path match serves a request.
func ExampleSelect() {
	ids := []identity.Identity{
		&identity.Header{Path: "/api"},
		&identity.Cookie{Host: ".example.com", Name: "esid"},
		&identity.Cookie{},
	}
	for _, target := range []string{"http://example.com/api/users", "http://www.example.com/", "http://other.org/"} {
		switch id := identity.Select(ids, httptest.NewRequest(http.MethodGet, target, nil)).(type) {
		case *identity.Header:
			fmt.Println(target, "-> header", id.Name == "")
		case *identity.Cookie:
			fmt.Println(target, "-> cookie", id.Name)
		}
	}
	// Output:
	// http://example.com/api/users -> header true
	// http://www.example.com/ -> cookie esid
	// http://other.org/ -> cookie
}

// Signing with key rotation: put the new key first, keep the old one
// after it until the tokens it signed have expired.
func ExampleSigner() {
	oldKey := []byte("old-key-old-key-old-key-old-key!") // 32 bytes; use crypto/rand in real code
	newKey := []byte("new-key-new-key-new-key-new-key!")

	before, err := identity.NewSigner(oldKey)
	if err != nil {
		panic(err)
	}
	after, err := identity.NewSigner(newKey, oldKey)
	if err != nil {
		panic(err)
	}

	id, err := identity.NewID()
	if err != nil {
		panic(err)
	}
	oldToken := before.Sign(id)
	got, ok := after.Verify(oldToken)
	fmt.Println("old token still valid:", ok, got == id)

	newToken := after.Sign(id)
	_, ok = before.Verify(newToken)
	fmt.Println("new token signed with the new key:", newToken != oldToken, !ok)

	_, ok = after.Verify(id + ".AAAAAAAAAAAAAAAAAAAAAA")
	fmt.Println("forged token accepted:", ok)

	c := &identity.Cookie{Signer: after}
	r := httptest.NewRequest(http.MethodGet, "/", nil)
	r.AddCookie(&http.Cookie{Name: "sid", Value: id})
	fmt.Printf("unsigned cookie read as %q\n", c.Read(r))
	// Output:
	// old token still valid: true true
	// new token signed with the new key: true true
	// forged token accepted: false
	// unsigned cookie read as ""
}

// A sibling subdomain planted "sid=garbage" for the whole domain; the
// browser sends it before the real cookie. Read skips it and takes the
// first well-formed (with a Signer: verifying) cookie of its name, among
// the first 4 of that name.
func ExampleCookie_Read() {
	c := &identity.Cookie{}
	id, err := identity.NewID()
	if err != nil {
		panic(err)
	}

	r := httptest.NewRequest(http.MethodGet, "http://www.example.com/", nil)
	r.Header.Set("Cookie", "sid=garbage; theme=dark; sid="+id)
	fmt.Println("planted cookie skipped:", c.Read(r) == id)

	r.Header.Set("Cookie", strings.Repeat("sid=garbage; ", 4)+"sid="+id)
	fmt.Printf("after 4 planted cookies: %q\n", c.Read(r))
	// Output:
	// planted cookie skipped: true
	// after 4 planted cookies: ""
}

// A "__Host-" cookie cannot be set or overwritten by another subdomain:
// it is always written Secure, with Path=/ and no Domain. Validate (which
// the session manager calls when it is built) refuses a "__Host-" cookie
// configured with a Path or Domain.
func ExampleCookie_hostPrefix() {
	c := &identity.Cookie{Name: "__Host-sid"}
	fmt.Println("valid:", c.Validate() == nil)

	id, err := identity.NewID()
	if err != nil {
		panic(err)
	}
	w := httptest.NewRecorder()
	c.Write(w, httptest.NewRequest(http.MethodGet, "https://example.com/login", nil), id, time.Time{})
	fmt.Println(strings.Replace(w.Header().Get("Set-Cookie"), id, "<id>", 1))

	bad := &identity.Cookie{Name: "__Host-sid", Path: "/app"}
	err = bad.Validate()
	fmt.Println(errors.Is(err, identity.ErrInvalid))
	fmt.Println(err)
	// Output:
	// valid: true
	// __Host-sid=<id>; Path=/; HttpOnly; Secure; SameSite=Lax
	// true
	// identity: cookie "__Host-sid": identity: invalid configuration: a __Host- cookie is only accepted by browsers with Path "/" and no Domain (have Path "/app", Domain ""): remove them, or drop the __Host- prefix
}

// An application mounted under /app with http.StripPrefix sees
// r.URL.Path "/login", but the browser asked for "/app/login". Identities
// match the path the browser requested, so a Cookie with Path "/app"
// serves the mounted handler and is set where the browser sends it back.
func ExampleCookie_stripPrefix() {
	ids := []identity.Identity{
		&identity.Cookie{Name: "app", Path: "/app"},
		&identity.Cookie{Name: "site"},
	}
	app := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c := identity.Select(ids, r).(*identity.Cookie)
		fmt.Printf("handler sees %s, identity %q\n", r.URL.Path, c.Name)
		id, err := identity.NewID()
		if err != nil {
			panic(err)
		}
		c.Write(w, r, id, time.Time{})
	})
	mux := http.NewServeMux()
	mux.Handle("/app/", http.StripPrefix("/app", app))

	w := httptest.NewRecorder()
	mux.ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/app/login", nil))
	hc := w.Result().Cookies()[0]
	fmt.Printf("cookie %q on Path=%s\n", hc.Name, hc.Path)
	// Output:
	// handler sees /login, identity "app"
	// cookie "app" on Path=/app
}
