package octane

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/octane-import/octane-import/internal/testkit"
)

func TestRetryAfterParse(t *testing.T) {
	now := time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		in   string
		want time.Duration
		ok   bool
	}{
		{"", 0, false},
		{"0", 0, true},
		{"7", 7 * time.Second, true},
		{" 120 ", 120 * time.Second, true},
		{"-3", 0, false},
		{"soon", 0, false},
		{now.Add(90 * time.Second).Format(http.TimeFormat), 90 * time.Second, true},
		{now.Add(-time.Hour).Format(http.TimeFormat), 0, true},
		{"Wednesday, 26-Nov-26 12:00:30 GMT", 30 * time.Second, true}, // RFC 850
	}
	for _, tc := range tests {
		got, ok := retryAfter(tc.in, now)
		if got != tc.want || ok != tc.ok {
			t.Errorf("retryAfter(%q) = %s, %v; want %s, %v", tc.in, got, ok, tc.want, tc.ok)
		}
	}
}

func TestBackoffBounds(t *testing.T) {
	min, max := 100*time.Millisecond, 2*time.Second
	for attempt := 1; attempt <= 64; attempt++ {
		exp := max
		if attempt < 6 {
			exp = min << (attempt - 1)
		}
		for range 50 {
			d := jitteredBackoff(min, max, attempt)
			if d < exp/2 || d > exp {
				t.Fatalf("attempt %d: %s outside [%s, %s]", attempt, d, exp/2, exp)
			}
		}
	}
}

// TestProxyFunc: which proxy a request goes through, from the configuration
// or the environment (golang.org/x/net/http/httpproxy's rules).
func TestProxyFunc(t *testing.T) {
	const proxy = "http://proxy.corp:3128"
	noProxy := "localhost, .internal.example, example.org:8443 10.0.0.0/8,192.168.1.5,*.corp"
	tests := []struct {
		name           string
		proxy, noProxy string
		env            map[string]string
		url, want      string
	}{
		{"configured, https", proxy, "", nil, "https://octane.saas.com/api", proxy},
		{"configured, http", proxy, "", nil, "http://octane.saas.com/api", proxy},
		{"configured without a scheme", "proxy.corp:3128", "", nil, "https://octane.saas.com/api", proxy},
		{"configured socks5", "socks5://proxy.corp:1080", "", nil, "https://octane.saas.com/api", "socks5://proxy.corp:1080"},
		{"configured wins over the environment", proxy, "", map[string]string{"HTTPS_PROXY": "http://other:1"}, "https://octane.saas.com/api", proxy},
		// A loopback address never goes through a proxy, a configured one included.
		{"loopback v4", proxy, "", nil, "https://127.0.0.1:8443/api", ""},
		{"loopback v4 range", proxy, "", nil, "http://127.1.2.3/api", ""},
		{"loopback v6", proxy, "", nil, "https://[::1]:8443/api", ""},
		{"localhost", proxy, "", nil, "http://localhost:8080/api", ""},
		// no_proxy: hosts (and their subdomains), .domains (subdomains only),
		// host:port, IPs, CIDRs, *.domains, "*"; commas or spaces between.
		{"no_proxy host", proxy, noProxy, nil, "http://localhost/", ""},
		{"no_proxy .domain, subdomain", proxy, noProxy, nil, "https://a.internal.example/", ""},
		{"no_proxy .domain, the domain itself", proxy, noProxy, nil, "https://internal.example/", proxy},
		{"no_proxy host:port", proxy, noProxy, nil, "https://example.org:8443/", ""},
		{"no_proxy host:port, other port", proxy, noProxy, nil, "https://example.org/", proxy},
		{"no_proxy host:port, subdomain", proxy, noProxy, nil, "https://www.example.org:8443/", ""},
		{"no_proxy CIDR after a space", proxy, noProxy, nil, "https://10.2.3.4/", ""},
		{"no_proxy IP", proxy, noProxy, nil, "https://192.168.1.5/", ""},
		{"no_proxy IP, another", proxy, noProxy, nil, "https://192.168.1.6/", proxy},
		{"no_proxy *.domain", proxy, noProxy, nil, "https://x.corp/", ""},
		{"no_proxy, not listed", proxy, noProxy, nil, "https://octane.saas.com/", proxy},
		{"no_proxy *", proxy, "*", nil, "https://anything/", ""},
		// The environment, either case; the lower-case name wins.
		{"env https_proxy", "", "", map[string]string{"https_proxy": proxy}, "https://octane.saas.com/api", proxy},
		{"env HTTPS_PROXY, no HTTP_PROXY", "", "", map[string]string{"HTTPS_PROXY": proxy}, "http://octane.saas.com/api", ""},
		{"env HTTP_PROXY", "", "", map[string]string{"HTTP_PROXY": "proxy.corp:3128"}, "http://octane.saas.com/api", proxy},
		{"env both cases", "", "", map[string]string{"HTTPS_PROXY": "http://upper:1", "https_proxy": proxy}, "https://octane.saas.com/api", proxy},
		{"env NO_PROXY", "", "", map[string]string{"https_proxy": proxy, "NO_PROXY": ".direct.corp"}, "https://a.direct.corp/api", ""},
		{"env no_proxy with a configured proxy", proxy, "", map[string]string{"no_proxy": "octane.saas.com"}, "https://octane.saas.com/api", ""},
		{"configured no_proxy replaces the env's", "", "other.corp", map[string]string{"https_proxy": proxy, "NO_PROXY": "octane.saas.com"}, "https://octane.saas.com/api", proxy},
		{"env loopback", "", "", map[string]string{"https_proxy": proxy}, "https://127.0.0.1:8443/api", ""},
		{"nothing set", "", "octane.saas.com", nil, "https://octane.saas.com/api", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg := Config{Proxy: tc.proxy, NoProxy: tc.noProxy, getenv: testkit.LookupEnv(tc.env)}
			pf, err := cfg.proxyFunc()
			if err != nil {
				t.Fatalf("proxyFunc: %v", err)
			}
			got := ""
			if pf != nil {
				req, _ := http.NewRequest(http.MethodGet, tc.url, nil)
				u, err := pf(req)
				if err != nil {
					t.Fatalf("proxy for %s: %v", tc.url, err)
				}
				if u != nil {
					got = u.String()
				}
			}
			if got != tc.want {
				t.Errorf("proxy for %s = %q, want %q", tc.url, got, tc.want)
			}
		})
	}
}

