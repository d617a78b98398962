package octane_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/octane-import/octane-import/octane"
	"github.com/octane-import/octane-import/sandbox"
)

// The credentials the stand-in accepts in these tests: an API key and a user.
const (
	testKeyID  = "ci-key-id"
	testSecret = "s3cr3t-Key-Value!"
	testUser   = "alice@example.com"
	testPass   = "pa55-Word-Value?"
)

// standIn is the strict stand-in Octane (package sandbox) served over real
// HTTP for one test, closed at its end. Faults go through the stand-in
// (Inject, ExpireSessionsAfter, FailNextTasks, OverrideNextTasks) and so does
// what it stored (Requests, Servers, Jobs, Tasks, ...).
//
// Between the network and the stand-in sits a recorder. It answers nothing
// itself: it keeps each request as it came off the wire (headers, the body
// bytes as sent, the cookies the answer set) and counts the requests in
// flight, for what the stand-in's read-back does not say.
type standIn struct {
	*sandbox.Server
	t           *testing.T
	hs          *httptest.Server
	contextPath string

	mu                    sync.Mutex
	wire                  []wireRequest
	inFlight, maxInFlight atomic.Int32
}

// wireRequest is one request as the recorder saw it.
type wireRequest struct {
	Method, Path string // Path as sent, with the context path
	Header       http.Header
	Body         []byte         // the bytes the stand-in read, as sent (compressed or not)
	SetCookies   []*http.Cookie // the cookies the answer set
}

// serveOptions say how the stand-in is served.
type serveOptions struct {
	TLS bool // HTTPS with httptest's certificate (for 127.0.0.1 and example.com)
	// ContextPath such as "/ctx" serves the stand-in under it, as Octane
	// deployed with a web context path; any other path answers 404.
	ContextPath string
}

// newStandIn serves the stand-in over plain HTTP. Options without
// credentials get the test API key and the test user.
func newStandIn(t *testing.T, opts sandbox.Options) *standIn {
	return serveStandIn(t, opts, serveOptions{})
}

func serveStandIn(t *testing.T, opts sandbox.Options, so serveOptions) *standIn {
	t.Helper()
	if len(opts.Credentials) == 0 {
		opts.Credentials = []sandbox.Credential{{ID: testKeyID, Secret: testSecret}, {ID: testUser, Secret: testPass}}
	}
	s := &standIn{Server: sandbox.New(opts), t: t, contextPath: so.ContextPath}
	s.hs = httptest.NewUnstartedServer(http.HandlerFunc(s.serve))
	if so.TLS {
		s.hs.Config.ErrorLog = log.New(io.Discard, "", 0) // the bad-certificate test makes handshakes fail
		s.hs.StartTLS()
	} else {
		s.hs.Start()
	}
	t.Cleanup(func() {
		s.Server.Close() // ends injected latency and the task workers first
		s.hs.CloseClientConnections()
		s.hs.Close()
	})
	return s
}

func (s *standIn) serve(w http.ResponseWriter, r *http.Request) {
	n := s.inFlight.Add(1)
	defer s.inFlight.Add(-1)
	for {
		m := s.maxInFlight.Load()
		if n <= m || s.maxInFlight.CompareAndSwap(m, n) {
			break
		}
	}
	s.mu.Lock()
	idx := len(s.wire)
	s.wire = append(s.wire, wireRequest{Method: r.Method, Path: r.URL.Path, Header: r.Header.Clone()})
	s.mu.Unlock()
	var body bytes.Buffer
	r.Body = struct {
		io.Reader
		io.Closer
	}{io.TeeReader(r.Body, &body), r.Body}
	defer func() {
		s.mu.Lock()
		s.wire[idx].Body = body.Bytes()
		s.wire[idx].SetCookies = (&http.Response{Header: w.Header()}).Cookies()
		s.mu.Unlock()
	}()
	if s.contextPath == "" {
		s.Server.ServeHTTP(w, r)
		return
	}
	if !strings.HasPrefix(r.URL.Path, s.contextPath+"/") {
		s.t.Errorf("request outside the context path %s: %s %s", s.contextPath, r.Method, r.URL.Path)
		http.NotFound(w, r)
		return
	}
	http.StripPrefix(s.contextPath, s.Server).ServeHTTP(w, r)
}

