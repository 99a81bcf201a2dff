package main

import (
	"fmt"
	"net/http"
	"os"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	session "github.com/sessiongen/sessiongen/runtime"
	"github.com/sessiongen/sessiongen/runtime/store"
)

// loginRemember signs in as user with the remember box checked (or not)
// and returns the response.
func (b *browser) loginRemember(user string, remember bool) response {
	b.t.Helper()
	kv := []string{"user", user}
	if remember {
		kv = append(kv, "remember", "1")
	}
	res := b.post("/login", kv...)
	require.Equal(b.t, http.StatusSeeOther, res.status, res.body)
	return res
}

// page GETs path and requires a 200 HTML page.
func (b *browser) page(path string) string {
	b.t.Helper()
	res := b.get(path)
	require.Equal(b.t, http.StatusOK, res.status, res.body)
	require.Equal(b.t, "text/html; charset=utf-8", res.header.Get("Content-Type"))
	return res.body
}

// noticeRE matches the notice of a page.
var noticeRE = regexp.MustCompile(`<p id="notice" role="status">([^<]*)</p>`)

// notice returns the notice shown on the page body, "" without one.
func notice(body string) string {
	if m := noticeRE.FindStringSubmatch(body); m != nil {
		return m[1]
	}
	return ""
}

// sidCookie returns the session cookie a response sets, nil without one.
func sidCookie(t *testing.T, res response) *http.Cookie {
	t.Helper()
	var last *http.Cookie
	for _, line := range res.header.Values("Set-Cookie") {
		c, err := http.ParseSetCookie(line)
		require.NoError(t, err, line)
		if c.Name == "sid" {
			last = c
		}
	}
	return last
}

// handleRE matches the handle of a revoke form.
var handleRE = regexp.MustCompile(`<input type="hidden" name="handle" value="([^"]*)">`)

// handles returns the handles of the revoke forms on the devices page.
func handles(body string) []string {
	var out []string
	for _, m := range handleRE.FindAllStringSubmatch(body, -1) {
		out = append(out, m[1])
	}
	return out
}

// deviceRows returns the number of rows of the devices table.
func deviceRows(body string) int { return strings.Count(body, `<tr class="device`) }

// loaded returns the session of b's cookie as the manager has it.
func loaded(t *testing.T, a *app, b *browser) *session.Session {
	t.Helper()
	s, err := a.mgr.Load(t.Context(), b.sid())
	require.NoError(t, err)
	return s
}

func TestFlash(t *testing.T) {
	srv := newTestServer(t, nil)
	b := newBrowser(t, srv.URL)

	assert.Empty(t, notice(b.page("/")), "no notice before any action")
	assert.Empty(t, b.sid(), "looking for a notice creates no session")

	b.loginRemember("alice", false)
	assert.Equal(t, "Signed in as alice until the browser closes.", notice(b.page("/")))
	assert.Empty(t, notice(b.page("/")), "shown once")
	assert.Empty(t, notice(b.page("/session")), "on no other page either")
	_, ok := DemoSessionOf(nil).Notice()
	assert.False(t, ok)

	// The notice shows on whichever page comes next.
	b.loginRemember("alice", true)
	assert.Equal(t, "Signed in as alice. This device remembers you.", notice(b.page("/devices")))
	assert.Empty(t, notice(b.page("/")))

	// Sign-out: the notice travels in a fresh session, which ends once
	// the notice is shown.
	old := b.sid()
	require.Equal(t, http.StatusSeeOther, b.post("/logout").status)
	assert.NotEqual(t, old, b.sid())
	assert.Equal(t, "You are signed out.", notice(b.page("/")))
	assert.Empty(t, b.sid(), "the notice's session is gone with it")
	assert.Empty(t, notice(b.page("/")))

	// A sign-out without a session has nothing to say, and creates none.
	anon := newBrowser(t, srv.URL)
	require.Equal(t, http.StatusSeeOther, anon.post("/logout").status)
	assert.Empty(t, anon.sid())
}

func TestFlashEscapedAndFits(t *testing.T) {
	srv := newTestServer(t, nil)
	b := newBrowser(t, srv.URL)
	b.loginRemember(`<script>alert(1)</script>`, true)
	body := b.page("/")
	assert.Equal(t, "Signed in as &lt;script&gt;alert(1)&lt;/script&gt;. This device remembers you.", notice(body))
	assert.NotContains(t, body, "<script>")

	// The longest name's notices fit the notice's bound.
	long := strings.Repeat("é", maxUserLen/2)
	for _, remember := range []bool{false, true} {
		n := signedInNotice(long, remember)
		assert.LessOrEqual(t, len(n), maxNoticeLen, n)
		b.loginRemember(long, remember)
		assert.Equal(t, n, notice(b.page("/")))
	}
	assert.LessOrEqual(t, len(revokedNotice(when(time.Now()))), maxNoticeLen)
}

