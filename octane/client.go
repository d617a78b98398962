package octane

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	mrand "math/rand/v2"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptrace"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/time/rate"
)

// ErrClosed is returned by calls on a closed Client.
var ErrClosed = errors.New("octane: client is closed")

// maxResponseBody caps how much of a response is read (entity pages are small;
// this only guards against a runaway proxy).
const maxResponseBody = 64 << 20

// Client talks to one Octane workspace. It is safe for concurrent use.
type Client struct {
	cfg     Config
	base    *url.URL // without trailing slash
	wsURL   string   // {base}/api/shared_spaces/{sid}/workspaces/{wid}
	api     *http.Client
	bare    *http.Client // no cookie jar: sign-in is sent without cookies
	jar     *sessionJar
	limiter *rate.Limiter
	sem     chan struct{}
	log     *slog.Logger
	sess    session
	secrets []string

	baseCtx  context.Context
	cancel   context.CancelFunc
	closed   atomic.Bool
	answered atomic.Bool // the server answered a request at least once (see RetryPolicy.FirstContact)

	// servers holds the ci_servers EnsureCIServer returned, by instance id
	// (CIServer values), for the server info of CI events.
	servers sync.Map

	// posted holds the size of each payload this client posted, by task id, until WaitTask
	// waits for its task (firstPoll).
	posted sync.Map

	// plain is set once Octane refused a compressed test-results payload
	// and took it uncompressed: later payloads go uncompressed.
	plain atomic.Bool
}

// New validates cfg, applies defaults and builds the client. It does not touch the network.
func New(cfg Config) (*Client, error) {
	cfg = cfg.withDefaults()
	base, err := cfg.validate()
	if err != nil {
		return nil, err
	}
	tr, err := cfg.buildTransport()
	if err != nil {
		return nil, err
	}
	if cfg.Insecure {
		cfg.Logger.Warn("octane: TLS certificate verification is OFF (insecure); anyone on the network path can read the credentials and results", "url", RedactURL(base.String()))
	}
	jar := newSessionJar()
	noRedirect := func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	lim := rate.NewLimiter(rate.Inf, 1)
	setRate(lim, cfg.RateLimit)
	ctx, cancel := context.WithCancel(context.Background())
	c := &Client{
		cfg:     cfg,
		base:    base,
		wsURL:   base.String() + "/api/shared_spaces/" + cfg.SharedSpace + "/workspaces/" + cfg.Workspace,
		api:     &http.Client{Transport: tr, Jar: jar, CheckRedirect: noRedirect},
		bare:    &http.Client{Transport: tr, CheckRedirect: noRedirect},
		jar:     jar,
		limiter: lim,
		sem:     make(chan struct{}, cfg.Concurrency),
		log:     cfg.Logger,
		baseCtx: ctx,
		cancel:  cancel,
	}
	for _, s := range []string{cfg.ClientSecret, cfg.Password} {
		if len(s) >= 3 {
			c.secrets = append(c.secrets, s)
		}
	}
	c.sess.signIn = c.signIn
	c.sess.ctx = ctx
	return c, nil
}

// setRate sets a limiter to r requests per second (negative: unlimited), with a burst of a
// tenth of a second's worth (at least one request).
func setRate(lim *rate.Limiter, r float64) {
	if r < 0 {
		lim.SetLimit(rate.Inf)
		return
	}
	lim.SetBurst(int(math.Max(1, math.Ceil(r/10))))
	lim.SetLimit(rate.Limit(r))
}

// SetRateLimit changes the client's rate limit while it runs, for the requests that start
// waiting from now on: r requests per second, 0 the default (DefaultRateLimit), negative
// unlimited, as Config.RateLimit. Instances sharing a ledger divide a target's rate among
// themselves with it.
func (c *Client) SetRateLimit(r float64) {
	if r == 0 {
		r = DefaultRateLimit
	}
	setRate(c.limiter, r)
}

// RateLimit is the client's rate limit in requests per second; -1 when unlimited.
func (c *Client) RateLimit() float64 {
	if l := c.limiter.Limit(); l != rate.Inf {
		return float64(l)
	}
	return -1
}

// scrub removes secrets from a message (a server or proxy could echo them).
func (c *Client) scrub(s string) string {
	for _, sec := range c.secrets {
		s = strings.ReplaceAll(s, sec, redacted)
	}
	return s
}

