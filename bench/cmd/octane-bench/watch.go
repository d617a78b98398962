package main

import (
	"bufio"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/octane-import/octane-import/bench/gen"
)

// watchLatency is how long `octane-import watch` takes to import a build dropped into its folder.
type watchLatency struct {
	Step          string    `json:"step"`
	Settle        string    `json:"settle"`
	FilesPerBuild int       `json:"files_per_build"`
	Latencies     []float64 `json:"latencies_s"` // last file written → all files imported, per build
	Median, Max   float64   `json:"-"`
	LastBatch     float64   `json:"last_batch_latency_s"` // octane_import_batch_latency_seconds at the end
	Load1         string    `json:"load1"`
}

// benchWatch starts `octane-import watch` on an empty folder against a 0 ms stand-in, drops n
// post-build-sized builds into it one at a time, and times each from its last file written to
// the watcher's files_imported counter reaching it (read from --health-listen /metrics, every
// 10 ms).
func benchWatch(o runOpts, n int) (*watchLatency, error) {
	const settle = "500ms"
	dir := filepath.Join(o.work, "watch")
	os.RemoveAll(dir)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	st, err := startStandinProc(0)
	if err != nil {
		return nil, err
	}
	defer st.close()
	cfg, err := writeConfig(o, st.url, o.rate)
	if err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	health := ln.Addr().String()
	ln.Close()
	state := filepath.Join(o.work, "state-watch.db")
	os.Remove(state)
	cmd := exec.Command(o.bin, "watch", "--config", cfg, "--state", state, "-q", "--settle", settle, "--health-listen", health, dir)
	cmd.Env = append(os.Environ(), "OCTANE_BENCH_SECRET=sandbox-secret")
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	fmt.Fprintf(os.Stderr, "== watch: %d builds dropped one at a time into %s (--settle %s)\n", n, dir, settle)
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	defer func() {
		_ = cmd.Process.Signal(syscall.SIGINT)
		done := make(chan struct{})
		go func() { _ = cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(20 * time.Second):
			_ = cmd.Process.Kill()
			<-done
		}
	}()
	metrics := func() (map[string]float64, error) {
		resp, err := http.Get("http://" + health + "/metrics")
		if err != nil {
			return nil, err
		}
		defer resp.Body.Close()
		out := map[string]float64{}
		sc := bufio.NewScanner(resp.Body)
		for sc.Scan() {
			f := strings.Fields(sc.Text())
			if len(f) == 2 && !strings.HasPrefix(f[0], "#") {
				v, _ := strconv.ParseFloat(f[1], 64)
				out[f[0]] = v
			}
		}
		return out, sc.Err()
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		if _, err := metrics(); err == nil {
			break
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("the watcher's /metrics never answered on %s", health)
		}
		time.Sleep(20 * time.Millisecond)
	}
	spec := gen.Spec{Seed: 5, Builds: n, FilesPerBuild: 20, CasesPerFile: 50}
	wl := &watchLatency{Step: "watch", Settle: settle, FilesPerBuild: spec.FilesPerBuild, Load1: load1()}
	want := 0.0
	for b := range n {
		bst, err := gen.WriteBuild(dir, spec, b)
		if err != nil {
			return nil, err
		}
		t0 := time.Now()
		want += float64(bst.Reports)
		for {
			m, err := metrics()
			if err == nil && m["octane_import_files_imported_total"] >= want {
				wl.Latencies = append(wl.Latencies, time.Since(t0).Seconds())
				wl.LastBatch = m["octane_import_batch_latency_seconds"]
				break
			}
			if time.Since(t0) > 60*time.Second {
				return nil, fmt.Errorf("build %d not imported after 60 s (metrics %v, err %v)", b, m, err)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	s := append([]float64(nil), wl.Latencies...)
	sort.Float64s(s)
	wl.Median, wl.Max = s[len(s)/2], s[len(s)-1]
	return wl, nil
}
