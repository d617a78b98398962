package ledger

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"
)

func openTemp(t *testing.T) (*Ledger, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "state", "ledger.db")
	l, err := Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	return l, path
}

func TestSealThenSendThenAccept(t *testing.T) {
	l, path := openTemp(t)
	a := File{Path: "/r/a.xml", Size: 10, ModTime: 1, Hash: "ha", State: Parsed, Build: "b1", Runs: Counts{Passed: 2}}
	b := File{Path: "/r/b.xml", Size: 20, ModTime: 2, Hash: "hb", State: Parsed, Build: "b1", Runs: Counts{Failed: 1}}
	ids, err := l.Seal([]NewPayload{
		{Target: "t", Build: "b1", Files: []string{"/r/a.xml", "/r/b.xml"}, Runs: 3, Data: []byte("one")},
		{Target: "t", Build: "b1", Files: []string{"/r/b.xml"}, Runs: 1, Data: []byte("two")},
	}, []File{a, b}, []Build{{Key: "b1", Target: "t", State: BuildPending}})
	if err != nil {
		t.Fatal(err)
	}
	if len(ids) != 2 || ids[0] == ids[1] {
		t.Fatalf("ids = %v", ids)
	}
	fb, _, _ := l.File("/r/b.xml")
	if len(fb.Payloads) != 2 {
		t.Fatalf("b.xml payloads = %v, want both", fb.Payloads)
	}
	pend, err := l.Payloads(Pending)
	if err != nil || len(pend) != 2 {
		t.Fatalf("pending = %v, %v", pend, err)
	}
	if data, err := l.PayloadData(ids[1]); err != nil || string(data) != "two" {
		t.Fatalf("data = %q, %v", data, err)
	}

	if err := l.MarkSent(ids[0], "1001", "queued"); err != nil {
		t.Fatal(err)
	}
	fa, _, _ := l.File("/r/a.xml")
	if fa.State != Sent || fa.Task != "1001" {
		t.Fatalf("a after send = %+v", fa)
	}
	fb, _, _ = l.File("/r/b.xml")
	if fb.State != Parsed {
		t.Fatalf("b has a pending payload, state = %s", fb.State)
	}
	if err := l.MarkDone(ids[0], PayloadDone, "success", ""); err != nil {
		t.Fatal(err)
	}
	if _, err := l.PayloadData(ids[0]); err == nil {
		t.Fatal("accepted payload bytes were kept")
	}
	if err := l.MarkSent(ids[1], "1002", "queued"); err != nil {
		t.Fatal(err)
	}
	if err := l.MarkDone(ids[1], PayloadFailed, "failed", "release 7 does not exist"); err != nil {
		t.Fatal(err)
	}
	fa, _, _ = l.File("/r/a.xml")
	fb, _, _ = l.File("/r/b.xml")
	if fa.State != Accepted {
		t.Errorf("a = %s, want accepted", fa.State)
	}
	if fb.State != Failed || fb.Error != "release 7 does not exist" {
		t.Errorf("b = %s %q, want failed with Octane's reason", fb.State, fb.Error)
	}

	// Everything survives a reopen.
	l.Close()
	l2, err := Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer l2.Close()
	s, err := l2.Summarize()
	if err != nil {
		t.Fatal(err)
	}
	if s.Files[Accepted] != 1 || s.Files[Failed] != 1 || s.Payloads[PayloadDone] != 1 || s.Payloads[PayloadFailed] != 1 {
		t.Errorf("summary = %+v", s)
	}
	if s.Runs.Passed != 2 {
		t.Errorf("accepted runs = %+v", s.Runs)
	}
}

func TestSealRejectsUnlistedFile(t *testing.T) {
	l, _ := openTemp(t)
	_, err := l.Seal([]NewPayload{{Build: "b", Files: []string{"/nope"}, Data: []byte("x")}}, nil, nil)
	if err == nil {
		t.Fatal("sealed a payload naming a file that was not sealed with it")
	}
	if p, _ := l.Payloads(); len(p) != 0 {
		t.Fatalf("a failed seal left payloads behind: %v", p)
	}
}

func TestSecondOpenIsLocked(t *testing.T) {
	_, path := openTemp(t)
	_, err := Open(path, Options{Timeout: 50 * time.Millisecond})
	if !errors.Is(err, ErrLocked) {
		t.Fatalf("err = %v, want ErrLocked", err)
	}
}

func TestReadOnlyMissingIsEmpty(t *testing.T) {
	l, err := Open(filepath.Join(t.TempDir(), "none.db"), Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	if _, ok, err := l.File("/x"); ok || err != nil {
		t.Fatalf("ok=%v err=%v", ok, err)
	}
	if err := l.PutFiles(File{Path: "/x"}); err == nil {
		t.Fatal("wrote to a read-only ledger")
	}
}

func TestBuildsOrderedByStart(t *testing.T) {
	l, _ := openTemp(t)
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	if err := l.PutBuilds(
		Build{Key: "c", Start: t0.Add(2 * time.Hour), State: BuildPending},
		Build{Key: "a", Start: t0, State: BuildPut},
		Build{Key: "b", Start: t0.Add(time.Hour), State: BuildPending},
	); err != nil {
		t.Fatal(err)
	}
	got, err := l.Builds(BuildPending)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0].Key != "b" || got[1].Key != "c" {
		t.Fatalf("pending builds = %+v", got)
	}
	n1, _ := l.NextScan()
	n2, _ := l.NextScan()
	if n2 != n1+1 {
		t.Fatalf("scan numbers %d then %d", n1, n2)
	}
}

func TestPayloadBytesLiveInTheSpoolAndLeaveWhenAccepted(t *testing.T) {
	l, path := openTemp(t)
	ids, err := l.Seal([]NewPayload{{Target: "t", Build: "b", Files: []string{"/a"}, Runs: 1, Data: []byte("gzip bytes")}},
		[]File{{Path: "/a", State: Parsed}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	spool := path + ".spool"
	entries, _ := os.ReadDir(spool)
	if len(entries) != 1 {
		t.Fatalf("spool holds %d files, want 1", len(entries))
	}
	// A file a crash left behind (no payload names it) is removed at the next open.
	if err := os.WriteFile(filepath.Join(spool, "orphan.xml.gz"), []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	l.Close()
	l, err = Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	entries, _ = os.ReadDir(spool)
	if len(entries) != 1 {
		t.Fatalf("after reopen the spool holds %d files, want the payload's only", len(entries))
	}
	if data, err := l.PayloadData(ids[0]); err != nil || string(data) != "gzip bytes" {
		t.Fatalf("data = %q, %v", data, err)
	}
	if err := l.MarkSent(ids[0], "7", "queued"); err != nil {
		t.Fatal(err)
	}
	if err := l.MarkDone(ids[0], PayloadDone, "success", ""); err != nil {
		t.Fatal(err)
	}
	if entries, _ = os.ReadDir(spool); len(entries) != 0 {
		t.Errorf("accepted payload's bytes still in the spool: %v", entries)
	}
}

func TestFilesAt(t *testing.T) {
	l, _ := openTemp(t)
	if err := l.PutFiles(File{Path: "/a", State: Seen, Size: 1}, File{Path: "/b", State: Failed, Error: "x"}); err != nil {
		t.Fatal(err)
	}
	got, err := l.FilesAt([]string{"/b", "/nope", "/a"})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got["/a"].Size != 1 || got["/b"].Error != "x" || got["/a"].Path != "/a" {
		t.Fatalf("FilesAt = %+v", got)
	}
}
