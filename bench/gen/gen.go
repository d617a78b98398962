// Package gen writes a deterministic corpus of CI results for the benchmarks: builds of JUnit
// XML reports with realistic names, nested suites, properties, failures with stack traces,
// skipped tests, captured output, and a build manifest (octane-build.yaml) next to most
// builds' reports. The same Spec gives the same bytes, file by file, on every machine: each
// file draws from its own random stream seeded by (Seed, build, file), so files can also be
// written in parallel.
//
// Layout, which the built-in default rule of octane-import maps as job = grandparent folder,
// build = parent folder:
//
//	DIR/<job>/<build>/octane-build.yaml        (9 builds in 10)
//	DIR/<job>/<build>/TEST-<package>.<Class>.xml
package gen

import (
	"bufio"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"time"
)

// Spec says what to write.
type Spec struct {
	Seed          uint64
	Builds        int // builds, spread over Jobs jobs
	Jobs          int // default min(Builds, 8)
	FilesPerBuild int // JUnit reports per build
	CasesPerFile  int // test cases per report (mean; each file draws within ±20 %, unless ExactCases)
	// ExactCases gives every report exactly CasesPerFile test cases (a single large report of a
	// known size, such as the 200,000-case report of the one-report benchmark).
	ExactCases bool
	// Detail scales the size of a test case (stack traces, captured output): 1 (the default)
	// gives about 1 KB per test case on average, 0.1 gives mostly one-line test cases.
	Detail float64
}

func (s Spec) withDefaults() Spec {
	if s.Jobs <= 0 {
		s.Jobs = min(max(s.Builds, 1), 8)
	}
	if s.Detail <= 0 {
		s.Detail = 1
	}
	if s.FilesPerBuild <= 0 {
		s.FilesPerBuild = 1
	}
	if s.CasesPerFile <= 0 {
		s.CasesPerFile = 1
	}
	return s
}

// Stats is what Write wrote.
type Stats struct {
	Builds    int   `json:"builds"`
	Manifests int   `json:"manifests"`
	Reports   int   `json:"reports"`
	Cases     int   `json:"cases"` // testcase elements, i.e. the runs octane-import will find
	Failed    int   `json:"failed"`
	Skipped   int   `json:"skipped"`
	Bytes     int64 `json:"bytes"` // reports and manifests
}

func (s *Stats) add(o Stats) {
	s.Builds += o.Builds
	s.Manifests += o.Manifests
	s.Reports += o.Reports
	s.Cases += o.Cases
	s.Failed += o.Failed
	s.Skipped += o.Skipped
	s.Bytes += o.Bytes
}

// Write writes the corpus under dir (created if needed), using every CPU.
func Write(dir string, spec Spec) (Stats, error) {
	spec = spec.withDefaults()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return Stats{}, err
	}
	type job struct{ b int }
	work := make(chan job)
	var mu sync.Mutex
	var total Stats
	var firstErr error
	var wg sync.WaitGroup
	for range runtime.GOMAXPROCS(0) {
		wg.Go(func() {
			for j := range work {
				st, err := writeBuild(dir, spec, j.b)
				mu.Lock()
				total.add(st)
				if err != nil && firstErr == nil {
					firstErr = err
				}
				mu.Unlock()
			}
		})
	}
	for b := range spec.Builds {
		work <- job{b}
	}
	close(work)
	wg.Wait()
	return total, firstErr
}

// BuildDir is the folder of build b, relative to the corpus root.
func BuildDir(spec Spec, b int) string {
	spec = spec.withDefaults()
	j := b % spec.Jobs
	return filepath.Join(jobName(spec.Seed, j), fmt.Sprint(1000+b/spec.Jobs))
}

// rng is the random stream of one (build, file) pair; file -1 is the build itself.
func rng(seed uint64, b, f int) *rand.Rand {
	return rand.New(rand.NewPCG(seed, uint64(b)<<32|uint64(uint32(f))))
}

