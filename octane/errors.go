package octane

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Error is a failed Octane call: an HTTP error status, or a transport failure
// (Status 0). Its message is one line and carries no secrets and no HTML.
type Error struct {
	Method, URL   string // URL without query
	Status        int    // 0 for a transport failure
	Code          string // Octane's error_code (or errorCode)
	Description   string // Octane's description, or a one-line summary of a non-JSON body
	CorrelationID string
	Temporary     bool // worth retrying later
	// TargetRefused: Octane refuses this target as a whole (the credentials, their rights,
	// or a shared space or workspace that does not exist): no request to it can succeed
	// until the configuration changes. See IsTargetRefused.
	TargetRefused bool
	Items         []ItemError // per-entity errors of a bulk write (409 partial)
	Err           error       // the transport error, if any
}

// ItemError is one entity's error in a bulk write.
type ItemError struct {
	Index         int // index in the request's data array
	Code          string
	Description   string
	CorrelationID string
}

// Error-code constants Octane uses.
const (
	CodeDuplicateEntity = "platform.duplicate_entity_error"
)

func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString("octane: ")
	b.WriteString(e.Method)
	b.WriteByte(' ')
	b.WriteString(e.URL)
	b.WriteString(": ")
	if e.Status != 0 {
		fmt.Fprintf(&b, "%d %s", e.Status, http.StatusText(e.Status))
	}
	if e.Code != "" {
		if e.Status != 0 {
			b.WriteByte(' ')
		}
		b.WriteString(e.Code)
	}
	if e.Description != "" {
		if e.Status != 0 || e.Code != "" {
			b.WriteString(": ")
		}
		b.WriteString(e.Description)
	}
	if n := len(e.Items); n > 0 {
		fmt.Fprintf(&b, " (%d entity error(s), first at index %d)", n, e.Items[0].Index)
	}
	if e.CorrelationID != "" {
		fmt.Fprintf(&b, " [correlation_id %s]", e.CorrelationID)
	}
	if e.Temporary {
		b.WriteString(" (temporary)")
	}
	return b.String()
}

func (e *Error) Unwrap() error { return e.Err }

// HasCode reports whether the error, or any of its bulk item errors, carries code.
func (e *Error) HasCode(code string) bool {
	if e.Code == code {
		return true
	}
	for _, it := range e.Items {
		if it.Code == code {
			return true
		}
	}
	return false
}

