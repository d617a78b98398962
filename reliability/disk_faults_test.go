//go:build faults

package reliability_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/octane-import/octane-import/bench/gen"
	"github.com/octane-import/octane-import/importer/ledger"
	"github.com/octane-import/octane-import/internal/testkit"
)

// TestLedgerDiskFull fills the ledger's disk: the importer runs under a file-size limit
// (RLIMIT_FSIZE, set with prlimit(1) on the child only) a little above the ledger's current
// size, with a large new backfill to record. It must stop with a clear error, not crash, and
// leave a ledger that opens and that a later run, without the limit, completes exactly once.
func TestLedgerDiskFull(t *testing.T) {
	prlimit, err := exec.LookPath("prlimit")
	if err != nil {
		t.Skip("prlimit(1) not found: cannot limit the child's file size portably")
	}
	e := newEnv(t, envOptions{settings: "max_runs_per_payload: 100"})
	d := newDataset()
	d.writeBuilds(t, e.data, 1, 2, 2, 10)
	if r := e.scan(); r.code != 0 {
		t.Fatalf("first scan:\n%s", r)
	}
	info, err := os.Stat(e.state)
	if err != nil {
		t.Fatal(err)
	}
	// Far more than the limit allows: 8 jobs × 10 builds × 3 reports × 150 cases.
	d.writeJobs(t, e.data, 1, 8, 10, 3, 150)
	limit := info.Size() + 64<<10
	faultsInjected.Add(1)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	args := []string{"scan", "--output", "json", e.data}
	cmd, stdout, stderr := e.command(ctx, args...)
	cmd.Args = append([]string{prlimit, fmt.Sprintf("--fsize=%d", limit), "--", testkit.Binary(t)}, cmd.Args[1:]...)
	cmd.Path = prlimit
	r := e.wait(cmd, stdout, stderr, args, cmd.Start())
	t.Logf("under a %d-byte file size limit: exit %d in %s; stderr: %s", limit, r.code, r.elapsed.Round(time.Millisecond), clipText(r.stderr, 600))
	if r.killed || strings.Contains(r.stderr, "panic:") || strings.Contains(r.stderr, "goroutine ") {
		t.Fatalf("the importer crashed on a full disk:\n%s", r)
	}
	if r.code == 0 {
		t.Fatalf("the scan succeeded although the ledger could not grow:\n%s", r)
	}
	if !strings.Contains(r.stderr, "ledger") || !strings.Contains(strings.ToLower(r.stderr), "file too large") {
		t.Errorf("the error does not say the ledger could not be written (file too large):\n%s", r)
	}
	if st, err := os.Stat(e.state); err == nil && st.Size() > limit {
		t.Errorf("the ledger grew to %d bytes past the %d-byte limit", st.Size(), limit)
	}
	// The ledger still opens and reads; the next run, with room, completes exactly once.
	e.status()
	if r := e.scan(); r.code != 0 {
		t.Fatalf("the scan after the disk was freed:\n%s", r)
	}
	e.exactlyOnce(d)
	e.ledgerAgrees(d, 0)
}

// TestFilesChangingUnderTheScan deletes a report after discovery found it and before it was
// read, and rewrites another while it is being read. The importer reads with one reader
// (GOMAXPROCS=1), so discovery is done while it reads a large first report; the test
// acts when /proc shows that report open. The deleted report fails with a clear error, the
// rewritten one fails as "changed while being read", the rest imports; the next scan imports
// the rewritten report, and every run is in the stand-in exactly once.
func TestFilesChangingUnderTheScan(t *testing.T) {
	if _, err := os.Stat("/proc/self/fd"); err != nil {
		t.Skip("no /proc: cannot see when the importer has a file open")
	}
	e := newEnv(t, envOptions{})
	d := newDataset()
	d.writeBuilds(t, e.data, 2, 2, 2, 10) // job-00, job-01
	big := filepath.Join(e.data, "a-big", "1", "TEST-big.xml")
	bigSuite := gen.Suite{Name: "com.example.Big", Cases: 3, Output: (150 << 20) / 3,
		Timestamp: time.Date(2025, 3, 1, 8, 0, 0, 0, time.UTC),
		CaseName:  func(i int) string { return fmt.Sprintf("big case %d", i) }}
	if _, err := gen.WriteSuite(big, bigSuite); err != nil {
		t.Fatal(err)
	}
	victim := filepath.Join(e.data, "job-01", "101", "TEST-1.xml")
	faultsInjected.Add(2)

	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	args := []string{"scan", "--output", "json", e.data}
	cmd, stdout, stderr := e.command(ctx, args...)
	cmd.Env = append(cmd.Env, "GOMAXPROCS=1")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	acted := false
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) && !acted {
		if hasOpen(cmd.Process.Pid, big) {
			if err := os.Remove(victim); err != nil {
				t.Fatal(err)
			}
			f, err := os.OpenFile(big, os.O_APPEND|os.O_WRONLY, 0)
			if err != nil {
				t.Fatal(err)
			}
			fmt.Fprintln(f, "<!-- appended while the importer was reading -->")
			f.Close()
			acted = true
			break
		}
		time.Sleep(200 * time.Microsecond)
	}
	r := e.wait(cmd, stdout, stderr, args, nil)
	if !acted {
		t.Fatalf("never saw the importer read %s:\n%s", big, r)
	}
	lines := fileLines(t, r.stdout)
	if l := lines[victim]; l.Outcome != "failed" || l.Error == nil || !strings.Contains(l.Error.Message, "no such file") {
		t.Errorf("the deleted report: %+v, want failed with \"no such file\"", l)
	}
	l := lines[big]
	if l.Outcome != "failed" || l.Error == nil || !strings.Contains(l.Error.Message, "changed while it was being read") {
		t.Errorf("the report rewritten while read: %+v %v, want failed as changed", l.Outcome, l.Error)
	}
	if r.code != 1 {
		t.Errorf("exit %d, want 1", r.code)
	}
	// The deleted report's runs are gone from the inputs; the big one's come next time.
	for id := range d.runs {
		if id.job == "job-01" && id.build == "101" && strings.HasSuffix(id.class, "Suite1") {
			delete(d.runs, id)
		}
	}
	for i := range bigSuite.Cases {
		d.runs[identity{serverID, "a-big", "1", bigSuite.Class(i), bigSuite.Case(i)}] = true
	}
	r = e.scan()
	if got := fileLines(t, r.stdout)[big]; got.Outcome != "imported" {
		t.Errorf("the rewritten report on the next scan: %s %+v\n%s", got.Outcome, got.Error, r)
	}
	e.exactlyOnce(d)
}

