package yamlnode

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/octane-import/octane-import/internal/duration"
	"gopkg.in/yaml.v3"
)

// DefaultMaxKeys bounds the mapping entries a Checker visits, aliases and
// merge keys included, when Checker.MaxKeys is 0.
const DefaultMaxKeys = 200000

// maxMergeDepth bounds merge keys inside merged mappings; deeper, "<<" is
// an ordinary key.
const maxMergeDepth = 16

// Checker reads the node tree of one file and collects its problems. Its
// readers take the node and the field's path ("rules[1].set.job"), record a
// problem at the node when the value is of the wrong kind, and report
// whether they read a value. Null counts as absent everywhere.
type Checker struct {
	File string // names the file in problems
	Kind string // what the file is, in messages: "manifest", "configuration file"

	// MergeKeys allows YAML merge keys (<<: *anchor). Without it they are
	// refused.
	MergeKeys bool
	// MaxKeys bounds the mapping entries visited, so that anchors and merge
	// keys (a "billion laughs" file) keep a load linear; 0 means
	// DefaultMaxKeys.
	MaxKeys int
	// Hint, when set, gives an unknown key's hint when no known key is close
	// (e.g. " (it belongs under build:)"); "" falls back to the known keys.
	Hint func(path, key string) string

	Problems []Problem

	keys       int
	overBudget bool
}

// Problem returns a problem at n's position (none when n is nil).
func (c *Checker) Problem(n *yaml.Node, path, format string, args ...any) Problem {
	p := Problem{File: c.File, Path: path, Msg: fmt.Sprintf(format, args...)}
	if n != nil {
		p.Line, p.Column = n.Line, n.Column
	}
	return p
}

// Errorf records a problem at n's position.
func (c *Checker) Errorf(n *yaml.Node, path, format string, args ...any) {
	c.Problems = append(c.Problems, c.Problem(n, path, format, args...))
}

// ErrorAt records a problem at a line and column (0 when unknown).
func (c *Checker) ErrorAt(line, col int, path, format string, args ...any) {
	c.Problems = append(c.Problems, Problem{File: c.File, Line: line, Column: col, Path: path, Msg: fmt.Sprintf(format, args...)})
}

// HasProblem reports whether a problem was recorded for the field path.
func (c *Checker) HasProblem(path string) bool {
	for _, p := range c.Problems {
		if p.Path == path {
			return true
		}
	}
	return false
}

// Pair is one key: value entry of a mapping.
type Pair struct {
	Key     string
	KeyNode *yaml.Node
	Value   *yaml.Node // aliases resolved
}

// Pairs returns the entries of the mapping n, in order. Null gives none; a
// node that is not a mapping, a key that is not a string and a repeated key
// are problems. Merge keys are expanded (an entry of the mapping itself wins
// over a merged one, and an earlier merged one over a later) or refused, as
// MergeKeys says.
func (c *Checker) Pairs(n *yaml.Node, path string) []Pair {
	return c.pairs(n, path, 0)
}

