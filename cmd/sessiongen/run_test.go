package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestGeneratedCodeRuns generates the accessors of the all_types scenario
// and runs its typed_test.go against the real runtime (session.Manager,
// Handler, memstore): round trips against untyped session.Value for every
// type, range checks, bound refusals, Save as one engine call, the exact
// worst-case size, allocation-free getters and hostile stored bytes.
func TestGeneratedCodeRuns(t *testing.T) {
	runScenarioTests(t, "all_types.txtar", "typed_test.go",
		"TestEveryFieldRoundTrips", "TestSaveIsOneEngineCall", "TestSaveIsAllOrNothing", "TestWorstCase",
		"TestNarrowIntegersAreRangeChecked", "TestBoundsAreRefused", "TestGetterAllocatesNothing",
		"TestHostileBytesAreRefused", "TestWrongTypeIsReported")
}

// runScenarioTests generates the accessors of the scenario file name,
// whose test file testFile runs against the real runtime, runs go test on
// the generated package, and requires each of the tests named to have
// run and passed. It is skipped with -short.
func runScenarioTests(t *testing.T, name, testFile string, tests ...string) {
	t.Helper()
	if testing.Short() {
		t.Skip("builds and tests a generated package; skipped with -short")
	}
	sc := loadScenario(t, filepath.Join(scenarioDir(t), name))
	require.Contains(t, sc.files, testFile)
	dir := newModule(t, sc.files)
	res, err := generate(sc.options(dir))
	require.NoError(t, err, "%s", errorTextOrEmpty(err, dir))
	require.NoError(t, writeFile(res))
	out, err := goCmd(t, dir, "test", "-count=1", "-v", "./...")
	require.NoError(t, err, "go test of the generated package:\n%s", out)
	for _, test := range tests {
		assert.Contains(t, out, "--- PASS: "+test+" ", "the generated package's test %s ran and passed", test)
	}
	assert.NotContains(t, out, "--- FAIL")
}

// staleInput is a small session struct for the stale-file tests.
const staleInput = `package scn

import "time"

// UserSession is the signed-in user.
type UserSession struct {
	UserID int64     ` + "`session:\"uid\"`" + `
	Name   string    ` + "`session:\"name,max=64\"`" + `
	Seen   time.Time ` + "`session:\"seen\"`" + `
	Note   string
}
`

// TestStaleFileBreaksBuild changes the struct after generating: adding,
// retyping or removing a field, or changing a tag (a key, a bound),
// without regenerating must break go build, and -check must report the
// file.
func TestStaleFileBreaksBuild(t *testing.T) {
	if testing.Short() {
		t.Skip("builds generated packages; skipped with -short")
	}
	// check is what -check says first; accept, what the regeneration
	// must accept (the schema check refuses the change otherwise).
	for _, c := range []struct {
		name, old, new, want, check, accept string
	}{
		{"add untagged field", "\tNote   string\n", "\tNote   string\n\tExtra  int\n", "cannot use", "usersession_session.go is stale", ""},
		{"add tagged field", "\tNote   string\n", "\tNote   string\n\tExtra  int `session:\"extra\"`\n", "cannot use", "safe: key \"extra\" (field Extra): new key", ""},
		{"retype field", "Name   string ", "Name   []byte ", "cannot use", "breaking: key \"name\" (field Name): retyped from string to []byte", "name"},
		{"reorder fields", "\tUserID int64     `session:\"uid\"`\n\tName   string    `session:\"name,max=64\"`\n",
			"\tName   string    `session:\"name,max=64\"`\n\tUserID int64     `session:\"uid\"`\n", "cannot use", "usersession_session.go is stale", ""},
		{"remove field", "\tNote   string\n", "", "cannot use", "usersession_session.go is stale", ""},
		{"change a key", "`session:\"uid\"`", "`session:\"user\"`", "cannot use", "lossy: key \"uid\" (field UserID, int64) is gone", "uid"},
		{"narrow a bound", "max=64", "max=32", "cannot use", "breaking: key \"name\" (field Name): bound narrowed from 64 to 32", "name"},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			dir := newModule(t, map[string][]byte{"user.go": []byte(staleInput)})
			res, err := generate(options{Target: dir, Types: []string{"UserSession"}, Budget: 1024})
			require.NoError(t, err)
			require.NoError(t, writeFile(res))
			out, err := goCmd(t, dir, "build", "./...")
			require.NoError(t, err, "the fresh file builds:\n%s", out)

			require.Contains(t, staleInput, c.old)
			changed := strings.Replace(staleInput, c.old, c.new, 1)
			require.NoError(t, os.WriteFile(filepath.Join(dir, "user.go"), []byte(changed), 0o644))
			out, err = goCmd(t, dir, "build", "./...")
			require.Error(t, err, "go build must fail with a stale generated file")
			assert.Contains(t, out, "usersession_session.go")
			assert.Contains(t, out, c.want)

			code, _, stderr := runTool("-check", "-type=UserSession", dir)
			assert.Equal(t, 1, code)
			assert.Contains(t, stderr, c.check)

			code, _, stderr = runTool("-type=UserSession", "-accept="+c.accept, dir)
			require.Equal(t, 0, code, stderr)
			code, _, stderr = runTool("-check", "-type=UserSession", dir)
			require.Equal(t, 0, code, "fresh after the regeneration: %s", stderr)
			out, err = goCmd(t, dir, "build", "./...")
			require.NoError(t, err, "the regenerated file builds:\n%s", out)
		})
	}
}

