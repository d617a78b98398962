package ledger

import (
	"bytes"
	"context"
	"encoding/json"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

// A backend opens stores of one kind for the behaviour tests: a new, empty ledger, with the
// means to open it again (a restart) and read-only (status).
type backend struct {
	name string
	open func(t *testing.T) (Store, *reopener)
}

type reopener struct {
	again    func() Store // opens the same ledger again (close the old one first)
	readOnly func() Store
}

// reopen closes s and opens its ledger again.
func (r *reopener) reopen(s Store) Store {
	s.Close()
	return r.again()
}

var backendList = []backend{
	{"bbolt", func(t *testing.T) (Store, *reopener) {
		path := filepath.Join(t.TempDir(), "state", "ledger.db")
		open := func(opt Options) Store {
			l, err := Open(path, opt)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { l.Close() })
			return l
		}
		return open(Options{Version: "test"}), &reopener{
			again:    func() Store { return open(Options{Version: "test"}) },
			readOnly: func() Store { return open(Options{ReadOnly: true}) },
		}
	}},
	{"postgres", func(t *testing.T) (Store, *reopener) {
		url := pgURL(t)
		ro := testOptions
		ro.ReadOnly = true
		return openPG(t, url, testOptions), &reopener{
			again:    func() Store { return openPG(t, url, testOptions) },
			readOnly: func() Store { return openPG(t, url, ro) },
		}
	}},
}

// The ledger's behaviour, one table of tests run against every backend.
var behaviour = []struct {
	name string
	test func(t *testing.T, s Store, r *reopener)
}{
	{"SealThenSendThenAccept", testSealThenSendThenAccept},
	{"SealRejectsUnlistedFile", testSealRejectsUnlistedFile},
	{"BuildsOrderedByStart", testBuildsOrderedByStart},
	{"RequeueFailedPayload", testRequeueFailedPayload},
	{"SettleRules", testSettleRules},
	{"SameRecordTwiceInOneCall", testSameRecordTwice},
	{"RecordsRoundTrip", testRecordsRoundTrip},
	{"FilesInPathOrder", testFilesInPathOrder},
	{"ClaimsOfOneInstance", testClaimsOfOneInstance},
	{"InstancesListsItself", testInstancesListsItself},
	{"ReadOnly", testReadOnly},
	{"TargetIdentity", testTargetIdentity},
	{"ErrorsNameTheLedger", testErrorsNameTheLedger},
}

// Every error names the ledger (its path, or its URL with the password masked): the
// importer passes them on as they are.
func testErrorsNameTheLedger(t *testing.T, l Store, _ *reopener) {
	want := "ledger " + l.Path() + ": "
	_, err := l.PayloadData(12345)
	if err == nil || !strings.HasPrefix(err.Error(), want) || !strings.Contains(err.Error(), "payload 12345: not in the ledger") {
		t.Errorf("PayloadData of a payload the ledger does not have: %v; want it to start %q", err, want)
	}
	err = l.MarkDone(12345, PayloadDone, "success", "")
	if err == nil || !strings.HasPrefix(err.Error(), want) || !strings.Contains(err.Error(), "not in the ledger") {
		t.Errorf("MarkDone of a payload the ledger does not have: %v; want it to start %q", err, want)
	}
	_, err = l.Seal([]NewPayload{{Target: "t", Build: "b", Files: []string{"/r/x.xml"}, Data: []byte("x")}}, nil, nil)
	if err == nil || !strings.HasPrefix(err.Error(), want) || strings.Count(err.Error(), "ledger "+l.Path()) != 1 {
		t.Errorf("Seal of a payload naming an unsealed file: %v; want it to start %q, once", err, want)
	}
}

// A target's identity is kept by name, across reopening, all 64 bits of it.
func testTargetIdentity(t *testing.T, l Store, r *reopener) {
	if _, ok, err := l.TargetIdentity("prod"); err != nil || ok {
		t.Fatalf("a new ledger knows target prod: %v, %v", ok, err)
	}
	const big = uint64(0xfedcba9876543210) // the top bit set: stored as a negative bigint
	if err := l.SetTargetIdentity("prod", big); err != nil {
		t.Fatal(err)
	}
	if err := l.SetTargetIdentity("test", 7); err != nil {
		t.Fatal(err)
	}
	if err := l.SetTargetIdentity("test", 8); err != nil {
		t.Fatal(err)
	}
	l = r.reopen(l)
	defer l.Close()
	for name, want := range map[string]uint64{"prod": big, "test": 8} {
		if got, ok, err := l.TargetIdentity(name); err != nil || !ok || got != want {
			t.Errorf("TargetIdentity(%q) = %x, %v, %v; want %x", name, got, ok, err, want)
		}
	}
}

