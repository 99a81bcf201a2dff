package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"time"
	"unicode/utf8"

	session "github.com/sessiongen/sessiongen/runtime"
	"github.com/sessiongen/sessiongen/runtime/identity"
	"github.com/sessiongen/sessiongen/runtime/store"
)

// maxBody bounds the request bodies the app reads (the forms are tiny).
const maxBody = 8 << 10

// app holds the demo's session manager and logger; its methods are the
// HTTP handlers.
type app struct {
	mgr *session.Manager
	log *slog.Logger
}

// newApp returns the app keeping its sessions in st, with the options
// DemoSession implies (the size limit its worst case was proven against,
// and its owner index, the user: see DemoSessionOptions) and then extra (a bus, for instance). The session cookie is named "sid"
// and persistent (it lasts as long as the session, so a visitor stays
// signed in across browser restarts as well as server restarts). Close
// the app's manager (a.mgr.Close) when done.
func newApp(st store.Store, log *slog.Logger, extra ...session.Option) (*app, error) {
	a := &app{log: log}
	opts := append(DemoSessionOptions(),
		session.WithStore(st),
		session.WithLogger(log),
		session.WithIdentities(&identity.Cookie{Name: "sid", Persistent: true}),
		session.WithErrorHandler(a.sessionError),
	)
	mgr, err := session.New(append(opts, extra...)...)
	if err != nil {
		return nil, fmt.Errorf("session manager: %w", err)
	}
	a.mgr = mgr
	return a, nil
}

// routes returns the app's handler: the routes inside the session
// middleware, behind a check that refuses cross-origin form posts (CSRF)
// and a bound on request bodies.
func (a *app) routes() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", a.home)
	mux.HandleFunc("GET /session", a.sessionPage)
	mux.HandleFunc("GET /devices", a.devicesPage)
	mux.HandleFunc("GET /static/style.css", a.style)
	mux.HandleFunc("POST /login", a.login)
	mux.HandleFunc("POST /logout", a.logout)
	mux.HandleFunc("POST /cart", a.cartForm)
	mux.HandleFunc("POST /devices/revoke", a.revokeDevice)
	mux.HandleFunc("POST /devices/revoke-others", a.revokeOthers)
	mux.HandleFunc("GET /api/me", a.me)
	mux.HandleFunc("POST /api/cart", a.cartAPI)
	mux.HandleFunc("GET /api/sessions", a.sessions)
	mux.HandleFunc("POST /api/logout-everywhere", a.logoutEverywhere)

	csrf := http.NewCrossOriginProtection()
	csrf.SetDenyHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusForbidden, "cross-origin request refused")
	}))
	return noStore(csrf.Handler(http.MaxBytesHandler(a.mgr.Handler(mux), maxBody)))
}

// noStore marks every response as private to the visitor: each one
// depends on the session.
func noStore(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "no-store")
		w.Header().Set("X-Content-Type-Options", "nosniff")
		h.ServeHTTP(w, r)
	})
}

// sessionError answers when the middleware cannot load or save a session
// (the storage engine failed). The manager has already logged err.
func (a *app) sessionError(w http.ResponseWriter, r *http.Request, err error) {
	writeError(w, http.StatusInternalServerError, "session storage is unavailable, try again later")
}

// home serves GET /: the page.
func (a *app) home(w http.ResponseWriter, r *http.Request) {
	a.render(w, r, http.StatusOK, "")
}

// login serves POST /login: it checks the form's user, gives the session
// a new ID (session fixation defence), stores the user, makes the cookie
// outlive the browser when the form's remember box is checked (a
// browser-session cookie otherwise) and leaves a notice for the next
// page. The cart of an anonymous visitor is kept.
func (a *app) login(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	if status, msg := parseForm(r); msg != "" {
		a.render(w, r, status, msg)
		return
	}
	user := strings.TrimSpace(r.PostFormValue("user"))
	if msg := checkUser(user); msg != "" {
		a.render(w, r, http.StatusBadRequest, msg)
		return
	}
	sess := DemoSessionFrom(ctx)
	if err := sess.Session().Renew(ctx); err != nil {
		a.serverError(w, r, "renew the session", err)
		return
	}
	if err := sess.SetUser(ctx, user); err != nil {
		if errors.Is(err, session.ErrTooLarge) {
			a.render(w, r, http.StatusBadRequest, fmt.Sprintf("The user name must be at most %d bytes.", maxUserLen))
			return
		}
		a.serverError(w, r, "store the user", err)
		return
	}
	// Before the redirect's headers: the cookie is written with them.
	remember := r.PostFormValue("remember") != ""
	if err := sess.Session().SetPersistent(ctx, remember); err != nil {
		a.serverError(w, r, "store remember-me", err)
		return
	}
	a.flash(ctx, signedInNotice(user, remember))
	http.Redirect(w, r, "/", http.StatusSeeOther)
}

