package docs_test

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/octane-import/octane-import/internal/testkit"
)

// A bad input of docs/troubleshooting.md: the files of a working directory, a command
// line, and the exit status and message it must give. The message must also be written,
// word for word, in docs/troubleshooting.md.
type trouble struct {
	name  string
	files map[string]string // relative path → content; {url} is the sandbox's address
	args  []string          // {dir} is the working directory
	env   map[string]string
	code  int
	msg   string // on stderr, and in the page
}

const goodReport = `<testsuite name="s" tests="1" timestamp="2026-11-20T10:00:00"><testcase classname="c" name="t"/></testsuite>`

// targetConfig is a configuration pointing at the sandbox, with its secret from the environment.
func targetConfig(extra string) string {
	return `targets:
  - name: octane
    url: {url}
    shared_space: "1001"
    workspace: "1002"
    client_id: sandbox-client
    client_secret: ${env:OCTANE_CLIENT_SECRET}
` + extra + `rules:
  - set: { server: { instance_id: box }, job: "{file.parent}", build: "1" }
`
}

var troubles = []trouble{
	{name: "unknown flag", args: []string{"scan", "--bogus"}, code: 2, msg: "unknown flag: --bogus"},
	{name: "unknown command", args: []string{"frob"}, code: 2, msg: `unknown command "frob" for "octane-import"`},
	{name: "bad output", args: []string{"scan", "-o", "xml", "."}, code: 2, msg: `--output must be text or json, not "xml"`},
	{name: "bad log format", args: []string{"scan", "--log-format", "xml", "."}, code: 2, msg: "--log-format must be text or json"},
	{name: "bad since", args: []string{"scan", "--since", "yesterday", "."}, code: 2,
		msg: `--since: "yesterday" is not a time: use RFC 3339 (2026-01-31T12:00:00Z) or a date (2026-01-31)`},
	{name: "no config", args: []string{"scan", "--config", "nope.yaml", "."}, code: 2,
		msg: "reading configuration: open nope.yaml: no such file or directory"},
	{name: "unknown key", files: map[string]string{"octane-import.yaml": targetConfig(`    wrkspace: "1002"` + "\n")}, args: []string{"validate"}, env: map[string]string{"OCTANE_CLIENT_SECRET": sandboxSecret}, code: 2,
		msg: "octane-import.yaml:8:5: targets[0].wrkspace: unknown key (did you mean workspace?)"},
	{name: "secret not set", files: map[string]string{"octane-import.yaml": targetConfig("")}, args: []string{"scan", "."}, code: 2,
		msg: "targets[0].client_secret: environment variable OCTANE_CLIENT_SECRET is not set (referenced as ${env:OCTANE_CLIENT_SECRET})"},
	{name: "nothing to scan", files: map[string]string{"octane-import.yaml": targetConfig("")}, args: []string{"scan"},
		env: map[string]string{"OCTANE_CLIENT_SECRET": sandboxSecret}, code: 1, msg: "nothing to scan: name a path, or add sources to the configuration"},
	{name: "truncated", files: map[string]string{"r/j/1/a.xml": `<testsuite name="a" tests="1"><testcase name="x" classname="c"/>`},
		args: []string{"scan", "--sandbox", "r"}, code: 1, msg: "unexpected end of file: <testsuite> from line 1 is not closed (truncated report)"},
	{name: "not junit", files: map[string]string{"r/j/1/index.xml": `<html><body>hi</body></html>`},
		args: []string{"scan", "--sandbox", "r"}, code: 1, msg: "root element <html> is not JUnit (want <testsuites>, <testsuite> or <testrun>)"},
	{name: "empty", files: map[string]string{"r/j/1/e.xml": ""}, args: []string{"scan", "--sandbox", "r"}, code: 1, msg: "empty report: no XML element"},
	{name: "unmatched", files: map[string]string{"r/j/1/a.xml": goodReport, "octane-import.yaml": strings.Replace(targetConfig(""), "  - set:", "  - match: { path: \"none/*.xml\" }\n    set:", 1)},
		args: []string{"scan", "r"}, env: map[string]string{"OCTANE_CLIENT_SECRET": sandboxSecret}, code: 1,
		msg: "no rule matched"},
	{name: "bad manifest", files: map[string]string{"r/j/1/a.xml": goodReport, "r/j/1/octane-build.yaml": "version: 2\njob: {id: x}\n"},
		args: []string{"scan", "--sandbox", "r"}, code: 1, msg: "version: unsupported version 2: this octane-import reads version 1"},
	{name: "manifest required", files: map[string]string{"r/j/1/a.xml": goodReport, "r/j/1/octane-build.yaml": "version: 1\njob: {id: x}\n"},
		args: []string{"scan", "--sandbox", "r"}, code: 1, msg: "server.instance_id: required field is missing"},
	{name: "no tests", files: map[string]string{"r/j/1/notes.txt": "x"}, args: []string{"scan", "--sandbox", "--fail-on-no-tests", "r"}, code: 1,
		msg: "no test runs found (--fail-on-no-tests)"},
	{name: "wrong secret", files: map[string]string{"r/j/1/a.xml": goodReport, "octane-import.yaml": targetConfig("")},
		args: []string{"scan", "r"}, env: map[string]string{"OCTANE_CLIENT_SECRET": "not-the-secret"}, code: 2,
		msg: `401 Unauthorized platform.authentication_error: sign-in rejected for API key`},
	{name: "wrong workspace", files: map[string]string{"r/j/1/a.xml": goodReport, "octane-import.yaml": strings.Replace(targetConfig(""), `workspace: "1002"`, `workspace: "9999"`, 1)},
		args: []string{"scan", "r"}, env: map[string]string{"OCTANE_CLIENT_SECRET": sandboxSecret}, code: 2,
		msg: `404 Not Found platform.entity_not_found: Workspace "9999" does not exist in shared space 1001`},
	{name: "no url", files: map[string]string{"r/j/1/a.xml": goodReport}, args: []string{"scan", "r"}, code: 2,
		msg: `target "sandbox" has no url: write one in the configuration, set OCTANE_URL (with OCTANE_SHARED_SPACE, OCTANE_WORKSPACE, OCTANE_CLIENT_ID, OCTANE_CLIENT_SECRET), or try --sandbox`},
}