func (c *Checker) pairs(n *yaml.Node, path string, depth int) []Pair {
	n = Resolve(n)
	if IsNull(n) {
		return nil
	}
	maxKeys := c.MaxKeys
	if maxKeys == 0 {
		maxKeys = DefaultMaxKeys
	}
	c.keys += len(n.Content)
	if c.keys > maxKeys {
		if !c.overBudget {
			c.overBudget = true
			c.Errorf(n, path, "the file expands to too many keys through anchors and merge keys (more than %d)", maxKeys)
		}
		return nil
	}
	if n.Kind != yaml.MappingNode {
		c.Errorf(n, path, "expected a mapping, got %s", Describe(n))
		return nil
	}
	var own, merged []Pair
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := Resolve(n.Content[i]), n.Content[i+1]
		if k.Kind == yaml.ScalarNode && k.ShortTag() == "!!merge" {
			if !c.MergeKeys {
				c.Errorf(k, path, "merge keys (<<) are not supported in a %s", c.kind())
				continue
			}
			if depth < maxMergeDepth {
				v = Resolve(v)
				srcs := []*yaml.Node{v}
				if v.Kind == yaml.SequenceNode {
					srcs = v.Content
				}
				for _, s := range srcs {
					merged = append(merged, c.pairs(s, path, depth+1)...)
				}
				continue
			}
		}
		own = append(own, Pair{KeyNode: k, Value: v})
	}
	seen := map[string]*yaml.Node{}
	var out []Pair
	for _, p := range own {
		k := p.KeyNode
		if k.Kind != yaml.ScalarNode {
			c.Errorf(k, path, "a key must be a string, got %s", Describe(k))
			continue
		}
		if first, dup := seen[k.Value]; dup {
			c.Errorf(k, Join(path, k.Value), "duplicate key (first at line %d)", first.Line)
			continue
		}
		seen[k.Value] = k
		out = append(out, Pair{Key: k.Value, KeyNode: k, Value: Resolve(p.Value)})
	}
	for _, p := range merged {
		if _, dup := seen[p.Key]; !dup {
			seen[p.Key] = p.KeyNode
			out = append(out, p)
		}
	}
	return out
}

// Fields calls fn for each entry of the mapping n whose key is known, in
// order, and records the others as unknown keys with a suggestion. Null
// gives no call.
func (c *Checker) Fields(n *yaml.Node, path string, known []string, fn func(key string, k, v *yaml.Node)) {
	for _, p := range c.Pairs(n, path) {
		if !slices.Contains(known, p.Key) {
			c.Errorf(p.KeyNode, Join(path, p.Key), "unknown key%s", c.suggest(path, p.Key, known))
			continue
		}
		fn(p.Key, p.KeyNode, p.Value)
	}
}

// Mapping is Fields returning the entries by key, for a node that must be a
// mapping: anything else, null included, is a problem and gives nil.
func (c *Checker) Mapping(n *yaml.Node, path string, known []string) map[string]Pair {
	n = Resolve(n)
	if n.Kind != yaml.MappingNode {
		c.Errorf(n, path, "expected a mapping, got %s", Describe(n))
		return nil
	}
	out := map[string]Pair{}
	c.Fields(n, path, known, func(key string, k, v *yaml.Node) {
		out[key] = Pair{Key: key, KeyNode: k, Value: v}
	})
	return out
}

func (c *Checker) suggest(path, key string, known []string) string {
	if s := Suggest(key, known); s != "" {
		return s
	}
	if c.Hint != nil {
		if h := c.Hint(path, key); h != "" {
			return h
		}
	}
	return "; known keys: " + strings.Join(known, ", ")
}

// Item is one element of a list, aliases resolved, with its field path.
type Item struct {
	Node *yaml.Node
	Path string
}

// List returns the elements of the list n ("path[i]"). Null gives none;
// anything else is a problem: "expected WANT, got …".
func (c *Checker) List(n *yaml.Node, path, want string) []Item {
	n = Resolve(n)
	if IsNull(n) {
		return nil
	}
	if n.Kind != yaml.SequenceNode {
		c.Errorf(n, path, "expected %s, got %s", want, Describe(n))
		return nil
	}
	out := make([]Item, len(n.Content))
	for i, e := range n.Content {
		out[i] = Item{Node: Resolve(e), Path: Index(path, i)}
	}
	return out
}

// ListOrValue is List where a single value counts as a list of one (its
// path is path itself).
func (c *Checker) ListOrValue(n *yaml.Node, path, want string) []Item {
	n = Resolve(n)
	if n.Kind == yaml.ScalarNode && !IsNull(n) {
		return []Item{{Node: n, Path: path}}
	}
	return c.List(n, path, want)
}

