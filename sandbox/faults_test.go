package sandbox

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"
)

func lastRequest(s *Server) Request {
	rs := s.Requests()
	return rs[len(rs)-1]
}

func TestFaultLatency(t *testing.T) {
	c := signedIn(t, Options{})
	c.s.Inject(Fault{Kind: Latency, Path: "/ci_servers", Delay: 80 * time.Millisecond})
	start := time.Now()
	c.mustCall(200, "GET", c.ws("/ci_servers"), nil)
	if el := time.Since(start); el < 80*time.Millisecond {
		t.Errorf("delayed request took %v", el)
	}
	// A client timeout shorter than the latency sees a timeout.
	c.s.Inject(Fault{Kind: Latency, Delay: 2 * time.Second})
	c.http.Timeout = 50 * time.Millisecond
	if _, _, err := c.try("GET", c.ws("/ci_servers"), nil, "", nil); err == nil || !strings.Contains(err.Error(), "Timeout") {
		t.Errorf("err = %v, want a client timeout", err)
	}
}

func TestFaultStatusWithRetryAfter(t *testing.T) {
	c := signedIn(t, Options{})
	c.s.Inject(Fault{Kind: Status, Method: "POST", Path: "/ci_servers", Code: 429, RetryAfter: "3", Times: 2})
	for i := range 2 {
		res, b := c.do("POST", c.ws("/ci_servers"), []byte(`{"data":[{"name":"a"}]}`), "application/json", nil)
		if res.StatusCode != 429 || res.Header.Get("Retry-After") != "3" || !strings.Contains(string(b), `"error_code"`) {
			t.Errorf("hit %d: %d %q %s", i, res.StatusCode, res.Header.Get("Retry-After"), b)
		}
	}
	if len(c.s.Servers()) != 0 {
		t.Errorf("a 429 request was processed")
	}
	c.mustCall(201, "POST", c.ws("/ci_servers"), `{"data":[{"name":"a"}]}`) // third: the fault is spent
	c.s.Inject(Fault{Kind: Status, Code: 502})
	if code, _ := c.call("GET", c.ws("/ci_servers"), nil); code != 502 {
		t.Errorf("502 fault = %d", code)
	}
	if c.s.PendingFaults() != 0 {
		t.Errorf("pending faults = %d", c.s.PendingFaults())
	}
}

func TestFaultHTML503(t *testing.T) {
	c := signedIn(t, Options{})
	c.s.Inject(Fault{Kind: HTML503, Path: "/test-results", Times: 5})
	res, b := c.do("POST", c.ws("/test-results"), []byte(payload("", run("a", "Passed"))), "application/xml", nil)
	if res.StatusCode != 503 || !strings.HasPrefix(res.Header.Get("Content-Type"), "text/html") || !strings.Contains(string(b), "Service Temporarily Unavailable") {
		t.Errorf("503 = %d %q %s", res.StatusCode, res.Header.Get("Content-Type"), b)
	}
	c.s.ClearFaults()
	res, _ = c.do("POST", c.ws("/test-results"), []byte(payload("", run("a", "Passed"))), "application/xml", nil)
	if res.StatusCode != 202 || len(c.s.Tasks()) != 1 {
		t.Errorf("after ClearFaults = %d, tasks %d", res.StatusCode, len(c.s.Tasks()))
	}
}

func TestFaultDropBeforeBody(t *testing.T) {
	c := signedIn(t, Options{})
	c.s.Inject(Fault{Kind: DropBeforeBody, Path: "/ci_servers"})
	_, _, err := c.try("POST", c.ws("/ci_servers"), []byte(`{"data":[{"name":"a"}]}`), "application/json", nil)
	if err == nil {
		t.Fatal("dropped connection gave no error")
	}
	if len(c.s.Servers()) != 0 {
		t.Errorf("dropped-before-body request was processed")
	}
	if r := lastRequest(c.s); r.Status != 0 || r.Method != "POST" {
		t.Errorf("recorded %+v, want status 0", r)
	}
	c.mustCall(201, "POST", c.ws("/ci_servers"), `{"data":[{"name":"a"}]}`)
}