func TestRememberMe(t *testing.T) {
	srv := newTestServer(t, nil)

	remembered := newBrowser(t, srv.URL)
	c := sidCookie(t, remembered.loginRemember("alice", true))
	require.NotNil(t, c, "sign-in sets the cookie")
	assert.Positive(t, c.MaxAge, "a persistent cookie has Max-Age")
	assert.True(t, c.Expires.After(time.Now()), "and Expires: %v", c.Expires)
	assert.True(t, c.HttpOnly)
	assert.Contains(t, remembered.page("/session"), `<dd id="persistent">Yes:`)

	forgotten := newBrowser(t, srv.URL)
	c = sidCookie(t, forgotten.loginRemember("bob", false))
	require.NotNil(t, c)
	assert.Zero(t, c.MaxAge, "a browser-session cookie has no Max-Age")
	assert.True(t, c.Expires.IsZero(), "nor Expires: %v", c.Expires)
	assert.Contains(t, forgotten.page("/session"), `<dd id="persistent">No:`)

	// The choice sticks to the session: a later response that re-sends
	// the cookie (here the next sign-in, which renews the ID) keeps it
	// unless the form changes it.
	c = sidCookie(t, forgotten.loginRemember("bob", true))
	require.NotNil(t, c)
	assert.Positive(t, c.MaxAge, "checking the box on a later sign-in makes it persistent")
}

// meterRE matches the size meter's value and max.
var meterRE = regexp.MustCompile(`<meter id="size-meter" min="0" max="(\d+)" high="\d+" optimum="0" value="(\d+)">`)

// bytesRE matches a field row's key and byte count.
var bytesRE = regexp.MustCompile(`<tr class="field" id="field-([^"]+)">.*?data-bytes="(\d+)"`)

func TestSessionPage(t *testing.T) {
	a, srv := newTestApp(t, nil)
	b := newBrowser(t, srv.URL)

	body := b.page("/session")
	assert.Contains(t, body, `id="no-session"`, "an anonymous visitor without a session")
	assert.Contains(t, body, `<p class="meter-text" id="size-text">0 of 1024 bytes</p>`)
	assert.Empty(t, b.sid(), "the page creates no session")

	b.loginRemember("alice", true)
	require.Equal(t, http.StatusOK, b.addItem("apple").status)
	require.Equal(t, http.StatusOK, b.addItem("pear").status)
	b.me()
	body = b.page("/session") // pops the sign-in notice first

	s := loaded(t, a, b)
	size := s.Size()
	m := meterRE.FindStringSubmatch(body)
	require.NotNil(t, m, body)
	assert.Equal(t, strconv.Itoa(sizeBudget), m[1], "max is the budget")
	assert.Equal(t, strconv.Itoa(size), m[2], "value is Session.Size()")
	assert.Contains(t, body, fmt.Sprintf(`<p class="meter-text" id="size-text">%d of 1024 bytes</p>`, size))
	assert.Contains(t, body, fmt.Sprintf(`<td class="num" id="size-total">%d</td>`, size))
	assert.Contains(t, body, fmt.Sprintf(`<p class="meter-text" id="worst-text">%d of 1024 bytes</p>`, DemoSessionMaxSize))
	assert.Contains(t, body, `<meter id="worst-meter" min="0" max="1024" high="921" optimum="0" value="516">`)

	rows := map[string]int{}
	sum := 0
	for _, m := range bytesRE.FindAllStringSubmatch(body, -1) {
		n, err := strconv.Atoi(m[2])
		require.NoError(t, err)
		rows[m[1]] = n
		sum += n
	}
	assert.Equal(t, size, sum, "the rows add up to the total")
	for _, k := range []string{DemoSessionKeyUser, DemoSessionKeyVisits, DemoSessionKeyCart} {
		raw, ok, err := s.Raw(k)
		require.NoError(t, err)
		require.True(t, ok, k)
		assert.Equal(t, len(k)+len(raw), rows[k], "field %s: key plus encoded value", k)
	}
	assert.Zero(t, rows[DemoSessionKeyNotice], "the notice was popped")
	assert.Equal(t, 5, rows["settings"], "remember-me: 5 bytes")
	assert.Contains(t, body, `apple, pear (2 items)`)
	assert.Contains(t, body, `<time datetime="`+iso(s.Created())+`">`+when(s.Created())+`</time>`)
	assert.Contains(t, body, `<time datetime="`+iso(s.Expires())+`">`+when(s.Expires())+`</time>`)
	assert.True(t, s.Expires().After(s.Created()))
}