// Scalar reads a single value, as written (a number or a boolean is its
// text). Null gives ("", false); a mapping or a list is a problem:
// "expected WANT, got a list".
func (c *Checker) Scalar(n *yaml.Node, path, want string) (string, bool) {
	n = Resolve(n)
	if n.Kind != yaml.ScalarNode {
		c.Errorf(n, path, "expected %s, got %s", want, Describe(n))
		return "", false
	}
	if IsNull(n) {
		return "", false
	}
	return n.Value, true
}

// Text reads a single value of any text.
func (c *Checker) Text(n *yaml.Node, path string) (string, bool) {
	return c.Scalar(n, path, "a single value")
}

// Strings reads a list of single values, where one value counts as a list
// of one, and returns the values with their nodes.
func (c *Checker) Strings(n *yaml.Node, path string) ([]string, []*yaml.Node) {
	var vals []string
	var nodes []*yaml.Node
	for _, it := range c.ListOrValue(n, path, "a list") {
		if s, ok := c.Text(it.Node, it.Path); ok {
			vals = append(vals, s)
			nodes = append(nodes, it.Node)
		}
	}
	return vals, nodes
}

// errValue is what a converter of read returns for a value it refuses.
var errValue = errors.New("not such a value")

// read reads a non-empty single value and converts it: a refusal
// (errValue) is the problem "expected WANT, got …", another error is its
// own message. An empty value is absent, like null.
func read[T any](c *Checker, n *yaml.Node, path, want string, convert func(string) (T, error)) (T, bool) {
	var zero T
	n = Resolve(n)
	s, ok := c.Scalar(n, path, want)
	if !ok || s == "" {
		return zero, false
	}
	v, err := convert(s)
	switch {
	case errors.Is(err, errValue):
		c.Errorf(n, path, "expected %s, got %s", want, Describe(n))
	case err != nil:
		c.Errorf(n, path, "%v", err)
	default:
		return v, true
	}
	return zero, false
}

// Int reads a whole number ≥ 0.
func (c *Checker) Int(n *yaml.Node, path string) (int, bool) {
	return read(c, n, path, "a whole number ≥ 0", func(s string) (int, error) {
		v, err := strconv.Atoi(s)
		if err != nil || v < 0 {
			return 0, errValue
		}
		return v, nil
	})
}

// Float reads a number ≥ 0.
func (c *Checker) Float(n *yaml.Node, path string) (float64, bool) {
	return read(c, n, path, "a number ≥ 0", func(s string) (float64, error) {
		v, err := strconv.ParseFloat(s, 64)
		if err != nil || v < 0 || math.IsNaN(v) {
			return 0, errValue
		}
		return v, nil
	})
}

// Bool reads true or false (as written: yes, no, on and off are not
// booleans).
func (c *Checker) Bool(n *yaml.Node, path string) (bool, bool) {
	return read(c, n, path, "true or false", func(s string) (bool, error) {
		switch s {
		case "true":
			return true, nil
		case "false":
			return false, nil
		}
		return false, errValue
	})
}

// Duration reads a duration in the forms accept allows (see
// internal/duration).
func (c *Checker) Duration(n *yaml.Node, path string, accept duration.Accept) (time.Duration, bool) {
	return read(c, n, path, "a duration", func(s string) (time.Duration, error) { return duration.Parse(s, accept) })
}

// Zone reads a time zone: an IANA name (Europe/Berlin, UTC) or "local" (the machine's).
func (c *Checker) Zone(n *yaml.Node, path string) (string, *time.Location) {
	s, ok := c.Text(n, path)
	if !ok || s == "" {
		return "", nil
	}
	if strings.EqualFold(s, "local") {
		return "local", time.Local
	}
	loc, err := time.LoadLocation(s)
	if err != nil {
		c.Errorf(n, path, "%q is not a time zone (an IANA name such as Europe/Berlin or UTC, or local)", s)
		return "", nil
	}
	return s, loc
}
