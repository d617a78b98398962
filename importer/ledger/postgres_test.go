package ledger

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// abandon stops an instance as a kill -9 would: no more heartbeats, connections dropped,
// its rows and claims left behind.
func abandon(p *Postgres) {
	p.closeOnce.Do(func() {
		close(p.stop)
		p.beating.Wait()
		p.pool.Close()
	})
}

// Two instances on one ledger: a file is worked on by the instance that claimed it, the
// other cannot seal it, and once it is sealed (and its claim released) the other sees the
// record.
func TestPostgresTwoInstancesClaimFiles(t *testing.T) {
	url := pgURL(t)
	a, b := openPG(t, url, testOptions), openPG(t, url, testOptions)
	ctx := context.Background()
	got, err := a.ClaimFiles(ctx, []string{"/x", "/y"})
	if err != nil || len(got) != 2 {
		t.Fatalf("a claimed %v, %v", got, err)
	}
	got, err = b.ClaimFiles(ctx, []string{"/y", "/z"})
	if err != nil || !slices.Equal(got, []string{"/z"}) {
		t.Fatalf("b claimed %v, %v; want only /z", got, err)
	}
	seal := func(s *Postgres, path string) error {
		_, err := s.Seal([]NewPayload{{Target: "t", Build: "b", Files: []string{path}, Runs: 1, Data: []byte(path)}},
			[]File{{Path: path, State: Parsed}}, nil)
		return err
	}
	if err := seal(b, "/y"); !errors.Is(err, ErrClaimed) {
		t.Fatalf("b sealed a file a claimed: %v", err)
	}
	if err := b.PutFiles(File{Path: "/x", State: Failed}); !errors.Is(err, ErrClaimed) {
		t.Fatalf("b recorded a file a claimed: %v", err)
	}
	if p, _ := b.Payloads(); len(p) != 0 {
		t.Fatalf("a refused seal left payloads: %+v", p)
	}
	if err := seal(a, "/y"); err != nil {
		t.Fatal(err)
	}
	got, err = b.ClaimFiles(ctx, []string{"/y"})
	if err != nil || len(got) != 1 {
		t.Fatalf("after a sealed /y, b claimed %v, %v", got, err)
	}
	if f, ok, _ := b.File("/y"); !ok || f.State != Parsed || len(f.Payloads) != 1 {
		t.Errorf("b sees /y as %+v %v", f, ok)
	}
	if err := a.ReleaseFiles(ctx, []string{"/x"}); err != nil {
		t.Fatal(err)
	}
	if got, _ := b.ClaimFiles(ctx, []string{"/x"}); len(got) != 1 {
		t.Errorf("a released /x, yet b could not claim it")
	}
}

