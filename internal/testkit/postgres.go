package testkit

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// PostgresServer is a PostgreSQL server of the test process's own, for the tests of the
// PostgreSQL ledger and of everything above it: started on first use from the server
// binaries of Debian's postgresql package (initdb into a temporary folder; the server on a
// free loopback port, as the postgres system user when the tests run as root, with
// password authentication over TCP), one per test process, and removed by StopPostgres (Main
// calls it). On Linux the server is also stopped by the kernel when the test process dies
// (a timeout, a kill), and a later test process removes the folder it left.
//
// Each test takes a database of its own (Postgres, or Database): tests never see each
// other's ledgers, and the server is started once per test process, not per test.
type PostgresServer struct {
	bin      string // folder of initdb and postgres
	dir      string // data folder, socket, log
	port     int
	password string
	user     *user.User // the user the server runs as; nil: this process's

	mu     sync.Mutex
	exited chan struct{} // closed when the running server ends; nil when stopped
	proc   *os.Process

	dbs atomic.Int64
}

// The superuser of the tests' server (its password is random, per server).
const pgSuperuser = "ledger"

var pgServer struct {
	once sync.Once
	srv  *PostgresServer
	err  error
}

// StartPostgres returns the test process's server, starting it on the first call. Its error
// says why there is none (no server binaries: apt-get install postgresql).
func StartPostgres() (*PostgresServer, error) {
	pgServer.once.Do(func() {
		pgServer.srv, pgServer.err = startPostgres()
		if pgServer.err != nil && pgServer.srv != nil {
			pgServer.srv.remove()
			pgServer.srv = nil
		}
	})
	return pgServer.srv, pgServer.err
}

// NeedPostgres returns the test process's server, or skips the test when there is none,
// unless the environment variable CI is set: on CI a missing server is a failure (.ci/run
// installs the package).
func NeedPostgres(t testing.TB) *PostgresServer {
	t.Helper()
	s, err := StartPostgres()
	if err == nil {
		return s
	}
	if os.Getenv("CI") != "" {
		t.Fatalf("PostgreSQL tests: %v (CI is set: they must run)", err)
	}
	t.Skipf("PostgreSQL tests: %v", err)
	return nil
}

// Postgres creates an empty database for the test on the test process's server and returns
// its URL (postgres://ledger:PASSWORD@127.0.0.1:PORT/NAME?sslmode=disable). The test skips
// when there is no server (see NeedPostgres).
func Postgres(t testing.TB) string {
	t.Helper()
	return NeedPostgres(t).Database(t)
}

// Database creates an empty database and returns its URL; a failure ends the test.
func (s *PostgresServer) Database(t testing.TB) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	url, err := s.CreateDatabase(ctx)
	if err != nil {
		t.Fatal(err)
	}
	return url
}

// CreateDatabase creates an empty database and returns its URL.
func (s *PostgresServer) CreateDatabase(ctx context.Context) (string, error) {
	name := fmt.Sprintf("t%d", s.dbs.Add(1))
	conn, err := pgx.Connect(ctx, s.URL("postgres"))
	if err != nil {
		return "", fmt.Errorf("test PostgreSQL: %w", err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+name); err != nil {
		return "", fmt.Errorf("test PostgreSQL: creating database %s: %w", name, err)
	}
	return s.URL(name), nil
}

// URL is the URL of the database name, as the superuser.
func (s *PostgresServer) URL(name string) string {
	return fmt.Sprintf("postgres://%s:%s@127.0.0.1:%d/%s?sslmode=disable", pgSuperuser, s.password, s.port, name)
}

// Port is the server's TCP port on 127.0.0.1.
func (s *PostgresServer) Port() int { return s.port }

// Password is the superuser's password: tests check that it never shows.
func (s *PostgresServer) Password() string { return s.password }

// Log is what the server wrote to its log so far.
func (s *PostgresServer) Log() string {
	data, _ := os.ReadFile(filepath.Join(s.dir, "log"))
	return string(data)
}

// Stop stops the server: a fast shutdown (sessions ended, a clean checkpoint), or with
// immediate an immediate one (as a crash: recovery at the next start). Databases and their
// data stay; Start starts it again on the same port.
func (s *PostgresServer) Stop(immediate bool) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.stopLocked(immediate)
}