func TestBehaviour(t *testing.T) {
	for _, b := range backendList {
		t.Run(b.name, func(t *testing.T) {
			for _, bt := range behaviour {
				t.Run(bt.name, func(t *testing.T) {
					s, r := b.open(t)
					bt.test(t, s, r)
				})
			}
		})
	}
}

func testSealThenSendThenAccept(t *testing.T, l Store, r *reopener) {
	a := File{Path: "/r/a.xml", Size: 10, ModTime: 1, Hash: "ha", State: Parsed, Build: "b1", Runs: Counts{Passed: 2}}
	b := File{Path: "/r/b.xml", Size: 20, ModTime: 2, Hash: "hb", State: Parsed, Build: "b1", Runs: Counts{Failed: 1}}
	ids, err := l.Seal([]NewPayload{
		{Target: "t", Build: "b1", Files: []string{"/r/a.xml", "/r/b.xml"}, Runs: 3, Data: []byte("one")},
		{Target: "t", Build: "b1", Files: []string{"/r/b.xml"}, Runs: 1, Data: []byte("two")},
	}, []File{a, b}, []Build{{Key: "b1", Target: "t", State: BuildPending}})
	if err != nil {
		t.Fatal(err)
	}
	if len(ids) != 2 || ids[0] >= ids[1] {
		t.Fatalf("ids = %v", ids)
	}
	fb, _, _ := l.File("/r/b.xml")
	if !reflect.DeepEqual(fb.Payloads, ids) {
		t.Fatalf("b.xml payloads = %v, want both %v", fb.Payloads, ids)
	}
	pend, err := l.Payloads(Pending)
	if err != nil || len(pend) != 2 || pend[0].Bytes != 3 || !reflect.DeepEqual(pend[0].Files, []string{"/r/a.xml", "/r/b.xml"}) {
		t.Fatalf("pending = %+v, %v", pend, err)
	}
	if data, err := l.PayloadData(ids[1]); err != nil || string(data) != "two" {
		t.Fatalf("data = %q, %v", data, err)
	}

	if err := l.MarkSent(ids[0], "1001", "queued"); err != nil {
		t.Fatal(err)
	}
	fa, _, _ := l.File("/r/a.xml")
	if fa.State != Sent || fa.Task != "1001" || fa.Status != "queued" {
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
	if err := l.MarkAttempt(ids[1], "connection refused"); err != nil {
		t.Fatal(err)
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
	if fb.State != Failed || fb.Error != "release 7 does not exist" || fb.Task != "1002" {
		t.Errorf("b = %+v, want failed with Octane's reason", fb)
	}
	if err := l.MarkDone(12345, PayloadDone, "success", ""); err == nil || !strings.Contains(err.Error(), "not in the ledger") {
		t.Errorf("marking a payload the ledger does not have: %v", err)
	}

	// Everything survives a restart.
	l = r.reopen(l)
	s, err := l.Summarize()
	if err != nil {
		t.Fatal(err)
	}
	if s.Files[Accepted] != 1 || s.Files[Failed] != 1 || s.Payloads[PayloadDone] != 1 || s.Payloads[PayloadFailed] != 1 || s.Builds[BuildPending] != 1 {
		t.Errorf("summary = %+v", s)
	}
	if s.Runs.Passed != 2 {
		t.Errorf("accepted runs = %+v", s.Runs)
	}
	all, _ := l.Payloads()
	if len(all) != 2 || all[1].Attempts != 2 || all[1].Task != "1002" || all[1].Status != "failed" || all[1].Error != "release 7 does not exist" {
		t.Errorf("payloads after a restart = %+v", all)
	}
}

func testSealRejectsUnlistedFile(t *testing.T, l Store, r *reopener) {
	_, err := l.Seal([]NewPayload{{Build: "b", Files: []string{"/nope"}, Data: []byte("x")}}, nil, nil)
	if err == nil {
		t.Fatal("sealed a payload naming a file that was not sealed with it")
	}
	if p, _ := l.Payloads(); len(p) != 0 {
		t.Fatalf("a failed seal left payloads behind: %v", p)
	}
}

func testBuildsOrderedByStart(t *testing.T, l Store, r *reopener) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	if err := l.PutBuilds(
		Build{Key: "c", Start: t0.Add(2 * time.Hour), State: BuildPending},
		Build{Key: "a", Start: t0, State: BuildPut},
		Build{Key: "b", Start: t0.Add(time.Hour), State: BuildPending},
		Build{Key: "0", State: BuildPending}, // no start: first
	); err != nil {
		t.Fatal(err)
	}
	got, err := l.Builds(BuildPending)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 3 || got[0].Key != "0" || got[1].Key != "b" || got[2].Key != "c" {
		t.Fatalf("pending builds = %+v", got)
	}
	n1, _ := l.NextScan()
	n2, _ := l.NextScan()
	if n2 != n1+1 {
		t.Fatalf("scan numbers %d then %d", n1, n2)
	}
	l = r.reopen(l)
	if n3, _ := l.NextScan(); n3 != n2+1 {
		t.Fatalf("scan number after a restart %d, want %d", n3, n2+1)
	}
	if bd, ok, err := l.Build("a"); !ok || err != nil || bd.State != BuildPut || !bd.Start.Equal(t0) {
		t.Errorf("build a = %+v %v %v", bd, ok, err)
	}
	if _, ok, err := l.Build("nope"); ok || err != nil {
		t.Errorf("missing build: %v %v", ok, err)
	}
}

// A failed payload goes back to the queue with new bytes; its files go back to Parsed (or
// stay Failed while another of their payloads is failed); an accepted payload cannot be
// requeued.
func testRequeueFailedPayload(t *testing.T, l Store, r *reopener) {
	a := File{Path: "/r/a.xml", Size: 10, ModTime: 1, State: Parsed, Build: "b1", Runs: Counts{Passed: 2}}
	ids, err := l.Seal([]NewPayload{
		{Target: "t", Build: "b1", Files: []string{"/r/a.xml"}, Runs: 1, Data: []byte("one")},
		{Target: "t", Build: "b1", Files: []string{"/r/a.xml"}, Runs: 1, Data: []byte("two")},
	}, []File{a}, []Build{{Key: "b1", Target: "t", State: BuildPending}})
	if err != nil {
		t.Fatal(err)
	}
	if err := l.MarkDone(ids[0], PayloadDone, "success", ""); err != nil {
		t.Fatal(err)
	}
	if err := l.MarkDone(ids[1], PayloadFailed, "failed", "task 7 failed: bad release"); err != nil {
		t.Fatal(err)
	}
	if f, _, _ := l.File("/r/a.xml"); f.State != Failed || f.Error == "" {
		t.Fatalf("before: %+v", f)
	}
	if err := l.Requeue(ids[0], []byte("x")); err == nil {
		t.Error("an accepted payload was requeued")
	}
	if err := l.Requeue(ids[1], []byte("two, again")); err != nil {
		t.Fatal(err)
	}
	f, _, _ := l.File("/r/a.xml")
	if f.State != Parsed || f.Error != "" {
		t.Errorf("after requeue the file is %s (%q), want parsed", f.State, f.Error)
	}
	pend, _ := l.Payloads(Pending)
	if len(pend) != 1 || pend[0].ID != ids[1] || pend[0].Task != "" || pend[0].Bytes != len("two, again") {
		t.Fatalf("pending = %+v", pend)
	}
	data, err := l.PayloadData(ids[1])
	if err != nil || !bytes.Equal(data, []byte("two, again")) {
		t.Fatalf("data = %q, %v", data, err)
	}
	if err := l.MarkDone(ids[1], PayloadDone, "success", ""); err != nil {
		t.Fatal(err)
	}
	if f, _, _ := l.File("/r/a.xml"); f.State != Accepted {
		t.Errorf("after the resend: %s", f.State)
	}
}

// Every field of every record comes back as written, after a restart too.
func testRecordsRoundTrip(t *testing.T, l Store, r *reopener) {
	files := []File{
		{Path: "/drops/a.xml", Root: "/drops", Size: 1234, ModTime: 1772600000123456789, Hash: benchHash, State: Parsed, Rule: "by-folder",
			Target: "prod", Build: "prod\x1fci\x1fjob\x1f1", Runs: Counts{Passed: 3, Failed: 1, Skipped: 2}, Attempt: 2, Scan: 7},
		{Path: "/drops/ünïcode π.xml", Size: -1, ModTime: -5, Hash: "not hex", State: Failed, Error: "broken.xml:3: unexpected EOF\nsecond line"},
		{Path: "/drops/seen.xml", State: Seen},
	}
	spec := json.RawMessage(`{"target":"prod","job":"j","build":"1"}`)
	start := time.Unix(0, 1772600000987654321)
	if _, err := l.Seal([]NewPayload{{Target: "prod", Build: files[0].Build, Files: []string{"/drops/a.xml"}, Runs: 6, Data: []byte{0x1f, 0x8b, 0, 1}}},
		files[:1], []Build{{Key: files[0].Build, Target: "prod", Start: start, Spec: spec, State: BuildPending, Runs: Counts{1, 2, 3}}}); err != nil {
		t.Fatal(err)
	}
	if err := l.PutFiles(files[1:]...); err != nil {
		t.Fatal(err)
	}
	check := func(l Store, when string) {
		got, err := l.FilesAt([]string{files[0].Path, files[1].Path, files[2].Path, "/drops/none.xml"})
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != 3 {
			t.Fatalf("%s: FilesAt found %d of 3", when, len(got))
		}
		for _, want := range files {
			g := got[want.Path]
			if g.Updated.IsZero() || time.Since(g.Updated) > time.Minute {
				t.Errorf("%s: %s updated %v", when, want.Path, g.Updated)
			}
			g.Updated = time.Time{}
			if g.Payloads != nil {
				g.Payloads = nil
			}
			if !reflect.DeepEqual(g, want) {
				t.Errorf("%s:\n got %+v\nwant %+v", when, g, want)
			}
			if one, ok, err := l.File(want.Path); !ok || err != nil || one.Path != want.Path || one.Error != want.Error {
				t.Errorf("%s: File(%s) = %+v %v %v", when, want.Path, one, ok, err)
			}
		}
		bd, ok, err := l.Build(files[0].Build)
		if !ok || err != nil || !bd.Start.Equal(start) || string(bd.Spec) != string(spec) || bd.Runs != (Counts{1, 2, 3}) || bd.Target != "prod" {
			t.Errorf("%s: build = %+v %v %v", when, bd, ok, err)
		}
		ps, err := l.Payloads()
		if err != nil || len(ps) != 1 || ps[0].Target != "prod" || ps[0].Runs != 6 || ps[0].Bytes != 4 || ps[0].Created.IsZero() {
			t.Errorf("%s: payloads = %+v, %v", when, ps, err)
		}
		if data, err := l.PayloadData(ps[0].ID); err != nil || !bytes.Equal(data, []byte{0x1f, 0x8b, 0, 1}) {
			t.Errorf("%s: payload bytes %v, %v", when, data, err)
		}
	}
	check(l, "written")
	check(r.reopen(l), "after a restart")
}

// Files come in byte order of their paths (the walk's order, whatever the database's
// collation), FilesIn filters by state, and fn returning false stops.
func testFilesInPathOrder(t *testing.T, l Store, r *reopener) {
	paths := []string{"/a/b", "/a-b/x", "/a/B", "/A", "/a/ä", "/a/z"}
	var files []File
	for i, p := range paths {
		st := Accepted
		if i%2 == 0 {
			st = Failed
		}
		files = append(files, File{Path: p, State: st})
	}
	if err := l.PutFiles(files...); err != nil {
		t.Fatal(err)
	}
	var got []string
	if err := l.Files(func(f File) bool { got = append(got, f.Path); return true }); err != nil {
		t.Fatal(err)
	}
	want := []string{"/A", "/a-b/x", "/a/B", "/a/b", "/a/z", "/a/ä"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("files in order %q, want %q", got, want)
	}
	got = nil
	if err := l.FilesIn([]FileState{Failed}, func(f File) bool { got = append(got, f.Path); return true }); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, []string{"/a/B", "/a/b", "/a/ä"}) {
		t.Errorf("failed files %q", got)
	}
	n := 0
	if err := l.Files(func(File) bool { n++; return n < 2 }); err != nil || n != 2 {
		t.Errorf("stopping: %d, %v", n, err)
	}
}

