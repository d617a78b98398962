package importer

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"github.com/octane-import/octane-import/importer/ledger"
	"github.com/octane-import/octane-import/internal/testkit"
	"github.com/octane-import/octane-import/mapping"
)

// takenOver is a ledger whose every Seal finds the files taken over by another instance
// (this one's claims expired while it read): nothing is written.
type takenOver struct{ ledger.Store }

func (takenOver) Seal([]ledger.NewPayload, []ledger.File, []ledger.Build) ([]uint64, error) {
	return nil, ledger.ErrClaimed
}

// A seal the ledger refuses because another instance holds the files now writes nothing,
// so the summary counts no payload for this run: the other instance imports them.
func TestSealTakenOverCountsNoPayload(t *testing.T) {
	dir := t.TempDir()
	testkit.WriteFile(t, filepath.Join(dir, "app", "7", "TEST-a.xml"),
		`<testsuite name="a" timestamp="2026-03-01T10:00:00Z"><testcase classname="A" name="t1" time="1"/><testcase classname="A" name="t2" time="1"/></testsuite>`)
	l, err := ledger.Open(filepath.Join(dir, "ledger.db"), ledger.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	im, err := New(Options{Rules: mapping.Default("host"), Ledger: takenOver{l},
		Client: func(string) (Client, error) { return nil, errors.New("nothing is sent") }})
	if err != nil {
		t.Fatal(err)
	}
	sum, err := im.Scan(context.Background(), []string{dir})
	if err != nil {
		t.Fatal(err)
	}
	if sum.Payloads != 0 {
		t.Errorf("summary counts %d payloads written; the ledger wrote none", sum.Payloads)
	}
	for key, line := range sum.ByBuild {
		if line.Payloads != 0 {
			t.Errorf("build %q counts %d payloads; none was written", key, line.Payloads)
		}
	}
	if len(sum.Warnings) == 0 || !strings.Contains(sum.Warnings[0], "taken over by another octane-import instance") {
		t.Errorf("warnings %q; want the take-over said", sum.Warnings)
	}
}
