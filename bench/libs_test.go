package bench

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"testing"

	"github.com/alexedwards/scs/v2"
	"github.com/gorilla/sessions"

	session "github.com/sessiongen/sessiongen/runtime"
)

// errNoSession reports a request without a session in its context.
var errNoSession = errors.New("no session in the request context")

// sessiongenLib wires a sessiongen manager made with opts (untyped mode:
// session.Value and Session.Set).
func sessiongenLib(tb testing.TB, opts ...session.Option) lib {
	tb.Helper()
	m, err := session.New(opts...)
	if err != nil {
		tb.Fatalf("sessiongen: new manager: %v", err)
	}
	return lib{
		name: "sessiongen",
		wrap: m.Handler,
		get: func(r *http.Request, key string) (int64, bool, error) {
			return session.Value[int64](session.FromContext(r.Context()), key)
		},
		set: func(_ http.ResponseWriter, r *http.Request, key string, v int64) error {
			ctx := r.Context()
			return session.FromContext(ctx).Set(ctx, key, v)
		},
		seed: func(_ http.ResponseWriter, r *http.Request) error {
			ctx := r.Context()
			s := session.FromContext(ctx)
			if err := s.Set(ctx, "n", int64(seedN)); err != nil {
				return err
			}
			return s.Set(ctx, "k", int64(seedK))
		},
	}
}

// scsLib wires an scs session manager on st, with its LoadAndSave
// middleware and its default gob codec.
func scsLib(st scs.Store) lib {
	sm := scs.New()
	sm.Store = st
	return lib{
		name: "scs",
		wrap: sm.LoadAndSave,
		get: func(r *http.Request, key string) (int64, bool, error) {
			// What sm.GetInt64 does, keeping the found flag.
			v, ok := sm.Get(r.Context(), key).(int64)
			return v, ok, nil
		},
		set: func(_ http.ResponseWriter, r *http.Request, key string, v int64) error {
			sm.Put(r.Context(), key, v)
			return nil
		},
		seed: func(_ http.ResponseWriter, r *http.Request) error {
			ctx := r.Context()
			sm.Put(ctx, "n", int64(seedN))
			sm.Put(ctx, "k", int64(seedK))
			return nil
		},
	}
}

// gorillaCookieName is the name of gorilla's session (and cookie).
const gorillaCookieName = "gsess"

// gorillaLib wires a gorilla/sessions CookieStore authenticated by one
// 32-byte HMAC key (its usual setup; no encryption key). gorilla has no
// middleware: the handler calls store.Get and Session.Save itself.
func gorillaLib() lib {
	st := sessions.NewCookieStore(bytes.Repeat([]byte("k"), 32))
	return lib{
		name: "gorilla",
		wrap: func(h http.Handler) http.Handler { return h },
		get: func(r *http.Request, key string) (int64, bool, error) {
			s, err := st.Get(r, gorillaCookieName)
			if err != nil {
				return 0, false, err
			}
			if s.IsNew {
				return 0, false, errNoSession
			}
			v, ok := s.Values[key].(int64)
			return v, ok, nil
		},
		set: func(w http.ResponseWriter, r *http.Request, key string, v int64) error {
			s, err := st.Get(r, gorillaCookieName)
			if err != nil {
				return err
			}
			if s.IsNew {
				return errNoSession
			}
			s.Values[key] = v
			return s.Save(r, w)
		},
		seed: func(w http.ResponseWriter, r *http.Request) error {
			s, err := st.Get(r, gorillaCookieName)
			if err != nil {
				return err
			}
			s.Values["n"] = int64(seedN)
			s.Values["k"] = int64(seedK)
			return s.Save(r, w)
		},
	}
}

// background is the context of setup work outside requests.
var background = context.Background()
