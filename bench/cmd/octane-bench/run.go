package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"syscall"
	"time"

	"github.com/octane-import/octane-import/bench/gen"
	"github.com/octane-import/octane-import/importer/ledger"
)

// size is one corpus of the benchmark.
type size struct {
	Name string
	Spec gen.Spec
	// NoGoJunit leaves out floor: gojunit, which holds a whole report (gigabytes at 2,000,000
	// test cases).
	NoGoJunit bool
	// Paced adds the step of a scan to a stand-in with -paced-latency added to every request
	// and settings.rate_limit -paced-rate (the default 20 requests/s): wall time against the
	// larger of the reading time and the requests at that rate.
	Paced bool
}

// sizes are the corpora, by name. Detail 0.01 makes mostly one-line test cases (~150 bytes
// each, 8 % failing with a message and one frame): the shape of a large generated suite.
var sizes = map[string]size{
	// One build's folder, as a post-build step sees it.
	"post-build": {Name: "post-build", Spec: gen.Spec{Seed: 1, Builds: 1, FilesPerBuild: 20, CasesPerFile: 50}},
	// 50 builds, 1,000 files, ~100,000 test cases, ~100 MB.
	"medium": {Name: "medium", Spec: gen.Spec{Seed: 2, Builds: 50, FilesPerBuild: 20, CasesPerFile: 100}},
	// The backfill: 500 builds, 10,000 files, ~1,000,000 test cases, ~1 GB.
	"backfill": {Name: "backfill", Spec: gen.Spec{Seed: 3, Builds: 500, FilesPerBuild: 20, CasesPerFile: 100}},
	// One report of 200,000 test cases (~31 MB): a monorepo's single report (issue 16).
	"one-report": {Name: "one-report", Spec: gen.Spec{Seed: 6, Builds: 1, FilesPerBuild: 1, CasesPerFile: 200_000, ExactCases: true, Detail: 0.01}},
	// The same ten times larger: 2,000,000 test cases (~310 MB) in one report.
	"one-report-10x": {Name: "one-report-10x", Spec: gen.Spec{Seed: 6, Builds: 1, FilesPerBuild: 1, CasesPerFile: 2_000_000, ExactCases: true, Detail: 0.01}, NoGoJunit: true},
	// 200 builds of 10 reports: 2,000 reports, ~500,000 test cases, ~78 MB (issue 16).
	"tree-2000": {Name: "tree-2000", Spec: gen.Spec{Seed: 7, Builds: 200, FilesPerBuild: 10, CasesPerFile: 250, Detail: 0.01}, Paced: true},
}

// sizeOrder is the order sizes are listed in (the usage of -sizes).
var sizeOrder = []string{"post-build", "medium", "one-report", "tree-2000", "backfill", "one-report-10x"}

// rescanSpec is the imported tree whose rescan measures the ledger lookups: 100,000 small files
// (run -rescan-files changes the number of builds of 100 files).
var rescanSpec = gen.Spec{Seed: 4, Builds: 1000, FilesPerBuild: 100, CasesPerFile: 5, Detail: 0.2}

// rescanSpecFor is rescanSpec with files reports: builds of 100, the last one rounded up (a
// tree of fewer than 100 files is one build).
func rescanSpecFor(files int) gen.Spec {
	s := rescanSpec
	s.FilesPerBuild = max(1, min(files, 100))
	s.Builds = max(1, (files+s.FilesPerBuild-1)/s.FilesPerBuild)
	return s
}

// rescanName names the rescan's rows by the size of its tree: rescan-100k.
func rescanName(s gen.Spec) string {
	n := s.Builds * s.FilesPerBuild
	if n%1000 == 0 {
		return fmt.Sprintf("rescan-%dk", n/1000)
	}
	return fmt.Sprintf("rescan-%d", n)
}

type runOpts struct {
	bin, work, out string
	rate           float64
	concurrency    int
	latency        time.Duration
	pacedRate      float64
	pacedLatency   time.Duration
	keep           bool
	// pg is the server of the steps with the PostgreSQL ledger (nil: none), pgSizes the sizes
	// whose importing steps run with it too, rescanFiles the size of the rescan's tree.
	pg          *pgServer
	pgSizes     map[string]bool
	rescanFiles int
}