// TestGenerateBeforeUse generates for a package whose other files already
// use the accessors that do not exist yet (a first run, or a field added
// and used before regenerating): the type errors this causes do not stop
// the generator, and the package then builds.
func TestGenerateBeforeUse(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a generated package; skipped with -short")
	}
	use := `package scn

import "context"

// Rename sets the user's name.
func Rename(ctx context.Context, name string) error {
	v := UserSessionFrom(ctx)
	if old, ok := v.Name(); ok && old == name {
		return nil
	}
	return v.SetName(ctx, name)
}
`
	dir := newModule(t, map[string][]byte{"user.go": []byte(staleInput), "use.go": []byte(use)})
	out, err := goCmd(t, dir, "build", "./...")
	require.Error(t, err, "the package does not build before generating")
	assert.Contains(t, out, "undefined: UserSessionFrom")
	code, _, stderr := runTool("-type=UserSession", dir)
	require.Equal(t, 0, code, stderr)
	out, err = goCmd(t, dir, "build", "./...")
	require.NoError(t, err, out)
}

// TestOwnerIndexRuns generates the owner_index scenario and runs its
// owner_test.go against the real runtime: the generated Options make the
// manager index sessions by the index field, so Sessions and RevokeAll
// find them; a struct without an index implies no owner key.
func TestOwnerIndexRuns(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and tests a generated package; skipped with -short")
	}
	sc := loadScenario(t, filepath.Join(scenarioDir(t), "owner_index.txtar"))
	require.Contains(t, sc.files, "owner_test.go")
	dir := newModule(t, sc.files)
	res, err := generate(sc.options(dir))
	require.NoError(t, err, "%s", errorTextOrEmpty(err, dir))
	require.NoError(t, writeFile(res))
	out, err := goCmd(t, dir, "test", "-count=1", "-v", "./...")
	require.NoError(t, err, "go test of the generated package:\n%s", out)
	for _, name := range []string{"TestOptionsIndexTheOwner", "TestNoIndexNoOwnerKey"} {
		assert.Contains(t, out, "--- PASS: "+name+" ", "the generated package's test %s ran and passed", name)
	}
	assert.NotContains(t, out, "--- FAIL")
}

// TestProvenSizeRuns generates the proven_size scenario (-budget=2048, a
// struct whose worst case is over the default 1024 bytes) and runs its
// size_test.go against the real runtime: session.New(TOptions()...)
// accepts a Save of a maximal value and limits the session to the budget
// exactly, the default limit refuses that Save, and a lower limit given
// after TOptions makes New fail, naming both numbers.
func TestProvenSizeRuns(t *testing.T) {
	runScenarioTests(t, "proven_size.txtar", "size_test.go",
		"TestWorstCaseIsOverTheDefault", "TestOptionsAcceptAMaximalSave", "TestOptionsSetTheBudget",
		"TestDefaultLimitRefusesTheSave", "TestLowerLimitIsRefused")
}
