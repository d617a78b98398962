package sandbox

import (
	"bytes"
	"cmp"
	"crypto/sha256"
	_ "embed"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"html/template"
	"iter"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// The read-only web pages: what the stand-in holds, for a person.
//
//	/                 overview: CI servers, pipelines and their jobs, builds
//	                  newest first (filter: status, text, server, job), tasks
//	                  that did not succeed, and how to connect the importer;
//	                  with nothing stored, only how to connect
//	/builds/{id}      one build (id of its ci_build) and its test runs,
//	                  failures first (filter: status, text)
//	/runs             every test run, newest first (filter: status, text,
//	                  build=none for runs stored without a build)
//
// Lists show a page of rows and a "show more" link (n=…), so that a page stays
// small with any number of runs. The pages are server-rendered and work
// without JavaScript; page.js adds a refresh in place (button and optional
// auto-refresh) and filters that apply as you type, keeping the reader's
// place. Only the inline style and script whose hashes are in the
// Content-Security-Policy run; nothing is loaded from elsewhere.

const (
	buildsPerPage = 100  // builds listed before "show more"
	runsPerPage   = 200  // runs listed before "show more"
	maxListed     = 5000 // most rows one page lists, whatever n says
	maxQueryLen   = 200  // longest text filter
	messageShort  = 240  // characters of an error message shown unfolded
	tasksListed   = 20   // tasks that did not succeed, listed on the overview
)

// defaultPageRefresh is the auto-refresh period.
const defaultPageRefresh = 5 * time.Second

var (
	//go:embed page.html
	pageHTML string
	//go:embed page.css
	pageCSS string
	//go:embed page.js
	pageJS string

	pageTemplates = template.Must(template.New("page").Funcs(template.FuncMap{
		"plural":     plural,
		"filterArgs": filterArgs,
	}).Parse(pageHTML))

	// pageCSP allows the page's own inline style and script (by hash), fetch
	// to this server, and nothing else.
	pageCSP = fmt.Sprintf("default-src 'none'; style-src '%s'; script-src '%s'; connect-src 'self'; img-src data:; "+
		"form-action 'self'; base-uri 'none'; frame-ancestors 'none'", cspHash(pageCSS), cspHash(pageJS))
)

func cspHash(s string) string {
	sum := sha256.Sum256([]byte(s))
	return "sha256-" + base64.StdEncoding.EncodeToString(sum[:])
}

// plural is "1 build", "2 builds".
func plural(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return strconv.Itoa(n) + " " + many
}

// filterForm is what the "filter" template needs.
type filterForm struct {
	Path               string
	F                  listQuery
	Filtered           bool
	StatusOptions      []option
	Placeholder, Clear string
}

// filterArgs makes the filter form of a list at path. Its "clear" link drops
// the status and text but keeps the scope (server, job, build=none).
func filterArgs(path string, f listQuery, opts []option, placeholder string) filterForm {
	scope := f
	scope.Status, scope.Q = "", ""
	return filterForm{Path: path, F: f, Filtered: f.Status != "" || f.Q != "", StatusOptions: opts,
		Placeholder: placeholder, Clear: link(path, scope.values(0))}
}

// isPagePath says whether path is one of the HTML pages.
func isPagePath(p string) bool {
	if p == "/" || p == "/runs" {
		return true
	}
	id, ok := strings.CutPrefix(p, "/builds/")
	return ok && id != "" && strings.Trim(id, "0123456789") == ""
}

// pageBase is what every page shows around its content.
type pageBase struct {
	Title        string
	Nav          string // "overview" or "runs": the current navigation entry
	Self         string // this page's path and query: the refresh link
	Updated      string // when the page was rendered (UTC)
	RefreshMS    int64
	RefreshEvery string
	Conn         connInfo
	CSS          template.CSS
	JS           template.JS
}

// connInfo is how to point octane-import at this server: the URL the browser
// used, and the shared space, workspace and first API key of the Options.
type connInfo struct {
	URL, SharedSpace, Workspace, ClientID, Secret string
	Config, Commands                              string
}

type option struct {
	Value, Label string
	Selected     bool
}

// listQuery is the filter and length of a list, from the query string.
type listQuery struct {
	Status, Q   string
	Server, Job string // overview: builds of one server or job (ci ids)
	Build       string // /runs: "none" lists runs without a build
	N           int    // rows to list
	nGiven      bool
}

func (q listQuery) filtered() bool {
	return q.Status != "" || q.Q != "" || q.Server != "" || q.Job != ""
}

// values is the query string for q, with n replaced by n (0: left out).
func (q listQuery) values(n int) url.Values {
	v := url.Values{}
	for k, s := range map[string]string{"status": q.Status, "q": q.Q, "server": q.Server, "job": q.Job, "build": q.Build} {
		if s != "" {
			v.Set(k, s)
		}
	}
	if n > 0 {
		v.Set("n", strconv.Itoa(n))
	}
	return v
}

func link(path string, v url.Values) string {
	if len(v) == 0 {
		return path
	}
	return path + "?" + v.Encode()
}

// pageError is a bad request for a page: a wrong filter or an unknown build.
type pageError struct {
	code             int
	heading, message string
}

// parseListQuery reads status, q and n (and the extra keys) from r. A status
// not in statuses, or an n that is not a positive number, is a 400: the
// links and forms of the pages never make one, so it is a hand-edited URL
// that deserves to be told rather than silently ignored.
func parseListQuery(r *http.Request, statuses []option, defN int, extra ...string) (listQuery, *pageError) {
	v := r.URL.Query()
	q := listQuery{Status: v.Get("status"), Q: strings.TrimSpace(v.Get("q")), N: defN}
	if q.Status != "" && !slices.ContainsFunc(statuses, func(o option) bool { return o.Value == q.Status }) {
		var valid []string
		for _, o := range statuses[1:] {
			valid = append(valid, o.Value)
		}
		return q, &pageError{http.StatusBadRequest, "Unknown status filter",
			fmt.Sprintf("status=%q is not one of %s.", q.Status, strings.Join(valid, ", "))}
	}
	if utf8.RuneCountInString(q.Q) > maxQueryLen {
		return q, &pageError{http.StatusBadRequest, "Text filter too long",
			fmt.Sprintf("The text filter has %d characters; at most %d are taken.", utf8.RuneCountInString(q.Q), maxQueryLen)}
	}
	if s := v.Get("n"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n <= 0 {
			return q, &pageError{http.StatusBadRequest, "Bad list length", fmt.Sprintf("n=%q is not a positive number of rows.", s)}
		}
		q.N, q.nGiven = min(n, maxListed), true
	}
	for _, k := range extra {
		switch k {
		case "server":
			q.Server = v.Get(k)
		case "job":
			q.Job = v.Get(k)
		case "build":
			q.Build = v.Get(k)
			if q.Build != "" && q.Build != "none" {
				return q, &pageError{http.StatusBadRequest, "Bad build filter",
					fmt.Sprintf("build=%q: only build=none (runs stored without a build) is known; a build's runs are on its own page.", q.Build)}
			}
		}
	}
	return q, nil
}

// matchText says whether any of fields contains the lower-case needle,
// ignoring case.
func matchText(needle string, fields ...string) bool {
	if needle == "" {
		return true
	}
	for _, f := range fields {
		if containsLower(f, needle) {
			return true
		}
	}
	return false
}

// containsLower is strings.Contains(strings.ToLower(s), needle) without the
// copy when s is ASCII (the common case, and the cost of a text filter over
// many runs).
func containsLower(s, needle string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			return strings.Contains(strings.ToLower(s), needle)
		}
	}
	n := len(needle)
	for i := 0; i+n <= len(s); i++ {
		j := 0
		for ; j < n; j++ {
			c := s[i+j]
			if 'A' <= c && c <= 'Z' {
				c += 'a' - 'A'
			}
			if c != needle[j] {
				break
			}
		}
		if j == n {
			return true
		}
	}
	return false
}