// IsTemporary reports whether err is worth retrying later: a temporary *Error
// (429, 502, 503, 504, 408, an outage page, a request timeout, a dropped
// connection). Cancellation is not temporary; an expired deadline is, like any
// timeout.
func IsTemporary(err error) bool {
	if err == nil || errors.Is(err, context.Canceled) {
		return false
	}
	var e *Error
	if errors.As(err, &e) {
		return e.Temporary
	}
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// IsUnauthorized reports whether Octane still refused the session after the client signed
// in again (401): the credentials are wrong or lack the rights, not the request.
func IsUnauthorized(err error) bool {
	var oe *Error
	return errors.As(err, &oe) && oe.Status == http.StatusUnauthorized
}

// IsTargetRefused reports whether Octane refuses the target as a whole: a sign-in rejected
// (401, 403: the credentials), no rights (403), or a shared space or workspace that does not
// exist (404 on one of its entity collections, which every run reads first). A session
// refused again right after a successful sign-in is not counted here: it stops the run like
// an outage (IsUnauthorized), since the credentials were just accepted.
func IsTargetRefused(err error) bool {
	var oe *Error
	return errors.As(err, &oe) && oe.TargetRefused
}

// entityCollections are the last path segments of a workspace's entity collections: a 404
// on one of them means the shared space or the workspace does not exist. (A 404 from the
// builds or test-results endpoints is about what was sent: an unknown job, say.)
var entityCollections = map[string]bool{
	"ci_servers": true, "pipelines": true, "ci_jobs": true, "pipeline_nodes": true, "workspaces": true,
	"releases": true, "milestones": true,
}

// targetRefused tells whether an answer refuses the whole target (see IsTargetRefused).
func targetRefused(status int, rawURL string, signIn bool) bool {
	switch status {
	case http.StatusForbidden:
		return true
	case http.StatusUnauthorized:
		return signIn
	case http.StatusNotFound:
		u := strings.TrimRight(rawURL, "/")
		return !signIn && entityCollections[u[strings.LastIndexByte(u, '/')+1:]]
	}
	return false
}

// IsDuplicate reports whether err is Octane's duplicate-entity error.
func IsDuplicate(err error) bool {
	var e *Error
	return errors.As(err, &e) && e.HasCode(CodeDuplicateEntity)
}

// temporaryStatus is the set of statuses retried: too many requests, and the
// gateway/outage family.
func temporaryStatus(status int) bool {
	switch status {
	case http.StatusTooManyRequests, http.StatusBadGateway, http.StatusServiceUnavailable, http.StatusGatewayTimeout, http.StatusRequestTimeout:
		return true
	}
	return false
}

// errorBody is the JSON shape of Octane errors (single and bulk), plus the
// session-expiry and servlet shapes.
type errorBody struct {
	ErrorCode          string      `json:"error_code"`
	ErrorCodeCamel     string      `json:"errorCode"`
	Description        string      `json:"description"`
	AccumulatedMessage string      `json:"accumulatedMessage"`
	CorrelationID      string      `json:"correlation_id"`
	Message            string      `json:"message"`
	Errors             []itemError `json:"errors"`
}

type itemError struct {
	Index         *int   `json:"index"`
	EntityIndex   *int   `json:"entity_index"`
	ErrorCode     string `json:"error_code"`
	Description   string `json:"description"`
	CorrelationID string `json:"correlation_id"`
}

const maxDescription = 400

var (
	reTitle = regexp.MustCompile(`(?is)<title[^>]*>(.*?)</title>`)
	reH1    = regexp.MustCompile(`(?is)<h1[^>]*>(.*?)</h1>`)
	reTag   = regexp.MustCompile(`(?s)<[^>]*>`)
)

// oneLine collapses whitespace and cuts s to max characters.
func oneLine(s string, max int) string {
	s = strings.Join(strings.Fields(strings.ToValidUTF8(s, "\uFFFD")), " ")
	if utf8.RuneCountInString(s) > max {
		s, _ = truncateRunes(s, max-1)
		s += "…"
	}
	return s
}

// looksHTML reports whether a body is an HTML page rather than JSON.
func looksHTML(contentType string, body []byte) bool {
	if strings.Contains(strings.ToLower(contentType), "html") {
		return true
	}
	b := bytes.TrimSpace(body)
	if len(b) > 512 {
		b = b[:512]
	}
	lb := bytes.ToLower(b)
	return bytes.HasPrefix(lb, []byte("<!doctype html")) || bytes.HasPrefix(lb, []byte("<html")) || bytes.Contains(lb, []byte("<body"))
}

// summariseHTML turns an error page into one line: its title, heading or text.
func summariseHTML(body []byte) string {
	for _, re := range []*regexp.Regexp{reTitle, reH1} {
		if m := re.FindSubmatch(body); m != nil {
			if s := oneLine(reTag.ReplaceAllString(string(m[1]), " "), 120); s != "" {
				return "HTML page: " + s
			}
		}
	}
	return "HTML page: " + oneLine(reTag.ReplaceAllString(string(body), " "), 120)
}

// isServiceTemporary matches the SaaS outage page ("Service Temporarily Unavailable").
func isServiceTemporary(body []byte) bool {
	return bytes.Contains(bytes.ToLower(body), []byte("service temporar"))
}

// newHTTPError builds the typed error for a non-2xx response.
func newHTTPError(method, u string, status int, contentType string, body []byte) *Error {
	e := &Error{Method: method, URL: u, Status: status, Temporary: temporaryStatus(status)}
	trimmed := bytes.TrimSpace(body)
	switch {
	case len(trimmed) == 0:
	case looksHTML(contentType, body):
		e.Description = summariseHTML(body)
		if isServiceTemporary(body) {
			e.Temporary = true
		}
	case trimmed[0] == '{':
		var eb errorBody
		if err := json.Unmarshal(trimmed, &eb); err != nil {
			e.Description = "unreadable JSON error body: " + oneLine(string(trimmed), 120)
			break
		}
		if eb.ErrorCode == "" && eb.ErrorCodeCamel == "" && eb.Description == "" && eb.Message != "" {
			// Servlet-level errors wrap the real body in "message".
			var inner errorBody
			if json.Unmarshal([]byte(eb.Message), &inner) == nil && (inner.ErrorCode != "" || inner.Description != "") {
				eb = inner
			} else {
				eb.Description = eb.Message
			}
		}
		e.Code = firstNonEmpty(eb.ErrorCode, eb.ErrorCodeCamel)
		e.Description = oneLine(firstNonEmpty(eb.Description, eb.AccumulatedMessage), maxDescription)
		e.CorrelationID = eb.CorrelationID
		for i, it := range eb.Errors {
			idx := i
			if it.Index != nil {
				idx = *it.Index
			} else if it.EntityIndex != nil {
				idx = *it.EntityIndex
			}
			e.Items = append(e.Items, ItemError{Index: idx, Code: it.ErrorCode, Description: oneLine(it.Description, maxDescription), CorrelationID: it.CorrelationID})
		}
		if e.Code == "" && len(e.Items) > 0 {
			e.Code = e.Items[0].Code
			if e.Description == "" {
				e.Description = e.Items[0].Description
			}
			if e.CorrelationID == "" {
				e.CorrelationID = e.Items[0].CorrelationID
			}
		}
	default:
		e.Description = oneLine(string(trimmed), 200)
	}
	return e
}

func firstNonEmpty(ss ...string) string {
	for _, s := range ss {
		if s != "" {
			return s
		}
	}
	return ""
}

// transportTemporary says whether a transport error may go away on its own.
// Certificate problems and protocol mismatches will not.
func transportTemporary(err error) bool {
	var (
		uae  x509.UnknownAuthorityError
		cie  x509.CertificateInvalidError
		he   x509.HostnameError
		rhe  tls.RecordHeaderError
		cver *tls.CertificateVerificationError
	)
	switch {
	case errors.As(err, &uae), errors.As(err, &cie), errors.As(err, &he), errors.As(err, &rhe), errors.As(err, &cver):
		return false
	case strings.Contains(err.Error(), "server gave HTTP response to HTTPS client"):
		return false
	}
	return true
}

// ErrJobRefused is matched (errors.Is) by a *JobRefusedError.
var ErrJobRefused = errors.New("octane: Octane refused to add a job to an existing pipeline")

// JobRefusedError is returned by EnsurePipeline when the pipeline exists but
// Octane refused to create a job it lacks (an Octane before 16.2.100 cannot
// create a ci_job on its own). Nothing was lost: the pipeline exists and
// holds Pipeline.Jobs; the refused jobs are missing from it and from the
// server. A caller can report their builds under a pipeline of their own,
// each refused job as its root.
type JobRefusedError struct {
	Pipeline Pipeline // the existing pipeline, with the jobs it holds
	Jobs     []Job    // the jobs Octane refused to create
	Err      error    // Octane's answer (an *Error)
}

func (e *JobRefusedError) Error() string {
	ids := make([]string, len(e.Jobs))
	for i, j := range e.Jobs {
		ids[i] = strconv.Quote(j.CIID)
	}
	return fmt.Sprintf("octane: Octane refused to add job(s) %s to the existing pipeline %q (id %s): %v",
		strings.Join(ids, ", "), e.Pipeline.Name, e.Pipeline.ID, e.Err)
}

// Unwrap returns Octane's answer.
func (e *JobRefusedError) Unwrap() error { return e.Err }

// Is matches ErrJobRefused.
func (e *JobRefusedError) Is(target error) bool { return target == ErrJobRefused }
