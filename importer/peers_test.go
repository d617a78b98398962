package importer

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/octane-import/octane-import/importer/ledger"
	"github.com/octane-import/octane-import/internal/testkit"
	"github.com/octane-import/octane-import/mapping"
	"github.com/octane-import/octane-import/octane"
)

// TestMain removes the PostgreSQL server of the tests that started one.
func TestMain(m *testing.M) { os.Exit(testkit.Main(m)) }

// fakeInstances is a shared ledger's instance list, as the test sets it.
type fakeInstances struct {
	mu   sync.Mutex
	self string
	ids  []string
	err  error
}

func (f *fakeInstances) set(err error, ids ...string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.ids, f.err = ids, err
}

func (f *fakeInstances) Instance() ledger.Instance { return ledger.Instance{ID: f.self} }

func (f *fakeInstances) Instances(context.Context) ([]ledger.Instance, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.err != nil {
		return nil, f.err
	}
	out := make([]ledger.Instance, len(f.ids))
	for i, id := range f.ids {
		out[i] = ledger.Instance{ID: id}
	}
	return out, nil
}

// testClient is an Octane client that is never used to send (no network).
func testClient(t *testing.T, rate float64) *octane.Client {
	t.Helper()
	c, err := octane.New(octane.Config{URL: "https://octane.example.com", SharedSpace: "1001", Workspace: "1002",
		ClientID: "id", ClientSecret: "secret", RateLimit: rate})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// Each count of the live instances divides every limited target's configured rate by it
// (this instance counted even when its heartbeat is late), leaves an unlimited one alone,
// keeps the shares when the ledger does not answer, and logs each change once.
func TestRateShareDividesByLiveInstances(t *testing.T) {
	var logs bytes.Buffer
	log := slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelInfo}))
	a, b, sandbox := testClient(t, 20), testClient(t, 6), testClient(t, -1)
	f := &fakeInstances{self: "me"}
	s := newRateShare(f, map[string]rateLimited{"a": a, "b": b, "sandbox": sandbox}, time.Hour, log)
	if s == nil {
		t.Fatal("nothing to share")
	}
	ctx := context.Background()
	for i, c := range []struct {
		ids      []string
		err      error
		a, b     float64
		by, logs int
	}{
		{ids: []string{"me"}, a: 20, b: 6, by: 1, logs: 0}, // alone from the start: nothing to say
		{ids: []string{"me", "p1"}, a: 10, b: 3, by: 2, logs: 1},
		{ids: []string{"p1", "me"}, a: 10, b: 3, by: 2, logs: 1}, // the same count: no new line
		{err: errors.New("the ledger's database is unavailable"), a: 10, b: 3, by: 2, logs: 1},
		{ids: []string{"p1", "p2"}, a: 20.0 / 3, b: 2, by: 3, logs: 2}, // this instance's heartbeat late
		{ids: []string{"me", "p1", "p2", "p3"}, a: 5, b: 1.5, by: 4, logs: 3},
		{ids: []string{"me"}, a: 20, b: 6, by: 1, logs: 4}, // the others gone: the whole rate again
	} {
		f.set(c.err, c.ids...)
		s.step(ctx)
		if a.RateLimit() != c.a || b.RateLimit() != c.b || sandbox.RateLimit() != -1 || s.sharedBy() != c.by {
			t.Errorf("step %d (%v %v): rates a %g b %g sandbox %g, shared by %d; want %g %g -1, %d", i, c.ids, c.err,
				a.RateLimit(), b.RateLimit(), sandbox.RateLimit(), s.sharedBy(), c.a, c.b, c.by)
		}
		if n := strings.Count(logs.String(), "rate limit shared among the instances"); n != c.logs {
			t.Errorf("step %d: %d log lines, want %d:\n%s", i, n, c.logs, logs.String())
		}
	}
	if !strings.Contains(logs.String(), `instances=4 rates="a 5/s of 20/s, b 1.5/s of 6/s"`) {
		t.Errorf("the log does not say the shares:\n%s", logs.String())
	}
	if newRateShare(f, map[string]rateLimited{"sandbox": sandbox}, time.Hour, log) != nil {
		t.Error("a share made of unlimited clients only")
	}
}

// The loop counts at start, then every period, and stops with close.
func TestRateShareLoop(t *testing.T) {
	c := testClient(t, 20)
	f := &fakeInstances{self: "me", ids: []string{"me", "p1"}}
	s := newRateShare(f, map[string]rateLimited{"t": c}, 10*time.Millisecond, slog.New(slog.DiscardHandler))
	s.start(context.Background())
	if c.RateLimit() != 10 {
		t.Fatalf("rate %g right after start, want 10 (counted before anything is sent)", c.RateLimit())
	}
	f.set(nil, "me")
	for deadline := time.Now().Add(10 * time.Second); c.RateLimit() != 20; time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("rate %g 10 s after the peer left, want 20", c.RateLimit())
		}
	}
	s.close()
	f.set(nil, "me", "p1", "p2")
	time.Sleep(50 * time.Millisecond)
	if c.RateLimit() != 20 {
		t.Errorf("rate %g after close: the loop still runs", c.RateLimit())
	}
}

// Two importers opened on one PostgreSQL ledger each send at half the target's rate; when
// one closes, the other goes back to the whole rate within a heartbeat period.
func TestOpenSharesTheRateLimitOnAPostgresLedger(t *testing.T) {
	url := testkit.Postgres(t)
	targets := map[string]octane.Config{"octane": {URL: "https://octane.example.com", SharedSpace: "1001", Workspace: "1002",
		ClientID: "id", ClientSecret: "secret", RateLimit: 20}}
	var logs syncBuffer
	open := func(logger *slog.Logger) *Importer {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		im, err := Open(ctx, Options{Rules: mapping.Default("test-host"), Lease: 600 * time.Millisecond, Logger: logger, Version: "test"}, url, targets)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { im.Close() })
		return im
	}
	rate := func(im *Importer) float64 { return im.res.clients["octane"].RateLimit() }
	first := open(slog.New(slog.NewTextHandler(&logs, nil)))
	if r := rate(first); r != 20 {
		t.Fatalf("alone on the ledger: rate %g, want 20", r)
	}
	second := open(slog.New(slog.DiscardHandler))
	if r := rate(second); r != 10 {
		t.Errorf("the second instance starts at %g, want 10", r)
	}
	waitRate := func(im *Importer, want float64) {
		t.Helper()
		for deadline := time.Now().Add(10 * time.Second); rate(im) != want; time.Sleep(20 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("rate %g after 10 s, want %g\n%s", rate(im), want, logs.String())
			}
		}
	}
	waitRate(first, 10)
	if err := second.Close(); err != nil {
		t.Fatal(err)
	}
	waitRate(first, 20)
	for _, want := range []string{"instances=2 rates=\"octane 10/s of 20/s\"", "instances=1 rates=\"octane 20/s of 20/s\""} {
		if !strings.Contains(logs.String(), want) {
			t.Errorf("the log does not say %s:\n%s", want, logs.String())
		}
	}
	if err := first.Close(); err != nil {
		t.Fatal(err)
	}
	if first.res.share.sharedBy() != 1 {
		t.Errorf("shared by %d at the end", first.res.share.sharedBy())
	}
}

// syncBuffer is a bytes.Buffer safe for a logger and a test to share.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
