package bench

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"testing"
	"time"

	junit "github.com/joshdk/go-junit"

	"github.com/octane-import/octane-import/bench/gen"
	"github.com/octane-import/octane-import/config"
	"github.com/octane-import/octane-import/importer"
	"github.com/octane-import/octane-import/importer/ledger"
	"github.com/octane-import/octane-import/internal/testkit"
	"github.com/octane-import/octane-import/octane"
	"github.com/octane-import/octane-import/report"
	"github.com/octane-import/octane-import/sandbox"
)

// benchSpec is the corpus of the Go benchmarks: 10 builds, 200 files, ~20,000 test cases, ~18 MB;
// big enough to profile, small enough for a -benchtime of a few iterations.
var benchSpec = gen.Spec{Seed: 42, Builds: 10, FilesPerBuild: 20, CasesPerFile: 100}

var (
	corpusOnce  sync.Once
	corpusDir   string
	corpusStats gen.Stats
	corpusFiles []string
	corpusErr   error
)

// corpus writes the benchmark corpus once per test binary, under a temporary directory that
// TestMain removes.
func corpus(b *testing.B) (string, gen.Stats, []string) {
	b.Helper()
	corpusOnce.Do(func() {
		corpusDir, corpusErr = os.MkdirTemp("", "octane-bench-go-")
		if corpusErr != nil {
			return
		}
		corpusStats, corpusErr = gen.Write(corpusDir, benchSpec)
		if corpusErr != nil {
			return
		}
		corpusFiles, corpusErr = filepath.Glob(filepath.Join(corpusDir, "*", "*", "*.xml"))
	})
	if corpusErr != nil {
		b.Fatal(corpusErr)
	}
	return corpusDir, corpusStats, corpusFiles
}

func TestMain(m *testing.M) {
	code := testkit.Main(m) // and the PostgreSQL server of the tests that started one
	if corpusDir != "" {
		os.RemoveAll(corpusDir)
	}
	if oneReportDir != "" {
		os.RemoveAll(oneReportDir)
	}
	os.Exit(code)
}

// BenchmarkFloor is the floor of a scan, one file after another (no parallelism, so that the
// per-byte costs compare directly): reading the bytes, tokenising them with encoding/xml (the
// floor of any reader), go-junit parsing them, package report reading them whole (Read) and
// streaming them (Decoder).
func BenchmarkFloor(b *testing.B) {
	_, st, files := corpus(b)
	buf := make([]byte, 64<<10)
	impls := []struct {
		name string
		fn   func(string) (int, error)
	}{
		{"bytes", func(p string) (int, error) {
			f, err := os.Open(p)
			if err != nil {
				return 0, err
			}
			defer f.Close()
			for {
				_, err := f.Read(buf)
				if err == io.EOF {
					return 0, nil
				}
				if err != nil {
					return 0, err
				}
			}
		}},
		{"tokens", gen.TokenFloor},
		{"go-junit", func(p string) (int, error) {
			suites, err := junit.IngestFile(p)
			n := 0
			var count func(s junit.Suite)
			count = func(s junit.Suite) {
				n += len(s.Tests)
				for _, c := range s.Suites {
					count(c)
				}
			}
			for _, s := range suites {
				count(s)
			}
			return n, err
		}},
		{"report", func(p string) (int, error) {
			r, err := report.ReadFile(p)
			if err != nil {
				return 0, err
			}
			return len(r.Runs), nil
		}},
		{"stream", func(p string) (int, error) {
			f, err := os.Open(p)
			if err != nil {
				return 0, err
			}
			defer f.Close()
			d := report.NewDecoder(f, p, report.Options{})
			for {
				if _, err := d.Next(); err == io.EOF {
					return d.Summary().Counts.Total, nil
				} else if err != nil {
					return 0, err
				}
			}
		}},
	}
	for _, impl := range impls {
		b.Run(impl.name, func(b *testing.B) {
			b.SetBytes(st.Bytes)
			b.ReportAllocs()
			for b.Loop() {
				runs := 0
				for _, p := range files {
					n, err := impl.fn(p)
					if err != nil {
						b.Fatal(err)
					}
					runs += n
				}
				if impl.name != "bytes" && runs != st.Cases {
					b.Fatalf("%d runs, want %d", runs, st.Cases)
				}
			}
			b.ReportMetric(float64(st.Cases)*float64(b.N)/b.Elapsed().Seconds(), "runs/s")
		})
	}
}

