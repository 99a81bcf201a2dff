package main

//go:generate sessiongen -type=AppSession

// AppSession is the session of the app's second build (v2), rolled out
// while v1 still serves the same sessions. Against v1: Name is renamed
// to DisplayName under the key "display" (was=name: while "display" is
// absent the getter reads v1's "name", and the first write of
// DisplayName stores "display" and removes "name" in one change), Score
// is retyped from int32 to string, Legacy is gone and Added is new.
type AppSession struct {
	// Visits counts the requests of the session; every request of both
	// builds adds one with AddVisits.
	Visits int64 `session:"visits"`
	// DisplayName is v1's Name under a new key.
	DisplayName string `session:"display,max=32,was=name"`
	// Score was an int32 in v1.
	Score string `session:"score,max=16"`
	// Added is new in v2.
	Added bool `session:"added"`
}
