package main

import (
	"context"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/octane-import/octane-import/importer/ledger"
)

// pgServer is the PostgreSQL server that the steps with the PostgreSQL ledger (run -pg) use:
// each such step creates an empty database of its own on it, so that every step starts from
// an empty ledger as the bbolt steps do (a new file), and drops it afterwards.
type pgServer struct {
	admin  *url.URL // the URL given: the database connected to for CREATE and DROP DATABASE
	prefix string   // the databases' names: prefix + a counter
	n      int
	keep   bool // keep the databases (run -keep)
	// postmaster is the server's process id when the server runs on this machine and its
	// processes can be read in /proc (0: its CPU time is not measured).
	postmaster int
}

// pgTimeout bounds each administrative statement (CREATE and DROP DATABASE, the size query).
const pgTimeout = 2 * time.Minute

// openPGServer checks that rawURL (postgres://USER:PASSWORD@HOST:PORT/DATABASE?…) can be
// connected to and can create databases, and finds the server's process when it runs on this
// machine. The databases it creates are named octane_bench_STAMP_N.
func openPGServer(rawURL, stamp string, keep bool) (*pgServer, error) {
	u, err := url.Parse(rawURL)
	if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") || u.Host == "" {
		return nil, fmt.Errorf("-pg %s: not a postgres://USER:PASSWORD@HOST:PORT/DATABASE URL", ledger.RedactURLs(rawURL))
	}
	s := &pgServer{admin: u, keep: keep,
		prefix: "octane_bench_" + strings.NewReplacer("-", "_").Replace(strings.ToLower(stamp)) + "_"}
	ctx, cancel := context.WithTimeout(context.Background(), pgTimeout)
	defer cancel()
	conn, err := s.connect(ctx)
	if err != nil {
		return nil, err
	}
	defer conn.Close(ctx)
	var canCreate bool
	if err := conn.QueryRow(ctx, `SELECT rolcreatedb OR rolsuper FROM pg_roles WHERE rolname = current_user`).Scan(&canCreate); err != nil {
		return nil, s.errorf("%w", err)
	}
	if !canCreate {
		return nil, s.errorf("the user may not create databases (CREATEDB), which each step needs")
	}
	var backend int
	if err := conn.QueryRow(ctx, `SELECT pg_backend_pid()`).Scan(&backend); err != nil {
		return nil, s.errorf("%w", err)
	}
	s.postmaster = postmasterOf(backend)
	return s, nil
}

func (s *pgServer) connect(ctx context.Context) (*pgx.Conn, error) {
	conn, err := pgx.Connect(ctx, s.admin.String())
	if err != nil {
		return nil, s.errorf("%w", err)
	}
	return conn, nil
}

// errorf is an error naming the server by its URL, password hidden.
func (s *pgServer) errorf(format string, args ...any) error {
	return fmt.Errorf("PostgreSQL %s: "+format, append([]any{s.admin.Redacted()}, args...)...)
}

// create makes an empty database and returns its name and URL (the given URL with the
// database replaced).
func (s *pgServer) create() (name, dbURL string, err error) {
	ctx, cancel := context.WithTimeout(context.Background(), pgTimeout)
	defer cancel()
	conn, err := s.connect(ctx)
	if err != nil {
		return "", "", err
	}
	defer conn.Close(ctx)
	s.n++
	name = s.prefix + strconv.Itoa(s.n)
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize()); err != nil {
		return "", "", s.errorf("creating database %s: %w", name, err)
	}
	u := *s.admin
	u.Path, u.RawPath = "/"+name, ""
	return name, u.String(), nil
}

// drop removes a database create made (not with -keep). The importer that used it has
// ended, but the server may not have ended its session yet: FORCE ends what is left.
func (s *pgServer) drop(name string) error {
	if s.keep {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), pgTimeout)
	defer cancel()
	conn, err := s.connect(ctx)
	if err != nil {
		return err
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, "DROP DATABASE IF EXISTS "+pgx.Identifier{name}.Sanitize()+" WITH (FORCE)"); err != nil {
		return s.errorf("dropping database %s: %w", name, err)
	}
	return nil
}

