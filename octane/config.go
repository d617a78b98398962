// Package octane is the REST client for OpenText ALM Octane used by the importer:
// session handling, retries, rate limit, the typed calls (CI servers, pipelines,
// builds, test results, task status) and the deterministic test-results XML encoder.
//
// It knows nothing of files or mapping rules. The contract it follows is
// shared/octane-api.md (sections 2-8, 12).
package octane

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"
	"unicode"

	"golang.org/x/net/http/httpproxy"
)

// Defaults applied by New when a field is zero.
const (
	DefaultTimeout     = 120 * time.Second
	DefaultRateLimit   = 20.0 // requests per second, Octane's documented guidance
	DefaultConcurrency = 4
	DefaultPageSize    = 100
	DefaultMaxAttempts = 8
	DefaultMinBackoff  = time.Second
	DefaultMaxBackoff  = 60 * time.Second
	DefaultPollMin     = time.Second
	DefaultPollMax     = 15 * time.Second
	// DefaultMaxUnknown: with the default intervals (1, 2, 4, 8, then 15 s),
	// 40 polls are about 9.4 minutes of an unknown status.
	DefaultMaxUnknown = 40
	// DefaultMaxRetryAfter caps how long a server's Retry-After is honoured.
	DefaultMaxRetryAfter = 10 * time.Minute
	// DefaultClientType is the HPECLIENTTYPE the official CI clients send
	// (shared/octane-clients.md §5: SDK OctaneRestClientImpl.java:301, :421;
	// CLT RestClient.java:401-406; ADO OctaneConnectionUtils.ts:55).
	DefaultClientType = "HPE_CI_CLIENT"
	// ClientTypeNone as Config.ClientType sends no HPECLIENTTYPE header.
	ClientTypeNone = "none"
)

// Values of Config.BuildReporting.
const (
	// BuildReportingBuilds sends PUT …/workspaces/{wid}/analytics/ci/builds,
	// the public documented flow (shared/octane-api.md section 6).
	BuildReportingBuilds = "builds"
	// BuildReportingEvents sends CI events, PUT
	// /internal-api/shared_spaces/{sid}/analytics/ci/events, as every current
	// plugin does (shared/octane-api.md section 7).
	BuildReportingEvents = "events"
)

// Values of Config.Compression.
const (
	CompressionGzip = "gzip" // test-results sent gzip-compressed (default)
	CompressionNone = "none" // test-results sent uncompressed
)

// RetryPolicy says how temporary failures are retried.
type RetryPolicy struct {
	MaxAttempts   int           // total attempts per request, default 8; 1 = no retry
	MinBackoff    time.Duration // first back-off, default 1s
	MaxBackoff    time.Duration // cap of the exponential back-off, default 60s
	MaxRetryAfter time.Duration // cap on a server's Retry-After, default 10m
	// FirstContact caps the attempts of a request while the server has never answered
	// (connection refused, unknown host, timeout): a scan sets a few, so that a target
	// that is down when the run starts fails within seconds; 0 = MaxAttempts.
	FirstContact int
}

// PollPolicy says how WaitTask polls a test-results task.
type PollPolicy struct {
	Min time.Duration // first interval, default 1s
	Max time.Duration // cap, default 15s
	// MaxUnknown is how many answers with a status WaitTask does not know
	// (neither queued, running, success, warning nor failed) it polls through
	// before it gives up and reports the task as failed, in Octane's words.
	// Default DefaultMaxUnknown.
	MaxUnknown int
}

// Config configures a Client. Secrets are redacted by String, GoString and LogValue.
type Config struct {
	URL                    string // base URL, may carry a web context path
	SharedSpace, Workspace string // numeric ids as strings
	ClientID, ClientSecret string // API key; or:
	User, Password         string
	// ClientType is the HPECLIENTTYPE header, sent on every request, sign-in
	// included, as the Octane CI SDK, the collection tool and the Azure DevOps
	// extension do. "" = DefaultClientType (HPE_CI_CLIENT); ClientTypeNone
	// ("none", any case) = the header is not sent.
	ClientType string
	// BuildReporting is how PutBuild reports a build: BuildReportingBuilds
	// (the default when empty) or BuildReportingEvents.
	BuildReporting string
	// Compression is how test-results payloads travel: CompressionGzip (the
	// default when empty) or CompressionNone. See PostTestResults.
	Compression string
	// Proxy is the proxy for every request ("host:port" means http://);
	// empty = HTTPS_PROXY/HTTP_PROXY from the environment. NoProxy lists the
	// hosts reached directly (empty = NO_PROXY). localhost and loopback
	// addresses never go through a proxy. See proxyFunc.
	Proxy, NoProxy string
	CAFile         string // PEM bundle added to the system roots
	Insecure       bool   // skip TLS verification; logs a warning
	Timeout        time.Duration
	RateLimit      float64 // requests/s, default 20; negative = unlimited
	Concurrency    int     // in-flight requests, default 4
	PageSize       int     // limit= for entity reads, default 100
	Retry          RetryPolicy
	Poll           PollPolicy
	Logger         *slog.Logger
	Transport      http.RoundTripper // tests only; nil = built from the options above

	// getenv is used to read the proxy environment; nil = os.LookupEnv.
	getenv func(string) (string, bool)
	// dial, when set, is the transport's dialer (tests: a host name that
	// is not loopback, mapped to a local server, since a loopback address
	// never goes through a proxy).
	dial func(ctx context.Context, network, addr string) (net.Conn, error)
}

