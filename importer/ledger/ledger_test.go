package ledger

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"slices"
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

// TestFilesAtFindsWhatFileFinds checks FilesAt's cursor against one File per path: for
// batches of paths in any order, with duplicates, misses before, between and after the
// records, hits next to each other and hits far apart (more than maxCursorSteps records).
func TestFilesAtFindsWhatFileFinds(t *testing.T) {
	l, _ := openTemp(t)
	var recs []File
	for d := range 30 {
		for f := range 3 + d%12 {
			if (d+f)%5 == 0 {
				continue // a gap
			}
			recs = append(recs, File{Path: fmt.Sprintf("/drops/job-%02d/TEST-%02d.xml", d, f), Size: int64(d*100 + f), State: Accepted})
		}
	}
	if err := l.PutFiles(recs...); err != nil {
		t.Fatal(err)
	}
	var candidates []string
	for d := -1; d <= 31; d++ {
		for f := -1; f <= 15; f++ {
			candidates = append(candidates, fmt.Sprintf("/drops/job-%02d/TEST-%02d.xml", d, f))
		}
	}
	candidates = append(candidates, "/", "/drops", "/drops/job-05", "/drops/job-05/", "/zzz", "")
	rng := rand.New(rand.NewPCG(17, 16))
	for round := range 300 {
		n := 1 + rng.IntN(60)
		if round%50 == 0 {
			n = len(candidates) // all of them
		}
		batch := make([]string, n)
		for i := range batch {
			batch[i] = candidates[rng.IntN(len(candidates))]
		}
		if round%3 == 0 {
			slices.Sort(batch)
		}
		got, err := l.FilesAt(batch)
		if err != nil {
			t.Fatal(err)
		}
		want := map[string]File{}
		for _, p := range batch {
			if f, ok, err := l.File(p); err != nil {
				t.Fatal(err)
			} else if ok {
				want[p] = f
			}
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("FilesAt(%q):\n got %v\nwant %v", batch, got, want)
		}
	}
}
