package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/octane-import/octane-import/importer/ledger"
	"github.com/octane-import/octane-import/internal/testkit"
)

// cli runs the command line in-process with captured streams and a controlled environment.
func cli(t *testing.T, env map[string]string, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	var out, errb bytes.Buffer
	a := newApp(&out, &errb)
	a.env = testkit.LookupEnv(env)
	a.hostname = func() (string, error) { return "ci-agent", nil }
	code = a.execute(context.Background(), args)
	return out.String(), errb.String(), code
}

var elapsed = regexp.MustCompile(`\d+(\.\d+)?(ms|s|µs)\.`)

// testdata is the package's testdata folder, absolute: a test may change its directory.
var testdata, _ = filepath.Abs("testdata")

func TestSandboxScanOfTheExampleBuilds(t *testing.T) {
	dir := t.TempDir()
	_, errOut, code := cli(t, nil, "scan", "--sandbox", "--config", filepath.Join(dir, "none.yaml"), filepath.Join("..", "..", "testdata", "builds"))
	if code != exitUsage {
		t.Fatalf("an explicitly named missing configuration: exit %d, want 2; stderr %s", code, errOut)
	}
	out, errOut, code := cli(t, map[string]string{}, "scan", "--sandbox", filepath.Join("..", "..", "testdata", "builds"))
	if code != exitOK {
		t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", code, out, errOut)
	}
	testkit.Golden(t, filepath.Join(testdata, "scan-sandbox.golden"), elapsed.ReplaceAllString(out, "ELAPSED."))
}

func TestScanJSONOutput(t *testing.T) {
	out, errOut, code := cli(t, nil, "scan", "--sandbox", "--output", "json", filepath.Join("..", "..", "testdata", "builds"))
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	files := 0
	var last map[string]any
	for _, l := range lines {
		var obj map[string]any
		if err := json.Unmarshal([]byte(l), &obj); err != nil {
			t.Fatalf("not one JSON object per line: %q: %v", l, err)
		}
		switch obj["type"] {
		case "file":
			files++
			if obj["outcome"] != "imported" {
				t.Errorf("file %v: outcome %v", obj["path"], obj["outcome"])
			}
			if obj["task_id"] == "" || obj["task_id"] == nil {
				t.Errorf("file %v has no task id", obj["path"])
			}
		case "summary":
			last = obj
		}
	}
	if files != 8 {
		t.Errorf("%d file objects, want 8", files)
	}
	if last == nil || last["exit_code"] != float64(0) {
		t.Errorf("summary object = %v", last)
	}
}