// result is one measured step.
type result struct {
	Size   string  `json:"size"`
	Step   string  `json:"step"`
	Wall   float64 `json:"wall_s"`
	CPU    float64 `json:"cpu_s"`
	RSSMiB float64 `json:"peak_rss_mib"`
	Files  int64   `json:"files"`
	Bytes  int64   `json:"bytes"`
	Runs   int64   `json:"runs"`
	Builds int     `json:"builds,omitempty"`
	Load1  string  `json:"load1"` // 1-minute load average when the step started
	Exit   int     `json:"exit"`
	// RatioTokens is the wall time over floor: tokens's (reading and tokenising the reports),
	// RatioReport over floor: report's (package report's Read).
	RatioTokens float64 `json:"ratio_to_tokens,omitempty"`
	RatioReport float64 `json:"ratio_to_report,omitempty"`
	// RatioTokensCPU is the CPU time (the importer's alone) over floor: tokens's: on a shared
	// machine, wall times count waiting for the cores; CPU times much less so.
	RatioTokensCPU float64 `json:"ratio_to_tokens_cpu,omitempty"`
	// LegacyRatio is ratio_to_floor of runs before the token floor: the ratio to floor: report.
	LegacyRatio float64 `json:"ratio_to_floor,omitempty"`
	// Rate and LatencyMS are the scan's settings.rate_limit and the stand-in's added latency.
	Rate      float64 `json:"rate_limit,omitempty"`
	LatencyMS float64 `json:"latency_ms,omitempty"`
	// Bound is, for the paced step, the larger of the reading time (the scan --dry-run wall of
	// the same size) and the requests at the rate limit; RatioBound is the wall time over it.
	Bound      float64 `json:"bound_s,omitempty"`
	RatioBound float64 `json:"ratio_to_bound,omitempty"`
	// Ledger is "postgres" for a step run with the PostgreSQL ledger (a fresh database on the
	// run's -pg server); empty: the embedded bbolt ledger (a fresh file), as before. RatioBbolt
	// is such a step's wall time over the same step's with bbolt in the same run; PostgresCPU
	// the server's CPU time during the step (its processes on this machine).
	Ledger      string         `json:"ledger,omitempty"`
	RatioBbolt  float64        `json:"ratio_to_bbolt,omitempty"`
	PostgresCPU float64        `json:"postgres_cpu_s,omitempty"`
	Summary     map[string]any `json:"summary,omitempty"`
	Standin     *standinStats  `json:"standin,omitempty"`
	Note        string         `json:"note,omitempty"`
}

func runCmd(args []string) error {
	fs := flag.NewFlagSet("run", flag.ExitOnError)
	var o runOpts
	fs.StringVar(&o.bin, "bin", "", "the octane-import binary to measure (required)")
	fs.StringVar(&o.work, "work", filepath.Join(os.TempDir(), "bench-run"), "where corpora and ledgers are written (deleted at the end unless -keep)")
	fs.StringVar(&o.out, "out", "bench/out", "where results are written")
	fs.Float64Var(&o.rate, "rate", 1000, "settings.rate_limit for the scans (requests/s)")
	fs.IntVar(&o.concurrency, "concurrency", 4, "--concurrency of the scans")
	fs.DurationVar(&o.latency, "latency", 50*time.Millisecond, "added latency of the second stand-in")
	fs.Float64Var(&o.pacedRate, "paced-rate", 20, "settings.rate_limit of the paced step (the client's default)")
	fs.DurationVar(&o.pacedLatency, "paced-latency", 100*time.Millisecond, "added latency of the paced step's stand-in")
	fs.BoolVar(&o.keep, "keep", false, "keep the corpora")
	sizeList := fs.String("sizes", "post-build,medium,one-report,tree-2000", "comma-separated: "+strings.Join(sizeOrder, ", "))
	rescan := fs.Bool("rescan", false, "also import a 100,000-file tree and time its rescan")
	fs.IntVar(&o.rescanFiles, "rescan-files", 100_000, "the number of reports in the rescan's tree (builds of 100)")
	pgURL := fs.String("pg", os.Getenv("OCTANE_BENCH_PG"), "a PostgreSQL server, as the URL of a database on it that a user who may create databases connects to\n"+
		"(postgres://USER:PASSWORD@HOST:PORT/postgres; default $OCTANE_BENCH_PG): the importing steps of -pg-sizes\n"+
		"and the rescan run again with --state a fresh database created there, reported as ledger: postgres")
	pgSizes := fs.String("pg-sizes", "backfill", "comma-separated: the sizes (of -sizes) whose importing steps also run with the PostgreSQL ledger of -pg")
	watch := fs.Int("watch", 5, "builds dropped one by one into a watched folder (0: no watch figures)")
	_ = fs.Parse(args)
	if o.bin == "" {
		return fmt.Errorf("run: -bin is required")
	}
	if err := os.MkdirAll(o.out, 0o755); err != nil {
		return err
	}
	if err := os.MkdirAll(o.work, 0o755); err != nil {
		return err
	}
	if !o.keep {
		defer os.RemoveAll(o.work)
	}
	stamp := time.Now().UTC().Format("20060102-150405")
	if *pgURL != "" {
		var err error
		if o.pg, err = openPGServer(*pgURL, stamp, o.keep); err != nil {
			return fmt.Errorf("run: %w", err)
		}
		o.pgSizes = map[string]bool{}
		for _, name := range strings.Split(*pgSizes, ",") {
			if name = strings.TrimSpace(name); name == "" {
				continue
			}
			if _, ok := sizes[name]; !ok {
				return fmt.Errorf("run: -pg-sizes: unknown size %q (sizes: %s)", name, strings.Join(sizeOrder, ", "))
			}
			o.pgSizes[name] = true
		}
	}
	jl, err := os.Create(filepath.Join(o.out, "results-"+stamp+".jsonl"))
	if err != nil {
		return err
	}
	defer jl.Close()
	var all []result
	emit := func(r result) {
		all = append(all, r)
		_ = json.NewEncoder(jl).Encode(r)
		fmt.Fprintf(os.Stderr, "  %-14s %-42s wall %7.2fs cpu %7.2fs rss %6.1f MiB  files %6d runs %8d  load %s%s\n",
			r.Size, stepLabel(r), r.Wall, r.CPU, r.RSSMiB, r.Files, r.Runs, r.Load1, noteSuffix(r.Note))
	}
	for _, name := range strings.Split(*sizeList, ",") {
		if name = strings.TrimSpace(name); name == "" || name == "none" {
			continue
		}
		sz, ok := sizes[name]
		if !ok {
			return fmt.Errorf("run: unknown size %q (sizes: %s)", name, strings.Join(sizeOrder, ", "))
		}
		if err := benchSize(o, sz, emit); err != nil {
			return fmt.Errorf("%s: %w", sz.Name, err)
		}
	}
	if *rescan {
		if err := benchRescan(o, emit); err != nil {
			return fmt.Errorf("rescan: %w", err)
		}
	}
	var wl *watchLatency
	if *watch > 0 {
		if wl, err = benchWatch(o, *watch); err != nil {
			return fmt.Errorf("watch: %w", err)
		}
		_ = json.NewEncoder(jl).Encode(wl)
	}
	md := table(o, all, wl)
	fmt.Print(md)
	return os.WriteFile(filepath.Join(o.out, "results-"+stamp+".md"), []byte(md), 0o644)
}

