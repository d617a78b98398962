package ledger

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
)

// holderChild is another process holding a ledger: this test binary run again as
// TestHolderChild.
type holderChild struct {
	cmd   *exec.Cmd
	stdin io.WriteCloser
	pid   int
}

// startHolder starts a process that opens the ledger at path for writing, records files
// into it, says "ready" and holds the ledger until its stdin closes.
func startHolder(t *testing.T, path string, files int) *holderChild {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestHolderChild$", "--", "--client-secret", "s3cr3t", "--state=postgres://u:hunter2@db/x")
	cmd.Env = append(os.Environ(), fmt.Sprintf("LEDGER_HOLDER_CHILD=%s:%d", path, files))
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	c := &holderChild{cmd: cmd, stdin: stdin, pid: cmd.Process.Pid}
	t.Cleanup(func() { c.kill() })
	ready := make(chan string, 1)
	go func() {
		s := bufio.NewScanner(stdout)
		for s.Scan() {
			if strings.HasPrefix(s.Text(), "ready") || strings.HasPrefix(s.Text(), "error") {
				ready <- s.Text()
			}
		}
		close(ready)
	}()
	select {
	case line := <-ready:
		if line != "ready" {
			t.Fatalf("holder process: %q", line)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("the holder process did not get ready")
	}
	return c
}

// stop closes the child's stdin (it closes the ledger and exits) and waits for it.
func (c *holderChild) stop(t *testing.T) {
	t.Helper()
	c.stdin.Close()
	if err := c.cmd.Wait(); err != nil {
		t.Fatalf("holder process: %v", err)
	}
}

// kill kills the child as kill -9 would.
func (c *holderChild) kill() {
	if c.cmd.ProcessState == nil {
		c.cmd.Process.Kill()
		c.cmd.Wait()
	}
}

// TestHolderChild is the holder process of the tests below; it does nothing in a test run.
func TestHolderChild(t *testing.T) {
	arg := os.Getenv("LEDGER_HOLDER_CHILD")
	if arg == "" {
		t.Skip("run by the holder tests")
	}
	i := strings.LastIndex(arg, ":")
	path := arg[:i]
	var n int
	fmt.Sscan(arg[i+1:], &n)
	l, err := Open(path, Options{})
	if err != nil {
		fmt.Println("error", err)
		return
	}
	var files []File
	for i := range n {
		st := Accepted
		if i%10 == 0 {
			st = Failed
		}
		files = append(files, File{Path: fmt.Sprintf("/drops/%05d.xml", i), State: st, Error: "bad " + fmt.Sprint(i), Runs: Counts{Passed: 1}})
	}
	if err := l.PutFiles(files...); err != nil {
		fmt.Println("error", err)
		return
	}
	fmt.Println("ready")
	io.Copy(io.Discard, os.Stdin)
	if err := l.Close(); err != nil {
		fmt.Println("error", err)
	}
}

// A ledger held by another process: opening it says who holds it (pid, command, since);
// a view reads it through the holder; when the holder closes the ledger its record goes;
// when it is killed its record stays, is known to be stale, and the next holder replaces it.
func TestLedgerInUseByAnotherProcess(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state", "ledger.db")
	child := startHolder(t, path, 2500)

	_, err := Open(path, Options{Timeout: 100 * time.Millisecond})
	var le *LockedError
	if !errors.Is(err, ErrLocked) || !errors.As(err, &le) || le.Holder == nil {
		t.Fatalf("second open: %v, want a *LockedError naming the holder", err)
	}
	h := le.Holder
	if h.PID != child.pid || le.Stale || !h.Alive() {
		t.Errorf("holder = %+v (stale %v), want pid %d, alive", h, le.Stale, child.pid)
	}
	if time.Since(h.Since) > time.Minute || time.Since(h.Since) < 0 {
		t.Errorf("holder since %v", h.Since)
	}
	msg := err.Error()
	t.Log(msg)
	for _, want := range []string{fmt.Sprintf("pid %d", child.pid), filepath.Base(os.Args[0]), "-test.run=^TestHolderChild$", "since", path} {
		if !strings.Contains(msg, want) {
			t.Errorf("error %q does not name %q", msg, want)
		}
	}
	for _, secret := range []string{"s3cr3t", "hunter2"} {
		if strings.Contains(msg, secret) {
			t.Errorf("error %q shows a secret of the holder's command line", msg)
		}
	}
	// A read-only open (a dry run) meets the same lock and says the same.
	if _, err := Open(path, Options{ReadOnly: true, Timeout: 100 * time.Millisecond}); !errors.As(err, &le) || le.Holder == nil || le.Holder.PID != child.pid {
		t.Errorf("read-only open: %v", err)
	}

	// status's view: through the holder.
	v, err := OpenView(path)
	if err != nil {
		t.Fatal(err)
	}
	if v.Through() == nil || v.Through().PID != child.pid {
		t.Errorf("view through %v, want the holder", v.Through())
	}
	s, err := v.Summarize()
	if err != nil {
		t.Fatal(err)
	}
	if s.Files[Accepted] != 2250 || s.Files[Failed] != 250 || s.Runs.Passed != 2250 {
		t.Errorf("summary through the holder = %+v", s)
	}
	n, last := 0, ""
	if err := v.Files(func(f File) bool {
		if f.Path <= last {
			t.Fatalf("files out of order: %s after %s", f.Path, last)
		}
		last = f.Path
		n++
		return true
	}); err != nil || n != 2500 {
		t.Errorf("files through the holder: %d, %v", n, err)
	}
	var failed []File
	if err := v.FilesIn([]FileState{Failed}, func(f File) bool { failed = append(failed, f); return true }); err != nil {
		t.Fatal(err)
	}
	if len(failed) != 250 || failed[3].Path != "/drops/00030.xml" || failed[3].Error != "bad 30" {
		t.Errorf("failed files through the holder: %d, first %+v", len(failed), failed[:min(1, len(failed))])
	}
	stopped := 0
	if err := v.Files(func(File) bool { stopped++; return stopped < 3 }); err != nil || stopped != 3 {
		t.Errorf("stopping early: %d, %v", stopped, err)
	}
	v.Close()

	// The holder closes the ledger: its record and socket go, and the view reads the file.
	child.stop(t)
	if h, err := ReadHolder(path); h != nil || err != nil {
		t.Errorf("after the holder closed the ledger its record is %+v, %v", h, err)
	}
	if _, err := os.Stat(h.Socket); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the holder's socket is still there: %v", err)
	}
	v, err = OpenView(path)
	if err != nil {
		t.Fatal(err)
	}
	if v.Through() != nil {
		t.Errorf("view of a free ledger goes through %v", v.Through())
	}
	if s, err := v.Summarize(); err != nil || s.Files[Failed] != 250 {
		t.Errorf("summary of the file: %+v, %v", s, err)
	}
	v.Close()

	// Killed: the record stays behind, recognised as stale; a view reads the file; the next
	// holder replaces the record.
	child = startHolder(t, path, 10)
	child.kill()
	h, err = ReadHolder(path)
	if err != nil || h == nil || h.PID != child.pid {
		t.Fatalf("a killed holder's record: %+v, %v", h, err)
	}
	if h.Alive() {
		t.Errorf("the record of a killed process is taken for alive: %+v", h)
	}
	v, err = OpenView(path)
	if err != nil {
		t.Fatal(err)
	}
	if v.Through() != nil {
		t.Errorf("view went through a dead holder")
	}
	v.Close()
	l, err := Open(path, Options{Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	if h, _ := ReadHolder(path); h == nil || h.PID != os.Getpid() {
		t.Errorf("holder after taking over: %+v", h)
	}
	l.Close()
}

// A stale record while something else holds the lock: the error says the record is stale,
// not that its dead process holds the ledger.
func TestLockedWithStaleRecord(t *testing.T) {
	path := filepath.Join(t.TempDir(), "ledger.db")
	l, err := Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	l.Close()
	dead := exec.Command(os.Args[0], "-test.run=^$")
	if err := dead.Run(); err != nil {
		t.Fatal(err)
	}
	host, _ := os.Hostname()
	if err := writeHolder(path, &Holder{PID: dead.Process.Pid, Host: host, Command: []string{"octane-import", "watch"}, Since: time.Now()}); err != nil {
		t.Fatal(err)
	}
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: time.Second}) // holds the lock, records nothing
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	_, err = Open(path, Options{Timeout: 100 * time.Millisecond})
	var le *LockedError
	if !errors.As(err, &le) || !le.Stale {
		t.Fatalf("err = %v, want a stale holder", err)
	}
	if !strings.Contains(err.Error(), "no longer running") {
		t.Errorf("message %q does not say the record is stale", err)
	}
	if _, err := OpenView(path); !errors.Is(err, ErrLocked) {
		t.Errorf("view of a ledger held by an unknown process: %v, want ErrLocked", err)
	}
}

func TestRedactArgs(t *testing.T) {
	got := redactArgs([]string{"octane-import", "scan", "--client-secret", "abc", "--api-token=xyz", "--state", "postgres://me:pa%40ss@db:5432/l?sslmode=disable", "/drops"})
	want := "octane-import scan --client-secret xxxxx --api-token=xxxxx --state postgres://me:xxxxx@db:5432/l?sslmode=disable /drops"
	if strings.Join(got, " ") != want {
		t.Errorf("redacted:\n got %q\nwant %q", strings.Join(got, " "), want)
	}
	for in, want := range map[string]string{
		"dial postgres://u:p@h/db failed":   "dial postgres://u:xxxxx@h/db failed",
		"postgres://u@h/db":                 "postgres://u@h/db",
		"x postgresql://u:p/q#@h:1/d y":     "x postgresql://u:xxxxx@h:1/d y",
		"no url here":                       "no url here",
		"a https://x:y@a and b://c:d@e end": "a https://x:xxxxx@a and b://c:xxxxx@e end",
	} {
		if got := RedactURLs(in); got != want {
			t.Errorf("RedactURLs(%q) = %q, want %q", in, got, want)
		}
	}
}
