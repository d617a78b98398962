package mapping

import (
	"errors"
	"testing"

	"github.com/octane-import/octane-import/internal/yamlnode"
	"gopkg.in/yaml.v3"
)

// parseRules reads the rules of a configuration file's text as package config hands
// them over: the `rules:` list, with the names of the file's targets.
func parseRules(src string) (Rules, error) {
	c := &yamlnode.Checker{File: "test.yaml", Kind: "configuration file", MergeKeys: true}
	root := c.Read([]byte(src))
	if root == nil {
		return nil, errors.New("no document")
	}
	var targets []string
	var rules Rules
	c.Fields(yamlnode.Resolve(root), "", []string{"version", "targets", "sources", "settings", "rules"}, func(key string, _, v *yaml.Node) {
		switch key {
		case "targets":
			for _, it := range c.List(v, "targets", "a list") {
				for _, p := range c.Pairs(it.Node, it.Path) {
					if p.Key == "name" {
						targets = append(targets, p.Value.Value)
					}
				}
			}
		case "rules":
			rules = ParseRules(c, v, targets)
		}
	})
	if len(c.Problems) > 0 {
		return nil, &yamlnode.Error{File: "test.yaml", Problems: c.Problems}
	}
	return rules, nil
}

func mustParse(t testing.TB, src string) Rules {
	t.Helper()
	rules, err := parseRules(src)
	if err != nil {
		t.Fatalf("rules:\n%v", err)
	}
	return rules
}