// stepLabel is the step as the tables show it: with the ledger when it is not the embedded one.
func stepLabel(r result) string {
	if r.Ledger != "" {
		return r.Step + " (ledger: " + r.Ledger + ")"
	}
	return r.Step
}

func noteSuffix(s string) string {
	if s == "" {
		return ""
	}
	return "  (" + s + ")"
}

func load1() string {
	data, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	return strings.Fields(string(data))[0]
}

// measure runs a child process and returns its wall time, CPU time (user+system), peak RSS and
// its stdout. CPU and RSS come from /usr/bin/time (GNU time's %U %S %M, as `time -v` prints them)
// when it is installed: the kernel's ru_maxrss of a child started straight from this process
// would count this process's own RSS, which the child's image shares until it execs. Without
// /usr/bin/time they come from the child's rusage, and a peak RSS below this process's is noise.
func measure(stdout io.Writer, name string, args ...string) (r result, err error) {
	timeFile := ""
	if _, serr := os.Stat("/usr/bin/time"); serr == nil {
		f, ferr := os.CreateTemp("", "octane-bench-time-*")
		if ferr == nil {
			timeFile = f.Name()
			f.Close()
			defer os.Remove(timeFile)
			args = append([]string{"-o", timeFile, "-f", "%U %S %M", name}, args...)
			name = "/usr/bin/time"
		}
	}
	cmd := exec.Command(name, args...)
	cmd.Stdout = stdout
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	cmd.Env = append(os.Environ(), "OCTANE_BENCH_SECRET=sandbox-secret")
	r.Load1 = load1()
	start := time.Now()
	err = cmd.Run()
	r.Wall = time.Since(start).Seconds()
	if cmd.ProcessState != nil {
		r.Exit = cmd.ProcessState.ExitCode()
		r.CPU = (cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()).Seconds()
		if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
			r.RSSMiB = float64(ru.Maxrss) / 1024
		}
	}
	if timeFile != "" {
		data, _ := os.ReadFile(timeFile)
		lines := strings.Split(strings.TrimSpace(string(data)), "\n")
		var user, sys, kb float64
		if n, _ := fmt.Sscanf(lines[len(lines)-1], "%g %g %g", &user, &sys, &kb); n == 3 {
			r.CPU, r.RSSMiB = user+sys, kb/1024
		}
	}
	if err != nil {
		tail := stderr.String()
		if len(tail) > 2000 {
			tail = tail[len(tail)-2000:]
		}
		// The --state of a PostgreSQL step is a URL with a password: hidden, as octane-import
		// hides it.
		err = fmt.Errorf("%s %s: %w\n%s", filepath.Base(name), ledger.RedactURLs(strings.Join(args, " ")), err, ledger.RedactURLs(tail))
	}
	return r, err
}