func TestFaultDropAfterProcess(t *testing.T) {
	c := signedIn(t, Options{})
	c.s.Inject(Fault{Kind: DropAfterProcess, Path: "/test-results"})
	body := payload("", run("a", "Passed"))
	_, _, err := c.try("POST", c.ws("/test-results"), []byte(body), "application/xml", nil)
	if err == nil {
		t.Fatal("dropped connection gave no error")
	}
	if len(c.s.Tasks()) != 1 || len(c.s.Runs()) != 1 {
		t.Fatalf("the request was not processed: %+v", c.s.Tasks())
	}
	// The client resends the same bytes: dedup returns the same task.
	code, out := c.postXML(body, "")
	if code != 202 || fmt.Sprint(out["id"]) != c.s.Tasks()[0].ID || len(c.s.Runs()) != 1 {
		t.Errorf("resend = %d %v, runs %d", code, out, len(c.s.Runs()))
	}
}

func TestFaultExpireSession(t *testing.T) {
	c := signedIn(t, Options{})
	c.s.Inject(Fault{Kind: ExpireSession, Path: "/pipelines"})
	c.mustCall(200, "GET", c.ws("/ci_servers"), nil)
	code, out := c.call("GET", c.ws("/pipelines"), nil)
	if code != 401 || out["errorCode"] != expiredIdle {
		t.Errorf("expired = %d %v", code, out)
	}
	if code, _ := c.call("GET", c.ws("/ci_servers"), nil); code != 401 {
		t.Errorf("the session came back: %d", code)
	}
	c.signIn(`{"user":"sandbox-client","password":"sandbox-secret"}`)
	c.mustCall(200, "GET", c.ws("/pipelines"), nil)
}

func TestFaultReply(t *testing.T) {
	c := signedIn(t, Options{})
	c.s.Inject(Fault{Kind: Reply, Method: "POST", Path: "/ci_servers", Code: http.StatusFound,
		Header: http.Header{"Location": {"https://sso.example.com/login"}}, Body: "moved"})
	c.http.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	res, b := c.do("POST", c.ws("/ci_servers"), []byte(`{"data":[{"name":"a"}]}`), "application/json", nil)
	if res.StatusCode != 302 || res.Header.Get("Location") != "https://sso.example.com/login" || string(b) != "moved" {
		t.Errorf("reply = %d %q %q", res.StatusCode, res.Header.Get("Location"), b)
	}
	if len(c.s.Servers()) != 0 || lastRequest(c.s).Status != 302 {
		t.Errorf("a replied request was processed, or recorded as %+v", lastRequest(c.s))
	}
	// Code 0 is 200; no Content-Type is added to an empty body.
	c.s.Inject(Fault{Kind: Reply, Path: "/ci_servers"})
	res, b = c.do("GET", c.ws("/ci_servers"), nil, "", nil)
	if res.StatusCode != 200 || len(b) != 0 || res.Header.Get("Content-Type") != "" {
		t.Errorf("empty reply = %d %q %q", res.StatusCode, res.Header.Get("Content-Type"), b)
	}
}

func TestFaultDropMidAnswer(t *testing.T) {
	c := signedIn(t, Options{})
	c.s.Inject(Fault{Kind: DropMidAnswer, Method: "POST", Path: "/ci_servers"})
	res, err := c.http.Post(c.base+c.ws("/ci_servers"), "application/json", strings.NewReader(`{"data":[{"name":"a"}]}`))
	if err != nil {
		t.Fatal(err)
	}
	b, err := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != 201 || err == nil || len(b) == 0 || res.ContentLength != int64(2*len(b)) && res.ContentLength != int64(2*len(b)+1) {
		t.Errorf("answer %d, %d of %d bytes, err %v; want half the body, then an error", res.StatusCode, len(b), res.ContentLength, err)
	}
	if len(c.s.Servers()) != 1 || lastRequest(c.s).Status != 0 {
		t.Errorf("the request was not processed (%d servers) or not recorded as dropped (%+v)", len(c.s.Servers()), lastRequest(c.s))
	}
}

