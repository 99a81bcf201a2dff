package main

import (
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestGeneratedUpdateRuns generates the accessors of the update scenario
// and runs its update_test.go against the real runtime (session.Manager,
// Handler, memstore): UpdateF and AddF for integers of every width,
// overflow refused with nothing written, UpdateF held to the setter's
// bounds, and concurrent adds through two managers sharing one engine
// ending exact.
func TestGeneratedUpdateRuns(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and tests a generated package; skipped with -short")
	}
	sc := loadScenario(t, filepath.Join(scenarioDir(t), "update.txtar"))
	require.Contains(t, sc.files, "update_test.go")
	dir := newModule(t, sc.files)
	res, err := generate(sc.options(dir))
	require.NoError(t, err, "%s", errorTextOrEmpty(err, dir))
	require.NoError(t, writeFile(res))
	out, err := goCmd(t, dir, "test", "-count=1", "-v", "./...")
	require.NoError(t, err, "go test of the generated package:\n%s", out)
	for _, name := range []string{
		"TestAddAndUpdateEveryInteger", "TestAddInt8OverflowStoresNothing", "TestUpdateOverBoundIsRefused",
		"TestUpdateGivesACopy", "TestUpdateUndecodable", "TestUpdateNoSession",
		"TestConcurrentAddIsExact", "TestConcurrentUpdateKeepsBounds",
	} {
		assert.Contains(t, out, "--- PASS: "+name+" ", "the generated package's test %s ran and passed", name)
	}
	assert.NotContains(t, out, "--- FAIL")
}
