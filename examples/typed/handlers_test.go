package main

import (
	"bytes"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sessiongen/sessiongen/runtime/store/boltstore"
)

func TestPageAnonymous(t *testing.T) {
	srv := newTestServer(t, nil)
	b := newBrowser(t, srv.URL)

	res := b.get("/")
	require.Equal(t, http.StatusOK, res.status)
	assert.Equal(t, "text/html; charset=utf-8", res.header.Get("Content-Type"))
	assert.Contains(t, res.body, `<strong id="user"></strong>`, "#user is empty for an anonymous visitor")
	assert.Contains(t, res.body, `<form method="post" action="/login">`)
	assert.Contains(t, res.body, `<input name="user"`)
	assert.Contains(t, res.body, `<form method="post" action="/cart">`)
	assert.Contains(t, res.body, `<input name="item"`)
	assert.NotContains(t, res.body, `action="/logout"`, "no logout button before sign-in")
	assert.Empty(t, res.header.Values("Set-Cookie"), "a page view alone creates no session")
	assert.Empty(t, b.sid())

	assert.Equal(t, http.StatusNotFound, b.get("/nope").status)
}

func TestLoginAndMe(t *testing.T) {
	srv := newTestServer(t, nil)
	b := newBrowser(t, srv.URL)

	msg := jsonError(t, b.get("/api/me"), http.StatusUnauthorized)
	assert.Contains(t, msg, "not signed in")

	b.login("alice")
	require.NotEmpty(t, b.sid(), "login sets the session cookie")

	for want := int64(1); want <= 3; want++ {
		me := b.me()
		assert.Equal(t, "alice", me.User)
		assert.Equal(t, want, me.Visits, "visits counts the calls of /api/me")
		assert.Equal(t, []string{}, me.Cart)
	}

	page := b.get("/")
	require.Equal(t, http.StatusOK, page.status)
	assert.Contains(t, page.body, `<strong id="user">alice</strong>`)
	assert.Contains(t, page.body, `<span id="visits">3</span>`, "the page does not count as a visit")
	assert.Contains(t, page.body, `action="/logout"`)
}

func TestLoginEscapesName(t *testing.T) {
	srv := newTestServer(t, nil)
	b := newBrowser(t, srv.URL)
	b.login(`<b>"x"</b>`)
	page := b.get("/")
	assert.Contains(t, page.body, `<strong id="user">&lt;b&gt;&#34;x&#34;&lt;/b&gt;</strong>`)
	assert.Equal(t, `<b>"x"</b>`, b.me().User)
}

func TestLoginRenewsID(t *testing.T) {
	srv := newTestServer(t, nil)
	b := newBrowser(t, srv.URL)

	// An anonymous visitor's cart creates the session.
	require.Equal(t, http.StatusOK, b.addItem("apple").status)
	anon := b.sid()
	require.NotEmpty(t, anon)

	b.login("alice")
	first := b.sid()
	require.NotEmpty(t, first)
	assert.NotEqual(t, anon, first, "login renews the session ID")

	me := b.me()
	assert.Equal(t, "alice", me.User)
	assert.Equal(t, []string{"apple"}, me.Cart, "renew keeps the anonymous cart")

	// The ID from before the login reaches nothing any more.
	old := b.withSID(anon)
	jsonError(t, old.get("/api/me"), http.StatusUnauthorized)
	assert.Contains(t, old.get("/").body, `<strong id="user"></strong>`)

	// Signing in again (as someone else) renews again.
	b.login("bob")
	second := b.sid()
	assert.NotEqual(t, first, second)
	assert.Equal(t, "bob", b.me().User)
	jsonError(t, b.withSID(first).get("/api/me"), http.StatusUnauthorized)
}