// Environment variables read by ApplyEnv.
const (
	EnvURL          = "OCTANE_URL"
	EnvSharedSpace  = "OCTANE_SHARED_SPACE"
	EnvWorkspace    = "OCTANE_WORKSPACE"
	EnvClientID     = "OCTANE_CLIENT_ID"
	EnvClientSecret = "OCTANE_CLIENT_SECRET"
	EnvUser         = "OCTANE_USER"
	EnvPassword     = "OCTANE_PASSWORD"
)

// ApplyEnv fills every field that is still empty in c from the environment
// (OCTANE_URL, OCTANE_SHARED_SPACE, OCTANE_WORKSPACE, OCTANE_CLIENT_ID,
// OCTANE_CLIENT_SECRET, OCTANE_USER, OCTANE_PASSWORD). lookup is usually os.LookupEnv.
// Credentials are taken as a pair: an API key from the environment is not mixed
// with a user set in c, and the other way round.
func (c *Config) ApplyEnv(lookup func(string) (string, bool)) {
	if lookup == nil {
		lookup = os.LookupEnv
	}
	get := func(k string) string {
		v, _ := lookup(k)
		return strings.TrimSpace(v)
	}
	fill := func(dst *string, k string) {
		if *dst == "" {
			*dst = get(k)
		}
	}
	fill(&c.URL, EnvURL)
	fill(&c.SharedSpace, EnvSharedSpace)
	fill(&c.Workspace, EnvWorkspace)
	hasKey := c.ClientID != "" || c.ClientSecret != ""
	hasUser := c.User != "" || c.Password != ""
	if !hasUser {
		fill(&c.ClientID, EnvClientID)
		fill(&c.ClientSecret, EnvClientSecret)
	}
	if !hasKey && c.ClientID == "" {
		fill(&c.User, EnvUser)
		fill(&c.Password, EnvPassword)
	}
}

// String describes c without its secrets.
func (c Config) String() string {
	return fmt.Sprintf("octane.Config{URL:%q SharedSpace:%q Workspace:%q ClientID:%q ClientSecret:%q User:%q Password:%q Proxy:%q NoProxy:%q CAFile:%q Insecure:%t Timeout:%s RateLimit:%g Concurrency:%d}",
		RedactURL(c.URL), c.SharedSpace, c.Workspace, c.ClientID, redact(c.ClientSecret), c.User, redact(c.Password),
		RedactURL(c.Proxy), c.NoProxy, c.CAFile, c.Insecure, c.Timeout, c.RateLimit, c.Concurrency)
}

// GoString is String, so that %#v does not print secrets either.
func (c Config) GoString() string { return c.String() }

// LogValue is the slog form of c, without secrets.
func (c Config) LogValue() slog.Value {
	return slog.GroupValue(
		slog.String("url", RedactURL(c.URL)),
		slog.String("shared_space", c.SharedSpace),
		slog.String("workspace", c.Workspace),
		slog.String("client_id", c.ClientID),
		slog.String("client_secret", redact(c.ClientSecret)),
		slog.String("user", c.User),
		slog.String("password", redact(c.Password)),
		slog.String("proxy", RedactURL(c.Proxy)),
		slog.String("no_proxy", c.NoProxy),
		slog.String("ca_file", c.CAFile),
		slog.Bool("insecure", c.Insecure),
		slog.Duration("timeout", c.Timeout),
		slog.String("client_type", c.ClientType),
		slog.String("compression", c.Compression),
		slog.String("build_reporting", c.BuildReporting),
	)
}