// parseForm parses the request's form. When that fails it returns the
// status and message to answer with: 413 for a body over maxBody, 400
// otherwise.
func parseForm(r *http.Request) (status int, msg string) {
	err := r.ParseForm()
	if err == nil {
		return http.StatusOK, ""
	}
	if _, ok := errors.AsType[*http.MaxBytesError](err); ok {
		return http.StatusRequestEntityTooLarge, fmt.Sprintf("The request body must be at most %d bytes.", maxBody)
	}
	return http.StatusBadRequest, "The form could not be read."
}

// checkUser returns why user is not an acceptable name, or "".
func checkUser(user string) string {
	switch {
	case user == "":
		return "Enter a user name."
	case len(user) > maxUserLen:
		return fmt.Sprintf("The user name must be at most %d bytes.", maxUserLen)
	case !utf8.ValidString(user):
		return "The user name must be valid UTF-8."
	}
	return ""
}

// logout serves POST /logout: see signOut.
func (a *app) logout(w http.ResponseWriter, r *http.Request) {
	a.signOut(w, r)
}

// signOut destroys the request's session in the engine and in the
// browser, and redirects to the home page. A visitor who had a session
// gets a fresh one holding only the notice "You are signed out.", with a
// new ID; the home page destroys it once the notice is shown.
func (a *app) signOut(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	s := session.FromContext(ctx)
	had := s.ID() != ""
	if err := s.Destroy(ctx); err != nil {
		a.serverError(w, r, "destroy the session", err)
		return
	}
	if had {
		a.flash(ctx, noticeSignedOut)
	}
	http.Redirect(w, r, "/", http.StatusSeeOther)
}

// meResponse is the body of GET /api/me.
type meResponse struct {
	User   string   `json:"user"`
	Visits int64    `json:"visits"`
	Cart   []string `json:"cart"`
}

// me serves GET /api/me: the signed-in user, the number of calls of this
// endpoint (this one included) and the cart; 401 when not signed in.
func (a *app) me(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	sess := DemoSessionFrom(ctx)
	user, ok := sess.User()
	if !ok {
		writeError(w, http.StatusUnauthorized, "not signed in")
		return
	}
	// AddVisits counts the call atomically: concurrent calls, from this
	// process or another, are all counted (a read followed by SetVisits
	// would lose some).
	visits, err := sess.AddVisits(ctx, 1)
	if err != nil {
		if errors.Is(err, session.ErrNotFound) {
			// Another process ended the session (sign-out, log out
			// everywhere) just before this one heard of it.
			writeError(w, http.StatusUnauthorized, "not signed in")
			return
		}
		a.serverError(w, r, "count the visit", err)
		return
	}
	cart, _ := sess.Cart()
	writeJSON(w, http.StatusOK, meResponse{User: user, Visits: visits, Cart: nonNil(cart)})
}

// sessionInfo is one session in the body of GET /api/sessions. It
// carries no session ID, nor the handle that names the session in the
// engine.
type sessionInfo struct {
	// Created is when the session was first written (here: at sign-in,
	// which gives the session a new ID).
	Created time.Time `json:"created"`
	// LastSeen is when the session's expiry was last extended; the
	// runtime extends it at most every quarter of the idle timeout.
	LastSeen time.Time `json:"lastSeen"`
	// Expires is when the session ends unless it is used again.
	Expires time.Time `json:"expires"`
	// Current is set for the session of the request.
	Current bool `json:"current"`
}

// sessionsResponse is the body of GET /api/sessions.
type sessionsResponse struct {
	User     string        `json:"user"`
	Sessions []sessionInfo `json:"sessions"`
}

// sessions serves GET /api/sessions: the signed-in user's live sessions,
// on every device and every process sharing the engine, oldest first,
// the request's own marked current; 401 when not signed in.
func (a *app) sessions(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	sess := DemoSessionFrom(ctx)
	user, ok := sess.User()
	if !ok {
		writeError(w, http.StatusUnauthorized, "not signed in")
		return
	}
	list, err := a.mgr.Sessions(ctx, user)
	if err != nil {
		a.serverError(w, r, "list the user's sessions", err)
		return
	}
	// Sessions names each session by its engine key (a hash of its ID):
	// the request's own is the one whose key is that of its ID.
	current := currentHandle(sess)
	out := sessionsResponse{User: user, Sessions: make([]sessionInfo, 0, len(list))}
	for _, si := range list {
		out.Sessions = append(out.Sessions, sessionInfo{
			Created:  si.Created,
			LastSeen: si.LastSeen,
			Expires:  si.Expires,
			Current:  si.Handle == current,
		})
	}
	writeJSON(w, http.StatusOK, out)
}