// URL is the base URL a client is given (with the context path).
func (s *standIn) URL() string { return s.hs.URL + s.contextPath }

// config is a client configuration for this stand-in, with the test API key
// and fast retries and polls.
func (s *standIn) config() octane.Config {
	return octane.Config{
		URL: s.URL(), SharedSpace: "1001", Workspace: "1002",
		ClientID: testKeyID, ClientSecret: testSecret,
		RateLimit: -1, Concurrency: 8, PageSize: 2,
		Retry:  octane.RetryPolicy{MaxAttempts: 4, MinBackoff: time.Millisecond, MaxBackoff: 5 * time.Millisecond},
		Poll:   octane.PollPolicy{Min: time.Millisecond, Max: 4 * time.Millisecond},
		Logger: slog.New(slog.DiscardHandler),
	}
}

func (s *standIn) client(cfg octane.Config) *octane.Client {
	s.t.Helper()
	c, err := octane.New(cfg)
	if err != nil {
		s.t.Fatalf("New: %v", err)
	}
	return c
}

// count is how many requests with this method (any when "") and a path
// ending in suffix the stand-in saw.
func (s *standIn) count(method, suffix string) int {
	n := 0
	for _, r := range s.Requests() {
		if (method == "" || r.Method == method) && strings.HasSuffix(r.Path, suffix) {
			n++
		}
	}
	return n
}

// wireRequests returns what the recorder kept, in arrival order.
func (s *standIn) wireRequests() []wireRequest {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]wireRequest(nil), s.wire...)
}

// last is the last request with this method and a path ending in suffix.
func (s *standIn) last(method, suffix string) wireRequest {
	s.t.Helper()
	ws := s.wireRequests()
	for i := len(ws) - 1; i >= 0; i-- {
		if ws[i].Method == method && strings.HasSuffix(ws[i].Path, suffix) {
			return ws[i]
		}
	}
	s.t.Fatalf("no %s …%s reached the stand-in", method, suffix)
	return wireRequest{}
}

// sentJSON decodes the body of the last such request.
func (s *standIn) sentJSON(method, suffix string) map[string]any {
	s.t.Helper()
	var v map[string]any
	if err := json.Unmarshal(s.last(method, suffix).Body, &v); err != nil {
		s.t.Fatalf("%s …%s: body is not a JSON object: %v", method, suffix, err)
	}
	return v
}

// startStandIn is a stand-in and a client with a debug log, which must never
// show the secret.
func startStandIn(t *testing.T, opts sandbox.Options) (*standIn, *octane.Client, *bytes.Buffer) {
	t.Helper()
	s := newStandIn(t, opts)
	var logs bytes.Buffer
	cfg := s.config()
	cfg.Retry = octane.RetryPolicy{MaxAttempts: 5, MinBackoff: time.Millisecond, MaxBackoff: 10 * time.Millisecond}
	cfg.Poll = octane.PollPolicy{Min: 5 * time.Millisecond, Max: 20 * time.Millisecond, MaxUnknown: 5}
	cfg.Logger = slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	c := s.client(cfg)
	t.Cleanup(func() {
		if strings.Contains(logs.String(), testSecret) {
			t.Error("the secret appears in the client's logs")
		}
	})
	return s, c, &logs
}

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func mustGzip(t *testing.T, s string) []byte {
	t.Helper()
	z, err := octane.Gzip([]byte(s))
	if err != nil {
		t.Fatal(err)
	}
	return z
}

// errorJSON is an Octane error body (shared/octane-api.md section 3.4).
func errorJSON(code, description string) string {
	b, _ := json.Marshal(map[string]any{"error_code": code, "description": description, "correlation_id": "corr-" + code,
		"business_error": true, "stack_trace": "java.lang.Exception\n\tat x.y(Z.java:1)"})
	return string(b)
}

// jsonHeader is the header of a JSON answer.
var jsonHeader = http.Header{"Content-Type": {"application/json"}}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// signalWriter closes ch the first time a log line contains match.
type signalWriter struct {
	match string
	ch    chan struct{}
	once  sync.Once
}

func (w *signalWriter) Write(b []byte) (int, error) {
	if strings.Contains(string(b), w.match) {
		w.once.Do(func() { close(w.ch) })
	}
	return len(b), nil
}
