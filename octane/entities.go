package octane

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
)

// MaxBatch is the most entities sent in one bulk write (as the Octane SDK does).
const MaxBatch = 200

// maxPages stops a paging loop against a server that never ends a collection.
const maxPages = 100000

// entityID reads an id sent as a JSON string or number.
type entityID string

func (id *entityID) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	switch {
	case bytes.Equal(b, []byte("null")):
		*id = ""
	case len(b) > 0 && b[0] == '"':
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		*id = entityID(s)
	default:
		var n json.Number
		if err := json.Unmarshal(b, &n); err != nil {
			return fmt.Errorf("id %s is neither a string nor a number", b)
		}
		*id = entityID(n.String())
	}
	return nil
}

type ref struct {
	Type string   `json:"type"`
	ID   entityID `json:"id"`
}

func (r *ref) id() string {
	if r == nil {
		return ""
	}
	return string(r.ID)
}

type refOut struct {
	Type string `json:"type"`
	ID   string `json:"id"`
}

// queryString quotes a string for an Octane query: ^value^ with \, ^, (, )
// and the * wildcard escaped by a backslash.
func queryString(v string) string {
	return "^" + queryEscaper.Replace(v) + "^"
}

var queryEscaper = strings.NewReplacer(`\`, `\\`, `^`, `\^`, `(`, `\(`, `)`, `\)`, `*`, `\*`)

// queryID is an entity id in a query ("{id EQ n}"): as it is when it is a
// number, else quoted by queryString.
func queryID(id string) string {
	if _, err := strconv.ParseUint(id, 10, 64); err != nil {
		return queryString(id)
	}
	return id
}

// escapeParam percent-encodes a query parameter value, with %20 for spaces.
func escapeParam(s string) string {
	return strings.ReplaceAll(url.QueryEscape(s), "+", "%20")
}

func (c *Client) collectionURL(collection string) string {
	return c.wsURL + "/" + collection
}

// list pages through a collection: GET …/{collection}?fields=…&query="…"&limit=&offset=.
// each is called for every entity; returning true stops the listing.
func (c *Client) list(ctx context.Context, collection string, fields []string, query string, each func(json.RawMessage) (bool, error)) error {
	offset := 0
	limit := c.cfg.PageSize
	for page := 0; page < maxPages; page++ {
		q := "fields=" + escapeParam(strings.Join(fields, ","))
		if query != "" {
			q += "&query=" + escapeParam(`"`+query+`"`)
		}
		q += "&limit=" + strconv.Itoa(limit) + "&offset=" + strconv.Itoa(offset)
		resp, err := c.do(ctx, &request{method: http.MethodGet, url: c.collectionURL(collection), query: q, resendable: true})
		if err != nil {
			return err
		}
		var body struct {
			TotalCount *int              `json:"total_count"`
			Data       []json.RawMessage `json:"data"`
		}
		if err := decodeJSON(resp, &body); err != nil {
			return c.badBody(http.MethodGet, c.collectionURL(collection), resp, err)
		}
		for _, raw := range body.Data {
			stop, err := each(raw)
			if err != nil || stop {
				return err
			}
		}
		offset += len(body.Data)
		switch {
		case len(body.Data) == 0:
			return nil
		case body.TotalCount != nil && offset >= *body.TotalCount:
			return nil
		case body.TotalCount == nil && len(body.Data) < limit:
			return nil
		}
	}
	return fmt.Errorf("octane: GET %s: more than %d pages, giving up", c.collectionURL(collection), maxPages)
}

// create posts entities in batches of MaxBatch and returns the created entities in order.
func (c *Client) create(ctx context.Context, collection string, fields []string, items []any) ([]json.RawMessage, error) {
	var out []json.RawMessage
	for start := 0; start < len(items); start += MaxBatch {
		end := min(start+MaxBatch, len(items))
		body, err := json.Marshal(struct {
			Data []any `json:"data"`
		}{items[start:end]})
		if err != nil {
			return out, fmt.Errorf("octane: encoding %s: %w", collection, err)
		}
		u := c.collectionURL(collection)
		resp, err := c.do(ctx, &request{
			method: http.MethodPost, url: u, query: "fields=" + escapeParam(strings.Join(fields, ",")),
			body: body, contentType: "application/json",
			want: func(s int) bool { return s == http.StatusCreated || s == http.StatusOK },
		})
		if err != nil {
			return out, err
		}
		var created struct {
			Data []json.RawMessage `json:"data"`
		}
		if err := decodeJSON(resp, &created); err != nil {
			return out, c.badBody(http.MethodPost, u, resp, err)
		}
		if len(created.Data) != end-start {
			return out, &Error{Method: http.MethodPost, URL: u, Status: resp.status,
				Description: fmt.Sprintf("sent %d %s, the answer lists %d", end-start, collection, len(created.Data))}
		}
		out = append(out, created.Data...)
	}
	return out, nil
}

// decodeJSON reads a JSON body whatever charset the response claims (Octane
// sends UTF-8 even when it says otherwise).
func decodeJSON(resp *response, v any) error {
	if looksHTML(resp.header.Get("Content-Type"), resp.body) {
		return errors.New(summariseHTML(resp.body))
	}
	if err := json.Unmarshal(resp.body, v); err != nil {
		return fmt.Errorf("not the JSON expected: %w", err)
	}
	return nil
}

// badBody is the error for a 2xx answer that cannot be read (a proxy page, a wrong URL).
func (c *Client) badBody(method, u string, resp *response, err error) *Error {
	return &Error{Method: method, URL: u, Status: resp.status, Description: c.scrub(oneLine("unreadable answer: "+err.Error(), maxDescription))}
}

// outcomeUnknown reports whether a failed write may nonetheless have happened:
// the connection broke after sending, or a gateway gave up waiting.
func outcomeUnknown(err error) bool {
	var e *Error
	if !errors.As(err, &e) {
		return false
	}
	return e.Status == 0 && e.Temporary || e.Status == http.StatusBadGateway || e.Status == http.StatusGatewayTimeout || e.Status == http.StatusRequestTimeout
}

// CIServer is a ci_server entity. InstanceID is the consumer-chosen identity.
type CIServer struct{ ID, InstanceID, Name, Type, URL string }

type ciServerJSON struct {
	ID         entityID `json:"id"`
	Name       string   `json:"name"`
	InstanceID string   `json:"instance_id"`
	URL        string   `json:"url"`
	ServerType string   `json:"server_type"`
}

func (s ciServerJSON) value() CIServer {
	return CIServer{ID: string(s.ID), InstanceID: s.InstanceID, Name: s.Name, Type: s.ServerType, URL: s.URL}
}

var ciServerFields = []string{"id", "name", "instance_id", "url", "server_type"}

// ensureRounds bounds find → create → (duplicate or lost answer) → find loops.
const ensureRounds = 3

// EnsureCIServer finds the ci_server with s.InstanceID or creates it. An
// existing server is returned as it is (not updated). Name defaults to the
// instance id; Type to "unknown" (server default).
func (c *Client) EnsureCIServer(ctx context.Context, s CIServer) (CIServer, error) {
	if strings.TrimSpace(s.InstanceID) == "" {
		return CIServer{}, errors.New("octane: ensure ci_server: empty instance_id")
	}
	s.InstanceID = c.fitID("ci_server.instance_id", s.InstanceID)
	if s.Name == "" {
		s.Name = s.InstanceID
	}
	s.Name = c.fitName("ci_server.name", s.Name)
	var lastErr error
	for round := 0; round < ensureRounds; round++ {
		found, ok, err := c.findCIServer(ctx, s.InstanceID)
		if err != nil {
			return CIServer{}, fmt.Errorf("octane: find ci_server %q: %w", s.InstanceID, err)
		}
		if ok {
			c.servers.Store(found.InstanceID, found)
			return found, nil
		}
		item := map[string]any{"name": s.Name, "instance_id": s.InstanceID}
		if s.URL != "" {
			item["url"] = s.URL
		}
		if s.Type != "" {
			item["server_type"] = c.fitName("ci_server.server_type", s.Type)
		}
		created, err := c.create(ctx, "ci_servers", ciServerFields, []any{item})
		if err == nil {
			var v ciServerJSON
			if err := json.Unmarshal(created[0], &v); err != nil || v.ID == "" {
				return CIServer{}, fmt.Errorf("octane: create ci_server %q: answer without an id", s.InstanceID)
			}
			if v.InstanceID == "" {
				v.InstanceID = s.InstanceID
			}
			c.log.Info("octane: created ci_server", "id", string(v.ID), "instance_id", s.InstanceID, "name", s.Name)
			out := v.value()
			stored := out
			stored.Type, stored.URL = cmp.Or(out.Type, s.Type), cmp.Or(out.URL, s.URL)
			c.servers.Store(out.InstanceID, stored)
			return out, nil
		}
		lastErr = err
		if !IsDuplicate(err) && !outcomeUnknown(err) {
			return CIServer{}, fmt.Errorf("octane: create ci_server %q: %w", s.InstanceID, err)
		}
		c.log.Info("octane: ci_server create collided or lost its answer; looking it up again", "instance_id", s.InstanceID, "error", err.Error())
	}
	if IsDuplicate(lastErr) {
		return CIServer{}, fmt.Errorf("octane: create ci_server %q: name %q is taken by a ci_server with another instance_id: %w", s.InstanceID, s.Name, lastErr)
	}
	return CIServer{}, fmt.Errorf("octane: create ci_server %q: %w", s.InstanceID, lastErr)
}

// HasCIServer reports whether the workspace has a ci_server with that instance id. It
// creates nothing.
func (c *Client) HasCIServer(ctx context.Context, instanceID string) (bool, error) {
	_, ok, err := c.findCIServer(ctx, c.fitID("ci_server.instance_id", instanceID))
	if err != nil {
		return false, fmt.Errorf("octane: find ci_server %q: %w", instanceID, err)
	}
	return ok, nil
}

func (c *Client) findCIServer(ctx context.Context, instanceID string) (CIServer, bool, error) {
	var found CIServer
	ok := false
	err := c.list(ctx, "ci_servers", ciServerFields, "instance_id EQ "+queryString(instanceID), func(raw json.RawMessage) (bool, error) {
		var v ciServerJSON
		if err := json.Unmarshal(raw, &v); err != nil {
			return false, fmt.Errorf("reading a ci_server: %w", err)
		}
		if v.InstanceID == instanceID && v.ID != "" {
			found, ok = v.value(), true
			return true, nil
		}
		return false, nil
	})
	return found, ok, err
}

// Job is a CI job of a pipeline: its CI-side id and display name.
type Job struct{ CIID, Name string }

// Pipeline is a pipeline entity. Jobs[0] is the root job; ServerID is the
// ci_server entity id.
type Pipeline struct {
	ID, Name, ServerID string
	Jobs               []Job
}

type pipelineJSON struct {
	ID          entityID `json:"id"`
	Name        string   `json:"name"`
	CIServer    *ref     `json:"ci_server"`
	RootJob     *ref     `json:"root_job"`
	RootJobCIID string   `json:"root_job_ci_id"`
}

type jobJSON struct {
	ID       entityID `json:"id"`
	CIID     string   `json:"ci_id"`
	Name     string   `json:"name"`
	Pipeline *ref     `json:"pipeline"`
}

var pipelineFields = []string{"id", "name", "ci_server", "root_job", "root_job_ci_id"}

// EnsurePipeline finds the pipeline by name on p.ServerID or creates it with
// its jobs (root first). When it exists but lacks some of p.Jobs, the missing
// ones are added as the GitHub Actions integration adds them (see
// addMissingJobs); when Octane refuses, the error is a *JobRefusedError
// (errors.Is ErrJobRefused) and the Pipeline returned is the existing one with
// the jobs it holds. Job CI ids are shortened like FitID, names cut to 255
// characters.
func (c *Client) EnsurePipeline(ctx context.Context, p Pipeline) (Pipeline, error) {
	if p.ServerID == "" {
		return Pipeline{}, errors.New("octane: ensure pipeline: empty ci_server id")
	}
	if len(p.Jobs) == 0 {
		return Pipeline{}, fmt.Errorf("octane: ensure pipeline %q: no jobs (the root job comes first)", p.Name)
	}
	seen := map[string]bool{}
	jobs := make([]Job, 0, len(p.Jobs))
	for _, j := range p.Jobs {
		if strings.TrimSpace(j.CIID) == "" {
			return Pipeline{}, fmt.Errorf("octane: ensure pipeline %q: a job has an empty ci id", p.Name)
		}
		j.CIID = c.fitID("ci_job.ci_id", j.CIID)
		if j.Name == "" {
			j.Name = j.CIID
		}
		j.Name = c.fitName("ci_job.name", j.Name)
		if seen[j.CIID] {
			continue
		}
		seen[j.CIID] = true
		jobs = append(jobs, j)
	}
	p.Jobs = jobs
	if p.Name == "" {
		p.Name = jobs[0].Name
	}
	p.Name = c.fitName("pipeline.name", p.Name)

	var lastErr error
	for round := 0; round < ensureRounds; round++ {
		found, ok, err := c.findPipeline(ctx, p.Name, p.ServerID)
		if err != nil {
			return Pipeline{}, fmt.Errorf("octane: find pipeline %q: %w", p.Name, err)
		}
		if ok {
			if found.RootJobCIID != "" && found.RootJobCIID != p.Jobs[0].CIID {
				c.log.Warn("octane: existing pipeline has another root job; keeping it", "pipeline", p.Name, "root_job_ci_id", found.RootJobCIID, "wanted", p.Jobs[0].CIID)
			}
			p.ID = string(found.ID)
			if err := c.addMissingJobs(ctx, p); err != nil {
				var jr *JobRefusedError
				if errors.As(err, &jr) {
					return jr.Pipeline, err
				}
				return Pipeline{}, err
			}
			return p, nil
		}
		jobsOut := make([]map[string]string, len(p.Jobs))
		for i, j := range p.Jobs {
			jobsOut[i] = map[string]string{"name": j.Name, "jobCiId": j.CIID}
		}
		item := map[string]any{
			"name":           p.Name,
			"ci_server":      refOut{Type: "ci_server", ID: p.ServerID},
			"root_job_ci_id": p.Jobs[0].CIID,
			"jobs":           jobsOut,
		}
		created, err := c.create(ctx, "pipelines", pipelineFields, []any{item})
		if err == nil {
			var v pipelineJSON
			if err := json.Unmarshal(created[0], &v); err != nil || v.ID == "" {
				return Pipeline{}, fmt.Errorf("octane: create pipeline %q: answer without an id", p.Name)
			}
			p.ID = string(v.ID)
			c.log.Info("octane: created pipeline", "id", p.ID, "name", p.Name, "ci_server", p.ServerID, "jobs", len(p.Jobs))
			return p, nil
		}
		lastErr = err
		if !IsDuplicate(err) && !outcomeUnknown(err) {
			return Pipeline{}, fmt.Errorf("octane: create pipeline %q: %w", p.Name, err)
		}
		c.log.Info("octane: pipeline create collided or lost its answer; looking it up again", "pipeline", p.Name, "error", err.Error())
	}
	if IsDuplicate(lastErr) {
		return Pipeline{}, fmt.Errorf("octane: create pipeline %q: the name is taken in the shared space (by a pipeline of another ci_server?): %w", p.Name, lastErr)
	}
	return Pipeline{}, fmt.Errorf("octane: create pipeline %q: %w", p.Name, lastErr)
}

func (c *Client) findPipeline(ctx context.Context, name, serverID string) (pipelineJSON, bool, error) {
	var found pipelineJSON
	ok := false
	q := "name EQ " + queryString(name) + ";ci_server EQ {id EQ " + queryID(serverID) + "}"
	err := c.list(ctx, "pipelines", pipelineFields, q, func(raw json.RawMessage) (bool, error) {
		var v pipelineJSON
		if err := json.Unmarshal(raw, &v); err != nil {
			return false, fmt.Errorf("reading a pipeline: %w", err)
		}
		if v.Name == name && v.ID != "" && (v.CIServer == nil || v.CIServer.id() == serverID) {
			found, ok = v, true
			return true, nil
		}
		return false, nil
	})
	return found, ok, err
}

// pipelineJobs lists the ci ids of the jobs of pipeline id through its
// pipeline_nodes, as the GitHub Actions integration does
// (GET pipeline_nodes?fields=ci_job{ci_id}&query="pipeline EQ {id EQ n}",
// shared/octane-api.md section 5.3).
func (c *Client) pipelineJobs(ctx context.Context, pipelineID string) (map[string]bool, error) {
	have := map[string]bool{}
	q := "pipeline EQ {id EQ " + queryID(pipelineID) + "}"
	err := c.list(ctx, "pipeline_nodes", []string{"ci_job{ci_id}"}, q, func(raw json.RawMessage) (bool, error) {
		var v struct {
			CIJob *struct {
				CIID string `json:"ci_id"`
			} `json:"ci_job"`
		}
		if err := json.Unmarshal(raw, &v); err != nil {
			return false, fmt.Errorf("reading a pipeline_node: %w", err)
		}
		if v.CIJob != nil && v.CIJob.CIID != "" {
			have[v.CIJob.CIID] = true
		}
		return false, nil
	})
	return have, err
}

// findJob reports whether ci_server serverID has a ci_job with ciID
// (GET ci_jobs?query="ci_id EQ ^x^;ci_server EQ {id EQ n}", as GHA and ADO look
// one up, shared/octane-api.md section 5.3).
func (c *Client) findJob(ctx context.Context, serverID, ciID string) (bool, error) {
	found := false
	err := c.list(ctx, "ci_jobs", []string{"id", "ci_id", "name"}, "ci_id EQ "+queryString(ciID)+";ci_server EQ {id EQ "+queryID(serverID)+"}", func(raw json.RawMessage) (bool, error) {
		var v jobJSON
		if err := json.Unmarshal(raw, &v); err != nil {
			return false, fmt.Errorf("reading a ci_job: %w", err)
		}
		found = v.CIID == ciID
		return found, nil
	})
	return found, err
}

// refusal reports whether err is Octane saying no for good to a request it
// understood: a 4xx other than 401 (signed in again already), 408 and 429
// (temporary), or 501 (not implemented). Duplicates are handled before.
func refusal(err error) bool {
	var e *Error
	if !errors.As(err, &e) || e.Temporary {
		return false
	}
	switch {
	case e.Status == http.StatusUnauthorized, e.Status == http.StatusRequestTimeout, e.Status == http.StatusTooManyRequests:
		return false
	case e.Status >= 400 && e.Status < 500, e.Status == http.StatusNotImplemented:
		return true
	}
	return false
}

// addMissingJobs adds to an existing pipeline the jobs of p it lacks, as the
// GitHub Actions integration does (shared/octane-clients.md section 4): a job
// missing from the pipeline's nodes is looked up by ci_id and server, and
// created when the server has none with POST ci_jobs {name, ci_id,
// ci_server}, without a pipeline field (no official client sends one; the
// ci_jobs POST exists only from Octane 16.2.100). Octane places the job in
// the pipeline when one of its builds names a build of the pipeline as its
// cause. When Octane refuses the POST, the error is a *JobRefusedError.
func (c *Client) addMissingJobs(ctx context.Context, p Pipeline) error {
	have, err := c.pipelineJobs(ctx, p.ID)
	if err != nil {
		return fmt.Errorf("octane: list jobs of pipeline %q: %w", p.Name, err)
	}
	var missing []Job
	for _, j := range p.Jobs {
		if !have[j.CIID] {
			missing = append(missing, j)
		}
	}
	for round := 0; len(missing) > 0; round++ {
		var create []Job
		for _, j := range missing {
			ok, err := c.findJob(ctx, p.ServerID, j.CIID)
			if err != nil {
				return fmt.Errorf("octane: find ci_job %q: %w", j.CIID, err)
			}
			if !ok {
				create = append(create, j)
			}
		}
		if len(create) == 0 {
			return nil
		}
		ids := make([]string, len(create))
		items := make([]any, len(create))
		for i, j := range create {
			ids[i] = j.CIID
			items[i] = map[string]any{"name": j.Name, "ci_id": j.CIID, "ci_server": refOut{Type: "ci_server", ID: p.ServerID}}
		}
		if round >= ensureRounds {
			return fmt.Errorf("octane: pipeline %q: jobs %s still missing after %d tries", p.Name, strings.Join(ids, ", "), ensureRounds)
		}
		_, err = c.create(ctx, "ci_jobs", []string{"id", "ci_id", "name"}, items)
		switch {
		case err == nil:
			c.log.Info("octane: created ci_jobs for pipeline", "pipeline", p.Name, "jobs", strings.Join(ids, ", "))
			return nil
		case IsDuplicate(err) || outcomeUnknown(err):
			missing = create // look them up again
		case refusal(err):
			held := Pipeline{ID: p.ID, Name: p.Name, ServerID: p.ServerID}
			for _, j := range p.Jobs {
				if !containsJob(create, j.CIID) {
					held.Jobs = append(held.Jobs, j)
				}
			}
			return &JobRefusedError{Pipeline: held, Jobs: create, Err: err}
		default:
			return fmt.Errorf("octane: add jobs %s to pipeline %q: %w", strings.Join(ids, ", "), p.Name, err)
		}
	}
	return nil
}

func containsJob(jobs []Job, ciID string) bool {
	for _, j := range jobs {
		if j.CIID == ciID {
			return true
		}
	}
	return false
}