// size is the database's size on disk in bytes (pg_database_size: tables, indexes, TOAST).
func (s *pgServer) size(name string) (int64, error) {
	ctx, cancel := context.WithTimeout(context.Background(), pgTimeout)
	defer cancel()
	conn, err := s.connect(ctx)
	if err != nil {
		return 0, err
	}
	defer conn.Close(ctx)
	var n int64
	if err := conn.QueryRow(ctx, `SELECT pg_database_size($1)`, name).Scan(&n); err != nil {
		return 0, s.errorf("size of %s: %w", name, err)
	}
	return n, nil
}

// cpu is the CPU time (user+system, seconds) the server's processes have used so far, or -1
// when it is not known (a server on another machine). A step's is the difference of two
// readings. It counts the postmaster, its live children (the sessions, the checkpointer, the
// WAL writer, …) and the children it has reaped (sessions that ended), whose times the kernel
// adds to the postmaster's cutime and cstime.
func (s *pgServer) cpu() float64 {
	if s == nil || s.postmaster == 0 {
		return -1
	}
	// A session that ends while its siblings are read is neither a live child nor yet in
	// the postmaster's cutime: the reading is taken again until the postmaster's times
	// stayed the same across it (no child was reaped meanwhile).
	for try := 0; ; try++ {
		_, own, err := procStat(s.postmaster)
		if err != nil {
			return -1
		}
		total := own
		entries, _ := os.ReadDir("/proc")
		for _, e := range entries {
			pid, err := strconv.Atoi(e.Name())
			if err != nil || pid == s.postmaster {
				continue
			}
			if ppid, t, err := procStat(pid); err == nil && ppid == s.postmaster {
				total += t
			}
		}
		if _, again, err := procStat(s.postmaster); err != nil || again == own || try == 9 {
			return total
		}
	}
}

// clockTicks is USER_HZ, the unit of the times in /proc/PID/stat: 100 on every Linux
// architecture Go runs on (it is part of the kernel's ABI, independent of the kernel's HZ).
const clockTicks = 100

// procStat reads /proc/PID/stat: the parent's process id, and the process's CPU time with
// that of its reaped children (utime+stime+cutime+cstime), in seconds.
func procStat(pid int) (ppid int, cpu float64, err error) {
	data, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "stat"))
	if err != nil {
		return 0, 0, err
	}
	// The command name (field 2) is in parentheses and may hold spaces: fields are counted
	// from the last ')'.
	i := strings.LastIndexByte(string(data), ')')
	if i < 0 {
		return 0, 0, fmt.Errorf("/proc/%d/stat: no command name", pid)
	}
	f := strings.Fields(string(data[i+1:]))
	// f[0] is field 3 (state): ppid is field 4, utime..cstime fields 14-17.
	if len(f) < 15 {
		return 0, 0, fmt.Errorf("/proc/%d/stat: %d fields", pid, len(f)+2)
	}
	if ppid, err = strconv.Atoi(f[1]); err != nil {
		return 0, 0, fmt.Errorf("/proc/%d/stat: ppid: %w", pid, err)
	}
	var ticks int64
	for _, s := range f[11:15] {
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return 0, 0, fmt.Errorf("/proc/%d/stat: times: %w", pid, err)
		}
		ticks += n
	}
	return ppid, float64(ticks) / clockTicks, nil
}

// postmasterOf is the postmaster of the session backend (its parent, when /proc shows a
// postgres process there), or 0: a server on another machine, or one whose processes this
// process cannot see.
func postmasterOf(backend int) int {
	isPostgres := func(pid int) bool {
		comm, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "comm"))
		return err == nil && strings.TrimSpace(string(comm)) == "postgres"
	}
	ppid, _, err := procStat(backend)
	if err != nil || ppid <= 1 || !isPostgres(backend) || !isPostgres(ppid) {
		return 0
	}
	return ppid
}