// One instance's claims: it holds every file it claims; a payload is handed out once until
// released, requeued or settled.
func testClaimsOfOneInstance(t *testing.T, l Store, r *reopener) {
	ctx := context.Background()
	got, err := l.ClaimFiles(ctx, []string{"/b", "/a", "/b"})
	if err != nil || !reflect.DeepEqual(got, []string{"/a", "/b"}) {
		t.Fatalf("claimed %v, %v", got, err)
	}
	if again, err := l.ClaimFiles(ctx, []string{"/a"}); err != nil || len(again) != 1 {
		t.Errorf("claiming its own file again: %v, %v", again, err)
	}
	var files []File
	var nps []NewPayload
	for _, p := range []string{"/a", "/b", "/c"} {
		files = append(files, File{Path: p, State: Parsed})
		nps = append(nps, NewPayload{Target: "t", Build: "b", Files: []string{p}, Runs: 1, Data: []byte(p)})
	}
	ids, err := l.Seal(nps, files, nil)
	if err != nil {
		t.Fatal(err)
	}
	// Sealing releases the files' claims and claims the new payloads for the sealer, which
	// sends them next: nobody else is handed them until it releases them.
	if n := inFlight(t, l); n != 3 {
		t.Errorf("after sealing, %d in flight; want the 3 payloads", n)
	}
	if mine, err := l.ClaimPayloads(ctx, 5); err != nil || len(mine) != 0 {
		t.Fatalf("payloads the sealer holds handed out: %+v, %v", mine, err)
	}
	if err := l.ReleasePayloads(ctx, ids); err != nil {
		t.Fatal(err)
	}
	if n := inFlight(t, l); n != 0 {
		t.Errorf("after releasing them, %d in flight", n)
	}
	first, err := l.ClaimPayloads(ctx, 2)
	if err != nil || len(first) != 2 || first[0].ID != ids[0] || first[1].ID != ids[1] {
		t.Fatalf("first claim: %+v, %v", first, err)
	}
	second, err := l.ClaimPayloads(ctx, 5)
	if err != nil || len(second) != 1 || second[0].ID != ids[2] {
		t.Fatalf("second claim: %+v, %v", second, err)
	}
	if none, _ := l.ClaimPayloads(ctx, 5); len(none) != 0 {
		t.Fatalf("payloads handed out twice: %+v", none)
	}
	if n := inFlight(t, l); n != 3 {
		t.Errorf("in flight %d, want 3", n)
	}
	if err := l.ReleasePayloads(ctx, []uint64{ids[1]}); err != nil {
		t.Fatal(err)
	}
	if err := l.MarkDone(ids[0], PayloadFailed, "failed", "no"); err != nil {
		t.Fatal(err)
	}
	if err := l.Requeue(ids[0], []byte("again")); err != nil {
		t.Fatal(err)
	}
	back, err := l.ClaimPayloads(ctx, 5, Pending)
	if err != nil || len(back) != 2 || back[0].ID != ids[0] || back[1].ID != ids[1] {
		t.Fatalf("after release and requeue: %+v, %v", back, err)
	}
	if err := l.MarkSent(ids[2], "9", "queued"); err != nil {
		t.Fatal(err)
	}
	if sent, _ := l.ClaimPayloads(ctx, 5, PayloadSent); len(sent) != 0 {
		t.Errorf("a sent payload still claimed was handed out again: %+v", sent)
	}
	if err := l.ReleaseFiles(ctx, []string{"/x"}); err != nil {
		t.Error(err)
	}
}

