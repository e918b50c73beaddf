//go:build race

package sessions_test

// raceEnabled tells tests that count allocations that the race detector,
// which allocates on its own, is on.
const raceEnabled = true
