package sandbox

import (
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
)

// api routes /api/... requests (section 1).
func (s *Server) api(w http.ResponseWriter, r *http.Request) {
	if !s.authenticate(w, r) {
		return
	}
	if !acceptsJSON(r) {
		drain(r)
		writeError(w, http.StatusNotAcceptable, "platform.not_acceptable", "Accept must allow application/json", false)
		return
	}
	segs := strings.Split(strings.Trim(strings.TrimPrefix(r.URL.Path, "/api"), "/"), "/")
	if len(segs) == 0 || segs[0] != "shared_spaces" {
		drain(r)
		writeError(w, http.StatusNotFound, "platform.not_found", "No resource at "+r.URL.Path, false)
		return
	}
	segs = segs[1:]
	if len(segs) == 0 {
		s.listStatic(w, r, "shared_space", s.opts.SharedSpace, "Sandbox shared space")
		return
	}
	if segs[0] != s.opts.SharedSpace {
		drain(r)
		writeError(w, http.StatusNotFound, "platform.entity_not_found", fmt.Sprintf("Shared space %q does not exist", segs[0]), false)
		return
	}
	segs = segs[1:]
	if len(segs) == 0 || segs[0] != "workspaces" {
		drain(r)
		writeError(w, http.StatusNotFound, "platform.not_found", "No resource at "+r.URL.Path, false)
		return
	}
	segs = segs[1:]
	if len(segs) == 0 {
		s.listStatic(w, r, "workspace", s.opts.Workspace, "Sandbox workspace")
		return
	}
	if segs[0] != s.opts.Workspace {
		drain(r)
		writeError(w, http.StatusNotFound, "platform.entity_not_found", fmt.Sprintf("Workspace %q does not exist in shared space %s", segs[0], s.opts.SharedSpace), false)
		return
	}
	segs = segs[1:]
	switch {
	case len(segs) == 3 && segs[0] == "analytics" && segs[1] == "ci" && segs[2] == "builds":
		s.putBuild(w, r)
	case len(segs) >= 1 && segs[0] == "test-results":
		s.testResults(w, r, segs[1:])
	case len(segs) == 1:
		s.collection(w, r, segs[0])
	case len(segs) == 2:
		s.single(w, r, segs[0], segs[1])
	default:
		drain(r)
		writeError(w, http.StatusNotFound, "platform.not_found", "No resource at "+r.URL.Path, false)
	}
}

// internalAPI serves the internal endpoints an importer might touch: CI
// events (section 7) and servers/connectivity/status (section 11 item 7);
// the rest is 404.
func (s *Server) internalAPI(w http.ResponseWriter, r *http.Request) {
	if !s.authenticate(w, r) {
		return
	}
	if r.URL.Path == "/internal-api/shared_spaces/"+s.opts.SharedSpace+"/analytics/ci/events" {
		s.putEvents(w, r)
		return
	}
	drain(r)
	want := "/internal-api/shared_spaces/" + s.opts.SharedSpace + "/analytics/ci/servers/connectivity/status"
	if r.URL.Path == want && r.Method == http.MethodGet {
		version := "25.1.0.0-sandbox"
		if s.opts.NoCIJobCreate {
			version = "16.1.200.0-sandbox"
		}
		writeJSON(w, http.StatusOK, map[string]string{"octaneVersion": version, "supportedSdkVersion": "2.0"})
		return
	}
	writeError(w, http.StatusNotFound, "platform.not_found", "The stand-in does not serve "+r.URL.Path, false)
}

func (s *Server) listStatic(w http.ResponseWriter, r *http.Request, typ, id, name string) {
	drain(r)
	if r.Method != http.MethodGet {
		writeError(w, http.StatusMethodNotAllowed, "platform.method_not_allowed", r.Method+" is not allowed here", false)
		return
	}
	e := &entity{typ: typ, id: id, f: map[string]any{"name": name}}
	data := []map[string]any{}
	q := r.URL.Query().Get("query")
	ok := true
	if q != "" {
		n, err := parseQuery(q)
		if err == nil {
			err = n.check("generic")
		}
		if err != nil {
			writeError(w, http.StatusBadRequest, "platform.illegal_query", err.Error(), false)
			return
		}
		ok = n.eval(&s.store, e)
	}
	if ok {
		data = append(data, map[string]any{"type": typ, "id": id, "name": name})
	}
	writeJSON(w, http.StatusOK, map[string]any{"total_count": len(data), "data": data, "exceeds_total_count": false})
}

