package report

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// FuzzRead: no panic and no hang on any input; every error is an *Error that
// names the file; every report keeps the invariants. Seeded from the fixtures
// and the corpus files up to 64 KiB (run: go test -fuzz FuzzRead ./report).
func FuzzRead(f *testing.F) {
	seeds, _ := filepath.Glob("testdata/*.xml")
	if dir := corpusDirOrEmpty(); dir != "" {
		corpus, _ := filepath.Glob(filepath.Join(dir, "*.xml"))
		seeds = append(seeds, corpus...)
	}
	for _, path := range seeds {
		data, err := os.ReadFile(path)
		if err != nil {
			f.Fatal(err)
		}
		if len(data) <= 64<<10 {
			f.Add(data)
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		const name = "fuzz.xml"
		r, err := ReadWith(bytes.NewReader(data), name, Options{Location: time.UTC})
		if err != nil {
			var e *Error
			if !errors.As(err, &e) || e.File != name || !strings.HasPrefix(err.Error(), name+":") || e.Err == nil {
				t.Fatalf("error %q (%T) does not name the file or has no cause", err, err)
			}
			if r != nil {
				t.Fatal("a report and an error")
			}
			return
		}
		if r.Path != name || r.Runs == nil {
			t.Fatalf("report %+v", r)
		}
		checkInvariants(t, r)
		if c := r.Counts(); c.Total != c.Passed+c.Failed+c.Skipped {
			t.Fatalf("counts %+v", c)
		}
	})
}
