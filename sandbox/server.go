// Package sandbox is a strict stand-in for the ALM Octane REST surface that
// octane-import uses: sign-in and sign-out, ci_servers, pipelines, ci_jobs,
// analytics/ci/builds, CI events (internal-api analytics/ci/events) and
// test-results (see /work/shared/octane-api.md, sections 2 to 8 and the list
// in section 11).
//
// It is an independent implementation of the wire contract: it does not
// import package octane, so that it can catch that client's mistakes. It
// refuses what the real server refuses and, where the contract is open
// (section 13), it takes the stricter reading and says so in a comment.
//
// Tests read back what it stored (Servers, Pipelines, Jobs, Builds, Runs,
// Tasks, Requests) and inject faults (Inject, ExpireSessionsAfter,
// FailNextTasks, OverrideNextTasks). Options make it behave as an older or
// different server (RefuseCompressed, NoCIJobCreate). The handler also serves
// read-only HTML pages for a person: an overview at "/", a page per build and
// a list of runs (page.go).
package sandbox

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"time"
)

// Credential is one accepted API key or user. Sign-in accepts it both as
// {"client_id","client_secret"} and as {"user","password"} (section 2.1).
type Credential struct{ ID, Secret string }

// Options configure a Server. The zero value is usable.
type Options struct {
	SharedSpace, Workspace string       // default "1001" and "1002"
	Credentials            []Credential // default one: {"sandbox-client", "sandbox-secret"}
	// TaskDelay is the time each test-results task spends queued and then
	// running. With 0 the task is processed before the 202 answer is written,
	// but the answer still says "queued".
	TaskDelay time.Duration
	// MaxPageSize is the largest accepted limit (default 1000); 0 or more is 400.
	MaxPageSize int
	// DefaultPageSize is used when a GET has no limit (default 100; the real
	// default is unknown, section 13, and a small one exposes clients that do
	// not page).
	DefaultPageSize int
	// SessionIdle and SessionMax expire a session after that much idle time or
	// age (0 = never). Expired sessions answer 401 (section 2.2).
	SessionIdle, SessionMax time.Duration
	// RotateCookie issues a new LWSSO_COOKIE_KEY value on every authenticated
	// response (sliding renewal, section 2.2). Old values stay valid.
	RotateCookie bool
	// MaxBodyBytes caps a request body, before and after decompression
	// (default 64 MiB); more is 413.
	MaxBodyBytes int64
	// RefuseCompressed makes the stand-in refuse every compressed request
	// body (any Content-Encoding but identity), as an old server that does
	// not decode request bodies would, with RefuseCompressedStatus: 415 (the
	// default: it says it cannot take the encoding) or 400 (it reads the
	// compressed bytes as the payload and finds them malformed).
	RefuseCompressed       bool
	RefuseCompressedStatus int
	// NoCIJobCreate makes the stand-in an Octane before 16.2.100, which
	// cannot create a ci_job on its own (the Azure DevOps extension checks
	// the version before it does, shared/octane-api.md section 5.3): POST
	// ci_jobs answers 405, and servers/connectivity/status reports 16.1.200.
	// Jobs are still created with their pipeline (POST pipelines).
	NoCIJobCreate bool
	Logger        *slog.Logger
}

