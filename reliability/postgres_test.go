//go:build faults

package reliability_test

import (
	"fmt"
	"sort"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/octane-import/octane-import/importer/ledger"
	"github.com/octane-import/octane-import/sandbox"
)

// The PostgreSQL scenarios (issue 17): several instances of the real binary over one
// PostgreSQL ledger, killed, side by side, and with the database restarted under them.
// Every run must reach the stand-in exactly once, and the ledger must say so.

// heldElsewhere is what a scan says of a report another live instance holds.
const heldElsewhere = "another octane-import instance is importing it"

// TestPostgresTwoScansTogether starts two scans of one backfill at the same moment on one
// PostgreSQL ledger, as two machines splitting a backfill would. What a user expects: both
// end with exit 0; each report is imported by one of them, and the other says it skipped it
// because the first was importing it (or, having come later, that it is unchanged); every
// run is in Octane once; a later scan sends nothing; status agrees.
func TestPostgresTwoScansTogether(t *testing.T) {
	twoScans(t, false)
}

// TestPostgresSecondScanMidway is TestPostgresTwoScansTogether with the second scan started
// once the first one's runs reach the stand-in (two cron jobs, one late): it finds reports
// the first has sealed and is sending. The same is expected of it: exit 0, and each report
// imported by one scan and skipped (held by the other) or found unchanged by the other.
func TestPostgresSecondScanMidway(t *testing.T) {
	twoScans(t, true)
}

func twoScans(t *testing.T, midway bool) {
	e, _ := newPGEnv(t, envOptions{
		octane:   sandbox.Options{TaskDelay: 5 * time.Millisecond},
		settings: "concurrency: 4\nmax_runs_per_payload: 60",
	})
	d := newDataset()
	// 600 reports (more than two claim batches of 256), 6,000 runs.
	d.writeBuilds(t, e.data, 20, 10, 3, 10)

	args := []string{"scan", "--output", "json", e.data}
	scans := []*proc{e.start(args...)}
	if midway {
		until(t, time.Minute, "the first scan's first runs in the stand-in", func() bool { return len(e.srv.Runs()) > 0 || scans[0].exited() })
	}
	scans = append(scans, e.start(args...))
	var res []result
	for _, p := range scans {
		res = append(res, p.wait(3*time.Minute))
	}
	outcomes := map[string][]string{} // path → the outcome each scan gave
	for i, r := range res {
		if r.code != 0 {
			t.Errorf("scan %d: exit %d, want 0 (the other instance importing a report is no failure)\n%s", i+1, r.code, r)
		}
		for path, l := range fileLines(t, r.stdout) {
			o := l.Outcome
			if o == "skipped" {
				if l.Error == nil || !strings.Contains(l.Error.Message, heldElsewhere) {
					t.Errorf("scan %d skipped %s without saying another instance holds it: %+v", i+1, path, l.Error)
				}
				o = "skipped (held elsewhere)"
			}
			outcomes[path] = append(outcomes[path], fmt.Sprintf("%d:%s", i+1, o))
		}
	}
	byScan := [2]map[string]int{{}, {}}
	var wrong []string
	for _, path := range d.reports {
		got := outcomes[path]
		imported := 0
		for _, o := range got {
			i := int(o[0] - '1')
			byScan[i][o[2:]]++
			switch o[2:] {
			case "imported":
				imported++
			case "skipped (held elsewhere)", "unchanged":
			default:
				imported = -100 // any other outcome is wrong
			}
		}
		if len(got) != 2 || imported != 1 {
			wrong = append(wrong, fmt.Sprintf("%s: %v", path, got))
		}
	}
	sort.Strings(wrong)
	if len(wrong) > 0 {
		t.Errorf("%d of %d reports were not imported by one scan and skipped (or found unchanged) by the other, e.g.\n  %s",
			len(wrong), len(d.reports), strings.Join(wrong[:min(10, len(wrong))], "\n  "))
	}
	t.Logf("outcomes: scan 1 %v in %s, scan 2 %v in %s", byScan[0], res[0].elapsed.Round(time.Millisecond), byScan[1], res[1].elapsed.Round(time.Millisecond))
	e.exactlyOnce(d)
	e.ledgerAgrees(d, 0)

	tasks := len(e.srv.Tasks())
	again := e.scan()
	if again.code != 0 {
		t.Fatalf("a later scan failed:\n%s", again)
	}
	for path, l := range fileLines(t, again.stdout) {
		if l.Outcome != "unchanged" {
			t.Errorf("a later scan: %s %s, want unchanged", path, l.Outcome)
		}
	}
	if n := len(e.srv.Tasks()); n != tasks {
		t.Errorf("a later scan sent %d payloads, want none", n-tasks)
	}
}

