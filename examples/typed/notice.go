package main

import (
	"context"
	"fmt"
	"log/slog"
)

// Flash notices: an action (sign-in, sign-out, revocation) stores a
// notice in the session (DemoSession.Notice, tag option flash) and
// redirects; the next page rendered pops it (PopNotice reads and removes
// it in one compare-and-set, so two tabs never both show it) and shows
// it once. The notice is text the server wrote, never a request's input,
// and html/template escapes it like any value.

// flash stores msg as the session's notice for the next page. A failure
// is logged, not returned: the action it reports has already succeeded.
func (a *app) flash(ctx context.Context, msg string) {
	if err := DemoSessionFrom(ctx).SetNotice(ctx, msg); err != nil {
		a.log.ErrorContext(ctx, "demo: store the notice", slog.Any("err", err))
	}
}

// popNotice returns the session's notice and removes it, or "" when it
// has none. A session left with no field at all (the fresh session that
// carried "You are signed out." past the sign-out) is destroyed once its
// notice is shown, so signing out leaves nothing in the engine or the
// browser.
func (a *app) popNotice(ctx context.Context) string {
	sess := DemoSessionFrom(ctx)
	msg, ok, err := sess.PopNotice(ctx)
	if err != nil {
		a.log.ErrorContext(ctx, "demo: pop the notice", slog.Any("err", err))
		return ""
	}
	if !ok {
		return ""
	}
	if len(sess.Session().Keys()) == 0 {
		if err := sess.Session().Destroy(ctx); err != nil {
			a.log.ErrorContext(ctx, "demo: destroy the emptied session", slog.Any("err", err))
		}
	}
	return msg
}

// signedInNotice is the notice after user signed in, remembered or not.
// It is at most 13 + maxUserLen + 34 bytes, within maxNoticeLen.
func signedInNotice(user string, remember bool) string {
	if remember {
		return fmt.Sprintf("Signed in as %s. This device remembers you.", user)
	}
	return fmt.Sprintf("Signed in as %s until the browser closes.", user)
}

// Notices with fixed text.
const (
	// noticeSignedOut follows a sign-out.
	noticeSignedOut = "You are signed out."
	// noticeAlreadyGone follows a revocation of a session that had ended.
	noticeAlreadyGone = "That device was already signed out."
)

// revokedNotice is the notice after the device signed in at created
// was signed out.
func revokedNotice(created string) string {
	return "Signed out the device that signed in " + created + "."
}

// revokedOthersNotice is the notice after n other devices were signed
// out.
func revokedOthersNotice(n int) string {
	switch n {
	case 0:
		return "No other device was signed in."
	case 1:
		return "Signed out 1 other device."
	}
	return fmt.Sprintf("Signed out %d other devices.", n)
}
