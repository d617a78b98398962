package importer_test

import (
	"net/http"
	"path/filepath"
	"strings"
	"testing"

	"github.com/octane-import/octane-import/importer"
	"github.com/octane-import/octane-import/octane/octanetest"
)

// A payload whose task failed, and whose first answer was lost, is resent byte for byte;
// Octane answers the resend with the old task's status only ("failed", no errorDetails).
// The file must still fail with Octane's own message, not "Octane's task ended failed".
func TestFailedTaskMessageSurvivesALostAnswer(t *testing.T) {
	e := newEnv(t, nil)
	dir := t.TempDir()
	writeReport(t, filepath.Join(dir, "app", "7", "TEST-a.xml"), "com.acme.A", 3, false)
	const msg = "test_run 2 has an invalid status (from Octane)"
	e.srv.FailNextTasks(1, msg)
	e.srv.Inject(octanetest.Fault{Method: http.MethodPost, Path: "/test-results", Kind: octanetest.DropAfterProcess})
	_, files := e.scan(dir)
	n := 0
	for _, f := range files {
		if f.Outcome != importer.Failed {
			continue
		}
		n++
		if f.Error == nil || !strings.Contains(f.Error.Message, msg) {
			t.Errorf("%s failed without Octane's message: %+v", f.Path, f.Error)
		}
	}
	if n != 1 {
		t.Fatalf("%d failed files, want 1: %+v", n, files)
	}
	if e.srv.PendingFaults() != 0 {
		t.Fatal("the lost answer was never injected: the test tests nothing")
	}
}
