package octane_test

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"io"
	"log"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/octane-import/octane-import/octane"
)

// fakeOctane is a small strict Octane written for these tests (section 11 of
// octane-api.md): sign-in with both credential shapes, LWSSO cookie on every
// /api request, Content-Type checks, paged entity reads with the EQ/^^ query
// dialect, bulk creates with unique names, builds upsert, test-results with
// hash dedup and task status.
type fakeOctane struct {
	t   *testing.T
	srv *httptest.Server

	imu sync.Mutex
	// intercept runs first; returning true means it answered.
	intercept func(w http.ResponseWriter, r *http.Request) bool
	// signInDelay slows sign-in so that concurrent callers pile up.
	signInDelay time.Duration

	mu            sync.Mutex
	sessions      map[string]bool
	signIns       int
	signOuts      int
	signInCookies int // sign-ins that arrived with a cookie (must stay 0)
	reqs          []string
	nextID        int
	servers       []map[string]any
	pipelines     []map[string]any
	jobs          []map[string]any
	builds        map[string]map[string]any
	tasks         map[[32]byte]string
	taskStatus    map[string][]string // statuses returned by successive GETs
	taskPosts     int
	payloads      [][]byte
	inFlight      int32
	maxInFlight   int32
	lastHeaders   http.Header
}

const (
	fakeSpace  = "1001"
	fakeWS     = "1002"
	fakeKeyID  = "ci-key-id"
	fakeSecret = "s3cr3t-Key-Value!"
	fakeUser   = "alice@example.com"
	fakePass   = "pa55-Word-Value?"
)

func newFake(t *testing.T) *fakeOctane { return newFakeServer(t, false) }

func newFakeServer(t *testing.T, useTLS bool) *fakeOctane {
	f := &fakeOctane{t: t, sessions: map[string]bool{}, nextID: 5000, builds: map[string]map[string]any{},
		tasks: map[[32]byte]string{}, taskStatus: map[string][]string{}}
	if useTLS {
		f.srv = httptest.NewUnstartedServer(f)
		f.srv.Config.ErrorLog = log.New(io.Discard, "", 0) // the bad-certificate test makes handshakes fail
		f.srv.StartTLS()
	} else {
		f.srv = httptest.NewServer(f)
	}
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fakeOctane) wsPrefix() string {
	return "/api/shared_spaces/" + fakeSpace + "/workspaces/" + fakeWS + "/"
}

// config is a client configuration for this fake with fast retries.
func (f *fakeOctane) config() octane.Config {
	return octane.Config{
		URL: f.srv.URL, SharedSpace: fakeSpace, Workspace: fakeWS,
		ClientID: fakeKeyID, ClientSecret: fakeSecret,
		RateLimit: -1, Concurrency: 8, PageSize: 2,
		Retry:  octane.RetryPolicy{MaxAttempts: 4, MinBackoff: time.Millisecond, MaxBackoff: 5 * time.Millisecond},
		Poll:   octane.PollPolicy{Min: time.Millisecond, Max: 4 * time.Millisecond},
		Logger: slog.New(slog.DiscardHandler),
	}
}

func (f *fakeOctane) client(cfg octane.Config) *octane.Client {
	f.t.Helper()
	c, err := octane.New(cfg)
	if err != nil {
		f.t.Fatalf("New: %v", err)
	}
	return c
}

func (f *fakeOctane) setIntercept(fn func(w http.ResponseWriter, r *http.Request) bool) {
	f.imu.Lock()
	defer f.imu.Unlock()
	f.intercept = fn
}

func (f *fakeOctane) getIntercept() func(w http.ResponseWriter, r *http.Request) bool {
	f.imu.Lock()
	defer f.imu.Unlock()
	return f.intercept
}

func (f *fakeOctane) expireSessions() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.sessions = map[string]bool{}
}

