package main

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestScenarios runs the generator on every scenario under
// testdata/sessiongen and compares the generated file (want.go) or the
// error text (want.err) with the expectation, and the report of changes
// against a schema record in the archive (want.report) and the record
// written (want.schema.json) where the scenario has them. With -update it rewrites the
// expectations instead.
//
// A scenario that generates code must also generate it deterministically
// (byte-equal over repeated runs, each with its own map iteration order)
// and the result must pass go vet in its package.
func TestScenarios(t *testing.T) {
	paths, err := filepath.Glob(filepath.Join(scenarioDir(t), "*.txtar"))
	require.NoError(t, err)
	require.NotEmpty(t, paths)
	for _, path := range paths {
		name := strings.TrimSuffix(filepath.Base(path), ".txtar")
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			sc := loadScenario(t, path)
			dir := newModule(t, sc.files)
			res, err := generate(sc.options(dir))
			if sc.wantErr != nil {
				require.Error(t, err, "the scenario expects an error")
				got := errorText(err, dir)
				if *update {
					sc.rewrite(t, "want.err", []byte(got))
					return
				}
				assert.Equal(t, string(sc.wantErr), got)
				return
			}
			require.NoError(t, err, "%s", errorTextOrEmpty(err, dir))
			report := res.report(dir)
			if report != "" {
				report += "\n"
			}
			if *update {
				sc.rewrite(t, "want.go", res.Src)
				if report != "" || sc.wantReport != nil {
					sc.rewrite(t, "want.report", []byte(report))
				}
				if sc.wantSchema != nil {
					sc.rewrite(t, "want.schema.json", res.Schema)
				}
			} else {
				assert.Equal(t, string(sc.wantGo), string(res.Src))
				assert.Equal(t, string(sc.wantReport), report, "the changes against the schema record")
				if sc.wantSchema != nil {
					assert.Equal(t, string(sc.wantSchema), string(res.Schema), "the schema record")
				}
			}
			want := filepath.Join(dir, defaultOutput(sc.types))
			if sc.output != "" {
				want = filepath.Join(dir, sc.output)
			}
			assert.Equal(t, want, res.Output)

			for range 3 {
				again, err := generate(sc.options(dir))
				require.NoError(t, err)
				require.Equal(t, string(res.Src), string(again.Src), "output differs between runs")
			}

			require.NoError(t, writeFile(res))
			out, err := goCmd(t, dir, "vet", ".")
			require.NoError(t, err, "go vet of the generated package:\n%s", out)
		})
	}
}

// errorTextOrEmpty renders err for a failure message.
func errorTextOrEmpty(err error, dir string) string {
	if err == nil {
		return ""
	}
	return errorText(err, dir)
}
