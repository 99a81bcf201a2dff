// Command v1 is the first build of the rolling-deploy test's app (see
// package app for the flags, the engine and the output). Every request
// adds one to Visits first, then applies its writes, and answers with
// app.Reply: the count, the session's keys and every field v1 knows.
//
//	GET  /get                               no write
//	POST /set   name=S score=N legacy=S     SetName, SetScore, SetLegacy, each when given
//	POST /save  name=S score=N legacy=S     Load, change the fields given, Save
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
const build = "v1"

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

// fields returns every field v1 knows but Visits, by session key.
func fields(v AppSessionView) map[string]app.Field {
	name, nameOK := v.Name()
	score, scoreOK := v.Score()
	legacy, legacyOK := v.Legacy()
	return map[string]app.Field{
		AppSessionKeyName:   {Value: name, OK: nameOK},
		AppSessionKeyScore:  {Value: score, OK: scoreOK},
		AppSessionKeyLegacy: {Value: legacy, OK: legacyOK},
	}
}

// set writes each field the form names, with its own setter.
func set(ctx context.Context, v AppSessionView, form url.Values) error {
	if form.Has("name") {
		if err := v.SetName(ctx, form.Get("name")); err != nil {
			return fmt.Errorf("SetName: %w", err)
		}
	}
	if form.Has("score") {
		n, err := strconv.ParseInt(form.Get("score"), 10, 32)
		if err != nil {
			return err
		}
		if err := v.SetScore(ctx, int32(n)); err != nil {
			return fmt.Errorf("SetScore: %w", err)
		}
	}
	if form.Has("legacy") {
		if err := v.SetLegacy(ctx, form.Get("legacy")); err != nil {
			return fmt.Errorf("SetLegacy: %w", err)
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
	if form.Has("name") {
		data.Name = form.Get("name")
	}
	if form.Has("score") {
		n, err := strconv.ParseInt(form.Get("score"), 10, 32)
		if err != nil {
			return err
		}
		data.Score = int32(n)
	}
	if form.Has("legacy") {
		data.Legacy = form.Get("legacy")
	}
	if err := v.Save(ctx, data); err != nil {
		return fmt.Errorf("Save: %w", err)
	}
	return nil
}
