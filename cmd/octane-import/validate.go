package main

import (
	"encoding/json"
	"errors"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/octane-import/octane-import/config"
)

func (a *app) validateCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "validate [--config FILE]",
		Short: "Check the configuration file and print every problem in it",
		Long: `validate reads the configuration file and reports every problem at once, each with its line
and column: unknown keys, bad patterns, templates naming captures their rule does not have,
rules that can never match, missing secrets. Exit 0 when the file is good, 2 when not. With
--output json, one object: {"path", "ok", "targets", "sources", "rules", "warnings",
"problems"}.`,
		Example: `  octane-import validate --config /etc/octane-import/octane-import.yaml`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return a.runValidate()
		},
	}
}

// validateJSON is `validate --output json`.
type validateJSON struct {
	Path     string        `json:"path"`
	OK       bool          `json:"ok"`
	Targets  int           `json:"targets"`
	Sources  int           `json:"sources"`
	Rules    int           `json:"rules"`
	BuiltIn  bool          `json:"built_in,omitempty"` // no file: the built-in configuration
	Warnings []problemJSON `json:"warnings,omitempty"`
	Problems []problemJSON `json:"problems,omitempty"`
}

type problemJSON struct {
	File    string `json:"file"`
	Line    int    `json:"line,omitempty"`
	Column  int    `json:"column,omitempty"`
	Message string `json:"message"`
}

func problemsJSON(ps []config.Problem) []problemJSON {
	out := make([]problemJSON, len(ps))
	for i, p := range ps {
		out[i] = problemJSON{File: p.File, Line: p.Line, Column: p.Column, Message: p.Msg}
	}
	return out
}

func (a *app) runValidate() error {
	cfg, err := config.Load(a.configPath, a.configSet, a.hostname, a.env)
	if a.jsonOutput() {
		v := validateJSON{Path: a.configPath, OK: err == nil}
		var le *config.LoadError
		switch {
		case errors.As(err, &le):
			v.Problems = problemsJSON(le.Problems)
		case err != nil:
			v.Problems = []problemJSON{{File: a.configPath, Message: err.Error()}}
		default:
			v.Targets, v.Sources, v.Rules, v.BuiltIn = len(cfg.Targets), len(cfg.Sources), len(cfg.Rules), cfg.Path == ""
			v.Warnings = problemsJSON(cfg.Warnings)
		}
		_ = json.NewEncoder(a.stdout).Encode(v)
		if err != nil {
			return &exitError{code: exitUsage}
		}
		return nil
	}
	if err != nil {
		return &exitError{code: exitUsage, err: err}
	}
	for _, w := range cfg.Warnings {
		fmt.Fprintln(a.stderr, "warning:", w)
	}
	if cfg.Path == "" {
		fmt.Fprintln(a.stdout, builtInNote(a.configPath, cfg))
		return nil
	}
	fmt.Fprintf(a.stdout, "%s: ok (%s, %s, %s)\n", cfg.Path, plural(len(cfg.Targets), "target"), plural(len(cfg.Sources), "source"), plural(len(cfg.Rules), "rule"))
	return nil
}
