package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/octane-import/octane-import/internal/testkit"
)

// TestTablePostgres: a run with steps on the PostgreSQL ledger shows them as (ledger:
// postgres) with the server's CPU time and the ratio to the same step on bbolt, and lists
// the pairs under the table; the CPU columns the table always had stay.
func TestTablePostgres(t *testing.T) {
	rs := []result{
		{Size: "backfill", Step: "scan, 0 ms stand-in", Wall: 30, CPU: 20, RSSMiB: 100, Files: 10, Runs: 1000, Bytes: 1e6, Load1: "1.00",
			Standin: &standinStats{Requests: 1532, CPU: 5}},
		{Size: "backfill", Step: "scan, 0 ms stand-in", Ledger: "postgres", Wall: 36, CPU: 22, RSSMiB: 90, Files: 10, Runs: 1000, Bytes: 1e6, Load1: "1.10",
			PostgresCPU: 7.5, RatioBbolt: 1.2, Standin: &standinStats{Requests: 1532, CPU: 5}},
		{Size: "rescan-100k", Step: "rescan (all imported)", Ledger: "postgres", Wall: 2.5, CPU: 3, RatioBbolt: 0.5, Note: "ledger 300 MB (pg_database_size)"},
	}
	md := table(runOpts{concurrency: 4, rate: 1000, latency: 50 * time.Millisecond}, rs, nil)
	for _, want := range []string{
		"| size | step | wall s | CPU s | peak RSS MiB | files/s | runs/s | MB/s | requests | req/build | stand-in CPU s | postgres CPU s | × tokens | × tokens CPU | × report | × bound | × bbolt | load |",
		"|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
		"| backfill | scan, 0 ms stand-in | 30.00 | 20.00 | 100.0 |",
		"| 1532 |  | 5.00 |  |  |  |  |  |  | 1.00 |",
		"| backfill | scan, 0 ms stand-in (ledger: postgres) | 36.00 | 22.00 | 90.0 |",
		"| 1532 |  | 5.00 | 7.50 |  |  |  |  | 1.20 | 1.10 |",
		"- backfill, scan, 0 ms stand-in: 36.00 s against 30.00 s with bbolt = 1.20 ×; the importer's CPU 22.00 s; the server's CPU 7.50 s",
		"- rescan-100k, rescan (all imported): 2.50 s against 5.00 s with bbolt = 0.50 ×; the importer's CPU 3.00 s  (ledger 300 MB (pg_database_size))",
		"- backfill, scan, 0 ms stand-in (ledger: postgres): 1532 requests",
	} {
		if !strings.Contains(md, want) {
			t.Errorf("the table lacks %q:\n%s", want, md)
		}
	}
	// Every row has as many cells as the header.
	for _, line := range strings.Split(md, "\n") {
		if strings.HasPrefix(line, "| ") || strings.HasPrefix(line, "|---") {
			if n := strings.Count(line, "|"); n != 19 {
				t.Errorf("%d cells, want 18: %s", n-1, line)
			}
		}
	}
	// A run without them has the table it always had.
	md = table(runOpts{concurrency: 4, rate: 1000}, rs[:1], nil)
	if strings.Contains(md, "postgres") || strings.Contains(md, "× bbolt") ||
		!strings.Contains(md, "| stand-in CPU s | × tokens | × tokens CPU | × report | × bound | load |") {
		t.Errorf("a run without the PostgreSQL ledger:\n%s", md)
	}
	// The results file keeps the ledger, the ratio and the server's CPU time.
	data := []byte(`{"size":"backfill","step":"scan, 0 ms stand-in","wall_s":36,"ledger":"postgres","ratio_to_bbolt":1.2,"postgres_cpu_s":7.5}`)
	got, _, err := parseResults(data)
	if err != nil || len(got) != 1 || got[0].Ledger != "postgres" || got[0].RatioBbolt != 1.2 || got[0].PostgresCPU != 7.5 {
		t.Errorf("parseResults: %+v, %v", got, err)
	}
}