// TestSizeBudgetMatchesGenerated keeps sizeBudget equal to the limit
// the generated DemoSessionOptions sets.
func TestSizeBudgetMatchesGenerated(t *testing.T) {
	src, err := os.ReadFile("demosession_session.go")
	require.NoError(t, err)
	assert.Contains(t, string(src), fmt.Sprintf("session.WithMaxSize(%d)", sizeBudget))
	assert.LessOrEqual(t, DemoSessionMaxSize, sizeBudget)
	assert.Equal(t, fmt.Sprintf("notice,max=%d,flash", maxNoticeLen), fieldTag(t, "Notice"))
}

func TestDevicesPage(t *testing.T) {
	srv := newTestServer(t, nil)
	anon := newBrowser(t, srv.URL)
	assert.Contains(t, anon.page("/devices"), `id="signed-out"`)
	assert.Empty(t, anon.sid())

	laptop, phone, carol := newBrowser(t, srv.URL), newBrowser(t, srv.URL), newBrowser(t, srv.URL)
	laptop.loginRemember("bob", true)
	phone.loginRemember("bob", false)
	carol.loginRemember("carol", false)

	body := phone.page("/devices")
	assert.Equal(t, 2, deviceRows(body), "bob's two sessions, not carol's")
	assert.Equal(t, 1, strings.Count(body, `<tr class="device current">`))
	assert.Equal(t, 1, strings.Count(body, `<span class="badge">This device</span>`))
	assert.Contains(t, body, `id="revoke-others"`)
	for _, sid := range []string{laptop.sid(), phone.sid(), carol.sid()} {
		assert.NotContains(t, body, sid, "no session ID on the page")
	}
	hs := handles(body)
	require.Len(t, hs, 1, "only the other device can be revoked")
	assert.Equal(t, store.Key(laptop.sid()), hs[0])

	// A handle that is not one of bob's sessions revokes nothing.
	res := phone.post("/devices/revoke", "handle", store.Key(carol.sid()))
	require.Equal(t, http.StatusSeeOther, res.status)
	assert.Equal(t, "That device was already signed out.", notice(phone.page("/devices")))
	assert.Equal(t, "carol", carol.me().User)
	res = phone.post("/devices/revoke", "handle", "not a handle")
	require.Equal(t, http.StatusSeeOther, res.status)
	assert.Equal(t, "bob", laptop.me().User)

	// Revoke the laptop.
	laptopSID := laptop.sid()
	res = phone.post("/devices/revoke", "handle", hs[0])
	require.Equal(t, http.StatusSeeOther, res.status)
	assert.Equal(t, "/devices", res.header.Get("Location"))
	body = phone.page("/devices")
	assert.True(t, strings.HasPrefix(notice(body), "Signed out the device that signed in "), notice(body))
	assert.Equal(t, 1, deviceRows(body))
	assert.Contains(t, body, `id="no-others"`)
	assert.Empty(t, handles(body))
	jsonError(t, laptop.get("/api/me"), http.StatusUnauthorized)
	jsonError(t, laptop.withSID(laptopSID).get("/api/me"), http.StatusUnauthorized)
	assert.Contains(t, laptop.page("/devices"), `id="signed-out"`)
	assert.Equal(t, "bob", phone.me().User, "the phone stays signed in")

	// Again: already gone.
	phone.post("/devices/revoke", "handle", hs[0])
	assert.Equal(t, "That device was already signed out.", notice(phone.page("/devices")))
}

// fieldTag returns the session tag of DemoSession's field name.
func fieldTag(t *testing.T, name string) string {
	t.Helper()
	f, ok := reflect.TypeFor[DemoSession]().FieldByName(name)
	require.True(t, ok, name)
	return f.Tag.Get("session")
}

func TestRevokeOthers(t *testing.T) {
	srv := newTestServer(t, nil)
	devices := []*browser{newBrowser(t, srv.URL), newBrowser(t, srv.URL), newBrowser(t, srv.URL)}
	for _, d := range devices {
		d.loginRemember("bob", false)
	}
	carol := newBrowser(t, srv.URL)
	carol.loginRemember("carol", false)
	here := devices[1]
	assert.Equal(t, 3, deviceRows(here.page("/devices")))

	res := here.post("/devices/revoke-others")
	require.Equal(t, http.StatusSeeOther, res.status)
	assert.Equal(t, "/devices", res.header.Get("Location"))
	body := here.page("/devices")
	assert.Equal(t, "Signed out 2 other devices.", notice(body))
	assert.Equal(t, 1, deviceRows(body))
	assert.Contains(t, body, `<tr class="device current">`)
	assert.Equal(t, "bob", here.me().User, "this device stays signed in")
	jsonError(t, devices[0].get("/api/me"), http.StatusUnauthorized)
	jsonError(t, devices[2].get("/api/me"), http.StatusUnauthorized)
	assert.Equal(t, "carol", carol.me().User, "carol keeps hers")

	here.post("/devices/revoke-others")
	assert.Equal(t, "No other device was signed in.", notice(here.page("/devices")))
}