// TestPostgresWatchersKilled runs two watchers on one tree and one PostgreSQL ledger while
// builds arrive in waves, and kills one or the other with SIGKILL at 20 seeded points,
// restarting it each time. A killed instance's claims expire after the lease and the
// others take its work over. Once the stand-in is quiet: every run there exactly once, the
// ledger agreeing, and a scan afterwards sending nothing. RELIABILITY_SEED picks the seed.
func TestPostgresWatchersKilled(t *testing.T) {
	seed := seedOr(t, 20260317)
	rng := newRand(seed)
	const kills, waves = 20, 12
	t.Logf("seed %d (RELIABILITY_SEED=%d reproduces this run)", seed, seed)
	e, _ := newPGEnv(t, envOptions{
		octane:   sandbox.Options{TaskDelay: 10 * time.Millisecond},
		settings: "concurrency: 4\nmax_runs_per_payload: 40",
	})
	d := newDataset()
	args := []string{"watch", "--output", "json", "--settle", "200ms", "--manifest-wait", "0s", e.data}
	w := [2]*proc{e.start(args...), e.start(args...)}

	// A wave every ~0.9 s: one more job with 4 builds of 3 reports of 30 cases (360 runs).
	// A kill every 0.1 to 1.1 s, of a watcher picked at random, restarted at once.
	wave, killed := 0, 0
	held := map[string]int{} // kills by what the killed instance held
	nextWave, nextKill := time.Now(), time.Now().Add(time.Duration(300+rng.IntN(800))*time.Millisecond)
	for wave < waves || killed < kills {
		now := time.Now()
		if wave < waves && !now.Before(nextWave) {
			d.writeJobs(t, e.data, wave, 1, 4, 3, 30)
			wave++
			nextWave = now.Add(900 * time.Millisecond)
		}
		if killed < kills && !now.Before(nextKill) {
			i := rng.IntN(2)
			if w[i].exited() {
				t.Fatalf("watcher %d ended by itself:\n%s", i+1, w[i].res)
			}
			r := w[i].kill()
			if !r.killed {
				t.Fatalf("watcher %d was not killed by the signal:\n%s", i+1, r)
			}
			held[claimsOf(t, e.state, w[i].cmd.Process.Pid)]++
			killed++
			w[i] = e.start(args...)
			nextKill = now.Add(time.Duration(100+rng.IntN(1000)) * time.Millisecond)
		}
		next := nextKill
		if killed >= kills || (wave < waves && nextWave.Before(next)) {
			next = nextWave
		}
		time.Sleep(max(time.Until(next), 10*time.Millisecond))
	}
	crashPoints.Add(int64(killed))
	lease := leaseOf(t, e.state)
	t.Logf("%d kills, by what the killed instance held: %v; %d waves written; lease in force %s", killed, held, waves, lease)

	// The last killed instance's claims expire after the lease; then its files and payloads
	// are the others' (a rescan every second finds them). Quiet: every run there and nothing
	// new for 2 s.
	quietStart := time.Now()
	n := e.waitQuiet(len(d.runs), 2*time.Second, time.Now().Add(lease+45*time.Second))
	t.Logf("stand-in quiet after %s with %d runs (%d expected)", time.Since(quietStart).Round(100*time.Millisecond), n, len(d.runs))
	for i, p := range w {
		if r := p.interrupt(30 * time.Second); r.code != 0 {
			t.Errorf("watcher %d, stopped with SIGINT: exit %d, want 0\n%s", i+1, r.code, r)
		}
	}
	e.exactlyOnce(d)
	e.ledgerAgrees(d, 0)
	tasks := len(e.srv.Tasks())
	if r := e.scan(); r.code != 0 {
		t.Errorf("a scan after the watchers: exit %d\n%s", r.code, r)
	}
	if got := len(e.srv.Tasks()); got != tasks {
		t.Errorf("a scan after the watchers sent %d payloads, want none", got-tasks)
	}
}

