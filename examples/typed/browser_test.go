package main

import (
	"context"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// chromiumEnv names the environment variable holding the path of the
// Chromium binary the browser test drives.
const chromiumEnv = "SESSIONGEN_CHROMIUM"

// newChromium starts a headless Chromium for t and returns its tab's
// context. Without SESSIONGEN_CHROMIUM the test is skipped; with it, a
// browser that cannot start fails the test.
func newChromium(t *testing.T) context.Context {
	t.Helper()
	path := os.Getenv(chromiumEnv)
	if path == "" {
		t.Skipf("%s is not set (the path of a chromium binary, e.g. /usr/bin/chromium): skipping the browser test", chromiumEnv)
	}
	_, err := os.Stat(path)
	require.NoError(t, err, "%s=%s", chromiumEnv, path)

	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	allocCtx, allocCancel := chromedp.NewExecAllocator(ctx,
		chromedp.ExecPath(path),
		chromedp.Headless,
		chromedp.NoSandbox, // the tests may run as root
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.Flag("disable-extensions", true),
		chromedp.UserDataDir(t.TempDir()),
	)
	t.Cleanup(allocCancel) // runs before TempDir's removal: it waits for the browser to exit
	tab, tabCancel := chromedp.NewContext(allocCtx, chromedp.WithErrorf(t.Logf))
	t.Cleanup(tabCancel)
	// The first Run starts the browser.
	require.NoError(t, chromedp.Do(tab), "start chromium from %s", path)
	return tab
}

// load runs the actions, which must cause a navigation, and requires the
// page that loads to answer 200.
func load(t *testing.T, tab context.Context, what string, steps ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	res, err := chromedp.RunResponse(tab, steps...)
	require.NoError(t, err, what)
	require.Equal(t, int64(http.StatusOK), res.Status, what)
}

// textOf returns the text content of the element sel.
func textOf(t *testing.T, tab context.Context, sel string) string {
	t.Helper()
	s, err := chromedp.Run(tab, chromedp.TextContent(chromedp.CSS(sel)))
	require.NoError(t, err, sel)
	return s
}

// eval evaluates a JavaScript expression in the page (awaiting a promise).
func eval[T any](t *testing.T, tab context.Context, expr string) T {
	t.Helper()
	v, err := chromedp.Run(tab, chromedp.Evaluate[T](expr, chromedp.EvalAwaitPromise))
	require.NoError(t, err, expr)
	return v
}

// fetchResult is what the page's fetch of a JSON endpoint returns.
type fetchResult struct {
	Status int            `json:"status"`
	Body   map[string]any `json:"body"`
}

// fetchJSON is a page expression fetching path and returning its status
// and JSON body.
func fetchJSON(path string) string {
	return `fetch(` + "`" + path + "`" + `, {credentials: "same-origin"}).then(async r => ({status: r.status, body: await r.json()}))`
}

// TestBrowser drives the demo in a real headless Chromium: sign in through
// the form, read /api/me from the page, fill the cart through the UI, log
// out.
func TestBrowser(t *testing.T) {
	tab := newChromium(t)
	srv := newTestServer(t, nil)

	load(t, tab, "open /", chromedp.Navigate(srv.URL+"/"))
	assert.Equal(t, "", textOf(t, tab, "#user"), "anonymous: #user is empty")

	// Sign in through the form.
	require.NoError(t, chromedp.Do(tab, chromedp.SendKeys(chromedp.CSS(`input[name=user]`), "alice")))
	load(t, tab, "sign in", chromedp.Click(chromedp.CSS(`#login`)))
	url, err := chromedp.Run(tab, chromedp.Location())
	require.NoError(t, err)
	assert.Equal(t, srv.URL+"/", url, "303 back to the page")
	assert.Equal(t, "alice", textOf(t, tab, "#user"))
	assert.Equal(t, "", eval[string](t, tab, `document.cookie`), "the session cookie is HttpOnly")

	// /api/me from the page, with the browser's cookie.
	me := eval[fetchResult](t, tab, fetchJSON("/api/me"))
	assert.Equal(t, http.StatusOK, me.Status)
	assert.Equal(t, "alice", me.Body["user"])
	assert.Equal(t, float64(1), me.Body["visits"])
	assert.Equal(t, []any{}, me.Body["cart"])
	me = eval[fetchResult](t, tab, fetchJSON("/api/me"))
	assert.Equal(t, float64(2), me.Body["visits"], "visits counts the calls")

	// And by navigating to it.
	load(t, tab, "open /api/me", chromedp.Navigate(srv.URL+"/api/me"))
	body := textOf(t, tab, "body")
	assert.JSONEq(t, `{"user":"alice","visits":3,"cart":[]}`, body)
	load(t, tab, "back to /", chromedp.Navigate(srv.URL+"/"))
	assert.Equal(t, "3", textOf(t, tab, "#visits"))

	// Fill the cart through the add form.
	for _, item := range []string{"apple", "pear"} {
		require.NoError(t, chromedp.Do(tab, chromedp.SendKeys(chromedp.CSS(`input[name=item]`), item)))
		load(t, tab, "add "+item, chromedp.Click(chromedp.CSS(`#add`)))
	}
	items := eval[[]string](t, tab, `Array.from(document.querySelectorAll("#cart li"), li => li.textContent)`)
	assert.Equal(t, []string{"apple", "pear"}, items)
	me = eval[fetchResult](t, tab, fetchJSON("/api/me"))
	assert.Equal(t, []any{"apple", "pear"}, me.Body["cart"])

	// Log out.
	load(t, tab, "log out", chromedp.Click(chromedp.CSS(`#logout`)))
	assert.Equal(t, "", textOf(t, tab, "#user"), "the name is gone")
	assert.Equal(t, 0, eval[int](t, tab, `document.querySelectorAll("#cart li").length`), "so is the cart")
	assert.Equal(t, 0, eval[int](t, tab, `document.querySelectorAll("#logout").length`))
	me = eval[fetchResult](t, tab, fetchJSON("/api/me"))
	assert.Equal(t, http.StatusUnauthorized, me.Status)
	assert.Equal(t, "not signed in", me.Body["error"])
}

// count returns the number of elements matching the CSS selector sel.
func count(t *testing.T, tab context.Context, sel string) int {
	t.Helper()
	return eval[int](t, tab, `document.querySelectorAll(`+strconv.Quote(sel)+`).length`)
}

// snap saves a full-page PNG screenshot of tab as name in the test's
// artifact directory (kept with go test -artifacts).
func snap(t *testing.T, tab context.Context, name string) {
	t.Helper()
	png, err := chromedp.Run(tab, chromedp.FullScreenshot(100))
	require.NoError(t, err, "screenshot %s", name)
	path := filepath.Join(t.ArtifactDir(), name)
	require.NoError(t, os.WriteFile(path, png, 0o644))
	t.Logf("screenshot %s", path)
}

// signIn fills the sign-in form on / as user, with the remember box
// checked or not, and submits it.
func signIn(t *testing.T, tab context.Context, base, user string, remember bool) {
	t.Helper()
	load(t, tab, "open /", chromedp.Navigate(base+"/"))
	require.NoError(t, chromedp.Do(tab, chromedp.SendKeys(chromedp.CSS(`input[name=user]`), user)))
	if remember {
		require.NoError(t, chromedp.Do(tab, chromedp.Click(chromedp.CSS(`#remember`))))
		require.True(t, eval[bool](t, tab, `document.querySelector("#remember").checked`))
	}
	load(t, tab, "sign in as "+user, chromedp.Click(chromedp.CSS(`#login`)))
	assert.Equal(t, user, textOf(t, tab, "#user"))
}

// TestBrowserPages drives the pages in two headless Chromiums, each
// with its own profile (two devices of one user): sign-in with
// remember-me and its notice, the session page's size bar, the devices
// page, revoking the other device, logging out everywhere else, and
// sign-out. Each state is kept as a screenshot (go test -artifacts).
func TestBrowserPages(t *testing.T) {
	laptop := newChromium(t)
	phone := newChromium(t)
	for _, tab := range []context.Context{laptop, phone} {
		require.NoError(t, chromedp.Do(tab, chromedp.EmulateViewport(960, 720)))
	}
	srv := newTestServer(t, nil)

	// 1. Sign in on the laptop, remembered: the notice shows once.
	signIn(t, laptop, srv.URL, "alice", true)
	assert.Equal(t, "Signed in as alice. This device remembers you.", textOf(t, laptop, `#notice[role=status]`))
	require.NoError(t, chromedp.Do(laptop, chromedp.SendKeys(chromedp.CSS(`input[name=item]`), "apple")))
	snap(t, laptop, "01-signed-in.png")
	load(t, laptop, "add apple", chromedp.Click(chromedp.CSS(`#add`)))
	assert.Equal(t, 0, count(t, laptop, "#notice"), "the notice is gone on the next page")
	assert.Equal(t, 1, count(t, laptop, "#cart li"))

	// 2. The session page: the bar's value is the total in its label and
	// in the table, the worst case is the generated constant.
	load(t, laptop, "open /session", chromedp.Navigate(srv.URL+"/session"))
	size := eval[string](t, laptop, `document.querySelector("#size-meter").getAttribute("value")`)
	assert.Equal(t, "1024", eval[string](t, laptop, `document.querySelector("#size-meter").getAttribute("max")`))
	assert.Equal(t, size+" of 1024 bytes", textOf(t, laptop, "#size-text"))
	assert.Equal(t, size, textOf(t, laptop, "#size-total"))
	assert.Equal(t, strconv.Itoa(DemoSessionMaxSize)+" of 1024 bytes", textOf(t, laptop, "#worst-text"))
	sum := eval[int](t, laptop, `Array.from(document.querySelectorAll("#fields [data-bytes]"), td => +td.dataset.bytes).reduce((a, b) => a + b, 0)`)
	assert.Equal(t, size, strconv.Itoa(sum), "the fields add up to the total")
	assert.True(t, strings.HasPrefix(textOf(t, laptop, "#persistent"), "Yes"), "remember me")
	assert.Contains(t, textOf(t, laptop, "#field-cart"), "apple (1 item)")
	snap(t, laptop, "02-session.png")

	// 3. Sign in on the phone, not remembered.
	signIn(t, phone, srv.URL, "alice", false)
	assert.Equal(t, "Signed in as alice until the browser closes.", textOf(t, phone, "#notice"))
	snap(t, phone, "03-second-device.png")

	// 4. The laptop sees both devices, itself marked.
	load(t, laptop, "open /devices", chromedp.Navigate(srv.URL+"/devices"))
	assert.Equal(t, 2, count(t, laptop, "#devices tr.device"))
	assert.Equal(t, 1, count(t, laptop, "#devices tr.device.current"))
	assert.Equal(t, "This device", textOf(t, laptop, "tr.current .badge"))
	assert.Equal(t, 1, count(t, laptop, "button.revoke"), "only the other device has a Revoke button")
	snap(t, laptop, "04-devices.png")

	// 5. Revoke the phone.
	load(t, laptop, "revoke the phone", chromedp.Click(chromedp.CSS(`button.revoke`)))
	assert.True(t, strings.HasPrefix(textOf(t, laptop, "#notice"), "Signed out the device that signed in "))
	assert.Equal(t, 1, count(t, laptop, "#devices tr.device"))
	assert.Equal(t, 1, count(t, laptop, "#no-others"))
	snap(t, laptop, "05-revoked.png")

	// 6. The phone is signed out.
	load(t, phone, "phone: open /devices", chromedp.Navigate(srv.URL+"/devices"))
	assert.Equal(t, 1, count(t, phone, "#signed-out"))
	snap(t, phone, "06-phone-signed-out.png")

	// 7. The phone signs in again; the laptop logs out everywhere else.
	signIn(t, phone, srv.URL, "alice", false)
	load(t, laptop, "open /devices", chromedp.Navigate(srv.URL+"/devices"))
	assert.Equal(t, 2, count(t, laptop, "#devices tr.device"))
	load(t, laptop, "log out everywhere else", chromedp.Click(chromedp.CSS(`#revoke-others`)))
	assert.Equal(t, "Signed out 1 other device.", textOf(t, laptop, "#notice"))
	assert.Equal(t, 1, count(t, laptop, "#devices tr.device"))
	snap(t, laptop, "07-logged-out-elsewhere.png")
	load(t, phone, "phone: reload /", chromedp.Navigate(srv.URL+"/"))
	assert.Equal(t, "", textOf(t, phone, "#user"), "the phone is signed out")

	// 8. Sign out of the laptop: the notice, once.
	load(t, laptop, "open /", chromedp.Navigate(srv.URL+"/"))
	load(t, laptop, "sign out", chromedp.Click(chromedp.CSS(`#logout`)))
	assert.Equal(t, "You are signed out.", textOf(t, laptop, "#notice"))
	assert.Equal(t, "", textOf(t, laptop, "#user"))
	assert.Equal(t, 1, count(t, laptop, "#anonymous"))
	snap(t, laptop, "08-signed-out.png")
	load(t, laptop, "reload /", chromedp.Navigate(srv.URL+"/"))
	assert.Equal(t, 0, count(t, laptop, "#notice"), "shown once")
	me := eval[fetchResult](t, laptop, fetchJSON("/api/me"))
	assert.Equal(t, http.StatusUnauthorized, me.Status)
}