// fieldSpec is a parsed fields= parameter: field name → nested subfields.
type fieldSpec map[string][]string

func parseFields(typ, raw string) (fieldSpec, error) {
	if raw == "" {
		return nil, nil
	}
	spec := fieldSpec{}
	for i := 0; i < len(raw); {
		j := i
		for j < len(raw) && raw[j] != ',' && raw[j] != '{' {
			j++
		}
		name := strings.TrimSpace(raw[i:j])
		var sub []string
		if j < len(raw) && raw[j] == '{' {
			k := strings.IndexByte(raw[j:], '}')
			if k < 0 {
				return nil, fmt.Errorf("fields: missing } after %q", name)
			}
			for _, sf := range strings.Split(raw[j+1:j+k], ",") {
				sub = append(sub, strings.TrimSpace(sf))
			}
			j += k + 1
		}
		if name == "" {
			return nil, fmt.Errorf("fields: empty field name in %q", raw)
		}
		d, ok := lookupField(typ, name)
		if !ok && name != "type" {
			return nil, fmt.Errorf("fields: %s has no field %q", typ, name)
		}
		if sub != nil {
			if d.kind != fRef {
				return nil, fmt.Errorf("fields: %q is not a reference, it cannot take {…}", name)
			}
			for _, sf := range sub {
				if _, ok := lookupField(d.refType, sf); !ok && sf != "type" {
					return nil, fmt.Errorf("fields: %s has no field %q", d.refType, sf)
				}
			}
		}
		spec[name] = sub
		if j < len(raw) && raw[j] != ',' {
			return nil, fmt.Errorf("fields: unexpected %q", raw[j:])
		}
		i = j + 1
	}
	return spec, nil
}

// view renders an entity as JSON; nil spec means every field.
func (st *store) view(e *entity, spec fieldSpec) map[string]any {
	out := map[string]any{"type": e.typ, "id": e.id}
	put := func(k string, sub []string) {
		v, ok := e.fields()[k]
		if !ok {
			v = nil
		}
		if rv, ok := v.(ref); ok {
			if rv.id == "" {
				out[k] = nil
				return
			}
			m := map[string]any{"type": rv.typ, "id": rv.id}
			if t := st.byID[rv.id]; t != nil {
				if name, ok := t.fields()["name"]; ok && sub == nil {
					m["name"] = name
				}
				for _, sf := range sub {
					if sf == "id" || sf == "type" {
						continue
					}
					if sv, ok := t.fields()[sf]; ok {
						if r2, ok := sv.(ref); ok {
							sv = map[string]any{"type": r2.typ, "id": r2.id}
						}
						m[sf] = sv
					} else {
						m[sf] = nil
					}
				}
			}
			out[k] = m
			return
		}
		out[k] = v
	}
	if spec == nil {
		for k := range fieldsOf(e.typ) {
			put(k, nil)
		}
		for k := range commonFields {
			put(k, nil)
		}
		return out
	}
	for k, sub := range spec {
		if k == "id" || k == "type" {
			continue
		}
		put(k, sub)
	}
	return out
}

// collection serves GET and POST on …/{collection}.
func (s *Server) collection(w http.ResponseWriter, r *http.Request, name string) {
	typ, ok := collections[name]
	if !ok {
		drain(r)
		writeError(w, http.StatusNotFound, "platform.unknown_entity", fmt.Sprintf("No entity collection %q", name), false)
		return
	}
	switch r.Method {
	case http.MethodGet:
		drain(r)
		s.list(w, r, typ)
	case http.MethodPost:
		s.create(w, r, typ)
	default:
		drain(r)
		writeError(w, http.StatusMethodNotAllowed, "platform.method_not_allowed", r.Method+" is not allowed on "+name, false)
	}
}

