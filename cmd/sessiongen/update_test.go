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

// TestGeneratedRenameRuns generates the accessors of the rename scenario
// and runs its rename_test.go against the real runtime: reads fall back
// to the old keys in order, and every write moves the value in one
// change.
func TestGeneratedRenameRuns(t *testing.T) {
	runScenarioTests(t, "rename.txtar", "rename_test.go",
		"TestRenameReadsOldKeys", "TestRenameFirstWriteMoves", "TestRenameSaveAndRemove")
}

// TestGeneratedFlashRuns generates the accessors of the flash scenario
// and runs its flash_test.go against the real runtime: PopF reads once,
// writes nothing when there is nothing, lets one of many racing requests
// win, and drops an undecodable value.
func TestGeneratedFlashRuns(t *testing.T) {
	runScenarioTests(t, "flash.txtar", "flash_test.go",
		"TestPopOnce", "TestPopRaceTwoManagers", "TestPopUndecodableIsDropped")
}
