// Package bench measures sessiongen side by side with
// github.com/alexedwards/scs/v2 and github.com/gorilla/sessions.
//
// It is a separate module (its own go.mod) so the main module does not
// depend on the libraries it is compared with. Everything lives in the
// _test.go files; run it with
//
//	cd bench && go test -run . -bench . -benchmem
//
// Each benchmark serves one request per iteration through the same
// harness: a fresh httptest.ResponseRecorder and a shallow copy of a
// request built once, carrying the cookie of a session that already
// exists and holds the int64 value 42 under "n". The Redis and
// PostgreSQL benchmarks need SESSIONGEN_REDIS_ADDR and
// SESSIONGEN_POSTGRES_DSN; without them they are skipped. The
// cmd/benchtable program turns the output into the tables of README.md.
package bench
