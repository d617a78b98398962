//go:build faults

package reliability_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/octane-import/octane-import/importer/ledger"
	"github.com/octane-import/octane-import/internal/testkit"
)

// What the PostgreSQL scenarios add to the harness: an env whose ledger is a database of the
// test process's PostgreSQL server, binaries started in the background (watchers, scans run
// side by side) and killed or stopped at will, and the checks of a shared ledger.

// pgLease is the lease the scenarios ask for (settings.lease): short, so that the claims of
// a killed instance are taken over within the test; leaseOf reads the lease actually in
// force from the instances' heartbeat rows, and the waits follow it.
const pgLease = 3 * time.Second

// newPGEnv is newEnv with the ledger in a fresh PostgreSQL database. It returns the server
// too (for Stop and Start). Everything the binary printed is checked for the database's
// password, and the payloads the database keeps for the client secret.
func newPGEnv(t *testing.T, o envOptions) (*env, *testkit.PostgresServer) {
	t.Helper()
	srv := testkit.NeedPostgres(t)
	o.state = srv.Database(t)
	o.settings = "lease: " + pgLease.String() + "\n" + o.settings
	e := newEnv(t, o)
	t.Cleanup(func() {
		if srv.Start() != nil || t.Failed() { // a test that stopped the server leaves it running
			return
		}
		e.checkNoPassword(srv.Password())
		e.checkNoSecretInDatabase()
	})
	return e, srv
}

// checkNoPassword looks for the database's password in everything the binary printed.
func (e *env) checkNoPassword(password string) {
	e.t.Helper()
	e.mu.Lock()
	outs := e.outputs
	e.mu.Unlock()
	for i, o := range outs {
		if bytes.Contains(o, []byte(password)) {
			e.t.Errorf("the database password appears in the binary's output #%d:\n%s", i, clipText(string(o), 2000))
		}
	}
}

// checkNoSecretInDatabase is checkNoSecret's look at the ledger, for a PostgreSQL one: the
// stored payloads (decompressed) and the files' errors.
func (e *env) checkNoSecretInDatabase() {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	l, err := ledger.OpenPostgres(ctx, e.state, ledger.Options{ReadOnly: true})
	if err != nil {
		e.t.Errorf("opening the ledger to look for the secret: %v", err)
		return
	}
	defer l.Close()
	ps, _ := l.Payloads()
	for _, p := range ps {
		data, err := l.PayloadData(p.ID)
		if err != nil {
			continue // accepted: bytes dropped
		}
		zr, err := gzip.NewReader(bytes.NewReader(data))
		if err != nil {
			e.t.Errorf("payload %d: stored bytes are not gzip: %v", p.ID, err)
			continue
		}
		plain, _ := io.ReadAll(zr)
		if bytes.Contains(plain, []byte(clientSecret)) {
			e.t.Errorf("the client secret appears in payload %d", p.ID)
		}
	}
	_ = l.Files(func(f ledger.File) bool {
		if strings.Contains(f.Error, clientSecret) {
			e.t.Errorf("the client secret appears in the ledger's record of %s", f.Path)
		}
		return true
	})
}

// leaseOf is the lease the instances on the ledger at url work with (a heartbeat row's
// expiry minus its last beat), or 30 s, the default, when no row tells.
func leaseOf(t *testing.T, url string) time.Duration {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Logf("reading the lease: %v", err)
		return 30 * time.Second
	}
	defer conn.Close(ctx)
	var secs float64
	err = conn.QueryRow(ctx, `SELECT coalesce(max(extract(epoch FROM expires - last_seen)), 0)::float8 FROM octane_import.instances`).Scan(&secs)
	if err != nil || secs <= 0 {
		return 30 * time.Second
	}
	return time.Duration(secs * float64(time.Second)).Round(time.Millisecond)
}

// proc is the binary running in the background.
type proc struct {
	e              *env
	args           []string
	cmd            *exec.Cmd
	stdout, stderr *bytes.Buffer // written by exec until done
	started        time.Time
	done           chan struct{}
	res            result
}

