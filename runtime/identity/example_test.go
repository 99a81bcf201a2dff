package identity_test

import (
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