func TestLoginRejects(t *testing.T) {
	srv := newTestServer(t, nil)
	for name, user := range map[string]string{
		"empty":    "",
		"spaces":   "   ",
		"too long": strings.Repeat("x", maxUserLen+1),
		"bad utf8": "\xff\xfe",
	} {
		t.Run(name, func(t *testing.T) {
			b := newBrowser(t, srv.URL)
			res := b.post("/login", "user", user)
			assert.Equal(t, http.StatusBadRequest, res.status)
			assert.Contains(t, res.body, `id="error"`, "the page shows the message")
			assert.Empty(t, b.sid(), "no session is created")
			jsonError(t, b.get("/api/me"), http.StatusUnauthorized)
		})
	}
	t.Run("message", func(t *testing.T) {
		b := newBrowser(t, srv.URL)
		assert.Contains(t, b.post("/login", "user", "").body, "Enter a user name.")
		assert.Contains(t, b.post("/login", "user", strings.Repeat("x", 65)).body, "at most 64 bytes")
	})
	t.Run("longest", func(t *testing.T) {
		b := newBrowser(t, srv.URL)
		name := strings.Repeat("é", maxUserLen/2) // 64 bytes
		b.login(name)
		assert.Equal(t, name, b.me().User)
	})
}

func TestAnonymousCart(t *testing.T) {
	srv := newTestServer(t, nil)
	b := newBrowser(t, srv.URL)

	res := b.addItem("apple")
	require.Equal(t, http.StatusOK, res.status, res.body)
	assert.Equal(t, []string{"apple"}, decode[cartResponse](t, res).Cart)
	assert.NotEmpty(t, b.sid(), "the first item creates the session")

	res = b.addItem("  pear ")
	require.Equal(t, http.StatusOK, res.status, res.body)
	assert.Equal(t, []string{"apple", "pear"}, decode[cartResponse](t, res).Cart)

	jsonError(t, b.get("/api/me"), http.StatusUnauthorized)
	page := b.get("/").body
	assert.Contains(t, page, `<ul id="cart"><li>apple</li><li>pear</li></ul>`)
	assert.Contains(t, page, `<strong id="user"></strong>`)

	// Another visitor has a cart of their own.
	other := newBrowser(t, srv.URL)
	res = other.addItem("plum")
	require.Equal(t, http.StatusOK, res.status)
	assert.Equal(t, []string{"plum"}, decode[cartResponse](t, res).Cart)
}

func TestCartBound(t *testing.T) {
	srv := newTestServer(t, nil)
	b := newBrowser(t, srv.URL)
	b.login("alice")

	var want []string
	for i := range maxCartItems {
		item := fmt.Sprintf("item-%d", i)
		if i == 0 {
			item = strings.Repeat("z", maxItemLen) // the longest item fits
		}
		want = append(want, item)
		res := b.addItem(item)
		require.Equal(t, http.StatusOK, res.status, res.body)
		require.Equal(t, want, decode[cartResponse](t, res).Cart)
	}

	msg := jsonError(t, b.addItem("one too many"), http.StatusRequestEntityTooLarge)
	assert.Contains(t, msg, "at most 8 items")
	assert.Equal(t, want, b.me().Cart, "the cart is unchanged")
	assert.Contains(t, b.get("/").body, "Cart (8 of 8)")
}

func TestCartItemTooLong(t *testing.T) {
	srv := newTestServer(t, nil)
	b := newBrowser(t, srv.URL)
	b.login("alice")
	require.Equal(t, http.StatusOK, b.addItem("apple").status)

	msg := jsonError(t, b.addItem(strings.Repeat("x", maxItemLen+1)), http.StatusRequestEntityTooLarge)
	assert.Contains(t, msg, "at most 32 bytes")
	assert.Equal(t, []string{"apple"}, b.me().Cart, "the cart is unchanged")

	// Anonymous: the bound holds before the session exists, and no
	// session is created.
	anon := newBrowser(t, srv.URL)
	jsonError(t, anon.addItem(strings.Repeat("x", maxItemLen+1)), http.StatusRequestEntityTooLarge)
	assert.Empty(t, anon.sid())
}

func TestCartEmptyItem(t *testing.T) {
	srv := newTestServer(t, nil)
	b := newBrowser(t, srv.URL)
	msg := jsonError(t, b.addItem("  "), http.StatusBadRequest)
	assert.Contains(t, msg, "Enter an item")
	assert.Empty(t, b.sid())
}

