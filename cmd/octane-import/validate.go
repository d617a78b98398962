package main

import (
	"fmt"

	"github.com/spf13/cobra"
)

func (a *app) validateCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "validate [--config FILE]",
		Short: "Check the configuration file and print every problem in it",
		Long: `validate reads the configuration file and reports every problem at once, each with its line
and column: unknown keys, bad patterns, templates naming captures their rule does not have,
rules that can never match, missing secrets. Exit 0 when the file is good, 2 when not.`,
		Example: `  octane-import validate --config /etc/octane-import/octane-import.yaml`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := a.loadConfig()
			if err != nil {
				return err
			}
			if cfg.Path == "" {
				fmt.Fprintf(a.stdout, "no configuration file at %s: the built-in default rule applies (job and build from the folders)\n", a.configPath)
				return nil
			}
			fmt.Fprintf(a.stdout, "%s: ok (%d targets, %d sources, %d rules)\n", cfg.Path, len(cfg.Targets), len(cfg.Sources), len(cfg.Rules))
			return nil
		},
	}
}