// hasOpen reports whether process pid has path open.
func hasOpen(pid int, path string) bool {
	dir := fmt.Sprintf("/proc/%d/fd", pid)
	ents, err := os.ReadDir(dir)
	if err != nil {
		return false
	}
	for _, e := range ents {
		if target, err := os.Readlink(filepath.Join(dir, e.Name())); err == nil && target == path {
			return true
		}
	}
	return false
}

// TestPermissionDeniedFolder: a folder the importer may not read is reported (with the
// path) and skipped; the rest imports; once readable, it imports, all exactly once. As root,
// the importer runs as nobody (65534), since root reads any folder.
func TestPermissionDeniedFolder(t *testing.T) {
	dir, err := os.MkdirTemp("", "reliability-perm-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.Chmod(filepath.Join(dir, "drops", "job-01"), 0o755); os.RemoveAll(dir) })
	e := newEnv(t, envOptions{dir: dir})
	d := newDataset()
	d.writeBuilds(t, e.data, 2, 2, 2, 5)
	var cred *syscall.Credential
	if os.Geteuid() == 0 {
		cred = &syscall.Credential{Uid: 65534, Gid: 65534}
		if err := filepath.Walk(dir, func(p string, fi os.FileInfo, err error) error {
			if err != nil {
				return err
			}
			if fi.IsDir() {
				return os.Chmod(p, 0o777)
			}
			return os.Chmod(p, 0o644)
		}); err != nil {
			t.Fatal(err)
		}
	}
	denied := filepath.Join(e.data, "job-01")
	if err := os.Chmod(denied, 0); err != nil {
		t.Fatal(err)
	}
	faultsInjected.Add(1)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	args := []string{"scan", "--output", "json", e.data}
	cmd, stdout, stderr := e.command(ctx, args...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
	r := e.wait(cmd, stdout, stderr, args, cmd.Start())
	l, ok := fileLines(t, r.stdout)[denied]
	if !ok || l.Outcome != "failed" || l.Error == nil || !strings.Contains(l.Error.Message, "permission denied") {
		t.Errorf("the unreadable folder: %+v (reported: %t)\n%s", l, ok, r)
	}
	if r.code != 1 {
		t.Errorf("exit %d, want 1", r.code)
	}
	// Only job-00 so far.
	partial := newDataset()
	for id := range d.runs {
		if id.job == "job-00" {
			partial.runs[id] = true
		}
	}
	e.exactlyOnce(partial)
	if err := os.Chmod(denied, 0o777); err != nil {
		t.Fatal(err)
	}
	cmd, stdout, stderr = e.command(ctx, args...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
	if r := e.wait(cmd, stdout, stderr, args, cmd.Start()); r.code != 0 {
		t.Fatalf("once readable:\n%s", r)
	}
	e.exactlyOnce(d)
}

// TestSymlinkLoops: links that loop (to a parent folder, to themselves) are not followed, the
// scan ends and imports everything once; a root that is itself a loop is a clear error.
func TestSymlinkLoops(t *testing.T) {
	e := newEnv(t, envOptions{})
	d := newDataset()
	d.writeBuilds(t, e.data, 2, 2, 2, 5)
	for _, l := range [][2]string{
		{"..", filepath.Join(e.data, "job-00", "up")},
		{".", filepath.Join(e.data, "job-00", "100", "here")},
		{"self", filepath.Join(e.data, "job-01", "self")},
		{"b", filepath.Join(e.data, "job-01", "a")},
		{"a", filepath.Join(e.data, "job-01", "b")},
		{"loop.xml", filepath.Join(e.data, "job-01", "100", "loop.xml")},
	} {
		if err := os.Symlink(l[0], l[1]); err != nil {
			t.Fatal(err)
		}
	}
	faultsInjected.Add(6)
	r := e.scan()
	if r.code != 0 {
		t.Fatalf("scan over symlink loops:\n%s", r)
	}
	e.exactlyOnce(d)
	e.ledgerAgrees(d, 0)

	loop := filepath.Join(e.dir, "loop-root")
	if err := os.Symlink("loop-root", loop); err != nil {
		t.Fatal(err)
	}
	r = e.run(time.Minute, "scan", "--output", "json", loop)
	if r.code == 0 || !strings.Contains(r.stderr, "too many levels of symbolic links") {
		t.Errorf("a looping root: want a failure naming the loop:\n%s", r)
	}
	if st := e.status(); st.Files[ledger.Accepted] != len(d.reports) {
		t.Errorf("the failed scan changed the ledger: %v", st.Files)
	}
}
