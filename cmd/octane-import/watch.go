package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/spf13/cobra"

	"github.com/octane-import/octane-import/config"
	"github.com/octane-import/octane-import/importer"
	"github.com/octane-import/octane-import/importer/ledger"
	"github.com/octane-import/octane-import/internal/glob"
)

func (a *app) watchCommand() *cobra.Command {
	var f importFlags
	var w watchFlags
	cmd := &cobra.Command{
		Use:   "watch [flags] [PATH...]",
		Short: "Keep importing files under PATHs (or the configured sources) as they appear, until stopped",
		Long: `watch is a scan that never ends. It follows file events (fsnotify), or polls where events
cannot work (NFS, SMB and FUSE mounts are detected and polled, with a log line saying so),
imports each file once it is complete (its size and mtime held still for --settle, it was
renamed into place whole, or a --marker file appeared in its folder or above), and runs a
full reconciliation pass every --reconcile so that a missed event costs latency, never a
result. Octane being down leaves work queued in the ledger; it drains when Octane is back.

A report waits for its build manifest only where one is expected: its source lists
manifests: patterns, or the build folder beside it has one. It waits up to --manifest-wait
(said once per folder in the log); the manifest or a marker ends the wait. The
--health-listen address's /status lists the files waiting and why. With --output json,
stdout holds one JSON object per file, as scan --output json prints, and nothing else.

SIGINT or SIGTERM: stop taking new files, checkpoint the batch in flight (what was sent is
recorded, the rest stays queued for the next start), close the ledger and exit 0. A second signal exits at once; the ledger stays consistent.`,
		Example: `  octane-import watch /drops
  octane-import watch --poll 30s --health-listen 127.0.0.1:9090 /mnt/ci-share
  octane-import watch --marker '*.done' --manifest-wait 5m /drops`,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := f.parse(args); err != nil {
				return err
			}
			fl := cmd.Flags()
			o := a.overrides(&f)
			given := func(name string, v *time.Duration) *time.Duration {
				if fl.Changed(name) {
					return v
				}
				return nil
			}
			o.Settle, o.Poll, o.Reconcile, o.ManifestWait = given("settle", &w.settle), given("poll", &w.poll),
				given("reconcile", &w.reconcile), given("manifest-wait", &w.manifestWait)
			if w.marker != "" {
				if _, err := glob.Compile(w.marker); err != nil {
					return usageErr("--marker: %v", err)
				}
			}
			o.Marker = w.marker
			return a.runWatch(cmd.Context(), &f, o, &w)
		},
	}
	f.register(cmd, false)
	fl := cmd.Flags()
	fl.DurationVar(&w.settle, "settle", importer.DefaultSettle, "a file is complete when its size and mtime held still this long (settings.settle)")
	fl.StringVar(&w.marker, "marker", "", "glob of a marker file that makes its folder's files complete at once, e.g. '*.done'")
	fl.DurationVar(&w.poll, "poll", 0, "poll every interval instead of using file events (network drives); 0 = events (settings.poll)")
	fl.DurationVar(&w.reconcile, "reconcile", importer.DefaultReconcile, "full rescan period, in every mode (settings.reconcile)")
	fl.DurationVar(&w.manifestWait, "manifest-wait", importer.DefaultManifestWait, "how long a report waits for a build manifest where one is expected (its source lists manifests:, or the build beside it had one); a --marker ends the wait (settings.manifest_wait)")
	fl.StringVar(&w.health, "health-listen", "", "serve /healthz, /metrics (Prometheus text) and /status (the ledger, as status --output json) on this address, e.g. 127.0.0.1:9090")
	return cmd
}

// watchFlags are watch's own flags.
type watchFlags struct {
	settle, poll, reconcile, manifestWait time.Duration
	marker, health                        string
}

// runWatch opens the run, serves health and metrics when asked, and watches until the
// context ends.
func (a *app) runWatch(ctx context.Context, f *importFlags, o config.Overrides, w *watchFlags) error {
	if a.verbose == 0 && !a.quiet {
		// A service's log says what it does: info level unless -q.
		a.verbose = 1
		if err := a.makeLogger(); err != nil {
			return err
		}
		o.Logger = a.logger
	}
	rep := &watchReporter{a: a}
	if a.jsonOutput() {
		rep.json = json.NewEncoder(a.stdout)
	}
	im, sb, run, stop, err := a.openRun(ctx, f, o, rep)
	if err != nil {
		return err
	}
	defer stop()
	wo := run.Watch
	m := &importer.Metrics{}
	if w.health != "" {
		ln, err := net.Listen("tcp", w.health)
		if err != nil {
			return &exitError{code: exitUsage, err: fmt.Errorf("--health-listen: %w", err)}
		}
		hs := &http.Server{Handler: healthHandler(m, im.Ledger()), ReadHeaderTimeout: 5 * time.Second}
		go func() { _ = hs.Serve(ln) }()
		defer hs.Close()
		a.logger.Info("health and metrics", "url", "http://"+ln.Addr().String()+"/metrics")
	}
	if sb != nil {
		// stderr: watch's stdout is data only (the JSON objects of --output json).
		fmt.Fprintf(a.stderr, "Sandbox Octane at %s/ (in-process; it stops with watch)\n", sb.URL())
	}
	a.logger.Info("watching", "paths", f.paths, "settle", wo.Settle, "poll", wo.Poll, "reconcile", wo.Reconcile)
	err = im.Watch(ctx, f.paths, wo, m)
	if err != nil && !errors.Is(err, context.Canceled) {
		return &exitError{code: exitFailed, err: err}
	}
	a.logger.Info("watch stopped", "imported", m.FilesImported.Load(), "failed", m.FilesFailed.Load())
	return nil
}

