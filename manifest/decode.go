package manifest

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math"
	"net/url"
	"path"
	"regexp"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/octane-import/octane-import/internal/glob"
	"gopkg.in/yaml.v3"
)

// decoder walks a yaml.Node tree (from either front end), fills a Manifest
// and collects every problem on the way.
type decoder struct {
	file     string
	problems []Problem
}

func (d *decoder) add(line, col int, path, format string, args ...any) {
	d.problems = append(d.problems, Problem{File: d.file, Line: line, Column: col, Path: path, Msg: fmt.Sprintf(format, args...)})
}

func (d *decoder) addAt(n *yaml.Node, path, format string, args ...any) {
	d.add(n.Line, n.Column, path, format, args...)
}

// Known keys, per mapping. The docs, the JSON Schema and the tests check
// themselves against these lists.
var (
	topKeys = []string{"version", "apiVersion", "server", "pipeline", "job", "build", "parameters", "causes", "reports",
		"release", "release_id", "milestone_id", "environment", "test_fields", "product_areas", "backlog_items"}
	serverKeys    = []string{"instance_id", "name", "type", "url"}
	pipelineKeys  = []string{"name", "root_job"}
	jobKeys       = []string{"id", "name"}
	buildKeys     = []string{"id", "name", "started", "duration", "status", "result"}
	parameterKeys = []string{"name", "type", "value"}
	causeKeys     = []string{"job", "build"}
)

var yamlLineRE = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)

func (d *decoder) parse(data []byte, asJSON bool) *Manifest {
	if len(data) > MaxSize {
		d.add(0, 0, "", "larger than %d bytes: not a manifest", MaxSize)
		return nil
	}
	var root *yaml.Node
	if asJSON {
		data = bytes.TrimPrefix(data, []byte("\xef\xbb\xbf"))
		if !utf8.Valid(data) {
			// encoding/json would quietly turn the bytes into U+FFFD.
			line, col, b := firstInvalidUTF8(data)
			d.add(line, col, "", "invalid JSON: not valid UTF-8 (byte 0x%02x)", b)
			return nil
		}
		n, err := parseJSON(data)
		if err != nil {
			var se *syntaxError
			if errors.As(err, &se) {
				r := &jsonReader{data: data, lines: lineStarts(data)}
				line, col := r.position(se.offset)
				d.add(line, col, "", "%s", se.msg)
			} else {
				d.add(0, 0, "", "invalid JSON: %v", err)
			}
			return nil
		}
		root = n
	} else {
		root = d.parseYAML(data)
		if len(d.problems) > 0 {
			return nil
		}
	}
	if root == nil {
		d.add(1, 1, "", "empty manifest: it needs at least version, server.instance_id, job.id and build.id")
		return nil
	}
	return d.manifest(root)
}

// firstInvalidUTF8 returns the position and value of the first byte that is
// not valid UTF-8.
func firstInvalidUTF8(data []byte) (line, col int, b byte) {
	line, col = 1, 1
	for i := 0; i < len(data); {
		r, size := utf8.DecodeRune(data[i:])
		if r == utf8.RuneError && size <= 1 {
			return line, col, data[i]
		}
		if r == '\n' {
			line, col = line+1, 1
		} else {
			col++
		}
		i += size
	}
	return line, col, 0
}

func lineStarts(data []byte) []int {
	lines := []int{0}
	for i, c := range data {
		if c == '\n' {
			lines = append(lines, i+1)
		}
	}
	return lines
}

// parseYAML returns the top node of the single document, nil for an empty
// file, and records syntax errors.
func (d *decoder) parseYAML(data []byte) *yaml.Node {
	if !d.checkYAMLChars(data) {
		return nil
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return nil
		}
		d.yamlError(err)
		return nil
	}
	var next yaml.Node
	switch err := dec.Decode(&next); {
	case err == nil:
		d.addAt(&next, "", "a second YAML document: a manifest is one document (remove the '---' separator)")
		return nil
	case !errors.Is(err, io.EOF):
		d.yamlError(err)
		return nil
	}
	if doc.Kind == yaml.DocumentNode {
		if len(doc.Content) == 0 {
			return nil
		}
		n := doc.Content[0]
		if n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null" {
			return nil
		}
		return n
	}
	return &doc
}

