package sandbox

import (
	"encoding/json"
	"fmt"
	"sort"
	"strings"
)

// CIServer is a stored ci_server.
type CIServer struct{ ID, InstanceID, Name, Type, URL string }

// Pipeline is a stored pipeline; JobCIIDs in the order posted.
type Pipeline struct {
	ID, Name, ServerID, RootJobCIID string
	JobCIIDs                        []string
}

// Job is a stored ci_job. PipelineID is the first pipeline it joined ("" for
// a job created on its own).
type Job struct{ ID, CIID, Name, ServerID, PipelineID string }

// Build is a build as last reported; Puts counts the requests that reported
// its triple (PUT builds, or PUT events carrying an event of it). Via is how
// it was last reported: "builds" or "events".
type Build struct {
	ServerCIID, JobCIID, BuildCIID, Name, Status, Result string
	StartTime, Duration                                  int64
	Causes                                               []Cause
	Parameters                                           []Parameter
	Puts                                                 int
	Via                                                  string
}

// Run is a stored test run. The build triple is empty for runs stored
// without a build link (unknown build under skip-errors=true). Release is
// the release id, or "_default_".
type Run struct {
	ID, TaskID                              string
	ServerCIID, JobCIID, BuildCIID          string
	Module, Package, Class, Name, Status    string
	Duration, Started                       int64
	HasError                                bool
	ErrorType, ErrorMessage, ErrorBody      string
	Description, RunName, ExternalReportURL string
	Release                                 string
	Gherkin                                 bool
	TestFields, Environment                 map[string]string
}

// Task is a test-results task: Posts counts identical payloads received.
type Task struct {
	ID, Status, ErrorDetails string
	SkipErrors               bool
	Runs                     int
	Posts                    int
}

// Servers returns the ci_servers in creation order.
func (s *Server) Servers() []CIServer {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []CIServer
	for _, e := range s.ents["ci_server"] {
		out = append(out, CIServer{ID: e.id, InstanceID: str(e, "instance_id"), Name: str(e, "name"),
			Type: str(e, "server_type"), URL: str(e, "url")})
	}
	return out
}

// Pipelines returns the pipelines in creation order.
func (s *Server) Pipelines() []Pipeline {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Pipeline
	for _, e := range s.ents["pipeline"] {
		p := Pipeline{ID: e.id, Name: str(e, "name"), ServerID: refID(e, "ci_server"), RootJobCIID: str(e, "root_job_ci_id")}
		if jobs, ok := e.fields()["jobs"].([]any); ok {
			for _, j := range jobs {
				if m, ok := j.(map[string]any); ok {
					p.JobCIIDs = append(p.JobCIIDs, fmt.Sprint(m["jobCiId"]))
				}
			}
		}
		out = append(out, p)
	}
	return out
}

// Jobs returns the ci_jobs in creation order.
func (s *Server) Jobs() []Job {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Job
	for _, e := range s.ents["ci_job"] {
		out = append(out, Job{ID: e.id, CIID: str(e, "ci_id"), Name: str(e, "name"),
			ServerID: refID(e, "ci_server"), PipelineID: refID(e, "pipeline")})
	}
	return out
}

func copyBuild(b Build) Build {
	b.Causes = append([]Cause(nil), b.Causes...)
	ps := make([]Parameter, len(b.Parameters))
	for i, p := range b.Parameters {
		p.Choices = append([]string(nil), p.Choices...)
		ps[i] = p
	}
	if b.Parameters == nil {
		ps = nil
	}
	b.Parameters = ps
	return b
}

// Builds returns the builds in the order of their first PUT.
func (s *Server) Builds() []Build {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Build
	for _, b := range s.buildSeq {
		out = append(out, copyBuild(b.Build))
	}
	return out
}

func copyRun(r *Run) Run {
	c := *r
	c.TestFields = merge(r.TestFields, nil)
	c.Environment = merge(r.Environment, nil)
	return c
}

// Runs returns every stored run in storage order.
func (s *Server) Runs() []Run {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Run, 0, len(s.runs))
	for _, r := range s.runs {
		out = append(out, copyRun(r))
	}
	return out
}

// RunsFor returns the runs linked to one build.
func (s *Server) RunsFor(serverCIID, jobCIID, buildCIID string) []Run {
	s.mu.Lock()
	defer s.mu.Unlock()
	br := s.byBuild[buildKey{serverCIID, jobCIID, buildCIID}]
	if br == nil || buildCIID == "" {
		return nil
	}
	out := make([]Run, 0, len(br.runs))
	for _, r := range br.runs {
		out = append(out, copyRun(r))
	}
	return out
}

// Tasks returns the test-results tasks in creation order.
func (s *Server) Tasks() []Task {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Task
	for _, t := range s.tasks {
		details := strings.Join(t.details, "\n")
		if t.override != nil && t.override.ErrorDetails != nil && !t.until.IsZero() {
			b, _ := json.Marshal(t.override.ErrorDetails)
			details = string(b)
		}
		out = append(out, Task{ID: t.id, Status: t.status, ErrorDetails: details,
			SkipErrors: t.skipErrors, Runs: t.runs, Posts: t.posts})
	}
	return out
}