func (f *fakeOctane) count(prefix string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	n := 0
	for _, r := range f.reqs {
		if strings.HasPrefix(r, prefix) {
			n++
		}
	}
	return n
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func errBody(code, desc string) map[string]any {
	return map[string]any{"error_code": code, "description": desc, "correlation_id": "corr-" + code, "business_error": true, "stack_trace": "java.lang.Exception\n\tat x.y(Z.java:1)"}
}

func (f *fakeOctane) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	n := atomic.AddInt32(&f.inFlight, 1)
	defer atomic.AddInt32(&f.inFlight, -1)
	for {
		m := atomic.LoadInt32(&f.maxInFlight)
		if n <= m || atomic.CompareAndSwapInt32(&f.maxInFlight, m, n) {
			break
		}
	}
	f.mu.Lock()
	f.reqs = append(f.reqs, r.Method+" "+r.URL.Path)
	f.lastHeaders = r.Header.Clone()
	f.mu.Unlock()
	if ic := f.getIntercept(); ic != nil && ic(w, r) {
		return
	}
	switch {
	case r.URL.Path == "/authentication/sign_in" && r.Method == http.MethodPost:
		f.signIn(w, r)
		return
	case r.URL.Path == "/authentication/sign_out" && r.Method == http.MethodPost:
		f.mu.Lock()
		f.signOuts++
		if ck, err := r.Cookie("LWSSO_COOKIE_KEY"); err == nil {
			delete(f.sessions, ck.Value)
		}
		f.mu.Unlock()
		http.SetCookie(w, &http.Cookie{Name: "LWSSO_COOKIE_KEY", Value: "", Path: "/", MaxAge: -1})
		w.WriteHeader(http.StatusOK)
		return
	case !strings.HasPrefix(r.URL.Path, f.wsPrefix()):
		writeJSON(w, http.StatusNotFound, errBody("platform.not_found", "no such resource "+r.URL.Path))
		return
	}
	ck, err := r.Cookie("LWSSO_COOKIE_KEY")
	f.mu.Lock()
	ok := err == nil && f.sessions[ck.Value]
	f.mu.Unlock()
	if !ok {
		writeJSON(w, http.StatusUnauthorized, map[string]any{"errorCode": "VALIDATION_TOKEN_EXPIRED_IDLE_TIME_OUT", "accumulatedMessage": "session expired"})
		return
	}
	if r.Header.Get("Accept") != "application/json" {
		writeJSON(w, http.StatusNotAcceptable, errBody("platform.not_acceptable", "send Accept: application/json"))
		return
	}
	rest := strings.TrimPrefix(r.URL.Path, f.wsPrefix())
	switch {
	case rest == "test-results" && r.Method == http.MethodPost:
		f.postTestResults(w, r)
	case strings.HasPrefix(rest, "test-results/") && r.Method == http.MethodGet:
		f.getTask(w, strings.TrimPrefix(rest, "test-results/"))
	case rest == "analytics/ci/builds" && r.Method == http.MethodPut:
		if !f.jsonBody(w, r) {
			return
		}
		f.putBuild(w, r)
	case r.Method == http.MethodGet:
		f.list(w, r, rest)
	case r.Method == http.MethodPost:
		if !f.jsonBody(w, r) {
			return
		}
		f.create(w, r, rest)
	default:
		writeJSON(w, http.StatusMethodNotAllowed, errBody("platform.method_not_allowed", r.Method))
	}
}

func (f *fakeOctane) jsonBody(w http.ResponseWriter, r *http.Request) bool {
	if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		writeJSON(w, http.StatusUnsupportedMediaType, errBody("platform.unsupported_media_type", "Content-Type "+ct+" not supported"))
		return false
	}
	return true
}

func (f *fakeOctane) signIn(w http.ResponseWriter, r *http.Request) {
	if f.signInDelay > 0 {
		time.Sleep(f.signInDelay)
	}
	var body map[string]string
	if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
		writeJSON(w, http.StatusBadRequest, errBody("platform.bad_request", "bad sign-in body"))
		return
	}
	good := body["client_id"] == fakeKeyID && body["client_secret"] == fakeSecret ||
		body["user"] == fakeUser && body["password"] == fakePass ||
		body["user"] == fakeKeyID && body["password"] == fakeSecret
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(r.Cookies()) > 0 {
		f.signInCookies++
	}
	if !good {
		w.WriteHeader(http.StatusUnauthorized)
		return
	}
	f.signIns++
	tok := fmt.Sprintf("tok%d", f.signIns)
	f.sessions[tok] = true
	http.SetCookie(w, &http.Cookie{Name: "LWSSO_COOKIE_KEY", Value: tok, Path: "/", HttpOnly: true})
	http.SetCookie(w, &http.Cookie{Name: "OCTANE_USER", Value: "u", Path: "/"})
	w.WriteHeader(http.StatusOK)
}

