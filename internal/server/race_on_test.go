//go:build race

package server_test

// raceEnabled: timing measurements mean nothing under the race detector,
// which slows hashing by an order of magnitude.
const raceEnabled = true