func TestCartForm(t *testing.T) {
	srv := newTestServer(t, nil)
	b := newBrowser(t, srv.URL)

	res := b.post("/cart", "item", "apple")
	require.Equal(t, http.StatusSeeOther, res.status, res.body)
	assert.Equal(t, "/", res.header.Get("Location"))
	assert.Contains(t, b.get("/").body, `<li>apple</li>`)

	res = b.post("/cart", "item", strings.Repeat("x", maxItemLen+1))
	assert.Equal(t, http.StatusRequestEntityTooLarge, res.status)
	assert.Contains(t, res.body, `<p id="error" role="alert">An item must be at most 32 bytes; this one has 33.</p>`)
	assert.Contains(t, res.body, `<ul id="cart"><li>apple</li></ul>`, "the page shows the unchanged cart")
}

func TestLogout(t *testing.T) {
	srv := newTestServer(t, nil)
	b := newBrowser(t, srv.URL)
	b.login("alice")
	require.Equal(t, http.StatusOK, b.addItem("apple").status)
	require.Equal(t, "alice", b.me().User)
	before := b.sid()

	res := b.post("/logout")
	require.Equal(t, http.StatusSeeOther, res.status)
	assert.Equal(t, "/", res.header.Get("Location"))
	// The cookie now names a fresh session holding only the notice "You
	// are signed out." (see TestFlash).
	assert.NotEqual(t, before, b.sid(), "logout replaces the cookie")

	jsonError(t, b.get("/api/me"), http.StatusUnauthorized)
	page := b.get("/").body
	assert.Contains(t, page, `<strong id="user"></strong>`)
	assert.Contains(t, page, `id="cart-empty"`)
	assert.Empty(t, b.sid(), "once the notice is shown, the cookie is cleared")

	// The destroyed session is gone from the engine too: its old cookie
	// reaches nothing.
	jsonError(t, b.withSID(before).get("/api/me"), http.StatusUnauthorized)

	// Logging out without a session is harmless.
	assert.Equal(t, http.StatusSeeOther, newBrowser(t, srv.URL).post("/logout").status)
}

func TestMethodsAndCrossOrigin(t *testing.T) {
	srv := newTestServer(t, nil)
	b := newBrowser(t, srv.URL)
	assert.Equal(t, http.StatusMethodNotAllowed, b.get("/login").status)
	assert.Equal(t, http.StatusMethodNotAllowed, b.post("/api/me").status)

	// A form posted from another site is refused before it reaches the
	// session.
	req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, srv.URL+"/login", strings.NewReader("user=mallory"))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Sec-Fetch-Site", "cross-site")
	res, err := b.c.Do(req)
	require.NoError(t, err)
	res.Body.Close()
	assert.Equal(t, http.StatusForbidden, res.StatusCode)
	assert.Empty(t, b.sid())
}

// TestStorageFailure runs the app on a bbolt engine that was closed, so
// every engine call fails: the requests get a JSON 500 and the error is
// logged.
func TestStorageFailure(t *testing.T) {
	st, err := boltstore.Open(filepath.Join(t.TempDir(), "s.db"))
	require.NoError(t, err)
	require.NoError(t, st.Close())

	var logs bytes.Buffer
	a, err := newApp(st, slog.New(slog.NewTextHandler(&logs, nil)))
	require.NoError(t, err)
	srv := httptest.NewServer(a.routes())
	t.Cleanup(srv.Close)
	b := newBrowser(t, srv.URL)

	// Creating a session fails in the handler.
	jsonError(t, b.addItem("apple"), http.StatusInternalServerError)
	assert.Contains(t, logs.String(), "boltstore")
	assert.Contains(t, logs.String(), "level=ERROR")
	logs.Reset()

	// Loading a session fails in the middleware, whose error handler
	// answers.
	withCookie := b.withSID(strings.Repeat("A", 43))
	msg := jsonError(t, withCookie.get("/api/me"), http.StatusInternalServerError)
	assert.Contains(t, msg, "unavailable")
	assert.Contains(t, logs.String(), "boltstore")
	assert.NotContains(t, logs.String(), strings.Repeat("A", 43), "the session ID is never logged")
}

