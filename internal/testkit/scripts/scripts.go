// Package scripts holds the commands the project's testscript scripts share (cmd's and
// docs' testdata/script/*.txtar): a stand-in Octane for the script (restarted at will) and
// what it holds, a database on the test process's PostgreSQL server, generated builds
// (bench/gen), a dead port, waiting, and an exact exit status; and the [postgres]
// condition. It is apart from testkit because it starts the sandbox, whose own tests use
// testkit.
package scripts

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rogpeppe/go-internal/testscript"

	"github.com/octane-import/octane-import/bench/gen"
	"github.com/octane-import/octane-import/internal/testkit"
	"github.com/octane-import/octane-import/sandbox"
)

// Commands are the custom commands, for testscript.Params.Cmds.
func Commands() map[string]func(ts *testscript.TestScript, neg bool, args []string) {
	return map[string]func(ts *testscript.TestScript, neg bool, args []string){
		"pgdb":     cmdPGDB,
		"standin":  cmdStandin,
		"deadport": cmdDeadPort,
		"gen":      cmdGen,
		"sleep":    cmdSleep,
		"waitfor":  cmdWaitFor,
		"octane":   cmdOctane,
		"exits":    cmdExits,
	}
}

// Condition is the scripts' condition, for testscript.Params.Condition: [postgres] holds
// when this test process has a PostgreSQL server (internal/testkit) for pgdb. A script
// skips without one, unless the environment variable CI is set: there it fails.
func Condition(cond string) (bool, error) {
	if cond != "postgres" {
		return false, fmt.Errorf("unknown condition %q", cond)
	}
	if _, err := testkit.StartPostgres(); err != nil {
		if os.Getenv("CI") != "" {
			return false, fmt.Errorf("PostgreSQL tests: %v (CI is set: they must run)", err)
		}
		return false, nil
	}
	return true, nil
}

// pgdb NAME creates an empty database on the test process's PostgreSQL server (after
// [postgres]) and sets NAME to its URL, and PG_TEST_PASSWORD to the password in it, for the
// script to check that it never shows (not PGPASSWORD, which the driver would read).
func cmdPGDB(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 1 {
		ts.Fatalf("usage: pgdb NAME")
	}
	srv, err := testkit.StartPostgres()
	ts.Check(err)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	url, err := srv.CreateDatabase(ctx)
	ts.Check(err)
	ts.Setenv(args[0], url)
	ts.Setenv("PG_TEST_PASSWORD", srv.Password())
}

// standins are the scripts' stand-ins, by script; switches, what serves them.
var standins, switches sync.Map

// standinSwitch serves the current stand-in of a script at the script's address.
type standinSwitch struct {
	cur atomic.Pointer[sandbox.Server]
}

func (sw *standinSwitch) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	sw.cur.Load().ServeHTTP(w, r)
}

// standin [-refuse-compressed] [-no-ci-job-create] [-latency D] starts a stand-in Octane for
// the script, stopped when the script ends, and sets OCTANE_URL, OCTANE_SHARED_SPACE,
// OCTANE_WORKSPACE, OCTANE_CLIENT_ID and OCTANE_CLIENT_SECRET to reach it. standin -restart
// puts a new, empty one with the same options at the same address (an Octane restarted or
// reset); a latency is not carried over.
func cmdStandin(ts *testscript.TestScript, neg bool, args []string) {
	if neg {
		ts.Fatalf("unsupported: ! standin")
	}
	var o sandbox.Options
	var latency time.Duration
	restart := false
	for i := 0; i < len(args); i++ {
		switch args[i] {
		case "-restart":
			restart = true
		case "-refuse-compressed":
			o.RefuseCompressed = true
		case "-no-ci-job-create":
			o.NoCIJobCreate = true
		case "-latency": // every request waits this long
			i++
			d, err := time.ParseDuration(args[i])
			ts.Check(err)
			latency = d
		default:
			ts.Fatalf("standin: unknown flag %s", args[i])
		}
	}
	if restart {
		v, ok := switches.Load(ts)
		if !ok {
			ts.Fatalf("standin -restart: no stand-in to restart")
		}
		sw := v.(*standinSwitch)
		old := sw.cur.Load()
		srv := sandbox.New(old.Options())
		sw.cur.Store(srv)
		standins.Store(ts, srv)
		old.Close()
		ts.Defer(srv.Close)
		return
	}
	srv := sandbox.New(o)
	sw := &standinSwitch{}
	sw.cur.Store(srv)
	hs := httptest.NewServer(sw)
	ts.Defer(hs.Close)
	switches.Store(ts, sw)
	ts.Defer(func() { switches.Delete(ts) })
	standins.Store(ts, srv)
	ts.Defer(func() { standins.Delete(ts) })
	if latency > 0 {
		srv.Inject(sandbox.Fault{Kind: sandbox.Latency, Delay: latency, Times: 1 << 30})
	}
	ts.Defer(func() { sw.cur.Load().Close() })
	so := srv.Options()
	ts.Setenv("OCTANE_URL", hs.URL)
	ts.Setenv("OCTANE_SHARED_SPACE", so.SharedSpace)
	ts.Setenv("OCTANE_WORKSPACE", so.Workspace)
	ts.Setenv("OCTANE_CLIENT_ID", so.Credentials[0].ID)
	ts.Setenv("OCTANE_CLIENT_SECRET", so.Credentials[0].Secret)
}

