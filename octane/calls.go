package octane

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// Parameter is a build parameter. Type is one of unknown, password, boolean,
// string, number, file, axis (default string).
type Parameter struct{ Name, Type, Value string }

// Cause is the build that triggered a build (for a job of a pipeline: the root build).
type Cause struct{ JobCIID, BuildCIID string }

// Build is one build of one job, sent with PutBuild.
type Build struct {
	ServerCIID, JobCIID, BuildCIID, Name string
	Start                                time.Time
	Duration                             time.Duration
	Status                               string // finished (default), running
	Result                               string // success, failure, unstable, aborted, unavailable
	Parameters                           []Parameter
	Causes                               []Cause

	// Used by BuildReportingEvents only, all optional. JobName is the
	// event's projectDisplayName (default JobCIID). ServerType and ServerURL
	// are the events' server info (default: those of the ci_server this
	// client ensured with EnsureCIServer, else "unknown" and none).
	JobName, ServerType, ServerURL string
}

var (
	buildStatuses  = []string{"finished", "running", "queued", "unavailable"}
	buildResults   = []string{"success", "failure", "unstable", "aborted", "unavailable"}
	parameterTypes = []string{"unknown", "password", "boolean", "string", "number", "file", "axis"}
)

func oneOf(v string, set []string) bool {
	for _, s := range set {
		if v == s {
			return true
		}
	}
	return false
}

type buildJSON struct {
	ServerCIID string          `json:"serverCiId"`
	JobCIID    string          `json:"jobCiId"`
	BuildCIID  string          `json:"buildCiId"`
	BuildName  string          `json:"buildName"`
	StartTime  int64           `json:"startTime"`
	Duration   *int64          `json:"duration,omitempty"`
	Status     string          `json:"status"`
	Result     string          `json:"result"`
	Parameters []parameterJSON `json:"parameters,omitempty"`
	Causes     []causeJSON     `json:"causes,omitempty"`
}

type parameterJSON struct {
	Name  string `json:"name"`
	Type  string `json:"type"`
	Value string `json:"value"`
}

type causeJSON struct {
	JobCIID   string `json:"jobCiId"`
	BuildCIID string `json:"buildCiId"`
}

// buildBody validates b and makes the JSON body of PUT analytics/ci/builds.
func (c *Client) buildBody(b Build) (buildJSON, error) {
	if b.ServerCIID == "" || b.JobCIID == "" || b.BuildCIID == "" {
		return buildJSON{}, fmt.Errorf("octane: build %q/%q/%q: server, job and build ci ids are required", b.ServerCIID, b.JobCIID, b.BuildCIID)
	}
	if b.Start.IsZero() {
		return buildJSON{}, fmt.Errorf("octane: build %s/%s: no start time", b.JobCIID, b.BuildCIID)
	}
	status := strings.ToLower(b.Status)
	if status == "" {
		status = "finished"
	}
	if !oneOf(status, buildStatuses) {
		return buildJSON{}, fmt.Errorf("octane: build %s/%s: status %q is not one of %s", b.JobCIID, b.BuildCIID, b.Status, strings.Join(buildStatuses, ", "))
	}
	result := strings.ToLower(b.Result)
	if result == "" {
		if status == "finished" {
			return buildJSON{}, fmt.Errorf("octane: build %s/%s: a finished build needs a result", b.JobCIID, b.BuildCIID)
		}
		result = "unavailable"
	}
	if !oneOf(result, buildResults) {
		return buildJSON{}, fmt.Errorf("octane: build %s/%s: result %q is not one of %s", b.JobCIID, b.BuildCIID, b.Result, strings.Join(buildResults, ", "))
	}
	out := buildJSON{
		ServerCIID: c.fitID("build.serverCiId", b.ServerCIID),
		JobCIID:    c.fitID("build.jobCiId", b.JobCIID),
		BuildCIID:  c.fitID("build.buildCiId", b.BuildCIID),
		StartTime:  b.Start.UnixMilli(),
		Status:     status,
		Result:     result,
	}
	out.BuildName = b.Name
	if out.BuildName == "" {
		out.BuildName = b.BuildCIID
	}
	out.BuildName = c.fitName("build.buildName", out.BuildName)
	if status == "finished" {
		d := b.Duration.Milliseconds()
		if d < 0 {
			c.log.Warn("octane: negative build duration sent as 0", "job", b.JobCIID, "build", b.BuildCIID)
			d = 0
		}
		out.Duration = &d
	}
	for _, p := range b.Parameters {
		t := strings.ToLower(p.Type)
		if t == "" {
			t = "string"
		}
		if !oneOf(t, parameterTypes) {
			c.log.Warn("octane: unknown parameter type sent as unknown", "parameter", p.Name, "type", p.Type)
			t = "unknown"
		}
		out.Parameters = append(out.Parameters, parameterJSON{Name: c.fitName("build.parameter.name", p.Name), Type: t, Value: p.Value})
	}
	for _, cs := range b.Causes {
		out.Causes = append(out.Causes, causeJSON{JobCIID: c.fitID("build.cause.jobCiId", cs.JobCIID), BuildCIID: c.fitID("build.cause.buildCiId", cs.BuildCIID)})
	}
	return out, nil
}