func self() string {
	p, err := os.Executable()
	if err != nil {
		return os.Args[0]
	}
	return p
}

// generate writes the corpus of one size into dir, saying what it writes and what it wrote.
func (o runOpts) generate(name, dir string, spec gen.Spec) (gen.Stats, error) {
	fmt.Fprintf(os.Stderr, "== %s: generating %d builds × %d files × ~%d cases into %s\n", name, spec.Builds, spec.FilesPerBuild, spec.CasesPerFile, dir)
	st, err := writeCorpus(dir, spec)
	if err != nil {
		return st, err
	}
	fmt.Fprintf(os.Stderr, "   %d reports, %d manifests, %d cases, %.1f MB\n", st.Reports, st.Manifests, st.Cases, float64(st.Bytes)/1e6)
	return st, nil
}

// removeCorpus removes a generated corpus, unless -keep.
func (o runOpts) removeCorpus(dir string) {
	if !o.keep {
		os.RemoveAll(dir)
	}
}

func benchSize(o runOpts, sz size, emit func(result)) error {
	dir := filepath.Join(o.work, sz.Name)
	st, err := o.generate(sz.Name, dir, sz.Spec)
	if err != nil {
		return err
	}
	defer o.removeCorpus(dir)

	// The token floor first: every later step's ratio is to it. The report floor comes after
	// gojunit, so that gojunit's row has no ratio to it (it is not a step of the importer).
	var tokensWall, tokensCPU, reportWall float64
	ratios := func(r *result) {
		if tokensWall > 0 {
			r.RatioTokens = r.Wall / tokensWall
		}
		if tokensCPU > 0 {
			r.RatioTokensCPU = r.CPU / tokensCPU
		}
		if reportWall > 0 {
			r.RatioReport = r.Wall / reportWall
		}
	}
	for _, mode := range []string{"bytes", "tokens", "gojunit", "report", "stream"} {
		if mode == "gojunit" && sz.NoGoJunit {
			continue
		}
		var out bytes.Buffer
		r, err := measure(&out, self(), "floor", "-mode", mode, dir)
		if err != nil {
			return err
		}
		var fr floorResult
		if err := json.Unmarshal(out.Bytes(), &fr); err != nil {
			return fmt.Errorf("floor %s: %w", mode, err)
		}
		r.Size, r.Step, r.Files, r.Bytes, r.Runs, r.Builds = sz.Name, "floor: "+mode, fr.Files, fr.Bytes, fr.Runs, st.Builds
		ratios(&r)
		switch mode {
		case "tokens":
			tokensWall, tokensCPU = r.Wall, r.CPU
			r.Note = "the token floor"
		case "report":
			reportWall = r.Wall
			r.Note = "the parse floor"
		}
		emit(r)
	}

	steps := []sizeStep{
		{name: "scan --dry-run", dryRun: true, rate: o.rate},
		{name: "scan, 0 ms stand-in", rate: o.rate},
		{name: fmt.Sprintf("scan, %s stand-in", o.latency), latency: o.latency, rate: o.rate},
	}
	if sz.Paced {
		steps = append(steps, sizeStep{name: fmt.Sprintf("scan, %s stand-in, %g req/s", o.pacedLatency, o.pacedRate),
			latency: o.pacedLatency, rate: o.pacedRate, paced: true})
	}
	var readWall float64
	for i, step := range steps {
		// Each importing step runs with the embedded ledger, then (for -pg-sizes) with the
		// PostgreSQL one, each from an empty ledger and an empty stand-in: the pair is
		// measured under the same load, one after the other.
		kinds := []string{ledgerBbolt}
		if o.pg != nil && o.pgSizes[sz.Name] && !step.dryRun {
			kinds = append(kinds, ledgerPostgres)
		}
		var bboltWall float64
		for _, kind := range kinds {
			r, err := runSizeStep(o, dir, step, kind, fmt.Sprintf("state-%s-%d.db", sz.Name, i))
			if err != nil {
				return err
			}
			r.Size, r.Step, r.Builds, r.Bytes = sz.Name, step.name, st.Builds, st.Bytes
			r.Rate, r.LatencyMS = step.rate, float64(step.latency)/float64(time.Millisecond)
			ratios(&r)
			if step.dryRun {
				readWall = r.Wall
			}
			if step.paced && r.Standin != nil {
				r.Bound = max(readWall, float64(r.Standin.Requests)/step.rate)
				r.RatioBound = r.Wall / r.Bound
				r.Note = fmt.Sprintf("bound %.2f s = max(reading %.2f s, %d requests / %g per s)", r.Bound, readWall, r.Standin.Requests, step.rate)
			}
			if kind == ledgerBbolt {
				bboltWall = r.Wall
			} else if bboltWall > 0 {
				r.RatioBbolt = r.Wall / bboltWall
			}
			emit(r)
		}
	}
	return nil
}

