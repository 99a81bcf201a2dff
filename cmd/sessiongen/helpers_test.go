package main

import (
	"bytes"
	"errors"
	"flag"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"golang.org/x/tools/txtar"
)

var update = flag.Bool("update", false, "rewrite the expectations (want.go, want.err) of the generator scenarios")

// moduleRoot returns the root of the repository: the runtime module, whose
// go.mod and go.sum the scenario modules start from.
func moduleRoot(t *testing.T) string {
	t.Helper()
	_, file, _, ok := runtime.Caller(0)
	require.True(t, ok)
	root, err := filepath.Abs(filepath.Join(filepath.Dir(file), "..", ".."))
	require.NoError(t, err)
	require.FileExists(t, filepath.Join(root, "go.mod"))
	return root
}

// scenarioDir is where the generator scenarios live.
func scenarioDir(t *testing.T) string {
	return filepath.Join(moduleRoot(t), "testdata", "sessiongen")
}

// newModule writes files into a fresh module, example.com/scn, whose
// go.mod requires everything the main module requires and replaces the
// main module with the working tree, and whose go.sum is the main
// module's: no network is needed.
func newModule(t *testing.T, files map[string][]byte) string {
	t.Helper()
	root := moduleRoot(t)
	gomod, err := os.ReadFile(filepath.Join(root, "go.mod"))
	require.NoError(t, err)
	lines := strings.SplitN(string(gomod), "\n", 2)
	require.True(t, strings.HasPrefix(lines[0], "module "), "go.mod starts with its module line")
	mod := "module example.com/scn\n" + lines[1] +
		"\nrequire github.com/sessiongen/sessiongen v0.0.0-00010101000000-000000000000\n" +
		"\nreplace github.com/sessiongen/sessiongen => " + root + "\n"
	gosum, err := os.ReadFile(filepath.Join(root, "go.sum"))
	require.NoError(t, err)
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "go.mod"), []byte(mod), 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "go.sum"), gosum, 0o644))
	for name, data := range files {
		p := filepath.Join(dir, filepath.FromSlash(name))
		require.NoError(t, os.MkdirAll(filepath.Dir(p), 0o755))
		require.NoError(t, os.WriteFile(p, data, 0o644))
	}
	return dir
}

// scenario is a parsed txtar scenario: the input package, the run's
// options and the expectation.
type scenario struct {
	path    string
	archive *txtar.Archive
	// files are the package's files (everything but want.*).
	files map[string][]byte
	// types, budget and output come from the archive's comment lines
	// "types: A,B", "budget: N", "output: name.go".
	types  []string
	budget int
	output string
	// accept comes from the line "accept: key,key" (-accept).
	accept []string
	// wantGo or wantErr is the expectation (the other is nil).
	wantGo, wantErr []byte
	// wantReport is the report of changes against the schema record
	// (an input file <output stem>.schema.json) printed by a run that
	// succeeds: none when it is nil. wantSchema, when not nil, is the
	// schema record the run writes.
	wantReport, wantSchema []byte
}

// loadScenario reads a txtar scenario.
func loadScenario(t *testing.T, path string) *scenario {
	t.Helper()
	ar, err := txtar.ParseFile(path)
	require.NoError(t, err)
	sc := &scenario{path: path, archive: ar, files: map[string][]byte{}, budget: 1024}
	for line := range strings.SplitSeq(string(ar.Comment), "\n") {
		k, v, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		v = strings.TrimSpace(v)
		switch strings.TrimSpace(k) {
		case "types":
			sc.types = strings.Split(v, ",")
		case "budget":
			sc.budget, err = strconv.Atoi(v)
			require.NoError(t, err, "budget line of %s", path)
		case "output":
			sc.output = v
		case "accept":
			sc.accept = strings.Split(v, ",")
		}
	}
	require.NotEmpty(t, sc.types, "%s: the comment needs a line `types: Name`", path)
	for _, f := range ar.Files {
		switch f.Name {
		case "want.go":
			sc.wantGo = f.Data
		case "want.err":
			sc.wantErr = f.Data
		case "want.report":
			sc.wantReport = f.Data
		case "want.schema.json":
			sc.wantSchema = f.Data
		default:
			sc.files[f.Name] = f.Data
		}
	}
	require.True(t, (sc.wantGo == nil) != (sc.wantErr == nil), "%s: want exactly one of want.go and want.err", path)
	return sc
}

// options returns the generator options for the scenario's package in dir.
func (sc *scenario) options(dir string) options {
	o := options{Target: dir, Types: sc.types, Budget: sc.budget, Accept: sc.accept}
	if sc.output != "" {
		o.Output = filepath.Join(dir, sc.output)
	}
	return o
}

// rewrite replaces the want file name of the scenario with data (with
// -update): want.go and want.err replace each other; another want file is
// added when missing.
func (sc *scenario) rewrite(t *testing.T, name string, data []byte) {
	t.Helper()
	main := func(n string) bool { return n == "want.go" || n == "want.err" }
	done := false
	for i, f := range sc.archive.Files {
		if f.Name == name || main(name) && main(f.Name) {
			sc.archive.Files[i] = txtar.File{Name: name, Data: data}
			done = true
		}
	}
	if !done {
		sc.archive.Files = append(sc.archive.Files, txtar.File{Name: name, Data: data})
	}
	require.NoError(t, os.WriteFile(sc.path, txtar.Format(sc.archive), 0o644))
}

// errorText renders a generate error as a user sees it, with paths
// relative to the scenario's directory dir.
func errorText(err error, dir string) string {
	var list interface{ Format(base string) string }
	if errors.As(err, &list) {
		return list.Format(dir) + "\n"
	}
	return strings.ReplaceAll(err.Error(), dir, "$DIR") + "\n"
}

// goCmd runs the go command in dir and returns its combined output and
// error.
func goCmd(t *testing.T, dir string, args ...string) (string, error) {
	t.Helper()
	cmd := exec.Command("go", args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GOFLAGS=-mod=mod", "GOPROXY=off", "GOWORK=off")
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	return out.String(), err
}

// runTool runs the command in-process, as from a shell, and returns the
// exit code, standard output and standard error.
func runTool(args ...string) (int, string, string) {
	var stdout, stderr bytes.Buffer
	code := run(args, &stdout, &stderr)
	return code, stdout.String(), stderr.String()
}
