//go:build race

package deploy

// raceEnabled reports that the test runs under the race detector: the
// app's builds are then built with -race too.
const raceEnabled = true
