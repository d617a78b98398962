//go:build !race

package main

// raceEnabled: the tests run under the race detector (much slower; see TestScanHeapFlat).
const raceEnabled = false
