package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/octane-import/octane-import/importer/ledger"
	"github.com/octane-import/octane-import/internal/testkit"
	"github.com/octane-import/octane-import/sandbox"
)

// pgWorld is a stand-in Octane, a configuration pointing at it, and a tree of reports: two
// jobs, two builds each, two reports a build.
type pgWorld struct {
	srv    *sandbox.Server
	dir    string // the configuration's folder
	config string // its path
	tree   string
	env    map[string]string
	files  int
}

const pgRules = `rules:
  - match: { path: "{job}/{build}/*.xml" }
    set: { server: { instance_id: share }, job: "{job}", build: "{build}" }
`

func newPGWorld(t *testing.T, settings string) *pgWorld {
	t.Helper()
	srv, targets := standIn(t, "octane")
	o := srv.Options()
	w := &pgWorld{srv: srv, dir: t.TempDir(), tree: t.TempDir(),
		env: map[string]string{"OCTANE_CLIENT_ID": o.Credentials[0].ID, "OCTANE_CLIENT_SECRET": o.Credentials[0].Secret}}
	w.config = filepath.Join(w.dir, "octane-import.yaml")
	testkit.WriteFile(t, w.config, targets+settings+pgRules)
	for _, job := range []string{"api", "web"} {
		for _, build := range []string{"1", "2"} {
			for _, r := range []string{"TEST-a.xml", "TEST-b.xml"} {
				testkit.WriteFile(t, filepath.Join(w.tree, job, build, r), fmt.Sprintf(
					`<testsuite name="%s"><testcase classname="c.%s" name="t1" time="0.1"/><testcase classname="c.%s" name="t2" time="0.2"/></testsuite>`, r, job, job))
				w.files++
			}
		}
	}
	return w
}

// run runs octane-import with the world's configuration and environment (plus extra).
func (w *pgWorld) run(t *testing.T, extra map[string]string, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	env := map[string]string{}
	for k, v := range w.env {
		env[k] = v
	}
	for k, v := range extra {
		env[k] = v
	}
	return cli(t, env, append([]string{"--config", w.config}, args...)...)
}

// scanSummary is the last line of scan --output json.
type scanSummary struct {
	Outcomes map[string]int `json:"outcomes"`
	ExitCode int            `json:"exit_code"`
}

func lastJSON[T any](t *testing.T, out string) T {
	t.Helper()
	lines := strings.Split(strings.TrimSpace(out), "\n")
	var v T
	if err := json.Unmarshal([]byte(lines[len(lines)-1]), &v); err != nil {
		t.Fatalf("last line of stdout is not JSON: %v\n%s", err, out)
	}
	return v
}

// noSecret fails the test when a secret shows in any of the texts.
func noSecret(t *testing.T, secret string, texts ...string) {
	t.Helper()
	for _, s := range texts {
		if strings.Contains(s, secret) {
			t.Errorf("the password shows:\n%s", s)
		}
	}
}

