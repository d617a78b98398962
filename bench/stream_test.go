package bench

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/octane-import/octane-import/bench/gen"
	"github.com/octane-import/octane-import/octane"
	"github.com/octane-import/octane-import/report"
)

// oneReportSpec is the report of the streaming benchmarks: the one-report size of octane-bench
// (the same seed, so the same bytes), one file of exactly 200,000 test cases, ~31 MB.
var oneReportSpec = gen.Spec{Seed: 6, Builds: 1, FilesPerBuild: 1, CasesPerFile: 200_000, ExactCases: true, Detail: 0.01}

// The importer's defaults (importer.Options): a payload holds at most 5,000 runs or 8 MiB of
// XML, whichever comes first.
const (
	spoolMaxRuns  = 5000
	spoolMaxBytes = 8 << 20
)

var (
	oneReportOnce sync.Once
	oneReportDir  string
	oneReportPath string
	oneReportSize int64
	oneReportErr  error
)

// oneReport writes the streaming benchmarks' report once per test binary (TestMain removes it).
func oneReport(b *testing.B) (path string, cases int, size int64) {
	b.Helper()
	oneReportOnce.Do(func() {
		if oneReportDir, oneReportErr = os.MkdirTemp("", "octane-bench-one-"); oneReportErr != nil {
			return
		}
		if _, oneReportErr = gen.Write(oneReportDir, oneReportSpec); oneReportErr != nil {
			return
		}
		files, err := filepath.Glob(filepath.Join(oneReportDir, "*", "*", "TEST-*.xml"))
		if err != nil || len(files) != 1 {
			oneReportErr = fmt.Errorf("generated %v, %v", files, err)
			return
		}
		oneReportPath = files[0]
		var info os.FileInfo
		if info, oneReportErr = os.Stat(oneReportPath); oneReportErr == nil {
			oneReportSize = info.Size()
		}
	})
	if oneReportErr != nil {
		b.Fatal(oneReportErr)
	}
	return oneReportPath, oneReportSpec.CasesPerFile, oneReportSize
}

// toTestRun converts a run as the importer does for a report with no rule-made fields: the
// identity, status, duration and start (the build's start when the report has none), the
// failure, and the skip message as the description.
func toTestRun(r *report.Run, start time.Time) octane.TestRun {
	tr := octane.TestRun{Module: r.Module, Package: r.Package, Class: r.Class, Name: r.Name,
		Status: string(r.Status), Duration: r.Duration, Started: r.Started}
	if tr.Started.IsZero() {
		tr.Started = start
	}
	if r.Failure != nil {
		tr.Error = &octane.RunError{Type: r.Failure.Type, Message: r.Failure.Message, Body: r.Failure.Body}
	}
	if r.SkipMessage != "" {
		tr.Description = "Skipped: " + r.SkipMessage
	}
	return tr
}

var buildStart = time.Date(2025, 1, 6, 8, 0, 0, 0, time.UTC)

// streamStage says how far streamReport takes each run.
type streamStage int

const (
	stageDecode streamStage = iota // report.Decoder alone
	stageEncode                    // and octane.NewRunEncoder into a fragment
	stageSpool                     // and each full fragment into a gzipped payload file
)