func (o Options) withDefaults() Options {
	if o.SharedSpace == "" {
		o.SharedSpace = "1001"
	}
	if o.Workspace == "" {
		o.Workspace = "1002"
	}
	if len(o.Credentials) == 0 {
		o.Credentials = []Credential{{ID: "sandbox-client", Secret: "sandbox-secret"}}
	} else {
		o.Credentials = append([]Credential(nil), o.Credentials...)
	}
	if o.MaxPageSize <= 0 {
		o.MaxPageSize = 1000
	}
	if o.DefaultPageSize <= 0 {
		o.DefaultPageSize = min(100, o.MaxPageSize)
	}
	if o.RefuseCompressedStatus != http.StatusBadRequest {
		o.RefuseCompressedStatus = http.StatusUnsupportedMediaType
	}
	if o.MaxBodyBytes <= 0 {
		o.MaxBodyBytes = 64 << 20
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	return o
}

// Request is one request the server saw, in arrival order. Status is the
// code answered, or 0 when the connection was dropped without an answer.
// ClientType and ContentEncoding are the HPECLIENTTYPE and Content-Encoding
// headers as sent ("" when absent).
type Request struct {
	Method, Path, Query         string
	Status                      int
	ClientType, ContentEncoding string
}

// Server is the stand-in. It is an http.Handler; Start also listens.
type Server struct {
	opts Options
	log  *slog.Logger

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup // task workers

	hsMu sync.Mutex
	hs   *httptest.Server

	mu           sync.Mutex
	sessions     map[string]*session
	expireAfter  int // -1 = not armed
	requests     []Request
	faults       []*faultState
	failNext     int
	failDetails  string
	overrideNext int
	override     TaskOverride
	store

	clock       func() time.Time // the page's clock; nil is time.Now (under mu)
	pageRefresh time.Duration    // the page's auto-refresh period; 0 is the default (under mu)
}

// New returns a Server that is not listening; use it as an http.Handler.
func New(opts Options) *Server {
	opts = opts.withDefaults()
	ctx, cancel := context.WithCancel(context.Background())
	s := &Server{
		opts: opts, log: opts.Logger, ctx: ctx, cancel: cancel,
		sessions: map[string]*session{}, expireAfter: -1,
	}
	s.store.init()
	return s
}

// Start returns a Server listening on 127.0.0.1 on a free port
// (httptest.NewServer). Close it when done.
func Start(opts Options) (*Server, error) {
	s := New(opts)
	var err error
	func() {
		defer func() {
			if r := recover(); r != nil { // httptest panics when it cannot listen
				err = fmt.Errorf("sandbox: cannot listen: %v", r)
			}
		}()
		hs := httptest.NewServer(s)
		s.hsMu.Lock()
		s.hs = hs
		s.hsMu.Unlock()
	}()
	if err != nil {
		s.cancel()
		return nil, err
	}
	return s, nil
}

// URL is the base URL of a started server ("" for one made with New).
func (s *Server) URL() string {
	s.hsMu.Lock()
	defer s.hsMu.Unlock()
	if s.hs == nil {
		return ""
	}
	return s.hs.URL
}

// Options returns the options in effect, with defaults filled in.
func (s *Server) Options() Options {
	o := s.opts
	o.Credentials = append([]Credential(nil), o.Credentials...)
	return o
}

// Close stops the listener (if any) and the task workers.
func (s *Server) Close() {
	s.cancel()
	s.hsMu.Lock()
	hs := s.hs
	s.hsMu.Unlock()
	if hs != nil {
		hs.CloseClientConnections()
		hs.Close()
	}
	s.wg.Wait()
}

// ListenAndServe serves the stand-in on addr until ctx ends
// (`octane-import sandbox --listen ADDR`).
func (s *Server) ListenAndServe(ctx context.Context, addr string) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("sandbox: listen on %s: %w", addr, err)
	}
	return s.Serve(ctx, ln)
}

// Serve serves the stand-in on ln until ctx ends.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	hs := &http.Server{Handler: s, ReadHeaderTimeout: 10 * time.Second}
	done := make(chan struct{})
	go func() {
		select {
		case <-ctx.Done():
		case <-done:
		}
		sctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		if err := hs.Shutdown(sctx); err != nil {
			hs.Close()
		}
	}()
	err := hs.Serve(ln)
	close(done)
	if errors.Is(err, http.ErrServerClosed) {
		err = nil
	}
	s.cancel()
	s.wg.Wait()
	return err
}

// Requests returns every request seen so far, in order.
func (s *Server) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Request(nil), s.requests...)
}

// statusWriter records the status code answered.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

// ServeHTTP serves the API and the HTML page.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	idx := len(s.requests)
	s.requests = append(s.requests, Request{Method: r.Method, Path: r.URL.Path, Query: r.URL.RawQuery,
		ClientType: r.Header.Get("HPECLIENTTYPE"), ContentEncoding: r.Header.Get("Content-Encoding")})
	s.mu.Unlock()
	sw := &statusWriter{ResponseWriter: w}
	dropped := false
	defer func() {
		s.mu.Lock()
		if !dropped {
			s.requests[idx].Status = sw.status
		}
		s.mu.Unlock()
		s.log.Debug("sandbox request", "method", r.Method, "path", r.URL.Path, "status", sw.status, "dropped", dropped)
	}()
	if f := s.takeFault(r); f != nil {
		handled, drop := s.applyFault(*f, w, sw, r)
		dropped = drop
		if handled {
			return
		}
	}
	s.route(sw, r)
}

func (s *Server) route(w http.ResponseWriter, r *http.Request) {
	p := r.URL.Path
	switch {
	case isPagePath(p):
		s.servePage(w, r)
	case p == "/authentication/sign_in":
		s.signIn(w, r)
	case p == "/authentication/sign_out":
		s.signOut(w, r)
	case p == "/api" || strings.HasPrefix(p, "/api/"):
		s.api(w, r)
	case p == "/internal-api" || strings.HasPrefix(p, "/internal-api/"):
		s.internalAPI(w, r)
	default:
		writeError(w, http.StatusNotFound, "platform.not_found", fmt.Sprintf("No resource at %s", p), false)
	}
}

// randomToken returns n random lowercase letters and digits.
func randomToken(n int) string {
	const alphabet = "abcdefghijklmnopqrstuvwxyz0123456789"
	b := make([]byte, n)
	_, _ = rand.Read(b) // crypto/rand.Read never fails (Go 1.24+)
	for i := range b {
		b[i] = alphabet[int(b[i])%len(alphabet)]
	}
	return string(b)
}

// drain reads and discards a little of an unread body so that keep-alive works.
func drain(r *http.Request) {
	if r.Body != nil {
		_, _ = io.CopyN(io.Discard, r.Body, 1<<20)
	}
}
