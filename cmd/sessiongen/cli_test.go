package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestHelp: -h documents every flag and the tag grammar, and exits 0.
func TestHelp(t *testing.T) {
	code, _, stderr := runTool("-h")
	assert.Equal(t, 0, code)
	for _, want := range []string{
		"-type", "-output", "-check", "-budget", "-accept", "(default 1024)",
		`session:"key"`, `session:"newkey,was=oldkey"`, `session:"key,flash"`, ".schema.json", `session:"key,max=N"`, `session:"key,max=N,elem=M"`, `session:"key,max=N,keymax=K"`, `session:"key,index"`, `session:"-"`, "TOptions()",
		`session:",max=N"`, "//go:generate",
	} {
		assert.Contains(t, stderr, want)
	}
}

// TestUsageErrors: misuse of the command line exits non-zero with a message.
func TestUsageErrors(t *testing.T) {
	for _, c := range []struct {
		args []string
		code int
		want string
	}{
		{nil, 1, "-type is required"},
		{[]string{"-type=,"}, 1, "-type names no type"},
		{[]string{"-type=T", "a", "b"}, 1, "at most one directory or package argument, got 2"},
		{[]string{"-type=T", "-budget=0", "."}, 1, "-budget must be positive"},
		{[]string{"-nope"}, 2, "flag provided but not defined: -nope"},
		{[]string{"-type=T", "./does/not/exist"}, 1, "./does/not/exist: no such directory"},
	} {
		code, _, stderr := runTool(c.args...)
		assert.Equal(t, c.code, code, "%q", c.args)
		assert.Contains(t, stderr, c.want, "%q", c.args)
	}
}

// smallInput's generate line is spliced so that `go generate ./...` on this
// repository does not take it for one of its own.
const smallInput = `package scn

//go:` + `generate sessiongen -type=UserSession

// UserSession is the signed-in user.
type UserSession struct {
	UserID int64  ` + "`session:\"uid\"`" + `
	Name   string ` + "`session:\"name,max=64\"`" + `
}
`

// TestCheck: -check passes on a fresh file, and fails naming the file when
// it is stale or missing, writing nothing.
func TestCheck(t *testing.T) {
	dir := newModule(t, map[string][]byte{"user.go": []byte(smallInput)})
	out := filepath.Join(dir, "usersession_session.go")

	code, _, stderr := runTool("-check", "-type=UserSession", dir)
	assert.Equal(t, 1, code)
	assert.Contains(t, stderr, "usersession_session.go is missing")
	assert.NoFileExists(t, out, "-check writes nothing")

	code, _, stderr = runTool("-type=UserSession", dir)
	require.Equal(t, 0, code, stderr)
	require.FileExists(t, out)

	// Flags after the directory, as .ci/run writes them.
	code, stdout, stderr := runTool("-check", dir, "-type=UserSession")
	assert.Equal(t, 0, code, stderr)
	assert.Empty(t, stdout+stderr)

	src, err := os.ReadFile(out)
	require.NoError(t, err)
	edited := strings.Replace(string(src), `"name"`, `"nom"`, 1)
	require.NotEqual(t, string(src), edited)
	require.NoError(t, os.WriteFile(out, []byte(edited), 0o644))
	code, _, stderr = runTool("-check", "-type=UserSession", dir)
	assert.Equal(t, 1, code)
	assert.Contains(t, stderr, "usersession_session.go is stale (first difference at line")
	after, err := os.ReadFile(out)
	require.NoError(t, err)
	assert.Equal(t, edited, string(after), "-check leaves the file alone")

	// A different budget is a different file.
	code, _, stderr = runTool("-type=UserSession", dir)
	require.Equal(t, 0, code, stderr)
	code, _, stderr = runTool("-check", "-budget=512", "-type=UserSession", dir)
	assert.Equal(t, 1, code)
	assert.Contains(t, stderr, "is stale")
}

