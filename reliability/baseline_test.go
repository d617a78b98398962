//go:build faults

package reliability_test

import (
	"testing"
)

// TestBaseline imports a small backfill with no fault: the reference every other test
// builds on. A second scan sends nothing.
func TestBaseline(t *testing.T) {
	e := newEnv(t, envOptions{})
	d := newDataset()
	d.writeBuilds(t, e.data, 2, 3, 2, 10)
	r := e.scan()
	if r.code != 0 {
		t.Fatalf("scan failed:\n%s", r)
	}
	e.exactlyOnce(d)
	e.ledgerAgrees(d, 0)
	posts := len(e.srv.Tasks())
	r = e.scan()
	if r.code != 0 {
		t.Fatalf("second scan failed:\n%s", r)
	}
	if n := len(e.srv.Tasks()); n != posts {
		t.Errorf("the second scan made %d new tasks, want none", n-posts)
	}
	e.exactlyOnce(d)
}
