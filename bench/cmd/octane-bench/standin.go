package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"runtime/pprof"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/octane-import/octane-import/sandbox"
)

// standin is the stand-in Octane (sandbox, strict as it is: nothing here changes what it
// accepts) on a loopback port, with every request delayed by latency (the stand-in's own
// Latency fault) and counted: by route, and how many were in flight over time, so that a
// benchmark can tell whether the client kept its concurrency busy. It runs in a process of its
// own (octane-bench standin, started by standinProc), so that its work (it validates every
// test-results payload against the XSD and stores every run) is not done inside the process
// that runs the benchmark, and its CPU time and memory are measured apart from the importer's.
type standin struct {
	srv *sandbox.Server
	hs  *http.Server
	url string

	mu       sync.Mutex
	stats    standinStats
	inFlight int
	lastT    time.Time
	cpuAt    time.Duration // the process's CPU time at the last reset
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
	CPU         float64        `json:"cpu_s"`        // the stand-in process's CPU time (user+system) since the reset
	PeakRSSMiB  float64        `json:"peak_rss_mib"` // the stand-in process's peak RSS (VmHWM) since it started
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
	s := &standin{srv: srv, url: "http://" + ln.Addr().String(), cpuAt: processCPU()}
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

// snapshot returns the counters, and resets them when reset is true (the stored entities stay).
func (s *standin) snapshot(reset bool) standinStats {
	cpu := processCPU()
	s.mu.Lock()
	st := s.stats
	st.CPU = (cpu - s.cpuAt).Seconds()
	if reset {
		s.stats = standinStats{ByRoute: map[string]int{}}
		s.cpuAt = cpu
	}
	s.mu.Unlock()
	st.Builds = len(s.srv.Builds())
	st.Runs = len(s.srv.Runs())
	st.PeakRSSMiB = peakRSSMiB()
	return st
}

// processCPU is this process's CPU time so far, user and system.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// peakRSSMiB is this process's peak resident set (VmHWM), 0 where /proc is not there.
func peakRSSMiB() float64 {
	data, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(data), "\n") {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, _ := strconv.ParseFloat(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 64)
			return kb / 1024
		}
	}
	return 0
}

// standinAddrs is the first line a stand-in process prints: where the stand-in Octane listens,
// and where its counters are served (GET /stats, with ?reset=1 to reset them).
type standinAddrs struct {
	URL     string `json:"url"`
	Control string `json:"control"`
}

// standinCmd runs a stand-in as a process: it prints its addresses (standinAddrs) as one line of
// JSON and serves until stdin closes or it is signalled. The counters are served on a second
// loopback port (the control address), apart from the stand-in's own routes, which stay
// exactly those of sandbox.
func standinCmd(args []string) error {
	fs := flag.NewFlagSet("standin", flag.ExitOnError)
	latency := fs.Duration("latency", 0, "added latency per request")
	cpuprofile := fs.String("cpuprofile", "", "write the stand-in's CPU profile to this file (where its time goes)")
	_ = fs.Parse(args)
	if *cpuprofile != "" {
		f, err := os.Create(*cpuprofile)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}
	s, err := startStandin(*latency)
	if err != nil {
		return err
	}
	defer s.close()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /stats", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(s.snapshot(r.URL.Query().Get("reset") == "1"))
	})
	ctl := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = ctl.Serve(ln) }()
	defer ctl.Close()
	if err := printJSON(standinAddrs{URL: s.url, Control: "http://" + ln.Addr().String()}); err != nil {
		return err
	}
	stdinClosed := make(chan struct{})
	go func() {
		_, _ = io.Copy(io.Discard, os.Stdin)
		close(stdinClosed)
	}()
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, os.Interrupt, syscall.SIGTERM)
	select {
	case <-stdinClosed:
	case <-sig:
	}
	return nil
}

// standinProc is a stand-in process (octane-bench standin) as the runner sees it.
type standinProc struct {
	url, control string
	cmd          *exec.Cmd
	stdin        io.WriteCloser
	stderr       bytes.Buffer
}

// startStandinProc starts octane-bench standin in a process of its own and waits for its
// addresses.
func startStandinProc(latency time.Duration) (*standinProc, error) {
	p := &standinProc{cmd: exec.Command(self(), "standin", "-latency", latency.String())}
	p.cmd.Stderr = &p.stderr
	var err error
	if p.stdin, err = p.cmd.StdinPipe(); err != nil {
		return nil, err
	}
	out, err := p.cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := p.cmd.Start(); err != nil {
		return nil, err
	}
	line, err := bufio.NewReader(out).ReadBytes('\n')
	var a standinAddrs
	if err == nil {
		err = json.Unmarshal(line, &a)
	}
	if err != nil || a.URL == "" {
		p.close()
		return nil, fmt.Errorf("the stand-in process did not start: %v %s", err, p.stderr.String())
	}
	p.url, p.control = a.URL, a.Control
	return p, nil
}

// stats fetches the stand-in's counters, and resets them when reset is true.
func (p *standinProc) stats(reset bool) (standinStats, error) {
	u := p.control + "/stats"
	if reset {
		u += "?reset=1"
	}
	var st standinStats
	resp, err := http.Get(u)
	if err != nil {
		return st, fmt.Errorf("stand-in counters: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return st, fmt.Errorf("stand-in counters: %s", resp.Status)
	}
	return st, json.NewDecoder(resp.Body).Decode(&st)
}

// close ends the stand-in process (its stdin closes) and waits for it.
func (p *standinProc) close() {
	_ = p.stdin.Close()
	done := make(chan struct{})
	go func() { _ = p.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(20 * time.Second):
		_ = p.cmd.Process.Kill()
		<-done
	}
}
