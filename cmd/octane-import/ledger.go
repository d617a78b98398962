package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/octane-import/octane-import/importer/ledger"
)

// ledgerCommand is `octane-import ledger`: what is done to a ledger as a whole.
func (a *app) ledgerCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "ledger",
		Short: "Work on the ledger as a whole: copy an embedded ledger into PostgreSQL",
		Long: `ledger groups what is done to a ledger as a whole, rather than to the files it records.
See its commands.`,
		Args: cobra.NoArgs, // ledger frob: unknown command, exit 2
		RunE: func(cmd *cobra.Command, _ []string) error { return cmd.Help() },
	}
	cmd.AddCommand(a.ledgerCopyCommand())
	return cmd
}

// copyJSON is `ledger copy --output json`.
type copyJSON struct {
	From     string `json:"from"`
	To       string `json:"to"` // password masked
	Files    int    `json:"files"`
	Payloads int    `json:"payloads"`
	Builds   int    `json:"builds"`
	Bytes    int64  `json:"bytes"` // payload bytes of payloads not yet accepted
}

func (a *app) ledgerCopyCommand() *cobra.Command {
	var from, to string
	cmd := &cobra.Command{
		Use:   "copy --from FILE --to URL",
		Short: "Copy an embedded ledger (a file) into an empty PostgreSQL ledger, sending nothing",
		Long: `copy moves what an embedded ledger (--from, the file scan and watch kept) records into a
PostgreSQL ledger (--to, a postgres:// URL), so that several instances can share it
(docs/operations.md, high availability) without importing anything again: every file,
payload (queued ones with their bytes), build, and the counters, in one transaction. It
refuses a PostgreSQL ledger that holds anything already, and an embedded ledger a running
scan or watch holds (stop it first). The embedded ledger is left as it was; afterwards point
every instance at the URL (--state, settings.state or OCTANE_IMPORT_STATE).

The URL may carry the password (postgres://user:password@host:5432/db?sslmode=require); it is
never printed. To keep it out of the process list, set OCTANE_IMPORT_TO instead of --to.`,
		Example: `  octane-import ledger copy --from /var/lib/octane-import/ledger.db --to 'postgres://octane@db.example.com/octane_import?sslmode=require'
  OCTANE_IMPORT_TO="$(cat /etc/octane-import/ledger-url)" octane-import ledger copy --from ledger.db`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if from == "" {
				return usageErr("--from is required: the embedded ledger's file")
			}
			if to == "" {
				return usageErr("--to is required: the postgres:// URL of the PostgreSQL ledger (or OCTANE_IMPORT_TO)")
			}
			if !ledger.IsURL(to) {
				return usageErr("--to %s is not a postgres:// URL", ledger.RedactURLs(to))
			}
			return a.copyLedger(cmd.Context(), from, to)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&from, "from", "", "the embedded ledger to copy (a file)")
	fl.StringVar(&to, "to", "", "the PostgreSQL ledger to copy into: postgres://user:password@host:port/database?sslmode=...")
	return cmd
}

func (a *app) copyLedger(ctx context.Context, from, to string) error {
	ctx, cancel := context.WithTimeout(ctx, time.Hour)
	defer cancel()
	start := time.Now()
	c, err := ledger.Copy(ctx, from, to)
	if err != nil {
		if ctx.Err() != nil && errors.Is(ctx.Err(), context.Canceled) {
			return &exitError{code: exitSignals, err: errors.New("interrupted: nothing was copied (the copy is one transaction)")}
		}
		// A wrong URL or password, a database that cannot be reached, one that holds records
		// already, a ledger in use: the command line or the setup must change. The error
		// carries the database's own message, the password masked.
		return &exitError{code: exitUsage, err: err}
	}
	dest := ledger.RedactURLs(to)
	a.logger.Info("ledger copied", "from", from, "to", dest, "files", c.Files, "payloads", c.Payloads, "builds", c.Builds,
		"bytes", c.Bytes, "took", time.Since(start).Round(time.Millisecond))
	if a.jsonOutput() {
		return json.NewEncoder(a.stdout).Encode(copyJSON{From: from, To: dest, Files: c.Files, Payloads: c.Payloads, Builds: c.Builds, Bytes: c.Bytes})
	}
	queued := ""
	if c.Bytes > 0 {
		queued = fmt.Sprintf(" (%s of payloads not yet accepted, with their bytes)", byteCount(c.Bytes))
	}
	fmt.Fprintf(a.stdout, "Copied %s into %s: %s, %s%s, %s.\n", from, dest,
		plural(c.Files, "file"), plural(c.Payloads, "payload"), queued, plural(c.Builds, "build"))
	fmt.Fprintf(a.stdout, "Nothing was sent to Octane. %s is left as it was: point every instance at the new ledger (--state, settings.state or OCTANE_IMPORT_STATE).\n", from)
	return nil
}

// byteCount is n bytes for a reader: 512 B, 1.5 KiB, 12.0 MiB.
func byteCount(n int64) string {
	if n < 1024 {
		return fmt.Sprintf("%d B", n)
	}
	v, unit := float64(n)/1024, "KiB"
	for _, u := range []string{"MiB", "GiB", "TiB"} {
		if v < 1024 {
			break
		}
		v, unit = v/1024, u
	}
	return fmt.Sprintf("%.1f %s", v, unit)
}
