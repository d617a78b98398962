package octane_test

import (
	"bytes"
	"encoding/pem"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/octane-import/octane-import/octane"
	"github.com/octane-import/octane-import/sandbox"
)

// recordingProxy is a forward proxy (plain HTTP and CONNECT) that records
// what it was asked for.
type recordingProxy struct {
	srv  *httptest.Server
	mu   sync.Mutex
	seen []string
}

func newProxy(t *testing.T) *recordingProxy {
	p := &recordingProxy{}
	p.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p.mu.Lock()
		if r.Method == http.MethodConnect {
			p.seen = append(p.seen, "CONNECT "+r.Host)
		} else {
			p.seen = append(p.seen, r.Method+" "+r.URL.String())
		}
		p.mu.Unlock()
		if r.Method == http.MethodConnect {
			up, err := net.Dial("tcp", r.Host)
			if err != nil {
				http.Error(w, err.Error(), http.StatusBadGateway)
				return
			}
			conn, buf, err := w.(http.Hijacker).Hijack()
			if err != nil {
				up.Close()
				return
			}
			_, _ = conn.Write([]byte("HTTP/1.1 200 Connection established\r\n\r\n"))
			go func() {
				_, _ = io.Copy(up, buf)
				up.Close()
			}()
			_, _ = io.Copy(conn, up)
			conn.Close()
			return
		}
		if !r.URL.IsAbs() {
			http.Error(w, "not a proxy request", http.StatusBadRequest)
			return
		}
		out := r.Clone(r.Context())
		out.RequestURI = ""
		resp, err := http.DefaultTransport.RoundTrip(out)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		defer resp.Body.Close()
		for k, v := range resp.Header {
			w.Header()[k] = v
		}
		w.WriteHeader(resp.StatusCode)
		_, _ = io.Copy(w, resp.Body)
	}))
	t.Cleanup(p.srv.Close)
	return p
}

func (p *recordingProxy) requests() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.seen...)
}

func writeCA(t *testing.T, s *standIn) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "ca.pem")
	pemBytes := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: s.hs.Certificate().Raw})
	if err := os.WriteFile(path, pemBytes, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestProxy(t *testing.T) {
	t.Run("http through the configured proxy", func(t *testing.T) {
		s := newStandIn(t, sandbox.Options{})
		p := newProxy(t)
		cfg := s.config()
		cfg.Proxy = p.srv.URL
		c := s.client(cfg)
		if _, err := c.EnsureCIServer(ctxT(t), octane.CIServer{InstanceID: "iid"}); err != nil {
			t.Fatal(err)
		}
		seen := p.requests()
		if len(seen) < 3 || seen[0] != "POST "+s.URL()+"/authentication/sign_in" || !strings.HasPrefix(seen[1], "GET "+s.URL()+"/api/shared_spaces/1001/workspaces/1002/ci_servers?") {
			t.Fatalf("proxy saw %q", seen)
		}
	})
	t.Run("https tunnels with CONNECT, verified with the CA bundle", func(t *testing.T) {
		s := serveStandIn(t, sandbox.Options{}, serveOptions{TLS: true})
		p := newProxy(t)
		cfg := s.config()
		cfg.Proxy = strings.TrimPrefix(p.srv.URL, "http://") // scheme-less proxy accepted
		cfg.CAFile = writeCA(t, s)
		c := s.client(cfg)
		if _, err := c.EnsureCIServer(ctxT(t), octane.CIServer{InstanceID: "iid"}); err != nil {
			t.Fatal(err)
		}
		seen := p.requests()
		host := strings.TrimPrefix(s.URL(), "https://")
		if len(seen) == 0 || seen[0] != "CONNECT "+host {
			t.Fatalf("proxy saw %q, want CONNECT %s", seen, host)
		}
	})
	t.Run("no-proxy bypasses it", func(t *testing.T) {
		s := newStandIn(t, sandbox.Options{})
		p := newProxy(t)
		cfg := s.config()
		cfg.Proxy = p.srv.URL
		cfg.NoProxy = "example.com, 127.0.0.0/8"
		c := s.client(cfg)
		if _, err := c.EnsureCIServer(ctxT(t), octane.CIServer{InstanceID: "iid"}); err != nil {
			t.Fatal(err)
		}
		if seen := p.requests(); len(seen) != 0 {
			t.Fatalf("proxy saw %q", seen)
		}
	})
	t.Run("environment proxy, loopback direct", func(t *testing.T) {
		s := newStandIn(t, sandbox.Options{})
		p := newProxy(t)
		t.Setenv("HTTPS_PROXY", p.srv.URL)
		t.Setenv("HTTP_PROXY", p.srv.URL)
		c := s.client(s.config())
		if _, err := c.EnsureCIServer(ctxT(t), octane.CIServer{InstanceID: "iid"}); err != nil {
			t.Fatal(err)
		}
		if seen := p.requests(); len(seen) != 0 {
			t.Fatalf("proxy saw %q (loopback goes direct, as net/http does)", seen)
		}
	})
}

func TestTLS(t *testing.T) {
	s := serveStandIn(t, sandbox.Options{}, serveOptions{TLS: true})
	t.Run("unknown CA is a permanent error", func(t *testing.T) {
		c := s.client(s.config())
		_, err := c.EnsureCIServer(ctxT(t), octane.CIServer{InstanceID: "iid"})
		var oe *octane.Error
		if !errors.As(err, &oe) || oe.Temporary || !strings.Contains(err.Error(), "certificate") || strings.Contains(err.Error(), "\n") {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("CA bundle", func(t *testing.T) {
		cfg := s.config()
		cfg.CAFile = writeCA(t, s)
		c := s.client(cfg)
		if _, err := c.EnsureCIServer(ctxT(t), octane.CIServer{InstanceID: "iid"}); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("a file without certificates is refused", func(t *testing.T) {
		cfg := s.config()
		cfg.CAFile = filepath.Join(t.TempDir(), "empty.pem")
		if err := os.WriteFile(cfg.CAFile, []byte("not pem"), 0o600); err != nil {
			t.Fatal(err)
		}
		if _, err := octane.New(cfg); err == nil || !strings.Contains(err.Error(), "no PEM certificate") {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("insecure works and warns", func(t *testing.T) {
		var logs bytes.Buffer
		cfg := s.config()
		cfg.Insecure = true
		cfg.Logger = slog.New(slog.NewTextHandler(&logs, nil))
		c := s.client(cfg)
		if !strings.Contains(logs.String(), "level=WARN") || !strings.Contains(logs.String(), "insecure") {
			t.Fatalf("no warning logged: %q", logs.String())
		}
		if _, err := c.EnsureCIServer(ctxT(t), octane.CIServer{InstanceID: "iid"}); err != nil {
			t.Fatal(err)
		}
	})
}
