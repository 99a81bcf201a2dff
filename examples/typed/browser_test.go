package main

import (
	"context"
	"net/http"
	"os"
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