func (s *Server) list(w http.ResponseWriter, r *http.Request, typ string) {
	qs := r.URL.Query()
	for k := range qs {
		switch k {
		case "fields", "query", "limit", "offset", "order_by":
		default:
			writeError(w, http.StatusBadRequest, "platform.illegal_parameter", fmt.Sprintf("Unknown query parameter %q", k), false)
			return
		}
	}
	limit := s.opts.DefaultPageSize
	if v := qs.Get("limit"); qs.Has("limit") {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > s.opts.MaxPageSize {
			writeError(w, http.StatusBadRequest, "platform.illegal_limit",
				fmt.Sprintf("limit %q must be a whole number from 1 to %d", v, s.opts.MaxPageSize), false)
			return
		}
		limit = n
	}
	offset := 0
	if v := qs.Get("offset"); qs.Has("offset") {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			writeError(w, http.StatusBadRequest, "platform.illegal_offset", fmt.Sprintf("offset %q must be a whole number ≥ 0", v), false)
			return
		}
		offset = n
	}
	spec, err := parseFields(typ, qs.Get("fields"))
	if err != nil {
		writeError(w, http.StatusBadRequest, "platform.unknown_field", err.Error(), false)
		return
	}
	var q qnode
	if qs.Has("query") {
		q, err = parseQuery(qs.Get("query"))
		if err == nil {
			err = q.check(typ)
		}
		if err != nil {
			writeError(w, http.StatusBadRequest, "platform.illegal_query", err.Error(), false)
			return
		}
	}
	order := []string{}
	if v := qs.Get("order_by"); v != "" {
		for _, f := range strings.Split(v, ",") {
			name := strings.TrimPrefix(f, "-")
			if d, ok := lookupField(typ, name); !ok || d.kind == fObject || d.kind == fRef {
				writeError(w, http.StatusBadRequest, "platform.illegal_order_by", fmt.Sprintf("cannot order %s by %q", typ, f), false)
				return
			}
			order = append(order, f)
		}
	}
	s.mu.Lock()
	var matched []*entity
	for _, e := range s.ents[typ] {
		if q == nil || q.eval(&s.store, e) {
			matched = append(matched, e)
		}
	}
	sort.SliceStable(matched, func(i, j int) bool {
		for _, f := range order {
			desc := strings.HasPrefix(f, "-")
			name := strings.TrimPrefix(f, "-")
			c := compareField(matched[i], matched[j], name)
			if c != 0 {
				return (c < 0) != desc
			}
		}
		a, _ := strconv.Atoi(matched[i].id)
		b, _ := strconv.Atoi(matched[j].id)
		return a < b
	})
	total := len(matched)
	data := []map[string]any{}
	for i := offset; i < total && len(data) < limit; i++ {
		data = append(data, s.view(matched[i], spec))
	}
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, map[string]any{"total_count": total, "data": data, "exceeds_total_count": false})
}

func compareField(a, b *entity, name string) int {
	if name == "id" {
		x, _ := strconv.Atoi(a.id)
		y, _ := strconv.Atoi(b.id)
		return x - y
	}
	switch x := a.fields()[name].(type) {
	case int64:
		y, _ := b.fields()[name].(int64)
		return cmpFloat(float64(x), float64(y))
	case string:
		y, _ := b.fields()[name].(string)
		return strings.Compare(x, y)
	case bool:
		y, _ := b.fields()[name].(bool)
		if x == y {
			return 0
		}
		if !x {
			return -1
		}
		return 1
	}
	return 0
}

// single serves GET and PUT on …/{collection}/{id}.
func (s *Server) single(w http.ResponseWriter, r *http.Request, name, id string) {
	typ, ok := collections[name]
	if !ok {
		drain(r)
		writeError(w, http.StatusNotFound, "platform.unknown_entity", fmt.Sprintf("No entity collection %q", name), false)
		return
	}
	switch r.Method {
	case http.MethodGet:
		drain(r)
		spec, err := parseFields(typ, r.URL.Query().Get("fields"))
		if err != nil {
			writeError(w, http.StatusBadRequest, "platform.unknown_field", err.Error(), false)
			return
		}
		s.mu.Lock()
		e := s.get(typ, id)
		var v map[string]any
		if e != nil {
			v = s.view(e, spec)
		}
		s.mu.Unlock()
		if e == nil {
			writeError(w, http.StatusNotFound, "platform.entity_not_found", fmt.Sprintf("No %s with id %q", typ, id), false)
			return
		}
		writeJSON(w, http.StatusOK, v)
	case http.MethodPut:
		s.update(w, r, typ, id)
	default:
		drain(r)
		writeError(w, http.StatusMethodNotAllowed, "platform.method_not_allowed", r.Method+" is not allowed on "+name+"/{id}", false)
	}
}

// fieldsParam parses fields= on a POST or PUT.
func fieldsParam(u *url.URL, typ string) (fieldSpec, *errorBody) {
	spec, err := parseFields(typ, u.Query().Get("fields"))
	if err != nil {
		return nil, newError(http.StatusBadRequest, "platform.unknown_field", err.Error(), false)
	}
	return spec, nil
}
