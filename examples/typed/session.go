package main

//go:generate go run github.com/sessiongen/sessiongen/cmd/sessiongen -type=DemoSession

// DemoSession is everything the demo keeps in a visitor's session. The
// generated file demosession_session.go (go generate) gives it typed
// accessors: DemoSessionFrom(ctx) returns a DemoSessionView with User(),
// SetUser(ctx, v), RemoveUser(ctx) and so on, UpdateCart(ctx, fn) and
// AddVisits(ctx, n), which change a field atomically (no concurrent
// request's change is lost), and PopNotice(ctx), which reads a flash
// message and removes it in the same change. The tags' bounds are proven at generate time
// to fit the runtime's 1024-byte session limit, and the generated setters
// and updaters refuse values over them with an error wrapping
// session.ErrTooLarge.
type DemoSession struct {
	// User is the signed-in user's name; absent for anonymous visitors.
	// It is the owner index (tag option index): the engine lists a
	// user's sessions under it, for GET /api/sessions and POST
	// /api/logout-everywhere.
	User string `session:"user,max=64,index"`
	// Visits counts the calls of GET /api/me.
	Visits int64 `session:"visits"`
	// Cart holds up to 8 items of up to 32 bytes each.
	Cart []string `session:"cart,max=8,elem=32"`
	// Notice is a message for the next page rendered (tag option flash:
	// PopNotice reads and removes it in one change, so it shows once):
	// "Signed in as ...", "Signed out", "Device signed out".
	Notice string `session:"notice,max=128,flash"`
}

// The bounds of the tags above, for the handlers' messages and input
// checks. Keep them equal to the tags (the tests check that they are).
const (
	// maxUserLen is the longest user name, in bytes.
	maxUserLen = 64
	// maxCartItems is the number of items the cart holds at most.
	maxCartItems = 8
	// maxItemLen is the longest cart item, in bytes.
	maxItemLen = 32
	// maxNoticeLen is the longest notice, in bytes.
	maxNoticeLen = 128
)
