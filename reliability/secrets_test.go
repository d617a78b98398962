//go:build faults

package reliability_test

import (
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/octane-import/octane-import/sandbox"
)

// TestSecrets runs every command, with debug logs in both formats and faults that make the
// client log and report errors about its requests (sign-in refused, session expired,
// outages, failed tasks), and checks that the client secret appears in no output, log,
// ledger or payload. (Every other test's env runs the same check on its own outputs.)
func TestSecrets(t *testing.T) {
	e := newEnv(t, envOptions{octane: sandbox.Options{TaskDelay: 5 * time.Millisecond}})
	d := newDataset()
	d.writeBuilds(t, e.data, 2, 2, 2, 5)
	e.srv.Inject(sandbox.Fault{Path: "/sign_in", Kind: sandbox.Status, Code: 503, Times: 1})
	e.srv.Inject(sandbox.Fault{Method: http.MethodGet, Kind: sandbox.ExpireSession, Times: 1})
	e.srv.Inject(sandbox.Fault{Method: http.MethodPost, Path: pathResults, Kind: sandbox.HTML503, Times: 1})
	e.srv.FailNextTasks(1, failMessage)
	faultsInjected.Add(4)
	runs := [][]string{
		{"validate"},
		{"explain", e.data},
		{"explain", "--output", "json", e.data},
		{"scan", "--dry-run", e.data},
		{"-vv", "--log-format", "json", "scan", "--output", "json", e.data},
		{"-vv", "status"},
		{"-vv", "--log-format", "json", "retry", "--output", "json"},
		{"-vv", "scan", e.data},
		{"status", "--all", "--output", "json"},
		{"--version"},
		{"scan", "--help"},
	}
	for _, args := range runs {
		r := e.run(time.Minute, args...)
		if r.code != 0 && r.code != 1 {
			t.Errorf("%v: exit %d\n%s", args, r.code, r)
		}
	}
	e.exactlyOnce(d)

	// A wrong secret: the refusal is reported without the secret that was tried.
	wrong := newEnv(t, envOptions{})
	wrong.srv.Inject(sandbox.Fault{Path: "/sign_in", Kind: sandbox.Status, Code: 401, Times: 3})
	faultsInjected.Add(1)
	wd := newDataset()
	wd.writeBuilds(t, wrong.data, 1, 1, 1, 3)
	r := wrong.run(time.Minute, "-vv", "--log-format", "json", "scan", "--output", "json", wrong.data)
	if r.code == 0 {
		t.Errorf("a refused sign-in exited 0:\n%s", r)
	}
	if !strings.Contains(r.stdout+r.stderr, "401") {
		t.Errorf("the refused sign-in is not reported:\n%s", r)
	}
	// The checks run in each env's cleanup; make sure they see a secret that is really set.
	if os.Getenv("OCTANE_CLIENT_SECRET") == clientSecret {
		t.Fatal("the test process itself must not hold the secret in its environment")
	}
}