// servePage renders the read-only HTML pages (see the list at the top).
func (s *Server) servePage(w http.ResponseWriter, r *http.Request) {
	drain(r)
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, r.Method+" "+r.URL.Path+": this page is read-only; it takes GET and HEAD", http.StatusMethodNotAllowed)
		return
	}
	base := s.pageBase(r)
	var (
		name string
		data any
		perr *pageError
	)
	switch p := r.URL.Path; {
	case p == "/":
		name = "overview"
		data, perr = s.overviewPage(r, base)
	case p == "/runs":
		name = "runs"
		data, perr = s.runsPage(r, base)
	default:
		name = "build"
		data, perr = s.buildPage(r, base, strings.TrimPrefix(p, "/builds/"))
	}
	code := http.StatusOK
	if perr != nil {
		base.Title, base.Nav = perr.heading, ""
		name, code = "error", perr.code
		data = struct {
			pageBase
			Heading, Message string
		}{base, perr.heading, perr.message}
	}
	var buf bytes.Buffer
	if err := pageTemplates.ExecuteTemplate(&buf, name, data); err != nil {
		http.Error(w, "cannot render the page: "+err.Error(), http.StatusInternalServerError)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Content-Security-Policy", pageCSP)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("Cache-Control", "no-store")
	h.Set("Content-Length", strconv.Itoa(buf.Len()))
	w.WriteHeader(code)
	if r.Method == http.MethodGet {
		_, _ = w.Write(buf.Bytes())
	}
}

