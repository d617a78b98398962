//go:build faults

package reliability_test

import (
	"context"
	"math/rand/v2"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/octane-import/octane-import/importer/ledger"
	"github.com/octane-import/octane-import/sandbox"
)

// TestCrashBackfill kills the importer with SIGKILL at seeded random points of a backfill,
// restarts it, and repeats; then lets it finish. Every run must be in the stand-in exactly
// once and the ledger must say so. RELIABILITY_SEED picks another seed; RELIABILITY_SOAK=1
// kills it 100 times instead of 24.
func TestCrashBackfill(t *testing.T) {
	seed := uint64(20260301)
	if s := os.Getenv("RELIABILITY_SEED"); s != "" {
		n, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			t.Fatalf("RELIABILITY_SEED=%q: %v", s, err)
		}
		seed = n
	}
	kills := 24
	if soak() {
		kills = 100
	}
	rng := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	t.Logf("seed %d, %d kills (RELIABILITY_SEED=%d reproduces this run)", seed, kills, seed)

	// Tasks take a little while, so that kills land between a payload's POST and its task's
	// end too; small payloads, so that there are many of them.
	e := newEnv(t, envOptions{
		octane:   sandbox.Options{TaskDelay: 15 * time.Millisecond},
		settings: "concurrency: 8\nmax_runs_per_payload: 40",
	})
	d := newDataset()
	wave := 0
	addWave := func() {
		// One more job's history appears on the drive: 10 builds, 3 reports each, 40 cases.
		d.writeBuilds(t, e.data, wave+1, 10, 3, 40) // rewrites the earlier jobs identically
		wave++
	}
	addWave()

	// Each attempt is killed after a seeded delay; one in six very early (opening the
	// ledger, discovery, reading, sealing), the others anywhere in a ~1.5 s import. An
	// attempt that finishes before its kill completed the import: a new wave of builds is
	// added so that the next kill lands in real work again.
	survived, attempts := 0, 0
	phases := map[string]int{}
	for survived < kills && attempts < 3*kills {
		attempts++
		delay := time.Duration(rng.Int64N(int64(1200 * time.Millisecond)))
		if attempts%6 == 1 {
			delay = time.Duration(rng.Int64N(int64(150 * time.Millisecond)))
		}
		r := e.scanKilledAfter(delay)
		if !r.killed {
			if r.code != 0 {
				t.Fatalf("attempt %d (kill after %s) ended on its own, failing:\n%s", attempts, delay, r)
			}
			t.Logf("attempt %d finished in %s before its kill at %s: wave %d added", attempts, r.elapsed.Round(time.Millisecond), delay.Round(time.Millisecond), wave+1)
			addWave()
			continue
		}
		survived++
		// Where did it die? What the ledger holds tells the phase.
		st := e.status()
		switch {
		case len(st.Files) == 0:
			phases["before any file was recorded"]++
		case st.Payloads[ledger.Pending] > 0:
			phases["with payloads written, not yet answered"]++
		case st.Payloads[ledger.PayloadSent] > 0:
			phases["with tasks sent, not yet finished"]++
		default:
			phases["with nothing queued (reading or between steps)"]++
		}
	}
	t.Logf("kill points by what the ledger held afterwards: %v", phases)
	crashPoints.Add(int64(survived))
	final := e.scan()
	if final.code != 0 {
		t.Fatalf("the run after %d kills failed:\n%s", survived, final)
	}
	again := e.scan()
	if again.code != 0 {
		t.Fatalf("a further scan failed:\n%s", again)
	}
	e.exactlyOnce(d)
	e.ledgerAgrees(d, 0)
	t.Logf("%d kills survived; %d tasks in the stand-in for %d runs", survived, len(e.srv.Tasks()), len(d.runs))
	if survived < 20 {
		t.Errorf("only %d of %d attempts were killed mid-run; the test needs at least 20", survived, kills)
	}
}

// scanKilledAfter starts a scan and kills it with SIGKILL after delay, unless it ended first.
func (e *env) scanKilledAfter(delay time.Duration) result {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	args := []string{"scan", "--output", "json", e.data}
	cmd, stdout, stderr := e.command(ctx, args...)
	err := cmd.Start()
	if err == nil {
		timer := time.AfterFunc(delay, func() { _ = cmd.Process.Kill() })
		defer timer.Stop()
	}
	return e.wait(cmd, stdout, stderr, args, err)
}