func TestRevokeThisDeviceSignsOut(t *testing.T) {
	a, srv := newTestApp(t, nil)
	laptop, phone := newBrowser(t, srv.URL), newBrowser(t, srv.URL)
	laptop.loginRemember("bob", false)
	phone.loginRemember("bob", false)
	own := store.Key(phone.sid())
	old := phone.sid()

	res := phone.post("/devices/revoke", "handle", own)
	require.Equal(t, http.StatusSeeOther, res.status)
	assert.Equal(t, "/", res.header.Get("Location"), "as POST /logout")
	assert.Equal(t, "You are signed out.", notice(phone.page("/")))
	_, err := a.mgr.Load(t.Context(), old)
	assert.ErrorIs(t, err, session.ErrNotFound)
	assert.Equal(t, "bob", laptop.me().User, "the other device stays signed in")
}

func TestDeviceActionsAnonymous(t *testing.T) {
	srv := newTestServer(t, nil)
	b := newBrowser(t, srv.URL)
	for _, path := range []string{"/devices/revoke", "/devices/revoke-others"} {
		res := b.post(path, "handle", strings.Repeat("A", 43))
		assert.Equal(t, http.StatusSeeOther, res.status, path)
		assert.Equal(t, "/devices", res.header.Get("Location"), path)
	}
	assert.Empty(t, b.sid(), "no session is created")
	assert.Equal(t, http.StatusMethodNotAllowed, b.get("/devices/revoke").status)
}

func TestStylesheet(t *testing.T) {
	srv := newTestServer(t, nil)
	b := newBrowser(t, srv.URL)
	res := b.get("/static/style.css")
	require.Equal(t, http.StatusOK, res.status)
	assert.Equal(t, "text/css; charset=utf-8", res.header.Get("Content-Type"))
	assert.Contains(t, res.body, ":focus-visible")
	assert.Empty(t, b.sid())
	assert.Equal(t, http.StatusNotFound, b.get("/static/").status, "no listing")
}

// inputRE matches an input element; labelRE a label and its content.
var (
	inputRE  = regexp.MustCompile(`<input[^>]*>`)
	labelRE  = regexp.MustCompile(`(?s)<label[^>]*>.*?</label>`)
	buttonRE = regexp.MustCompile(`(?s)<button[^>]*>.*?</button>`)
	formRE   = regexp.MustCompile(`(?s)<form method="post" action="[^"]+">.*?</form>`)
	scriptRE = regexp.MustCompile(`(?i)<script|\son[a-z]+=`)
)

// TestPagesAccessible checks each page, signed in with two devices, for
// what a screen-reader or keyboard user needs that can be seen in the
// markup: one h1, a label around or for every visible input, every
// button inside a POST form, a notice with role=status; and no script.
func TestPagesAccessible(t *testing.T) {
	srv := newTestServer(t, nil)
	other := newBrowser(t, srv.URL)
	other.loginRemember("bob", false)
	b := newBrowser(t, srv.URL)
	b.loginRemember("bob", true)
	for _, path := range []string{"/", "/session", "/devices"} {
		body := b.page(path)
		assert.Equal(t, 1, strings.Count(body, "<h1>"), "%s: one h1", path)
		assert.Contains(t, body, `<html lang="en">`)
		assert.Contains(t, body, `<main id="main">`)
		assert.NotRegexp(t, scriptRE, body, "%s: no script", path)

		labelled := strings.Join(labelRE.FindAllString(body, -1), "")
		for _, in := range inputRE.FindAllString(body, -1) {
			if strings.Contains(in, `type="hidden"`) {
				continue
			}
			assert.Contains(t, labelled, in, "%s: %s has a label", path, in)
		}
		inForms := strings.Join(formRE.FindAllString(body, -1), "")
		for _, btn := range buttonRE.FindAllString(body, -1) {
			assert.Contains(t, btn, `type="submit"`, path)
			assert.Contains(t, inForms, btn, "%s: %s is in a POST form", path, btn)
		}
		for _, id := range []string{"size-meter", "worst-meter"} {
			if strings.Contains(body, `<meter id="`+id+`"`) {
				assert.Contains(t, body, `<label for="`+id+`">`, "%s: the meter has a label", path)
			}
		}
	}
	assert.Equal(t, 2, strings.Count(b.page("/devices"), `<th scope="row">`), "each device row has a row header")
}
