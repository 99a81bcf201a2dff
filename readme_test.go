// Package sessiongen_test holds the repository's own tests: that the Go
// code README.md shows compiles, generated code included. It lives at the
// root, beside README.md and go.sum, which it reads, so that
// `go test ./...` (README's test command, and CI) runs it; it has no
// non-test files and adds nothing to the module's API.
package sessiongen_test

import (
	"bufio"
	"bytes"
	"fmt"
	"go/format"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// fragmentMarker, on the last non-blank line before a ```go block, marks
// the block as a fragment (a line or two quoted in prose) that is not
// compiled. Every other ```go block must be a complete file.
const fragmentMarker = "<!-- snippet: fragment -->"

// goBlock is one ```go block of README.md.
type goBlock struct {
	line     int    // line of the opening fence
	src      string // the block's content
	fragment bool   // marked with fragmentMarker
}

// readmeBlocks returns the ```go blocks of the markdown file at path.
func readmeBlocks(t *testing.T, path string) []goBlock {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var (
		blocks   []goBlock
		cur      *goBlock
		body     strings.Builder
		lastText string // the last non-blank line outside a block
		fenced   bool   // inside a block of another language
	)
	sc := bufio.NewScanner(bytes.NewReader(data))
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		fence := strings.TrimRight(line, " \t")
		switch {
		case cur != nil && fence == "```":
			cur.src = body.String()
			blocks = append(blocks, *cur)
			cur, lastText = nil, ""
			body.Reset()
		case cur != nil:
			body.WriteString(line)
			body.WriteByte('\n')
		case fenced:
			if fence == "```" {
				fenced, lastText = false, ""
			}
		case fence == "```go":
			cur = &goBlock{line: n, fragment: lastText == fragmentMarker}
		case strings.HasPrefix(fence, "```"):
			fenced = true
		case strings.TrimSpace(line) != "":
			lastText = strings.TrimSpace(line)
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	if cur != nil {
		t.Fatalf("README.md:%d: the ```go block is not closed", cur.line)
	}
	return blocks
}

// TestReadmeGoBlocks checks every ```go block of README.md: each is either
// marked as a fragment or a complete, gofmt-formatted file, and (except
// with -short) the complete files compile and pass go vet, each as a
// package of a scratch module that requires this repository's working
// tree. Blocks with a //go:generate line go through go generate first,
// which runs the generator the way README's Install section sets it up
// (go tool sessiongen, from a tool directive), so the generated code is
// compiled too.
func TestReadmeGoBlocks(t *testing.T) {
	blocks := readmeBlocks(t, "README.md")
	var files []goBlock
	generates := 0
	for _, b := range blocks {
		if b.fragment {
			continue
		}
		if !strings.HasPrefix(b.src, "package ") {
			t.Errorf("README.md:%d: a ```go block must be a complete file (starting with its package clause) or be marked as a fragment by %s on the line before", b.line, fragmentMarker)
			continue
		}
		formatted, err := format.Source([]byte(b.src))
		if err != nil {
			t.Errorf("README.md:%d: the block does not parse: %v", b.line, err)
			continue
		}
		if string(formatted) != b.src {
			t.Errorf("README.md:%d: the block is not gofmt-formatted; gofmt writes:\n%s", b.line, formatted)
		}
		if strings.Contains(b.src, "\n//go:generate ") {
			generates++
		}
		files = append(files, b)
	}
	if len(files) == 0 || generates == 0 {
		t.Fatalf("README.md has %d complete Go files, %d with a //go:generate line: the quick starts are expected among them", len(files), generates)
	}
	if t.Failed() {
		return
	}
	if testing.Short() {
		t.Skip("compiles README.md's Go blocks with the go command (go generate, build, vet); skipped with -short")
	}

	root, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	dir := scratchModule(t, root)
	for _, b := range files {
		// The block at line n is package readme_ln, file readme_ln.go, so
		// that every message names it, whichever directory it is from.
		name := fmt.Sprintf("readme_l%d", b.line)
		if err := os.Mkdir(filepath.Join(dir, name), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, name, name+".go"), []byte(b.src), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	// lines rewrites positions in the blocks as positions in README.md.
	pos := regexp.MustCompile(`(?:readme_l\d+/)?readme_l(\d+)\.go:(\d+)`)
	lines := func(out string) string {
		return pos.ReplaceAllStringFunc(out, func(m string) string {
			sub := pos.FindStringSubmatch(m)
			fence, _ := strconv.Atoi(sub[1])
			line, _ := strconv.Atoi(sub[2])
			return fmt.Sprintf("README.md:%d", fence+line)
		})
	}
	// `go mod tidy -e`: tidy also looks for the modules that the tests
	// of the generator's dependencies import, which a fresh machine has
	// not downloaded and which the blocks never build.
	for _, args := range [][]string{{"mod", "tidy", "-e"}, {"generate", "./..."}, {"build", "./..."}, {"vet", "./..."}} {
		cmd := exec.Command("go", args...)
		cmd.Dir = dir
		// The module cache holds everything the build needs: no network.
		// The add-on modules' dependencies may select versions whose sums
		// only the module cache holds (verified when it downloaded them):
		// GOSUMDB=off lets go.sum take them from there.
		cmd.Env = append(os.Environ(), "GOFLAGS=-mod=mod", "GOPROXY=off", "GOWORK=off", "GOSUMDB=off")
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("go %s in the scratch module of README.md's Go blocks: %v\n%s", strings.Join(args, " "), err, lines(string(out)))
		}
	}
	for _, b := range files {
		if !strings.Contains(b.src, "\n//go:generate ") {
			continue
		}
		generated, _ := filepath.Glob(filepath.Join(dir, fmt.Sprintf("readme_l%d", b.line), "*_session.go"))
		if len(generated) == 0 {
			t.Errorf("README.md:%d: go generate wrote no *_session.go file", b.line)
		}
	}
}

// scratchModule writes a module, example.com/readme, into a temporary
// directory: its go.mod requires this repository's runtime module, the
// generator's module and the add-on modules README shows (OpenTelemetry,
// gRPC), each replaced with the working tree at root, and declares the
// generator as a tool (as `go get -tool` does); its go.sum holds their
// sums, so that nothing needs the network.
func scratchModule(t *testing.T, root string) string {
	t.Helper()
	const repo = "github.com/sessiongen/sessiongen"
	mods := []string{"", "cmd/sessiongen", "runtime/otelsession", "runtime/grpcsession"}
	var sums []byte
	var req, repl strings.Builder
	for _, rel := range mods {
		dir, path := root, repo
		if rel != "" {
			dir, path = filepath.Join(root, filepath.FromSlash(rel)), repo+"/"+rel
		}
		sum, err := os.ReadFile(filepath.Join(dir, "go.sum"))
		if err != nil {
			t.Fatal(err)
		}
		sums = append(sums, sum...)
		fmt.Fprintf(&req, "\t%s v0.1.0\n", path)
		fmt.Fprintf(&repl, "\t%s => %s\n", path, dir)
	}
	mod := "module example.com/readme\n\ngo 1.26.0\n" +
		"\nrequire (\n" + req.String() + ")\n" +
		"\nreplace (\n" + repl.String() + ")\n" +
		"\ntool " + repo + "/cmd/sessiongen\n"
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "go.mod"), []byte(mod), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "go.sum"), sums, 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}