func TestTroubleshootingMessages(t *testing.T) {
	page, err := os.ReadFile("troubleshooting.md")
	if err != nil {
		t.Fatal(err)
	}
	sb := startSandbox(t)
	for _, tc := range troubles {
		t.Run(tc.name, func(t *testing.T) {
			if !strings.Contains(string(page), tc.msg) {
				t.Errorf("troubleshooting.md does not explain %q", tc.msg)
			}
			dir := t.TempDir()
			for name, content := range tc.files {
				testkit.WriteFile(t, filepath.Join(dir, filepath.FromSlash(name)), strings.ReplaceAll(content, "{url}", sb.url))
			}
			r := runBin(t, dir, tc.env, tc.args...)
			if r.code != tc.code {
				t.Errorf("exit %d, want %d\nstderr:\n%s", r.code, tc.code, r.stderr)
			}
			mustContain(t, "stderr", r.stderr, tc.msg)
			if strings.Contains(r.stdout, tc.msg) {
				t.Errorf("the message is on stdout, want it on stderr only")
			}
		})
	}
}

func TestTroubleshootingLedgerLocked(t *testing.T) {
	page, err := os.ReadFile("troubleshooting.md")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	testkit.WriteFile(t, filepath.Join(dir, "r", "j", "1", "a.xml"), goodReport)
	state := filepath.Join(dir, "ledger.db")
	w := exec.Command(testkit.Binary(t), "watch", "--sandbox", "--state", state, "r")
	w.Dir = dir
	var werr bytes.Buffer
	w.Stderr = &werr
	if err := w.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = w.Process.Kill(); _ = w.Wait() }()
	msg := "the ledger is in use by another octane-import process"
	var r result
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		r = runBin(t, dir, nil, "scan", "--sandbox", "--state", state, "r")
		if strings.Contains(r.stderr, msg) {
			break
		}
	}
	if r.code != 2 || !strings.Contains(r.stderr, "ledger "+state+": "+msg) {
		t.Errorf("second process on a ledger: exit %d, stderr %q; want 2 and %q", r.code, r.stderr, msg)
	}
	if !strings.Contains(string(page), "ledger PATH: "+msg) {
		t.Errorf("troubleshooting.md does not explain %q", msg)
	}
}

func TestTroubleshootingHealthPortInUse(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	dir := t.TempDir()
	testkit.WriteFile(t, filepath.Join(dir, "r", "j", "1", "a.xml"), goodReport)
	r := runBin(t, dir, nil, "watch", "--sandbox", "--health-listen", ln.Addr().String(), "r")
	want := "--health-listen: listen tcp " + ln.Addr().String() + ": bind: address already in use"
	if r.code != 2 || !strings.Contains(r.stderr, want) {
		t.Errorf("exit %d, stderr %q; want 2 and %q", r.code, r.stderr, want)
	}
}