// inFlight is what the store's Instances say this instance holds.
func inFlight(t *testing.T, l Store) int {
	t.Helper()
	ins, err := l.Instances(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for _, in := range ins {
		if in.ID == l.Instance().ID {
			return in.InFlight
		}
	}
	t.Fatalf("this instance is not among %+v", ins)
	return 0
}

func testInstancesListsItself(t *testing.T, l Store, r *reopener) {
	ctx := context.Background()
	if _, err := l.ClaimFiles(ctx, []string{"/a", "/b"}); err != nil {
		t.Fatal(err)
	}
	ins, err := l.Instances(ctx)
	if err != nil {
		t.Fatal(err)
	}
	me := l.Instance()
	if len(ins) != 1 || ins[0].ID != me.ID || ins[0].PID != me.PID || ins[0].Host != me.Host || ins[0].Version != "test" || ins[0].InFlight != 2 {
		t.Fatalf("instances = %+v, want this one (%+v) with 2 files in flight", ins, me)
	}
	if ins[0].Started.IsZero() || ins[0].LastSeen.Before(ins[0].Started) {
		t.Errorf("started %v, last seen %v", ins[0].Started, ins[0].LastSeen)
	}
}

// A store opened read-only reads and refuses to write.
func testReadOnly(t *testing.T, l Store, r *reopener) {
	if err := l.PutFiles(File{Path: "/a", State: Failed, Error: "x"}); err != nil {
		t.Fatal(err)
	}
	l.Close()
	ro := r.readOnly()
	defer ro.Close()
	if f, ok, err := ro.File("/a"); !ok || err != nil || f.Error != "x" {
		t.Errorf("read-only File: %+v %v %v", f, ok, err)
	}
	if err := ro.PutFiles(File{Path: "/b"}); err == nil || !strings.Contains(err.Error(), "read-only") {
		t.Errorf("read-only PutFiles: %v", err)
	}
	if _, err := ro.Seal(nil, []File{{Path: "/b"}}, nil); err == nil {
		t.Error("read-only Seal wrote")
	}
	if _, err := ro.ClaimFiles(context.Background(), []string{"/b"}); err == nil {
		t.Error("read-only ClaimFiles claimed")
	}
	if ins, err := ro.Instances(context.Background()); err != nil || len(ins) != 0 {
		t.Errorf("a read-only store is an instance: %+v, %v", ins, err)
	}
	if err := ro.MarkDone(1, PayloadDone, "", ""); err == nil {
		t.Error("read-only MarkDone wrote")
	}
}

// How a file's state, task and error follow from its payloads, in order: failed wins over
// pending over sent over accepted; the task is the last payload's that has one; the error is
// the first failed payload's that gives a reason.
func testSettleRules(t *testing.T, l Store, _ *reopener) {
	var nps []NewPayload
	for range 4 {
		nps = append(nps, NewPayload{Target: "t", Build: "b", Files: []string{"/f", "/g"}, Runs: 1, Data: []byte("x")})
	}
	ids, err := l.Seal(nps, []File{{Path: "/f", State: Parsed}, {Path: "/g", State: Parsed}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	check := func(step string, state FileState, task, status, errText string) {
		t.Helper()
		for _, path := range []string{"/f", "/g"} {
			f, _, err := l.File(path)
			if err != nil || f.State != state || f.Task != task || f.Status != status || f.Error != errText {
				t.Errorf("after %s, %s = %s task %q status %q error %q (%v); want %s %q %q %q",
					step, path, f.State, f.Task, f.Status, f.Error, err, state, task, status, errText)
			}
		}
	}
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(l.MarkSent(ids[1], "11", "queued"))
	check("one sent", Parsed, "11", "queued", "")
	must(l.MarkSent(ids[0], "10", "running"))
	must(l.MarkSent(ids[2], "12", "queued"))
	must(l.MarkSent(ids[3], "13", "queued"))
	check("all sent", Sent, "13", "queued", "")
	must(l.MarkDone(ids[3], PayloadDone, "success", ""))
	check("the last accepted", Sent, "13", "success", "")
	must(l.MarkDone(ids[0], PayloadFailed, "failed", ""))
	check("the first failed without a reason", Failed, "13", "success", "")
	must(l.MarkDone(ids[2], PayloadSkipped, "", "build refused"))
	check("the third skipped", Failed, "13", "success", "build refused")
	must(l.MarkDone(ids[1], PayloadFailed, "failed", "task 11 failed: bad"))
	check("the second failed", Failed, "13", "success", "task 11 failed: bad")
	must(l.Requeue(ids[1], []byte("y")))
	check("the second requeued", Failed, "13", "success", "build refused")
}

// A file or build listed twice in one call is written once, as the last listing says.
func testSameRecordTwice(t *testing.T, l Store, _ *reopener) {
	if err := l.PutFiles(File{Path: "/a", State: Seen}, File{Path: "/b", State: Seen}, File{Path: "/a", State: Failed, Error: "second"}); err != nil {
		t.Fatal(err)
	}
	if f, _, _ := l.File("/a"); f.State != Failed || f.Error != "second" {
		t.Errorf("/a = %+v", f)
	}
	if err := l.PutBuilds(Build{Key: "k", State: BuildPending}, Build{Key: "k", State: BuildPut}); err != nil {
		t.Fatal(err)
	}
	ids, err := l.Seal([]NewPayload{{Target: "t", Build: "k", Files: []string{"/c"}, Runs: 1, Data: []byte("x")}},
		[]File{{Path: "/c", State: Parsed, Rule: "first"}, {Path: "/c", State: Parsed, Rule: "second"}},
		[]Build{{Key: "k", State: BuildPending}, {Key: "k", State: BuildFailed, Error: "last"}})
	if err != nil {
		t.Fatal(err)
	}
	if f, _, _ := l.File("/c"); f.Rule != "second" || len(f.Payloads) != 1 || f.Payloads[0] != ids[0] {
		t.Errorf("/c = %+v", f)
	}
	if bd, _, _ := l.Build("k"); bd.State != BuildFailed || bd.Error != "last" {
		t.Errorf("build k = %+v", bd)
	}
}
