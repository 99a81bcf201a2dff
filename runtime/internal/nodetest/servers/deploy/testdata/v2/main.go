// Command v2 is the second build of the rolling-deploy test's app (see
// package app for the flags, the engine and the output). Every request
// adds one to Visits first, then applies its writes, and answers with
// app.Reply: the count, the session's keys and every field v2 knows.
//
//	GET  /get                                no write
//	POST /set   display=S score=S added=B    SetDisplayName, SetScore, SetAdded, each when given
//	POST /save  display=S score=S added=B    Load, change the fields given, Save
package main

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strconv"

	"github.com/sessiongen/sessiongen/runtime/internal/nodetest/servers/deploy/testdata/app"
)

// build names this build in replies and logs.
const build = "v2"

// main serves the routes above until SIGINT or SIGTERM (app.Main).
func main() {
	app.Main(build, AppSessionOptions(), func(mux *http.ServeMux) {
		mux.HandleFunc("GET /get", serve(nil))
		mux.HandleFunc("POST /set", serve(set))
		mux.HandleFunc("POST /save", serve(save))
	})
}

// serve returns a handler that adds one to Visits, applies write (none
// when nil) with the request's form, and replies with the fields.
func serve(write func(ctx context.Context, v AppSessionView, form url.Values) error) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		ctx := r.Context()
		v := AppSessionFrom(ctx)
		n, err := v.AddVisits(ctx, 1)
		if err != nil {
			app.Fail(w, http.StatusInternalServerError, fmt.Errorf("AddVisits: %w", err))
			return
		}
		if write != nil {
			if err := r.ParseForm(); err != nil {
				app.Fail(w, http.StatusBadRequest, err)
				return
			}
			if err := write(ctx, v, r.Form); err != nil {
				app.Fail(w, http.StatusInternalServerError, err)
				return
			}
		}
		app.Write(w, app.Reply{Build: build, Visits: n, Keys: v.Session().Keys(), Fields: fields(v)})
	}
}

// fields returns every field v2 knows but Visits, by session key.
func fields(v AppSessionView) map[string]app.Field {
	display, displayOK := v.DisplayName()
	score, scoreOK := v.Score()
	added, addedOK := v.Added()
	return map[string]app.Field{
		AppSessionKeyDisplayName: {Value: display, OK: displayOK},
		AppSessionKeyScore:       {Value: score, OK: scoreOK},
		AppSessionKeyAdded:       {Value: added, OK: addedOK},
	}
}

// set writes each field the form names, with its own setter.
func set(ctx context.Context, v AppSessionView, form url.Values) error {
	if form.Has("display") {
		if err := v.SetDisplayName(ctx, form.Get("display")); err != nil {
			return fmt.Errorf("SetDisplayName: %w", err)
		}
	}
	if form.Has("score") {
		if err := v.SetScore(ctx, form.Get("score")); err != nil {
			return fmt.Errorf("SetScore: %w", err)
		}
	}
	if form.Has("added") {
		b, err := strconv.ParseBool(form.Get("added"))
		if err != nil {
			return err
		}
		if err := v.SetAdded(ctx, b); err != nil {
			return fmt.Errorf("SetAdded: %w", err)
		}
	}
	return nil
}

// save loads every field, changes those the form names and saves them
// all in one change.
func save(ctx context.Context, v AppSessionView, form url.Values) error {
	data, err := v.Load()
	if err != nil {
		return fmt.Errorf("Load: %w", err)
	}
	if form.Has("display") {
		data.DisplayName = form.Get("display")
	}
	if form.Has("score") {
		data.Score = form.Get("score")
	}
	if form.Has("added") {
		b, err := strconv.ParseBool(form.Get("added"))
		if err != nil {
			return err
		}
		data.Added = b
	}
	if err := v.Save(ctx, data); err != nil {
		return fmt.Errorf("Save: %w", err)
	}
	return nil
}
