package main

import (
	"errors"
	"net/http"
	"slices"
	"time"

	session "github.com/sessiongen/sessiongen/runtime"
	"github.com/sessiongen/sessiongen/runtime/store"
)

// The "Your devices" page: the signed-in user's sessions on every device
// (Manager.Sessions, through the engine's owner index), each with a
// button to sign it out (Manager.Revoke), and one to sign out every
// other device (Manager.RevokeOthers). The page shows no session ID; a
// session's handle (a hash of its ID, which cannot be turned back into
// one) is only a hidden form value, and a posted handle is acted on only
// when it is one of the user's own sessions.

// deviceRow is one session in the devices table.
type deviceRow struct {
	// Handle names the session for the revoke form (SessionInfo.Handle).
	Handle string
	// Created, LastSeen and Expires are those of SessionInfo.
	Created, LastSeen, Expires time.Time
	// Current is set for the session of the request: "this device".
	Current bool
}

// devicesData is what the devices page shows.
type devicesData struct {
	// Chrome is the layout's: navigation, notice, error.
	Chrome chrome
	// User is the signed-in user, "" for an anonymous visitor.
	User string
	// Devices are the user's sessions, oldest first.
	Devices []deviceRow
	// Others is set when another device than this one is signed in.
	Others bool
}

// currentHandle returns the handle of the request's session: its engine
// key, which is what Manager.Sessions names sessions by; "" when the
// request has no session.
func currentHandle(sess DemoSessionView) string {
	id := sess.Session().ID()
	if id == "" {
		return ""
	}
	return store.Key(id)
}

// devicesPage serves GET /devices.
func (a *app) devicesPage(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	d := devicesData{Chrome: a.chrome(r, "devices", "")}
	sess := DemoSessionFrom(ctx)
	user, ok := sess.User()
	if ok {
		list, err := a.mgr.Sessions(ctx, user)
		if err != nil {
			a.serverError(w, r, "list the user's sessions", err)
			return
		}
		d.User = user
		current := currentHandle(sess)
		for _, si := range list {
			row := deviceRow{Handle: si.Handle, Created: si.Created, LastSeen: si.LastSeen, Expires: si.Expires, Current: si.Handle == current}
			d.Others = d.Others || !row.Current
			d.Devices = append(d.Devices, row)
		}
	}
	a.show(w, r, http.StatusOK, "devices", d)
}

// revokeDevice serves POST /devices/revoke, form handle: it signs out the
// user's session with that handle, everywhere, and redirects to the
// devices page with a notice. The handle of the request's own session
// signs this device out (as POST /logout does); a handle that is not one
// of the user's live sessions revokes nothing.
func (a *app) revokeDevice(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	if status, msg := parseForm(r); msg != "" {
		writeError(w, status, msg)
		return
	}
	sess := DemoSessionFrom(ctx)
	user, ok := sess.User()
	if !ok {
		http.Redirect(w, r, "/devices", http.StatusSeeOther)
		return
	}
	handle := r.PostFormValue("handle")
	if handle != "" && handle == currentHandle(sess) {
		a.signOut(w, r)
		return
	}
	list, err := a.mgr.Sessions(ctx, user)
	if err != nil {
		a.serverError(w, r, "list the user's sessions", err)
		return
	}
	i := slices.IndexFunc(list, func(si session.SessionInfo) bool { return si.Handle == handle })
	switch {
	case i < 0:
		a.flash(ctx, noticeAlreadyGone)
	default:
		switch err := a.mgr.Revoke(ctx, handle); {
		case errors.Is(err, session.ErrNotFound):
			a.flash(ctx, noticeAlreadyGone)
		case err != nil:
			a.serverError(w, r, "revoke a session", err)
			return
		default:
			a.flash(ctx, revokedNotice(when(list[i].Created)))
		}
	}
	http.Redirect(w, r, "/devices", http.StatusSeeOther)
}

// revokeOthers serves POST /devices/revoke-others: it signs out every
// session of the user but this one, everywhere, and redirects to the
// devices page with a notice.
func (a *app) revokeOthers(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	sess := DemoSessionFrom(ctx)
	if _, ok := sess.User(); !ok {
		http.Redirect(w, r, "/devices", http.StatusSeeOther)
		return
	}
	n, err := a.mgr.RevokeOthers(ctx, sess.Session())
	if err != nil {
		a.serverError(w, r, "revoke the other sessions", err)
		return
	}
	a.flash(ctx, revokedOthersNotice(n))
	http.Redirect(w, r, "/devices", http.StatusSeeOther)
}