// sizeStep is one step of a size: a scan, as a dry run or to a stand-in of its own.
type sizeStep struct {
	name    string
	dryRun  bool
	latency time.Duration
	rate    float64
	paced   bool
}

// runSizeStep runs step over dir with an empty ledger of the kind: a new file (named file,
// under the work folder) or a new database on the -pg server, removed afterwards.
func runSizeStep(o runOpts, dir string, step sizeStep, kind, file string) (result, error) {
	l, err := newLedger(o, kind, file)
	if err != nil {
		return result{}, err
	}
	defer l.remove()
	var sp *standinProc
	if !step.dryRun {
		// A stand-in process of its own for each step: its counters, CPU and memory are
		// the step's alone, and the runs of one step do not weigh on the next.
		if sp, err = startStandinProc(step.latency); err != nil {
			return result{}, err
		}
		defer sp.close()
	}
	return l.scan(o, dir, sp, step.rate, step.dryRun)
}

// The ledgers a step runs with (result.Ledger).
const (
	ledgerBbolt    = ""
	ledgerPostgres = "postgres"
)

// stepLedger is the ledger of one step, or of the rescan's three: a new bbolt file, or a new
// database on the -pg server.
type stepLedger struct {
	kind  string
	state string // --state: the file, or the database's URL
	db    string // the database's name (postgres)
	pg    *pgServer
}

func newLedger(o runOpts, kind, file string) (*stepLedger, error) {
	l := &stepLedger{kind: kind}
	switch kind {
	case ledgerBbolt:
		l.state = filepath.Join(o.work, file)
		if err := os.RemoveAll(l.state); err != nil {
			return nil, err
		}
		os.RemoveAll(l.state + ".spool")
	case ledgerPostgres:
		if o.pg == nil {
			return nil, fmt.Errorf("a step with the PostgreSQL ledger, and no -pg server")
		}
		l.pg = o.pg
		var err error
		if l.db, l.state, err = o.pg.create(); err != nil {
			return nil, err
		}
	default:
		return nil, fmt.Errorf("unknown ledger %q", kind)
	}
	return l, nil
}

// scan is scanWith with this ledger; with PostgreSQL, it also measures the server's CPU time.
func (l *stepLedger) scan(o runOpts, dir string, sp *standinProc, rate float64, dryRun bool) (result, error) {
	cpu0 := l.pg.cpu()
	r, err := scanWith(o, dir, sp, rate, dryRun, l.state)
	r.Ledger = l.kind
	if cpu1 := l.pg.cpu(); cpu0 >= 0 && cpu1 >= 0 {
		r.PostgresCPU = cpu1 - cpu0
	}
	return r, err
}

// note says how large the ledger has grown: the file's size, or the database's.
func (l *stepLedger) note() string {
	if l.kind == ledgerPostgres {
		if n, err := l.pg.size(l.db); err == nil {
			return fmt.Sprintf("ledger %.0f MB (pg_database_size)", float64(n)/1e6)
		}
		return ""
	}
	if info, err := os.Stat(l.state); err == nil {
		return fmt.Sprintf("ledger %.0f MB", float64(info.Size())/1e6)
	}
	return ""
}

// remove deletes the ledger (a database is kept with -keep).
func (l *stepLedger) remove() {
	if l.kind == ledgerPostgres {
		if err := l.pg.drop(l.db); err != nil {
			fmt.Fprintln(os.Stderr, "octane-bench:", err)
		}
		return
	}
	os.RemoveAll(l.state)
	os.RemoveAll(l.state + ".spool")
}