// An embedded ledger copied into PostgreSQL: status counts the same from either, and a scan
// of the same tree with the PostgreSQL ledger finds everything unchanged and sends nothing.
func TestLedgerCopyThenScanWithPostgres(t *testing.T) {
	srv := testkit.NeedPostgres(t)
	url := srv.Database(t)
	w := newPGWorld(t, "")
	file := filepath.Join(w.dir, "ledger.db")
	// A fifth build, of one report.
	testkit.WriteFile(t, filepath.Join(w.tree, "web", "3", "TEST-a.xml"), `<testsuite name="x"><testcase classname="c" name="t"/></testsuite>`)
	if _, errOut, code := w.run(t, nil, "scan", "--state", file, w.tree); code != exitOK {
		t.Fatalf("scan with the embedded ledger: exit %d\n%s", code, errOut)
	}
	runs, builds := len(w.srv.Runs()), len(w.srv.Builds())
	if runs != 2*w.files+1 {
		t.Fatalf("the stand-in holds %d runs after the first scan, want %d", runs, 2*w.files+1)
	}

	out, errOut, code := w.run(t, nil, "ledger", "copy", "--from", file, "--to", url)
	if code != exitOK {
		t.Fatalf("ledger copy: exit %d\n%s", code, errOut)
	}
	want := fmt.Sprintf("Copied %s into %s: %d files, 5 payloads, 5 builds.\n", file, ledger.RedactURLs(url), w.files+1)
	if !strings.HasPrefix(out, want) || !strings.Contains(out, "Nothing was sent to Octane.") {
		t.Errorf("ledger copy printed:\n%s\nwant it to start with:\n%s", out, want)
	}
	noSecret(t, srv.Password(), out, errOut)

	status := func(state string) statusJSON {
		out, errOut, code := w.run(t, nil, "status", "--state", state, "--output", "json")
		if code != exitOK {
			t.Fatalf("status --state %s: exit %d\n%s", state, code, errOut)
		}
		noSecret(t, srv.Password(), out, errOut)
		return lastJSON[statusJSON](t, out)
	}
	before, after := status(file), status(url)
	if fmt.Sprint(before.Summary) != fmt.Sprint(after.Summary) || len(after.Failed) != len(before.Failed) {
		t.Errorf("status of the copy:\n%+v\nof the embedded ledger:\n%+v", after.Summary, before.Summary)
	}
	if after.Files[ledger.Accepted] != w.files+1 || after.Runs.Passed != 2*w.files+1 {
		t.Errorf("status of the copy: %+v", after.Summary)
	}

	out, errOut, code = w.run(t, nil, "scan", "--state", url, "--output", "json", w.tree)
	if code != exitOK {
		t.Fatalf("scan with the PostgreSQL ledger: exit %d\n%s", code, errOut)
	}
	sum := lastJSON[scanSummary](t, out)
	if sum.Outcomes["unchanged"] != w.files+1 || len(sum.Outcomes) != 1 {
		t.Errorf("scan of the same tree with the copy: outcomes %v, want %d unchanged and nothing else", sum.Outcomes, w.files+1)
	}
	if len(w.srv.Runs()) != runs || len(w.srv.Builds()) != builds {
		t.Errorf("the stand-in holds %d runs and %d builds after the scan with the copy, %d and %d before: something was sent again",
			len(w.srv.Runs()), len(w.srv.Builds()), runs, builds)
	}
	noSecret(t, srv.Password(), out, errOut)
}

// What ledger copy refuses, each with exit 2 and a message saying why: a PostgreSQL ledger
// that holds records, an embedded ledger a process holds (naming it), a wrong password (the
// database's words, the password never shown), and a --to that is not a URL.
func TestLedgerCopyRefuses(t *testing.T) {
	srv := testkit.NeedPostgres(t)
	w := newPGWorld(t, "")
	file := filepath.Join(w.dir, "ledger.db")
	if _, errOut, code := w.run(t, nil, "scan", "--state", file, w.tree); code != exitOK {
		t.Fatalf("scan: exit %d\n%s", code, errOut)
	}
	full := srv.Database(t)
	if _, errOut, code := w.run(t, nil, "ledger", "copy", "--from", file, "--to", full); code != exitOK {
		t.Fatalf("ledger copy: exit %d\n%s", code, errOut)
	}
	wrong := strings.Replace(srv.Database(t), srv.Password(), "not-the-password-4711", 1)
	for _, c := range []struct {
		name     string
		from, to string
		env      map[string]string
		want     string
		hold     bool
	}{
		{name: "into a ledger that holds records", from: file, to: full,
			want: fmt.Sprintf("copying %s: it already holds %d records: copy into a ledger that holds nothing", file, w.files+4+4)},
		{name: "a ledger in use", from: file, to: srv.Database(t), hold: true,
			want: fmt.Sprintf("ledger %s: the ledger is in use by another octane-import process: pid %d on ", file, os.Getpid())},
		{name: "wrong password", from: file, to: wrong, want: `password authentication failed for user "ledger"`},
		{name: "wrong password from the environment", from: file, env: map[string]string{"OCTANE_IMPORT_TO": wrong},
			want: `password authentication failed for user "ledger"`},
		{name: "no such ledger", from: file + ".none", to: srv.Database(t), want: "ledger.db.none: no such file or directory"},
		{name: "not a URL", from: file, to: filepath.Join(w.dir, "other.db"), want: "is not a postgres:// URL"},
		{name: "no --to", from: file, want: "--to is required"},
	} {
		t.Run(c.name, func(t *testing.T) {
			if c.hold {
				l, err := ledger.Open(file, ledger.Options{})
				if err != nil {
					t.Fatal(err)
				}
				defer l.Close()
			}
			args := []string{"ledger", "copy", "--from", c.from}
			if c.to != "" {
				args = append(args, "--to", c.to)
			}
			out, errOut, code := w.run(t, c.env, args...)
			if code != exitUsage || !strings.Contains(errOut, c.want) {
				t.Errorf("exit %d, stderr:\n%s\nwant exit 2 and %q", code, errOut, c.want)
			}
			if out != "" {
				t.Errorf("stdout: %q, want nothing", out)
			}
			noSecret(t, srv.Password(), out, errOut)
			noSecret(t, "not-the-password-4711", out, errOut)
		})
	}
}