// PutBuild creates or updates one build, as Config.BuildReporting says.
//
// With builds (the default): PUT …/workspaces/{wid}/analytics/ci/builds, one
// bare object (shared/octane-api.md section 6). With events: CI events, as
// the plugins send them (putEvents). Either way the call is an upsert keyed by
// (server, job, build), so it is retried freely.
func (c *Client) PutBuild(ctx context.Context, b Build) error {
	out, err := c.buildBody(b)
	if err != nil {
		return err
	}
	if c.cfg.BuildReporting == BuildReportingEvents {
		return c.putEvents(ctx, b, out)
	}
	body, err := json.Marshal(out)
	if err != nil {
		return fmt.Errorf("octane: put build %s/%s: %w", b.JobCIID, b.BuildCIID, err)
	}
	_, err = c.do(ctx, &request{
		method: http.MethodPut, url: c.wsURL + "/analytics/ci/builds",
		body: body, contentType: "application/json", resendable: true,
	})
	if err != nil {
		return fmt.Errorf("octane: put build %s/%s: %w", b.JobCIID, b.BuildCIID, err)
	}
	return nil
}

// Task is the state of a test-results task. Status is Octane's, lower-cased.
// ErrorDetails is Octane's errorDetails as text: a JSON string as it is, any
// other JSON value (an object, an array, a number) in compact JSON.
type Task struct{ ID, Status, Until, ErrorDetails string }

// Task statuses.
const (
	TaskQueued  = "queued"
	TaskRunning = "running"
	TaskSuccess = "success"
	TaskWarning = "warning"
	TaskFailed  = "failed"
)

// Done reports whether the task reached a terminal status (success, warning, failed).
func (t Task) Done() bool {
	switch strings.ToLower(t.Status) {
	case TaskSuccess, TaskWarning, TaskFailed:
		return true
	}
	return false
}

// pending reports whether the task is known to be on its way (queued, running).
func (t Task) pending() bool {
	s := strings.ToLower(t.Status)
	return s == TaskQueued || s == TaskRunning
}

// taskJSON reads a task answer. Only status and id are typed: the collection
// tool reads errorDetails (and until) with optString, which takes any JSON
// value (CLT @af67cf9 RestClient.java:278-287), and the value's real type is
// open (shared/octane-api.md section 13); so any JSON is taken and rendered.
type taskJSON struct {
	ID           entityID        `json:"id"`
	Status       string          `json:"status"`
	Until        json.RawMessage `json:"until"`
	ErrorDetails json.RawMessage `json:"errorDetails"`
}

func (t taskJSON) value() Task {
	return Task{ID: string(t.ID), Status: strings.ToLower(t.Status), Until: jsonText(t.Until), ErrorDetails: jsonText(t.ErrorDetails)}
}

// jsonText renders a JSON value as text: a string as it is, null or nothing
// as "", anything else as compact JSON.
func jsonText(raw json.RawMessage) string {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || bytes.Equal(raw, []byte("null")) {
		return ""
	}
	if raw[0] == '"' {
		var s string
		if json.Unmarshal(raw, &s) == nil {
			return s
		}
	}
	var b bytes.Buffer
	if json.Compact(&b, raw) != nil {
		return string(raw)
	}
	return b.String()
}

// testResultsEncoding is the Content-Encoding of a compressed test-results
// payload. The documentation of the public resource says: "Content-Encoding
// header field must be set to application/gzip" (shared/octane-api.md section
// 8.1; shared/octane-clients.md section 2, DOC test-results, help sets 15.1.20
// to 23.4-24.3). No official client is seen compressing a body to this public
// resource (the collection tool posts plain XML, CLT @af67cf9
// TestResultCollectionTool.java:91); the SDK's "gzip" goes to the internal
// resource and to /api entities (SDK @1c159e8 OctaneRestClientImpl.java:276-288).
// So this value is the documented one, and a server that refuses it gets the
// payload uncompressed (PostTestResults).
const testResultsEncoding = "application/gzip"

