// Command octane-bench builds and measures the benchmarks of docs/performance.md: it writes a
// deterministic corpus (bench/gen), measures the floor (reading the bytes; tokenising them with
// encoding/xml, the token floor every ratio is to; parsing them with go-junit or with package
// report alone), then runs octane-import (scan --dry-run, scan to a stand-in Octane over
// loopback with and without added latency, a paced scan at 100 ms and 20 requests/s, a rescan
// of an imported tree, watch latency) as child processes, and tabulates wall time, CPU time,
// peak RSS, throughput, the ratios to the floors and the HTTP requests the stand-in saw. The
// stand-in runs in a child process of its own (octane-bench standin). With -pg, the importing
// steps also run with the PostgreSQL ledger, in a fresh database per step on that server, with
// their ratio to the same step on the embedded bbolt ledger.
//
// It is test tooling, not part of the product: like cmd/octane-import's --sandbox it imports
// sandbox, the stand-in Octane, which no product package other than cmd may import.
//
//	octane-bench gen -out DIR -builds B -files F -cases C [-seed S] [-detail D] [-exact]
//	octane-bench floor -mode bytes|tokens|gojunit|report|stream DIR
//	octane-bench standin [-latency 50ms]   (prints {"url","control"}; GET control/stats[?reset=1];
//	                                        serves until stdin closes)
//	octane-bench run -bin octane-import [-sizes post-build,medium,one-report,tree-2000] [-rescan [-rescan-files N]]
//	                 [-pg postgres://USER:PASSWORD@HOST:PORT/postgres [-pg-sizes backfill]] ...
//	octane-bench table results-*.jsonl              (the Markdown table of a run, again)
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"
)

func main() {
	if len(os.Args) < 2 {
		usage()
	}
	var err error
	switch os.Args[1] {
	case "gen":
		err = genCmd(os.Args[2:])
	case "floor":
		err = floorCmd(os.Args[2:])
	case "standin":
		err = standinCmd(os.Args[2:])
	case "run":
		err = runCmd(os.Args[2:])
	case "table":
		err = tableCmd(os.Args[2:])
	default:
		usage()
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "octane-bench:", err)
		os.Exit(1)
	}
}

func usage() {
	fmt.Fprintln(os.Stderr, "usage: octane-bench gen|floor|standin|run|table [flags] (see -h of each)")
	os.Exit(2)
}

func printJSON(v any) error {
	enc := json.NewEncoder(os.Stdout)
	return enc.Encode(v)
}

func genCmd(args []string) error {
	fs := flag.NewFlagSet("gen", flag.ExitOnError)
	out := fs.String("out", "", "directory to write (created)")
	spec := specFlags(fs)
	_ = fs.Parse(args)
	if *out == "" {
		return fmt.Errorf("gen: -out is required")
	}
	st, err := writeCorpus(*out, *spec)
	if err != nil {
		return err
	}
	return printJSON(st)
}