// Close signs out if signed in. Later calls return ErrClosed.
func (c *Client) Close(ctx context.Context) error {
	if !c.closed.CompareAndSwap(false, true) {
		return nil
	}
	defer c.cancel()
	defer c.api.CloseIdleConnections()
	if !c.sess.markSignedOut() {
		return nil
	}
	_, err := c.do(ctx, &request{
		method:    http.MethodPost,
		url:       c.base.String() + "/authentication/sign_out",
		noSession: true,
		want:      func(s int) bool { return s >= 200 && s < 400 }, // 302 accepted (CLT: defect #2919)
	})
	c.jar.reset()
	if err != nil {
		return fmt.Errorf("octane: sign out: %w", err)
	}
	return nil
}

// request is one logical call; do sends it, retrying as allowed.
type request struct {
	method          string
	url             string // without query
	query           string // raw query
	body            []byte
	contentType     string
	contentEncoding string
	// resendable: the request may be sent again after it may have reached the
	// server (GET, PUT upsert, byte-identical test-results POST).
	resendable bool
	noSession  bool              // do not sign in first nor re-sign-in on 401 (sign_in, sign_out)
	noCookies  bool              // send without the cookie jar (sign_in)
	maxTries   int               // overrides Retry.MaxAttempts when > 0
	header     map[string]string // extra request headers
	want       func(status int) bool
}

type response struct {
	status  int
	header  http.Header
	body    []byte
	cookies []*http.Cookie
}

func (r *request) fullURL() string {
	if r.query == "" {
		return r.url
	}
	return r.url + "?" + r.query
}

// do sends r: signs in when needed, re-signs-in once on 401 and replays,
// retries temporary failures with back-off, and returns a *Error on failure.
func (c *Client) do(ctx context.Context, r *request) (*response, error) {
	if c.closed.Load() && !r.noSession {
		return nil, ErrClosed
	}
	corr := correlationID()
	maxTries := c.cfg.Retry.MaxAttempts
	if r.maxTries > 0 {
		maxTries = r.maxTries
	}
	reauthed := false
	for attempt := 1; ; attempt++ {
		var gen uint64
		if !r.noSession {
			g, err := c.sess.ensure(ctx)
			if err != nil {
				return nil, err
			}
			gen = g
		}
		start := time.Now()
		resp, sent, err := c.once(ctx, r, corr)
		if err == nil {
			c.answered.Store(true)
		} else if n := c.cfg.Retry.FirstContact; n > 0 && n < maxTries && !c.answered.Load() {
			maxTries = n // the server never answered: it is down, not busy
		}
		var (
			lastErr *Error
			wait    time.Duration
			retry   bool
		)
		if err != nil {
			if ctx.Err() != nil {
				return nil, fmt.Errorf("octane: %s %s: %w", r.method, r.url, ctx.Err())
			}
			lastErr = &Error{Method: r.method, URL: r.url, Description: c.describe(err, time.Since(start)), Temporary: transportTemporary(err), Err: err}
			retry = lastErr.Temporary && (r.resendable || !sent)
			wait = c.backoff(attempt)
		} else {
			c.log.Debug("octane: response", "method", r.method, "url", r.url, "status", resp.status, "attempt", attempt, "elapsed", time.Since(start).Round(time.Millisecond), "correlation_id", corr)
			if resp.status == http.StatusUnauthorized && !r.noSession && !reauthed {
				reauthed = true
				c.log.Info("octane: session rejected (401), signing in again", "method", r.method, "url", r.url)
				if _, err := c.sess.renew(ctx, gen); err != nil {
					return nil, err
				}
				attempt-- // the replay after a re-sign-in is not a retry
				continue
			}
			ok := r.want != nil && r.want(resp.status) || r.want == nil && resp.status >= 200 && resp.status < 300
			if ok {
				return resp, nil
			}
			lastErr = newHTTPError(r.method, r.url, resp.status, resp.header.Get("Content-Type"), resp.body)
			lastErr.Description = c.scrub(lastErr.Description)
			lastErr.TargetRefused = targetRefused(resp.status, r.url, strings.HasSuffix(r.url, "/authentication/sign_in"))
			if resp.status >= 300 && resp.status < 400 {
				lastErr.Description = "redirected to " + RedactURL(resp.header.Get("Location")) + " (wrong URL or context path, or an SSO login page)"
			}
			// A 429 or 503 answer means the request was not processed; other
			// temporary statuses (502, 504, 408) leave the outcome unknown.
			retry = lastErr.Temporary && (r.resendable || resp.status == http.StatusTooManyRequests || resp.status == http.StatusServiceUnavailable)
			wait = c.backoff(attempt)
			if ra, ok := retryAfter(resp.header.Get("Retry-After"), time.Now()); ok {
				if ra > c.cfg.Retry.MaxRetryAfter {
					c.log.Warn("octane: server asked to wait longer than the cap; waiting the cap", "retry_after", ra, "cap", c.cfg.Retry.MaxRetryAfter)
					ra = c.cfg.Retry.MaxRetryAfter
				}
				wait = ra
			}
		}
		if !retry || attempt >= maxTries {
			if retry {
				c.log.Warn("octane: giving up", "method", r.method, "url", r.url, "attempts", attempt, "error", lastErr.Error())
			}
			return nil, lastErr
		}
		c.log.Warn("octane: temporary failure, retrying", "method", r.method, "url", r.url, "attempt", attempt, "wait", wait, "error", lastErr.Error())
		t := time.NewTimer(wait)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return nil, fmt.Errorf("octane: %s %s: %w while waiting to retry (last error: %s)", r.method, r.url, ctx.Err(), lastErr.Error())
		}
	}
}