// scanWith runs octane-import scan over dir with the ledger state: to the stand-in process sp
// at settings.rate_limit rate, or as a dry run (sp nil: the configuration names an address
// nothing listens on, which a dry run never contacts).
func scanWith(o runOpts, dir string, sp *standinProc, rate float64, dryRun bool, state string) (result, error) {
	url := "http://127.0.0.1:1"
	if sp != nil {
		url = sp.url
		if _, err := sp.stats(true); err != nil { // reset the counters
			return result{}, err
		}
	}
	cfg, err := writeConfig(o, url, rate)
	if err != nil {
		return result{}, err
	}
	args := []string{"scan", "--config", cfg, "--state", state, "--output", "json", "-q", "--concurrency", fmt.Sprint(o.concurrency)}
	if dryRun {
		args = append(args, "--dry-run")
	}
	args = append(args, dir)
	out, err := os.CreateTemp(o.work, "scan-*.jsonl")
	if err != nil {
		return result{}, err
	}
	defer os.Remove(out.Name())
	defer out.Close()
	r, err := measure(out, o.bin, args...)
	if err != nil {
		return r, err
	}
	r.Summary, err = lastLine(out.Name())
	if err != nil {
		return r, err
	}
	if n, ok := r.Summary["files"].(float64); ok {
		r.Files = int64(n)
	}
	if rs, ok := r.Summary["runs"].(map[string]any); ok {
		for _, k := range []string{"passed", "failed", "skipped"} {
			if n, ok := rs[k].(float64); ok {
				r.Runs += int64(n)
			}
		}
	}
	if sp != nil {
		ss, err := sp.stats(false)
		if err != nil {
			return r, err
		}
		r.Standin = &ss
	}
	delete(r.Summary, "builds") // one line per build: too long to keep
	return r, nil
}

// lastLine decodes the last line of a JSON-lines file (the scan's summary).
func lastLine(path string) (map[string]any, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 256<<20)
	var last []byte
	for sc.Scan() {
		last = append(last[:0], sc.Bytes()...)
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	var m map[string]any
	if err := json.Unmarshal(last, &m); err != nil {
		return nil, fmt.Errorf("%s: last line: %w", path, err)
	}
	if m["type"] != "summary" {
		return nil, fmt.Errorf("%s: the last line is not the summary", path)
	}
	return m, nil
}

// writeConfig writes a configuration naming the stand-in as the only target, with one rule for
// the generator's layout ({job}/{build}/TEST-*.xml; the manifests, where present, win).
func writeConfig(o runOpts, url string, rate float64) (string, error) {
	cfg := fmt.Sprintf(`version: 1
targets:
  - name: standin
    url: %s
    shared_space: "1001"
    workspace: "1002"
    client_id: sandbox-client
    client_secret: ${env:OCTANE_BENCH_SECRET}
settings:
  rate_limit: %g
rules:
  - name: bench
    match:
      path: "{job}/{build}/*.xml"
    set:
      server: { instance_id: bench-drops, name: "Benchmark drops", type: file }
      job: "{job}"
      build: "{build}"
`, url, rate)
	path := filepath.Join(o.work, "octane-import.yaml")
	return path, os.WriteFile(path, []byte(cfg), 0o600)
}

// benchRescan imports a tree of small files (rescanSpec, -rescan-files of them) and times its
// rescan and the rescan's dry run: with the embedded ledger, then (with -pg) again from an
// empty Octane with the PostgreSQL ledger.
func benchRescan(o runOpts, emit func(result)) error {
	spec := rescanSpecFor(o.rescanFiles)
	name := rescanName(spec)
	dir := filepath.Join(o.work, "rescan")
	st, err := o.generate(name, dir, spec)
	if err != nil {
		return err
	}
	defer o.removeCorpus(dir)
	kinds := []string{ledgerBbolt}
	if o.pg != nil {
		kinds = append(kinds, ledgerPostgres)
	}
	bbolt := map[string]float64{} // wall time by step
	for _, kind := range kinds {
		err := func() error {
			sp, err := startStandinProc(0)
			if err != nil {
				return err
			}
			defer sp.close()
			l, err := newLedger(o, kind, "state-rescan.db")
			if err != nil {
				return err
			}
			defer l.remove()
			for _, step := range []string{"import (first scan)", "rescan (all imported)", "rescan --dry-run"} {
				dry := strings.HasSuffix(step, "dry-run")
				target := sp
				if dry {
					target = nil
				}
				r, err := l.scan(o, dir, target, o.rate, dry)
				if err != nil {
					return err
				}
				r.Size, r.Step, r.Builds, r.Bytes, r.Rate = name, step, st.Builds, st.Bytes, o.rate
				r.Note = l.note()
				if kind == ledgerBbolt {
					bbolt[step] = r.Wall
				} else if bbolt[step] > 0 {
					r.RatioBbolt = r.Wall / bbolt[step]
				}
				emit(r)
			}
			return nil
		}()
		if err != nil {
			return err
		}
	}
	return nil
}

