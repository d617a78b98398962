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
