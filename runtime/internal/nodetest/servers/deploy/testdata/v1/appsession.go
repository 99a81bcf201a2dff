package main

//go:generate sessiongen -type=AppSession

// AppSession is the session of the app's first build (v1), before the
// rolling deploy to v2. v2 renames Name (to DisplayName, key "display"),
// retypes Score (to a string), drops Legacy and adds a field.
type AppSession struct {
	// Visits counts the requests of the session; every request of both
	// builds adds one with AddVisits.
	Visits int64 `session:"visits"`
	// Name is the visitor's name, DisplayName in v2.
	Name string `session:"name,max=32"`
	// Score is an int32 here, a string in v2.
	Score int32 `session:"score"`
	// Legacy is a field v2 no longer has.
	Legacy string `session:"legacy,max=16"`
}
