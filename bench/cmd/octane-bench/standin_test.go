package main

import (
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/octane-import/octane-import/internal/testkit"
)

// asMainEnv makes the test binary run as octane-bench (main), so that the runner's child
// processes (self() is the test binary here) can be tested.
const asMainEnv = "OCTANE_BENCH_TEST_AS_MAIN"

func TestMain(m *testing.M) {
	if os.Getenv(asMainEnv) == "1" {
		main()
		os.Exit(0)
	}
	os.Exit(testkit.Main(m)) // and the PostgreSQL server and octane-import binary of the tests that made them
}

// TestStandinProcess: the stand-in runs in a process of its own, answers as the strict
// stand-in does (a sign-in with the right secret is accepted, one with a wrong secret refused),
// and serves its counters on the control port, reset on request.
func TestStandinProcess(t *testing.T) {
	t.Setenv(asMainEnv, "1")
	p, err := startStandinProc(20 * time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	defer p.close()
	if p.cmd.Process.Pid == os.Getpid() {
		t.Fatal("the stand-in runs in this process")
	}
	signIn := func(secret string) int {
		req, err := http.NewRequest(http.MethodPost, p.url+"/authentication/sign_in",
			strings.NewReader(`{"client_id":"sandbox-client","client_secret":"`+secret+`"}`))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Accept", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	start := time.Now()
	if code := signIn("sandbox-secret"); code != http.StatusOK {
		t.Errorf("sign-in with the right secret: %d, want 200", code)
	}
	if d := time.Since(start); d < 20*time.Millisecond {
		t.Errorf("sign-in answered in %v: the 20ms latency was not added", d)
	}
	if code := signIn("wrong"); code != http.StatusUnauthorized {
		t.Errorf("sign-in with a wrong secret: %d, want 401", code)
	}
	st, err := p.stats(true)
	if err != nil {
		t.Fatal(err)
	}
	if st.Requests != 2 || st.ByRoute["POST sign_in"] != 2 || st.PeakFlight != 1 || st.First.IsZero() || !st.Last.After(st.First) {
		t.Errorf("counters after two sign-ins: %+v", st)
	}
	if st.PeakRSSMiB <= 0 {
		t.Errorf("no peak RSS: %+v", st)
	}
	st, err = p.stats(false)
	if err != nil {
		t.Fatal(err)
	}
	if st.Requests != 0 || len(st.ByRoute) != 0 {
		t.Errorf("counters after a reset: %+v", st)
	}
}

// TestTable: the table has both ratios to the floors and the paced step's ratio to its bound,
// and a run from before the token floor keeps its ratio to floor: report.
func TestTable(t *testing.T) {
	rs := []result{
		{Size: "s", Step: "floor: tokens", Wall: 1, CPU: 1},
		{Size: "s", Step: "scan --dry-run", Wall: 1.5, CPU: 2, RatioTokens: 1.5, RatioTokensCPU: 2, RatioReport: 1.25},
		{Size: "s", Step: "scan, 100ms stand-in, 20 req/s", Wall: 33, Bound: 30, RatioBound: 1.1, LatencyMS: 100, Rate: 20,
			Note:    "bound 30.00 s = max(reading 1.50 s, 600 requests / 20 per s)",
			Standin: &standinStats{Requests: 600, ByRoute: map[string]int{"PUT builds": 200}, First: time.Unix(0, 0), Last: time.Unix(30, 0), CPU: 4}},
	}
	md := table(runOpts{concurrency: 4, rate: 1000, latency: 50 * time.Millisecond}, rs, nil)
	for _, want := range []string{
		"| stand-in CPU s | × tokens | × tokens CPU | × report | × bound | load |",
		"| s | scan --dry-run | 1.50 | 2.00 |",
		"|  |  |  | 1.50 | 2.00 | 1.25 |  |  |",
		"| 600 |  | 4.00 |  |  |  | 1.10 |",
		"33.00 s against a bound of 30.00 s",
		"= 50 % of concurrency/latency (40 req/s)",
	} {
		if !strings.Contains(md, want) {
			t.Errorf("the table lacks %q:\n%s", want, md)
		}
	}
}

// TestParseResults: a results file from before the token floor (ratio_to_floor, the ratio to
// floor: report) is shown in the × report column; one of this runner keeps its ratios.
func TestParseResults(t *testing.T) {
	data := []byte(`{"size":"medium","step":"scan --dry-run","wall_s":0.98,"ratio_to_floor":1.03}
{"size":"medium","step":"scan --dry-run","wall_s":0.98,"ratio_to_tokens":1.4,"ratio_to_report":1.1}
{"step":"watch","settle":"500ms","latencies_s":[0.9,0.7,0.8]}
`)
	rs, wl, err := parseResults(data)
	if err != nil {
		t.Fatal(err)
	}
	if len(rs) != 2 || rs[0].RatioReport != 1.03 || rs[0].RatioTokens != 0 || rs[1].RatioReport != 1.1 || rs[1].RatioTokens != 1.4 {
		t.Errorf("results %+v", rs)
	}
	if wl == nil || wl.Median != 0.8 || wl.Max != 0.9 {
		t.Errorf("watch %+v", wl)
	}
}