// gen -builds N -files F -cases C DIR writes generated builds (bench/gen: manifests and
// JUnit reports) into DIR.
func cmdGen(ts *testscript.TestScript, neg bool, args []string) {
	fs := flag.NewFlagSet("gen", flag.ContinueOnError)
	var spec gen.Spec
	fs.IntVar(&spec.Builds, "builds", 10, "builds")
	fs.IntVar(&spec.FilesPerBuild, "files", 1, "reports per build")
	fs.IntVar(&spec.CasesPerFile, "cases", 10, "test cases per report")
	ts.Check(fs.Parse(args))
	if fs.NArg() != 1 {
		ts.Fatalf("usage: gen [-builds N] [-files F] [-cases C] DIR")
	}
	spec.Seed = 1
	_, err := gen.Write(ts.MkAbs(fs.Arg(0)), spec)
	ts.Check(err)
}

// standin returns the script's stand-in, started by the standin command.
func standin(ts *testscript.TestScript, usage string) *sandbox.Server {
	v, ok := standins.Load(ts)
	if !ok {
		ts.Fatalf("%s: no standin in this script", usage)
	}
	return v.(*sandbox.Server)
}

// waitfor builds N waits until the script's stand-in holds N builds (at most a minute): a
// script can then act while a background command is busy sending.
func cmdWaitFor(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) != 2 || args[0] != "builds" {
		ts.Fatalf("usage: waitfor builds N")
	}
	n, err := strconv.Atoi(args[1])
	ts.Check(err)
	srv := standin(ts, "waitfor")
	for deadline := time.Now().Add(time.Minute); len(srv.Builds()) < n; time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			ts.Fatalf("waitfor: %d builds after a minute, want %d", len(srv.Builds()), n)
		}
	}
}

// octane runs|builds|servers|pipelines prints what the script's stand-in holds, one JSON
// object per line, for stdout to match.
func cmdOctane(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) != 1 {
		ts.Fatalf("usage: octane runs|builds|servers|pipelines (after standin)")
	}
	srv := standin(ts, "octane")
	switch args[0] {
	case "runs":
		printJSON(ts, srv.Runs())
	case "builds":
		printJSON(ts, srv.Builds())
	case "servers":
		printJSON(ts, srv.Servers())
	case "pipelines":
		printJSON(ts, srv.Pipelines())
	default:
		ts.Fatalf("octane: unknown %q", args[0])
	}
}

// printJSON prints items on the script's stdout, one JSON object per line.
func printJSON[T any](ts *testscript.TestScript, items []T) {
	enc := json.NewEncoder(ts.Stdout())
	for _, it := range items {
		ts.Check(enc.Encode(it))
	}
}

// sleep D waits D (a Go duration).
func cmdSleep(ts *testscript.TestScript, neg bool, args []string) {
	d, err := time.ParseDuration(args[0])
	ts.Check(err)
	time.Sleep(d)
}

// deadport sets DEADURL to an http URL on a loopback port nothing listens on.
func cmdDeadPort(ts *testscript.TestScript, neg bool, args []string) {
	ts.Setenv("DEADURL", "http://"+testkit.FreeAddr(ts))
}

// exits N program [args...] runs program as exec does (its stdout and stderr are there
// for the next stdout and stderr commands) and fails unless it exits with status N:
// `! exec` only says that it failed, and octane-import's statuses mean different things.
func cmdExits(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) < 2 {
		ts.Fatalf("usage: exits N program [args...]")
	}
	want, err := strconv.Atoi(args[0])
	ts.Check(err)
	err = ts.Exec(args[1], args[2:]...)
	got := 0
	if ee := (*exec.ExitError)(nil); errors.As(err, &ee) {
		got = ee.ExitCode()
	} else if err != nil {
		ts.Fatalf("%s: %v", args[1], err)
	}
	if got != want {
		ts.Fatalf("%s exited %d, want %d", args[1], got, want)
	}
}