// watchReporter logs a watcher's files (its summary is in the logs), and with --output json
// prints each file's object on stdout, as scan does.
type watchReporter struct {
	a    *app
	mu   sync.Mutex // one object a line, whatever goroutine reports
	json *json.Encoder
}

func (r *watchReporter) File(fr importer.FileResult) {
	if r.json != nil {
		r.mu.Lock()
		_ = r.json.Encode(fileJSON{Type: "file", FileResult: fr})
		r.mu.Unlock()
	}
	switch fr.Outcome {
	case importer.Failed, importer.Unmatched:
		msg := ""
		if fr.Error != nil {
			msg = fr.Error.Message
		}
		r.a.logger.Error("file not imported", "outcome", fr.Outcome, "path", fr.Path, "err", msg)
	case importer.Imported:
		r.a.logger.Info("imported", "path", fr.Path, "passed", fr.Runs.Passed, "failed", fr.Runs.Failed, "skipped", fr.Runs.Skipped, "task", fr.Task)
	}
}

func (*watchReporter) Progress(importer.Progress) {}

// watchStatusJSON is a running watcher's /status: the ledger's report (status --output
// json) and the files the watcher holds back, and why.
type watchStatusJSON struct {
	statusJSON
	Waiting []importer.WaitingFile `json:"waiting"`
}

func healthHandler(m *importer.Metrics, l ledger.View) http.Handler {
	mux := http.NewServeMux()
	// /status is `octane-import status --output json` of the running watcher's ledger, which
	// no other process can open while the watcher holds it, and the files the watcher holds
	// back (settling, or waiting for their build manifest) with the reason. Its instances are
	// the watcher's peers: every live instance on the ledger, this one included.
	mux.HandleFunc("/status", func(w http.ResponseWriter, r *http.Request) {
		st, err := ledgerStatus(r.Context(), l, r.URL.Query().Get("all") != "")
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(watchStatusJSON{statusJSON: st, Waiting: m.Waiting()})
	})
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		fmt.Fprintln(w, "ok")
	})
	mux.HandleFunc("/metrics", func(w http.ResponseWriter, r *http.Request) {
		// The instances working on the ledger, as their heartbeats say (PostgreSQL), asked
		// now; a database that does not answer within seconds makes ledger_up 0, and the
		// peers gauge is left out rather than guessed.
		ctx, cancel := context.WithTimeout(r.Context(), 3*time.Second)
		instances, ierr := l.Instances(ctx)
		cancel()
		w.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
		metric := func(name, kind, help string, v float64) {
			fmt.Fprintf(w, "# HELP %s %s\n# TYPE %s %s\n%s %g\n", name, help, name, kind, name, v)
		}
		metric("octane_import_files_seen_total", "counter", "Files seen by the watcher.", float64(m.FilesSeen.Load()))
		metric("octane_import_files_imported_total", "counter", "Files whose runs Octane accepted.", float64(m.FilesImported.Load()))
		metric("octane_import_files_failed_total", "counter", "Files that failed or matched no rule.", float64(m.FilesFailed.Load()))
		metric("octane_import_queue_depth", "gauge", "Files waiting to be complete or for their manifest.", float64(m.QueueDepth.Load()))
		metric("octane_import_last_success_timestamp_seconds", "gauge", "Unix time of the last accepted import.", float64(m.LastSuccess.Load()))
		metric("octane_import_octane_errors_total", "counter", "Batches that could not reach Octane.", float64(m.OctaneErrors.Load()))
		metric("octane_import_rescans_total", "counter", "Periodic reconciliation scans.", float64(m.Rescans.Load()))
		metric("octane_import_batch_latency_seconds", "gauge", "Time from a batch's files being complete to Octane's answer (last batch).", m.LastLatency().Seconds())
		up := 0.0
		if ierr == nil {
			up = 1
			metric("octane_import_peers", "gauge", "Live octane-import instances working on this ledger, this one included (heartbeats within the lease).", float64(len(instances)))
		}
		metric("octane_import_ledger_up", "gauge", "1 when the ledger answered this scrape, 0 when it did not (a PostgreSQL ledger down or unreachable).", up)
	})
	return mux
}