// TestPostgresRestartDuringBackfill restarts PostgreSQL (an immediate stop, as a crash, then
// a start) while a backfill scan sends. The scan must end by itself with a sensible exit
// status (0: it rode the restart out; 1: it stopped, saying once that the database was
// unavailable and that the work stays queued), and one more scan must bring every run to
// the stand-in exactly once.
func TestPostgresRestartDuringBackfill(t *testing.T) {
	rng := newRand(seedOr(t, 20260318))
	e, srv := newPGEnv(t, envOptions{
		octane:   sandbox.Options{TaskDelay: 10 * time.Millisecond},
		settings: "concurrency: 4\nmax_runs_per_payload: 40",
	})
	d := newDataset()
	d.writeBuilds(t, e.data, 8, 8, 3, 30) // 192 reports, 5,760 runs

	p := e.start("scan", "--output", "json", e.data)
	// The restart lands while the scan sends: after the first runs reached the stand-in.
	for len(e.srv.Runs()) == 0 && !p.exited() {
		time.Sleep(20 * time.Millisecond)
	}
	time.Sleep(time.Duration(rng.IntN(300)) * time.Millisecond)
	before := len(e.srv.Runs())
	restartPostgres(t, srv, 500*time.Millisecond)
	r := p.wait(3 * time.Minute)
	t.Logf("the restart came with %d of %d runs in the stand-in; the scan ended with exit %d after %s", before, len(d.runs), r.code, r.elapsed.Round(time.Millisecond))
	if before == len(d.runs) {
		t.Logf("the scan had sent everything before the restart: the test did not test much")
	}
	checkOutage(t, r, "scan")
	t.Logf("stderr of the scan during the restart:\n%s", r.stderr)
	if r.code != 0 && r.code != 1 {
		t.Errorf("the scan during the restart: exit %d, want 0 (rode it out) or 1 (stopped, the rest queued)\n%s", r.code, r)
	}
	again := e.scan()
	if again.code != 0 {
		t.Errorf("the scan after the restart: exit %d, want 0\n%s", again.code, again)
		t.Logf("summary: %s", again.stdout[strings.LastIndex(again.stdout, `{"type":"summary"`):])
	}
	e.exactlyOnce(d)
	e.ledgerAgrees(d, 0)
}

// TestPostgresRestartDuringWatch restarts PostgreSQL while a watcher imports builds that
// keep arriving. The watcher must carry on by itself (no restart), say once that the
// database was away, and in the end hold every run in the stand-in exactly once.
func TestPostgresRestartDuringWatch(t *testing.T) {
	e, srv := newPGEnv(t, envOptions{
		octane:   sandbox.Options{TaskDelay: 10 * time.Millisecond},
		settings: "concurrency: 4\nmax_runs_per_payload: 40",
	})
	d := newDataset()
	w := e.start("watch", "--output", "json", "--settle", "200ms", "--manifest-wait", "0s", e.data)
	const waves = 6
	for wave := range waves {
		d.writeJobs(t, e.data, wave, 1, 4, 3, 30)
		if wave == waves/2 {
			// Mid-wave: the wave's reports are being read and sent.
			time.Sleep(300 * time.Millisecond)
			restartPostgres(t, srv, 500*time.Millisecond)
		}
		time.Sleep(700 * time.Millisecond)
	}
	n := e.waitQuiet(len(d.runs), 2*time.Second, time.Now().Add(60*time.Second))
	t.Logf("stand-in quiet with %d runs (%d expected)", n, len(d.runs))
	if w.exited() {
		t.Fatalf("the watcher ended by itself:\n%s", w.res)
	}
	r := w.interrupt(30 * time.Second)
	if r.code != 0 {
		t.Errorf("the watcher, stopped with SIGINT: exit %d, want 0\n%s", r.code, r)
	}
	checkOutage(t, r, "watch")
	t.Logf("watch stderr:\n%s", r.stderr)
	e.exactlyOnce(d)
	e.ledgerAgrees(d, 0)
}