func (s *Server) pageBase(r *http.Request) pageBase {
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	o := s.opts
	c := connInfo{URL: scheme + "://" + r.Host, SharedSpace: o.SharedSpace, Workspace: o.Workspace,
		ClientID: o.Credentials[0].ID, Secret: o.Credentials[0].Secret}
	// JSON strings are YAML double-quoted scalars, so any value is safe in
	// the snippet; the secret goes through the environment, never the file.
	q := func(s string) string { b, _ := json.Marshal(s); return string(b) }
	c.Config = "targets:\n  - name: sandbox\n    url: " + q(c.URL) + "\n    shared_space: " + q(c.SharedSpace) +
		"\n    workspace: " + q(c.Workspace) + "\n    client_id: " + q(c.ClientID) +
		"\n    client_secret: ${env:OCTANE_CLIENT_SECRET}\n"
	c.Commands = "export OCTANE_CLIENT_SECRET=" + shellQuote(c.Secret) + "\noctane-import scan testdata/builds"
	s.mu.Lock()
	every, now := s.pageRefresh, s.now()
	s.mu.Unlock()
	if every <= 0 {
		every = defaultPageRefresh
	}
	return pageBase{Self: r.URL.RequestURI(), Updated: now.UTC().Format("15:04:05") + " UTC",
		RefreshMS: every.Milliseconds(), RefreshEvery: every.String(), Conn: c,
		CSS: template.CSS(pageCSS), JS: template.JS(pageJS)}
}