// TestBoundsMatchTags keeps the handlers' constants equal to the
// DemoSession tags the generated setters enforce.
func TestBoundsMatchTags(t *testing.T) {
	typ := reflect.TypeFor[DemoSession]()
	tag := func(name string) string {
		f, ok := typ.FieldByName(name)
		require.True(t, ok, name)
		return f.Tag.Get("session")
	}
	assert.Equal(t, fmt.Sprintf("user,max=%d,index", maxUserLen), tag("User"))
	assert.Equal(t, DemoSessionKeyUser, DemoSessionOwnerKey, "the user is the owner index")
	assert.Equal(t, "visits", tag("Visits"))
	assert.Equal(t, fmt.Sprintf("cart,max=%d,elem=%d", maxCartItems, maxItemLen), tag("Cart"))
}

func TestBadForms(t *testing.T) {
	srv := newTestServer(t, nil)
	b := newBrowser(t, srv.URL)
	big := strings.Repeat("x", maxBody+1)

	msg := jsonError(t, b.addItem(big), http.StatusRequestEntityTooLarge)
	assert.Contains(t, msg, "request body must be at most")
	res := b.post("/login", "user", big)
	assert.Equal(t, http.StatusRequestEntityTooLarge, res.status)
	assert.Contains(t, res.body, "request body must be at most")

	req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, srv.URL+"/api/cart", strings.NewReader("item=%zz"))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	raw, err := b.c.Do(req)
	require.NoError(t, err)
	defer raw.Body.Close()
	assert.Equal(t, http.StatusBadRequest, raw.StatusCode)
	assert.Empty(t, b.sid())
}

func TestSessionsAndLogoutEverywhere(t *testing.T) {
	srv := newTestServer(t, nil)
	anon := newBrowser(t, srv.URL)
	jsonError(t, anon.get("/api/sessions"), http.StatusUnauthorized)
	jsonError(t, anon.post("/api/logout-everywhere"), http.StatusUnauthorized)

	// bob signs in on two devices, carol on one.
	laptop, phone, carol := newBrowser(t, srv.URL), newBrowser(t, srv.URL), newBrowser(t, srv.URL)
	before := time.Now().Add(-time.Second)
	laptop.login("bob")
	phone.login("bob")
	carol.login("carol")

	res := phone.get("/api/sessions")
	require.Equal(t, http.StatusOK, res.status, res.body)
	assert.NotContains(t, res.body, laptop.sid(), "no session ID in the list")
	assert.NotContains(t, res.body, phone.sid(), "no session ID in the list")
	list := decode[sessionsResponse](t, res)
	assert.Equal(t, "bob", list.User)
	require.Len(t, list.Sessions, 2, "bob's two sessions, not carol's")
	for i, s := range list.Sessions {
		assert.True(t, s.Created.After(before), "session %d created", i)
		assert.False(t, s.LastSeen.Before(s.Created), "session %d: last seen not before created", i)
		assert.True(t, s.Expires.After(s.LastSeen), "session %d: expires after last seen", i)
	}
	assert.Equal(t, 1, countCurrent(list), "exactly the phone's session is current")
	other := decode[sessionsResponse](t, laptop.get("/api/sessions"))
	require.Len(t, other.Sessions, 2)
	assert.Equal(t, 1, countCurrent(other), "exactly the laptop's session is current")
	// The same two sessions, each marked current by its own device.
	for i := range 2 {
		assert.Equal(t, list.Sessions[i].Created, other.Sessions[i].Created)
		assert.NotEqual(t, list.Sessions[i].Current, other.Sessions[i].Current, "session %d is current for one device only", i)
	}
	assert.Len(t, decode[sessionsResponse](t, carol.get("/api/sessions")).Sessions, 1)

	// The phone ends every session of bob, its own included.
	laptopSID := laptop.sid()
	res = phone.post("/api/logout-everywhere")
	require.Equal(t, http.StatusOK, res.status, res.body)
	assert.Equal(t, 2, decode[revokedResponse](t, res).Revoked)
	assert.Empty(t, phone.sid(), "the phone's cookie is cleared")
	jsonError(t, phone.get("/api/me"), http.StatusUnauthorized)
	jsonError(t, laptop.get("/api/me"), http.StatusUnauthorized)
	jsonError(t, laptop.withSID(laptopSID).get("/api/sessions"), http.StatusUnauthorized)
	assert.Equal(t, "carol", carol.me().User, "carol keeps hers")
}
