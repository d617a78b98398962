// Faults are test knobs, kept apart from the stand-in's product behaviour:
// nothing here runs unless a test (or the reliability suite) injects it, and
// none of it makes the stand-in accept what the real Octane refuses. A fault
// either breaks the network (drops, latency), answers as Octane or what stands
// in front of it sometimes does (429, an outage page, an older server's
// shapes: Status, HTML503, Reply), or lets a test act at an exact point
// (Hook).

package sandbox

import (
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"time"
)

// FaultKind is what an injected fault does to a matching request.
type FaultKind int

const (
	// Latency waits Delay, then serves the request normally.
	Latency FaultKind = iota + 1
	// Status answers Code (default 429) with a JSON error body and, when
	// RetryAfter is set, a Retry-After header. The request is not processed.
	Status
	// HTML503 answers 503 with the HTML "Service Temporarily Unavailable"
	// page that SaaS outages return (section 3.4). Not processed.
	HTML503
	// DropBeforeBody closes the connection before reading the request body.
	DropBeforeBody
	// DropAfterProcess processes the request fully, then closes the
	// connection without answering: the client cannot know it succeeded.
	DropAfterProcess
	// ExpireSession expires the session the request carries; the request
	// (and every later one with that cookie) answers 401.
	ExpireSession
	// Reply answers Code (default 200) with Header and Body exactly as
	// given: what a proxy, a login page or another server version may send
	// (a redirect, an HTML page with 200, ids as JSON numbers, an error body
	// of another shape). The request is not processed.
	Reply
	// DropMidAnswer processes the request fully, sends the status line, the
	// headers (with the full Content-Length) and half of the body, then
	// closes the connection.
	DropMidAnswer
	// Hook calls Fault.Hook, then serves the request normally: a test makes
	// something happen at that exact point (another client creating the
	// same entity between this client's lookup and its create, say). Hook
	// runs on the request's goroutine without the server's lock; it may
	// call the server over HTTP.
	Hook
)

func (k FaultKind) String() string {
	switch k {
	case Latency:
		return "Latency"
	case Status:
		return "Status"
	case HTML503:
		return "HTML503"
	case DropBeforeBody:
		return "DropBeforeBody"
	case DropAfterProcess:
		return "DropAfterProcess"
	case ExpireSession:
		return "ExpireSession"
	case Reply:
		return "Reply"
	case DropMidAnswer:
		return "DropMidAnswer"
	case Hook:
		return "Hook"
	}
	return "FaultKind(?)"
}

// Fault describes one injected fault.
type Fault struct {
	Method, Path string // Path is a suffix of the URL path, e.g. "/test-results"; empty = any
	Kind         FaultKind
	Times        int // how many matching requests it hits (0 = 1)
	Delay        time.Duration
	Code         int
	RetryAfter   string
	Header       http.Header // Reply: the answer's headers
	Body         string      // Reply: the answer's body
	Hook         func()      // Hook: what to run before serving
}

type faultState struct {
	Fault
	left int
}

// Inject adds a fault. Faults are tried in the order injected; the first one
// that matches and has hits left applies.
func (s *Server) Inject(f Fault) {
	if f.Times <= 0 {
		f.Times = 1
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = append(s.faults, &faultState{Fault: f, left: f.Times})
}

// ClearFaults removes every injected fault that has hits left.
func (s *Server) ClearFaults() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = nil
}

// PendingFaults is the number of hits left across injected faults.
func (s *Server) PendingFaults() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, f := range s.faults {
		n += f.left
	}
	return n
}

func (s *Server) takeFault(r *http.Request) *Fault {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i, f := range s.faults {
		if f.left <= 0 {
			continue
		}
		if f.Method != "" && !strings.EqualFold(f.Method, r.Method) {
			continue
		}
		if f.Path != "" && !strings.HasSuffix(r.URL.Path, f.Path) {
			continue
		}
		f.left--
		out := f.Fault
		if f.left == 0 {
			s.faults = append(s.faults[:i:i], s.faults[i+1:]...)
		}
		return &out
	}
	return nil
}

const html503 = `<!DOCTYPE HTML PUBLIC "-//IETF//DTD HTML 2.0//EN">
<html><head>
<title>503 Service Temporarily Unavailable</title>
</head><body>
<h1>Service Temporarily Unavailable</h1>
<p>The server is temporarily unable to service your
request due to maintenance downtime or capacity
problems. Please try again later.</p>
</body></html>
`

// applyFault applies f. handled means the request was answered (or dropped);
// dropped means no answer reached the client.
func (s *Server) applyFault(f Fault, raw http.ResponseWriter, w *statusWriter, r *http.Request) (handled, dropped bool) {
	switch f.Kind {
	case Latency:
		t := time.NewTimer(f.Delay)
		defer t.Stop()
		select {
		case <-t.C:
		case <-r.Context().Done():
			return true, true
		case <-s.ctx.Done():
		}
		return false, false
	case Status:
		drain(r)
		code := f.Code
		if code == 0 {
			code = http.StatusTooManyRequests
		}
		if f.RetryAfter != "" {
			w.Header().Set("Retry-After", f.RetryAfter)
		}
		writeError(w, code, "platform.injected_fault", http.StatusText(code)+" (injected by the stand-in)", false)
		return true, false
	case HTML503:
		drain(r)
		w.Header().Set("Content-Type", "text/html; charset=iso-8859-1")
		w.WriteHeader(http.StatusServiceUnavailable)
		_, _ = w.Write([]byte(html503))
		return true, false
	case DropBeforeBody:
		hangUp(raw)
		return true, true
	case DropAfterProcess:
		rec := httptest.NewRecorder()
		s.route(rec, r)
		hangUp(raw)
		return true, true
	case Reply:
		drain(r)
		for k, vs := range f.Header {
			w.Header()[k] = append([]string(nil), vs...)
		}
		code := f.Code
		if code == 0 {
			code = http.StatusOK
		}
		w.WriteHeader(code)
		_, _ = w.Write([]byte(f.Body))
		return true, false
	case DropMidAnswer:
		rec := httptest.NewRecorder()
		s.route(rec, r)
		body := rec.Body.Bytes()
		for k, vs := range rec.Header() {
			raw.Header()[k] = vs
		}
		raw.Header().Set("Content-Length", strconv.Itoa(len(body)))
		raw.WriteHeader(rec.Code)
		_, _ = io.Copy(raw, bytes.NewReader(body[:len(body)/2]))
		if fl, ok := raw.(http.Flusher); ok {
			fl.Flush()
		}
		hangUp(raw)
		return true, true
	case Hook:
		if f.Hook != nil {
			f.Hook()
		}
		return false, false
	case ExpireSession:
		if c, err := r.Cookie(cookieName); err == nil {
			s.mu.Lock()
			if sess := s.sessions[c.Value]; sess != nil {
				sess.expired = expiredIdle
			}
			s.mu.Unlock()
		}
		return false, false
	}
	return false, false
}

// hangUp closes the client connection without writing an answer.
func hangUp(w http.ResponseWriter) {
	if hj, ok := w.(http.Hijacker); ok {
		if conn, _, err := hj.Hijack(); err == nil {
			_ = conn.Close()
			return
		}
	}
	// HTTP/2 or a writer that cannot hijack: abort the handler, which
	// resets the stream or closes the connection.
	panic(http.ErrAbortHandler)
}
