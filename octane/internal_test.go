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

func TestNoProxy(t *testing.T) {
	l := parseNoProxy("localhost, .internal.example, example.org:8443 10.0.0.0/8,192.168.1.5,*.corp")
	tests := []struct {
		host, port string
		want       bool
	}{
		{"localhost", "80", true},
		{"a.internal.example", "443", true},
		{"internal.example", "443", false}, // leading dot: subdomains only
		{"example.org", "8443", true},
		{"example.org", "443", false},
		{"www.example.org", "8443", true},
		{"10.2.3.4", "443", true},
		{"192.168.1.5", "443", true},
		{"192.168.1.6", "443", false},
		{"x.corp", "443", true},
		{"octane.saas.com", "443", false},
	}
	for _, tc := range tests {
		if got := l.match(tc.host, tc.port); got != tc.want {
			t.Errorf("match(%s:%s) = %v", tc.host, tc.port, got)
		}
	}
	if !parseNoProxy("*").match("anything", "1") {
		t.Error("* must match everything")
	}
}

func TestProxyFromEnv(t *testing.T) {
	env := map[string]string{"https_proxy": "http://proxy.corp:3128", "NO_PROXY": ".direct.corp"}
	cfg := Config{getenv: func(k string) (string, bool) { v, ok := env[k]; return v, ok }}
	pf, err := cfg.proxyFunc()
	if err != nil || pf == nil {
		t.Fatalf("proxyFunc: %v", err)
	}
	for _, tc := range []struct{ url, want string }{
		{"https://octane.saas.com/api", "http://proxy.corp:3128"},
		{"https://a.direct.corp/api", ""},
		{"https://127.0.0.1:8443/api", ""},
		{"http://octane.saas.com/api", ""}, // no HTTP_PROXY set
	} {
		req, _ := http.NewRequest(http.MethodGet, tc.url, nil)
		u, err := pf(req)
		got := ""
		if u != nil {
			got = u.String()
		}
		if err != nil || got != tc.want {
			t.Errorf("proxy for %s = %q, %v; want %q", tc.url, got, err, tc.want)
		}
	}
	// The config's NoProxy replaces the environment's.
	cfg.NoProxy = "octane.saas.com"
	pf, _ = cfg.proxyFunc()
	req, _ := http.NewRequest(http.MethodGet, "https://octane.saas.com/x", nil)
	if u, _ := pf(req); u != nil {
		t.Errorf("NoProxy from config ignored: %v", u)
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