// TestProxyErrors: a proxy that is not a URL is an error naming it, without
// its password, and naming the variable it came from.
func TestProxyErrors(t *testing.T) {
	tests := []struct {
		proxy string
		env   map[string]string
		want  string
	}{
		{"ftp://u:pw-Secret-1@proxy:1", nil, `proxy "ftp://u:[redacted]@proxy:1": unsupported scheme "ftp"`},
		{"http://u:pw-Secret-1@[::1", nil, `proxy "http://u:[redacted]@[::1" is not a URL`},
		{"u:pw-Secret-1@proxy:x", nil, `proxy "http://u:[redacted]@proxy:x" is not a URL`},
		{"", map[string]string{"HTTPS_PROXY": "gopher://u:pw-Secret-1@proxy:70"}, `HTTPS_PROXY: proxy "gopher://u:[redacted]@proxy:70": unsupported scheme "gopher"`},
		{"", map[string]string{"http_proxy": "http://u:pw-Secret-1@"}, `HTTP_PROXY: proxy "http://u:[redacted]@" is not a URL`},
	}
	for _, tc := range tests {
		cfg := Config{Proxy: tc.proxy, getenv: testkit.LookupEnv(tc.env)}
		_, err := cfg.proxyFunc()
		if err == nil || !strings.Contains(err.Error(), tc.want) || strings.Contains(err.Error(), "pw-Secret-1") {
			t.Errorf("proxy %q, env %v: err = %v, want it to say %s", tc.proxy, tc.env, err, tc.want)
		}
	}
}

func TestTruncateRunes(t *testing.T) {
	name := strings.Repeat("é", 200) + strings.Repeat("日", 100) // 300 characters, 700 bytes
	got, cut := truncateRunes(name, 255)
	if !cut || utf8.RuneCountInString(got) != 255 || !utf8.ValidString(got) || got != strings.Repeat("é", 200)+strings.Repeat("日", 55) {
		t.Fatalf("cut=%v, %d runes, valid=%v", cut, utf8.RuneCountInString(got), utf8.ValidString(got))
	}
	if got, cut := truncateRunes("short", 255); cut || got != "short" {
		t.Fatal("short string changed")
	}
	if got, cut := truncateRunes(strings.Repeat("a", 255), 255); cut || len(got) != 255 {
		t.Fatal("exactly 255 changed")
	}
}

func TestShortenID(t *testing.T) {
	a := strings.Repeat("job/", 100) + "a"
	b := strings.Repeat("job/", 100) + "b"
	sa, cut := shortenID(a, 255)
	sb, _ := shortenID(b, 255)
	if !cut || utf8.RuneCountInString(sa) != 255 || sa == sb {
		t.Fatalf("shortened ids %q / %q", sa, sb)
	}
	if again, _ := shortenID(a, 255); again != sa {
		t.Fatal("not deterministic")
	}
	if s, cut := shortenID("plain", 255); cut || s != "plain" {
		t.Fatal("short id changed")
	}
	if FitID(a) != sa {
		t.Fatal("FitID differs from what the client sends")
	}
}