// once sends one attempt. sent reports whether the request was fully written
// (so the server may have acted on it).
func (c *Client) once(ctx context.Context, r *request, corr string) (resp *response, sent bool, err error) {
	if err := c.limiter.Wait(ctx); err != nil {
		if ctx.Err() != nil {
			return nil, false, ctx.Err()
		}
		return nil, false, fmt.Errorf("rate limiter: %w", err)
	}
	select {
	case c.sem <- struct{}{}:
	case <-ctx.Done():
		return nil, false, ctx.Err()
	}
	defer func() { <-c.sem }()

	actx, cancel := context.WithTimeout(ctx, c.cfg.Timeout)
	defer cancel()
	var wrote atomic.Bool
	actx = httptrace.WithClientTrace(actx, &httptrace.ClientTrace{
		WroteRequest: func(i httptrace.WroteRequestInfo) {
			if i.Err == nil {
				wrote.Store(true)
			}
		},
	})
	var body io.Reader
	if r.body != nil {
		body = bytes.NewReader(r.body)
	}
	req, err := http.NewRequestWithContext(actx, r.method, r.fullURL(), body)
	if err != nil {
		return nil, false, err
	}
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", "octane-import")
	req.Header.Set("X-Correlation-ID", corr)
	if r.body != nil {
		req.Header.Set("Content-Type", r.contentType)
		if r.contentEncoding != "" {
			req.Header.Set("Content-Encoding", r.contentEncoding)
		}
	}
	if c.cfg.ClientType != "" {
		req.Header.Set("HPECLIENTTYPE", c.cfg.ClientType)
	}
	for k, v := range r.header {
		req.Header.Set(k, v)
	}
	hc := c.api
	if r.noCookies {
		hc = c.bare
	}
	hr, err := hc.Do(req)
	if err != nil {
		return nil, wrote.Load(), err
	}
	defer hr.Body.Close()
	b, err := io.ReadAll(io.LimitReader(hr.Body, maxResponseBody+1))
	if err != nil {
		return nil, true, fmt.Errorf("reading the response (status %d): %w", hr.StatusCode, err)
	}
	if len(b) > maxResponseBody {
		return nil, true, fmt.Errorf("response larger than %d bytes", maxResponseBody)
	}
	return &response{status: hr.StatusCode, header: hr.Header, body: b, cookies: hr.Cookies()}, true, nil
}

// describe turns a transport error into one line.
func (c *Client) describe(err error, elapsed time.Duration) string {
	if errors.Is(err, context.DeadlineExceeded) {
		return fmt.Sprintf("no answer within %s (request timeout)", c.cfg.Timeout)
	}
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	return oneLine(c.scrub(err.Error()), maxDescription)
}

// backoff is the wait before attempt+1: exponential from MinBackoff, capped at
// MaxBackoff, with "equal jitter" (half fixed, half random).
func (c *Client) backoff(attempt int) time.Duration {
	return jitteredBackoff(c.cfg.Retry.MinBackoff, c.cfg.Retry.MaxBackoff, attempt)
}

func jitteredBackoff(min, max time.Duration, attempt int) time.Duration {
	d := max
	if attempt < 40 {
		if e := min << (attempt - 1); e > 0 && e < max {
			d = e
		}
	}
	half := d / 2
	return half + time.Duration(mrand.Int64N(int64(d-half)+1))
}

// retryAfter parses a Retry-After header: delay seconds or an HTTP date.
func retryAfter(v string, now time.Time) (time.Duration, bool) {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0, false
	}
	if n, err := strconv.ParseInt(v, 10, 64); err == nil {
		if n < 0 {
			return 0, false
		}
		if n > math.MaxInt32 {
			n = math.MaxInt32
		}
		return time.Duration(n) * time.Second, true
	}
	t, err := http.ParseTime(v)
	if err != nil {
		return 0, false
	}
	d := t.Sub(now)
	if d < 0 {
		d = 0
	}
	return d, true
}

func correlationID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])[:25]
}

