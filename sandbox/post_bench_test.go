package sandbox

import (
	"bytes"
	"compress/gzip"
	"fmt"
	"math/rand/v2"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/octane-import/octane-import/octane"
)

// benchPayload encodes n runs the way the importer does (octane.NewEncoder):
// names of about 60 characters, 8 % failures with stack traces of 2-4 KB,
// the rest passed or skipped. The same n gives the same bytes.
func benchPayload(tb testing.TB, n int) []byte {
	tb.Helper()
	r := rand.New(rand.NewPCG(16, uint64(n)))
	verbs := []string{"should", "rejects", "accepts", "computes", "returns", "streams", "retries", "reconciles"}
	objects := []string{"LedgerEntries", "PaymentBatch", "CurrencyConversion", "InvoiceTotals", "SettlementReport", "RefundRequest"}
	quals := []string{"WhenCurrencyDiffers", "UnderConcurrentLoad", "AfterTimeoutExpires", "WithEmptyInput", "ForNegativeAmounts"}
	frames := []string{
		"org.junit.jupiter.api.AssertionUtils.fail(AssertionUtils.java:55)",
		"org.junit.jupiter.api.AssertEquals.failNotEqual(AssertEquals.java:197)",
		"com.acme.payments.ledger.LedgerService.reconcile(LedgerService.java:412)",
		"java.base/jdk.internal.reflect.DirectMethodHandleAccessor.invoke(DirectMethodHandleAccessor.java:103)",
		"org.junit.platform.engine.support.hierarchical.ThrowableCollector.execute(ThrowableCollector.java:73)",
	}
	var buf bytes.Buffer
	enc := octane.NewEncoder(&buf, octane.ResultContext{
		Build:      &octane.BuildRef{ServerID: "iid-1", JobID: "unit", BuildID: "7"},
		TestFields: []octane.Field{{Type: "Framework", Value: "JUnit"}, {Type: "Test_Level", Value: "Unit Test"}},
	})
	start := time.Date(2024, 3, 1, 12, 0, 0, 0, time.UTC)
	for i := range n {
		cls := fmt.Sprintf("Ledger%sTest", objects[i%len(objects)])
		tr := octane.TestRun{
			Module:   "payments-ledger",
			Package:  "com.acme.payments.ledger",
			Class:    cls,
			Name:     fmt.Sprintf("%s%s%s%d", verbs[r.IntN(len(verbs))], objects[r.IntN(len(objects))], quals[r.IntN(len(quals))], i),
			Status:   octane.StatusPassed,
			Duration: time.Duration(r.IntN(900)) * time.Millisecond,
			Started:  start.Add(time.Duration(i) * time.Millisecond),
		}
		switch roll := r.IntN(100); {
		case roll < 8:
			tr.Status = octane.StatusFailed
			var st strings.Builder
			fmt.Fprintf(&st, "org.opentest4j.AssertionFailedError: expected: <%d> but was: <%d>\n", i, i+1)
			for want := 2048 + r.IntN(2048); st.Len() < want; {
				fmt.Fprintf(&st, "\tat %s\n", frames[r.IntN(len(frames))])
			}
			tr.Error = &octane.RunError{Type: "org.opentest4j.AssertionFailedError",
				Message: fmt.Sprintf("expected: <%d> but was: <%d>", i, i+1), Body: st.String()}
		case roll < 11:
			tr.Status = octane.StatusSkipped
		}
		if err := enc.Encode(tr); err != nil {
			tb.Fatal(err)
		}
	}
	if err := enc.Close(); err != nil {
		tb.Fatal(err)
	}
	return buf.Bytes()
}

// gzipMember compresses b as one gzip member; members concatenated are one
// gzip stream.
func gzipMember(tb testing.TB, b []byte) []byte {
	tb.Helper()
	var out bytes.Buffer
	zw := gzipWriters.Get().(*gzip.Writer)
	defer gzipWriters.Put(zw)
	zw.Reset(&out)
	if _, err := zw.Write(b); err != nil {
		tb.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		tb.Fatal(err)
	}
	return out.Bytes()
}

