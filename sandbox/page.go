package sandbox

import (
	"bytes"
	"html/template"
	"net/http"
	"sort"
	"time"
)

// maxPageRuns bounds the test runs listed on the HTML page.
const maxPageRuns = 500

type pageJob struct{ CIID, Name string }

type pagePipeline struct {
	ID, Name, Server, RootJobCIID string
	Jobs                          []pageJob
}

type pageBuild struct {
	Build
	Started                 string
	Passed, Failed, Skipped int
	Other                   int
}

type pageData struct {
	SharedSpace, Workspace string
	Servers                []CIServer
	Pipelines              []pagePipeline
	Builds                 []pageBuild
	Runs                   []Run
	TotalRuns              int
	Unlinked               int
	Tasks                  []Task
	MaxRuns                int
}

var pageTemplate = template.Must(template.New("page").Funcs(template.FuncMap{
	"ms": func(ms int64) string { return (time.Duration(ms) * time.Millisecond).String() },
}).Parse(`<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<title>Sandbox Octane</title>
<style>
body{font:14px/1.4 system-ui,sans-serif;margin:1.5em;color:#222}
h1{font-size:1.3em}h2{font-size:1.1em;margin-top:1.6em}
table{border-collapse:collapse;margin:.4em 0}td,th{border:1px solid #ccc;padding:.2em .5em;text-align:left;vertical-align:top}
th{background:#f3f3f3}.success,.Passed{color:#176317}.failure,.Failed{color:#a01818}.unstable,.Skipped{color:#8a6d00}
.note{color:#666}code{font-size:.95em}
</style></head><body>
<h1>Sandbox Octane</h1>
<p class="note">Shared space <code>{{.SharedSpace}}</code>, workspace <code>{{.Workspace}}</code>. Read-only; everything is kept in memory.</p>

<h2>CI servers ({{len .Servers}})</h2>
{{if .Servers}}<table><tr><th>id</th><th>name</th><th>instance_id</th><th>type</th><th>url</th></tr>
{{range .Servers}}<tr><td>{{.ID}}</td><td>{{.Name}}</td><td><code>{{.InstanceID}}</code></td><td>{{.Type}}</td><td>{{.URL}}</td></tr>
{{end}}</table>{{else}}<p class="note">none</p>{{end}}

<h2>Pipelines ({{len .Pipelines}})</h2>
{{if .Pipelines}}<table><tr><th>id</th><th>name</th><th>server</th><th>jobs (root first)</th></tr>
{{range .Pipelines}}<tr><td>{{.ID}}</td><td>{{.Name}}</td><td>{{.Server}}</td><td>{{range .Jobs}}<div><code>{{.CIID}}</code> {{.Name}}</div>{{end}}</td></tr>
{{end}}</table>{{else}}<p class="note">none</p>{{end}}

<h2>Builds ({{len .Builds}}, newest first)</h2>
{{if .Builds}}<table><tr><th>server</th><th>job</th><th>build</th><th>name</th><th>started</th><th>duration</th><th>status</th><th>result</th><th>passed</th><th>failed</th><th>skipped</th><th>PUTs</th></tr>
{{range .Builds}}<tr><td><code>{{.ServerCIID}}</code></td><td><code>{{.JobCIID}}</code></td><td><code>{{.BuildCIID}}</code></td><td>{{.Name}}</td><td>{{.Started}}</td><td>{{ms .Duration}}</td><td>{{.Status}}</td><td class="{{.Result}}">{{.Result}}</td><td>{{.Passed}}</td><td>{{.Failed}}</td><td>{{.Skipped}}</td><td>{{.Puts}}</td></tr>
{{end}}</table>{{else}}<p class="note">none</p>{{end}}

<h2>Test-results tasks ({{len .Tasks}})</h2>
{{if .Tasks}}<table><tr><th>id</th><th>status</th><th>runs</th><th>posts</th><th>details</th></tr>
{{range .Tasks}}<tr><td>{{.ID}}</td><td>{{.Status}}</td><td>{{.Runs}}</td><td>{{.Posts}}</td><td>{{.ErrorDetails}}</td></tr>
{{end}}</table>{{else}}<p class="note">none</p>{{end}}

<h2>Latest test runs ({{.TotalRuns}} stored{{if .Unlinked}}, {{.Unlinked}} without a build{{end}})</h2>
{{if gt .TotalRuns .MaxRuns}}<p class="note">Showing the latest {{.MaxRuns}} of {{.TotalRuns}} runs.</p>{{end}}
{{if .Runs}}<table><tr><th>build</th><th>package</th><th>class</th><th>name</th><th>status</th><th>duration</th><th>error</th></tr>
{{range .Runs}}<tr><td>{{if .BuildCIID}}<code>{{.JobCIID}} #{{.BuildCIID}}</code>{{else}}<span class="note">none</span>{{end}}</td><td>{{.Package}}</td><td>{{.Class}}</td><td>{{.Name}}</td><td class="{{.Status}}">{{.Status}}</td><td>{{ms .Duration}}</td><td>{{.ErrorMessage}}</td></tr>
{{end}}</table>{{else}}<p class="note">none</p>{{end}}
</body></html>
`))

