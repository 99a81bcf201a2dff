package nodetest

import "testing"

// TestLocal runs the suite on the nodes of one process.
func TestLocal(t *testing.T) {
	Run(t, Local())
}

// TestRacesLocal runs the races on the nodes of one process.
func TestRacesLocal(t *testing.T) {
	RunRaces(t, Local())
}
