package sandbox

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"
)

func TestSignInAcceptsBothShapes(t *testing.T) {
	opts := Options{Credentials: []Credential{{ID: "key-id", Secret: "key-secret"}}}
	for _, body := range []string{
		`{"client_id":"key-id","client_secret":"key-secret"}`,
		`{"user":"key-id","password":"key-secret"}`,
	} {
		c := newClient(t, opts)
		res, b := c.do("POST", "/authentication/sign_in", []byte(body), "application/json", nil)
		if res.StatusCode != 200 {
			t.Fatalf("%s: sign_in = %d %s", body, res.StatusCode, b)
		}
		var lw, user *http.Cookie
		for _, ck := range res.Cookies() {
			switch ck.Name {
			case "LWSSO_COOKIE_KEY":
				lw = ck
			case "OCTANE_USER":
				user = ck
			}
		}
		if lw == nil || lw.Value == "" || lw.Path != "/" || !lw.HttpOnly {
			t.Fatalf("%s: LWSSO cookie = %+v", body, lw)
		}
		if user == nil || user.Value != "key-id" {
			t.Errorf("%s: OCTANE_USER = %+v", body, user)
		}
		c.mustCall(200, "GET", c.ws("/ci_servers"), nil)
	}
}

func TestSignInRefusals(t *testing.T) {
	c := newClient(t, Options{})
	cases := []struct {
		name, body, ct string
		want           int
	}{
		{"wrong secret", `{"client_id":"sandbox-client","client_secret":"nope"}`, "application/json", 401},
		{"unknown user", `{"user":"x","password":"sandbox-secret"}`, "application/json", 401},
		{"mixed shapes", `{"client_id":"sandbox-client","password":"sandbox-secret"}`, "application/json", 400},
		{"extra key", `{"user":"sandbox-client","password":"sandbox-secret","x":1}`, "application/json", 400},
		{"not JSON", `user=a`, "application/json", 400},
		{"form content type", `{"user":"sandbox-client","password":"sandbox-secret"}`, "application/x-www-form-urlencoded", 415},
		{"number secret", `{"user":"sandbox-client","password":5}`, "application/json", 401},
	}
	for _, tc := range cases {
		res, b := c.do("POST", "/authentication/sign_in", []byte(tc.body), tc.ct, nil)
		if res.StatusCode != tc.want {
			t.Errorf("%s: sign_in = %d, want %d (%s)", tc.name, res.StatusCode, tc.want, b)
		}
		if res.StatusCode != 200 && !strings.Contains(string(b), `"error_code"`) {
			t.Errorf("%s: error body without error_code: %s", tc.name, b)
		}
	}
	if n := c.s.SessionCount(); n != 0 {
		t.Errorf("sessions after failed sign-ins = %d", n)
	}
}

func TestMissingCookieIs401(t *testing.T) {
	c := newClient(t, Options{})
	for _, p := range []string{c.ws("/ci_servers"), c.ws("/test-results/1"), "/internal-api/shared_spaces/1001/analytics/ci/servers/connectivity/status"} {
		code, out := c.call("GET", p, nil)
		if code != 401 || errorCode(out) != "platform.not_authenticated" || out["correlation_id"] == "" {
			t.Errorf("GET %s without cookie = %d %v", p, code, out)
		}
	}
	// A forged cookie is no better.
	u, _ := url.Parse(c.base)
	c.http.Jar.SetCookies(u, []*http.Cookie{{Name: "LWSSO_COOKIE_KEY", Value: "forged"}})
	if code, _ := c.call("GET", c.ws("/ci_servers"), nil); code != 401 {
		t.Errorf("forged cookie = %d, want 401", code)
	}
	// Nothing was created by the refused requests.
	code, _ := c.call("POST", c.ws("/ci_servers"), `{"data":[{"name":"x"}]}`)
	if code != 401 || len(c.s.Servers()) != 0 {
		t.Errorf("POST without session = %d, servers %v", code, c.s.Servers())
	}
}

func TestSignInWithCookieStillAttachedAndSignOut(t *testing.T) {
	c := signedIn(t, Options{})
	c.signIn(`{"user":"sandbox-client","password":"sandbox-secret"}`) // cookie still attached: accepted
	c.mustCall(200, "GET", c.ws("/ci_servers"), nil)
	res, _ := c.do("POST", "/authentication/sign_out", nil, "", nil)
	if res.StatusCode != 200 {
		t.Fatalf("sign_out = %d", res.StatusCode)
	}
	expired := false
	for _, ck := range res.Cookies() {
		if ck.Name == "LWSSO_COOKIE_KEY" && ck.MaxAge < 0 {
			expired = true
		}
	}
	if !expired {
		t.Errorf("sign_out did not expire the cookie: %v", res.Header["Set-Cookie"])
	}
	if code, _ := c.call("GET", c.ws("/ci_servers"), nil); code != 401 {
		t.Errorf("after sign_out = %d, want 401", code)
	}
}

func TestExpireSessionsAfter(t *testing.T) {
	c := signedIn(t, Options{})
	c.s.ExpireSessionsAfter(2)
	c.mustCall(200, "GET", c.ws("/ci_servers"), nil)
	c.mustCall(200, "GET", c.ws("/pipelines"), nil)
	code, out := c.call("GET", c.ws("/ci_jobs"), nil)
	if code != 401 || out["errorCode"] != "VALIDATION_TOKEN_EXPIRED_IDLE_TIME_OUT" {
		t.Fatalf("third request = %d %v, want 401 VALIDATION_TOKEN_EXPIRED_IDLE_TIME_OUT", code, out)
	}
	if code, _ := c.call("GET", c.ws("/ci_jobs"), nil); code != 401 {
		t.Errorf("expired session came back: %d", code)
	}
	c.signIn(`{"client_id":"sandbox-client","client_secret":"sandbox-secret"}`)
	c.mustCall(200, "GET", c.ws("/ci_jobs"), nil)
}