func TestFaultHook(t *testing.T) {
	c := signedIn(t, Options{})
	calls, hookCode := 0, 0
	c.s.Inject(Fault{Kind: Hook, Method: "POST", Path: "/ci_servers", Hook: func() {
		calls++
		// What another client does at this point reaches the server first:
		// here, a create of the same name, over HTTP (the hook runs on the
		// server's side: no t.Fatal here).
		res, _, err := c.try("POST", c.ws("/ci_servers"), []byte(`{"data":[{"name":"a"}]}`), "application/json", nil)
		if err == nil {
			hookCode = res.StatusCode
		}
	}})
	code, out := c.call("POST", c.ws("/ci_servers"), `{"data":[{"name":"a"}]}`)
	if calls != 1 || hookCode != 201 || code != 409 || errorCode(out) != "platform.duplicate_entity_error" || len(c.s.Servers()) != 1 {
		t.Errorf("hook called %d times (its create answered %d); the request answered %d %v; %d servers", calls, hookCode, code, out, len(c.s.Servers()))
	}
}

func TestRequestsLog(t *testing.T) {
	c := signedIn(t, Options{})
	c.mustCall(200, "GET", c.ws("/ci_servers?limit=5"), nil)
	c.call("GET", c.ws("/nothing"), nil)
	rs := c.s.Requests()
	if len(rs) != 3 {
		t.Fatalf("requests = %+v", rs)
	}
	want := []Request{
		{Method: "POST", Path: "/authentication/sign_in", Status: 200},
		{Method: "GET", Path: c.ws("/ci_servers"), Query: "limit=5", Status: 200},
		{Method: "GET", Path: c.ws("/nothing"), Status: 404},
	}
	for i := range want {
		if rs[i] != want[i] {
			t.Errorf("request %d = %+v, want %+v", i, rs[i], want[i])
		}
	}
}

func TestListenAndServeStopsOnContext(t *testing.T) {
	s := New(Options{})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Serve(ctx, ln) }()
	res, err := http.Get("http://" + ln.Addr().String() + "/")
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != 200 {
		t.Errorf("page = %d", res.StatusCode)
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Serve = %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Serve did not stop")
	}
	if err := s.ListenAndServe(context.Background(), "256.0.0.1:1"); err == nil {
		t.Error("ListenAndServe on a bad address succeeded")
	}
}

func TestConcurrentClients(t *testing.T) {
	c := signedIn(t, Options{TaskDelay: time.Millisecond})
	c.seed()
	c.putBuild("unit", "7", nil)
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 10 {
				body := payload(buildHead, run(fmt.Sprintf("g%d-%d", g, i%5), "Passed"))
				res, _, err := c.try("POST", c.ws("/test-results"), []byte(body), "application/xml", nil)
				if err != nil || res.StatusCode != 202 {
					t.Errorf("post: %v %v", err, res)
					return
				}
				c.try("GET", c.ws("/ci_servers?query="+`%22name%20EQ%20%5Esrv%5E%22`), nil, "", nil)
				_ = c.s.Runs()
				_ = c.s.Tasks()
				c.try("GET", "/", nil, "", nil)
			}
		}()
	}
	wg.Wait()
	deadline := time.Now().Add(10 * time.Second)
	for {
		done := 0
		for _, tk := range c.s.Tasks() {
			if terminal(tk.Status) {
				done++
			}
		}
		if done == 40 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("tasks not done: %+v", c.s.Tasks())
		}
		time.Sleep(5 * time.Millisecond)
	}
	// 8 goroutines × 5 distinct payloads each; every payload was sent twice.
	if n := len(c.s.RunsFor("iid-1", "unit", "7")); n != 40 {
		t.Errorf("runs = %d, want 40", n)
	}
}
