// Package scripts holds the commands the project's testscript scripts share (cmd's and
// docs' testdata/script/*.txtar): a stand-in Octane for the script and what it holds,
// generated builds (bench/gen), a dead port, waiting, and an exact exit status. It is
// apart from testkit because it starts the sandbox, whose own tests use testkit.
package scripts

import (
	"encoding/json"
	"errors"
	"flag"
	"os/exec"
	"strconv"
	"sync"
	"time"

	"github.com/rogpeppe/go-internal/testscript"

	"github.com/octane-import/octane-import/bench/gen"
	"github.com/octane-import/octane-import/internal/testkit"
	"github.com/octane-import/octane-import/sandbox"
)

// Commands are the custom commands, for testscript.Params.Cmds.
func Commands() map[string]func(ts *testscript.TestScript, neg bool, args []string) {
	return map[string]func(ts *testscript.TestScript, neg bool, args []string){
		"standin":  cmdStandin,
		"deadport": cmdDeadPort,
		"gen":      cmdGen,
		"sleep":    cmdSleep,
		"waitfor":  cmdWaitFor,
		"octane":   cmdOctane,
		"exits":    cmdExits,
	}
}

// standins are the scripts' stand-ins, by script.
var standins sync.Map

// standin [-refuse-compressed] [-no-ci-job-create] [-latency D] starts a stand-in Octane for
// the script, stopped when the script ends, and sets OCTANE_URL, OCTANE_SHARED_SPACE,
// OCTANE_WORKSPACE, OCTANE_CLIENT_ID and OCTANE_CLIENT_SECRET to reach it.
func cmdStandin(ts *testscript.TestScript, neg bool, args []string) {
	if neg {
		ts.Fatalf("unsupported: ! standin")
	}
	var o sandbox.Options
	var latency time.Duration
	for i := 0; i < len(args); i++ {
		switch args[i] {
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
	srv, err := sandbox.Start(o)
	ts.Check(err)
	standins.Store(ts, srv)
	ts.Defer(func() { standins.Delete(ts) })
	if latency > 0 {
		srv.Inject(sandbox.Fault{Kind: sandbox.Latency, Delay: latency, Times: 1 << 30})
	}
	ts.Defer(srv.Close)
	so := srv.Options()
	ts.Setenv("OCTANE_URL", srv.URL())
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
