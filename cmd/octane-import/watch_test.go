package main

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/octane-import/octane-import/internal/testkit"
)

// watchCLI runs `octane-import ARGS` in-process until the test ends (or stop is called),
// with the streams captured.
type watchCLI struct {
	out, errb testkit.SyncBuffer
	cancel    context.CancelFunc
	code      chan int
}

func startWatch(t *testing.T, args ...string) *watchCLI {
	t.Helper()
	w := &watchCLI{code: make(chan int, 1)}
	a := newApp(&w.out, &w.errb)
	a.env = func(string) (string, bool) { return "", false }
	a.hostname = func() (string, error) { return "ci-agent", nil }
	var ctx context.Context
	ctx, w.cancel = context.WithCancel(context.Background())
	go func() { w.code <- a.execute(ctx, args) }()
	t.Cleanup(func() { w.stop(t) })
	return w
}

// stop cancels the watch (as SIGINT does) and returns its exit status.
func (w *watchCLI) stop(t *testing.T) int {
	t.Helper()
	w.cancel()
	select {
	case c := <-w.code:
		w.code <- c
		return c
	case <-time.After(20 * time.Second):
		t.Fatal("watch did not stop within 20 s")
		return -1
	}
}

// waitFor polls until cond holds, failing after 15 s.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	testkit.Within(t, 15*time.Second, what, cond)
}

func getJSON(addr, path string, v any) error {
	resp, err := http.Get("http://" + addr + path)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	return json.Unmarshal(b, v)
}

const oneTest = `<testsuite name="s"><testcase classname="a.B" name="c" time="1"/></testsuite>`

// Issue 14 item 4: watch --output json prints one JSON object per file on stdout (the
// objects scan --output json prints) and nothing else there.
func TestWatchJSONOutputIsOneObjectPerFile(t *testing.T) {
	dir := t.TempDir()
	testkit.WriteFile(t, filepath.Join(dir, "job", "1", "TEST-a.xml"), oneTest)
	testkit.WriteFile(t, filepath.Join(dir, "job", "1", "TEST-b.xml"), oneTest)
	w := startWatch(t, "watch", "--sandbox", "--output", "json", "--state", filepath.Join(t.TempDir(), "l.db"), "--settle", "100ms", "--manifest-wait", "0s", dir)
	waitFor(t, "two file objects on stdout", func() bool { return strings.Count(w.out.String(), "\n") >= 2 })
	testkit.WriteFile(t, filepath.Join(dir, "job", "2", "TEST-c.xml"), oneTest)
	waitFor(t, "a third file object on stdout", func() bool { return strings.Count(w.out.String(), "\n") >= 3 })
	if c := w.stop(t); c != exitOK {
		t.Errorf("exit %d after a stop, want 0; stderr %s", c, w.errb.String())
	}
	paths := map[string]bool{}
	for _, line := range strings.Split(strings.TrimSuffix(w.out.String(), "\n"), "\n") {
		var obj map[string]any
		if err := json.Unmarshal([]byte(line), &obj); err != nil {
			t.Fatalf("stdout holds a line that is not a JSON object: %q (%v)", line, err)
		}
		if obj["type"] != "file" || obj["outcome"] != "imported" {
			t.Errorf("object %v, want a file imported", obj)
		}
		p, _ := obj["path"].(string)
		paths[filepath.Base(p)] = true
	}
	if len(paths) != 3 || !paths["TEST-a.xml"] || !paths["TEST-b.xml"] || !paths["TEST-c.xml"] {
		t.Errorf("files on stdout: %v, want TEST-a.xml, TEST-b.xml, TEST-c.xml", paths)
	}
	if !strings.Contains(w.errb.String(), "Sandbox Octane at http://") {
		t.Errorf("stderr does not say where the sandbox is: %s", w.errb.String())
	}
}

// Issue 14 item 3: /status lists the files the watcher holds back, and why.
func TestWatchStatusListsTheFilesWaitingAndWhy(t *testing.T) {
	dir := t.TempDir()
	testkit.WriteFile(t, filepath.Join(dir, "app", "1", "octane-build.yaml"), "version: 1\nserver: {instance_id: ci-1}\njob: {id: app}\nbuild: {id: \"1\"}\n")
	testkit.WriteFile(t, filepath.Join(dir, "app", "1", "TEST-a.xml"), oneTest)
	addr := testkit.FreeAddr(t)
	w := startWatch(t, "watch", "--sandbox", "--state", filepath.Join(t.TempDir(), "l.db"), "--settle", "100ms",
		"--manifest-wait", "1h", "--health-listen", addr, dir)
	var st struct {
		Files   map[string]int `json:"files"`
		Waiting []struct {
			Path   string `json:"path"`
			Reason string `json:"reason"`
			Detail string `json:"detail"`
		} `json:"waiting"`
	}
	waitFor(t, "the first build imported", func() bool { return getJSON(addr, "/status", &st) == nil && st.Files["accepted"] == 1 })
	report := filepath.Join(dir, "app", "2", "TEST-a.xml")
	testkit.WriteFile(t, report, oneTest)
	waitFor(t, "/status to list the report waiting for its manifest", func() bool {
		if getJSON(addr, "/status", &st) != nil {
			return false
		}
		for _, f := range st.Waiting {
			if f.Path == report && f.Reason == "manifest" && strings.Contains(f.Detail, "octane-build.yaml") {
				return true
			}
		}
		return false
	})
	if !strings.Contains(w.errb.String(), "waiting up to 1h0m0s for octane-build.yaml in "+filepath.Dir(report)) {
		t.Errorf("the wait is not in the log:\n%s", w.errb.String())
	}
}

// A --marker that is not a glob is a usage error, said before anything starts.
func TestWatchBadMarkerIsAUsageError(t *testing.T) {
	dir := t.TempDir()
	_, errOut, code := cli(t, nil, "watch", "--sandbox", "--state", filepath.Join(dir, "l.db"), "--marker", "[.done", dir)
	if code != exitUsage || !strings.Contains(errOut, "--marker: ") {
		t.Errorf("exit %d, stderr %q; want 2 and the --marker error", code, errOut)
	}
}
