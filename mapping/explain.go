package mapping

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"
	"time"
)

// WriteExplain writes the text form of `explain` for one file: the rule
// that matched (with its line), the captures, and everything the decision
// resolves to, with where each value came from. err is what Decide
// returned; a decision that is incomplete is shown along with the error.
func WriteExplain(w io.Writer, path string, d *Decision, err error) {
	var b strings.Builder
	b.WriteString(path)
	b.WriteString("\n")
	row := func(key, val string) {
		fmt.Fprintf(&b, "  %-14s %s\n", key+":", val)
	}
	if d == nil {
		switch {
		case errors.Is(err, ErrUnmatched):
			row("unmatched", "no rule matched (add a rule, or a rule without match as a catch-all default)")
		case err != nil:
			row("error", err.Error())
		default:
			row("error", "no decision")
		}
		b.WriteString("\n")
		_, _ = io.WriteString(w, b.String())
		return
	}
	rule := d.Rule
	if d.RuleLine > 0 {
		rule += fmt.Sprintf(" (line %d)", d.RuleLine)
	} else {
		rule += " (built in)"
	}
	row("rule", rule)
	if len(d.Captures) > 0 {
		row("captures", pairs(d.Captures))
	}
	row("target", d.Target)
	srv := quoteIfNeeded(d.Server.InstanceID)
	var extra []string
	if d.Server.Name != "" && d.Server.Name != d.Server.InstanceID {
		extra = append(extra, "name "+quoteIfNeeded(d.Server.Name))
	}
	if d.Server.Type != "" {
		extra = append(extra, "type "+d.Server.Type)
	}
	if d.Server.URL != "" {
		extra = append(extra, "url "+d.Server.URL)
	}
	if len(extra) > 0 {
		srv += " (" + strings.Join(extra, ", ") + ")"
	}
	row("server", srv+from(d, "server"))
	row("pipeline", quoteIfNeeded(d.Pipeline)+from(d, "pipeline"))
	row("job", idName(d.Job, d.JobName)+from(d, "job"))
	row("build", idName(d.Build, d.BuildName)+from(d, "build"))
	if !d.Start.IsZero() {
		row("start", d.Start.UTC().Format(time.RFC3339)+from(d, "start"))
	}
	if d.Duration > 0 {
		row("duration", d.Duration.String())
	}
	if d.Result != "" {
		row("result", d.Result+from(d, "result"))
	} else {
		row("result", "derived from the runs (any Failed gives failure)")
	}
	switch {
	case d.Release != "" && d.ReleaseID != 0:
		row("release", fmt.Sprintf("%s (id %d)", quoteIfNeeded(d.Release), d.ReleaseID)+from(d, "release"))
	case d.Release != "":
		row("release", quoteIfNeeded(d.Release)+from(d, "release"))
	case d.ReleaseID != 0:
		row("release", fmt.Sprintf("id %d", d.ReleaseID)+from(d, "release"))
	}
	if d.Milestone != 0 {
		row("milestone", fmt.Sprintf("id %d", d.Milestone))
	}
	if len(d.Environment) > 0 {
		row("environment", pairs(d.Environment))
	}
	if len(d.TestFields) > 0 {
		row("test fields", pairs(d.TestFields))
	}
	if len(d.ProductAreas) > 0 {
		row("product areas", ids(d.ProductAreas))
	}
	if len(d.BacklogItems) > 0 {
		row("backlog items", ids(d.BacklogItems))
	}
	if err != nil {
		row("error", err.Error())
	}
	b.WriteString("\n")
	_, _ = io.WriteString(w, b.String())
}

// ExplainEntry is one file in the JSON form of explain.
type ExplainEntry struct {
	Path      string    `json:"path"`
	Matched   bool      `json:"matched"`
	Decision  *Decision `json:"decision,omitempty"`
	Error     string    `json:"error,omitempty"`
	Unmatched bool      `json:"unmatched,omitempty"`
}

// NewExplainEntry builds the JSON record for one file from what Decide
// returned.
func NewExplainEntry(path string, d *Decision, err error) ExplainEntry {
	e := ExplainEntry{Path: path, Decision: d, Matched: d != nil}
	if err != nil {
		e.Error = err.Error()
		e.Unmatched = errors.Is(err, ErrUnmatched)
	}
	return e
}

// WriteExplainJSON writes one file's explain record as a line of JSON.
func WriteExplainJSON(w io.Writer, path string, d *Decision, err error) error {
	data, merr := json.Marshal(NewExplainEntry(path, d, err))
	if merr != nil {
		return merr
	}
	_, werr := w.Write(append(data, '\n'))
	return werr
}

func from(d *Decision, key string) string {
	if f := d.From[key]; f != "" {
		return "  [" + f + "]"
	}
	return ""
}

func idName(id, name string) string {
	if name == "" || name == id {
		return quoteIfNeeded(id)
	}
	return quoteIfNeeded(id) + " (name " + quoteIfNeeded(name) + ")"
}

func pairs(m map[string]string) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = quoteIfNeeded(k) + "=" + quoteIfNeeded(m[k])
	}
	return strings.Join(parts, " ")
}

func ids(list []int64) string {
	parts := make([]string, len(list))
	for i, id := range list {
		parts[i] = strconv.FormatInt(id, 10)
	}
	return strings.Join(parts, ", ")
}

// quoteIfNeeded quotes values that would be ambiguous in the text form.
func quoteIfNeeded(s string) string {
	if s == "" || strings.ContainsAny(s, " \t\n\"=,()[]") || !strconv.CanBackquote(s) {
		return strconv.Quote(s)
	}
	return s
}
