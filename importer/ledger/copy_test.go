package ledger

import (
	"context"
	"encoding/json"
	"errors"
	"testing"
	"time"
)

// dumpStore is dumpLedger without where the embedded ledger keeps the payloads' bytes
// (Spool), which another store has not: Data compares the bytes.
func dumpStore(t *testing.T, l Store) ledgerDump {
	t.Helper()
	d := dumpLedger(t, l)
	for i := range d.Payloads {
		d.Payloads[i].Spool = ""
	}
	return d
}

// Copy moves everything of an embedded ledger into PostgreSQL: the ledger written by the
// schema-1 code (queued, sent, failed and accepted payloads, a pre-spool payload, builds in
// every state) reads the same from PostgreSQL, and the copy goes on where the original
// stopped.
func TestCopyIntoPostgres(t *testing.T) {
	url := pgURL(t)
	from := copyV1(t)
	l, err := Open(from, Options{}) // migrated to schema 2 on the way, and more recorded
	if err != nil {
		t.Fatal(err)
	}
	if err := l.PutFiles(File{Path: "/late.xml", Root: "/drops", State: Seen, Size: 3}); err != nil {
		t.Fatal(err)
	}
	want := dumpStore(t, l)
	nextScan, _ := l.NextScan()
	l.Close()

	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	c, err := Copy(ctx, from, url)
	if err != nil {
		t.Fatal(err)
	}
	if c.Files != len(want.Files) || c.Payloads != len(want.Payloads) || c.Builds != len(want.Builds) || c.Bytes == 0 {
		t.Errorf("copied %+v; the ledger holds %d files, %d payloads, %d builds", c, len(want.Files), len(want.Payloads), len(want.Builds))
	}
	p := openPG(t, url, testOptions)
	if got := canonical(t, dumpStore(t, p)); got != canonical(t, want) {
		t.Errorf("PostgreSQL after the copy:\n%s\nwant\n%s", got, canonical(t, want))
	}
	if n, err := p.NextScan(); err != nil || n != nextScan+1 {
		t.Errorf("next scan %d, %v; want %d", n, err, nextScan+1)
	}
	ids, err := p.Seal([]NewPayload{{Target: "t", Build: "b", Files: []string{"/new"}, Runs: 1, Data: []byte("n")}}, []File{{Path: "/new", State: Parsed}}, nil)
	if err != nil || ids[0] <= uint64(len(want.Payloads)) {
		t.Errorf("new payload id %v, %v: not after the copied ones", ids, err)
	}
	// The copied queue is sendable: the pending legacy payload's bytes came along.
	if data, err := p.PayloadData(4); err != nil || string(data) != "legacy" {
		t.Errorf("pending payload 4: %q, %v", data, err)
	}

	if _, err := Copy(ctx, from, url); err == nil {
		t.Error("copied into a ledger that holds records")
	}
	if _, err := Copy(ctx, from+".none", pgURL(t)); err == nil {
		t.Error("copied a ledger that does not exist")
	}
	held, err := Open(from, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer held.Close()
	if _, err := Copy(ctx, from, pgURL(t)); !errors.Is(err, ErrLocked) {
		t.Errorf("copying a ledger a scan holds: %v, want ErrLocked", err)
	}
}

// A schema-1 ledger, never opened by this version, copies as it reads.
func TestCopySchema1IntoPostgres(t *testing.T) {
	url := pgURL(t)
	from := copyV1(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if _, err := Copy(ctx, from, url); err != nil {
		t.Fatal(err)
	}
	p := openPG(t, url, testOptions)
	got := dumpStore(t, p)
	want := wantV1(t)
	// want.json has the embedded ledger's spool file names; the copy has the bytes instead.
	var wd ledgerDump
	if err := json.Unmarshal([]byte(want), &wd); err != nil {
		t.Fatal(err)
	}
	for i := range wd.Payloads {
		wd.Payloads[i].Spool = ""
	}
	if canonical(t, got) != canonical(t, wd) {
		t.Errorf("PostgreSQL after copying a schema-1 ledger:\n%s\nwant\n%s", canonical(t, got), canonical(t, wd))
	}
	if v := schemaOf(t, from); v != "1" {
		t.Errorf("Copy changed the embedded ledger's schema to %q", v)
	}
}