// yamlParserErrors are the messages of yaml.v3's parser (as opposed to its
// scanner). For them yaml.v3 prints a 0-based line: that of the start of the
// enclosing block or flow collection.
var yamlParserErrors = []string{
	"did not find expected ',' or ']'",
	"did not find expected ',' or '}'",
	"did not find expected <document start>",
	"did not find expected <stream-start>",
	"did not find expected '-' indicator",
	"did not find expected key",
	"did not find expected node content",
	"found duplicate %YAML directive",
	"found incompatible YAML document",
	"found undefined tag handle",
	"found duplicate %TAG directive",
}

func (d *decoder) yamlError(err error) {
	msg := strings.TrimPrefix(err.Error(), "yaml: ")
	line := 0
	if m := yamlLineRE.FindStringSubmatch(err.Error()); m != nil {
		line, _ = strconv.Atoi(m[1])
		msg = m[2]
	}
	switch {
	case contains(yamlParserErrors, msg):
		line++
	case line == 0:
		// yaml.v3 leaves out a line that is its 0-based line 0.
		line = 1
	}
	d.add(line, 0, "", "invalid YAML: %s", msg)
}

// checkYAMLChars finds the first byte sequence yaml.v3's reader would
// refuse (it reports those without a position): invalid UTF-8, and the
// characters YAML does not allow in a stream.
func (d *decoder) checkYAMLChars(data []byte) bool {
	if bytes.HasPrefix(data, []byte{0xfe, 0xff}) || bytes.HasPrefix(data, []byte{0xff, 0xfe}) {
		return true // UTF-16, left to yaml.v3
	}
	line, col := 1, 1
	for i := 0; i < len(data); {
		r, size := utf8.DecodeRune(data[i:])
		switch {
		case r == utf8.RuneError && size <= 1:
			d.add(line, col, "", "invalid YAML: not valid UTF-8 (byte 0x%02x)", data[i])
			return false
		case !(r == 0x9 || r == 0xA || r == 0xD || (r >= 0x20 && r <= 0x7E) || r == 0x85 ||
			(r >= 0xA0 && r <= 0xD7FF) || (r >= 0xE000 && r <= 0xFFFD) || r >= 0x10000):
			d.add(line, col, "", "invalid YAML: the character %U is not allowed in YAML", r)
			return false
		}
		if r == '\n' {
			line, col = line+1, 1
		} else {
			col++
		}
		i += size
	}
	return true
}

// resolve follows aliases.
func resolve(n *yaml.Node) *yaml.Node {
	for i := 0; n != nil && n.Kind == yaml.AliasNode && i < 100; i++ {
		n = n.Alias
	}
	if n == nil || n.Kind == yaml.AliasNode {
		return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!null"}
	}
	return n
}

func isNull(n *yaml.Node) bool {
	return n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null"
}

// describe names a node's kind for messages.
func describe(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.DocumentNode:
		return "a document"
	case yaml.ScalarNode:
		switch n.ShortTag() {
		case "!!null":
			return "null"
		case "!!bool":
			return "a boolean (" + n.Value + ")"
		case "!!int", "!!float":
			return "a number (" + n.Value + ")"
		case "!!timestamp":
			return "a date (" + n.Value + ")"
		}
		return fmt.Sprintf("the string %q", truncate(n.Value))
	}
	return "an unknown node"
}

