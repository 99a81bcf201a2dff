package main

import (
	"net/http"
	"strconv"
	"strings"
	"time"
)

// sizeBudget is the limit of a session's encoded size in bytes:
// sessiongen's -budget, which DemoSessionOptions passes to
// session.WithMaxSize (a test keeps them equal).
const sizeBudget = 1024

// fieldRow is one field of the session page's table.
type fieldRow struct {
	// Name is the DemoSession field's name.
	Name string
	// Key is its session key.
	Key string
	// Present is set when the session holds the key.
	Present bool
	// Value is the decoded value, as text.
	Value string
	// Absent says what an absent key means.
	Absent string
	// Bytes is the field's encoded size: len(Key) plus the length of
	// the msgpack value; 0 when absent.
	Bytes int
}

// sessionData is what the "Your session" page shows.
type sessionData struct {
	// Chrome is the layout's: navigation, notice, error.
	Chrome chrome
	// Fields are DemoSession's fields, in declaration order, then any
	// other key the session holds.
	Fields []fieldRow
	// SettingsBytes is what the runtime's settings (remember me) add:
	// Size minus the fields.
	SettingsBytes int
	// Size is Session.Size(), the total the limit applies to.
	Size int
	// Budget is the limit, Worst the proven worst case
	// (DemoSessionMaxSize), Low and High the meter's thresholds.
	Budget, Worst, Low, High int
	// HasSession is set when the session exists in the engine.
	HasSession bool
	// Created and Expires are Session.Created() and Session.Expires().
	Created, Expires time.Time
	// Persistent is Session.Persistent(): remember me.
	Persistent bool
}

// sessionPage serves GET /session: each field of the visitor's session
// with its encoded size, the total against the budget and the proven
// worst case, the session's creation and expiry, and remember-me.
func (a *app) sessionPage(w http.ResponseWriter, r *http.Request) {
	// The notice is popped first, so that the numbers are those of the
	// session as it is stored after this request.
	d := sessionData{Chrome: a.chrome(r, "session", ""), Budget: sizeBudget, Worst: DemoSessionMaxSize,
		Low: sizeBudget * 3 / 4, High: sizeBudget * 9 / 10}
	view := DemoSessionFrom(r.Context())
	s := view.Session()
	d.Fields = fieldRows(view)
	d.Size = s.Size()
	d.SettingsBytes = d.Size
	for _, f := range d.Fields {
		d.SettingsBytes -= f.Bytes
	}
	d.Created, d.Expires = s.Created(), s.Expires()
	d.HasSession = !d.Created.IsZero()
	d.Persistent = s.Persistent()
	a.show(w, r, http.StatusOK, "session", d)
}

// fieldRows returns the table rows of the session in view: DemoSession's
// fields, then any other key (one a newer or older build wrote).
func fieldRows(view DemoSessionView) []fieldRow {
	user, hasUser := view.User()
	visits, hasVisits := view.Visits()
	cart, hasCart := view.Cart()
	notice, hasNotice := view.Notice()
	rows := []fieldRow{
		{Name: "User", Key: DemoSessionKeyUser, Present: hasUser, Value: user, Absent: "anonymous visitor"},
		{Name: "Visits", Key: DemoSessionKeyVisits, Present: hasVisits, Value: strconv.FormatInt(visits, 10), Absent: "no call of /api/me yet"},
		{Name: "Cart", Key: DemoSessionKeyCart, Present: hasCart, Value: cartText(cart), Absent: "empty"},
		{Name: "Notice", Key: DemoSessionKeyNotice, Present: hasNotice, Value: notice, Absent: "a flash: removed once shown"},
	}
	known := map[string]bool{}
	for _, r := range rows {
		known[r.Key] = true
	}
	for _, k := range view.Session().Keys() {
		if !known[k] {
			rows = append(rows, fieldRow{Name: "(not in DemoSession)", Key: k, Present: true, Value: "…"})
		}
	}
	for i := range rows {
		if b, ok, err := view.Session().Raw(rows[i].Key); err == nil && ok {
			rows[i].Present = true
			rows[i].Bytes = len(rows[i].Key) + len(b)
		}
	}
	return rows
}

// cartText describes the cart's items.
func cartText(cart []string) string {
	n := strconv.Itoa(len(cart)) + " items"
	if len(cart) == 1 {
		n = "1 item"
	}
	if len(cart) == 0 {
		return n
	}
	return strings.Join(cart, ", ") + " (" + n + ")"
}