// BenchmarkFloorParallel is the parse floor as octane-bench measures it, and as a scan reads:
// package report over every file, GOMAXPROCS files at a time. Compare it with BenchmarkScan.
func BenchmarkFloorParallel(b *testing.B) {
	_, st, files := corpus(b)
	b.SetBytes(st.Bytes)
	b.ReportAllocs()
	for b.Loop() {
		next := make(chan string, len(files))
		for _, p := range files {
			next <- p
		}
		close(next)
		var wg sync.WaitGroup
		for range runtime.GOMAXPROCS(0) {
			wg.Go(func() {
				for p := range next {
					if _, err := report.ReadFile(p); err != nil {
						b.Error(err)
					}
				}
			})
		}
		wg.Wait()
	}
	b.ReportMetric(float64(st.Cases)*float64(b.N)/b.Elapsed().Seconds(), "runs/s")
}

// BenchmarkScan runs the importer in process over the corpus, as `scan --dry-run` and as `scan`
// to an in-process stand-in Octane (whose CPU shows in the same profile: its functions are in
// package sandbox). Run it with -cpuprofile or -memprofile to see where a scan's time goes.
func BenchmarkScan(b *testing.B) {
	dir, st, _ := corpus(b)
	for _, dryRun := range []bool{true, false} {
		name := "standin"
		if dryRun {
			name = "dry-run"
		}
		b.Run(name, func(b *testing.B) {
			b.SetBytes(st.Bytes)
			b.ReportAllocs()
			for b.Loop() {
				b.StopTimer()
				im, done := newImporter(b, dryRun)
				b.StartTimer()
				sum, err := im.Scan(context.Background(), []string{dir})
				if err != nil {
					b.Fatal(err)
				}
				if sum.Runs.Total() != st.Cases || sum.Failures() > 0 {
					b.Fatalf("%d runs (want %d), %d failures: %v", sum.Runs.Total(), st.Cases, sum.Failures(), sum.Errors)
				}
				b.StopTimer()
				done()
				b.StartTimer()
			}
			b.ReportMetric(float64(st.Cases)*float64(b.N)/b.Elapsed().Seconds(), "runs/s")
		})
	}
}

// newImporter sets up what `octane-import scan` does: the benchmark rule (the same as
// octane-bench's configuration), a fresh ledger and, unless dryRun, a stand-in and a client.
func newImporter(b *testing.B, dryRun bool) (*importer.Importer, func()) {
	b.Helper()
	tmp := b.TempDir()
	var srv *sandbox.Server
	url := "http://127.0.0.1:1"
	if !dryRun {
		var err error
		if srv, err = sandbox.Start(sandbox.Options{}); err != nil {
			b.Fatal(err)
		}
		url = srv.URL()
	}
	cfgPath := filepath.Join(tmp, "octane-import.yaml")
	cfg := fmt.Sprintf(`version: 1
targets:
  - name: standin
    url: %s
    shared_space: "1001"
    workspace: "1002"
    client_id: sandbox-client
    client_secret: sandbox-secret
rules:
  - name: bench
    match:
      path: "{job}/{build}/*.xml"
    set:
      server: { instance_id: bench-drops, name: "Benchmark drops", type: file }
      job: "{job}"
      build: "{build}"
`, url)
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o600); err != nil {
		b.Fatal(err)
	}
	mc, err := config.LoadFile(cfgPath)
	if err != nil {
		b.Fatal(err)
	}
	l, err := ledger.Open(filepath.Join(tmp, "ledger.db"), ledger.Options{ReadOnly: dryRun})
	if err != nil {
		b.Fatal(err)
	}
	var client *octane.Client
	quiet := slog.New(slog.DiscardHandler)
	opts := importer.Options{Rules: mc.Rules, Sources: mc.Sources, Ledger: l, DryRun: dryRun, Logger: quiet}
	if !dryRun {
		t := mc.Targets[0]
		client, err = octane.New(octane.Config{URL: t.URL, SharedSpace: t.SharedSpace, Workspace: t.Workspace,
			ClientID: t.ClientID, ClientSecret: t.ClientSecret, RateLimit: -1, Logger: quiet,
			Poll: octane.PollPolicy{Min: 10 * time.Millisecond, Max: 200 * time.Millisecond}})
		if err != nil {
			b.Fatal(err)
		}
		opts.Client = func(string) (importer.Client, error) { return client, nil }
	}
	im, err := importer.New(opts)
	if err != nil {
		b.Fatal(err)
	}
	return im, func() {
		if client != nil {
			_ = client.Close(context.Background())
		}
		l.Close()
		if srv != nil {
			srv.Close()
		}
	}
}
