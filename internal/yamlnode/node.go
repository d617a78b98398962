// Package yamlnode reads YAML files for the configuration and manifest
// loaders: one document from bytes with syntax errors at the right line,
// then the yaml.v3 node tree walked key by key, so that every problem of a
// file carries its line, column and field path and all of them are found in
// one pass.
//
// It owns the rules both file formats share: aliases followed, null as
// absent, duplicate keys refused, merge keys (<<) where the format allows
// them within a budget, unknown keys refused with a suggestion, and how
// values of the wrong kind are described.
package yamlnode

import (
	"fmt"
	"strings"

	"gopkg.in/yaml.v3"
)

// maxAliasChain bounds the aliases followed from one node.
const maxAliasChain = 64

// Resolve follows aliases. It never returns nil: a missing node, or an
// alias chain too long to follow, is a null scalar.
func Resolve(n *yaml.Node) *yaml.Node {
	for i := 0; n != nil && n.Kind == yaml.AliasNode && i < maxAliasChain; i++ {
		n = n.Alias
	}
	if n == nil || n.Kind == yaml.AliasNode {
		return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!null"}
	}
	return n
}

// IsNull reports whether n is absent or YAML null (~, null, an empty value).
func IsNull(n *yaml.Node) bool {
	return n == nil || (n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null")
}

// Describe names a node's kind, and a scalar's value, for messages: "a
// mapping", "a list", "null", "a number (12)", `the string "x"`.
func Describe(n *yaml.Node) string {
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
		return fmt.Sprintf("the string %q", Truncate(n.Value))
	}
	return "an unknown node"
}

// Suggest returns " (did you mean K?)" for the known key closest to a
// misspelt one (case aside, at most two edits away), or "".
func Suggest(key string, known []string) string {
	best, bestD := "", 3
	for _, k := range known {
		if d := EditDistance(strings.ToLower(key), strings.ToLower(k)); d < bestD {
			best, bestD = k, d
		}
	}
	if best == "" {
		return ""
	}
	return " (did you mean " + best + "?)"
}

// EditDistance is the Levenshtein distance between a and b, in characters;
// strings longer than 64 characters are far from everything.
func EditDistance(a, b string) int {
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
