package ledger

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
)

func TestGenV1(t *testing.T) {
	dir := os.Getenv("GEN_V1")
	if dir == "" {
		t.Skip()
	}
	path := filepath.Join(dir, "ledger.db")
	l, err := Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	t0 := time.Date(2026, 3, 4, 5, 6, 7, 890123456, time.UTC)
	l.now = func() time.Time { t0 = t0.Add(time.Second); return t0 }
	l.NextScan()
	l.NextScan()
	hash := "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"
	spec := json.RawMessage(`{"target":"prod","server":{"instance_id":"ci-1"},"job":"payments-unit","build":"1042","start":"2026-03-04T05:00:00Z"}`)
	key1 := "prod\x1fci-1\x1fpayments-unit\x1f1042"
	key2 := "prod\x1fci-1\x1fpayments-unit\x1f1043"
	files := []File{
		{Path: "/drops/payments/unit/1042/TEST-a.xml", Root: "/drops", Size: 1234, ModTime: 1772600000123456789, Hash: hash, State: Parsed, Rule: "by-folder", Target: "prod", Build: key1, Runs: Counts{Passed: 3, Failed: 1}, Scan: 1},
		{Path: "/drops/payments/unit/1042/TEST-b.xml", Root: "/drops", Size: 99, ModTime: 1772600000000000000, Hash: hash, State: Parsed, Rule: "by-folder", Target: "prod", Build: key1, Runs: Counts{Skipped: 2}, Scan: 1},
		{Path: "/drops/payments/unit/1043/TEST-c.xml", Root: "/drops", Size: 5, ModTime: 1772600001000000000, Hash: "nothex", State: Parsed, Rule: "by-folder", Target: "prod", Build: key2, Runs: Counts{Passed: 1}, Attempt: 2, Scan: 2},
	}
	ids, err := l.Seal([]NewPayload{
		{Target: "prod", Build: key1, Files: []string{files[0].Path, files[1].Path}, Runs: 6, Data: []byte("payload one")},
		{Target: "prod", Build: key1, Files: []string{files[1].Path}, Runs: 1, Data: []byte("payload two")},
		{Target: "prod", Build: key2, Files: []string{files[2].Path}, Runs: 1, Data: []byte("payload three")},
	}, files, []Build{
		{Key: key1, Target: "prod", Start: time.Date(2026, 3, 4, 5, 0, 0, 0, time.UTC), Spec: spec, State: BuildPending, Runs: Counts{Passed: 3, Failed: 1, Skipped: 2}},
		{Key: key2, Target: "prod", Start: time.Date(2026, 3, 4, 6, 0, 0, 0, time.FixedZone("x", 3600)), Spec: spec, State: BuildPending, Runs: Counts{Passed: 1}},
	})
	if err != nil {
		t.Fatal(err)
	}
	must := func(err error) {
		if err != nil {
			t.Fatal(err)
		}
	}
	must(l.MarkSent(ids[0], "1001", "queued"))
	must(l.MarkDone(ids[0], PayloadDone, "success", ""))
	must(l.MarkAttempt(ids[1], "connection refused"))
	must(l.MarkSent(ids[1], "1002", "running"))
	must(l.MarkDone(ids[2], PayloadFailed, "failed", "task 1003 failed: release 7 does not exist"))
	must(l.PutBuilds(Build{Key: key1, Target: "prod", Start: time.Date(2026, 3, 4, 5, 0, 0, 0, time.UTC), Spec: spec, State: BuildPut, Runs: Counts{Passed: 3, Failed: 1, Skipped: 2}},
		Build{Key: "prod\x1fci-1\x1fpayments-unit\x1f1044", Target: "prod", Spec: spec, State: BuildFailed, Error: "release 7: not found"}))
	must(l.PutFiles(
		File{Path: "/drops/other/weird.xml", Root: "/drops", Size: 7, ModTime: 1, State: Unmatched, Error: "no rule matched", Scan: 2},
		File{Path: "/drops/payments/unit/1042/broken.xml", Root: "/drops", Size: 8, ModTime: 2, Hash: hash, State: Failed, Error: "broken.xml:3: unexpected EOF", Scan: 2},
		File{Path: "/drops/payments/unit/1042/empty.xml", Root: "/drops", Size: 9, ModTime: 3, Hash: hash, State: Empty, Rule: "by-folder", Target: "prod", Error: "the report holds no test cases", Scan: 2},
		File{Path: "/drops/π/ünïcode.xml", Size: 10, ModTime: -5, State: Seen},
	))
	// A payload from before the spool (bytes in the payload-data bucket).
	must(l.db.Update(func(tx *bolt.Tx) error {
		pb := tx.Bucket(bucketPayloads)
		id, _ := pb.NextSequence()
		p := Payload{ID: id, Target: "prod", Build: key2, Files: []string{files[2].Path}, Runs: 1, Bytes: 6, State: Pending, Created: t0, Updated: t0}
		if err := putJSON(pb, itob(id), p); err != nil {
			return err
		}
		return tx.Bucket(bucketData).Put(itob(id), []byte("legacy"))
	}))
	must(l.Close())
	ro, err := Open(path, Options{ReadOnly: true})
	must(err)
	defer ro.Close()
	var dump struct {
		Files    []File
		Payloads []Payload
		Builds   []Build
		Summary  Summary
		Data     map[uint64]string
	}
	must(ro.Files(func(f File) bool { dump.Files = append(dump.Files, f); return true }))
	dump.Payloads, err = ro.Payloads()
	must(err)
	dump.Builds, err = ro.Builds()
	must(err)
	dump.Summary, err = ro.Summarize()
	must(err)
	dump.Data = map[uint64]string{}
	for _, p := range dump.Payloads {
		if d, err := ro.PayloadData(p.ID); err == nil {
			dump.Data[p.ID] = string(d)
		}
	}
	out, _ := json.MarshalIndent(dump, "", "  ")
	must(os.WriteFile(filepath.Join(dir, "want.json"), append(out, '\n'), 0o644))
}
