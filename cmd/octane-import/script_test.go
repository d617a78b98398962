package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rogpeppe/go-internal/testscript"

	"github.com/octane-import/octane-import/bench/gen"
	"github.com/octane-import/octane-import/internal/testkit"
	"github.com/octane-import/octane-import/sandbox"
)

// TestMain lets the test binary run as octane-import inside the scripts: `exec
// octane-import` in a script runs main, as the built binary would.
func TestMain(m *testing.M) {
	testscript.Main(testkit.WithPostgres(m), map[string]func(){
		"octane-import": main,
	})
}

// TestScripts runs testdata/script/*.txtar: command lines as a user types them, with what
// they must print and their exit status (see the testscript package). Each script starts
// in a fresh folder holding its files; `standin` starts a stand-in Octane for it.
func TestScripts(t *testing.T) {
	builds, err := filepath.Abs(filepath.Join("..", "..", "testdata", "builds"))
	if err != nil {
		t.Fatal(err)
	}
	testscript.Run(t, testscript.Params{
		Dir: filepath.Join("testdata", "script"),
		Setup: func(e *testscript.Env) error {
			e.Setenv("BUILDS", builds) // the repository's example builds (read-only)
			e.Setenv("NO_COLOR", "")
			e.Setenv("TZ", "UTC")
			return nil
		},
		// [postgres]: this test process has a PostgreSQL server (internal/testkit) for pgdb. A
		// script skips without one, unless CI is set: there it fails.
		Condition: func(cond string) (bool, error) {
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
		},
		Cmds: map[string]func(ts *testscript.TestScript, neg bool, args []string){
			"pgdb":     cmdPGDB,
			"standin":  cmdStandin,
			"deadport": cmdDeadPort,
			"gen":      cmdGen,
			"sleep":    cmdSleep,
			"waitfor":  cmdWaitFor,
			"octane":   cmdOctane,
		},
	})
}

// standin [-refuse-compressed] [-no-ci-job-create] [-latency D] starts a stand-in Octane for the script
// (standin -restart puts a new, empty one at the same address: an Octane restarted or reset),
// stopped when the script ends, and sets OCTANE_URL, OCTANE_SHARED_SPACE,
// OCTANE_WORKSPACE, OCTANE_CLIENT_ID and OCTANE_CLIENT_SECRET to reach it.
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
	// The stand-in is served through a switch, so that `standin -restart` can put a new,
	// empty one at the same address (an Octane restarted, or reset).
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

// standinSwitch serves the current stand-in of a script.
type standinSwitch struct {
	cur atomic.Pointer[sandbox.Server]
}

func (sw *standinSwitch) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	sw.cur.Load().ServeHTTP(w, r)
}

// switches holds each script's standinSwitch.
var switches sync.Map

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

// standins are the scripts' stand-ins, by script.
var standins sync.Map

// waitfor builds N waits until the script's stand-in holds N builds (at most a minute): a
// script can then act while a background command is busy sending.
func cmdWaitFor(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) != 2 || args[0] != "builds" {
		ts.Fatalf("usage: waitfor builds N")
	}
	n, err := strconv.Atoi(args[1])
	ts.Check(err)
	v, ok := standins.Load(ts)
	if !ok {
		ts.Fatalf("waitfor: no standin in this script")
	}
	srv := v.(*sandbox.Server)
	for deadline := time.Now().Add(time.Minute); len(srv.Builds()) < n; time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			ts.Fatalf("waitfor: %d builds after a minute, want %d", len(srv.Builds()), n)
		}
	}
}

// octane runs|builds|servers|pipelines prints what the script's stand-in holds, one JSON
// object per line, for stdout to match.
func cmdOctane(ts *testscript.TestScript, neg bool, args []string) {
	v, ok := standins.Load(ts)
	if !ok || len(args) != 1 {
		ts.Fatalf("usage: octane runs|builds|servers|pipelines (after standin)")
	}
	srv := v.(*sandbox.Server)
	var items []any
	switch args[0] {
	case "runs":
		for _, r := range srv.Runs() {
			items = append(items, r)
		}
	case "builds":
		for _, b := range srv.Builds() {
			items = append(items, b)
		}
	case "servers":
		for _, x := range srv.Servers() {
			items = append(items, x)
		}
	case "pipelines":
		for _, x := range srv.Pipelines() {
			items = append(items, x)
		}
	default:
		ts.Fatalf("octane: unknown %q", args[0])
	}
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
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	ts.Check(err)
	addr := ln.Addr().String()
	ts.Check(ln.Close())
	ts.Setenv("DEADURL", "http://"+addr)
}
