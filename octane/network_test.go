package octane_test

import (
	"bytes"
	"context"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/octane-import/octane-import/octane"
	"github.com/octane-import/octane-import/sandbox"
)

// octaneName is the host name the proxy tests give the stand-in: a proxy
// never serves a loopback address (golang.org/x/net/http/httpproxy), and
// httptest's certificate is for this name.
const octaneName = "example.com"

// dialer is the network of the proxy tests: host:port pairs in names are
// dialled at the address they map to (like /etc/hosts, without a resolver),
// anything else as it is.
func dialer(names map[string]string) func(ctx context.Context, network, addr string) (net.Conn, error) {
	var d net.Dialer
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		if to, ok := names[addr]; ok {
			addr = to
		}
		return d.DialContext(ctx, network, addr)
	}
}

// named returns the stand-in's URL under octaneName and the dialer that
// reaches it there.
func named(s *standIn) (string, func(ctx context.Context, network, addr string) (net.Conn, error)) {
	u, err := url.Parse(s.URL())
	if err != nil {
		panic(err)
	}
	addr := u.Host
	u.Host = net.JoinHostPort(octaneName, u.Port())
	return u.String(), dialer(map[string]string{u.Host: addr})
}

// recordingProxy is a forward proxy (plain HTTP and CONNECT) that records
// what it was asked for and reaches the upstream through dial.
type recordingProxy struct {
	srv  *httptest.Server
	mu   sync.Mutex
	seen []string
}

func newProxy(t *testing.T, dial func(ctx context.Context, network, addr string) (net.Conn, error)) *recordingProxy {
	p := &recordingProxy{}
	upstream := &http.Transport{DialContext: dial} // no proxy of its own
	t.Cleanup(upstream.CloseIdleConnections)
	p.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p.mu.Lock()
		if r.Method == http.MethodConnect {
			p.seen = append(p.seen, "CONNECT "+r.Host)
		} else {
			p.seen = append(p.seen, r.Method+" "+r.URL.String())
		}
		p.mu.Unlock()
		if r.Method == http.MethodConnect {
			up, err := dial(r.Context(), "tcp", r.Host)
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
		resp, err := upstream.RoundTrip(out)
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

// TestProxy: requests go through the configured or the environment's proxy,
// except to the hosts of no_proxy and to loopback addresses.
func TestProxy(t *testing.T) {
	// viaProxy gives a client the stand-in's URL under octaneName, lets setup
	// point it at the proxy, and makes one call; it returns what the proxy
	// saw and the stand-in's URL.
	viaProxy := func(t *testing.T, s *standIn, setup func(cfg *octane.Config, proxy string)) (seen []string, base string) {
		t.Helper()
		base, dial := named(s)
		p := newProxy(t, dial)
		cfg := s.config()
		cfg.URL = base
		setup(&cfg, p.srv.URL)
		c := s.client(octane.WithDialer(cfg, dial))
		if _, err := c.EnsureCIServer(ctxT(t), octane.CIServer{InstanceID: "iid"}); err != nil {
			t.Fatal(err)
		}
		if s.count("GET", "/ci_servers") != 1 {
			t.Fatal("the stand-in did not get the call")
		}
		return p.requests(), base
	}
	t.Run("http through the configured proxy", func(t *testing.T) {
		seen, base := viaProxy(t, newStandIn(t, sandbox.Options{}), func(cfg *octane.Config, proxy string) { cfg.Proxy = proxy })
		if len(seen) < 3 || seen[0] != "POST "+base+"/authentication/sign_in" || !strings.HasPrefix(seen[1], "GET "+base+"/api/shared_spaces/1001/workspaces/1002/ci_servers?") {
			t.Fatalf("proxy saw %q", seen)
		}
	})
	t.Run("https tunnels with CONNECT, verified with the CA bundle", func(t *testing.T) {
		s := serveStandIn(t, sandbox.Options{}, serveOptions{TLS: true})
		seen, base := viaProxy(t, s, func(cfg *octane.Config, proxy string) {
			cfg.Proxy = strings.TrimPrefix(proxy, "http://") // scheme-less proxy accepted
			cfg.CAFile = writeCA(t, s)
		})
		if host := strings.TrimPrefix(base, "https://"); len(seen) == 0 || seen[0] != "CONNECT "+host {
			t.Fatalf("proxy saw %q, want CONNECT %s", seen, host)
		}
	})
	t.Run("no-proxy bypasses it", func(t *testing.T) {
		seen, _ := viaProxy(t, newStandIn(t, sandbox.Options{}), func(cfg *octane.Config, proxy string) {
			cfg.Proxy, cfg.NoProxy = proxy, "octane.internal, "+octaneName
		})
		if len(seen) != 0 {
			t.Fatalf("proxy saw %q", seen)
		}
	})
	t.Run("environment proxy", func(t *testing.T) {
		seen, base := viaProxy(t, newStandIn(t, sandbox.Options{}), func(_ *octane.Config, proxy string) {
			t.Setenv("HTTPS_PROXY", proxy)
			t.Setenv("HTTP_PROXY", proxy)
		})
		if len(seen) < 2 || seen[0] != "POST "+base+"/authentication/sign_in" {
			t.Fatalf("proxy saw %q", seen)
		}
	})
	// A loopback address never goes through a proxy: the environment's (as
	// net/http does) nor a configured one (golang.org/x/net/http/httpproxy).
	for _, fromEnv := range []bool{true, false} {
		t.Run(fmt.Sprintf("loopback direct, proxy from the environment %t", fromEnv), func(t *testing.T) {
			s := newStandIn(t, sandbox.Options{})
			p := newProxy(t, dialer(nil))
			cfg := s.config()
			if fromEnv {
				t.Setenv("HTTPS_PROXY", p.srv.URL)
				t.Setenv("HTTP_PROXY", p.srv.URL)
			} else {
				cfg.Proxy = p.srv.URL
			}
			c := s.client(cfg)
			if _, err := c.EnsureCIServer(ctxT(t), octane.CIServer{InstanceID: "iid"}); err != nil {
				t.Fatal(err)
			}
			if seen := p.requests(); len(seen) != 0 {
				t.Fatalf("proxy saw %q", seen)
			}
		})
	}
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
