package ledger

import (
	"bytes"
	"testing"
)

// A failed payload goes back to the queue with new bytes; its files go back to Parsed (or
// stay Failed while another of their payloads is failed); an accepted payload cannot be
// requeued.
func TestRequeueFailedPayload(t *testing.T) {
	l, _ := openTemp(t)
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