// servePage renders the read-only HTML page at "/".
func (s *Server) servePage(w http.ResponseWriter, r *http.Request) {
	drain(r)
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "read-only page: GET only", http.StatusMethodNotAllowed)
		return
	}
	d := pageData{SharedSpace: s.opts.SharedSpace, Workspace: s.opts.Workspace, MaxRuns: maxPageRuns,
		Servers: s.Servers(), Tasks: s.Tasks()}
	serverNames := map[string]string{}
	for _, sv := range d.Servers {
		serverNames[sv.ID] = sv.Name
	}
	jobNames := map[string]string{}
	for _, j := range s.Jobs() {
		jobNames[j.ServerID+"\x00"+j.CIID] = j.Name
	}
	for _, p := range s.Pipelines() {
		pp := pagePipeline{ID: p.ID, Name: p.Name, Server: serverNames[p.ServerID], RootJobCIID: p.RootJobCIID}
		pp.Jobs = append(pp.Jobs, pageJob{CIID: p.RootJobCIID, Name: jobNames[p.ServerID+"\x00"+p.RootJobCIID]})
		for _, j := range p.JobCIIDs {
			if j != p.RootJobCIID {
				pp.Jobs = append(pp.Jobs, pageJob{CIID: j, Name: jobNames[p.ServerID+"\x00"+j]})
			}
		}
		d.Pipelines = append(d.Pipelines, pp)
	}
	runs := s.Runs()
	counts := map[buildKey]*pageBuild{}
	for _, b := range s.Builds() {
		pb := &pageBuild{Build: b, Started: time.UnixMilli(b.StartTime).UTC().Format("2006-01-02 15:04:05Z")}
		counts[buildKey{b.ServerCIID, b.JobCIID, b.BuildCIID}] = pb
	}
	for _, r := range runs {
		if r.BuildCIID == "" {
			d.Unlinked++
			continue
		}
		pb := counts[buildKey{r.ServerCIID, r.JobCIID, r.BuildCIID}]
		if pb == nil {
			continue
		}
		switch r.Status {
		case "Passed":
			pb.Passed++
		case "Failed":
			pb.Failed++
		case "Skipped":
			pb.Skipped++
		default:
			pb.Other++
		}
	}
	for _, pb := range counts {
		d.Builds = append(d.Builds, *pb)
	}
	sort.Slice(d.Builds, func(i, j int) bool {
		if d.Builds[i].StartTime != d.Builds[j].StartTime {
			return d.Builds[i].StartTime > d.Builds[j].StartTime
		}
		return d.Builds[i].BuildCIID > d.Builds[j].BuildCIID
	})
	d.TotalRuns = len(runs)
	start := max(0, len(runs)-maxPageRuns)
	for i := len(runs) - 1; i >= start; i-- {
		d.Runs = append(d.Runs, runs[i])
	}
	var buf bytes.Buffer
	if err := pageTemplate.Execute(&buf, d); err != nil {
		http.Error(w, "cannot render the page: "+err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(http.StatusOK)
	if r.Method == http.MethodGet {
		_, _ = w.Write(buf.Bytes())
	}
}
