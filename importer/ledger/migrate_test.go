package ledger

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"github.com/octane-import/octane-import/internal/testkit"
	bolt "go.etcd.io/bbolt"
)

// ledgerDump is what testdata/v1/want.json holds: everything the code that wrote the ledger
// read back from it.
type ledgerDump struct {
	Files    []File
	Payloads []Payload
	Builds   []Build
	Summary  Summary
	Data     map[uint64]string
}

// dumpLedger reads everything a store holds.
func dumpLedger(t *testing.T, l Store) ledgerDump {
	t.Helper()
	var d ledgerDump
	if err := l.Files(func(f File) bool { d.Files = append(d.Files, f); return true }); err != nil {
		t.Fatal(err)
	}
	var err error
	if d.Payloads, err = l.Payloads(); err != nil {
		t.Fatal(err)
	}
	if d.Builds, err = l.Builds(); err != nil {
		t.Fatal(err)
	}
	if d.Summary, err = l.Summarize(); err != nil {
		t.Fatal(err)
	}
	d.Data = map[uint64]string{}
	for _, p := range d.Payloads {
		if data, err := l.PayloadData(p.ID); err == nil {
			d.Data[p.ID] = string(data)
		}
	}
	return d
}

// canonical is a dump as JSON with every time in UTC (the old records kept the writer's zone,
// the new ones keep the instant) and the build specs compacted.
func canonical(t *testing.T, d ledgerDump) string {
	t.Helper()
	for i := range d.Files {
		d.Files[i] = normFile(d.Files[i])
	}
	for i := range d.Payloads {
		d.Payloads[i] = normPayload(d.Payloads[i])
	}
	for i := range d.Builds {
		d.Builds[i] = normBuild(d.Builds[i])
	}
	data, err := json.MarshalIndent(d, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

// copyV1 copies testdata/v1 (a ledger written by the schema-1 code, with its spool) into a
// new folder and returns the ledger's path there.
func copyV1(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	testkit.CopyTreeTo(t, filepath.Join("testdata", "v1"), dir)
	return filepath.Join(dir, "ledger.db")
}

func wantV1(t *testing.T) string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", "v1", "want.json"))
	if err != nil {
		t.Fatal(err)
	}
	var d ledgerDump
	if err := json.Unmarshal(data, &d); err != nil {
		t.Fatal(err)
	}
	return canonical(t, d)
}

func schemaOf(t *testing.T, path string) string {
	t.Helper()
	db, err := bolt.Open(path, 0o600, &bolt.Options{ReadOnly: true, Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var v string
	db.View(func(tx *bolt.Tx) error {
		v = string(tx.Bucket(bucketMeta).Get(keyVersion))
		return nil
	})
	return v
}

// A ledger written by the schema-1 code reads the same read-only (status, dry runs) and after
// the migration that opening it for writing does; the migrated ledger goes on where the old
// one stopped (scan numbers, payload ids, queued payloads' bytes).
func TestMigrateSchema1(t *testing.T) {
	path := copyV1(t)
	want := wantV1(t)

	ro, err := Open(path, Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	if got := canonical(t, dumpLedger(t, ro)); got != want {
		t.Errorf("read-only view of a schema-1 ledger:\n%s\nwant\n%s", got, want)
	}
	ro.Close()
	if v := schemaOf(t, path); v != "1" {
		t.Fatalf("a read-only open changed the schema to %q", v)
	}
	before, _ := os.Stat(path)

	l, err := Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if got := canonical(t, dumpLedger(t, l)); got != want {
		t.Errorf("migrated ledger:\n%s\nwant\n%s", got, want)
	}
	if n, err := l.NextScan(); err != nil || n != 3 {
		t.Errorf("next scan = %d, %v; want 3", n, err)
	}
	ids, err := l.Seal([]NewPayload{{Target: "prod", Build: "b", Files: []string{"/new.xml"}, Runs: 1, Data: []byte("new")}},
		[]File{{Path: "/new.xml", State: Parsed, Build: "b"}}, nil)
	if err != nil || ids[0] != 5 {
		t.Errorf("new payload id = %v, %v; want 5 (after the four of the old ledger)", ids, err)
	}
	// The pending payload from before the spool is still sendable, and its bytes go once it
	// is accepted.
	if err := l.MarkSent(4, "2001", "queued"); err != nil {
		t.Fatal(err)
	}
	if err := l.MarkDone(4, PayloadDone, "success", ""); err != nil {
		t.Fatal(err)
	}
	if _, err := l.PayloadData(4); err == nil {
		t.Error("an accepted legacy payload's bytes were kept")
	}
	l.Close()

	after, _ := os.Stat(path)
	if v := schemaOf(t, path); v != schemaVersion {
		t.Errorf("schema after migration = %q", v)
	}
	if _, err := os.Stat(path + ".migrating"); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the migration left its temporary file: %v", err)
	}
	t.Logf("ledger file: %d bytes before, %d after", before.Size(), after.Size())
	if after.Size() > before.Size() {
		t.Errorf("the migrated ledger grew: %d → %d bytes", before.Size(), after.Size())
	}

	// A second open does not migrate again (and still reads everything).
	l, err = Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	if f, ok, err := l.File("/new.xml"); !ok || err != nil || !reflect.DeepEqual(f.Payloads, []uint64{5}) {
		t.Errorf("after reopening: %+v %v %v", f, ok, err)
	}
}

// A migration a crash interrupted leaves the old ledger in place and its half-written new
// file beside it; the next open starts over.
func TestMigrateAfterCrash(t *testing.T) {
	path := copyV1(t)
	if err := os.WriteFile(path+".migrating", []byte("half a ledger"), 0o600); err != nil {
		t.Fatal(err)
	}
	l, err := Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	if got, want := canonical(t, dumpLedger(t, l)), wantV1(t); got != want {
		t.Errorf("ledger after an interrupted migration:\n%s\nwant\n%s", got, want)
	}
}

// A process that waited for a ledger's lock while the file was replaced (a migration) opens
// the new file, not the unlinked one it was waiting on.
func TestOpenFollowsAReplacedFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "ledger.db")
	l, err := Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := l.PutFiles(File{Path: "/old", State: Seen}); err != nil {
		t.Fatal(err)
	}
	next := filepath.Join(dir, "next.db")
	n, err := Open(next, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := n.PutFiles(File{Path: "/new", State: Seen}); err != nil {
		t.Fatal(err)
	}
	n.Close()

	type result struct {
		l   *Ledger
		err error
	}
	done := make(chan result)
	go func() {
		w, err := Open(path, Options{Timeout: 10 * time.Second})
		done <- result{w, err}
	}()
	time.Sleep(200 * time.Millisecond) // the goroutine waits for the old file's lock
	if err := os.Rename(next, path); err != nil {
		t.Fatal(err)
	}
	l.Close()
	r := <-done
	if r.err != nil {
		t.Fatal(r.err)
	}
	defer r.l.Close()
	if _, ok, _ := r.l.File("/new"); !ok {
		t.Error("the waiting open got the replaced file")
	}
}