var (
	teams    = []string{"payments", "ledger", "search", "checkout", "identity", "catalog", "shipping", "billing", "reports", "mobile"}
	layers   = []string{"api", "service", "repository", "domain", "web", "client", "util", "config", "batch", "events"}
	nouns    = []string{"Account", "Invoice", "Order", "Customer", "Payment", "Refund", "Ledger", "Entry", "Currency", "Session", "Token", "Cart", "Product", "Price", "Tax", "Shipment", "Address", "Report", "Index", "Query", "Cache", "Event", "Schedule", "Policy", "Rate", "Balance", "Transfer", "Statement", "Discount", "Coupon"}
	suffixes = []string{"Service", "Repository", "Controller", "Validator", "Mapper", "Handler", "Client", "Resolver", "Calculator", "Parser", "Builder", "Factory", "Policy", "Scheduler", "Converter"}
	verbs    = []string{"creates", "rejects", "updates", "deletes", "finds", "lists", "computes", "validates", "parses", "formats", "rounds", "converts", "retries", "caches", "expires", "locks", "merges", "splits", "reverses", "exports", "imports", "notifies", "schedules", "publishes"}
	objects  = []string{"Entry", "EmptyInput", "NullAmount", "NegativeBalance", "DuplicateRequest", "ExpiredToken", "LargePayload", "UnicodeName", "ConcurrentUpdate", "MissingField", "ZeroQuantity", "ForeignCurrency", "LeapDay", "EndOfMonth", "TimeoutOnRemote", "PartialRefund", "ClosedPeriod", "InvalidChecksum", "StaleCache", "BatchOfThousand"}
	quals    = []string{"", "", "", "WhenDisabled", "OnRetry", "ForAdmin", "InStrictMode", "AfterMigration", "WithDefaults", "UnderLoad"}
	excs     = []string{"org.opentest4j.AssertionFailedError", "java.lang.AssertionError", "java.lang.NullPointerException", "java.lang.IllegalStateException", "java.lang.IllegalArgumentException", "java.util.concurrent.TimeoutException", "org.mockito.exceptions.verification.WantedButNotInvoked"}
	frames   = []string{"org.junit.jupiter.api.AssertionUtils.fail(AssertionUtils.java:55)", "org.junit.jupiter.api.AssertEquals.failNotEqual(AssertEquals.java:197)", "org.junit.jupiter.api.Assertions.assertEquals(Assertions.java:182)", "java.base/jdk.internal.reflect.DirectMethodHandleAccessor.invoke(DirectMethodHandleAccessor.java:103)", "java.base/java.lang.reflect.Method.invoke(Method.java:580)", "org.junit.platform.commons.util.ReflectionUtils.invokeMethod(ReflectionUtils.java:728)", "org.junit.jupiter.engine.execution.MethodInvocation.proceed(MethodInvocation.java:60)", "org.junit.jupiter.engine.execution.InvocationInterceptorChain$ValidatingInvocation.proceed(InvocationInterceptorChain.java:131)", "org.junit.jupiter.engine.extension.TimeoutExtension.intercept(TimeoutExtension.java:156)", "org.junit.jupiter.engine.descriptor.TestMethodTestDescriptor.invokeTestMethod(TestMethodTestDescriptor.java:218)", "org.junit.platform.engine.support.hierarchical.ThrowableCollector.execute(ThrowableCollector.java:73)", "org.junit.platform.engine.support.hierarchical.NodeTestTask.executeRecursively(NodeTestTask.java:141)", "org.junit.platform.engine.support.hierarchical.Node.around(Node.java:137)", "java.base/java.util.ArrayList.forEach(ArrayList.java:1596)", "org.apache.maven.surefire.junitplatform.JUnitPlatformProvider.invokeAllTests(JUnitPlatformProvider.java:154)", "org.apache.maven.surefire.booter.ForkedBooter.runSuitesInProcess(ForkedBooter.java:385)", "org.apache.maven.surefire.booter.ForkedBooter.main(ForkedBooter.java:495)"}
	levels   = []string{"INFO", "INFO", "INFO", "DEBUG", "WARN"}
)

func pick[T any](r *rand.Rand, list []T) T { return list[r.IntN(len(list))] }

func jobName(seed uint64, j int) string {
	r := rng(seed, -1-j, -1)
	return fmt.Sprintf("%s-%s-%d", pick(r, teams), pick(r, []string{"unit", "integration", "e2e", "contract"}), j)
}

// base is the start of build 0; build b starts b*37 minutes later.
var base = time.Date(2025, 1, 6, 8, 0, 0, 0, time.UTC)

// WriteBuild writes build b of the corpus alone (watch benchmarks drop builds one by one).
func WriteBuild(dir string, spec Spec, b int) (Stats, error) {
	return writeBuild(dir, spec.withDefaults(), b)
}

func writeBuild(dir string, spec Spec, b int) (Stats, error) {
	st := Stats{Builds: 1}
	bdir := filepath.Join(dir, BuildDir(spec, b))
	if err := os.MkdirAll(bdir, 0o755); err != nil {
		return st, err
	}
	j := b % spec.Jobs
	job := jobName(spec.Seed, j)
	buildID := filepath.Base(bdir)
	started := base.Add(time.Duration(b) * 37 * time.Minute)
	r := rng(spec.Seed, b, -1)
	team := strings.SplitN(job, "-", 2)[0]
	if r.IntN(10) != 0 {
		m := manifestYAML(team, job, buildID, started, r)
		if err := os.WriteFile(filepath.Join(bdir, "octane-build.yaml"), []byte(m), 0o644); err != nil {
			return st, err
		}
		st.Manifests++
		st.Bytes += int64(len(m))
	}
	used := map[string]bool{}
	for f := range spec.FilesPerBuild {
		fst, err := writeReport(bdir, spec, team, b, f, started, used)
		st.add(fst)
		if err != nil {
			return st, err
		}
	}
	return st, nil
}