// TestRescanSpec: -rescan-files makes builds of 100 reports, the default the 100,000 of
// docs/performance.md.
func TestRescanSpec(t *testing.T) {
	for _, c := range []struct {
		files, builds, per int
		name               string
	}{
		{100_000, 1000, 100, "rescan-100k"},
		{2000, 20, 100, "rescan-2k"},
		{250, 3, 100, "rescan-300"},
		{40, 1, 40, "rescan-40"},
		{0, 1, 1, "rescan-1"},
	} {
		s := rescanSpecFor(c.files)
		if s.Builds != c.builds || s.FilesPerBuild != c.per || rescanName(s) != c.name || s.Seed != rescanSpec.Seed || s.CasesPerFile != rescanSpec.CasesPerFile {
			t.Errorf("%d files: %d × %d, %s (%+v); want %d × %d, %s", c.files, s.Builds, s.FilesPerBuild, rescanName(s), s, c.builds, c.per, c.name)
		}
	}
}

// TestProcStat reads this process's /proc/PID/stat: its parent and a CPU time.
func TestProcStat(t *testing.T) {
	if _, err := os.Stat("/proc/self/stat"); err != nil {
		t.Skip("no /proc")
	}
	ppid, cpu, err := procStat(os.Getpid())
	if err != nil || ppid != os.Getppid() || cpu < 0 {
		t.Errorf("procStat: ppid %d (want %d), cpu %g, %v", ppid, os.Getppid(), cpu, err)
	}
	if _, _, err := procStat(-1); err == nil {
		t.Error("procStat(-1): no error")
	}
}