// The messages of a PostgreSQL ledger (docs/operations.md, high availability), each
// produced against the tests' own server: unreachable, a wrong password or database, a
// schema newer than the binary, a copy into a ledger that holds records, status of a
// database nothing was imported with. Each is exit 2 and shows no password.
func TestTroubleshootingPostgres(t *testing.T) {
	srv := testkit.NeedPostgres(t)
	page, err := os.ReadFile("troubleshooting.md")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	testkit.WriteFile(t, filepath.Join(dir, "r", "j", "1", "a.xml"), goodReport)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	deadPort := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	base := srv.Database(t) // ...@127.0.0.1:PORT/NAME?sslmode=disable
	otherDB := func(name string) string {
		return base[:strings.LastIndex(base, "/")+1] + name + "?sslmode=disable"
	}

	// A ledger written by a newer octane-import (its schema version raised by hand).
	newer := srv.Database(t)
	if r := runBin(t, dir, nil, "scan", "--sandbox", "--state", newer, "r"); r.code != 0 {
		t.Fatalf("scan: exit %d\n%s", r.code, r.stderr)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	conn, err := pgx.Connect(ctx, newer)
	if err != nil {
		t.Fatal(err)
	}
	_, err = conn.Exec(ctx, `UPDATE octane_import.schema_version SET version = 99`)
	conn.Close(ctx)
	if err != nil {
		t.Fatal(err)
	}
	// A PostgreSQL ledger that holds records already.
	full := srv.Database(t)
	if r := runBin(t, dir, nil, "scan", "--sandbox", "--state", "ledger.db", "r"); r.code != 0 {
		t.Fatalf("scan: exit %d\n%s", r.code, r.stderr)
	}
	if r := runBin(t, dir, nil, "ledger", "copy", "--from", "ledger.db", "--to", full); r.code != 0 {
		t.Fatalf("ledger copy: exit %d\n%s", r.code, r.stderr)
	}

	for _, tc := range []struct {
		name string
		args []string
		msg  string // in the page and on stderr
		also string // on stderr
	}{
		{"unreachable", []string{"scan", "--sandbox", "--state", fmt.Sprintf("postgres://ledger:%s@127.0.0.1:%d/octane?sslmode=disable", srv.Password(), deadPort), "r"},
			"connect: connection refused (the database is unavailable: try again once it is back)", ""},
		{"wrong password", []string{"scan", "--sandbox", "--state", strings.Replace(base, srv.Password(), "wrong-password", 1), "r"},
			`password authentication failed for user "`, ""},
		{"no such database", []string{"scan", "--sandbox", "--state", otherDB("octane_import"), "r"},
			`database "octane_import" does not exist (SQLSTATE 3D000)`, ""},
		{"newer schema", []string{"scan", "--sandbox", "--state", newer, "r"},
			"newer than this octane-import knows (", "its schema is version 99, newer than this octane-import knows (1): use the octane-import that wrote it, or a newer one"},
		{"copy into a ledger that holds records", []string{"ledger", "copy", "--from", "ledger.db", "--to", full},
			"records: copy into a ledger that holds nothing", ""},
		{"status of an empty database", []string{"status", "--state", srv.Database(t)},
			"no octane-import ledger in this database yet (nothing imported with it)", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if !strings.Contains(string(page), tc.msg) {
				t.Errorf("troubleshooting.md does not explain %q", tc.msg)
			}
			r := runBin(t, dir, nil, tc.args...)
			if r.code != 2 || !strings.Contains(r.stderr, tc.msg) || !strings.Contains(r.stderr, tc.also) {
				t.Errorf("exit %d, stderr %q; want 2 and %q %q", r.code, r.stderr, tc.msg, tc.also)
			}
			if !strings.Contains(r.stderr, "postgres://ledger:xxxxx@127.0.0.1:") {
				t.Errorf("the message does not name the ledger by its masked URL: %q", r.stderr)
			}
			for _, secret := range []string{srv.Password(), "wrong-password"} {
				if strings.Contains(r.stdout+r.stderr, secret) {
					t.Errorf("the password shows:\n%s%s", r.stdout, r.stderr)
				}
			}
		})
	}
}

// runBin runs the binary in dir with a clean environment.
func runBin(t *testing.T, dir string, env map[string]string, args ...string) result {
	t.Helper()
	cmd := exec.Command(testkit.Binary(t), args...)
	cmd.Dir = dir
	cmd.Env = cleanEnv(t, env)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	done := make(chan error, 1)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { done <- cmd.Wait() }()
	var err error
	select {
	case err = <-done:
	case <-time.After(60 * time.Second):
		_ = cmd.Process.Kill()
		<-done
		t.Fatalf("octane-import %v did not end in 60 s", args)
	}
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return result{stdout.String(), stderr.String(), code}
}
