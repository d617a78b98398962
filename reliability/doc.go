// Package reliability holds octane-import's fault, load and hostile-input suite. It has no
// code of its own: the tests (package reliability_test, build tag "faults") drive the real
// binary against the stand-in Octane and check, run by run, that nothing is lost and nothing
// is sent twice. Run them with
//
//	go test -tags faults -count=1 -timeout 8m ./reliability/
//
// This file exists so that builds without the tag (go vet ./..., go test ./...) see a
// package here. See docs/reliability.md for what the suite does and its figures.
package reliability