func TestSessionIdleAndGlobalTimeout(t *testing.T) {
	c := signedIn(t, Options{SessionIdle: 30 * time.Millisecond})
	c.mustCall(200, "GET", c.ws("/ci_servers"), nil)
	time.Sleep(60 * time.Millisecond)
	if code, out := c.call("GET", c.ws("/ci_servers"), nil); code != 401 || out["errorCode"] != expiredIdle {
		t.Errorf("idle session = %d %v", code, out)
	}
	g := signedIn(t, Options{SessionMax: 30 * time.Millisecond})
	time.Sleep(60 * time.Millisecond)
	if code, out := g.call("GET", g.ws("/ci_servers"), nil); code != 401 || out["errorCode"] != expiredGlobal {
		t.Errorf("old session = %d %v", code, out)
	}
}

func TestRotateCookie(t *testing.T) {
	c := signedIn(t, Options{RotateCookie: true})
	res, _ := c.do("GET", c.ws("/ci_servers"), nil, "", nil)
	rotated := ""
	for _, ck := range res.Cookies() {
		if ck.Name == "LWSSO_COOKIE_KEY" {
			rotated = ck.Value
		}
	}
	if rotated == "" {
		t.Fatal("no new LWSSO value on an authenticated response")
	}
	c.mustCall(200, "GET", c.ws("/ci_servers"), nil) // the jar now sends the new value
	if n := c.s.SessionCount(); n != 1 {
		t.Errorf("sessions = %d, want 1 (rotation keeps the session)", n)
	}
}

func TestAcceptAndContentTypeChecks(t *testing.T) {
	c := signedIn(t, Options{})
	cases := []struct {
		name, method, path, ct, accept, enc string
		body                                string
		want                                int
	}{
		{"accept html", "GET", c.ws("/ci_servers"), "", "text/html", "", "", 406},
		{"accept xml", "GET", c.ws("/ci_servers"), "", "application/xml", "", "", 406},
		{"accept any", "GET", c.ws("/ci_servers"), "", "*/*", "", "", 200},
		{"json as text/plain", "POST", c.ws("/ci_servers"), "text/plain", "", "", `{"data":[{"name":"a"}]}`, 415},
		{"json without content type", "POST", c.ws("/ci_servers"), "", "", "", `{"data":[{"name":"a"}]}`, 415},
		{"json latin1", "POST", c.ws("/ci_servers"), "application/json; charset=ISO-8859-1", "", "", `{"data":[{"name":"a"}]}`, 415},
		{"xml as json", "POST", c.ws("/test-results"), "application/json", "", "", payload("", run("a", "Passed")), 415},
		{"xml as text/xml", "POST", c.ws("/test-results"), "text/xml", "", "", payload("", run("a", "Passed")), 415},
		{"builds as xml", "PUT", c.ws("/analytics/ci/builds"), "application/xml", "", "", `{}`, 415},
		{"brotli", "POST", c.ws("/ci_servers"), "application/json", "", "br", `{"data":[{"name":"a"}]}`, 415},
		{"gzip header, plain body", "POST", c.ws("/ci_servers"), "application/json", "", "gzip", `{"data":[{"name":"a"}]}`, 400},
	}
	for _, tc := range cases {
		hdr := map[string]string{}
		if tc.accept != "" {
			hdr["Accept"] = tc.accept
		}
		if tc.enc != "" {
			hdr["Content-Encoding"] = tc.enc
		}
		var body []byte
		if tc.body != "" {
			body = []byte(tc.body)
		}
		res, b := c.do(tc.method, tc.path, body, tc.ct, hdr)
		if res.StatusCode != tc.want {
			t.Errorf("%s: %d, want %d (%s)", tc.name, res.StatusCode, tc.want, b)
		}
	}
	if len(c.s.Servers()) != 0 || len(c.s.Tasks()) != 0 {
		t.Errorf("refused requests stored something: %v %v", c.s.Servers(), c.s.Tasks())
	}
}

// Compressed bodies: JSON takes Content-Encoding gzip (what the SDK sends to
// /api), test-results XML takes application/gzip (what its documentation
// says); each refuses the other value (415) and anything else.
func TestGzipBodies(t *testing.T) {
	c := signedIn(t, Options{})
	for _, tc := range []struct {
		enc               string
		wantJSON, wantXML int
	}{
		{"gzip", 201, 415},
		{"application/gzip", 415, 202},
		{"x-gzip", 415, 415},
		{"deflate", 415, 415},
	} {
		body := gz(t, []byte(`{"data":[{"name":"gz-`+tc.enc+`"}]}`), "")
		res, b := c.do("POST", c.ws("/ci_servers"), body, "application/json", map[string]string{"Content-Encoding": tc.enc})
		if res.StatusCode != tc.wantJSON {
			t.Errorf("%s JSON: %d %s, want %d", tc.enc, res.StatusCode, b, tc.wantJSON)
		}
		runs := len(c.s.Runs())
		xmlBody := gz(t, []byte(payload("", run("gz"+tc.enc, "Passed"))), "")
		res, b = c.do("POST", c.ws("/test-results"), xmlBody, "application/xml", map[string]string{"Content-Encoding": tc.enc})
		if res.StatusCode != tc.wantXML {
			t.Errorf("%s XML: %d %s, want %d", tc.enc, res.StatusCode, b, tc.wantXML)
		}
		if got, want := len(c.s.Runs())-runs, map[bool]int{true: 1, false: 0}[tc.wantXML == 202]; got != want {
			t.Errorf("runs stored after %s = %d, want %d", tc.enc, got, want)
		}
	}
}
