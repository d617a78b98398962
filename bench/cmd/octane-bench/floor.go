package main

import (
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"

	junit "github.com/joshdk/go-junit"

	"github.com/octane-import/octane-import/bench/gen"
	"github.com/octane-import/octane-import/manifest"
	"github.com/octane-import/octane-import/report"
)

func specFlags(fs *flag.FlagSet) *gen.Spec {
	s := &gen.Spec{}
	fs.Uint64Var(&s.Seed, "seed", 1, "random seed")
	fs.IntVar(&s.Builds, "builds", 1, "builds")
	fs.IntVar(&s.FilesPerBuild, "files", 20, "reports per build")
	fs.IntVar(&s.CasesPerFile, "cases", 100, "test cases per report (mean)")
	fs.Float64Var(&s.Detail, "detail", 1, "size of a test case: 1 = about 1 KB")
	fs.BoolVar(&s.ExactCases, "exact", false, "exactly -cases test cases in every report (else drawn within ±20 %)")
	return s
}

func writeCorpus(dir string, s gen.Spec) (gen.Stats, error) {
	if err := os.RemoveAll(dir); err != nil {
		return gen.Stats{}, err
	}
	return gen.Write(dir, s)
}

// floorResult is what one floor pass did.
type floorResult struct {
	Mode  string `json:"mode"`
	Files int64  `json:"files"`
	Bytes int64  `json:"bytes"`
	Runs  int64  `json:"runs"`
}

// floorCmd is the floor: every report under DIR read (mode bytes), read and tokenised by
// encoding/xml counting test cases (tokens: the floor a machine imposes on any reader), or read
// and parsed by go-junit (gojunit), by package report's Read (report) or by its streaming
// Decoder (stream), by GOMAXPROCS workers, the same number of readers octane-import's scan uses.
// Manifests are skipped, as the floor is about reports.
func floorCmd(args []string) error {
	fs := flag.NewFlagSet("floor", flag.ExitOnError)
	mode := fs.String("mode", "report", "bytes, tokens, gojunit, report or stream")
	_ = fs.Parse(args)
	if fs.NArg() != 1 {
		return fmt.Errorf("floor: one directory")
	}
	res, err := floor(*mode, fs.Arg(0))
	if err != nil {
		return err
	}
	return printJSON(res)
}

func floor(mode, dir string) (floorResult, error) {
	var parse func(path string) (int64, int, error)
	switch mode {
	case "bytes":
		parse = readBytes
	case "gojunit":
		parse = func(path string) (int64, int, error) {
			suites, err := junit.IngestFile(path)
			n := 0
			for _, s := range suites {
				n += countSuite(s)
			}
			return 0, n, err
		}
	case "report":
		parse = func(path string) (int64, int, error) {
			r, err := report.ReadFile(path)
			if err != nil {
				return 0, 0, err
			}
			return 0, len(r.Runs), nil
		}
	case "tokens":
		parse = tokenFloor
	case "stream":
		parse = func(path string) (int64, int, error) {
			f, err := os.Open(path)
			if err != nil {
				return 0, 0, err
			}
			defer f.Close()
			d := report.NewDecoder(f, path, report.Options{})
			for {
				if _, err := d.Next(); err == io.EOF {
					return 0, d.Summary().Counts.Total, nil
				} else if err != nil {
					return 0, 0, err
				}
			}
		}
	default:
		return floorResult{}, fmt.Errorf("floor: unknown mode %q", mode)
	}
	res := floorResult{Mode: mode}
	paths := make(chan string, 64)
	var files, bytes, runs atomic.Int64
	var firstErr error
	var once sync.Once
	var wg sync.WaitGroup
	for range runtime.GOMAXPROCS(0) {
		wg.Go(func() {
			for p := range paths {
				n, r, err := parse(p)
				if err != nil {
					once.Do(func() { firstErr = fmt.Errorf("%s: %w", p, err) })
				}
				files.Add(1)
				bytes.Add(n)
				runs.Add(int64(r))
			}
		})
	}
	walkErr := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() || !strings.HasSuffix(p, ".xml") || manifest.IsManifestName(d.Name()) {
			return nil
		}
		if mode != "bytes" {
			if info, err := d.Info(); err == nil {
				bytes.Add(info.Size())
			}
		}
		paths <- p
		return nil
	})
	close(paths)
	wg.Wait()
	res.Files, res.Bytes, res.Runs = files.Load(), bytes.Load(), runs.Load()
	if walkErr != nil {
		return res, walkErr
	}
	return res, firstErr
}

func countSuite(s junit.Suite) int {
	n := len(s.Tests)
	for _, c := range s.Suites {
		n += countSuite(c)
	}
	return n
}

// tokenFloor reads a report and tokenises it with encoding/xml (RawToken), counting test
// cases: gen.TokenFloor, the floor the benchmarks of the report package use too.
func tokenFloor(path string) (int64, int, error) {
	n, err := gen.TokenFloor(path)
	return 0, n, err
}

var bufPool = sync.Pool{New: func() any { b := make([]byte, 64<<10); return &b }}

func readBytes(path string) (int64, int, error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, 0, err
	}
	defer f.Close()
	bp := bufPool.Get().(*[]byte)
	defer bufPool.Put(bp)
	var n int64
	for {
		k, err := f.Read(*bp)
		n += int64(k)
		if err == io.EOF {
			return n, 0, nil
		}
		if err != nil {
			return n, 0, err
		}
	}
}
