package bench

import (
	"bytes"
	"testing"
	"time"

	"github.com/octane-import/octane-import/octane"
	"github.com/octane-import/octane-import/report"
)

// payloadRuns reads the corpus's first build and converts its runs as the importer does.
func payloadRuns(b *testing.B) []octane.TestRun {
	b.Helper()
	_, _, files := corpus(b)
	var runs []octane.TestRun
	for _, p := range files[:20] {
		r, err := report.ReadFile(p)
		if err != nil {
			b.Fatal(err)
		}
		for _, run := range r.Runs {
			tr := octane.TestRun{Package: run.Package, Class: run.Class, Name: run.Name, Status: string(run.Status),
				Duration: run.Duration, Started: run.Started}
			if tr.Started.IsZero() {
				tr.Started = time.Date(2025, 1, 6, 8, 0, 0, 0, time.UTC)
			}
			if run.Failure != nil {
				tr.Error = &octane.RunError{Type: run.Failure.Type, Message: run.Failure.Message, Body: run.Failure.Body}
			}
			runs = append(runs, tr)
		}
	}
	return runs
}

var payloadContext = octane.ResultContext{
	Build:      &octane.BuildRef{ServerID: "bench-drops", JobID: "payments-unit-0", BuildID: "1000"},
	TestFields: []octane.Field{{Type: "Framework", Value: "JUnit"}},
}

// BenchmarkPayload measures what the importer does to one build's runs (~2,000, one payload)
// before it stores them: encoding the test-results XML, and gzipping it. MB/s is of the XML.
func BenchmarkPayload(b *testing.B) {
	runs := payloadRuns(b)
	var xml bytes.Buffer
	enc := octane.NewEncoder(&xml, payloadContext)
	for _, r := range runs {
		if err := enc.Encode(r); err != nil {
			b.Fatal(err)
		}
	}
	if err := enc.Close(); err != nil {
		b.Fatal(err)
	}
	b.Run("encode", func(b *testing.B) {
		b.SetBytes(int64(xml.Len()))
		b.ReportAllocs()
		var buf bytes.Buffer
		for b.Loop() {
			buf.Reset()
			enc := octane.NewEncoder(&buf, payloadContext)
			for _, r := range runs {
				if err := enc.Encode(r); err != nil {
					b.Fatal(err)
				}
			}
			if err := enc.Close(); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("gzip", func(b *testing.B) {
		b.SetBytes(int64(xml.Len()))
		b.ReportAllocs()
		var n int
		for b.Loop() {
			z, err := octane.Gzip(xml.Bytes())
			if err != nil {
				b.Fatal(err)
			}
			n = len(z)
		}
		b.ReportMetric(100*float64(n)/float64(xml.Len()), "%-of-xml")
	})
}