var (
	reQueryStr = regexp.MustCompile(`^(\w+) EQ \^((?:\\.|[^\\^])*)\^$`)
	reQueryRef = regexp.MustCompile(`^(\w+) EQ \{id EQ (\d+)\}$`)
	reUnescape = regexp.MustCompile(`\\(.)`)
)

// match reports whether entity e satisfies an EQ query (AND of phrases).
func match(e map[string]any, query string) bool {
	query = strings.Trim(query, `"`)
	if query == "" {
		return true
	}
	for _, phrase := range strings.Split(query, ";") {
		if m := reQueryStr.FindStringSubmatch(phrase); m != nil {
			if fmt.Sprint(e[m[1]]) != reUnescape.ReplaceAllString(m[2], "$1") {
				return false
			}
			continue
		}
		if m := reQueryRef.FindStringSubmatch(phrase); m != nil {
			ref, _ := e[m[1]].(map[string]any)
			if ref == nil || ref["id"] != m[2] {
				return false
			}
			continue
		}
		panic("fake: unsupported query " + phrase)
	}
	return true
}

func (f *fakeOctane) collection(name string) *[]map[string]any {
	switch name {
	case "ci_servers":
		return &f.servers
	case "pipelines":
		return &f.pipelines
	case "ci_jobs":
		return &f.jobs
	}
	return nil
}

func (f *fakeOctane) list(w http.ResponseWriter, r *http.Request, name string) {
	q := r.URL.Query()
	limit, err := strconv.Atoi(q.Get("limit"))
	if err != nil || limit < 1 || limit > 1000 {
		writeJSON(w, http.StatusBadRequest, errBody("platform.invalid_limit", "limit must be 1..1000"))
		return
	}
	offset, _ := strconv.Atoi(q.Get("offset"))
	f.mu.Lock()
	defer f.mu.Unlock()
	coll := f.collection(name)
	if name == "pipeline_nodes" {
		// One node per job that belongs to a pipeline, with fields=ci_job{ci_id}.
		nodes := []map[string]any{}
		for _, j := range f.jobs {
			if j["pipeline"] != nil {
				nodes = append(nodes, map[string]any{"type": "pipeline_node", "pipeline": j["pipeline"],
					"ci_job": map[string]any{"type": "ci_job", "id": j["id"], "ci_id": j["ci_id"]}})
			}
		}
		coll = &nodes
	}
	if coll == nil {
		writeJSON(w, http.StatusNotFound, errBody("platform.not_found", name))
		return
	}
	var all []map[string]any
	for _, e := range *coll {
		if match(e, q.Get("query")) {
			all = append(all, e)
		}
	}
	page := []map[string]any{}
	if offset < len(all) {
		page = all[offset:min(offset+limit, len(all))]
	}
	writeJSON(w, http.StatusOK, map[string]any{"total_count": len(all), "data": page})
}

