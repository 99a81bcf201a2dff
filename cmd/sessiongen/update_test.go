package main

import "testing"

// TestGeneratedUpdateRuns generates the accessors of the update scenario
// and runs its update_test.go against the real runtime (session.Manager,
// Handler, memstore): UpdateF and AddF for integers of every width,
// overflow refused with nothing written, UpdateF held to the setter's
// bounds, and concurrent adds through two managers sharing one engine
// ending exact.
func TestGeneratedUpdateRuns(t *testing.T) {
	runScenarioTests(t, "update.txtar", "update_test.go",
		"TestAddAndUpdateEveryInteger", "TestAddInt8OverflowStoresNothing", "TestUpdateOverBoundIsRefused",
		"TestUpdateGivesACopy", "TestUpdateUndecodable", "TestUpdateNoSession",
		"TestConcurrentAddIsExact", "TestConcurrentUpdateKeepsBounds")
}
