package importer

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/octane-import/octane-import/importer/ledger"
	"github.com/octane-import/octane-import/internal/testkit"
	"github.com/octane-import/octane-import/mapping"
)

// A report that changes while it is read fails as "changed"; once it is written, the next
// scan must read and import it. It used to keep the hash of what was read: when the writer
// had finished by the time the reader reached the end, the next scan found the same hash,
// took the file for unchanged, and left it failed until an explicit retry.
func TestChangedWhileReadIsReadAgainNextTime(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "app", "7", "TEST-a.xml")
	report := `<testsuite name="a" timestamp="2026-03-01T10:00:00Z"><testcase classname="A" name="t1" time="1"/></testsuite>`
	testkit.WriteFile(t, path, report)
	im, l := newLedgerImporter(t, dir)
	info, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	r := im.newRoot(dir, true)
	// Discovery saw the file earlier, shorter and older, than the reader found it.
	early := candidate{path: path, root: r, size: info.Size() - 20, modTime: info.ModTime().Add(-time.Second)}
	rr := im.read(context.Background(), early, newManifests(), 1, true)
	if !errors.Is(rr.err, errChanged) {
		t.Fatalf("read of a file that changed: %v, want errChanged", rr.err)
	}
	if err := l.PutFiles(rr.rec); err != nil {
		t.Fatal(err)
	}
	// The next scan sees the finished file.
	now := candidate{path: path, root: r, size: info.Size(), modTime: info.ModTime()}
	rr = im.read(context.Background(), now, newManifests(), 2, true)
	if frag, n := rr.runs.runs(); rr.outcome == Failed || rr.err != nil || rr.counts.Total() != 1 || n != 1 || len(frag) == 0 {
		t.Fatalf("the finished file on the next scan: outcome %q, err %v, prevFail %q", rr.outcome, rr.err, rr.prevFail)
	}
}

// newLedgerImporter is an importer on the default rules with an embedded ledger in dir,
// closed when the test ends, and a client that is never to be used.
func newLedgerImporter(t *testing.T, dir string) (*Importer, *ledger.Ledger) {
	t.Helper()
	l, err := ledger.Open(filepath.Join(dir, "ledger.db"), ledger.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	im, err := New(Options{Rules: mapping.Default("host"), Ledger: l,
		Client: func(string) (Client, error) { return nil, errors.New("not used") }})
	if err != nil {
		t.Fatal(err)
	}
	return im, l
}