func table(o runOpts, rs []result, wl *watchLatency) string {
	var b strings.Builder
	host, _ := os.Hostname()
	fmt.Fprintf(&b, "Measured %s on %s (%d CPUs, %s/%s), %s; scans with --concurrency %d and settings.rate_limit %g unless the step says otherwise.\n\n",
		time.Now().UTC().Format("2006-01-02 15:04 UTC"), host, runtime.NumCPU(), runtime.GOOS, runtime.GOARCH, runtime.Version(), o.concurrency, o.rate)
	fmt.Fprintln(&b, "× tokens: wall time over `floor: tokens` (reading the reports and tokenising them with encoding/xml RawToken, GOMAXPROCS files at a time), the floor the ratio targets use; × tokens CPU: CPU time over `floor: tokens`'s (the importer's own, not the stand-in's: on a shared machine, wall time also counts waiting for a core); × report: wall time over `floor: report` (package report's Read); × bound: the paced step's wall time over max(reading time = the size's `scan --dry-run` wall, requests / rate limit). The stand-in Octane runs in a process of its own; stand-in CPU s is that process's.")
	// The columns of the PostgreSQL ledger only in a run that has its steps: the tables of
	// other runs stay as they were.
	pg := false
	for _, r := range rs {
		pg = pg || r.Ledger != ""
	}
	if pg {
		fmt.Fprintln(&b)
		fmt.Fprintln(&b, "Steps marked (ledger: postgres) ran with `--state` a PostgreSQL database, created empty for the step (for the rescan: for its three steps) on the run's server, and a stand-in of their own; the others with the embedded bbolt ledger, a new file. × bbolt: such a step's wall time over the same step's with bbolt, measured just before it; postgres CPU s: the CPU time of the server's processes during the step (CPU s stays the importer's own).")
	}
	fmt.Fprintln(&b)
	head := []string{"size", "step", "wall s", "CPU s", "peak RSS MiB", "files/s", "runs/s", "MB/s", "requests", "req/build", "stand-in CPU s"}
	if pg {
		head = append(head, "postgres CPU s")
	}
	head = append(head, "× tokens", "× tokens CPU", "× report", "× bound")
	if pg {
		head = append(head, "× bbolt")
	}
	head = append(head, "load")
	fmt.Fprintln(&b, "| "+strings.Join(head, " | ")+" |")
	fmt.Fprintln(&b, "|---|---"+strings.Repeat("|---:", len(head)-2)+"|")
	ratio := func(v float64) string {
		if v > 0 {
			return fmt.Sprintf("%.2f", v)
		}
		return ""
	}
	for _, r := range rs {
		req, perBuild, scpu := "", "", ""
		if r.Standin != nil {
			req = fmt.Sprint(r.Standin.Requests)
			if r.Builds > 0 {
				perBuild = fmt.Sprintf("%.1f", float64(r.Standin.Requests)/float64(r.Builds))
			}
			if r.Standin.CPU > 0 {
				scpu = fmt.Sprintf("%.2f", r.Standin.CPU)
			}
		}
		row := []string{r.Size, stepLabel(r), fmt.Sprintf("%.2f", r.Wall), fmt.Sprintf("%.2f", r.CPU), fmt.Sprintf("%.1f", r.RSSMiB),
			fmt.Sprintf("%.0f", float64(r.Files)/r.Wall), fmt.Sprintf("%.0f", float64(r.Runs)/r.Wall), fmt.Sprintf("%.1f", float64(r.Bytes)/1e6/r.Wall),
			req, perBuild, scpu}
		if pg {
			pcpu := ""
			if r.PostgresCPU > 0 {
				pcpu = fmt.Sprintf("%.2f", r.PostgresCPU)
			}
			row = append(row, pcpu)
		}
		row = append(row, ratio(r.RatioTokens), ratio(r.RatioTokensCPU), ratio(r.RatioReport), ratio(r.RatioBound))
		if pg {
			row = append(row, ratio(r.RatioBbolt))
		}
		row = append(row, r.Load1)
		fmt.Fprintln(&b, "| "+strings.Join(row, " | ")+" |")
	}
	if pg {
		fmt.Fprintln(&b)
		fmt.Fprintln(&b, "The PostgreSQL ledger against the embedded one:")
		fmt.Fprintln(&b)
		for _, r := range rs {
			if r.Ledger == "" || r.RatioBbolt == 0 {
				continue
			}
			server := ""
			if r.PostgresCPU > 0 {
				server = fmt.Sprintf("; the server's CPU %.2f s", r.PostgresCPU)
			}
			fmt.Fprintf(&b, "- %s, %s: %.2f s against %.2f s with bbolt = %.2f ×; the importer's CPU %.2f s%s%s\n",
				r.Size, r.Step, r.Wall, r.Wall/r.RatioBbolt, r.RatioBbolt, r.CPU, server, noteSuffix(r.Note))
		}
	}
	for _, r := range rs {
		if r.RatioBound > 0 {
			fmt.Fprintf(&b, "\nPaced (%s, %s): %.2f s against a bound of %.2f s (%s): %.2f ×.\n", r.Size, stepLabel(r), r.Wall, r.Bound, r.Note, r.RatioBound)
		}
	}
	fmt.Fprintln(&b)
	fmt.Fprintln(&b, "Requests the stand-in saw, by route, and how busy the client kept it:")
	fmt.Fprintln(&b)
	for _, r := range rs {
		if r.Standin == nil || r.Standin.Requests == 0 {
			continue
		}
		s := r.Standin
		span := s.Last.Sub(s.First).Seconds()
		routes := make([]string, 0, len(s.ByRoute))
		for k, v := range s.ByRoute {
			routes = append(routes, fmt.Sprintf("%s %d", k, v))
		}
		sort.Strings(routes)
		latency := time.Duration(r.LatencyMS * float64(time.Millisecond))
		if r.LatencyMS == 0 && o.latency > 0 && strings.Contains(r.Step, o.latency.String()) {
			latency = o.latency // a run from before latency_ms was recorded
		}
		busy := ""
		if latency > 0 {
			ideal := float64(o.concurrency) / latency.Seconds()
			busy = fmt.Sprintf(" = %.0f %% of concurrency/latency (%.0f req/s)", 100*float64(s.Requests)/span/ideal, ideal)
		}
		fmt.Fprintf(&b, "- %s, %s: %d requests in %.2f s (from the first request to the last answer; the scan's other %.2f s read and recorded before it or finished after) = %.1f req/s%s; mean in flight %.2f, peak %d; stand-in peak RSS %.0f MiB; %s\n",
			r.Size, stepLabel(r), s.Requests, span, r.Wall-span, float64(s.Requests)/span, busy, s.BusySeconds/span, s.PeakFlight, s.PeakRSSMiB, strings.Join(routes, ", "))
	}
	if wl != nil {
		fmt.Fprintln(&b)
		fmt.Fprintf(&b, "Watch (--settle %s, event mode): %d builds of %d files dropped one at a time; from the last file written to every file imported: median %.2f s, max %.2f s; the watcher's own batch latency gauge (complete → Octane's answer) last %.3f s; load %s.\n",
			wl.Settle, len(wl.Latencies), wl.FilesPerBuild, wl.Median, wl.Max, wl.LastBatch, wl.Load1)
	}
	return b.String()
}