// AddEntity stores a reference entity (release, milestone, work_item,
// product_area, program, test_suite, taxonomy_node) so that payloads can
// point at it, and returns its id.
func (s *Server) AddEntity(typ, name string) (string, error) {
	known := false
	for _, t := range collections {
		if t == typ {
			known = true
		}
	}
	if _, special := typeFields[typ]; special || !known {
		return "", fmt.Errorf("sandbox: AddEntity takes a reference type (release, milestone, …), not %q", typ)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.add(typ, map[string]any{"name": name, "description": nil}).id, nil
}

// schemaXSD writes the schema the validator enforces as an XSD document
// (GET …/test-results/xsd).
func schemaXSD() string {
	var b strings.Builder
	b.WriteString(`<?xml version="1.0" encoding="UTF-8"?>` + "\n")
	b.WriteString(`<!-- The test-results schema as enforced by the octane-import stand-in (sandbox). -->` + "\n")
	b.WriteString(`<xs:schema xmlns:xs="http://www.w3.org/2001/XMLSchema">` + "\n")
	b.WriteString(`  <xs:element name="test_result" type="t_test_result"/>` + "\n")
	names := map[*elemType]string{}
	var order []*elemType
	var walk func(name string, t *elemType)
	walk = func(name string, t *elemType) {
		if _, ok := names[t]; ok {
			return
		}
		names[t] = "t_" + name
		for n := range names {
			if n != t && names[n] == names[t] {
				names[t] = fmt.Sprintf("t_%s_%d", name, len(names))
			}
		}
		order = append(order, t)
		kids := make([]string, 0, len(t.kids))
		for k := range t.kids {
			kids = append(kids, k)
		}
		sort.Strings(kids)
		for _, k := range kids {
			walk(k, t.kids[k])
		}
	}
	walk("test_result", testResultSchema)
	attrTypes := map[attrType]string{aStr: "xs:string", aStr255: "string255", aStr0_255: "string0_255", aStr3800: "string3800",
		aStr0_3800: "string0_3800", aLong: "xs:long", aBool: "xs:boolean", aURL: "urlType", aStatus: "nativeStatusType", aFieldType: "testFieldType"}
	for _, t := range order {
		switch t.content {
		case cText:
			fmt.Fprintf(&b, "  <xs:simpleType name=%q><xs:restriction base=\"xs:string\"/></xs:simpleType>\n", names[t])
			continue
		case cAny:
			fmt.Fprintf(&b, "  <xs:complexType name=%q mixed=\"true\"><xs:sequence><xs:any minOccurs=\"0\" maxOccurs=\"unbounded\" processContents=\"skip\"/></xs:sequence></xs:complexType>\n", names[t])
			continue
		}
		mixed := ""
		if t.content == cMixed {
			mixed = ` mixed="true"`
		}
		fmt.Fprintf(&b, "  <xs:complexType name=%q%s>\n", names[t], mixed)
		if len(t.seq) > 0 {
			b.WriteString("    <xs:sequence>\n")
			for _, p := range t.seq {
				occ := fmt.Sprintf(` minOccurs="%d" maxOccurs="%s"`, p.min, maxOcc(p.max))
				if len(p.names) == 1 {
					fmt.Fprintf(&b, "      <xs:element name=%q type=%q%s/>\n", p.names[0], names[t.kids[p.names[0]]], occ)
					continue
				}
				if p.homogeneous {
					b.WriteString("      <xs:choice>\n")
					for _, n := range p.names {
						fmt.Fprintf(&b, "        <xs:element name=%q type=%q%s/>\n", n, names[t.kids[n]], occ)
					}
				} else {
					fmt.Fprintf(&b, "      <xs:choice%s>\n", occ)
					for _, n := range p.names {
						fmt.Fprintf(&b, "        <xs:element name=%q type=%q/>\n", n, names[t.kids[n]])
					}
				}
				b.WriteString("      </xs:choice>\n")
			}
			b.WriteString("    </xs:sequence>\n")
		}
		for _, a := range t.attrs {
			use := "optional"
			if a.required {
				use = "required"
			}
			fmt.Fprintf(&b, "    <xs:attribute name=%q type=%q use=%q/>\n", a.name, attrTypes[a.typ], use)
		}
		b.WriteString("  </xs:complexType>\n")
	}
	for _, st := range []struct {
		name     string
		min, max int
	}{{"string255", 1, 255}, {"string0_255", 0, 255}, {"string3800", 1, 3800}, {"string0_3800", 0, 3800}} {
		fmt.Fprintf(&b, "  <xs:simpleType name=%q><xs:restriction base=\"xs:string\"><xs:minLength value=\"%d\"/><xs:maxLength value=\"%d\"/></xs:restriction></xs:simpleType>\n", st.name, st.min, st.max)
	}
	enum := func(name string, vals ...string) {
		fmt.Fprintf(&b, "  <xs:simpleType name=%q><xs:restriction base=\"xs:string\">", name)
		for _, v := range vals {
			fmt.Fprintf(&b, "<xs:enumeration value=%q/>", v)
		}
		b.WriteString("</xs:restriction></xs:simpleType>\n")
	}
	enum("nativeStatusType", "Passed", "Skipped", "Failed", "Planned")
	enum("testFieldType", "Test_Level", "Test_Type", "Testing_Tool_Type", "Framework")
	b.WriteString(`  <xs:simpleType name="urlType"><xs:restriction base="xs:string"><xs:pattern value="([hH][tT]{2}[pP][sS]?://*.*)|([tT][dD][sS]?://*.*)|(testdirector[s]?:*.*)"/><xs:minLength value="6"/><xs:maxLength value="512"/></xs:restriction></xs:simpleType>` + "\n")
	b.WriteString("</xs:schema>\n")
	return b.String()
}

func maxOcc(n int) string {
	if n < 0 {
		return "unbounded"
	}
	return fmt.Sprint(n)
}