// --state, OCTANE_IMPORT_STATE and settings.state (written out, or from the environment)
// each select a PostgreSQL ledger for a URL: the scan records in the database, and no file
// appears beside the configuration.
func TestStateURLSelectsPostgres(t *testing.T) {
	srv := testkit.NeedPostgres(t)
	for _, c := range []struct {
		name     string
		settings string // the configuration's settings block; {url} is the database's URL
		args     []string
		env      map[string]string
	}{
		{name: "--state", args: []string{"--state", "{url}"}},
		{name: "OCTANE_IMPORT_STATE", env: map[string]string{"OCTANE_IMPORT_STATE": "{url}"}},
		{name: "settings.state", settings: "settings:\n  state: \"{url}\"\n"},
		{name: "settings.state from the environment", settings: "settings:\n  state: ${env:LEDGER_URL}\n", env: map[string]string{"LEDGER_URL": "{url}"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			url := srv.Database(t)
			fill := func(s string) string { return strings.ReplaceAll(s, "{url}", url) }
			w := newPGWorld(t, fill(c.settings))
			env := map[string]string{}
			for k, v := range c.env {
				env[k] = fill(v)
				t.Setenv(k, fill(v)) // ${env:} in the configuration reads the process's environment
			}
			args := []string{"scan", "-vv"}
			for _, a := range c.args {
				args = append(args, fill(a))
			}
			out, errOut, code := w.run(t, env, append(args, w.tree)...)
			if code != exitOK {
				t.Fatalf("scan: exit %d\n%s", code, errOut)
			}
			noSecret(t, srv.Password(), out, errOut)
			v, err := ledger.OpenView(url)
			if err != nil {
				t.Fatal(err)
			}
			defer v.Close()
			sum, err := v.Summarize()
			if err != nil || sum.Files[ledger.Accepted] != w.files {
				t.Errorf("the PostgreSQL ledger holds %+v (%v), want %d files accepted", sum, err, w.files)
			}
			entries, _ := os.ReadDir(w.dir)
			if len(entries) != 1 {
				t.Errorf("the configuration's folder holds %d entries, want only the configuration (no ledger file)", len(entries))
			}
			out, errOut, code = w.run(t, env, append([]string{"status"}, args[2:]...)...)
			if code != exitOK || !strings.Contains(out, "Ledger "+ledger.RedactURLs(url)+"\n") {
				t.Errorf("status: exit %d\n%s%s", code, out, errOut)
			}
			noSecret(t, srv.Password(), out, errOut)
		})
	}
}

// A wrong URL or password at start is exit 2 with the database's own message, before
// anything is read or sent; the password never shows, not even in debug logs.
func TestStateURLWrongAtStart(t *testing.T) {
	srv := testkit.NeedPostgres(t)
	const wrongPassword = "wrong-pass-90210"
	good := srv.Database(t)
	for _, c := range []struct {
		name, url, want string
	}{
		{"wrong password", strings.Replace(good, srv.Password(), wrongPassword, 1), `password authentication failed for user "ledger"`},
		{"no such database", good[:strings.LastIndex(good, "/")] + "/no_such_db?sslmode=disable", `database "no_such_db" does not exist`},
		{"no such user", strings.Replace(strings.Replace(good, "//ledger:", "//nobody:", 1), srv.Password(), wrongPassword, 1), `password authentication failed for user "nobody"`},
	} {
		for _, cmd := range []string{"scan", "watch"} {
			t.Run(c.name+"/"+cmd, func(t *testing.T) {
				w := newPGWorld(t, "")
				out, errOut, code := w.run(t, nil, cmd, "-vv", "--log-format", "json", "--state", c.url, "--output", "json", w.tree)
				if code != exitUsage || !strings.Contains(errOut, c.want) {
					t.Errorf("exit %d, stderr:\n%s\nwant exit 2 and %q", code, errOut, c.want)
				}
				if !strings.Contains(errOut, ledger.RedactURLs(c.url)) {
					t.Errorf("the error does not name the ledger by its masked URL %s:\n%s", ledger.RedactURLs(c.url), errOut)
				}
				noSecret(t, srv.Password(), out, errOut)
				noSecret(t, wrongPassword, out, errOut)
				if n := len(w.srv.Runs()); n != 0 {
					t.Errorf("%d runs sent", n)
				}
			})
		}
	}
}