// withDefaults returns c with every zero field set to its default.
func (c Config) withDefaults() Config {
	c.BuildReporting = strings.ToLower(strings.TrimSpace(c.BuildReporting))
	if c.BuildReporting == "" {
		c.BuildReporting = BuildReportingBuilds
	}
	c.Compression = strings.ToLower(strings.TrimSpace(c.Compression))
	if c.Compression == "" {
		c.Compression = CompressionGzip
	}
	switch {
	case c.ClientType == "":
		c.ClientType = DefaultClientType
	case strings.EqualFold(strings.TrimSpace(c.ClientType), ClientTypeNone):
		c.ClientType = ""
	}
	if c.Timeout <= 0 {
		c.Timeout = DefaultTimeout
	}
	if c.RateLimit == 0 {
		c.RateLimit = DefaultRateLimit
	}
	if c.Concurrency <= 0 {
		c.Concurrency = DefaultConcurrency
	}
	if c.PageSize <= 0 {
		c.PageSize = DefaultPageSize
	}
	if c.Retry.MaxAttempts <= 0 {
		c.Retry.MaxAttempts = DefaultMaxAttempts
	}
	if c.Retry.MinBackoff <= 0 {
		c.Retry.MinBackoff = DefaultMinBackoff
	}
	if c.Retry.MaxBackoff <= 0 {
		c.Retry.MaxBackoff = DefaultMaxBackoff
	}
	if c.Retry.MaxBackoff < c.Retry.MinBackoff {
		c.Retry.MaxBackoff = c.Retry.MinBackoff
	}
	if c.Retry.MaxRetryAfter <= 0 {
		c.Retry.MaxRetryAfter = DefaultMaxRetryAfter
	}
	if c.Poll.Min <= 0 {
		c.Poll.Min = DefaultPollMin
	}
	if c.Poll.Max <= 0 {
		c.Poll.Max = DefaultPollMax
	}
	if c.Poll.MaxUnknown <= 0 {
		c.Poll.MaxUnknown = DefaultMaxUnknown
	}
	if c.Poll.Max < c.Poll.Min {
		c.Poll.Max = c.Poll.Min
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.getenv == nil {
		c.getenv = os.LookupEnv
	}
	return c
}

// validate checks c (after withDefaults) and returns the parsed base URL.
func (c Config) validate() (*url.URL, error) {
	var errs []error
	if c.URL == "" {
		errs = append(errs, errors.New("no Octane URL (flag, config file or OCTANE_URL)"))
	}
	u, err := url.Parse(strings.TrimSpace(c.URL))
	if c.URL != "" {
		switch {
		case err != nil:
			errs = append(errs, fmt.Errorf("the Octane URL %q: %w", RedactURL(c.URL), errors.Unwrap(err)))
		case u.Scheme != "http" && u.Scheme != "https":
			errs = append(errs, fmt.Errorf("the Octane URL %q: scheme must be http or https", RedactURL(c.URL)))
		case u.Host == "":
			errs = append(errs, fmt.Errorf("the Octane URL %q: no host", RedactURL(c.URL)))
		case u.User != nil:
			errs = append(errs, fmt.Errorf("the Octane URL %q: put credentials in client_id/client_secret or user/password, not in the URL", RedactURL(c.URL)))
		case u.RawQuery != "" || u.Fragment != "":
			errs = append(errs, fmt.Errorf("the Octane URL %q: must not carry a query or fragment", RedactURL(c.URL)))
		}
	}
	for _, f := range []struct{ name, v string }{{"shared space", c.SharedSpace}, {"workspace", c.Workspace}} {
		if f.v == "" {
			errs = append(errs, fmt.Errorf("no %s id", f.name))
		} else if n, err := strconv.ParseUint(f.v, 10, 63); err != nil || n == 0 {
			errs = append(errs, fmt.Errorf("%s id %q is not a positive number", f.name, f.v))
		}
	}
	switch c.BuildReporting {
	case BuildReportingBuilds, BuildReportingEvents:
	default:
		errs = append(errs, fmt.Errorf("build reporting %q: must be %s or %s", c.BuildReporting, BuildReportingBuilds, BuildReportingEvents))
	}
	switch c.Compression {
	case CompressionGzip, CompressionNone:
	default:
		errs = append(errs, fmt.Errorf("compression %q: must be %s or %s", c.Compression, CompressionGzip, CompressionNone))
	}
	key := c.ClientID != "" || c.ClientSecret != ""
	user := c.User != "" || c.Password != ""
	switch {
	case key && user:
		errs = append(errs, errors.New("both an API key (client_id) and a user are set: choose one"))
	case key && (c.ClientID == "" || c.ClientSecret == ""):
		errs = append(errs, errors.New("API key incomplete: need both client_id and client_secret"))
	case user && (c.User == "" || c.Password == ""):
		errs = append(errs, errors.New("user credentials incomplete: need both user and password"))
	case !key && !user:
		errs = append(errs, errors.New("no credentials: set client_id/client_secret (or OCTANE_CLIENT_ID/OCTANE_CLIENT_SECRET) or user/password"))
	}
	if c.Proxy != "" {
		if _, err := parseProxyURL(c.Proxy); err != nil {
			errs = append(errs, err)
		}
	}
	if len(errs) > 0 {
		return nil, fmt.Errorf("octane config: %w", errors.Join(errs...))
	}
	u.Path = strings.TrimRight(u.Path, "/")
	u.RawPath = ""
	return u, nil
}

func parseProxyURL(s string) (*url.URL, error) {
	if !strings.Contains(s, "://") {
		s = "http://" + s
	}
	u, err := url.Parse(s)
	if err != nil || u.Host == "" {
		return nil, fmt.Errorf("proxy %q is not a URL", RedactURL(s))
	}
	switch u.Scheme {
	case "http", "https", "socks5", "socks5h":
	default:
		return nil, fmt.Errorf("proxy %q: unsupported scheme %q", RedactURL(s), u.Scheme)
	}
	return u, nil
}

// buildTransport makes the http.RoundTripper from the network options.
func (c Config) buildTransport() (http.RoundTripper, error) {
	if c.Transport != nil {
		return c.Transport, nil
	}
	t := http.DefaultTransport.(*http.Transport).Clone()
	pf, err := c.proxyFunc()
	if err != nil {
		return nil, err
	}
	t.Proxy = pf
	if c.dial != nil {
		t.DialContext = c.dial
	}
	t.MaxIdleConnsPerHost = c.Concurrency + 1
	t.ResponseHeaderTimeout = c.Timeout
	tlsConf := &tls.Config{MinVersion: tls.VersionTLS12}
	if c.CAFile != "" {
		pem, err := os.ReadFile(c.CAFile)
		if err != nil {
			return nil, fmt.Errorf("octane config: CA bundle: %w", err)
		}
		pool, err := x509.SystemCertPool()
		if err != nil || pool == nil {
			pool = x509.NewCertPool()
		}
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("octane config: CA bundle %s: no PEM certificate in it", c.CAFile)
		}
		tlsConf.RootCAs = pool
	}
	if c.Insecure {
		tlsConf.InsecureSkipVerify = true // #nosec: explicit user switch, warned about in New
	}
	t.TLSClientConfig = tlsConf
	return t, nil
}