// Instances claiming payloads at the same time each get different ones, and all of them.
func TestPostgresPayloadsClaimedOnce(t *testing.T) {
	url := pgURL(t)
	a := openPG(t, url, testOptions)
	var nps []NewPayload
	var files []File
	for i := range 60 {
		path := fmt.Sprintf("/f%02d", i)
		nps = append(nps, NewPayload{Target: "t", Build: "b", Files: []string{path}, Runs: 1, Data: []byte(path)})
		files = append(files, File{Path: path, State: Parsed})
	}
	ids, err := a.Seal(nps, files, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := a.ReleasePayloads(context.Background(), ids); err != nil { // a holds them once sealed
		t.Fatal(err)
	}
	instances := []*Postgres{a, openPG(t, url, testOptions), openPG(t, url, testOptions)}
	var mu sync.Mutex
	owner := map[uint64]string{}
	var wg sync.WaitGroup
	for _, in := range instances {
		for range 2 {
			wg.Go(func() {
				for {
					got, err := in.ClaimPayloads(context.Background(), 3)
					if err != nil {
						t.Error(err)
						return
					}
					if len(got) == 0 {
						return
					}
					mu.Lock()
					for _, p := range got {
						if prev, ok := owner[p.ID]; ok {
							t.Errorf("payload %d claimed by %s and %s", p.ID, prev, in.inst.ID)
						}
						owner[p.ID] = in.inst.ID
					}
					mu.Unlock()
				}
			})
		}
	}
	wg.Wait()
	if len(owner) != 60 {
		t.Errorf("%d of 60 payloads claimed", len(owner))
	}
	// A payload another live instance claimed cannot be marked by this one.
	for id, who := range owner {
		if who != a.inst.ID {
			if err := a.MarkSent(id, "1", "queued"); !errors.Is(err, ErrClaimed) {
				t.Errorf("a marked payload %d that %s claimed: %v", id, who, err)
			}
			break
		}
	}
}

// The claims of an instance that died expire after the lease and are taken over; those of a
// live one are kept alive by its heartbeat however long it works. Instances lists the live.
func TestPostgresDeadInstanceClaimsExpire(t *testing.T) {
	url := pgURL(t)
	ctx := context.Background()
	dead, live, other := openPG(t, url, testOptions), openPG(t, url, testOptions), openPG(t, url, testOptions)
	ids, err := dead.Seal([]NewPayload{
		{Target: "t", Build: "b", Files: []string{"/p"}, Runs: 1, Data: []byte("p")},
		{Target: "t", Build: "b", Files: []string{"/p"}, Runs: 1, Data: []byte("q")},
	}, []File{{Path: "/p", State: Parsed}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := dead.ClaimFiles(ctx, []string{"/d"}); len(got) != 1 {
		t.Fatal("dead could not claim /d")
	}
	if got, _ := dead.ClaimPayloads(ctx, 1); len(got) != 0 {
		t.Fatalf("dead was handed the payloads it sealed (and so holds) again: %+v", got)
	}
	if err := dead.MarkSent(ids[0], "77", "queued"); err != nil {
		t.Fatal(err)
	}
	if got, _ := live.ClaimFiles(ctx, []string{"/l"}); len(got) != 1 {
		t.Fatal("live could not claim /l")
	}
	ins, err := other.Instances(ctx)
	if err != nil || len(ins) != 3 {
		t.Fatalf("instances = %+v, %v", ins, err)
	}
	for _, in := range ins {
		if in.Version != "test" || in.PID == 0 || in.Host == "" {
			t.Errorf("instance row %+v", in)
		}
		want := map[string]int{dead.inst.ID: 3, live.inst.ID: 1, other.inst.ID: 0}[in.ID] // dead: its 2 payloads and /d
		if in.InFlight != want {
			t.Errorf("instance %s has %d in flight, want %d", in.ID, in.InFlight, want)
		}
	}

	abandon(dead)
	if got, _ := other.ClaimFiles(ctx, []string{"/d", "/l"}); len(got) != 0 {
		t.Fatalf("claims taken before the lease ran out: %v", got)
	}
	time.Sleep(testOptions.Lease + 500*time.Millisecond)
	got, err := other.ClaimFiles(ctx, []string{"/d", "/l"})
	if err != nil || !slices.Equal(got, []string{"/d"}) {
		t.Fatalf("after the lease: claimed %v, %v; want the dead instance's /d only (live kept /l by its heartbeat)", got, err)
	}
	ps, err := other.ClaimPayloads(ctx, 5)
	if err != nil || len(ps) != 2 || ps[0].ID != ids[0] || ps[0].State != PayloadSent || ps[0].Task != "77" {
		t.Fatalf("taken over: %+v, %v; want both payloads, the sent one with its task", ps, err)
	}
	if err := other.MarkDone(ids[0], PayloadDone, "success", ""); err != nil {
		t.Fatal(err)
	}
	ins, _ = other.Instances(ctx)
	if len(ins) != 2 || slices.ContainsFunc(ins, func(in Instance) bool { return in.ID == dead.inst.ID }) {
		t.Errorf("instances after one died: %+v", ins)
	}
}

// A schema newer than the code is refused with a message saying so; an old one migrated.
func TestPostgresSchemaVersions(t *testing.T) {
	url := pgURL(t)
	p := openPG(t, url, testOptions)
	p.Close()
	conn, err := pgx.Connect(context.Background(), url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	var v int
	if err := conn.QueryRow(context.Background(), `SELECT version FROM octane_import.schema_version`).Scan(&v); err != nil || v != len(pgMigrations) {
		t.Fatalf("schema version %d, %v; want %d", v, err, len(pgMigrations))
	}
	if _, err := conn.Exec(context.Background(), `UPDATE octane_import.schema_version SET version = 99`); err != nil {
		t.Fatal(err)
	}
	_, err = OpenPostgres(context.Background(), url, testOptions)
	if err == nil || !strings.Contains(err.Error(), "schema is version 99, newer than this octane-import knows") {
		t.Fatalf("opening a newer schema: %v", err)
	}
	if strings.Contains(err.Error(), pgServer(t).Password()) {
		t.Errorf("error shows the password: %v", err)
	}
	ro := testOptions
	ro.ReadOnly = true
	if _, err := OpenPostgres(context.Background(), pgURL(t), ro); err == nil || !strings.Contains(err.Error(), "no octane-import ledger in this database") {
		t.Errorf("read-only view of an empty database: %v", err)
	}
}

// Wrong URL or credentials: the database's own message, the password masked, never shown;
// nothing listening is ErrUnavailable.
func TestPostgresConnectErrors(t *testing.T) {
	srv := pgServer(t)
	password, port := srv.Password(), srv.Port()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	wrong := "s3cret-wrong-" + password[3:9]
	for _, c := range []struct {
		name, url, want string
		temporary       bool
	}{
		{"password", fmt.Sprintf("postgres://ledger:%s@127.0.0.1:%d/postgres?sslmode=disable", wrong, port), "password authentication failed", false},
		{"user", fmt.Sprintf("postgres://nobody:%s@127.0.0.1:%d/postgres?sslmode=disable", wrong, port), "password authentication failed", false},
		{"database", fmt.Sprintf("postgres://ledger:%s@127.0.0.1:%d/no_such_db?sslmode=disable", password, port), `database "no_such_db" does not exist`, false},
		{"nothing listening", fmt.Sprintf("postgres://ledger:%s@127.0.0.1:1/postgres?sslmode=disable&connect_timeout=2", wrong), "connect", true},
		{"bad url", fmt.Sprintf("postgres://ledger:%s@127.0.0.1:notaport/db", wrong), "", false},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := OpenPostgres(ctx, c.url, testOptions)
			if err == nil {
				t.Fatal("opened")
			}
			msg := err.Error()
			t.Log(msg)
			if !strings.Contains(msg, c.want) {
				t.Errorf("error %q does not carry the database's message %q", msg, c.want)
			}
			for _, secret := range []string{wrong, password} {
				if strings.Contains(msg, secret) || strings.Contains(fmt.Sprintf("%+v %#v", err, err), secret) {
					t.Errorf("error shows the password: %q", msg)
				}
			}
			if !strings.Contains(msg, "xxxxx") {
				t.Errorf("error %q does not name the ledger by its masked URL", msg)
			}
			if IsTemporary(err) != c.temporary {
				t.Errorf("temporary = %v, want %v", IsTemporary(err), c.temporary)
			}
		})
	}
}

// PostgreSQL restarted mid-run: calls fail with ErrUnavailable (naming no secret) while it
// is down, and work goes on by itself once it is back, with nothing lost.
func TestPostgresRestart(t *testing.T) {
	url := pgURL(t)
	opt := testOptions
	opt.CallTimeout = 3 * time.Second
	p := openPG(t, url, opt)
	seal := func(i int) error {
		path := fmt.Sprintf("/r%03d", i)
		_, err := p.Seal([]NewPayload{{Target: "t", Build: "b", Files: []string{path}, Runs: 1, Data: []byte(path)}},
			[]File{{Path: path, State: Parsed}}, nil)
		return err
	}
	for i := range 5 {
		if err := seal(i); err != nil {
			t.Fatal(err)
		}
	}
	var sealed []uint64 // claimed by p, which sealed them
	ps, err := p.Payloads()
	if err != nil {
		t.Fatal(err)
	}
	for _, q := range ps {
		sealed = append(sealed, q.ID)
	}
	srv := pgServer(t)
	if err := srv.Stop(false); err != nil {
		t.Fatal(err)
	}
	restarted := false
	defer func() {
		if !restarted {
			_ = srv.Start()
		}
	}()
	err = seal(5)
	if !pgDown(t, err) {
		t.Fatalf("sealing while the database is down: %v, want ErrUnavailable", err)
	}
	t.Log(err)
	if _, _, err := p.File("/r000"); !pgDown(t, err) {
		t.Errorf("reading while down: %v", err)
	}
	if _, err := p.ClaimPayloads(context.Background(), 1); !pgDown(t, err) {
		t.Errorf("claiming while down: %v", err)
	}
	// Claims given up while the database is away are owed, not lost: the next heartbeat
	// that reaches it gives them up, where it would otherwise renew them for ever.
	if err := p.ReleasePayloads(context.Background(), sealed[:2]); err != nil {
		t.Errorf("releasing payloads while down: %v, want nil (owed)", err)
	}
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	restarted = true
	var ok bool
	for range 20 {
		if err := seal(5); err == nil {
			ok = true
			break
		} else if !pgDown(t, err) {
			t.Fatalf("after the restart: %v", err)
		}
		time.Sleep(250 * time.Millisecond)
	}
	if !ok {
		t.Fatal("work did not resume after the restart")
	}
	for i := 6; i < 10; i++ {
		if err := seal(i); err != nil {
			t.Fatal(err)
		}
	}
	s, err := p.Summarize()
	if err != nil || s.Files[Parsed] != 10 || s.Payloads[Pending] != 10 {
		t.Errorf("after the restart: %+v, %v", s, err)
	}
	if err := p.beat(context.Background()); err != nil {
		t.Errorf("heartbeat after the restart: %v", err)
	}
	other := openPG(t, url, opt)
	got, err := other.ClaimPayloads(context.Background(), 100)
	if err != nil {
		t.Fatal(err)
	}
	var ids []uint64
	for _, q := range got {
		ids = append(ids, q.ID)
	}
	if !slices.Equal(ids, sealed[:2]) {
		t.Errorf("another instance could claim %v after the restart; want the two given up while down, %v (of %v)", ids, sealed[:2], sealed)
	}
}

// status's view of a PostgreSQL ledger reads it while instances work on it, and lists them.
func TestPostgresView(t *testing.T) {
	url := pgURL(t)
	p := openPG(t, url, testOptions)
	if err := p.PutFiles(File{Path: "/a", State: Failed, Error: "bad"}, File{Path: "/b", State: Accepted, Runs: Counts{Passed: 2}}); err != nil {
		t.Fatal(err)
	}
	v, err := OpenView(url)
	if err != nil {
		t.Fatal(err)
	}
	defer v.Close()
	if v.Through() != nil || strings.Contains(v.Path(), pgServer(t).Password()) {
		t.Errorf("view %s through %v", v.Path(), v.Through())
	}
	s, err := v.Summarize()
	if err != nil || s.Files[Failed] != 1 || s.Runs.Passed != 2 {
		t.Errorf("summary %+v, %v", s, err)
	}
	var failed []string
	if err := v.FilesIn([]FileState{Failed}, func(f File) bool { failed = append(failed, f.Path+": "+f.Error); return true }); err != nil || !slices.Equal(failed, []string{"/a: bad"}) {
		t.Errorf("failed files %v, %v", failed, err)
	}
	ins, err := v.Instances(context.Background())
	if err != nil || len(ins) != 1 || ins[0].ID != p.Instance().ID {
		t.Errorf("instances %+v, %v", ins, err)
	}
}

// ReleaseAll gives up every claim of the instance, files and payloads: another instance can
// claim them at once; the instance's row stays (it is still live).
func TestPostgresReleaseAll(t *testing.T) {
	url := pgURL(t)
	ctx := context.Background()
	a, b := openPG(t, url, testOptions), openPG(t, url, testOptions)
	ids, err := a.Seal([]NewPayload{
		{Target: "t", Build: "b", Files: []string{"/p1"}, Runs: 1, Data: []byte("1")},
		{Target: "t", Build: "b", Files: []string{"/p2"}, Runs: 1, Data: []byte("2")},
	}, []File{{Path: "/p1", State: Parsed}, {Path: "/p2", State: Parsed}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if held, err := a.ClaimFiles(ctx, []string{"/f1", "/f2"}); err != nil || len(held) != 2 {
		t.Fatalf("a claims files: %v, %v", held, err)
	}
	if got, err := b.ClaimPayloads(ctx, 10); err != nil || len(got) != 0 {
		t.Fatalf("b claimed %v (%v) while a holds them", got, err)
	}
	if err := a.ReleaseAll(ctx); err != nil {
		t.Fatal(err)
	}
	got, err := b.ClaimPayloads(ctx, 10)
	if err != nil || len(got) != len(ids) {
		t.Errorf("after a's ReleaseAll, b claimed %v (%v), want the %d payloads", got, err, len(ids))
	}
	if held, err := b.ClaimFiles(ctx, []string{"/f1", "/f2"}); err != nil || len(held) != 2 {
		t.Errorf("after a's ReleaseAll, b claims files %v, %v; want both", held, err)
	}
	in, err := b.Instances(ctx)
	if err != nil || len(in) != 2 {
		t.Errorf("instances %v, %v: want a and b still live", in, err)
	}
}

// A payload whose release was owed (given up while the database was away) and that this
// instance claims again once the database is back (its claim expired meanwhile) must not be
// released by the next heartbeat: this instance is sending it, and another instance would
// claim and send it too.
func TestPostgresOwedReleaseOfReclaimedPayload(t *testing.T) {
	url := pgURL(t)
	opt := testOptions
	opt.Heartbeat = time.Hour // the test beats by hand
	opt.CallTimeout = 3 * time.Second
	p := openPG(t, url, opt)
	ids, err := p.Seal([]NewPayload{{Target: "t", Build: "b", Files: []string{"/o1"}, Runs: 1, Data: []byte("x")}},
		[]File{{Path: "/o1", State: Parsed}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	srv := pgServer(t)
	if err := srv.Stop(false); err != nil {
		t.Fatal(err)
	}
	restarted := false
	defer func() {
		if !restarted {
			_ = srv.Start()
		}
	}()
	if err := p.ReleasePayloads(context.Background(), ids); err != nil {
		t.Fatalf("releasing while down: %v, want nil (owed)", err)
	}
	time.Sleep(opt.Lease + 500*time.Millisecond) // the seal's claim expires: nobody renews it
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	restarted = true
	var got []Payload
	for range 40 {
		if got, err = p.ClaimPayloads(context.Background(), 10); err == nil || !pgDown(t, err) {
			break
		}
		time.Sleep(250 * time.Millisecond)
	}
	if err != nil || len(got) != 1 || got[0].ID != ids[0] {
		t.Fatalf("claiming after the restart: %v, %v; want payload %d", got, err, ids[0])
	}
	// p holds the payload now, and sends it. Its next heartbeat pays what it owed.
	if err := p.beat(context.Background()); err != nil {
		t.Fatal(err)
	}
	other := openPG(t, url, opt)
	stolen, err := other.ClaimPayloads(context.Background(), 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(stolen) > 0 {
		t.Errorf("another instance claimed payload %d, which this instance claimed again after the restart and is sending (sent twice)", stolen[0].ID)
	}
}

// A seal that PostgreSQL ends for a deadlock is run again (do), and the second run must go
// through even on another connection than the first (the pool's connections replaced
// meanwhile, or another one handed out): the batch of the first run names statements
// prepared on the first connection only.
func TestPostgresSealRunAgainAfterDeadlock(t *testing.T) {
	url := pgURL(t)
	p := openPG(t, url, testOptions)
	if err := p.PutBuilds(Build{Key: "k", Target: "t", State: BuildPending}); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	other, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close(context.Background())
	tx, err := other.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(context.Background())
	if _, err := tx.Exec(ctx, `SELECT 1 FROM octane_import.builds WHERE key = 'k' FOR UPDATE`); err != nil {
		t.Fatal(err)
	}
	sealed := make(chan error, 1)
	go func() {
		// Claims /d1 (its claim row locked until the seal commits), then waits for the build.
		_, err := p.Seal([]NewPayload{{Target: "t", Build: "k", Files: []string{"/d1"}, Runs: 1, Data: []byte("d")}},
			[]File{{Path: "/d1", State: Parsed}}, []Build{{Key: "k", Target: "t", State: BuildPending}})
		sealed <- err
	}()
	for waiting := 0; waiting == 0; {
		if err := tx.QueryRow(ctx, `SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock'`).Scan(&waiting); err != nil {
			t.Fatal(err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	// The connection the seal runs on is closed once it is given back: its second run gets
	// a new one.
	p.pool.Reset()
	// Now this transaction waits for the seal's claim of /d1: a deadlock, which the seal
	// (waiting the longer) is told of, and rolled back.
	if _, err := tx.Exec(ctx, `INSERT INTO octane_import.file_claims (path, instance, expires) VALUES ('/d1', 'other', now())
		ON CONFLICT (path) DO NOTHING`); err != nil {
		t.Logf("the other transaction: %v", err)
	}
	if err := tx.Rollback(ctx); err != nil {
		t.Fatal(err)
	}
	if err := <-sealed; err != nil {
		t.Errorf("seal run again after a deadlock: %v", err)
	}
	if f, ok, err := p.File("/d1"); err != nil || !ok || len(f.Payloads) != 1 {
		t.Errorf("record of /d1 after the seal: %+v %v %v", f, ok, err)
	}
}

// A heartbeat records what it read back: the row's last_seen and the claims it holds.
func TestHeartbeatReadsBack(t *testing.T) {
	p := openPG(t, pgURL(t), testOptions)
	ctx := context.Background()
	if _, err := p.ClaimFiles(ctx, []string{"/a", "/b", "/c"}); err != nil {
		t.Fatal(err)
	}
	before := p.Instance().LastSeen
	time.Sleep(10 * time.Millisecond)
	if err := p.beat(ctx); err != nil {
		t.Fatal(err)
	}
	in := p.Instance()
	if in.InFlight != 3 || !in.LastSeen.After(before) {
		t.Errorf("after a heartbeat: %d in flight, last seen %v (before %v); want 3, later", in.InFlight, in.LastSeen, before)
	}
	if err := p.ReleaseFiles(ctx, []string{"/a"}); err != nil {
		t.Fatal(err)
	}
	if err := p.beat(ctx); err != nil {
		t.Fatal(err)
	}
	if n := p.Instance().InFlight; n != 2 {
		t.Errorf("after releasing one: %d in flight, want 2", n)
	}
}
