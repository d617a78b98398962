package importer

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/octane-import/octane-import/importer/ledger"
	"github.com/octane-import/octane-import/internal/testkit"
)

// The reports a watcher keeps to try again (another instance held them, or the database
// could not take their batch) are added to the next drain's batch, but for those gone from
// the disk, those the batch names already, and those the ledger now holds as they are on
// disk (another instance imported them); a report the ledger holds in another version, or
// only as seen, is tried again. The kept list is emptied either way.
func TestWatchTakeAgain(t *testing.T) {
	dir := t.TempDir()
	im, l := newLedgerImporter(t, dir)
	w := &watcher{im: im, again: map[string]*root{}}
	report := `<testsuite name="a"><testcase classname="A" name="t"/></testsuite>`
	paths := map[string]string{}
	for _, name := range []string{"new", "imported", "changed", "seen", "gone", "ready"} {
		p := filepath.Join(dir, "job", "1", "TEST-"+name+".xml")
		testkit.WriteFile(t, p, report)
		paths[name] = p
	}
	stat := func(p string) os.FileInfo {
		info, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		return info
	}
	imp, chg, seen := stat(paths["imported"]), stat(paths["changed"]), stat(paths["seen"])
	if err := l.PutFiles(
		ledger.File{Path: paths["imported"], Size: imp.Size(), ModTime: imp.ModTime().UnixNano(), State: ledger.Accepted},
		ledger.File{Path: paths["changed"], Size: chg.Size() + 1, ModTime: chg.ModTime().UnixNano(), State: ledger.Accepted},
		ledger.File{Path: paths["seen"], Size: seen.Size(), ModTime: seen.ModTime().UnixNano(), State: ledger.Seen},
	); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(paths["gone"]); err != nil {
		t.Fatal(err)
	}
	rootOf := func(p string) *root {
		r := im.newRoot(filepath.Dir(p), true)
		r.file = p
		return r
	}
	ready := []*root{rootOf(paths["ready"])}
	for _, name := range []string{"new", "imported", "changed", "seen", "gone", "ready"} {
		w.tryAgain([]*root{rootOf(paths[name])}, nil)
	}
	got := map[string]bool{}
	for _, r := range w.takeAgain(ready) {
		if got[r.file] {
			t.Errorf("%s twice in the batch", r.file)
		}
		got[r.file] = true
	}
	want := map[string]bool{paths["ready"]: true, paths["new"]: true, paths["changed"]: true, paths["seen"]: true}
	for p := range want {
		if !got[p] {
			t.Errorf("%s not in the batch", filepath.Base(p))
		}
	}
	for p := range got {
		if !want[p] {
			t.Errorf("%s in the batch", filepath.Base(p))
		}
	}
	if len(w.again) != 0 {
		t.Errorf("still kept to try again: %v", w.again)
	}
	// tryAgain with paths keeps only those of the batch.
	w.tryAgain([]*root{rootOf(paths["new"]), rootOf(paths["ready"])}, []string{paths["new"], "/elsewhere"})
	if len(w.again) != 1 || w.again[paths["new"]] == nil {
		t.Errorf("kept %v, want only %s", w.again, paths["new"])
	}
}

// countingLedger counts the ledger's single-file lookups and its batch lookups.
type countingLedger struct {
	ledger.Store
	file, filesAt int
}

func (c *countingLedger) File(path string) (ledger.File, bool, error) {
	c.file++
	return c.Store.File(path)
}

func (c *countingLedger) FilesAt(paths []string) (map[string]ledger.File, error) {
	c.filesAt++
	return c.Store.FilesAt(paths)
}

// A watcher's rescan looks the reports it finds up in the ledger in batches, not one query
// per report, and leaves out those the ledger holds as they are.
func TestWatchRescanLooksUpInBatches(t *testing.T) {
	dir := t.TempDir()
	im, l := newLedgerImporter(t, dir)
	cl := &countingLedger{Store: l}
	im.opt.Ledger = cl
	report := `<testsuite name="a"><testcase classname="A" name="t"/></testsuite>`
	var recs []ledger.File
	const n = 600
	for i := range n {
		p := filepath.Join(dir, "drops", "job", "1", fmt.Sprintf("TEST-%03d.xml", i))
		testkit.WriteFile(t, p, report)
		if i%2 == 0 { // half imported already
			info, err := os.Stat(p)
			if err != nil {
				t.Fatal(err)
			}
			recs = append(recs, ledger.File{Path: p, Size: info.Size(), ModTime: info.ModTime().UnixNano(), State: ledger.Accepted})
		}
	}
	if err := l.PutFiles(recs...); err != nil {
		t.Fatal(err)
	}
	roots, err := im.roots([]string{filepath.Join(dir, "drops")})
	if err != nil {
		t.Fatal(err)
	}
	w := &watcher{im: im, roots: roots, m: &Metrics{}, ctx: context.Background(), warned: map[string]bool{},
		a: newArrivals(time.Second, 0, func(place) bool { return false }), again: map[string]*root{}}
	w.rescan()
	if cl.file != 0 || cl.filesAt != (n+claimBatch-1)/claimBatch {
		t.Errorf("%d single lookups and %d batch lookups for %d reports; want 0 and %d", cl.file, cl.filesAt, n, (n+claimBatch-1)/claimBatch)
	}
	if got := w.a.pending(); got != n/2 {
		t.Errorf("%d reports pending; want the %d the ledger does not hold", got, n/2)
	}
}