// shellQuote quotes s for a POSIX shell when it needs it.
func shellQuote(s string) string {
	if s != "" && strings.Trim(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.,:/@%+=") == "" {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// now is the page's clock (tests fix it). The caller holds s.mu.
func (s *Server) now() time.Time {
	if s.clock != nil {
		return s.clock()
	}
	return time.Now()
}

// ---- overview

type serverRow struct {
	ID, InstanceID, Name, Type, URL, Link string
	Builds                                int
}

type jobRow struct {
	CIID, Name, Link string
	Builds           int
}

type pipelineRow struct {
	ID, Name, Server string
	Jobs             []jobRow
}

// buildRow is one build as the pages show it.
type buildRow struct {
	ID, Link                       string
	ServerCIID, ServerName         string
	JobCIID, JobName, JobLink      string
	Pipeline                       string
	BuildCIID, Name                string
	Started, Duration              string
	Status, Result                 string
	Runs                           int
	Passed, Failed, Skipped, Other int
	Puts                           int
	Causes                         []Cause
	Parameters                     []Parameter

	start int64
	seq   int
}

type overviewData struct {
	pageBase
	Empty                  bool
	Servers                []serverRow
	Pipelines              []pipelineRow
	F                      listQuery
	Filtered               bool
	StatusOptions          []option
	FilterNote             string
	Builds                 []buildRow
	Matched, TotalBuilds   int
	More                   string
	MoreN                  int
	TotalRuns, Unlinked    int
	Tasks                  []Task
	TaskCount, TaskTrouble int
	TaskSummary            string
}

// buildFilters are the status filter's values on the overview: a result, a
// status, or builds with failed runs.
var buildFilters = []option{
	{"", "all builds", false},
	{"failure", "result failure", false},
	{"unstable", "result unstable", false},
	{"success", "result success", false},
	{"aborted", "result aborted", false},
	{"unavailable", "result unavailable", false},
	{"failed-tests", "with failed test runs", false},
	{"running", "running or queued", false},
}

func buildMatches(status string, b *buildRow) bool {
	switch status {
	case "":
		return true
	case "failed-tests":
		return b.Failed > 0
	case "running":
		return b.Status == "running" || b.Status == "queued"
	}
	return b.Result == status
}

// pageSnapshot is what the pages need from the store, read under one lock so
// that a page is consistent.
type pageSnapshot struct {
	servers   []serverRow
	pipelines []pipelineRow
	builds    []buildRow // newest first
	totalRuns int
	unlinked  int
}

// newestFirst orders builds by start time, then build ci id, then first PUT,
// each descending.
func newestFirst(a, b buildRow) int {
	return cmp.Or(cmp.Compare(b.start, a.start), strings.Compare(b.BuildCIID, a.BuildCIID), cmp.Compare(b.seq, a.seq))
}

// snapshot reads servers, pipelines and builds (with their run counts).
// The caller holds s.mu.
func (s *Server) snapshot() pageSnapshot {
	var snap pageSnapshot
	serverByIID := map[string]*entity{}
	serverNames := map[string]string{}
	for _, e := range s.ents["ci_server"] {
		iid := str(e, "instance_id")
		serverByIID[iid] = e
		serverNames[e.id] = str(e, "name")
	}
	type jobInfo struct{ name, pipeline string }
	jobs := map[[2]string]jobInfo{} // (server entity id, ci id)
	pipelineNames := map[string]string{}
	for _, e := range s.ents["pipeline"] {
		pipelineNames[e.id] = str(e, "name")
	}
	for _, e := range s.ents["ci_job"] {
		jobs[[2]string{refID(e, "ci_server"), str(e, "ci_id")}] = jobInfo{str(e, "name"), pipelineNames[refID(e, "pipeline")]}
	}
	buildsOf := map[[2]string]int{} // (instance id, job ci id)
	buildsOfServer := map[string]int{}
	for _, rec := range s.buildSeq {
		b := rec.Build
		sv := serverByIID[b.ServerCIID]
		svID := ""
		if sv != nil {
			svID = sv.id
		}
		j := jobs[[2]string{svID, b.JobCIID}]
		row := buildRow{ID: rec.entity.id, Link: "/builds/" + rec.entity.id,
			ServerCIID: b.ServerCIID, ServerName: str(sv, "name"), JobCIID: b.JobCIID, JobName: j.name,
			JobLink: link("/", url.Values{"server": {b.ServerCIID}, "job": {b.JobCIID}}), Pipeline: j.pipeline,
			BuildCIID: b.BuildCIID, Name: b.Name, Status: b.Status, Result: b.Result, Puts: b.Puts,
			Started: time.UnixMilli(b.StartTime).UTC().Format("2006-01-02 15:04:05"), Duration: "–",
			Causes: b.Causes, Parameters: b.Parameters, start: b.StartTime, seq: rec.seq}
		if rec.entity.fields()["duration"] != nil {
			row.Duration = formatMS(b.Duration)
		}
		if br := s.byBuild[buildKey{b.ServerCIID, b.JobCIID, b.BuildCIID}]; br != nil {
			row.Runs, row.Passed, row.Failed, row.Skipped, row.Other = len(br.runs), br.passed, br.failed, br.skipped, br.other
		}
		buildsOf[[2]string{b.ServerCIID, b.JobCIID}]++
		buildsOfServer[b.ServerCIID]++
		snap.builds = append(snap.builds, row)
	}
	slices.SortStableFunc(snap.builds, newestFirst)
	for _, e := range s.ents["ci_server"] {
		iid := str(e, "instance_id")
		snap.servers = append(snap.servers, serverRow{ID: e.id, InstanceID: iid, Name: str(e, "name"),
			Type: str(e, "server_type"), URL: str(e, "url"), Link: link("/", url.Values{"server": {iid}}),
			Builds: buildsOfServer[iid]})
	}
	for _, e := range s.ents["pipeline"] {
		svID := refID(e, "ci_server")
		iid := str(s.get("ci_server", svID), "instance_id")
		p := pipelineRow{ID: e.id, Name: str(e, "name"), Server: serverNames[svID]}
		root := str(e, "root_job_ci_id")
		ids := []string{root}
		if list, ok := e.fields()["jobs"].([]any); ok {
			for _, j := range list {
				if m, ok := j.(map[string]any); ok {
					if id := fmt.Sprint(m["jobCiId"]); id != root {
						ids = append(ids, id)
					}
				}
			}
		}
		for _, id := range ids {
			p.Jobs = append(p.Jobs, jobRow{CIID: id, Name: jobs[[2]string{svID, id}].name,
				Link: link("/", url.Values{"server": {iid}, "job": {id}}), Builds: buildsOf[[2]string{iid, id}]})
		}
		snap.pipelines = append(snap.pipelines, p)
	}
	snap.totalRuns, snap.unlinked = len(s.runs), s.unlinked
	return snap
}

func formatMS(ms int64) string {
	return (time.Duration(ms) * time.Millisecond).String()
}

func (s *Server) overviewPage(r *http.Request, base pageBase) (any, *pageError) {
	f, perr := parseListQuery(r, buildFilters, buildsPerPage, "server", "job")
	if perr != nil {
		return nil, perr
	}
	s.mu.Lock()
	snap := s.snapshot()
	tasks := make([]Task, 0, tasksListed)
	taskCount, trouble := len(s.tasks), 0
	byStatus := map[string]int{}
	for i := len(s.tasks) - 1; i >= 0; i-- {
		t := s.tasks[i]
		byStatus[t.status]++
		if t.status == TaskSuccess {
			continue
		}
		trouble++
		if len(tasks) < tasksListed {
			tasks = append(tasks, Task{ID: t.id, Status: t.status, ErrorDetails: strings.Join(t.details, "\n"),
				SkipErrors: t.skipErrors, Runs: t.runs, Posts: t.posts})
		}
	}
	s.mu.Unlock()

	d := overviewData{pageBase: base, Servers: snap.servers, Pipelines: snap.pipelines, F: f, Filtered: f.filtered(),
		TotalBuilds: len(snap.builds), TotalRuns: snap.totalRuns, Unlinked: snap.unlinked,
		Tasks: tasks, TaskCount: taskCount, TaskTrouble: trouble}
	d.Title, d.Nav = "Overview", "overview"
	d.Empty = len(snap.servers) == 0 && len(snap.builds) == 0 && snap.totalRuns == 0 && taskCount == 0
	if d.Empty {
		d.Title = "Nothing imported yet"
		return d, nil
	}
	var parts []string
	for _, st := range []string{TaskSuccess, TaskWarning, TaskFailed, TaskRunning, TaskQueued} {
		if n := byStatus[st]; n > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", n, st))
		}
	}
	d.TaskSummary = strings.Join(parts, ", ")

	// The scope (server, job) narrows the builds before the status counts.
	needle := strings.ToLower(f.Q)
	var scoped []*buildRow
	for i := range snap.builds {
		b := &snap.builds[i]
		if (f.Server == "" || b.ServerCIID == f.Server) && (f.Job == "" || b.JobCIID == f.Job) &&
			matchText(needle, b.ServerCIID, b.ServerName, b.JobCIID, b.JobName, b.Pipeline, b.BuildCIID, b.Name) {
			scoped = append(scoped, b)
		}
	}
	for _, o := range buildFilters {
		n := 0
		for _, b := range scoped {
			if buildMatches(o.Value, b) {
				n++
			}
		}
		o.Label = fmt.Sprintf("%s (%d)", o.Label, n)
		o.Selected = o.Value == f.Status
		d.StatusOptions = append(d.StatusOptions, o)
	}
	switch {
	case f.Server != "" && f.Job != "":
		d.FilterNote = fmt.Sprintf("Builds of job %s on server %s.", f.Job, f.Server)
	case f.Server != "":
		d.FilterNote = fmt.Sprintf("Builds of server %s.", f.Server)
	case f.Job != "":
		d.FilterNote = fmt.Sprintf("Builds of job %s.", f.Job)
	}
	for _, b := range scoped {
		if !buildMatches(f.Status, b) {
			continue
		}
		d.Matched++
		if len(d.Builds) < f.N {
			d.Builds = append(d.Builds, *b)
		}
	}
	if d.Matched > len(d.Builds) && len(d.Builds) < maxListed {
		d.MoreN = min(buildsPerPage, d.Matched-len(d.Builds), maxListed-len(d.Builds))
		d.More = link("/", f.values(len(d.Builds)+d.MoreN)) + "#b" + d.Builds[len(d.Builds)-1].ID
	}
	return d, nil
}

// ---- runs

// runRow is one test run as the pages show it.
type runRow struct {
	ID, Status, Name, Where, Duration string
	HasError                          bool
	Short, Message                    string // Message only when Short is a cut of it
	ErrorType, ErrorBody              string
	BuildLink, BuildLabel             string
}

// Folded says whether the run has more to show than its short message.
func (r runRow) Folded() bool { return r.Message != "" || r.ErrorType != "" || r.ErrorBody != "" }

// runList is a list of runs with its filter, for a build or for /runs.
type runList struct {
	Path          string // where the filter form and "show more" go
	F             listQuery
	Filtered      bool
	StatusOptions []option
	Rows          []runRow
	Matched       int
	Total         int
	More          string
	MoreN         int
	WithBuild     bool   // a build column (on /runs)
	Order         string // how the rows are ordered, said above them
}

// runFilters are the status filter's values for runs (the XSD's statuses).
var runFilters = []option{
	{"", "all statuses", false},
	{"Failed", "Failed", false},
	{"Skipped", "Skipped", false},
	{"Passed", "Passed", false},
	{"Planned", "Planned", false},
}

// failuresFirst ranks a status: Failed, then anything else but Skipped and
// Passed (Planned), then Skipped, then Passed.
func failuresFirst(status string) int {
	switch status {
	case "Failed":
		return 0
	case "Skipped":
		return 2
	case "Passed":
		return 3
	}
	return 1
}

func makeRunRow(r *Run, buildLinks map[buildKey]string) runRow {
	row := runRow{ID: r.ID, Status: r.Status, Name: r.Name, Duration: formatMS(r.Duration), HasError: r.HasError,
		ErrorType: r.ErrorType, ErrorBody: r.ErrorBody}
	var where []string
	for _, p := range []string{r.Module, r.Package, r.Class} {
		if p != "" {
			where = append(where, p)
		}
	}
	row.Where = strings.Join(where, " · ")
	if r.HasError {
		msg := r.ErrorMessage
		row.Short = msg
		if i := strings.IndexByte(msg, '\n'); i >= 0 {
			row.Short = strings.TrimRight(msg[:i], "\r")
		}
		if utf8.RuneCountInString(row.Short) > messageShort {
			row.Short = string([]rune(row.Short)[:messageShort])
		}
		if row.Short != msg {
			row.Short += " …"
			row.Message = msg
		}
	}
	if buildLinks != nil && r.BuildCIID != "" {
		row.BuildLink = buildLinks[buildKey{r.ServerCIID, r.JobCIID, r.BuildCIID}]
		row.BuildLabel = r.JobCIID + " #" + r.BuildCIID
	}
	return row
}

// listRuns filters runs (in the order given), counts them by status and
// keeps the first f.N. The caller holds s.mu.
func listRuns(path string, f listQuery, runs iter.Seq[*Run], order string, buildLinks map[buildKey]string, defN int) runList {
	l := runList{Path: path, F: f, Filtered: f.Status != "" || f.Q != "", WithBuild: buildLinks != nil, Order: order}
	needle := strings.ToLower(f.Q)
	counts := map[string]int{}
	var textHits int
	for r := range runs {
		l.Total++
		if !matchText(needle, r.Name, r.Class, r.Package, r.Module, r.ErrorMessage, r.ErrorType) {
			continue
		}
		textHits++
		counts[r.Status]++
		if f.Status != "" && r.Status != f.Status {
			continue
		}
		l.Matched++
		if len(l.Rows) < f.N {
			l.Rows = append(l.Rows, makeRunRow(r, buildLinks))
		}
	}
	for _, o := range runFilters {
		n := counts[o.Value]
		if o.Value == "" {
			n = textHits
		}
		o.Label = fmt.Sprintf("%s (%d)", o.Label, n)
		o.Selected = o.Value == f.Status
		l.StatusOptions = append(l.StatusOptions, o)
	}
	if l.Matched > len(l.Rows) && len(l.Rows) < maxListed {
		l.MoreN = min(defN, l.Matched-len(l.Rows), maxListed-len(l.Rows))
		l.More = link(path, f.values(len(l.Rows)+l.MoreN)) + "#r" + l.Rows[len(l.Rows)-1].ID
	}
	return l
}

type buildData struct {
	pageBase
	B            buildRow
	ServerName   string
	Older, Newer string // links to the neighbours of the same job
	Runs         runList
}

func (s *Server) buildPage(r *http.Request, base pageBase, id string) (any, *pageError) {
	f, perr := parseListQuery(r, runFilters, runsPerPage)
	if perr != nil {
		return nil, perr
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	snap := s.snapshot()
	at := slices.IndexFunc(snap.builds, func(b buildRow) bool { return b.ID == id })
	if at < 0 {
		return nil, &pageError{http.StatusNotFound, "No such build",
			fmt.Sprintf("The sandbox holds no build with id %s. It keeps everything in memory: a restarted sandbox starts empty.", id)}
	}
	d := buildData{pageBase: base}
	d.B = snap.builds[at]
	for i := at - 1; i >= 0; i-- {
		if b := snap.builds[i]; b.ServerCIID == d.B.ServerCIID && b.JobCIID == d.B.JobCIID {
			d.Newer = b.Link
			break
		}
	}
	for i := at + 1; i < len(snap.builds); i++ {
		if b := snap.builds[i]; b.ServerCIID == d.B.ServerCIID && b.JobCIID == d.B.JobCIID {
			d.Older = b.Link
			break
		}
	}
	var runs []*Run
	if br := s.byBuild[buildKey{d.B.ServerCIID, d.B.JobCIID, d.B.BuildCIID}]; br != nil {
		runs = slices.Clone(br.runs)
	}
	slices.SortStableFunc(runs, func(a, b *Run) int { return failuresFirst(a.Status) - failuresFirst(b.Status) })
	d.Runs = listRuns("/builds/"+id, f, slices.Values(runs), "failures first", nil, runsPerPage)
	d.Title = fmt.Sprintf("Build %s of %s", d.B.BuildCIID, d.B.JobCIID)
	return d, nil
}

type runsData struct {
	pageBase
	Runs     runList
	Unlinked int
}

func (s *Server) runsPage(r *http.Request, base pageBase) (any, *pageError) {
	f, perr := parseListQuery(r, runFilters, runsPerPage, "build")
	if perr != nil {
		return nil, perr
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	links := make(map[buildKey]string, len(s.builds))
	for k, rec := range s.builds {
		links[k] = "/builds/" + rec.entity.id
	}
	newestFirst := func(yield func(*Run) bool) {
		for i := len(s.runs) - 1; i >= 0; i-- {
			if (f.Build == "" || s.runs[i].BuildCIID == "") && !yield(s.runs[i]) {
				return
			}
		}
	}
	d := runsData{pageBase: base, Unlinked: s.unlinked}
	d.Runs = listRuns("/runs", f, newestFirst, "newest first", links, runsPerPage)
	d.Title, d.Nav = "All test runs", "runs"
	if f.Build == "none" {
		d.Title = "Test runs without a build"
	}
	return d, nil
}