// streamReport is the importer's streaming path for one report, as far as stage: the Decoder
// reads runs one at a time, a run encoder writes each into a fragment, and a full fragment
// (5,000 runs or 8 MiB) becomes a payload of its own, written with octane.WritePayload into a
// file in spool, as importer/runs.go stages the payloads of a large report. It returns the
// runs and the payload files written.
func streamReport(path string, stage streamStage, spool string) (runs, payloads int, err error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, 0, err
	}
	defer f.Close()
	d := report.NewDecoder(f, path, report.Options{})
	if _, err := d.Head(); err != nil {
		return 0, 0, err
	}
	var frag bytes.Buffer
	enc := octane.NewRunEncoder(&frag)
	flush := func() error {
		if stage == stageSpool && enc.Runs() > 0 {
			if err := enc.Close(); err != nil {
				return err
			}
			pf, err := os.CreateTemp(spool, "staged-*.xml.gz")
			if err != nil {
				return err
			}
			_, err = octane.WritePayload(pf, payloadContext, frag.Bytes(), enc.Runs(), "")
			if cerr := pf.Close(); err == nil {
				err = cerr
			}
			if err != nil {
				return err
			}
			payloads++
		}
		frag.Reset()
		enc = octane.NewRunEncoder(&frag)
		return nil
	}
	for {
		r, err := d.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return runs, payloads, err
		}
		runs++
		if stage == stageDecode {
			continue
		}
		if err := enc.Encode(toTestRun(r, buildStart)); err != nil {
			return runs, payloads, err
		}
		if enc.Runs() >= spoolMaxRuns || frag.Len() >= spoolMaxBytes {
			if err := flush(); err != nil {
				return runs, payloads, err
			}
		}
	}
	return runs, payloads, flush()
}

// BenchmarkStreamPath is the importer's path for one large report (200,000 test cases, the
// one-report size), on one core as the importer reads one report, stage by stage: tokens (the
// floor: encoding/xml RawToken, test cases counted), decode (report.Decoder), encode (and
// octane.NewRunEncoder fragments), spool (and octane.WritePayload of every 5,000 runs into a
// gzipped file, the spool). Metrics: runs/s, allocs/run (all allocations of the path over the
// runs; the floor's are encoding/xml's), cpu-ns/op (user and system time: on a shared machine
// the wall clock also counts waiting), and x-tokens / x-tokens-cpu, the ratio of wall and CPU
// time to the token floor measured in the same run. MB/s is of the report.
func BenchmarkStreamPath(b *testing.B) {
	path, cases, size := oneReport(b)
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(1))
	var floorNs, floorCPU float64
	for _, stage := range []struct {
		name string
		fn   func(spool string) (int, error)
	}{
		{"tokens", func(string) (int, error) { return gen.TokenFloor(path) }},
		{"decode", func(spool string) (int, error) { n, _, err := streamReport(path, stageDecode, spool); return n, err }},
		{"encode", func(spool string) (int, error) { n, _, err := streamReport(path, stageEncode, spool); return n, err }},
		{"spool", func(spool string) (int, error) {
			n, p, err := streamReport(path, stageSpool, spool)
			if err == nil && p != (cases+spoolMaxRuns-1)/spoolMaxRuns {
				err = fmt.Errorf("%d payloads for %d runs", p, n)
			}
			return n, err
		}},
	} {
		b.Run(stage.name, func(b *testing.B) {
			spool := b.TempDir()
			b.SetBytes(size)
			b.ReportAllocs()
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			cpu0 := cpuTime()
			for b.Loop() {
				n, err := stage.fn(spool)
				if err != nil {
					b.Fatal(err)
				}
				if n != cases {
					b.Fatalf("%d runs, want %d", n, cases)
				}
			}
			cpu := float64(cpuTime()-cpu0) / float64(b.N)
			runtime.ReadMemStats(&after)
			ns := float64(b.Elapsed().Nanoseconds()) / float64(b.N)
			b.ReportMetric(float64(after.Mallocs-before.Mallocs)/float64(b.N)/float64(cases), "allocs/run")
			b.ReportMetric(float64(cases)*1e9/ns, "runs/s")
			b.ReportMetric(cpu, "cpu-ns/op")
			if stage.name == "tokens" {
				floorNs, floorCPU = ns, cpu
			} else if floorNs > 0 {
				b.ReportMetric(ns/floorNs, "x-tokens")
				b.ReportMetric(cpu/floorCPU, "x-tokens-cpu")
			}
		})
	}
}

// cpuTime is the process's CPU time so far, user and system, in nanoseconds.
func cpuTime() int64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return ru.Utime.Nano() + ru.Stime.Nano()
}