func TestExitCodes(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "job", "1", "broken.xml")
	testkit.WriteFile(t, bad, "<testsuite><testcase name=\"a\">")
	_, errOut, code := cli(t, nil, "scan", "--sandbox", dir)
	if code != exitFailed {
		t.Errorf("a truncated report: exit %d, want 1", code)
	}
	if !strings.Contains(errOut, "broken.xml:1") {
		t.Errorf("the error does not name the file and line: %s", errOut)
	}
	if _, _, code := cli(t, nil, "scan", "--output", "yaml", dir); code != exitUsage {
		t.Errorf("--output yaml: exit %d, want 2", code)
	}
	if _, _, code := cli(t, nil, "scan", "--no-such-flag"); code != exitUsage {
		t.Errorf("unknown flag: exit %d, want 2", code)
	}
	if _, _, code := cli(t, nil, "scan", "--sandbox", "--since", "yesterday", dir); code != exitUsage {
		t.Errorf("bad --since: exit %d, want 2", code)
	}
	cfg := filepath.Join(dir, "bad.yaml")
	if err := os.WriteFile(cfg, []byte("rules:\n  - match: {path: \"{job\"}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	out, errOut, code := cli(t, nil, "validate", "--config", cfg)
	if code != exitUsage || !strings.Contains(errOut, "bad.yaml:") {
		t.Errorf("validate of a bad file: exit %d, stdout %q, stderr %q", code, out, errOut)
	}
}

func TestDryRunSendsNothingAndWritesNoLedger(t *testing.T) {
	dir := t.TempDir()
	state := filepath.Join(dir, "ledger.db")
	out, errOut, code := cli(t, nil, "scan", "--dry-run", "--state", state, filepath.Join("..", "..", "testdata", "builds"))
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	if _, err := os.Stat(state); !os.IsNotExist(err) {
		t.Errorf("a dry run created the ledger: %v", err)
	}
	for _, want := range []string{"Dry run", "pipeline \"payments\"", "payments-pipeline, payments-unit", "jenkins-payments-prod/payments-unit#1042"} {
		if !strings.Contains(out, want) {
			t.Errorf("the plan lacks %q:\n%s", want, out)
		}
	}
}

func TestVersion(t *testing.T) {
	out, _, code := cli(t, nil, "--version")
	if code != 0 || !strings.HasPrefix(out, "octane-import ") || !strings.Contains(out, "commit") {
		t.Errorf("--version: %d %q", code, out)
	}
}

func TestWatchServesHealthAndMetricsAndStopsCleanly(t *testing.T) {
	dir := t.TempDir()
	addr := testkit.FreeAddr(t)
	var out, errb testkit.SyncBuffer
	a := newApp(&out, &errb)
	a.env = func(string) (string, bool) { return "", false }
	ctx, cancel := context.WithCancel(context.Background())
	code := make(chan int, 1)
	go func() {
		code <- a.execute(ctx, []string{"watch", "--sandbox", "--settle", "100ms", "--manifest-wait", "0s", "--health-listen", addr, dir})
	}()
	var body string
	deadline := time.Now().Add(15 * time.Second)
	for time.Now().Before(deadline) {
		resp, err := http.Get("http://" + addr + "/healthz")
		if err == nil {
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			body = string(b)
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if strings.TrimSpace(body) != "ok" {
		t.Fatalf("/healthz = %q; stderr %s", body, errb.String())
	}
	report := filepath.Join(dir, "job", "3", "TEST-a.xml")
	testkit.WriteFile(t, report, `<testsuite name="s"><testcase classname="a.B" name="c" time="1"/></testsuite>`)
	var metrics string
	for time.Now().Before(deadline) {
		resp, err := http.Get("http://" + addr + "/metrics")
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		metrics = string(b)
		if strings.Contains(metrics, "octane_import_files_imported_total 1\n") {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	for _, want := range []string{"# TYPE octane_import_files_imported_total counter", "octane_import_files_imported_total 1\n", "octane_import_queue_depth 0", "octane_import_last_success_timestamp_seconds"} {
		if !strings.Contains(metrics, want) {
			t.Errorf("/metrics lacks %q:\n%s", want, metrics)
		}
	}
	resp, err := http.Get("http://" + addr + "/status")
	if err != nil {
		t.Fatal(err)
	}
	var st statusJSON
	err = json.NewDecoder(resp.Body).Decode(&st)
	resp.Body.Close()
	if err != nil || st.Files["accepted"] != 1 {
		t.Errorf("/status = %+v, %v; want the one accepted file", st, err)
	}
	cancel()
	select {
	case c := <-code:
		if c != 0 {
			t.Errorf("watch exited %d after a stop signal, want 0; stderr %s", c, errb.String())
		}
	case <-time.After(15 * time.Second):
		t.Fatal("watch did not stop")
	}
}

func TestFlagsFromTheEnvironment(t *testing.T) {
	dir := t.TempDir()
	state := filepath.Join(dir, "from-env.db")
	// OCTANE_IMPORT_STATE names the ledger; OCTANE_IMPORT_OUTPUT=json changes the output.
	out, errOut, code := cli(t, map[string]string{"OCTANE_IMPORT_STATE": state, "OCTANE_IMPORT_OUTPUT": "json"},
		"scan", "--dry-run", filepath.Join("..", "..", "testdata", "builds"))
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	if !strings.HasPrefix(out, "{") {
		t.Errorf("OCTANE_IMPORT_OUTPUT=json ignored: %.80s", out)
	}
	// A flag beats the environment.
	out, _, _ = cli(t, map[string]string{"OCTANE_IMPORT_OUTPUT": "json"}, "scan", "--dry-run", "--output", "text", filepath.Join("..", "..", "testdata", "builds"))
	if strings.HasPrefix(out, "{") {
		t.Errorf("--output text lost to the environment")
	}
	// A bad value is a usage error naming the variable.
	_, errOut, code = cli(t, map[string]string{"OCTANE_IMPORT_CONCURRENCY": "many"}, "scan", "--dry-run", dir)
	if code != exitUsage || !strings.Contains(errOut, "OCTANE_IMPORT_CONCURRENCY") {
		t.Errorf("bad env value: exit %d, %s", code, errOut)
	}
}

// TestValidateWithoutAFileNamesTheBuiltInRule: with no configuration file, validate says which
// built-in rule applies, as scan's summary does: in a CI job it recognises, the build comes
// from the CI's environment, not from the folders.
func TestValidateWithoutAFileNamesTheBuiltInRule(t *testing.T) {
	t.Chdir(t.TempDir())
	out, errOut, code := cli(t, map[string]string{}, "validate")
	if code != exitOK || !strings.Contains(out, "the build is the report's folder") {
		t.Errorf("validate, no file, no CI: exit %d, stdout %q, stderr %q", code, out, errOut)
	}
	gh := map[string]string{"GITHUB_ACTIONS": "true", "GITHUB_REPOSITORY": "acme/payments", "GITHUB_WORKFLOW": "ci",
		"GITHUB_JOB": "unit", "GITHUB_RUN_ID": "4242", "GITHUB_SERVER_URL": "https://github.com"}
	out, errOut, code = cli(t, gh, "validate")
	if code != exitOK || !strings.Contains(out, "build 4242") || strings.Contains(out, "folder") {
		t.Errorf("validate, no file, in GitHub Actions: exit %d, stdout %q, stderr %q", code, out, errOut)
	}
}

// TestStatusAllKeepsUnsettledFilesApart: status --all lists the files not yet settled
// (parsed, sent) apart from those that did not make it, which alone are told to retry.
func TestStatusAllKeepsUnsettledFilesApart(t *testing.T) {
	dir := t.TempDir()
	state := filepath.Join(dir, "ledger.db")
	l, err := ledger.Open(state, ledger.Options{})
	if err != nil {
		t.Fatal(err)
	}
	err = l.PutFiles(ledger.File{Path: "/drops/a/TEST-bad.xml", State: ledger.Failed, Error: "line 3: unexpected EOF"},
		ledger.File{Path: "/drops/a/TEST-half.xml", State: ledger.Parsed})
	if cerr := l.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Chdir(dir)
	out, errOut, code := cli(t, map[string]string{}, "status", "--all", "--state", state)
	if code != exitOK {
		t.Fatalf("status --all: exit %d\n%s", code, errOut)
	}
	_, failed, ok := strings.Cut(out, "did not make it")
	failed, unsettled, ok2 := strings.Cut(failed, "not yet settled")
	if !ok || !ok2 || !strings.Contains(failed, "failed: /drops/a/TEST-bad.xml: line 3: unexpected EOF") ||
		strings.Contains(failed, "TEST-half.xml") || !strings.Contains(unsettled, "parsed: /drops/a/TEST-half.xml") {
		t.Errorf("status --all:\n%s", out)
	}
}