// revokedResponse is the body of POST /api/logout-everywhere.
type revokedResponse struct {
	// Revoked is the number of sessions ended, the request's own
	// included.
	Revoked int `json:"revoked"`
}

// logoutEverywhere serves POST /api/logout-everywhere: it ends every
// session of the signed-in user, on every device and, through the bus,
// at once on every process sharing the engine; 401 when not signed in.
// The request's own session is among them; its cookie is cleared too.
func (a *app) logoutEverywhere(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	sess := DemoSessionFrom(ctx)
	user, ok := sess.User()
	if !ok {
		writeError(w, http.StatusUnauthorized, "not signed in")
		return
	}
	n, err := a.mgr.RevokeAll(ctx, user)
	if err != nil {
		a.serverError(w, r, "revoke the user's sessions", err)
		return
	}
	// The session is gone from the engine; Destroy clears the cookie.
	if err := sess.Session().Destroy(ctx); err != nil && !errors.Is(err, session.ErrNotFound) {
		a.serverError(w, r, "destroy the session", err)
		return
	}
	writeJSON(w, http.StatusOK, revokedResponse{Revoked: n})
}

// cartResponse is the body of POST /api/cart.
type cartResponse struct {
	Cart []string `json:"cart"`
}

// cartAPI serves POST /api/cart: it appends the form's item to the cart
// and answers with the cart as JSON.
func (a *app) cartAPI(w http.ResponseWriter, r *http.Request) {
	cart, status, msg := a.addItem(w, r)
	if msg != "" {
		writeError(w, status, msg)
		return
	}
	writeJSON(w, http.StatusOK, cartResponse{Cart: cart})
}

// cartForm serves POST /cart, the page's add form: like POST /api/cart,
// but it redirects to the page, or shows the page with the error.
func (a *app) cartForm(w http.ResponseWriter, r *http.Request) {
	_, status, msg := a.addItem(w, r)
	if msg != "" {
		a.render(w, r, status, msg)
		return
	}
	http.Redirect(w, r, "/", http.StatusSeeOther)
}

// addItem appends the form's item to the cart. On failure it returns the
// status and message to answer with; a storage failure is logged here.
// UpdateCart appends atomically, so items added at once (two tabs, two
// processes) all land, and it enforces the cart's bounds as SetCart
// does: over them it fails with session.ErrTooLarge and the cart is
// unchanged.
func (a *app) addItem(w http.ResponseWriter, r *http.Request) (cart []string, status int, msg string) {
	ctx := r.Context()
	if status, msg := parseForm(r); msg != "" {
		return nil, status, msg
	}
	item := strings.TrimSpace(r.PostFormValue("item"))
	if item == "" {
		return nil, http.StatusBadRequest, "Enter an item."
	}
	if !utf8.ValidString(item) {
		return nil, http.StatusBadRequest, "The item must be valid UTF-8."
	}
	n := 0 // the number of items in the cart fn was last given
	cart, err := DemoSessionFrom(ctx).UpdateCart(ctx, func(old []string) ([]string, error) {
		n = len(old)
		return append(old, item), nil
	})
	if err != nil {
		if errors.Is(err, session.ErrTooLarge) {
			return nil, http.StatusRequestEntityTooLarge, tooLargeMessage(n, item)
		}
		a.log.ErrorContext(ctx, "demo: store the cart", slog.Any("err", err))
		return nil, http.StatusInternalServerError, "The cart could not be saved, try again later."
	}
	return cart, http.StatusOK, ""
}

// tooLargeMessage says why adding item to a cart of n items went over a
// bound.
func tooLargeMessage(n int, item string) string {
	switch {
	case len(item) > maxItemLen:
		return fmt.Sprintf("An item must be at most %d bytes; this one has %d.", maxItemLen, len(item))
	case n >= maxCartItems:
		return fmt.Sprintf("The cart is full: it holds at most %d items.", maxCartItems)
	}
	return "The session is full."
}

// serverError logs a failure of the session runtime or the engine and
// answers 500 without details.
func (a *app) serverError(w http.ResponseWriter, r *http.Request, op string, err error) {
	a.log.ErrorContext(r.Context(), "demo: "+op, slog.String("path", r.URL.Path), slog.Any("err", err))
	writeError(w, http.StatusInternalServerError, "internal error, try again later")
}

// errorResponse is the body of every JSON error.
type errorResponse struct {
	Error string `json:"error"`
}

// writeError answers with status and {"error": msg}.
func writeError(w http.ResponseWriter, status int, msg string) {
	writeJSON(w, status, errorResponse{Error: msg})
}

// writeJSON answers with status and v as JSON.
func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		// Only the fixed response types above reach here; they always
		// encode.
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_, _ = w.Write(append(b, '\n'))
}

// nonNil returns s, or an empty slice for nil (JSON [] rather than null).
func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}
