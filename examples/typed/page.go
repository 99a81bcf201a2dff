package main

import (
	"bytes"
	"embed"
	"html/template"
	"log/slog"
	"net/http"
	"time"
)

// The HTML pages: each is templates/layout.html around one page's
// templates/NAME.html, rendered on the server (the pages need no
// JavaScript). html/template escapes every value, the user's name and
// the flash notice included.

// templateFS holds the pages' templates.
//
//go:embed templates/*.html
var templateFS embed.FS

// staticFS holds the stylesheet, served at /static/style.css.
//
//go:embed static/style.css
var staticFS embed.FS

// contentSecurityPolicy allows the pages nothing but their own origin:
// no inline script or style (the pages have no script; their one
// stylesheet is /static/style.css), no framing, forms posted only here.
const contentSecurityPolicy = "default-src 'self'; frame-ancestors 'none'; form-action 'self'; base-uri 'none'"

// pageFuncs are the functions the templates call.
var pageFuncs = template.FuncMap{"when": when, "iso": iso}

// pages holds each page's parsed template, by name.
var pages = map[string]*template.Template{
	"home":    parsePage("home"),
	"session": parsePage("session"),
	"devices": parsePage("devices"),
}

// parsePage parses the layout and templates/name.html; it panics when
// they do not parse (they are embedded: a test run catches it).
func parsePage(name string) *template.Template {
	return template.Must(template.New(name).Funcs(pageFuncs).
		ParseFS(templateFS, "templates/layout.html", "templates/"+name+".html"))
}

// chrome is what the layout shows around every page's content.
type chrome struct {
	// Active names the page, for the navigation's aria-current.
	Active string
	// Notice is the flash message set by the previous action (sign-in,
	// sign-out, revocation), shown once; "" when there is none.
	Notice string
	// Error is a message about the form just posted, "" when it
	// succeeded.
	Error string
}

// chrome returns the layout's data for the page named active, with the
// error message msg, popping the session's notice: it shows on this page
// and never again.
func (a *app) chrome(r *http.Request, active, msg string) chrome {
	return chrome{Active: active, Notice: a.popNotice(r.Context()), Error: msg}
}

// show writes the page name with data and status. It renders into a
// buffer first, so a template failure still answers a clean 500, and the
// session's changes (the notice popped) go out before the headers.
func (a *app) show(w http.ResponseWriter, r *http.Request, status int, name string, data any) {
	var buf bytes.Buffer
	if err := pages[name].ExecuteTemplate(&buf, "layout", data); err != nil {
		a.serverError(w, r, "render the page "+name, err)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Content-Security-Policy", contentSecurityPolicy)
	h.Set("Referrer-Policy", "same-origin")
	w.WriteHeader(status)
	if _, err := w.Write(buf.Bytes()); err != nil {
		a.log.DebugContext(r.Context(), "demo: write the page", slog.String("page", name), slog.Any("err", err))
	}
}

// style serves GET /static/style.css.
func (a *app) style(w http.ResponseWriter, r *http.Request) {
	http.ServeFileFS(w, r, staticFS, "static/style.css")
}

// homeData is what the home page shows.
type homeData struct {
	// Chrome is the layout's: navigation, notice, error.
	Chrome chrome
	// User is the signed-in user's name, "" for an anonymous visitor.
	User string
	// Visits is the number of GET /api/me calls so far.
	Visits int64
	// Cart is the cart's items.
	Cart []string
	// MaxItems and MaxItemLen are the cart's bounds.
	MaxItems, MaxItemLen int
	// MaxUserLen is the longest user name.
	MaxUserLen int
}

// render writes the home page for the request's session with status and,
// when not empty, an error message. The element #user holds the
// signed-in user's name and is empty for an anonymous visitor.
func (a *app) render(w http.ResponseWriter, r *http.Request, status int, msg string) {
	d := homeData{Chrome: a.chrome(r, "home", msg), MaxItems: maxCartItems, MaxItemLen: maxItemLen, MaxUserLen: maxUserLen}
	sess := DemoSessionFrom(r.Context())
	d.User, _ = sess.User()
	d.Visits, _ = sess.Visits()
	d.Cart, _ = sess.Cart()
	a.show(w, r, status, "home", d)
}

// when formats t for people: the date and time in UTC to the second.
func when(t time.Time) string {
	return t.UTC().Format("2 Jan 2006, 15:04:05 UTC")
}

// iso formats t for a <time datetime> attribute.
func iso(t time.Time) string {
	return t.UTC().Format(time.RFC3339)
}
