// Package shop is a small typed session for the examples of package
// sessiontest: the generated CartSession view is used by a handler and by
// the test that checks it.
package shop

//go:generate go run github.com/sessiongen/sessiongen/cmd/sessiongen -type=CartSession

// CartSession is what the shop keeps per visitor.
type CartSession struct {
	UserID int64  `session:"uid"`
	Items  int    `session:"items"`
	Coupon string `session:"coupon,max=16"`
}
