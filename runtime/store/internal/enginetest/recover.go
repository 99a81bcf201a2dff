package enginetest

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path"
	"reflect"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	session "github.com/sessiongen/sessiongen/runtime"
	"github.com/sessiongen/sessiongen/runtime/store"
)

// UserRecovers shows, on a real engine s, that a user whose session
// record was damaged in the engine is not locked out: plant damages the
// record stored under the given engine key (the engine's own test knows
// how), and then, on a manager with a cold cache, each of these works
// without a 500: reading (the client is told to forget its ID and gets
// a fresh session on its next write), signing out (Destroy removes the
// record), and signing in (Renew, then a write). The damage is reported
// in the log once, in one line naming the engine (its package, as in
// "redisstore") and the key's hash, never the session ID.
func UserRecovers(t *testing.T, s store.Store, plant func(t *testing.T, key string)) {
	t.Helper()
	engine := path.Base(reflect.TypeOf(s).Elem().PkgPath())
	for _, step := range []string{"read", "logout", "login"} {
		t.Run(step, func(t *testing.T) {
			var log bytes.Buffer
			create := recoverManager(t, s, nil)
			ck := recoverDo(t, create, "/set", nil, http.StatusOK)
			require.NotNil(t, ck, "a new session sends a cookie")
			key := store.Key(ck.Value)
			plant(t, key)
			// A damage the engine reads as an expired record (an expiry
			// of -infinity, say) is no session, not a corruption: it is
			// not reported.
			_, lerr := s.Load(context.Background(), key)
			corrupt := errors.Is(lerr, store.ErrCorrupt)

			m := recoverManager(t, s, &log) // a cold cache: the engine is read
			got := recoverDo(t, m, "/"+step, ck, http.StatusOK)
			switch step {
			case "read", "logout":
				require.NotNil(t, got, "the client is told to forget its ID")
				assert.Equal(t, -1, got.MaxAge, "the cookie is cleared")
			case "login":
				require.NotNil(t, got, "a fresh session is sent")
				assert.NotEqual(t, ck.Value, got.Value, "a new ID")
				rec, err := s.Load(context.Background(), store.Key(got.Value))
				require.NoError(t, err, "the fresh session is in the engine")
				assert.Contains(t, rec.Fields, "uid")
			}
			if _, err := s.Load(context.Background(), key); !errors.Is(err, store.ErrNotFound) {
				t.Errorf("the damaged record is still there after %s: %v", step, err)
			}
			assert.NotContains(t, log.String(), ck.Value, "the session ID was logged")
			var reports []string
			for _, line := range strings.Split(log.String(), "\n") {
				if strings.Contains(line, "corrupt") {
					reports = append(reports, line)
				}
			}
			if !corrupt {
				assert.Empty(t, reports, "a record read as expired is not reported as damaged")
			} else if assert.Len(t, reports, 1, "the damage is reported once:\n%s", log.String()) {
				assert.Contains(t, reports[0], key, "the report names the hashed key")
				assert.Contains(t, reports[0], engine, "the report names the engine")
			}
		})
	}
}

// recoverManager returns a manager on s serving the routes of
// UserRecovers, logging to log when it is not nil.
func recoverManager(t *testing.T, s store.Store, log *bytes.Buffer) http.Handler {
	t.Helper()
	opts := []session.Option{session.WithStore(s)}
	if log != nil {
		opts = append(opts, session.WithLogger(slog.New(slog.NewTextHandler(log, nil))))
	}
	m, err := session.New(opts...)
	require.NoError(t, err)
	t.Cleanup(func() { _ = m.Close() })
	mux := http.NewServeMux()
	mux.HandleFunc("/set", func(w http.ResponseWriter, r *http.Request) {
		if err := session.FromContext(r.Context()).Set(r.Context(), "uid", 42); err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
		}
	})
	mux.HandleFunc("/read", func(w http.ResponseWriter, r *http.Request) {
		if _, _, err := session.Value[int](session.FromContext(r.Context()), "uid"); err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
		}
	})
	mux.HandleFunc("/logout", func(w http.ResponseWriter, r *http.Request) {
		if err := session.FromContext(r.Context()).Destroy(r.Context()); err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
		}
	})
	mux.HandleFunc("/login", func(w http.ResponseWriter, r *http.Request) {
		s := session.FromContext(r.Context())
		if err := s.Renew(r.Context()); err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		if err := s.Set(r.Context(), "uid", 7); err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
		}
	})
	return m.Handler(mux)
}

// recoverDo sends one request to path with cookie (nil: none), requires
// status want and returns the "sid" cookie the response sets, or nil.
func recoverDo(t *testing.T, h http.Handler, path string, cookie *http.Cookie, want int) *http.Cookie {
	t.Helper()
	req := httptest.NewRequest(http.MethodPost, path, nil)
	if cookie != nil {
		req.AddCookie(cookie)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	require.Equal(t, want, rec.Code, "%s: %s", path, rec.Body.String())
	for _, c := range rec.Result().Cookies() {
		if c.Name == "sid" {
			return c
		}
	}
	return nil
}