// restartPostgres stops the server at once (as a crash: recovery at the next start), keeps
// it down for down, and starts it again.
func restartPostgres(t *testing.T, srv interface {
	Stop(bool) error
	Start() error
}, down time.Duration) {
	t.Helper()
	if err := srv.Stop(true); err != nil {
		t.Fatal(err)
	}
	time.Sleep(down)
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
}

// checkOutage checks what a command said about the database going away: once (a command
// that rode the restart out may say nothing), not once per batch, file or payload.
func checkOutage(t *testing.T, r result, what string) {
	t.Helper()
	const phrase = "the database is unavailable"
	n := countLines(r.stderr, phrase)
	t.Logf("%s said %q on %d stderr lines", what, phrase, n)
	if r.code != 0 && n == 0 {
		t.Errorf("%s failed without saying the database was unavailable:\n%s", what, r)
	}
	if n > 1 {
		t.Errorf("%s said the database was unavailable more than once: %s", what, linesWith(r.stderr, phrase))
	}
}

// TestPostgresIdleWatcherTakesOver kills a watcher that holds sealed payloads it has not
// sent (its build's PUT held up at the stand-in), while a second watcher stands by on the
// same tree and ledger and no new file arrives. Once the killed instance's lease is over,
// the standby must send its payloads by itself: a standby that only looks at the ledger's
// queue when a new file comes along leaves those runs out of Octane for as long as the tree
// stays quiet.
func TestPostgresIdleWatcherTakesOver(t *testing.T) {
	e, _ := newPGEnv(t, envOptions{settings: "concurrency: 2\nmax_runs_per_payload: 40"})
	release := make(chan struct{})
	var held atomic.Int32
	e.srv.Inject(sandbox.Fault{Method: "PUT", Path: "/analytics/ci/builds", Kind: sandbox.Hook, Times: 1 << 20,
		Hook: func() { held.Add(1); <-release }})
	defer func() {
		select {
		case <-release:
		default:
			close(release)
		}
	}()
	d := newDataset()
	d.writeJobs(t, e.data, 0, 1, 1, 3, 120) // one build: 3 reports, 360 runs, 9 payloads
	args := []string{"watch", "--output", "json", "--settle", "200ms", "--manifest-wait", "0s", e.data}
	a := e.start(args...)
	// The watcher may take the build's reports in two batches (they settle one after
	// another): the first batch's are sealed and held up; the rest are the standby's to read.
	until(t, 60*time.Second, "the first watcher sealing reports and reporting their build", func() bool {
		return held.Load() > 0 && e.status().Files[ledger.Parsed] > 0
	})
	b := e.start(args...)
	until(t, 30*time.Second, "the standby registered", func() bool { return liveInstances(t, e.state) == 2 })
	time.Sleep(time.Second) // its first look at the tree and the queue: all held by the first
	if r := a.kill(); !r.killed {
		t.Fatalf("the first watcher was not killed:\n%s", r)
	}
	close(release)
	crashPoints.Add(1)
	lease := leaseOf(t, e.state)
	killedAt := time.Now()
	n := e.waitQuiet(len(d.runs), time.Second, killedAt.Add(lease+20*time.Second))
	t.Logf("lease %s; %d of %d runs in the stand-in %s after the kill", lease, n, len(d.runs), time.Since(killedAt).Round(100*time.Millisecond))
	if r := b.interrupt(30 * time.Second); r.code != 0 {
		t.Errorf("the standby, stopped with SIGINT: exit %d\n%s", r.code, r)
	}
	e.exactlyOnce(d)
	e.ledgerAgrees(d, 0)
}

// until polls cond every 100 ms until it holds; after timeout the test fails.
func until(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(timeout); !cond(); time.Sleep(100 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", timeout, what)
		}
	}
}