// TestCheckSchemaRecord: the first run writes the schema record silently
// (the baseline); -check fails when the record is missing or stale; a
// breaking change fails generation and -check, writing nothing, until it
// is accepted; the run that accepts it writes the new baseline.
func TestCheckSchemaRecord(t *testing.T) {
	dir := newModule(t, map[string][]byte{"user.go": []byte(smallInput)})
	record := filepath.Join(dir, "usersession_session.schema.json")
	code, stdout, stderr := runTool("-type=UserSession", dir)
	require.Equal(t, 0, code, stderr)
	assert.Empty(t, stdout+stderr, "no record yet: the baseline is written silently")
	baseline, err := os.ReadFile(record)
	require.NoError(t, err)
	assert.Contains(t, string(baseline), `{"key":"uid","field":"UserID","type":"int64","wire":{"kind":"int","bits":64}}`)

	require.NoError(t, os.Remove(record))
	code, _, stderr = runTool("-check", "-type=UserSession", dir)
	assert.Equal(t, 1, code)
	assert.Contains(t, stderr, "usersession_session.schema.json is missing: run go generate")
	assert.NoFileExists(t, record, "-check writes nothing")
	require.NoError(t, os.WriteFile(record, baseline[:len(baseline)-2], 0o644))
	code, _, stderr = runTool("-check", "-type=UserSession", dir)
	assert.Equal(t, 1, code)
	assert.Contains(t, stderr, "usersession_session.schema.json: unexpected EOF", "a truncated record is reported, not taken for none")
	require.NoError(t, os.WriteFile(record, baseline, 0o644))
	code, _, stderr = runTool("-check", "-type=UserSession", dir)
	require.Equal(t, 0, code, stderr)

	src := filepath.Join(dir, "user.go")
	gen := filepath.Join(dir, "usersession_session.go")
	before, err := os.ReadFile(gen)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(src, []byte(strings.Replace(smallInput, "UserID int64  `session:\"uid\"`", "UserID string `session:\"uid,max=20\"`", 1)), 0o644))
	for _, args := range [][]string{{"-check"}, {}} {
		code, _, stderr = runTool(append(args, "-type=UserSession", dir)...)
		assert.Equal(t, 1, code, "%q", args)
		assert.Contains(t, stderr, `user.go:7:2: breaking: key "uid" (field UserID): retyped from int64 to string`, "%q", args)
		assert.Contains(t, stderr, "-accept=uid", "%q", args)
	}
	after, err := os.ReadFile(gen)
	require.NoError(t, err)
	assert.Equal(t, string(before), string(after), "a refused change writes nothing")
	kept, err := os.ReadFile(record)
	require.NoError(t, err)
	assert.Equal(t, string(baseline), string(kept))

	code, _, stderr = runTool("-type=UserSession", "-accept=uid", dir)
	require.Equal(t, 0, code, stderr)
	assert.Contains(t, stderr, "(accepted by -accept=uid)")
	code, stdout, stderr = runTool("-check", "-type=UserSession", dir)
	require.Equal(t, 0, code, stderr)
	assert.Empty(t, stdout+stderr, "the record now holds the change")
	code, _, stderr = runTool("-type=UserSession", "-accept=uid", dir)
	require.Equal(t, 0, code, stderr)
	assert.Contains(t, stderr, `-accept=uid: no breaking or lossy change of key "uid" to accept; remove it`)
}