func (f *fakeOctane) create(w http.ResponseWriter, r *http.Request, name string) {
	var body struct {
		Data []map[string]any `json:"data"`
	}
	if err := json.NewDecoder(r.Body).Decode(&body); err != nil || len(body.Data) == 0 {
		writeJSON(w, http.StatusBadRequest, errBody("platform.bad_request", "expected {\"data\":[…]}"))
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	coll := f.collection(name)
	if coll == nil {
		writeJSON(w, http.StatusNotFound, errBody("platform.not_found", name))
		return
	}
	var created []map[string]any
	var errs []map[string]any
	for i, e := range body.Data {
		dup := false
		if name != "ci_jobs" {
			for _, x := range *coll {
				if x["name"] == e["name"] {
					dup = true
				}
			}
		} else {
			for _, x := range *coll {
				if x["ci_id"] == e["ci_id"] && fmt.Sprint(x["ci_server"]) == fmt.Sprint(e["ci_server"]) {
					dup = true
				}
			}
		}
		if dup {
			eb := errBody(octane.CodeDuplicateEntity, "A "+name+" with this name already exists.")
			eb["index"], eb["entity_index"] = i, i
			errs = append(errs, eb)
			continue
		}
		f.nextID++
		e["id"] = strconv.Itoa(f.nextID)
		e["type"] = strings.TrimSuffix(name, "s")
		if name == "pipelines" {
			jobs, _ := e["jobs"].([]any)
			for _, j := range jobs {
				jm := j.(map[string]any)
				f.nextID++
				job := map[string]any{"id": strconv.Itoa(f.nextID), "type": "ci_job", "ci_id": jm["jobCiId"], "name": jm["name"],
					"ci_server": e["ci_server"], "pipeline": map[string]any{"type": "pipeline", "id": e["id"]}}
				f.jobs = append(f.jobs, job)
				if jm["jobCiId"] == e["root_job_ci_id"] {
					e["root_job"] = map[string]any{"type": "ci_job", "id": job["id"]}
				}
			}
		}
		*coll = append(*coll, e)
		created = append(created, e)
	}
	if len(errs) > 0 {
		writeJSON(w, http.StatusConflict, map[string]any{"errors": errs, "data": created, "total_count": len(created)})
		return
	}
	writeJSON(w, http.StatusCreated, map[string]any{"total_count": len(created), "data": created})
}

func (f *fakeOctane) putBuild(w http.ResponseWriter, r *http.Request) {
	var b map[string]any
	if err := json.NewDecoder(r.Body).Decode(&b); err != nil {
		writeJSON(w, http.StatusBadRequest, errBody("platform.bad_request", "build must be one JSON object"))
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	known := false
	for _, s := range f.servers {
		if s["instance_id"] == b["serverCiId"] {
			known = true
		}
	}
	if !known {
		writeJSON(w, http.StatusNotFound, errBody("ci.unknown_server", fmt.Sprintf("no ci_server with instance id %v", b["serverCiId"])))
		return
	}
	f.builds[fmt.Sprint(b["serverCiId"], "/", b["jobCiId"], "/", b["buildCiId"])] = b
	writeJSON(w, http.StatusOK, map[string]any{})
}

func (f *fakeOctane) postTestResults(w http.ResponseWriter, r *http.Request) {
	if ct := r.Header.Get("Content-Type"); ct != "application/xml" {
		writeJSON(w, http.StatusUnsupportedMediaType, errBody("platform.unsupported_media_type", "test-results needs application/xml, not "+ct))
		return
	}
	raw, _ := io.ReadAll(r.Body)
	body := raw
	if ce := r.Header.Get("Content-Encoding"); ce == "gzip" || ce == "application/gzip" {
		zr, err := gzip.NewReader(bytes.NewReader(raw))
		if err == nil {
			body, err = io.ReadAll(zr)
		}
		if err != nil {
			writeJSON(w, http.StatusBadRequest, errBody("testbox.bad_gzip", err.Error()))
			return
		}
	}
	if !bytes.Contains(body, []byte("<test_result>")) {
		writeJSON(w, http.StatusBadRequest, errBody("testbox.xsd_validation", "cvc-elt.1: Cannot find the declaration of element"))
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.payloads = append(f.payloads, raw)
	h := sha256.Sum256(body)
	id, ok := f.tasks[h]
	if !ok {
		f.taskPosts++
		f.nextID++
		id = strconv.Itoa(f.nextID)
		f.tasks[h] = id
		f.taskStatus[id] = []string{"queued", "running", "success"}
	}
	writeJSON(w, http.StatusAccepted, map[string]any{"status": "queued", "id": json.Number(id)})
}

func (f *fakeOctane) getTask(w http.ResponseWriter, id string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	st, ok := f.taskStatus[id]
	if !ok {
		writeJSON(w, http.StatusNotFound, errBody("platform.not_found", "no task "+id))
		return
	}
	cur := st[0]
	if len(st) > 1 {
		f.taskStatus[id] = st[1:]
	}
	out := map[string]any{"id": json.Number(id), "status": cur}
	if cur == "failed" || cur == "warning" {
		out["errorDetails"] = "release_ref id 2147483647 not found"
	}
	writeJSON(w, http.StatusOK, out)
}

// dropConnection closes the connection without an answer.
func dropConnection(t *testing.T, w http.ResponseWriter) {
	hj, ok := w.(http.Hijacker)
	if !ok {
		t.Error("response writer cannot hijack")
		return
	}
	conn, _, err := hj.Hijack()
	if err != nil {
		t.Errorf("hijack: %v", err)
		return
	}
	_ = conn.Close()
}

// sha is the dedup key the fake uses for an uncompressed payload.
func sha(payload string) [32]byte { return sha256.Sum256([]byte(payload)) }