func (s *PostgresServer) stopLocked(immediate bool) error {
	if s.exited == nil {
		return nil
	}
	sig := os.Interrupt // SIGINT: fast shutdown
	if immediate {
		sig = syscall.SIGQUIT
	}
	if err := s.proc.Signal(sig); err != nil && !errors.Is(err, os.ErrProcessDone) {
		return fmt.Errorf("test PostgreSQL: stopping: %w", err)
	}
	select {
	case <-s.exited:
	case <-time.After(time.Minute):
		_ = s.proc.Kill()
		<-s.exited
		return errors.New("test PostgreSQL: not stopped after a minute: killed")
	}
	s.exited, s.proc = nil, nil
	return nil
}

// Start starts the server again after Stop, on the same port, and waits until it takes
// connections.
func (s *PostgresServer) Start() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.exited != nil {
		return nil
	}
	return s.startLocked()
}

// StopPostgres stops the test process's server, if one was started, and removes its folder.
// A TestMain calls it after m.Run (Main and WithPostgres do).
func StopPostgres() {
	if s := pgServer.srv; s != nil {
		s.remove()
	}
}

func (s *PostgresServer) remove() {
	s.mu.Lock()
	_ = s.stopLocked(true)
	s.mu.Unlock()
	if s.dir != "" {
		os.RemoveAll(s.dir)
	}
}

// TestingM is what a TestMain runs: *testing.M, or what wraps it.
type TestingM interface{ Run() int }

// Main runs the tests, then StopPostgres and RemoveBinary, and returns their exit code:
//
//	func TestMain(m *testing.M) { os.Exit(testkit.Main(m)) }
func Main(m TestingM) int {
	defer RemoveBinary()
	defer StopPostgres()
	return m.Run()
}

// WithPostgres wraps m so that running it also stops the server (and removes the binary
// Binary built) afterwards, for a TestMain
// that hands m to another runner: testscript.Main(testkit.WithPostgres(m), commands).
func WithPostgres(m TestingM) TestingM { return mainFunc(func() int { return Main(m) }) }

type mainFunc func() int

func (f mainFunc) Run() int { return f() }

// pgDirPrefix names the servers' folders in the temporary folder (see sweepPostgres).
const pgDirPrefix = "testkit-pg-"

func startPostgres() (*PostgresServer, error) {
	s := &PostgresServer{bin: pgBinDir()}
	if s.bin == "" {
		return nil, errors.New("no PostgreSQL server binaries (initdb, postgres): apt-get install postgresql")
	}
	sweepPostgres()
	if os.Getuid() == 0 {
		// The server refuses to run as root.
		u, err := user.Lookup("postgres")
		if err != nil {
			return nil, fmt.Errorf("running as root and no postgres user to run the server as: %w", err)
		}
		s.user = u
	}
	dir, err := os.MkdirTemp("", pgDirPrefix)
	if err != nil {
		return nil, err
	}
	s.dir = dir
	if err := os.WriteFile(filepath.Join(dir, "owner"), []byte(strconv.Itoa(os.Getpid())), 0o644); err != nil {
		return s, err
	}
	if s.user != nil {
		uid, _ := strconv.Atoi(s.user.Uid)
		gid, _ := strconv.Atoi(s.user.Gid)
		if err := os.Chown(dir, uid, gid); err != nil {
			return s, err
		}
	}
	var pw [12]byte
	_, _ = rand.Read(pw[:])
	s.password = "pw-" + hex.EncodeToString(pw[:])
	pwfile := filepath.Join(dir, "pwfile")
	if err := os.WriteFile(pwfile, []byte(s.password+"\n"), 0o644); err != nil {
		return s, err
	}
	initdb := s.command("initdb", "-D", filepath.Join(dir, "data"), "-U", pgSuperuser, "--pwfile", pwfile, "-E", "UTF8",
		"--locale=C", "--auth-local=trust", "--auth-host=scram-sha-256", "-N", "--no-instructions")
	if out, err := initdb.CombinedOutput(); err != nil {
		return s, fmt.Errorf("initdb: %v: %s", err, out)
	}
	os.Remove(pwfile)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return s, err
	}
	s.port = ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	s.mu.Lock()
	defer s.mu.Unlock()
	return s, s.startLocked()
}