// TestOutputFlag writes where -output says, and refuses another directory.
func TestOutputFlag(t *testing.T) {
	dir := newModule(t, map[string][]byte{"user.go": []byte(smallInput)})
	code, _, stderr := runTool("-type=UserSession", "-output="+filepath.Join(dir, "gen_session.go"), dir)
	require.Equal(t, 0, code, stderr)
	assert.FileExists(t, filepath.Join(dir, "gen_session.go"))
	assert.NoFileExists(t, filepath.Join(dir, "usersession_session.go"))
	// Regenerating over an existing (even stale) output file works: its
	// declarations do not count as collisions.
	code, _, stderr = runTool("-type=UserSession", "-output="+filepath.Join(dir, "gen_session.go"), dir)
	require.Equal(t, 0, code, stderr)

	code, _, stderr = runTool("-type=UserSession", "-output="+filepath.Join(t.TempDir(), "x.go"), dir)
	assert.Equal(t, 1, code)
	assert.Contains(t, stderr, "the file must be in the package directory")
}

// TestGoGeneratePosition: under go generate (no directory argument, GOFILE
// and GOLINE set) a problem without a place in the code is reported at
// the line of the generate directive, relative to the current directory.
func TestGoGeneratePosition(t *testing.T) {
	dir := newModule(t, map[string][]byte{"user.go": []byte(smallInput)})
	t.Chdir(dir)
	t.Setenv("GOFILE", "user.go")
	t.Setenv("GOLINE", "3")
	t.Setenv("GOPACKAGE", "scn")
	code, _, stderr := runTool("-type=Nope")
	assert.Equal(t, 1, code)
	assert.Equal(t, "user.go:3:1: type Nope not found in package scn (example.com/scn)\n", stderr)

	t.Setenv("GOPACKAGE", "scn_test")
	code, _, stderr = runTool("-type=UserSession")
	assert.Equal(t, 1, code)
	assert.Contains(t, stderr, "go:generate runs in package scn_test, but the package in")
}

// TestGoRunAndGoGenerate runs the tool for real: with go run from the main
// generator's module, and from go generate with a built binary on PATH.
func TestGoRunAndGoGenerate(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the command; skipped with -short")
	}
	gen := filepath.Join(moduleRoot(t), "cmd", "sessiongen") // the generator's own module
	dir := newModule(t, map[string][]byte{"user.go": []byte(smallInput)})
	out, err := goCmd(t, gen, "run", ".", "-type=UserSession", dir)
	require.NoError(t, err, out)
	generated, err := os.ReadFile(filepath.Join(dir, "usersession_session.go"))
	require.NoError(t, err)
	assert.True(t, strings.HasPrefix(string(generated), "// Code generated by sessiongen. DO NOT EDIT.\n"))
	out, err = goCmd(t, gen, "run", ".", "-check", dir, "-type=UserSession")
	require.NoError(t, err, out)

	bin := t.TempDir()
	out, err = goCmd(t, gen, "build", "-o", filepath.Join(bin, "sessiongen"), ".")
	require.NoError(t, err, out)
	require.NoError(t, os.Remove(filepath.Join(dir, "usersession_session.go")))
	t.Setenv("PATH", bin+string(os.PathListSeparator)+os.Getenv("PATH"))
	out, err = goCmd(t, dir, "generate", "./...")
	require.NoError(t, err, out)
	again, err := os.ReadFile(filepath.Join(dir, "usersession_session.go"))
	require.NoError(t, err)
	assert.Equal(t, string(generated), string(again), "go generate writes what go run wrote")
	out, err = goCmd(t, dir, "build", "./...")
	require.NoError(t, err, out)
}

// TestRefusesForeignFile: a file at the output path that sessiongen did not
// write is neither replaced nor ignored.
func TestRefusesForeignFile(t *testing.T) {
	mine := "package scn\n\n// Hand-written.\nvar handWritten = 1\n"
	dir := newModule(t, map[string][]byte{"user.go": []byte(smallInput), "usersession_session.go": []byte(mine)})
	code, _, stderr := runTool("-type=UserSession", dir)
	assert.Equal(t, 1, code)
	assert.Contains(t, stderr, "usersession_session.go exists and was not generated by sessiongen")
	got, err := os.ReadFile(filepath.Join(dir, "usersession_session.go"))
	require.NoError(t, err)
	assert.Equal(t, mine, string(got))
}