// gzipWriters reuses compressors, so that the client's side of a benchmark
// allocates little.
var gzipWriters = sync.Pool{New: func() any {
	zw, _ := gzip.NewWriterLevel(nil, 2)
	return zw
}}

// BenchmarkValidatePayload5000 validates one realistic payload of 5,000
// runs (decompressed), as the POST handler does before preparing its runs.
func BenchmarkValidatePayload5000(b *testing.B) {
	doc := string(benchPayload(b, 5000))
	b.SetBytes(int64(len(doc)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := validatePayload(doc); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkPrepare5000 turns the tree of a realistic payload of 5,000 runs
// into runs: the rest of what the handler does before taking the lock.
func BenchmarkPrepare5000(b *testing.B) {
	doc := string(benchPayload(b, 5000))
	root, err := validatePayload(doc)
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(doc)))
	b.ReportAllocs()
	for b.Loop() {
		if p := prepare(root); len(p.runs) != 5000 {
			b.Fatalf("%d runs", len(p.runs))
		}
	}
}

// benchPoster posts gzipped payloads of 5,000 runs to a started stand-in
// over real HTTP, each made distinct by a comment after the XML declaration,
// and checks that each task succeeded with every run stored. The comment is
// a first gzip member of its own and the rest of the payload, compressed
// once, the second: gzip members concatenated are one gzip stream, and the
// last member's size is (about) the payload's, as in one-member payloads
// (octane.WritePayload).
type benchPoster struct {
	c    *client
	rest []byte // the gzipped payload after its XML declaration
	raw  int    // decompressed size
	seq  atomic.Int64
}

const benchDecl = `<?xml version="1.0" encoding="UTF-8"?>`

func newBenchPoster(b *testing.B) *benchPoster {
	c := signedIn(b, Options{})
	c.seed()
	if code, out := c.putBuild("unit", "7", nil); code != 200 {
		b.Fatalf("PUT build = %d %v", code, out)
	}
	data := benchPayload(b, 5000)
	rest, ok := bytes.CutPrefix(data, []byte(benchDecl))
	if !ok {
		b.Fatalf("the payload does not start with %s", benchDecl)
	}
	return &benchPoster{c: c, rest: gzipMember(b, rest), raw: len(data)}
}

func (p *benchPoster) post(b *testing.B) {
	n := p.seq.Add(1)
	body := append(gzipMember(b, fmt.Appendf(nil, "%s\n<!-- %d -->", benchDecl, n)), p.rest...)
	res, out, err := p.c.try("POST", p.c.ws("/test-results"), body, "application/xml",
		map[string]string{"Content-Encoding": "application/gzip"})
	if err != nil || res.StatusCode != http.StatusAccepted {
		b.Errorf("POST = %v %v %s", err, res, out)
	}
}

// BenchmarkPostTestResults posts 5,000-run payloads one at a time: the
// stand-in's whole test-results path (gunzip, validation, dedup, processing).
func BenchmarkPostTestResults(b *testing.B) {
	p := newBenchPoster(b)
	b.SetBytes(int64(p.raw))
	b.ReportAllocs()
	for b.Loop() {
		p.post(b)
	}
	b.StopTimer()
	p.check(b)
}

// BenchmarkPostTestResultsParallel posts 5,000-run payloads from as many
// clients as GOMAXPROCS: what the validation outside the lock buys.
func BenchmarkPostTestResultsParallel(b *testing.B) {
	p := newBenchPoster(b)
	b.SetBytes(int64(p.raw))
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			p.post(b)
		}
	})
	b.StopTimer()
	p.check(b)
}

func (p *benchPoster) check(b *testing.B) {
	tasks := p.c.s.Tasks()
	if int64(len(tasks)) != p.seq.Load() {
		b.Fatalf("%d tasks for %d posts", len(tasks), p.seq.Load())
	}
	for _, t := range tasks {
		if t.Status != TaskSuccess || t.Runs != 5000 {
			b.Fatalf("task %+v", t)
		}
	}
}
