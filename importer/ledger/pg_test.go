package ledger

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
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// testPG is the PostgreSQL server the package's tests share: started by TestMain from the
// server binaries of Debian's postgresql package (initdb into a temporary folder, pg_ctl on
// a free loopback port; as the postgres system user when the tests run as root), and removed
// at the end. Each test gets a database of its own (pgURL).
var testPG struct {
	bin      string // folder of initdb, pg_ctl
	dir      string // data folder and logs
	port     int
	password string
	admin    string // URL of the postgres database, as the superuser
	asUser   []string
	err      error // why there is no server
	dbs      atomic.Int64
	once     sync.Once
}

// pgBinDir finds the folder of initdb and pg_ctl: on PATH, or Debian's /usr/lib/postgresql/N/bin.
func pgBinDir() string {
	if p, err := exec.LookPath("pg_ctl"); err == nil {
		if _, err := exec.LookPath("initdb"); err == nil {
			return filepath.Dir(p)
		}
	}
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	sort.Slice(dirs, func(i, j int) bool { return pgMajor(dirs[i]) > pgMajor(dirs[j]) })
	for _, d := range dirs {
		if _, err := os.Stat(filepath.Join(d, "pg_ctl")); err == nil {
			return d
		}
	}
	return ""
}

func pgMajor(dir string) int {
	n, _ := strconv.Atoi(filepath.Base(filepath.Dir(dir)))
	return n
}

// pgRun runs a server binary, as the postgres user when this process is root (the server
// refuses to run as root).
func pgRun(name string, args ...string) error {
	argv := append(append(append([]string(nil), testPG.asUser...), filepath.Join(testPG.bin, name)), args...)
	cmd := exec.Command(argv[0], argv[1:]...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("%s: %v: %s", name, err, out)
	}
	return nil
}

func startPG() error {
	testPG.bin = pgBinDir()
	if testPG.bin == "" {
		return errors.New("no PostgreSQL server binaries (initdb, pg_ctl): apt-get install postgresql")
	}
	dir, err := os.MkdirTemp("", "ledger-pg-")
	if err != nil {
		return err
	}
	testPG.dir = dir
	if os.Getuid() == 0 {
		u, err := user.Lookup("postgres")
		if err != nil {
			return fmt.Errorf("running as root and no postgres user to run the server as: %w", err)
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		if err := os.Chown(dir, uid, gid); err != nil {
			return err
		}
		runuser, err := exec.LookPath("runuser")
		if err != nil {
			return err
		}
		testPG.asUser = []string{runuser, "-u", "postgres", "--"}
	}
	var pw [12]byte
	_, _ = rand.Read(pw[:])
	testPG.password = "pw-" + hex.EncodeToString(pw[:])
	pwfile := filepath.Join(dir, "pwfile")
	if err := os.WriteFile(pwfile, []byte(testPG.password+"\n"), 0o644); err != nil {
		return err
	}
	if err := pgRun("initdb", "-D", filepath.Join(dir, "data"), "-U", "ledger", "--pwfile", pwfile, "-E", "UTF8",
		"--auth-local=trust", "--auth-host=scram-sha-256", "-N", "--no-instructions"); err != nil {
		return err
	}
	os.Remove(pwfile)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	testPG.port = ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	if err := pgStart(); err != nil {
		return err
	}
	testPG.admin = pgURLFor("postgres")
	return nil
}

func pgStart() error {
	opts := fmt.Sprintf("-p %d -k %s -c listen_addresses=127.0.0.1 -c max_connections=200", testPG.port, testPG.dir)
	return pgRun("pg_ctl", "-D", filepath.Join(testPG.dir, "data"), "-o", opts, "-l", filepath.Join(testPG.dir, "log"), "-w", "-t", "60", "start")
}

func pgStop(mode string) error {
	return pgRun("pg_ctl", "-D", filepath.Join(testPG.dir, "data"), "-m", mode, "-w", "-t", "60", "stop")
}

func pgURLFor(db string) string {
	return fmt.Sprintf("postgres://ledger:%s@127.0.0.1:%d/%s?sslmode=disable", testPG.password, testPG.port, db)
}

func stopPG() {
	if testPG.dir == "" {
		return
	}
	if testPG.admin != "" {
		_ = pgStop("immediate")
	}
	os.RemoveAll(testPG.dir)
}

// needPG skips a test when there is no PostgreSQL to run it against, unless CI is set: on CI
// a missing server is a failure (.ci/run installs the package).
func needPG(t testing.TB) {
	t.Helper()
	testPG.once.Do(func() { testPG.err = startPG() })
	if testPG.err == nil {
		return
	}
	if os.Getenv("CI") != "" {
		t.Fatalf("PostgreSQL tests: %v (CI is set: they must run)", testPG.err)
	}
	t.Skipf("PostgreSQL tests: %v", testPG.err)
}

// pgURL creates a database for the test and returns its URL.
func pgURL(t testing.TB) string {
	t.Helper()
	needPG(t)
	name := fmt.Sprintf("t%d_%d", os.Getpid(), testPG.dbs.Add(1))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, testPG.admin)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+name); err != nil {
		t.Fatal(err)
	}
	return pgURLFor(name)
}

// testOptions keep the PostgreSQL ledger's leases short enough for tests to wait them out.
var testOptions = Options{Lease: 2 * time.Second, Heartbeat: 300 * time.Millisecond, CallTimeout: 20 * time.Second, Version: "test"}

func openPG(t testing.TB, url string, opt Options) *Postgres {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	p, err := OpenPostgres(ctx, url, opt)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	return p
}

// TestMain removes what the tests shared: the PostgreSQL server (started by the first test
// that needs it) and the benchmarks' ledger.
func TestMain(m *testing.M) {
	code := m.Run()
	stopPG()
	if rescanLedger.dir != "" {
		os.RemoveAll(rescanLedger.dir)
	}
	os.Exit(code)
}

// pgDown reports whether err says the database is unavailable, with a message that names
// no secret.
func pgDown(t *testing.T, err error) bool {
	t.Helper()
	if err == nil {
		return false
	}
	if strings.Contains(err.Error(), testPG.password) {
		t.Errorf("error shows the password: %v", err)
	}
	return errors.Is(err, ErrUnavailable)
}
