// Package bench holds octane-import's benchmarks (docs/performance.md): Go benchmarks of the
// parse floor against the reader and of a whole scan in process (for profiles), the corpus
// generator (bench/gen) and the runner that measures the built binary (bench/cmd/octane-bench,
// driven by bench/run.sh).
//
// It is test tooling: like cmd/octane-import's --sandbox it imports sandbox, the
// stand-in Octane, which no product package other than cmd may import. Nothing here runs in
// `go test ./...` except the fast tests (the generator is deterministic); the benchmarks need
// -bench.
package bench