// PostTestResults sends one test-results XML payload, given gzip-compressed,
// and returns the task. With Compression gzip (the default) the bytes go as
// they are, with Content-Encoding: application/gzip; with none, or once this
// client fell back, they are decompressed and sent plain.
//
// Fall-back: when Octane answers a compressed payload with 415 or 400, the
// payload is sent again once, uncompressed. If that is accepted, Octane cannot
// take compressed payloads, and every later payload of this client goes
// uncompressed (logged once, as a warning). If it is refused too, its error is
// returned (a 400 for an invalid payload, say) and nothing changes.
//
// The bytes are sent unchanged on every attempt, so a request whose answer
// was lost is sent again: Octane answers an identical payload with the
// original task, and no run is created twice.
func (c *Client) PostTestResults(ctx context.Context, gzipped []byte, skipErrors bool) (Task, error) {
	if len(gzipped) < 18 || gzipped[0] != 0x1f || gzipped[1] != 0x8b {
		return Task{}, errors.New("octane: post test-results: the payload is not gzip data (use Gzip)")
	}
	t, err := c.postCompressedOrPlain(ctx, gzipped, skipErrors)
	if err == nil && !t.Done() {
		c.posted.Store(t.ID, len(gzipped)) // for WaitTask's first poll
	}
	return t, err
}

// postCompressedOrPlain sends the payload compressed or plain, and falls back
// to plain, as PostTestResults says.
func (c *Client) postCompressedOrPlain(ctx context.Context, gzipped []byte, skipErrors bool) (Task, error) {
	if c.cfg.Compression == CompressionNone || c.plain.Load() {
		return c.postPlain(ctx, gzipped, skipErrors)
	}
	t, err := c.postTestResults(ctx, gzipped, testResultsEncoding, skipErrors)
	var e *Error
	if err == nil || !errors.As(err, &e) || (e.Status != http.StatusUnsupportedMediaType && e.Status != http.StatusBadRequest) {
		return t, err
	}
	t, perr := c.postPlain(ctx, gzipped, skipErrors)
	if perr != nil {
		return t, perr
	}
	if c.plain.CompareAndSwap(false, true) {
		c.log.Warn("octane: Octane refused a compressed test-results payload and took it uncompressed; this target's payloads go uncompressed from now on (set compression: none to skip the first try)",
			"url", c.wsURL+"/test-results", "status", e.Status, "error", e.Error())
	}
	return t, nil
}

// postPlain decompresses a payload and sends it without Content-Encoding.
func (c *Client) postPlain(ctx context.Context, gzipped []byte, skipErrors bool) (Task, error) {
	plain, err := gunzip(gzipped)
	if err != nil {
		return Task{}, fmt.Errorf("octane: post test-results: %w", err)
	}
	return c.postTestResults(ctx, plain, "", skipErrors)
}

func (c *Client) postTestResults(ctx context.Context, body []byte, encoding string, skipErrors bool) (Task, error) {
	u := c.wsURL + "/test-results"
	resp, err := c.do(ctx, &request{
		method: http.MethodPost, url: u, query: fmt.Sprintf("skip-errors=%t", skipErrors),
		body: body, contentType: "application/xml", contentEncoding: encoding,
		resendable: true,
	})
	if err != nil {
		return Task{}, fmt.Errorf("octane: post test-results: %w", err)
	}
	var t taskJSON
	if err := decodeJSON(resp, &t); err != nil {
		return Task{}, fmt.Errorf("octane: post test-results: %w", c.badBody(http.MethodPost, u, resp, err))
	}
	if t.ID == "" {
		return Task{}, fmt.Errorf("octane: post test-results: %w", &Error{Method: http.MethodPost, URL: u, Status: resp.status, Description: "answer without a task id"})
	}
	return t.value(), nil
}

