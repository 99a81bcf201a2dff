// Package deploy shows that a typed session survives a rolling deploy:
// two builds of one app, whose session struct differs, serve alternating
// requests for the same sessions against one shared engine (Redis with
// redisbus, PostgreSQL with pgbus), each process with its own cache.
//
// The builds are the programs under testdata: v1 and v2, each a package
// main with its struct AppSession in appsession.go, its handlers in
// main.go and the files sessiongen generated beside them (the accessors,
// appsession_session.go, and the schema record,
// appsession_session.schema.json), over the code both share
// (testdata/app: flags, engine, bus, server, error reports). The test
// first checks that the generated files are fresh (sessiongen -check).
// After changing a struct, regenerate from the module directory
// (runtime/internal/nodetest/servers) and commit what it writes:
//
//	go run github.com/sessiongen/sessiongen/cmd/sessiongen -type=AppSession ./deploy/testdata/v1
//	go run github.com/sessiongen/sessiongen/cmd/sessiongen -type=AppSession ./deploy/testdata/v2
//
// Against v1, v2
//
//   - renames Name (key "name") to DisplayName under the key "display",
//     with the tag option was=name;
//   - retypes Score from int32 to string (same key, "score");
//   - drops Legacy (key "legacy");
//   - adds Added (key "added").
//
// Both keep Visits, which every request of both builds increments with
// AddVisits before anything else.
//
// TestRollingDeploy builds both programs once, starts one process of
// each on a fresh key prefix or pair of tables, and drives 20 sessions
// through 10 rounds of a v1 request followed by a v2 request (sequential
// per session, the sessions concurrently), with writes from both builds:
// setters, and Load followed by Save. A model of what the engine holds
// predicts every reply: each field's value and ok flag as the answering
// build reads it, and the session's keys as the runtime lists them. It
// shows that
//
//   - every request succeeds (status 200), also those that meet a value
//     their build cannot decode;
//   - Visits equals the number of requests made for the session: no
//     increment is lost across the builds (AddVisits is a compare-and-set
//     at the engine, whatever each process has cached);
//   - v2 reads as DisplayName the Name v1 wrote, until v2 first writes
//     DisplayName; that write stores "display" and removes "name" in the
//     same change, so v1 then reads no Name, and a Name v1 writes again
//     afterwards does not hide v2's DisplayName;
//   - Legacy written by v1 is still there for v1 after v2's writes, its
//     Save included: a build never drops the keys it does not know. The
//     same holds for Added, written by v2, across v1's writes and Save;
//   - Score is the one field lost: each build reads the other's value as
//     absent (ok false, the request still succeeds) until it writes its
//     own, and each process reports the undecodable key once (through
//     session.WithErrorReporter: one line on its stderr), not once per
//     request or session.
//
// The replies can be checked exactly without waiting for the bus: a
// request's first call, AddVisits, is a compare-and-set of a key that
// every request changes. A process whose cached copy missed the other
// build's last request (its change message not applied yet, which the
// runtime allows within its staleness bound) therefore conflicts at the
// engine, reads the session again and only then increments; everything
// the request reads afterwards is the engine's current state.
//
// Under the race detector (go test -race) the builds are built with
// -race as well, and a race either process reports fails the test.
//
// The test needs SESSIONGEN_REDIS_ADDR and SESSIONGEN_POSTGRES_DSN (each
// subtest is skipped, naming the variable, when its variable is unset).
// The package holds tests only.
package deploy