// command is a server binary run as the server's user.
func (s *PostgresServer) command(name string, args ...string) *exec.Cmd {
	cmd := exec.Command(filepath.Join(s.bin, name), args...)
	cmd.Dir = s.dir
	cmd.SysProcAttr = serverProcAttr(s.user)
	return cmd
}

// startLocked starts the server (postgres itself, a child of this process, so that it ends
// with it) and waits until it takes connections.
func (s *PostgresServer) startLocked() error {
	logf, err := os.OpenFile(filepath.Join(s.dir, "log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	defer logf.Close()
	cmd := s.command("postgres", "-D", filepath.Join(s.dir, "data"), "-p", strconv.Itoa(s.port), "-k", s.dir,
		"-c", "listen_addresses=127.0.0.1", "-c", "max_connections=300")
	cmd.Stdout, cmd.Stderr = logf, logf
	started, exited := make(chan error, 1), make(chan struct{})
	go func() {
		// The server is told to stop when the thread that started it ends (Pdeathsig, on
		// Linux): this goroutine keeps that thread until the server ends.
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		if err := cmd.Start(); err != nil {
			started <- err
			return
		}
		started <- nil
		_ = cmd.Wait()
		close(exited)
	}()
	if err := <-started; err != nil {
		return fmt.Errorf("starting postgres: %w", err)
	}
	s.proc, s.exited = cmd.Process, exited
	deadline := time.Now().Add(time.Minute)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		conn, err := pgx.Connect(ctx, s.URL("postgres"))
		if err == nil {
			conn.Close(ctx)
			cancel()
			return nil
		}
		cancel()
		select {
		case <-exited:
			s.exited, s.proc = nil, nil
			return fmt.Errorf("postgres ended at start: %s", lastLines(s.Log(), 10))
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			_ = s.stopLocked(true)
			return fmt.Errorf("postgres takes no connections after a minute (%v): %s", err, lastLines(s.Log(), 10))
		}
	}
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}

// pgBinDir finds the folder of initdb and postgres: Debian's /usr/lib/postgresql/N/bin
// (newest first), else on PATH.
func pgBinDir() string {
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	major := func(dir string) int { n, _ := strconv.Atoi(filepath.Base(filepath.Dir(dir))); return n }
	sort.Slice(dirs, func(i, j int) bool { return major(dirs[i]) > major(dirs[j]) })
	for _, d := range dirs {
		if _, err := os.Stat(filepath.Join(d, "initdb")); err == nil {
			return d
		}
	}
	if p, err := exec.LookPath("initdb"); err == nil {
		if _, err := exec.LookPath("postgres"); err == nil {
			return filepath.Dir(p)
		}
	}
	return ""
}

// sweepPostgres removes the folders of servers whose test process is gone (killed before
// StopPostgres ran) and whose server is gone too.
func sweepPostgres() {
	dirs, _ := filepath.Glob(filepath.Join(os.TempDir(), pgDirPrefix+"*"))
	for _, dir := range dirs {
		data, err := os.ReadFile(filepath.Join(dir, "owner"))
		if err != nil {
			continue
		}
		owner, err := strconv.Atoi(strings.TrimSpace(string(data)))
		if err != nil || processAlive(owner) {
			continue
		}
		if pid, err := os.ReadFile(filepath.Join(dir, "data", "postmaster.pid")); err == nil {
			if n, err := strconv.Atoi(strings.TrimSpace(strings.SplitN(string(pid), "\n", 2)[0])); err == nil && processAlive(n) {
				continue
			}
		}
		os.RemoveAll(dir)
	}
}