// proxyFunc returns the proxy selector, nil when no proxy is set: Proxy for
// https and http alike, or else the environment's HTTPS_PROXY and HTTP_PROXY
// (either case; the lower-case one wins, as in Go). NoProxy, or NO_PROXY (either
// case) when NoProxy is empty, lists the hosts reached directly, as
// golang.org/x/net/http/httpproxy reads it (entries may be separated by spaces
// too). httpproxy never proxies localhost nor a loopback address, even with
// Proxy set.
func (c Config) proxyFunc() (func(*http.Request) (*url.URL, error), error) {
	env := func(name string) string {
		for _, n := range []string{strings.ToLower(name), name} {
			if v, ok := c.getenv(n); ok && v != "" {
				return v
			}
		}
		return ""
	}
	pc := httpproxy.Config{NoProxy: c.NoProxy}
	if pc.NoProxy == "" {
		pc.NoProxy = env("NO_PROXY")
	}
	pc.NoProxy = strings.Join(strings.FieldsFunc(pc.NoProxy, func(r rune) bool { return r == ',' || unicode.IsSpace(r) }), ",")
	if c.Proxy != "" {
		u, err := parseProxyURL(c.Proxy)
		if err != nil {
			return nil, fmt.Errorf("octane config: %w", err)
		}
		pc.HTTPSProxy, pc.HTTPProxy = u.String(), u.String()
	} else {
		for _, v := range []struct {
			name string
			dst  *string
		}{{"HTTPS_PROXY", &pc.HTTPSProxy}, {"HTTP_PROXY", &pc.HTTPProxy}} {
			raw := env(v.name)
			if raw == "" {
				continue
			}
			u, err := parseProxyURL(raw)
			if err != nil {
				return nil, fmt.Errorf("octane config: %s: %w", v.name, err)
			}
			*v.dst = u.String()
		}
	}
	if pc.HTTPSProxy == "" && pc.HTTPProxy == "" {
		return nil, nil
	}
	proxyForURL := pc.ProxyFunc()
	return func(r *http.Request) (*url.URL, error) { return proxyForURL(r.URL) }, nil
}