func manifestYAML(team, job, build string, started time.Time, r *rand.Rand) string {
	var sb strings.Builder
	fmt.Fprintf(&sb, `# Written by the %q job next to its reports (generated by bench/gen).
version: 1
server:
  instance_id: jenkins-%s
  name: %s Jenkins
  type: jenkins
  url: https://jenkins.%s.example.com/
pipeline:
  name: %s
  root_job: %s-pipeline
job:
  id: %s
build:
  id: %q
  name: "#%s"
  started: %s
  duration: %dms
  status: finished
parameters:
  - name: BRANCH
    type: string
    value: %s
causes:
  - job: %s-pipeline
    build: "%d"
reports:
  - "TEST-*.xml"
environment:
  OS: Linux
  JDK: "21"
test_fields:
  Test_Level: %s
  Framework: JUnit
`, job, team, team, team, team, team, job, build, build, started.Format(time.RFC3339), 60000+r.IntN(600000),
		pick(r, []string{"main", "main", "main", "release/2026.1", "feature/PAY-1234"}), team, 300+r.IntN(5000),
		pick(r, []string{"Unit Test", "Integration Test", "System Test"}))
	return sb.String()
}

// writeReport writes one Surefire-style report; one in four is a <testsuites> with nested suites
// (JUnit 5 nested classes as Gradle or Jest-like runners write them).
func writeReport(bdir string, spec Spec, team string, b, f int, started time.Time, used map[string]bool) (Stats, error) {
	r := rng(spec.Seed, b, f)
	var pkg, class string
	for {
		pkg = fmt.Sprintf("com.acme.%s.%s", team, pick(r, layers))
		class = pick(r, nouns) + pick(r, suffixes) + "Test"
		if !used[pkg+"."+class] {
			used[pkg+"."+class] = true
			break
		}
		class += fmt.Sprint(f) // very small name space: make it unique
		if !used[pkg+"."+class] {
			used[pkg+"."+class] = true
			break
		}
	}
	name := "TEST-" + pkg + "." + class + ".xml"
	path := filepath.Join(bdir, name)
	return streamTo(path, func(w *bufio.Writer) Stats {
		return writeSurefire(w, r, spec, team, pkg, class, f, started)
	})
}

// writeSurefire writes the report of writeReport.
func writeSurefire(w *bufio.Writer, r *rand.Rand, spec Spec, team, pkg, class string, f int, started time.Time) Stats {
	n := spec.CasesPerFile
	if n > 4 {
		// Drawn even when ExactCases, so that the rest of the file's stream is the same.
		if k := n*8/10 + r.IntN(n*4/10+1); !spec.ExactCases {
			n = k
		}
	}
	st := Stats{Reports: 1, Cases: n}
	ts := started.Add(time.Duration(f) * 3 * time.Second)
	nested := r.IntN(4) == 0
	fmt.Fprintln(w, `<?xml version="1.0" encoding="UTF-8"?>`)
	if nested {
		fmt.Fprintf(w, "<testsuites name=%q tests=\"%d\">\n", pkg+"."+class, n)
	}
	inner := 0
	if nested {
		inner = 1 + r.IntN(3)
	}
	fmt.Fprintf(w, `<testsuite xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" name="%s.%s" time="%.3f" tests="%d" errors="0" skipped="0" failures="0" timestamp="%s" hostname="build-agent-%02d">`+"\n",
		pkg, class, float64(n)*0.05, n, ts.Format("2006-01-02T15:04:05"), r.IntN(40))
	fmt.Fprintf(w, `  <properties>
    <property name="java.version" value="21.0.%d"/>
    <property name="os.name" value="Linux"/>
    <property name="branch" value="main"/>
    <property name="surefire.test.class.path" value="/var/lib/jenkins/workspace/%s/target/test-classes:/var/lib/jenkins/workspace/%s/target/classes"/>
  </properties>
`, r.IntN(6), team, team)
	perInner := 0
	if inner > 0 {
		perInner = n / (inner + 1)
	}
	if perInner == 0 {
		inner = 0
	}
	names := map[string]bool{} // a class's test names are unique, as a compiler makes them
	for i := range n {
		cls := pkg + "." + class
		if inner > 0 && i >= perInner && (i-perInner)%perInner == 0 && (i-perInner)/perInner < inner {
			if i > perInner {
				fmt.Fprintln(w, "  </testsuite>")
			}
			fmt.Fprintf(w, "  <testsuite name=\"%s$%s\" tests=\"%d\">\n", cls, pick(r, []string{"WhenEmpty", "WithCache", "Concurrency", "EdgeCases"}), perInner)
		}
		st.add(writeCase(w, r, spec.Detail, cls, i, names))
	}
	if inner > 0 && n > perInner {
		fmt.Fprintln(w, "  </testsuite>")
	}
	if r.IntN(3) == 0 {
		fmt.Fprintf(w, "  <system-out><![CDATA[%s]]></system-out>\n", logLines(r, ts, 3+r.IntN(8)))
	}
	fmt.Fprintln(w, "</testsuite>")
	if nested {
		fmt.Fprintln(w, "</testsuites>")
	}
	return st
}