// signIn posts the credentials without any cookie and keeps the cookies the
// server sets.
func (c *Client) signIn(ctx context.Context) error {
	var payload any
	if c.cfg.ClientID != "" {
		payload = struct {
			ClientID     string `json:"client_id"`
			ClientSecret string `json:"client_secret"`
		}{c.cfg.ClientID, c.cfg.ClientSecret}
	} else {
		payload = struct {
			User     string `json:"user"`
			Password string `json:"password"`
		}{c.cfg.User, c.cfg.Password}
	}
	body, err := json.Marshal(payload)
	if err != nil {
		return fmt.Errorf("octane: sign in: %w", err)
	}
	u := c.base.String() + "/authentication/sign_in"
	resp, err := c.do(ctx, &request{
		method: http.MethodPost, url: u, body: body, contentType: "application/json",
		resendable: true, noSession: true, noCookies: true,
	})
	if err != nil {
		var e *Error
		if errors.As(err, &e) && (e.Status == http.StatusUnauthorized || e.Status == http.StatusForbidden) {
			who := "user " + strconv.Quote(c.cfg.User)
			if c.cfg.ClientID != "" {
				who = "API key " + strconv.Quote(c.cfg.ClientID)
			}
			e.Description = oneLine("sign-in rejected for "+who+": check the credentials. "+e.Description, maxDescription)
		}
		return err
	}
	su, _ := url.Parse(u)
	c.jar.reset()
	c.jar.SetCookies(su, resp.cookies)
	if len(resp.cookies) == 0 {
		c.log.Warn("octane: sign-in answered without a session cookie", "url", u)
	}
	c.log.Debug("octane: signed in", "url", u, "cookies", len(resp.cookies))
	return nil
}

// session tracks sign-in state. Sign-ins are single-flight: every goroutine that
// needs one waits for the same attempt.
type session struct {
	signIn func(context.Context) error
	ctx    context.Context // the client's life; a sign-in is not cut short by one caller's context

	mu       sync.Mutex
	gen      uint64 // number of successful sign-ins
	signedIn bool
	flight   *signInFlight
}

type signInFlight struct {
	done chan struct{}
	err  error
}

// ensure signs in if not signed in and returns the session generation.
func (s *session) ensure(ctx context.Context) (uint64, error) {
	s.mu.Lock()
	if s.signedIn {
		g := s.gen
		s.mu.Unlock()
		return g, nil
	}
	return s.joinLocked(ctx)
}

// renew signs in again after a 401 on a request sent with generation gen,
// unless another goroutine already did.
func (s *session) renew(ctx context.Context, gen uint64) (uint64, error) {
	s.mu.Lock()
	if s.signedIn && s.gen != gen {
		g := s.gen
		s.mu.Unlock()
		return g, nil
	}
	s.signedIn = false
	return s.joinLocked(ctx)
}

// joinLocked starts or joins the sign-in in flight. s.mu is held on entry and released.
func (s *session) joinLocked(ctx context.Context) (uint64, error) {
	f := s.flight
	if f == nil {
		f = &signInFlight{done: make(chan struct{})}
		s.flight = f
		go func() {
			err := s.signIn(s.ctx)
			s.mu.Lock()
			if err == nil {
				s.gen++
				s.signedIn = true
			}
			f.err = err
			s.flight = nil
			s.mu.Unlock()
			close(f.done)
		}()
	}
	s.mu.Unlock()
	select {
	case <-f.done:
	case <-ctx.Done():
		return 0, fmt.Errorf("octane: waiting for sign-in: %w", ctx.Err())
	}
	if f.err != nil {
		return 0, f.err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.gen, nil
}

// markSignedOut clears the state and reports whether a session existed.
func (s *session) markSignedOut() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	was := s.signedIn
	s.signedIn = false
	return was
}

// sessionJar is a cookie jar that can be emptied (before each sign-in) and
// that stores path-less cookies at "/", as the Octane SDK does for LWSSO.
type sessionJar struct {
	mu  sync.Mutex
	jar *cookiejar.Jar
}

func newSessionJar() *sessionJar {
	j := &sessionJar{}
	j.reset()
	return j
}

func (j *sessionJar) reset() {
	jar, _ := cookiejar.New(nil) // never fails without options
	j.mu.Lock()
	j.jar = jar
	j.mu.Unlock()
}

func (j *sessionJar) current() *cookiejar.Jar {
	j.mu.Lock()
	defer j.mu.Unlock()
	return j.jar
}

func (j *sessionJar) SetCookies(u *url.URL, cs []*http.Cookie) {
	for _, ck := range cs {
		if ck.Path == "" {
			ck.Path = "/"
		}
	}
	j.current().SetCookies(u, cs)
}

func (j *sessionJar) Cookies(u *url.URL) []*http.Cookie { return j.current().Cookies(u) }