// Task reads the state of a test-results task.
func (c *Client) Task(ctx context.Context, id string) (Task, error) {
	if id == "" {
		return Task{}, errors.New("octane: task: empty id")
	}
	u := c.wsURL + "/test-results/" + url.PathEscape(id)
	resp, err := c.do(ctx, &request{method: http.MethodGet, url: u, resendable: true})
	if err != nil {
		return Task{}, fmt.Errorf("octane: task %s: %w", id, err)
	}
	var t taskJSON
	dec := json.NewDecoder(bytes.NewReader(resp.body))
	if looksHTML(resp.header.Get("Content-Type"), resp.body) || dec.Decode(&t) != nil {
		return Task{}, fmt.Errorf("octane: task %s: %w", id, c.badBody(http.MethodGet, u, resp, errors.New("not a task status")))
	}
	if t.ID == "" {
		t.ID = entityID(id)
	}
	return t.value(), nil
}

// WaitTask polls a task until it is done (success, warning or failed), doubling
// the interval up to Poll.Max. It stops when ctx ends.
//
// A task this client posted is first polled after an interval that grows with
// its payload (firstPoll: a small payload is looked at after 100 ms, one of
// 256 KiB or more after Poll.Min), so that a post-build step of one build ends
// well within a second against a fast Octane while a large payload costs no
// more polls than before. A task posted by an earlier run is polled at once:
// it may well be done.
//
// A status it does not know (neither queued, running nor terminal: Octane may
// have more than the five seen in the clients' code, shared/octane-api.md
// section 13) is taken as not final, for at most Poll.MaxUnknown answers in a
// row. Then WaitTask returns the task as Octane last described it, with a nil
// error: its Status is Octane's own word (so Done is false and the caller
// counts the payload as failed), and its ErrorDetails is Octane's errorDetails
// followed by what happened, or only what happened when Octane gave none.
func (c *Client) WaitTask(ctx context.Context, id string) (Task, error) {
	wait := c.cfg.Poll.Min
	unknown := 0
	begin := time.Now()
	if size, ok := c.posted.LoadAndDelete(id); ok {
		first := firstPoll(size.(int), c.cfg.Poll.Min)
		timer := time.NewTimer(first)
		select {
		case <-timer.C:
		case <-ctx.Done():
			timer.Stop()
			return Task{ID: id}, fmt.Errorf("octane: task %s: %w", id, ctx.Err())
		}
		wait = min(2*first, c.cfg.Poll.Max)
	}
	for {
		t, err := c.Task(ctx, id)
		if err != nil {
			return t, err
		}
		if t.Done() {
			if t.Status != TaskSuccess {
				c.log.Warn("octane: test-results task ended with "+t.Status, "task", t.ID, "details", oneLine(c.scrub(t.ErrorDetails), maxDescription))
			}
			return t, nil
		}
		if t.pending() {
			unknown = 0
		} else if unknown++; unknown >= c.cfg.Poll.MaxUnknown {
			what := fmt.Sprintf("status %q is not one octane-import knows (queued, running, success, warning, failed); it was still %q after %d polls (%s): counted as failed",
				t.Status, t.Status, unknown, time.Since(begin).Round(time.Second))
			if t.ErrorDetails == "" {
				t.ErrorDetails = what
			} else {
				t.ErrorDetails += " [" + what + "]"
			}
			c.log.Warn("octane: test-results task in an unknown status; giving up on it", "task", t.ID, "status", t.Status, "polls", unknown,
				"details", oneLine(c.scrub(t.ErrorDetails), maxDescription))
			return t, nil
		}
		timer := time.NewTimer(wait)
		select {
		case <-timer.C:
		case <-ctx.Done():
			timer.Stop()
			return t, fmt.Errorf("octane: task %s still %s: %w", id, t.Status, ctx.Err())
		}
		wait = min(2*wait, c.cfg.Poll.Max)
	}
}

// firstPoll is how long WaitTask waits before it first asks about a task this client
// posted: Poll.Min for a payload of 256 KiB or more (gzipped), proportionally less for a
// smaller one, and never less than 100 ms. Octane's processing time is not documented
// (shared/octane-api.md section 13); it grows with the runs a payload holds, and the
// stand-in's does too.
func firstPoll(size int, pollMin time.Duration) time.Duration {
	const full = 256 << 10
	d := time.Duration(int64(pollMin) * int64(min(size, full)) / full)
	return min(max(d, 100*time.Millisecond), pollMin)
}

// FitID returns id as the client sends it: unchanged when it has at most 255
// characters, else a prefix plus a hash of the whole (deterministic).
func FitID(id string) string {
	id, _, _ = cleanXML(id)
	s, _ := shortenID(id, MaxName)
	return s
}