func TestCleanXML(t *testing.T) {
	in := "ok\x00\x1b[31mred\x1b[0m\tline\n\xff\xfeend\uFFFE"
	got, rep, drop := cleanXML(in)
	if got != "ok[31mred[0m\tline\n\uFFFD\uFFFDend" || rep != 2 || drop != 4 {
		t.Fatalf("cleanXML = %q, %d replaced, %d dropped", got, rep, drop)
	}
}

func TestHTMLSummary(t *testing.T) {
	e := newHTTPError("GET", "https://o/x", 503, "", []byte("\n\n<html><body>\n<h1>Service\n Temporarily   Unavailable</h1>"+strings.Repeat("<p>junk</p>", 1000)+"</body></html>"))
	if !e.Temporary || e.Description != "HTML page: Service Temporarily Unavailable" {
		t.Fatalf("%#v", e)
	}
	e = newHTTPError("GET", "https://o/x", 500, "text/html", []byte("<html><body>"+strings.Repeat("word ", 500)+"</body></html>"))
	if e.Temporary || utf8.RuneCountInString(e.Description) > 140 || strings.ContainsAny(e.Description, "<\n") {
		t.Fatalf("%#v", e)
	}
}

func TestIsTemporary(t *testing.T) {
	tests := []struct {
		err  error
		want bool
	}{
		{nil, false},
		{&Error{Status: 503, Temporary: true}, true},
		{&Error{Status: 400}, false},
		{fmt.Errorf("wrapped: %w", &Error{Status: 429, Temporary: true}), true},
		{context.Canceled, false},
		{fmt.Errorf("x: %w", context.DeadlineExceeded), true},
		{errors.New("plain"), false},
	}
	for _, tc := range tests {
		if got := IsTemporary(tc.err); got != tc.want {
			t.Errorf("IsTemporary(%v) = %v", tc.err, got)
		}
	}
}

// A refusal of the whole target (issue 14 item 7) is told from a refusal of one request.
func TestTargetRefused(t *testing.T) {
	tests := []struct {
		status int
		url    string
		signIn bool
		want   bool
	}{
		{401, "https://o/authentication/sign_in", true, true},                                 // sign-in rejected
		{403, "https://o/authentication/sign_in", true, true},                                 // the key may not sign in
		{401, "https://o/api/shared_spaces/1/workspaces/2/ci_servers", false, false},          // a session refused: sign in again
		{403, "https://o/api/shared_spaces/1/workspaces/2/pipelines", false, true},            // no rights
		{404, "https://o/api/shared_spaces/1/workspaces/9/ci_servers", false, true},           // no such workspace
		{404, "https://o/api/shared_spaces/1/workspaces/2/analytics/ci/builds", false, false}, // an unknown job in the build
		{404, "https://o/api/shared_spaces/1/workspaces/2/test-results/77", false, false},     // an unknown task
		{404, "https://o/api/shared_spaces/1/workspaces/2/releases/5", false, false},
		{400, "https://o/api/shared_spaces/1/workspaces/2/ci_servers", false, false},
		{500, "https://o/api/shared_spaces/1/workspaces/2/ci_servers", false, false},
	}
	for _, tc := range tests {
		if got := targetRefused(tc.status, tc.url, tc.signIn); got != tc.want {
			t.Errorf("%d %s (sign-in %v) = %v", tc.status, tc.url, tc.signIn, got)
		}
	}
}

func TestFirstPoll(t *testing.T) {
	for _, tc := range []struct {
		size int
		min  time.Duration
		want time.Duration
	}{
		{0, time.Second, 100 * time.Millisecond},
		{4 << 10, time.Second, 100 * time.Millisecond},           // a post-build step's payload
		{64 << 10, time.Second, 250 * time.Millisecond},          // a quarter of the way
		{128 << 10, time.Second, 500 * time.Millisecond},         // half
		{256 << 10, time.Second, time.Second},                    // full: Poll.Min
		{8 << 20, time.Second, time.Second},                      // never more than Poll.Min
		{64 << 10, 50 * time.Millisecond, 50 * time.Millisecond}, // never more than a short Poll.Min
	} {
		if got := firstPoll(tc.size, tc.min); got != tc.want {
			t.Errorf("firstPoll(%d, %v) = %v, want %v", tc.size, tc.min, got, tc.want)
		}
	}
}