func truncate(s string) string {
	if utf8.RuneCountInString(s) <= 60 {
		return s
	}
	r := []rune(s)
	return string(r[:60]) + "…"
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

// entry is one key: value pair of a mapping.
type entry struct {
	key   string
	kn, v *yaml.Node
}

// mapping checks that n is a mapping whose keys are all in known, with no
// duplicates, and returns its entries by key. It returns nil (after recording
// a problem) when n is not a mapping.
func (d *decoder) mapping(n *yaml.Node, path string, known []string) map[string]entry {
	if n.Kind != yaml.MappingNode {
		d.addAt(n, path, "expected a mapping, got %s", describe(n))
		return nil
	}
	out := map[string]entry{}
	for _, e := range d.entries(n, path) {
		if !contains(known, e.key) {
			d.addAt(e.kn, join(path, e.key), "unknown key%s", suggest(e.key, known, path))
			continue
		}
		out[e.key] = e
	}
	return out
}

// entries returns a mapping's pairs in order, with scalar keys, and reports
// duplicate, merge and non-scalar keys.
func (d *decoder) entries(n *yaml.Node, path string) []entry {
	var out []entry
	seen := map[string]*yaml.Node{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		kn, v := resolve(n.Content[i]), resolve(n.Content[i+1])
		if kn.Kind != yaml.ScalarNode {
			d.addAt(kn, path, "a key must be a string, got %s", describe(kn))
			continue
		}
		if kn.ShortTag() == "!!merge" {
			d.addAt(kn, path, "merge keys (<<) are not supported in manifests")
			continue
		}
		if prev, dup := seen[kn.Value]; dup {
			d.addAt(kn, join(path, kn.Value), "duplicate key (first at line %d)", prev.Line)
			continue
		}
		seen[kn.Value] = kn
		out = append(out, entry{key: kn.Value, kn: kn, v: v})
	}
	return out
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// nestedOwner says under which section a misplaced top-level key belongs.
var nestedOwner = map[string]string{
	"instance_id": "server", "url": "server", "root_job": "pipeline", "id": "job or build",
	"started": "build", "duration": "build", "status": "build", "result": "build",
	"milestone": "milestone_id", "name": "server, pipeline, job or build",
}

// suggest returns a hint for an unknown key: a close known key, or the
// section a misplaced key belongs under.
func suggest(key string, known []string, path string) string {
	best, bestD := "", 3
	for _, k := range known {
		if dist := editDistance(strings.ToLower(key), strings.ToLower(k)); dist < bestD {
			best, bestD = k, dist
		}
	}
	if best != "" {
		return fmt.Sprintf(" (did you mean %q?)", best)
	}
	if path == "" {
		if owner, ok := nestedOwner[key]; ok {
			if owner == "milestone_id" {
				return " (the milestone is given by id: milestone_id)"
			}
			return fmt.Sprintf(" (it belongs under %s:)", owner)
		}
	}
	return "; known keys: " + strings.Join(known, ", ")
}

func editDistance(a, b string) int {
	ra, rb := []rune(a), []rune(b)
	if len(ra) > 64 || len(rb) > 64 {
		return 99
	}
	prev := make([]int, len(rb)+1)
	cur := make([]int, len(rb)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(ra); i++ {
		cur[0] = i
		for j := 1; j <= len(rb); j++ {
			cost := 1
			if ra[i-1] == rb[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(rb)]
}

// scalar returns the text of a scalar node. Null gives ("", false) with no
// problem; a mapping or list is a wrong type. Numbers and booleans are
// accepted as text, exactly as written (build ids are often numbers).
func (d *decoder) scalar(n *yaml.Node, path, want string) (string, bool) {
	if n.Kind != yaml.ScalarNode {
		d.addAt(n, path, "expected %s, got %s", want, describe(n))
		return "", false
	}
	if isNull(n) {
		return "", false
	}
	return n.Value, true
}

// text reads a single-line string of 1..MaxLen characters that Octane's XML
// and JSON can carry. Empty strings count as absent for optional fields.
func (d *decoder) text(n *yaml.Node, path string) (string, bool) {
	s, ok := d.scalar(n, path, "a string")
	if !ok || s == "" {
		return "", false
	}
	return s, d.checkText(n, path, s)
}

func (d *decoder) checkText(n *yaml.Node, path, s string) bool {
	if c := utf8.RuneCountInString(s); c > MaxLen {
		d.addAt(n, path, "%d characters long; Octane takes at most %d", c, MaxLen)
		return false
	}
	for _, r := range s {
		if r < 0x20 || r == 0x7f || r == 0xfffe || r == 0xffff || r == utf8.RuneError {
			d.addAt(n, path, "contains the control or invalid character %U, which Octane cannot store in a name or id", r)
			return false
		}
	}
	return true
}

// required reports a missing required field, at the mapping that lacks it.
func (d *decoder) required(parent *yaml.Node, path string) {
	d.addAt(parent, path, "required field is missing")
}

// id reads an Octane entity id: a positive integer, or a string of digits.
func (d *decoder) id(n *yaml.Node, path string) (int64, bool) {
	s, ok := d.scalar(n, path, "an id (a positive integer)")
	if !ok {
		return 0, false
	}
	tag := n.ShortTag()
	if (tag == "!!int" || tag == "!!str") && isDigits(s) {
		v, err := strconv.ParseInt(s, 10, 64)
		if err == nil && v > 0 {
			return v, true
		}
	}
	d.addAt(n, path, "expected an id (a positive integer), got %s", describe(n))
	return 0, false
}

func isDigits(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// ids reads a list of ids.
func (d *decoder) ids(n *yaml.Node, path string) []int64 {
	if isNull(n) {
		return nil
	}
	if n.Kind != yaml.SequenceNode {
		d.addAt(n, path, "expected a list of ids, got %s", describe(n))
		return nil
	}
	out := []int64{}
	seen := map[int64]bool{}
	for i, c := range n.Content {
		c = resolve(c)
		p := fmt.Sprintf("%s[%d]", path, i)
		v, ok := d.id(c, p)
		if !ok {
			if isNull(c) {
				d.addAt(c, p, "expected an id (a positive integer), got null")
			}
			continue
		}
		if seen[v] {
			d.addAt(c, p, "id %d is listed twice", v)
			continue
		}
		seen[v] = true
		out = append(out, v)
	}
	return out
}

// enum reads one of allowed, case-insensitively, and returns its canonical
// spelling.
func (d *decoder) enum(n *yaml.Node, path string, allowed []string) (string, bool) {
	s, ok := d.scalar(n, path, "one of "+strings.Join(allowed, ", "))
	if !ok || s == "" {
		return "", false
	}
	for _, a := range allowed {
		if strings.EqualFold(s, a) {
			return a, true
		}
	}
	d.addAt(n, path, "%q is not one of %s", truncate(s), strings.Join(allowed, ", "))
	return "", false
}

// Bounds for dates: Octane takes epoch milliseconds as a long; a date before
// 1973 as milliseconds is almost surely a value in seconds.
var (
	minEpochMs int64 = 100_000_000_000                                                  // 1973-03-03
	maxEpochMs       = time.Date(9999, 12, 31, 23, 59, 59, 999e6, time.UTC).UnixMilli() // RFC 3339's last year
)

const (
	rfc3339Example = "2026-11-20T09:14:03Z"
	zonelessLayout = "2006-01-02T15:04:05.999999999"
)

// timestamp reads an RFC 3339 date-time with a zone, or epoch milliseconds.
func (d *decoder) timestamp(n *yaml.Node, path string) (time.Time, bool) {
	s, ok := d.scalar(n, path, "a date (RFC 3339 or epoch milliseconds)")
	if !ok || s == "" {
		return time.Time{}, false
	}
	tag := n.ShortTag()
	if tag == "!!float" {
		d.addAt(n, path, "epoch milliseconds must be an integer, got %s", s)
		return time.Time{}, false
	}
	if isDigits(s) || (tag == "!!int" && strings.HasPrefix(s, "-")) {
		v, err := strconv.ParseInt(s, 10, 64)
		switch {
		case err != nil || v > maxEpochMs:
			d.addAt(n, path, "epoch milliseconds %s are past the year 9999", truncate(s))
		case v < 0:
			d.addAt(n, path, "epoch milliseconds must not be negative, got %s", s)
		case v < minEpochMs:
			d.addAt(n, path, "%s is before 1973 as epoch milliseconds; was it epoch seconds? (use milliseconds: %s000)", s, s)
		default:
			return time.UnixMilli(v).UTC(), true
		}
		return time.Time{}, false
	}
	// RFC 3339 allows a space for the 'T'; YAML timestamps often use it.
	t := s
	if len(t) > 10 && t[10] == ' ' {
		t = t[:10] + "T" + t[11:]
	}
	if v, err := time.Parse(time.RFC3339Nano, t); err == nil {
		if v.Before(time.Unix(0, 0)) {
			d.addAt(n, path, "%q is before 1970", s)
			return time.Time{}, false
		}
		return v.UTC(), true
	}
	if _, err := time.Parse(zonelessLayout, t); err == nil {
		d.addAt(n, path, "%q has no time zone; add Z for UTC or an offset such as +01:00 (like %s)", s, rfc3339Example)
		return time.Time{}, false
	}
	if _, err := time.Parse("2006-01-02", t); err == nil {
		d.addAt(n, path, "%q has no time of day; write an RFC 3339 date-time such as %s", s, rfc3339Example)
		return time.Time{}, false
	}
	d.addAt(n, path, "%q is not an RFC 3339 date-time (like %s) nor epoch milliseconds", truncate(s), rfc3339Example)
	return time.Time{}, false
}

// maxDurationMs keeps a duration within time.Duration.
const maxDurationMs = math.MaxInt64 / int64(time.Millisecond)

// duration reads integer milliseconds or a Go duration string ("2m30s").
func (d *decoder) duration(n *yaml.Node, path string) (time.Duration, bool) {
	s, ok := d.scalar(n, path, "a duration (milliseconds or a string like 2m30s)")
	if !ok || s == "" {
		return 0, false
	}
	tag := n.ShortTag()
	switch {
	case tag == "!!float":
		d.addAt(n, path, "milliseconds must be an integer, got %s (or write a duration such as 1.5s)", s)
		return 0, false
	case isDigits(s):
		v, err := strconv.ParseInt(s, 10, 64)
		if err != nil || v > maxDurationMs {
			d.addAt(n, path, "%s milliseconds is too long", truncate(s))
			return 0, false
		}
		return time.Duration(v) * time.Millisecond, true
	case tag == "!!int":
		d.addAt(n, path, "duration must not be negative, got %s", s)
		return 0, false
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		d.addAt(n, path, "%q is neither milliseconds nor a duration such as 2m30s", truncate(s))
		return 0, false
	}
	if v < 0 {
		d.addAt(n, path, "duration must not be negative, got %s", s)
		return 0, false
	}
	return v, true
}

func (d *decoder) manifest(root *yaml.Node) *Manifest {
	root = resolve(root)
	if root.Kind != yaml.MappingNode {
		d.addAt(root, "", "a manifest must be a mapping of keys to values, got %s", describe(root))
		return nil
	}
	top := d.mapping(root, "", topKeys)
	m := &Manifest{Status: StatusFinished}

	d.version(root, top, m)

	// server
	if e, ok := top["server"]; ok && !isNull(e.v) {
		if s := d.mapping(e.v, "server", serverKeys); s != nil {
			if v, ok := s["instance_id"]; ok {
				m.Server.InstanceID, _ = d.text(v.v, "server.instance_id")
			}
			if m.Server.InstanceID == "" && !d.hasProblemAt("server.instance_id") {
				d.required(e.v, "server.instance_id")
			}
			if v, ok := s["name"]; ok {
				m.Server.Name, _ = d.text(v.v, "server.name")
			}
			if v, ok := s["type"]; ok {
				m.Server.Type, _ = d.text(v.v, "server.type")
			}
			if v, ok := s["url"]; ok {
				m.Server.URL = d.url(v.v, "server.url")
			}
		}
	} else {
		d.required(root, "server.instance_id")
	}

	// job
	if e, ok := top["job"]; ok && !isNull(e.v) {
		if s := d.mapping(e.v, "job", jobKeys); s != nil {
			if v, ok := s["id"]; ok {
				m.JobID, _ = d.text(v.v, "job.id")
			}
			if m.JobID == "" && !d.hasProblemAt("job.id") {
				d.required(e.v, "job.id")
			}
			if v, ok := s["name"]; ok {
				m.JobName, _ = d.text(v.v, "job.name")
			}
		}
	} else {
		d.required(root, "job.id")
	}

	// build
	if e, ok := top["build"]; ok && !isNull(e.v) {
		if s := d.mapping(e.v, "build", buildKeys); s != nil {
			if v, ok := s["id"]; ok {
				m.BuildID, _ = d.text(v.v, "build.id")
			}
			if m.BuildID == "" && !d.hasProblemAt("build.id") {
				d.required(e.v, "build.id")
			}
			if v, ok := s["name"]; ok {
				m.BuildName, _ = d.text(v.v, "build.name")
			}
			if v, ok := s["started"]; ok {
				m.Started, _ = d.timestamp(v.v, "build.started")
			}
			if v, ok := s["duration"]; ok {
				m.Duration, _ = d.duration(v.v, "build.duration")
			}
			if v, ok := s["status"]; ok {
				if st, ok := d.enum(v.v, "build.status", Statuses); ok {
					m.Status = st
				}
			}
			if v, ok := s["result"]; ok {
				m.Result, _ = d.enum(v.v, "build.result", Results)
			}
		}
	} else {
		d.required(root, "build.id")
	}

	// pipeline
	if e, ok := top["pipeline"]; ok && !isNull(e.v) {
		if s := d.mapping(e.v, "pipeline", pipelineKeys); s != nil {
			if v, ok := s["name"]; ok {
				m.Pipeline, _ = d.text(v.v, "pipeline.name")
			}
			if v, ok := s["root_job"]; ok {
				m.RootJob, _ = d.text(v.v, "pipeline.root_job")
			}
		}
	}

	if e, ok := top["parameters"]; ok {
		m.Parameters = d.parameters(e.v, "parameters")
	}
	if e, ok := top["causes"]; ok {
		m.Causes = d.causes(e.v, "causes")
	}
	m.Reports = []string{DefaultReports}
	if e, ok := top["reports"]; ok && !isNull(e.v) {
		m.Reports, m.globs = d.reports(e.v, "reports")
	} else {
		m.globs = []*glob.Glob{glob.MustCompile(DefaultReports)}
	}

	// Octane context of the test runs.
	if e, ok := top["release"]; ok {
		m.Release, _ = d.text(e.v, "release")
	}
	if e, ok := top["release_id"]; ok && !isNull(e.v) {
		m.ReleaseID, _ = d.id(e.v, "release_id")
	}
	if m.Release != "" && m.ReleaseID != 0 {
		e := top["release_id"]
		d.addAt(e.kn, "release_id", "give either release (a name) or release_id, not both: Octane takes one")
	}
	if e, ok := top["milestone_id"]; ok && !isNull(e.v) {
		m.Milestone, _ = d.id(e.v, "milestone_id")
	}
	if e, ok := top["environment"]; ok {
		m.Environment = d.environment(e.v, "environment")
	}
	if e, ok := top["test_fields"]; ok {
		m.TestFields = d.testFields(e.v, "test_fields")
	}
	if e, ok := top["product_areas"]; ok {
		m.ProductAreas = d.ids(e.v, "product_areas")
	}
	if e, ok := top["backlog_items"]; ok {
		m.BacklogItems = d.ids(e.v, "backlog_items")
	}

	// Defaults, remembered as such: a value the file did not give ranks below a rule's.
	m.defaulted = map[string]bool{}
	fill := func(field string, v *string, def string) {
		if *v == "" {
			*v = def
			m.defaulted[field] = true
		}
	}
	fill("server.name", &m.Server.Name, m.Server.InstanceID)
	fill("job.name", &m.JobName, m.JobID)
	fill("build.name", &m.BuildName, m.BuildID)
	fill("pipeline.root_job", &m.RootJob, m.JobID)
	fill("pipeline.name", &m.Pipeline, m.RootJob)
	return m
}

func (d *decoder) hasProblemAt(path string) bool {
	for _, p := range d.problems {
		if p.Path == path {
			return true
		}
	}
	return false
}

// version reads version: 1 or apiVersion: octane-import/v1 (one is required).
func (d *decoder) version(root *yaml.Node, top map[string]entry, m *Manifest) {
	ve, hasV := top["version"]
	ae, hasA := top["apiVersion"]
	if hasV && !isNull(ve.v) {
		s, ok := d.scalar(ve.v, "version", "the number 1")
		if ok {
			tag := ve.v.ShortTag()
			if (tag == "!!int" || tag == "!!str") && isDigits(s) {
				if v, err := strconv.Atoi(s); err == nil && v == Version {
					m.Version = v
				} else {
					d.addAt(ve.v, "version", "unsupported version %s: this octane-import reads version %d", truncate(s), Version)
				}
			} else {
				d.addAt(ve.v, "version", "expected the number %d, got %s", Version, describe(ve.v))
			}
		}
	}
	if hasA && !isNull(ae.v) {
		s, ok := d.scalar(ae.v, "apiVersion", "the string "+APIVersion)
		if ok {
			if s == APIVersion {
				if !d.hasProblemAt("version") {
					m.Version = Version
				}
			} else {
				d.addAt(ae.v, "apiVersion", "unsupported apiVersion %q: this octane-import reads %q", truncate(s), APIVersion)
			}
		}
	}
	if (!hasV || isNull(ve.v)) && (!hasA || isNull(ae.v)) {
		d.required(root, "version")
	}
}

func (d *decoder) url(n *yaml.Node, path string) string {
	s, ok := d.scalar(n, path, "a URL")
	if !ok || s == "" {
		return ""
	}
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		d.addAt(n, path, "%q is not an absolute http or https URL", truncate(s))
		return ""
	}
	if !d.checkText(n, path, s) {
		return ""
	}
	return s
}

// parameters reads a list of {name, type, value}, or the short form: a
// mapping of name to value with the type taken from the YAML value.
func (d *decoder) parameters(n *yaml.Node, path string) []Parameter {
	if isNull(n) {
		return nil
	}
	out := []Parameter{}
	seen := map[string]int{}
	addParam := func(p Parameter, at *yaml.Node, ppath string) {
		if line, dup := seen[p.Name]; dup {
			d.addAt(at, ppath, "parameter %q is given twice (first at line %d)", truncate(p.Name), line)
			return
		}
		seen[p.Name] = at.Line
		out = append(out, p)
	}
	switch n.Kind {
	case yaml.MappingNode:
		for _, e := range d.entries(n, path) {
			p := join(path, e.key)
			if !d.checkText(e.kn, p, e.key) {
				continue
			}
			if e.key == "" {
				d.addAt(e.kn, p, "a parameter name must not be empty")
				continue
			}
			v, _ := d.scalar(e.v, p, "a parameter value (string, number or boolean)")
			typ := "string"
			if e.v.Kind == yaml.ScalarNode {
				switch e.v.ShortTag() {
				case "!!bool":
					typ = "boolean"
				case "!!int", "!!float":
					typ = "number"
				}
			}
			addParam(Parameter{Name: e.key, Type: typ, Value: v}, e.kn, p)
		}
	case yaml.SequenceNode:
		for i, c := range n.Content {
			c = resolve(c)
			p := fmt.Sprintf("%s[%d]", path, i)
			s := d.mapping(c, p, parameterKeys)
			if s == nil {
				continue
			}
			var param Parameter
			if e, ok := s["name"]; ok {
				param.Name, _ = d.text(e.v, p+".name")
			}
			if param.Name == "" {
				if !d.hasProblemAt(p + ".name") {
					d.required(c, p+".name")
				}
				continue
			}
			param.Type = "string"
			if e, ok := s["type"]; ok {
				if t, ok := d.enum(e.v, p+".type", ParameterTypes); ok {
					param.Type = t
				}
			}
			if e, ok := s["value"]; ok {
				param.Value, _ = d.scalar(e.v, p+".value", "a parameter value (string, number or boolean)")
			}
			addParam(param, c, p+".name")
		}
	default:
		d.addAt(n, path, "expected a list of {name, type, value} or a mapping of name to value, got %s", describe(n))
	}
	return out
}

func (d *decoder) causes(n *yaml.Node, path string) []Cause {
	if isNull(n) {
		return nil
	}
	if n.Kind != yaml.SequenceNode {
		d.addAt(n, path, "expected a list of {job, build}, got %s", describe(n))
		return nil
	}
	out := []Cause{}
	for i, c := range n.Content {
		c = resolve(c)
		p := fmt.Sprintf("%s[%d]", path, i)
		s := d.mapping(c, p, causeKeys)
		if s == nil {
			continue
		}
		var cause Cause
		if e, ok := s["job"]; ok {
			cause.Job, _ = d.text(e.v, p+".job")
		}
		if e, ok := s["build"]; ok {
			cause.Build, _ = d.text(e.v, p+".build")
		}
		if cause.Job == "" && !d.hasProblemAt(p+".job") {
			d.addAt(c, p+".job", "required field is missing: a cause names the upstream job and build")
		}
		if cause.Build == "" && !d.hasProblemAt(p+".build") {
			d.addAt(c, p+".build", "required field is missing: a cause names the upstream job and build")
		}
		if cause.Job != "" && cause.Build != "" {
			out = append(out, cause)
		}
	}
	return out
}

// reports reads the report globs: a list of strings, or one string.
func (d *decoder) reports(n *yaml.Node, path string) ([]string, []*glob.Glob) {
	var items []*yaml.Node
	switch n.Kind {
	case yaml.ScalarNode:
		items = []*yaml.Node{n}
	case yaml.SequenceNode:
		items = n.Content
	default:
		d.addAt(n, path, "expected a list of globs, got %s", describe(n))
		return nil, nil
	}
	out, globs := []string{}, []*glob.Glob{}
	for i, c := range items {
		c = resolve(c)
		p := path
		if n.Kind == yaml.SequenceNode {
			p = fmt.Sprintf("%s[%d]", path, i)
		}
		s, ok := d.scalar(c, p, "a glob")
		if !ok || s == "" {
			d.addAt(c, p, "a report glob must not be empty")
			continue
		}
		g, ok := d.reportGlob(c, p, s)
		if !ok {
			continue
		}
		out = append(out, g.String())
		globs = append(globs, g)
	}
	return out, globs
}

// isDrive reports whether s starts with a Windows drive ("C:", "C:/…").
func isDrive(s string) bool {
	if len(s) < 2 || s[1] != ':' {
		return false
	}
	c := s[0] | 0x20
	return c >= 'a' && c <= 'z' && (len(s) == 2 || s[2] == '/' || s[2] == '\\')
}

func (d *decoder) reportGlob(n *yaml.Node, p, s string) (*glob.Glob, bool) {
	switch {
	case strings.Contains(s, `\`):
		d.addAt(n, p, "%q contains a backslash: separate folders with /, and write a literal * ? [ { as [*] [?] [[] [{]", truncate(s))
		return nil, false
	case strings.HasPrefix(s, "/") || isDrive(s):
		d.addAt(n, p, "%q is absolute: report globs are relative to the manifest's folder", truncate(s))
		return nil, false
	}
	clean := path.Clean(s)
	if clean == ".." || strings.HasPrefix(clean, "../") || strings.Contains(s, "/../") || strings.HasSuffix(s, "/..") {
		d.addAt(n, p, "%q leaves the manifest's folder: a manifest owns only reports at or below it", truncate(s))
		return nil, false
	}
	g, err := glob.Compile(clean)
	if err != nil {
		d.addAt(n, p, "%v", err)
		return nil, false
	}
	return g, true
}

// environment reads taxonomy type: value pairs.
func (d *decoder) environment(n *yaml.Node, path string) map[string]string {
	if isNull(n) {
		return nil
	}
	if n.Kind != yaml.MappingNode {
		d.addAt(n, path, "expected a mapping of taxonomy type to value (like OS: Linux), got %s", describe(n))
		return nil
	}
	out := map[string]string{}
	for _, e := range d.entries(n, path) {
		p := join(path, e.key)
		if e.key == "" {
			d.addAt(e.kn, p, "a taxonomy type must not be empty")
			continue
		}
		if !d.checkText(e.kn, p, e.key) {
			continue
		}
		v, ok := d.text(e.v, p)
		if !ok {
			if !d.hasProblemAt(p) {
				d.addAt(e.v, p, "a taxonomy value must not be empty")
			}
			continue
		}
		out[e.key] = v
	}
	return out
}

// testFields reads Test_Level, Test_Type, Testing_Tool_Type and Framework
// (keys matched case-insensitively, stored in Octane's spelling).
func (d *decoder) testFields(n *yaml.Node, path string) map[string]string {
	if isNull(n) {
		return nil
	}
	if n.Kind != yaml.MappingNode {
		d.addAt(n, path, "expected a mapping of test field type to value (like Test_Level: Unit Test), got %s", describe(n))
		return nil
	}
	out := map[string]string{}
	first := map[string]int{}
	for _, e := range d.entries(n, path) {
		p := join(path, e.key)
		typ := ""
		for _, t := range TestFieldTypes {
			if strings.EqualFold(t, e.key) {
				typ = t
			}
		}
		if typ == "" {
			d.addAt(e.kn, p, "unknown test field type; Octane takes %s", strings.Join(TestFieldTypes, ", "))
			continue
		}
		if line, dup := first[typ]; dup {
			d.addAt(e.kn, p, "%s is given twice (first at line %d)", typ, line)
			continue
		}
		first[typ] = e.kn.Line
		v, ok := d.text(e.v, p)
		if !ok {
			if !d.hasProblemAt(p) {
				d.addAt(e.v, p, "a test field value must not be empty")
			}
			continue
		}
		out[typ] = v
	}
	return out
}