// tableCmd prints the Markdown table of a results-*.jsonl file written by run.
func tableCmd(args []string) error {
	fs := flag.NewFlagSet("table", flag.ExitOnError)
	var o runOpts
	fs.Float64Var(&o.rate, "rate", 1000, "settings.rate_limit the run used")
	fs.IntVar(&o.concurrency, "concurrency", 4, "--concurrency the run used")
	fs.DurationVar(&o.latency, "latency", 50*time.Millisecond, "added latency the run used")
	_ = fs.Parse(args)
	if fs.NArg() != 1 {
		return fmt.Errorf("table: one results-*.jsonl file")
	}
	data, err := os.ReadFile(fs.Arg(0))
	if err != nil {
		return err
	}
	rs, wl, err := parseResults(data)
	if err != nil {
		return err
	}
	fmt.Print(table(o, rs, wl))
	return nil
}

// parseResults reads the lines of a results-*.jsonl file: the steps, and the watch figures.
func parseResults(data []byte) ([]result, *watchLatency, error) {
	var rs []result
	var wl *watchLatency
	for _, line := range bytes.Split(bytes.TrimSpace(data), []byte("\n")) {
		if bytes.Contains(line, []byte(`"latencies_s"`)) {
			wl = &watchLatency{}
			if err := json.Unmarshal(line, wl); err != nil {
				return nil, nil, err
			}
			s := append([]float64(nil), wl.Latencies...)
			sort.Float64s(s)
			if len(s) > 0 {
				wl.Median, wl.Max = s[len(s)/2], s[len(s)-1]
			}
			continue
		}
		var r result
		if err := json.Unmarshal(line, &r); err != nil {
			return nil, nil, err
		}
		if r.RatioTokens == 0 && r.RatioReport == 0 && r.LegacyRatio > 0 {
			r.RatioReport = r.LegacyRatio // runs before the token floor measured against floor: report
		}
		rs = append(rs, r)
	}
	return rs, wl, nil
}
