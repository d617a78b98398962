package main

import (
	"bufio"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/octane-import/octane-import/sandbox"
)

// standin is the stand-in Octane (sandbox) on a loopback port, with every request delayed by
// latency (the stand-in's own Latency fault) and counted: by route, and how many were in flight
// over time, so that a benchmark can tell whether the client kept its concurrency busy.
type standin struct {
	srv *sandbox.Server
	hs  *http.Server
	url string

	mu       sync.Mutex
	stats    standinStats
	inFlight int
	lastT    time.Time
}

// standinStats are the counters of a stand-in since its start (or the last reset).
type standinStats struct {
	Requests    int            `json:"requests"`
	ByRoute     map[string]int `json:"by_route"`
	First       time.Time      `json:"first"` // first request arrived
	Last        time.Time      `json:"last"`  // last answer written
	PeakFlight  int            `json:"peak_in_flight"`
	BusySeconds float64        `json:"busy_seconds"` // ∫ in-flight dt: request-seconds
	Builds      int            `json:"builds"`       // builds stored
	Runs        int            `json:"runs"`         // test runs stored
}

func startStandin(latency time.Duration) (*standin, error) {
	srv := sandbox.New(sandbox.Options{})
	if latency > 0 {
		srv.Inject(sandbox.Fault{Kind: sandbox.Latency, Delay: latency, Times: 1 << 30})
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	s := &standin{srv: srv, url: "http://" + ln.Addr().String()}
	s.stats.ByRoute = map[string]int{}
	s.hs = &http.Server{Handler: s, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = s.hs.Serve(ln) }()
	return s, nil
}

func (s *standin) close() {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = s.hs.Shutdown(ctx)
	s.srv.Close()
}

// route names a request by method and entity: "GET ci_servers", "POST test-results", ...
func route(r *http.Request) string {
	p := strings.TrimSuffix(r.URL.Path, "/")
	parts := strings.Split(p, "/")
	last := parts[len(parts)-1]
	if len(parts) >= 2 && isDigits(last) {
		last = parts[len(parts)-2] + "/{id}"
	}
	return r.Method + " " + last
}

func isDigits(s string) bool {
	if s == "" {
		return false
	}
	for _, c := range s {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

func (s *standin) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	now := time.Now()
	s.mu.Lock()
	s.account(now)
	s.inFlight++
	s.stats.PeakFlight = max(s.stats.PeakFlight, s.inFlight)
	s.stats.Requests++
	s.stats.ByRoute[route(r)]++
	if s.stats.First.IsZero() {
		s.stats.First = now
	}
	s.mu.Unlock()
	defer func() {
		now := time.Now()
		s.mu.Lock()
		s.account(now)
		s.inFlight--
		s.stats.Last = now
		s.mu.Unlock()
	}()
	s.srv.ServeHTTP(w, r)
}

// account adds the in-flight time since the last change. s.mu is held.
func (s *standin) account(now time.Time) {
	if !s.lastT.IsZero() {
		s.stats.BusySeconds += float64(s.inFlight) * now.Sub(s.lastT).Seconds()
	}
	s.lastT = now
}

// snapshot returns the counters and resets them (the stored entities stay).
func (s *standin) snapshot() standinStats {
	s.mu.Lock()
	st := s.stats
	s.stats = standinStats{ByRoute: map[string]int{}}
	s.mu.Unlock()
	st.Builds = len(s.srv.Builds())
	st.Runs = len(s.srv.Runs())
	return st
}

// standinCmd runs a stand-in as a process: it prints its URL and serves until stdin closes
// or it is signalled, then prints its counters as JSON on stderr.
func standinCmd(args []string) error {
	fs := flag.NewFlagSet("standin", flag.ExitOnError)
	latency := fs.Duration("latency", 0, "added latency per request")
	_ = fs.Parse(args)
	s, err := startStandin(*latency)
	if err != nil {
		return err
	}
	defer s.close()
	fmt.Println(s.url)
	sc := bufio.NewScanner(os.Stdin)
	for sc.Scan() {
	}
	return json.NewEncoder(os.Stderr).Encode(s.snapshot())
}