// streamTo creates the file at path and writes it through a 64 KiB buffer with write,
// which returns what it wrote; the bytes are counted here.
func streamTo(path string, write func(w *bufio.Writer) Stats) (Stats, error) {
	f, err := os.Create(path)
	if err != nil {
		return Stats{}, err
	}
	cw := &countWriter{w: f}
	w := bufio.NewWriterSize(cw, 64<<10)
	st := write(w)
	err = w.Flush()
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	st.Bytes = cw.n
	if err != nil {
		return st, fmt.Errorf("%s: %w", path, err)
	}
	return st, nil
}

func writeCase(w *bufio.Writer, r *rand.Rand, detail float64, cls string, i int, names map[string]bool) Stats {
	var st Stats
	name := pick(r, verbs) + pick(r, objects) + pick(r, quals)
	if r.IntN(8) == 0 {
		name += fmt.Sprintf("(%d)", i) // parameterised
	} else if r.IntN(2) == 0 || names[name] {
		// A repeated name would be a rerun of the same test (octane-import merges those).
		name += fmt.Sprint(i)
	}
	names[name] = true
	fmt.Fprintf(w, `    <testcase name="%s" classname="%s" time="%.3f"`, name, cls, r.ExpFloat64()*0.08)
	roll := r.IntN(100)
	out := r.Float64() < 0.4*detail
	switch {
	case roll < 6: // failure
		st.Failed++
		exc := pick(r, excs)
		fmt.Fprintf(w, ">\n      <failure message=\"expected: &lt;%d&gt; but was: &lt;%d&gt;\" type=\"%s\">%s: expected: &lt;%d&gt; but was: &lt;%d&gt;\n", i, i+1+r.IntN(9), exc, exc, i, i+1)
		writeStack(w, r, detail, cls, name)
		fmt.Fprintln(w, "</failure>")
	case roll < 8: // error
		st.Failed++
		exc := pick(r, excs)
		fmt.Fprintf(w, ">\n      <error message=\"Cannot invoke &quot;%s.get()&quot; because value is null\" type=\"%s\">%s: Cannot invoke &quot;%s.get()&quot; because value is null\n", pick(r, nouns), exc, exc, pick(r, nouns))
		writeStack(w, r, detail, cls, name)
		fmt.Fprintln(w, "</error>")
	case roll < 11: // skipped
		st.Skipped++
		fmt.Fprintf(w, ">\n      <skipped message=\"%s\"/>\n", pick(r, []string{"disabled until PAY-2211 is fixed", "assumption failed: runs only on CI", "flaky on ARM"}))
	default:
		if !out {
			fmt.Fprintln(w, "/>")
			return st
		}
		fmt.Fprintln(w, ">")
	}
	if out {
		fmt.Fprintf(w, "      <system-out><![CDATA[%s]]></system-out>\n", logLines(r, base.Add(time.Duration(i)*time.Second), 6+r.IntN(17)))
	}
	fmt.Fprintln(w, "    </testcase>")
	return st
}

func writeStack(w *bufio.Writer, r *rand.Rand, detail float64, cls, name string) {
	fmt.Fprintf(w, "\tat %s.%s(%s.java:%d)\n", cls, strings.SplitN(name, "(", 2)[0], cls[strings.LastIndexByte(cls, '.')+1:], 20+r.IntN(400))
	n := int(float64(24+r.IntN(36)) * detail)
	for k := range n {
		fmt.Fprintf(w, "\tat %s\n", frames[(k+r.IntN(3))%len(frames)])
	}
}

func logLines(r *rand.Rand, t time.Time, n int) string {
	var sb strings.Builder
	for k := range n {
		fmt.Fprintf(&sb, "%s %-5s [main] c.a.%s - %s %s id=%d in %d ms\n", t.Add(time.Duration(k)*13*time.Millisecond).Format("15:04:05.000"),
			pick(r, levels), pick(r, nouns), pick(r, []string{"processed", "loaded", "stored", "sent", "skipped"}), pick(r, nouns), r.IntN(1e6), r.IntN(300))
	}
	return sb.String()
}

type countWriter struct {
	w interface{ Write([]byte) (int, error) }
	n int64
}

func (c *countWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}