// start starts the binary and returns at once. The test's cleanup kills it if it still runs.
func (e *env) start(args ...string) *proc {
	e.t.Helper()
	cmd, stdout, stderr := e.command(context.Background(), args...)
	if err := cmd.Start(); err != nil {
		e.t.Fatalf("starting octane-import %v: %v", args, err)
	}
	p := &proc{e: e, args: args, cmd: cmd, stdout: stdout, stderr: stderr, started: time.Now(), done: make(chan struct{})}
	go func() {
		_ = cmd.Wait()
		r := result{args: args, code: -1, stdout: stdout.String(), stderr: stderr.String(), elapsed: time.Since(p.started)}
		if ps := cmd.ProcessState; ps != nil {
			r.code = ps.ExitCode()
			if ws, ok := ps.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
				r.killed = true
			}
		}
		p.res = r
		e.record(r)
		close(p.done)
	}()
	e.t.Cleanup(func() {
		select {
		case <-p.done:
		default:
			_ = cmd.Process.Kill()
			<-p.done
		}
	})
	return p
}

// exited reports whether the process ended.
func (p *proc) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// wait waits for the process to end by itself; after timeout it is killed and the test fails.
func (p *proc) wait(timeout time.Duration) result {
	p.e.t.Helper()
	select {
	case <-p.done:
	case <-time.After(timeout):
		_ = p.cmd.Process.Kill()
		<-p.done
		p.e.t.Errorf("octane-import %s did not end within %s: killed\n%s", strings.Join(p.args, " "), timeout, p.res)
	}
	return p.res
}

// kill kills the process with SIGKILL and returns how it ended.
func (p *proc) kill() result {
	_ = p.cmd.Process.Signal(syscall.SIGKILL)
	<-p.done
	return p.res
}

// interrupt sends SIGINT (as systemd's stop, or Ctrl-C) and waits up to timeout for the
// process to end; then it is killed and the test fails.
func (p *proc) interrupt(timeout time.Duration) result {
	p.e.t.Helper()
	_ = p.cmd.Process.Signal(os.Interrupt)
	return p.wait(timeout)
}

// seedOr is RELIABILITY_SEED, or def.
func seedOr(t *testing.T, def uint64) uint64 {
	t.Helper()
	if s := os.Getenv("RELIABILITY_SEED"); s != "" {
		n, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			t.Fatalf("RELIABILITY_SEED=%q: %v", s, err)
		}
		return n
	}
	return def
}

func newRand(seed uint64) *rand.Rand { return rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)) }

// waitQuiet waits until the stand-in holds want runs (or more) and has taken no new one for
// quiet, or until deadline; it returns how many runs it holds.
func (e *env) waitQuiet(want int, quiet time.Duration, deadline time.Time) int {
	last, since := -1, time.Now()
	for {
		n := len(e.srv.Runs())
		if n != last {
			last, since = n, time.Now()
		}
		if n >= want && time.Since(since) >= quiet {
			return n
		}
		if time.Now().After(deadline) {
			return n
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// countLines counts the lines of s that contain sub.
func countLines(s, sub string) int {
	n := 0
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, sub) {
			n++
		}
	}
	return n
}

// linesWith are the lines of s that contain sub, for a failure's message.
func linesWith(s, sub string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, sub) {
			out = append(out, clipText(l, 300))
		}
	}
	return fmt.Sprintf("%d lines:\n  %s", len(out), strings.Join(out, "\n  "))
}

// liveInstances is the number of instances whose heartbeat is within their lease.
func liveInstances(t *testing.T, url string) int {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		return -1
	}
	defer conn.Close(ctx)
	var n int
	if err := conn.QueryRow(ctx, `SELECT count(*) FROM octane_import.instances WHERE expires > now()`).Scan(&n); err != nil {
		return -1
	}
	return n
}

// claimsOf says what the instance of the process pid holds in the ledger at url: claims of
// files (it is reading them), of queued payloads (it is sending them), both or neither.
func claimsOf(t *testing.T, url string, pid int) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		return "unknown (" + err.Error() + ")"
	}
	defer conn.Close(ctx)
	like := fmt.Sprintf("%%-%d-%%", pid) // instance ids are HOST-PID-RANDOM
	var files, payloads int
	err = conn.QueryRow(ctx, `SELECT (SELECT count(*) FROM octane_import.file_claims WHERE instance LIKE $1),
		(SELECT count(*) FROM octane_import.payloads WHERE claimed_by LIKE $1 AND state IN ('pending', 'sent'))`, like).Scan(&files, &payloads)
	switch {
	case err != nil:
		return "unknown (no ledger yet)"
	case files > 0 && payloads > 0:
		return "files and payloads"
	case files > 0:
		return "files (reading)"
	case payloads > 0:
		return "payloads (sending)"
	}
	return "nothing (starting or idle)"
}