// TestPGServer, against a real PostgreSQL: each step's database is new and empty, named by
// the run, reachable at the URL given; its size is known; it is dropped afterwards (kept with
// -keep); the server's CPU time is measured and grows with its work; a URL that cannot work
// is refused at once with a message that names the server without its password.
func TestPGServer(t *testing.T) {
	srv := testkit.NeedPostgres(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	s, err := openPGServer(srv.URL("postgres"), "20260101-120000", false)
	if err != nil {
		t.Fatal(err)
	}
	if s.postmaster == 0 {
		t.Error("the server runs on this machine, and its process was not found")
	}
	query := func(url, sql string, args ...any) (n int64, err error) {
		conn, err := pgx.Connect(ctx, url)
		if err != nil {
			return 0, err
		}
		defer conn.Close(ctx)
		return n, conn.QueryRow(ctx, sql, args...).Scan(&n)
	}
	name1, url1, err := s.create()
	if err != nil {
		t.Fatal(err)
	}
	name2, url2, err := s.create()
	if err != nil {
		t.Fatal(err)
	}
	if name1 != "octane_bench_20260101_120000_1" || name2 != "octane_bench_20260101_120000_2" {
		t.Errorf("databases %s, %s", name1, name2)
	}
	if want := srv.URL(name1); url1 != want {
		t.Errorf("URL %s, want %s", url1, want)
	}
	for _, u := range []string{url1, url2} {
		// Empty: no tables but the system's.
		n, err := query(u, `SELECT count(*) FROM pg_tables WHERE schemaname NOT IN ('pg_catalog', 'information_schema')`)
		if err != nil || n != 0 {
			t.Errorf("%s: %d tables, %v", u, n, err)
		}
	}
	conn, err := pgx.Connect(ctx, url1)
	if err != nil {
		t.Fatal(err)
	}
	cpu0 := s.cpu()
	if _, err := conn.Exec(ctx, `CREATE TABLE t AS SELECT g, md5(g::text) AS h FROM generate_series(1, 300000) g`); err != nil {
		t.Fatal(err)
	}
	conn.Close(ctx)
	if cpu1 := s.cpu(); cpu0 < 0 || cpu1-cpu0 < 0.05 {
		t.Errorf("the server's CPU time %g s, then %g s after hashing 300,000 rows", cpu0, cpu1)
	}
	size1, err := s.size(name1)
	if err != nil || size1 < 10e6 {
		t.Errorf("size of %s with a 300,000-row table: %d, %v", name1, size1, err)
	}
	// A session left open (the server may not have ended the importer's yet) does not stop
	// the drop.
	open, err := pgx.Connect(ctx, url2)
	if err != nil {
		t.Fatal(err)
	}
	defer open.Close(ctx)
	for _, name := range []string{name1, name2} {
		if err := s.drop(name); err != nil {
			t.Error(err)
		}
	}
	if n, err := query(srv.URL("postgres"), `SELECT count(*) FROM pg_database WHERE datname LIKE 'octane_bench_%'`); err != nil || n != 0 {
		t.Errorf("%d databases left after the drops, %v", n, err)
	}
	// With -keep, they stay.
	keep, err := openPGServer(srv.URL("postgres"), "20260101-120001", true)
	if err != nil {
		t.Fatal(err)
	}
	name3, _, err := keep.create()
	if err != nil {
		t.Fatal(err)
	}
	if err := keep.drop(name3); err != nil {
		t.Fatal(err)
	}
	if n, err := query(srv.URL("postgres"), `SELECT count(*) FROM pg_database WHERE datname = $1`, name3); err != nil || n != 1 {
		t.Errorf("-keep: %d databases %s, %v", n, name3, err)
	}

	admin, err := pgx.Connect(ctx, srv.URL("postgres"))
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close(ctx)
	if _, err := admin.Exec(ctx, "DROP DATABASE "+name3); err != nil {
		t.Fatal(err)
	}

	// URLs that cannot work.
	if _, err := admin.Exec(ctx, `CREATE ROLE bench_nocreate LOGIN PASSWORD 'secret-nocreate'`); err != nil {
		t.Fatal(err)
	}
	wrong := strings.Replace(srv.URL("postgres"), srv.Password(), "not-the-password", 1)
	noCreate := strings.Replace(strings.Replace(srv.URL("postgres"), srv.Password(), "secret-nocreate", 1), "//ledger:", "//bench_nocreate:", 1)
	for _, c := range []struct{ url, secret, want string }{
		{"http://127.0.0.1:1/x", "", "not a postgres://"},
		{"host=127.0.0.1 dbname=postgres", "", "not a postgres://"},
		{wrong, "not-the-password", "password authentication failed"},
		{noCreate, "secret-nocreate", "may not create databases"},
	} {
		_, err := openPGServer(c.url, "20260101-120002", false)
		if err == nil || !strings.Contains(err.Error(), c.want) || (c.secret != "" && strings.Contains(err.Error(), c.secret)) {
			t.Errorf("openPGServer(%s): %v; want an error saying %q without the password", c.url, err, c.want)
		}
	}
}

// TestRunPostgres runs `octane-bench run -pg` on small sizes against a real PostgreSQL and the
// octane-import of this checkout: each importing step runs again with the PostgreSQL ledger
// in a database of its own, imports what the bbolt step imported, the rescan resends nothing,
// the ratios are to the bbolt steps of the same run, the databases are gone afterwards, and the
// password shows nowhere in the results.
func TestRunPostgres(t *testing.T) {
	srv := testkit.NeedPostgres(t)
	bin := testkit.Binary(t)
	t.Setenv(asMainEnv, "1") // the floors and the stand-ins are this binary, as octane-bench
	out, work := t.TempDir(), filepath.Join(t.TempDir(), "work")
	t.Setenv("OCTANE_BENCH_PG", srv.URL("postgres"))
	err := runCmd([]string{"-bin", bin, "-work", work, "-out", out, "-sizes", "post-build", "-pg-sizes", "post-build",
		"-latency", "5ms", "-rescan", "-rescan-files", "200", "-watch", "0"})
	if err != nil {
		t.Fatal(err)
	}
	files, _ := filepath.Glob(filepath.Join(out, "results-*"))
	if len(files) != 2 {
		t.Fatalf("results: %v", files)
	}
	var jsonl, md string
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(string(data), srv.Password()) {
			t.Errorf("%s shows the password", f)
		}
		if strings.HasSuffix(f, ".jsonl") {
			jsonl = string(data)
		} else {
			md = string(data)
		}
	}
	rs, _, err := parseResults([]byte(jsonl))
	if err != nil {
		t.Fatal(err)
	}
	var steps []string
	for _, r := range rs {
		steps = append(steps, r.Size+": "+stepLabel(r))
	}
	want := []string{
		"post-build: floor: bytes", "post-build: floor: tokens", "post-build: floor: gojunit", "post-build: floor: report", "post-build: floor: stream",
		"post-build: scan --dry-run",
		"post-build: scan, 0 ms stand-in", "post-build: scan, 0 ms stand-in (ledger: postgres)",
		"post-build: scan, 5ms stand-in", "post-build: scan, 5ms stand-in (ledger: postgres)",
		"rescan-200: import (first scan)", "rescan-200: rescan (all imported)", "rescan-200: rescan --dry-run",
		"rescan-200: import (first scan) (ledger: postgres)", "rescan-200: rescan (all imported) (ledger: postgres)", "rescan-200: rescan --dry-run (ledger: postgres)",
	}
	if strings.Join(steps, "\n") != strings.Join(want, "\n") {
		t.Fatalf("steps:\n%s\nwant:\n%s", strings.Join(steps, "\n"), strings.Join(want, "\n"))
	}
	bbolt := map[string]result{}
	for _, r := range rs {
		key := r.Size + ": " + r.Step
		if r.Ledger == "" {
			bbolt[key] = r
			continue
		}
		b := bbolt[key]
		if r.Exit != 0 || r.Files != b.Files || r.Runs != b.Runs || r.Files == 0 {
			t.Errorf("%s: exit %d, %d files, %d runs; with bbolt %d files, %d runs", stepLabel(r), r.Exit, r.Files, r.Runs, b.Files, b.Runs)
		}
		if want := r.Wall / b.Wall; r.RatioBbolt < want*0.999 || r.RatioBbolt > want*1.001 {
			t.Errorf("%s: × bbolt %g, want %g / %g", stepLabel(r), r.RatioBbolt, r.Wall, b.Wall)
		}
		if r.PostgresCPU <= 0 && r.Step == "import (first scan)" {
			t.Errorf("%s: no CPU time of the server", stepLabel(r))
		}
		if (r.Standin == nil) != (b.Standin == nil) || (r.Standin != nil && (r.Standin.Runs != b.Standin.Runs || r.Standin.Builds != b.Standin.Builds)) {
			t.Errorf("%s: the stand-in stored %+v; with bbolt %+v", stepLabel(r), r.Standin, b.Standin)
		}
		if r.Size == "rescan-200" && !strings.Contains(r.Note, "pg_database_size") {
			t.Errorf("%s: note %q", stepLabel(r), r.Note)
		}
		if r.Step == "rescan (all imported)" && (r.Runs != 0 || r.Standin == nil || r.Standin.ByRoute["POST test-results"] != 0 || r.Standin.ByRoute["PUT builds"] != 0) {
			t.Errorf("%s: %d runs, stand-in %+v: the rescan sent again", stepLabel(r), r.Runs, r.Standin)
		}
	}
	if !strings.Contains(md, "| rescan-200 | rescan (all imported) (ledger: postgres) |") || !strings.Contains(md, "× bbolt") {
		t.Errorf("the table:\n%s", md)
	}
	conn, err := pgx.Connect(context.Background(), srv.URL("postgres"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	var left int
	if err := conn.QueryRow(context.Background(), `SELECT count(*) FROM pg_database WHERE datname LIKE 'octane_bench_%'`).Scan(&left); err != nil || left != 0 {
		t.Errorf("%d databases left, %v", left, err)
	}
}
