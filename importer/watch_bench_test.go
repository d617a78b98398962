package importer_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/octane-import/octane-import/importer"
	"github.com/octane-import/octane-import/importer/ledger"
	"github.com/octane-import/octane-import/mapping"
	"github.com/octane-import/octane-import/octane"
	"github.com/octane-import/octane-import/sandbox"
)

// acceptClock records when each file's results were accepted by Octane.
type acceptClock struct {
	mu   sync.Mutex
	at   map[string]time.Time
	cond chan struct{}
}

func (a *acceptClock) File(f importer.FileResult) {
	if f.Outcome != importer.Imported {
		return
	}
	a.mu.Lock()
	a.at[f.Path] = time.Now()
	a.mu.Unlock()
	select {
	case a.cond <- struct{}{}:
	default:
	}
}
func (a *acceptClock) Progress(importer.Progress) {}

// BenchmarkWatchLatency measures, for a report with no build manifest anywhere, the time
// from its settle time being over (its last write plus --settle) to Octane accepting its
// runs, with the command's default --manifest-wait, at three arrival rates. Each iteration
// is one report of 20 tests in its own build, written in place (its tail is a comment, so
// it is not taken for a report renamed into place: it takes the settle path). "1/min"
// writes a file only once the previous one was accepted: at one file a minute nothing
// overlaps, so waiting the full minute would measure the same thing more slowly. It
// reports the median and the 99th percentile in milliseconds; the goal (issue 14 item 3)
// is p99 under 1 s.
//
//	go test -run '^$' -bench WatchLatency -benchtime 100x ./importer/
func BenchmarkWatchLatency(b *testing.B) {
	for _, rate := range []struct {
		name string
		gap  time.Duration // 0 = one at a time
	}{{"1_per_min", 0}, {"100_per_min", 600 * time.Millisecond}, {"1000_per_min", 60 * time.Millisecond}} {
		b.Run(rate.name, func(b *testing.B) {
			srv, err := sandbox.Start(sandbox.Options{})
			if err != nil {
				b.Fatal(err)
			}
			defer srv.Close()
			o := srv.Options()
			c, err := octane.New(octane.Config{URL: srv.URL(), SharedSpace: o.SharedSpace, Workspace: o.Workspace,
				ClientID: o.Credentials[0].ID, ClientSecret: o.Credentials[0].Secret, RateLimit: -1,
				Poll: octane.PollPolicy{Min: 5 * time.Millisecond, Max: 50 * time.Millisecond}})
			if err != nil {
				b.Fatal(err)
			}
			l, err := ledger.Open(filepath.Join(b.TempDir(), "ledger.db"), ledger.Options{})
			if err != nil {
				b.Fatal(err)
			}
			defer l.Close()
			clock := &acceptClock{at: map[string]time.Time{}, cond: make(chan struct{}, 1)}
			im, err := importer.New(importer.Options{Rules: mapping.Default("bench"), Ledger: l, Reporter: clock,
				Client: func(string) (importer.Client, error) { return c, nil }})
			if err != nil {
				b.Fatal(err)
			}
			dir := b.TempDir()
			const settle = 200 * time.Millisecond
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan error, 1)
			go func() {
				done <- im.Watch(ctx, []string{dir}, importer.WatchOptions{Settle: settle, ManifestWait: importer.DefaultManifestWait}, nil)
			}()
			time.Sleep(100 * time.Millisecond) // watches in place
			written := map[string]time.Time{}
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				path := filepath.Join(dir, "lat", fmt.Sprint(i), "TEST-l.xml")
				writeReport(b, path, "com.acme.Latency", 20, false)
				appendTo(b, path, "<!-- written in place -->\n")
				written[path] = time.Now()
				if rate.gap == 0 {
					waitAccepted(b, clock, path)
					time.Sleep(50 * time.Millisecond)
				} else {
					time.Sleep(rate.gap)
				}
			}
			for path := range written {
				waitAccepted(b, clock, path)
			}
			b.StopTimer()
			cancel()
			<-done
			var lat []time.Duration
			clock.mu.Lock()
			for path, w := range written {
				lat = append(lat, clock.at[path].Sub(w.Add(settle)))
			}
			clock.mu.Unlock()
			sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
			b.ReportMetric(float64(lat[len(lat)/2].Milliseconds()), "p50_ms")
			b.ReportMetric(float64(lat[(len(lat)*99)/100].Milliseconds()), "p99_ms")
		})
	}
}

func appendTo(b *testing.B, path, s string) {
	f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		b.Fatal(err)
	}
	if _, err := f.WriteString(s); err != nil {
		b.Fatal(err)
	}
	if err := f.Close(); err != nil {
		b.Fatal(err)
	}
}

func waitAccepted(b *testing.B, clock *acceptClock, path string) {
	deadline := time.Now().Add(90 * time.Second)
	for {
		clock.mu.Lock()
		_, ok := clock.at[path]
		clock.mu.Unlock()
		if ok {
			return
		}
		if time.Now().After(deadline) {
			b.Fatalf("%s not accepted within 90 s", path)
		}
		select {
		case <-clock.cond:
		case <-time.After(20 * time.Millisecond):
		}
	}
}
