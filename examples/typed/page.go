package main

import (
	"bytes"
	"html/template"
	"log/slog"
	"net/http"
)

// pageData is what the page shows.
type pageData struct {
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
	// Error is a message about the last form post, "" when it succeeded.
	Error string
}

// page is the demo's only HTML page. The element #user holds the signed-in
// user's name and is empty for an anonymous visitor.
var page = template.Must(template.New("page").Parse(`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>sessiongen demo</title>
<style>
body { font-family: system-ui, sans-serif; max-width: 40rem; margin: 2rem auto; padding: 0 1rem; line-height: 1.5; }
section { border: 1px solid #ccc; border-radius: .5rem; padding: .5rem 1rem; margin: 1rem 0; }
#error { color: #a00; font-weight: bold; }
form { display: inline-block; margin: .25rem 0; }
</style>
</head>
<body>
<h1>sessiongen demo</h1>
{{with .Error}}<p id="error" role="alert">{{.}}</p>{{end}}
<section>
<h2>You</h2>
<p>Signed in as: <strong id="user">{{.User}}</strong>{{if not .User}}<span id="anonymous">nobody (anonymous visitor)</span>{{end}}</p>
<form method="post" action="/login">
<label>User name <input name="user" maxlength="{{.MaxUserLen}}" required autocomplete="username"></label>
<button type="submit" id="login">Sign in</button>
</form>
{{if .User}}<form method="post" action="/logout"><button type="submit" id="logout">Log out</button></form>{{end}}
<p>Calls of <a href="/api/me">/api/me</a>: <span id="visits">{{.Visits}}</span></p>
</section>
<section>
<h2>Cart ({{len .Cart}} of {{.MaxItems}})</h2>
<ul id="cart">{{range .Cart}}<li>{{.}}</li>{{end}}</ul>
{{if not .Cart}}<p id="cart-empty">The cart is empty.</p>{{end}}
<form method="post" action="/cart">
<label>Item <input name="item" maxlength="{{.MaxItemLen}}" required></label>
<button type="submit" id="add">Add</button>
</form>
</section>
</body>
</html>
`))

// render writes the page for the request's session with status and,
// when not empty, an error message.
func (a *app) render(w http.ResponseWriter, r *http.Request, status int, msg string) {
	sess := DemoSessionFrom(r.Context())
	d := pageData{MaxItems: maxCartItems, MaxItemLen: maxItemLen, MaxUserLen: maxUserLen, Error: msg}
	d.User, _ = sess.User()
	d.Visits, _ = sess.Visits()
	d.Cart, _ = sess.Cart()
	var buf bytes.Buffer
	if err := page.Execute(&buf, d); err != nil {
		a.serverError(w, r, "render the page", err)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Content-Security-Policy", "default-src 'self'; style-src 'unsafe-inline'; frame-ancestors 'none'; form-action 'self'")
	w.WriteHeader(status)
	if _, err := w.Write(buf.Bytes()); err != nil {
		a.log.DebugContext(r.Context(), "demo: write the page", slog.Any("err", err))
	}
}
