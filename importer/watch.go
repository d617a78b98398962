package importer

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/fsnotify/fsnotify"

	"github.com/octane-import/octane-import/importer/ledger"
	"github.com/octane-import/octane-import/internal/glob"
)

// WatchOptions tune Watch.
type WatchOptions struct {
	Settle       time.Duration // a file is complete when its size and mtime held still this long; default 2s
	Marker       string        // glob of a marker file (e.g. "*.done") that makes the files in its folder and below complete at once, and ends their wait for a manifest
	Poll         time.Duration // poll instead of (or besides) events; 0 = events, polling only where events cannot work
	Reconcile    time.Duration // full rescan period in every mode; default 10m
	ManifestWait time.Duration // how long a report waits for a manifest expected in its tree (see arrivals); 0 = no wait
	Tick         time.Duration // at most this long between looks at pending files (they are looked at when due); default Settle/4 (at least 50ms)
	NetworkPoll  time.Duration // poll period chosen on a network drive when Poll is 0; default 30s
	RetryQueued  time.Duration // after Octane could not be reached, try the queued work again this often; default 30s
	// NetworkFS reports whether a directory is on a file system that sends no events
	// (NFS, SMB, FUSE ...). Default: detectNetworkFS.
	NetworkFS func(dir string) (string, bool)
}

// Watch's defaults, for options left zero.
const (
	DefaultSettle       = 2 * time.Second
	DefaultReconcile    = 10 * time.Minute
	DefaultManifestWait = 30 * time.Second
)

func (o *WatchOptions) defaults() {
	if o.Settle <= 0 {
		o.Settle = DefaultSettle
	}
	if o.Reconcile <= 0 {
		o.Reconcile = DefaultReconcile
	}
	if o.ManifestWait < 0 {
		o.ManifestWait = 0
	}
	if o.Tick <= 0 {
		o.Tick = o.Settle / 4
		if o.Tick < 50*time.Millisecond {
			o.Tick = 50 * time.Millisecond
		}
	}
	if o.RetryQueued <= 0 {
		o.RetryQueued = 30 * time.Second
	}
	if o.NetworkPoll <= 0 {
		o.NetworkPoll = 30 * time.Second
	}
	if o.NetworkFS == nil {
		o.NetworkFS = detectNetworkFS
	}
}

// Metrics are a watcher's counters, for /metrics and the logs, and its list of the files it
// holds back, for /status. Safe for concurrent reads.
type Metrics struct {
	FilesSeen     atomic.Int64
	FilesImported atomic.Int64
	FilesFailed   atomic.Int64
	QueueDepth    atomic.Int64
	LastSuccess   atomic.Int64 // unix seconds
	Scans         atomic.Int64
	Rescans       atomic.Int64
	OctaneErrors  atomic.Int64
	lastLatencyNs atomic.Int64
	waiting       atomic.Pointer[func() []WaitingFile]
}

// LastLatency is how long the latest batch took from its files being complete to Octane's answer.
func (m *Metrics) LastLatency() time.Duration { return time.Duration(m.lastLatencyNs.Load()) }

// Waiting lists the reports the watcher has seen and holds back (settling, or waiting for
// their build manifest), and why; empty when no watch runs.
func (m *Metrics) Waiting() []WaitingFile {
	if f := m.waiting.Load(); f != nil {
		return (*f)()
	}
	return []WaitingFile{}
}

// watcher is the loop of one Watch call: it feeds arrivals from fsnotify, polls and
// rescans, and imports what arrivals says is ready.
type watcher struct {
	im      *Importer
	opt     WatchOptions
	roots   []*root
	m       *Metrics
	fsw     *fsnotify.Watcher
	polling bool
	ctx     context.Context
	marker  *glob.Glob      // --marker, nil when none
	warned  map[string]bool // folders said to be unreadable

	mu sync.Mutex // arrivals, for Metrics.Waiting
	a  *arrivals

	// shared: the ledger is shared with other instances (PostgreSQL). Then the watcher looks
	// at the ledger's queue every takeover period, so that the work of an instance that
	// died is taken over within a lease or so even when no file arrives, and tries the
	// files another instance held again.
	shared   bool
	takeover time.Duration
	// again holds the complete reports to try again at the next drain: those another
	// instance held, and those of a batch the ledger's database could not take.
	again  map[string]*root
	outage bool // the ledger's database is unavailable (said once, when it began)
}

// Watch imports files under paths as they become complete, until ctx is cancelled. It is a
// scan that never ends: fsnotify events (or polling) find files, the settle time or a marker
// says they are complete, and each batch goes through the same reading, ledger and sending as
// Scan. A full reconciliation pass runs every Reconcile in every mode, so a missed event costs
// latency, never a result. Octane being down leaves work queued in the ledger; it drains when
// Octane is back. Watch returns nil when ctx is cancelled.
func (im *Importer) Watch(ctx context.Context, paths []string, opt WatchOptions, m *Metrics) error {
	opt.defaults()
	if m == nil {
		m = &Metrics{}
	}
	roots, err := im.roots(paths)
	if err != nil {
		return err
	}
	w := &watcher{im: im, opt: opt, roots: roots, m: m, ctx: ctx, warned: map[string]bool{},
		a: newArrivals(opt.Settle, opt.ManifestWait, im.expectsManifests), again: map[string]*root{}}
	if pg, ok := im.opt.Ledger.(*ledger.Postgres); ok {
		w.shared, w.takeover = true, max(pg.Heartbeat(), time.Second)
	}
	if opt.Marker != "" {
		if w.marker, err = glob.Compile(opt.Marker); err != nil {
			return fmt.Errorf("--marker: %w", err)
		}
	}
	waiting := func() []WaitingFile {
		w.mu.Lock()
		defer w.mu.Unlock()
		return w.a.waiting(time.Now())
	}
	m.waiting.Store(&waiting)
	log := im.opt.Logger
	if opt.Poll <= 0 {
		for _, r := range roots {
			if kind, ok := opt.NetworkFS(r.dir); ok {
				w.opt.Poll = opt.NetworkPoll
				log.Warn("network file system: file events do not work here, polling instead", "dir", r.dir, "fs", kind, "every", w.opt.Poll)
				break
			}
		}
	}
	w.polling = w.opt.Poll > 0
	if !w.polling {
		w.fsw, err = fsnotify.NewWatcher()
		if err != nil {
			log.Warn("file events unavailable, polling instead", "err", err)
			w.opt.Poll, w.polling = opt.NetworkPoll, true
		} else {
			defer w.fsw.Close()
		}
	}
	// The full scan adds the watches as it goes, each folder's before it is listed:
	// whatever is created meanwhile shows up twice, and arrivals and the ledger make that
	// harmless.
	w.rescan()
	var events <-chan fsnotify.Event
	var errs <-chan error
	if w.fsw != nil {
		events, errs = w.fsw.Events, w.fsw.Errors
	}
	// A step (look again, take what is ready, import it) runs when arrivals says something
	// is due (a settle time over, a wait ending), when the queued work is to be tried
	// again, and at least every Tick; never sooner than coalesce after the last one, so
	// that a burst of files complete at once (renamed into place, marked) is one batch.
	const coalesce = 20 * time.Millisecond
	stepTimer := time.NewTimer(0)
	defer stepTimer.Stop()
	var stepAt, lastStep time.Time // when the step timer fires (zero once it has); when the last step ended
	drainAfter := time.Now()       // work an earlier run left queued is sent at once, not with the next file
	schedule := func() {
		w.mu.Lock()
		next := w.a.next()
		w.mu.Unlock()
		if !drainAfter.IsZero() && (next.IsZero() || drainAfter.Before(next)) {
			next = drainAfter
		}
		now := time.Now()
		if next.IsZero() || next.After(now.Add(w.opt.Tick)) {
			next = now.Add(w.opt.Tick)
		}
		if soonest := lastStep.Add(coalesce); next.Before(soonest) {
			next = soonest
		}
		if stepAt.IsZero() || next.Before(stepAt) {
			stepAt = next
			stepTimer.Reset(max(next.Sub(now), 0))
		}
	}
	reconcile := time.NewTicker(w.opt.Reconcile)
	defer reconcile.Stop()
	var poll <-chan time.Time
	if w.polling {
		pt := time.NewTicker(w.opt.Poll)
		defer pt.Stop()
		poll = pt.C
	}
	var takeover <-chan time.Time
	if w.shared {
		tt := time.NewTicker(w.takeover)
		defer tt.Stop()
		takeover = tt.C
	}
	retryAfter := time.Duration(0) // the wait before the next try while the ledger's database is away
	for {
		select {
		case <-ctx.Done():
			log.Info("watch stopping", "pending", w.m.QueueDepth.Load())
			return nil
		case ev, ok := <-events:
			if !ok {
				events = nil
				continue
			}
			w.event(ev)
			schedule()
			continue
		case err, ok := <-errs:
			if !ok {
				errs = nil
				continue
			}
			if errors.Is(err, fsnotify.ErrEventOverflow) {
				log.Warn("file event queue overflowed: rescanning everything", "err", err)
			} else {
				log.Warn("file watcher error: rescanning everything", "err", err)
			}
			w.rescan()
		case <-poll:
			w.rescan()
		case <-reconcile.C:
			m.Rescans.Add(1)
			w.checkRoots()
			w.rescan()
		case <-takeover:
			if drainAfter.IsZero() {
				drainAfter = time.Now()
			}
		case <-stepTimer.C:
			stepAt = time.Time{}
		}
		ready, since := w.step(time.Now())
		if drain := !drainAfter.IsZero() && !time.Now().Before(drainAfter); len(ready) > 0 || drain {
			if drain {
				ready = w.takeAgain(ready)
			}
			sum, err := w.importBatch(ctx, ready, since)
			if sum != nil && len(sum.held) > 0 {
				w.tryAgain(ready, sum.held)
			}
			switch {
			case err == nil:
				drainAfter, retryAfter = time.Time{}, 0
				if w.outage {
					w.outage = false
					log.Info("the ledger's database is back: importing again", "ledger", im.opt.Ledger.Path())
					// Nothing of this watcher is in flight between batches: a claim it holds now
					// is one a write whose answer the outage lost left behind. Given up, its
					// payloads go with the next drain (else the heartbeat would renew them).
					if err := im.opt.Ledger.ReleaseAll(ctx); err != nil {
						log.Warn("ledger: giving up claims after the outage failed (they expire with the lease once this watcher stops)", "err", err)
					}
					drainAfter = time.Now()
				}
				if len(w.again) > 0 && drainAfter.IsZero() {
					drainAfter = time.Now().Add(w.takeover) // another instance holds some: look again
				}
			case ctx.Err() != nil:
				return nil
			case ledger.IsTemporary(err):
				// The ledger's database is away: nothing of the batch that was not recorded
				// is lost (its files are tried again), and the outage is said once.
				w.tryAgain(ready, nil)
				retryAfter = min(max(2*retryAfter, time.Second), w.opt.RetryQueued)
				drainAfter = time.Now().Add(retryAfter)
				if !w.outage {
					w.outage = true
					log.Warn("import incomplete; the ledger's database is unavailable: trying again until it is back", "err", err)
				} else {
					log.Debug("the ledger's database is still unavailable", "err", err, "next", retryAfter)
				}
			default:
				m.OctaneErrors.Add(1)
				drainAfter = time.Now().Add(w.opt.RetryQueued)
				log.Warn("import incomplete; the queued work is tried again", "in", w.opt.RetryQueued, "err", err)
				// What the batch did not record is tried again with the queued work, and
				// what it claimed is given up meanwhile (nothing of it is in flight now).
				w.tryAgain(ready, nil)
				if w.shared {
					if err := im.opt.Ledger.ReleaseAll(ctx); err != nil {
						log.Warn("ledger: giving up claims after a failed batch failed (they expire with the lease once this watcher stops)", "err", err)
					}
				}
			}
		}
		lastStep = time.Now()
		schedule()
	}
}

// expectsManifests tells arrivals whether a place's builds have manifests by the
// configuration alone: its source names its manifest patterns (`manifests:`) explicitly,
// or a rule matches on manifest fields or has_manifest: true. Elsewhere a manifest is
// expected where one was seen.
func (im *Importer) expectsManifests(pl place) bool {
	return (pl.source != nil && len(pl.source.Manifests) > 0) || im.opt.Rules.ExpectManifests()
}

// rootOf is the innermost root that holds path (a file root holds only its file).
func (w *watcher) rootOf(path string) *root {
	var best *root
	for _, r := range w.roots {
		if r.file != "" && path != r.file {
			continue
		}
		if within(path, r.dir) && (best == nil || len(r.dir) > len(best.dir)) {
			best = r
		}
	}
	return best
}

// observe feeds arrivals one observation at time.Now().
func (w *watcher) observe(o observation) {
	w.mu.Lock()
	added := w.a.observe(o, time.Now())
	w.m.QueueDepth.Store(int64(w.a.pending()))
	w.mu.Unlock()
	if added {
		w.m.FilesSeen.Add(1)
	}
}

// event turns one fsnotify event into observations: a stat (and, for a new report, the
// ledger and a look at its tail) but no walk, which the next step does: the event loop must
// keep up with the kernel queue.
func (w *watcher) event(ev fsnotify.Event) {
	if ev.Op == fsnotify.Chmod {
		return
	}
	path := filepath.Clean(ev.Name)
	r := w.rootOf(path)
	if r == nil {
		return
	}
	switch {
	case ev.Op.Has(fsnotify.Remove):
		w.observe(observation{op: opRemoved, c: candidate{path: path}})
		return
	case ev.Op.Has(fsnotify.Rename):
		w.observe(observation{op: opRenamed, c: candidate{path: path}})
		return
	}
	info, err := os.Lstat(path)
	if err != nil {
		return // gone again: its removal comes as an event of its own
	}
	if info.IsDir() {
		if ev.Op.Has(fsnotify.Create) {
			w.observe(observation{op: opDirCreated, c: candidate{path: path, root: r}})
			w.lookThroughDirty() // its watch at once: what is made in it from now on sends events
		}
		return
	}
	op := opWritten
	if ev.Op.Has(fsnotify.Create) {
		op = opCreated
	}
	w.consider(r, path, info, op)
}

// consider observes a file an event or a walk found, if it is a marker, a manifest or a report.
func (w *watcher) consider(r *root, path string, info fs.FileInfo, op arrivalOp) {
	o, ok := observationOf(r, w.marker, path, info, op)
	switch {
	case !ok:
	case o.op == opMarker:
		w.observe(o)
	default:
		w.found(o.kind, o.c, op)
	}
}

// observationOf is what a file the watcher found is: a marker file (by --marker, before
// anything else), or a manifest or report as discovery classifies and admits it (its
// source's patterns and max_age); false for anything else.
func observationOf(r *root, marker *glob.Glob, path string, info fs.FileInfo, op arrivalOp) (observation, bool) {
	if marker != nil && info.Mode().IsRegular() && marker.Match(filepath.Base(path)) {
		return observation{op: opMarker, c: candidate{path: path, root: r, modTime: info.ModTime()}}, true
	}
	kind, pl := r.kindOf(path)
	if kind == "" {
		return observation{}, false
	}
	c, ok := r.admit(path, pl, info)
	return observation{op: op, kind: kind, c: c}, ok
}

// found observes a manifest or report discovery selected.
func (w *watcher) found(kind string, c candidate, op arrivalOp) {
	w.mu.Lock()
	known := w.a.tracking(c.path)
	w.mu.Unlock()
	if kind == "report" && !known {
		if f, ok, _ := w.im.opt.Ledger.File(c.path); ok && f.Same(c.size, c.modTime) && f.State != ledger.Seen {
			return // already in the ledger as it is now
		}
	}
	// A report that appears whole at once (an atomic rename into place, which inotify
	// reports as a create) needs no settle time.
	whole := op == opCreated && kind == "report" && renamedComplete(c.path)
	w.observe(observation{op: op, kind: kind, c: c, whole: whole})
}

// finds takes what a walk found as found does, but looks the reports up in the ledger in
// batches: a rescan of a large tree (every poll, every reconcile) would otherwise make a
// ledger query per report.
type finds struct {
	w       *watcher
	reports []candidate // new to arrivals, not yet looked up
}

func (w *watcher) newFinds() *finds { return &finds{w: w} }

func (f *finds) add(kind string, c candidate) {
	f.w.mu.Lock()
	known := f.w.a.tracking(c.path)
	f.w.mu.Unlock()
	if kind != "report" || known {
		f.w.found(kind, c, opFound)
		return
	}
	f.reports = append(f.reports, c)
	if len(f.reports) >= claimBatch {
		f.flush()
	}
}

// flush observes the reports collected, but those the ledger holds as they are now.
func (f *finds) flush() {
	if len(f.reports) == 0 {
		return
	}
	paths := make([]string, len(f.reports))
	for i, c := range f.reports {
		paths[i] = c.path
	}
	recs, _ := f.w.im.opt.Ledger.FilesAt(paths) // unreadable: all are looked at, as found does
	for _, c := range f.reports {
		if r, ok := recs[c.path]; ok && r.Same(c.size, c.modTime) && r.State != ledger.Seen {
			continue // already in the ledger as it is now
		}
		f.w.observe(observation{op: opFound, kind: "report", c: c})
	}
	f.reports = f.reports[:0]
}

// renamedComplete reports whether a file that just appeared is already a whole JUnit report:
// not empty, and ending with the end tag of a JUnit root. A file still being written gets
// the settle time as usual; a report that was complete only by chance fails to parse, and is
// read again when it changes.
func renamedComplete(path string) bool {
	f, err := os.Open(path)
	if err != nil {
		return false
	}
	defer f.Close()
	info, err := f.Stat()
	if err != nil || info.Size() == 0 {
		return false
	}
	tail := make([]byte, 64)
	off := info.Size() - int64(len(tail))
	if off < 0 {
		off, tail = 0, tail[:info.Size()]
	}
	n, _ := f.ReadAt(tail, off)
	end := strings.TrimRight(string(tail[:n]), " \t\r\n")
	for _, root := range []string{"</testsuites>", "</testsuite>", "</testrun>"} {
		if strings.HasSuffix(end, root) {
			return true
		}
	}
	return false
}

// rescan looks through every root (polling and reconciliation): discovery's walk, the
// watches added on the way, and the manifests above each root.
func (w *watcher) rescan() {
	defer w.m.Scans.Add(1) // once done: the first scan's end says every watch is in place
	for _, r := range w.roots {
		dir := r.dir
		if r.file != "" {
			dir = r.file
		}
		w.observe(observation{op: opDirCreated, c: candidate{path: dir, root: r}})
	}
	w.lookThroughDirty()
}

// lookThroughDirty walks the folders arrivals wants looked through, with discovery's walker:
// each folder is watched before it is listed, and every file in it is considered.
func (w *watcher) lookThroughDirty() {
	w.mu.Lock()
	dirty := w.a.takeDirty()
	w.mu.Unlock()
	for _, dir := range sortedKeys(dirty) {
		r := dirty[dir]
		if r.file != "" {
			w.watch(r.dir)
			if info, err := os.Stat(r.file); err == nil {
				w.consider(r, r.file, info, opFound)
			}
			continue
		}
		onErr := func(path string, err error) {
			if !w.warned[path] {
				w.warned[path] = true
				w.im.opt.Logger.Warn("cannot read folder or file; the periodic rescan tries again", "path", path, "err", err)
			}
		}
		finds := w.newFinds()
		_ = r.walkTree(w.ctx, dir, treeVisitor{
			file: func(kind string, c candidate) error { finds.add(kind, c); return nil },
			dir:  func(path string) error { w.watch(path); return nil },
			other: func(path string, d fs.DirEntry) error {
				if w.marker != nil {
					if info, err := d.Info(); err == nil {
						w.consider(r, path, info, opFound)
					}
				}
				return nil
			},
			err: onErr,
		})
		finds.flush()
		if dir == r.dir {
			// The manifests above the root: a report's build may have its manifest there.
			if above, ok := r.above(); ok {
				_ = r.manifestsAbove(w.ctx, above, func(kind string, c candidate) error { w.found(kind, c, opFound); return nil }, func(string, error) {})
			}
		}
	}
}

// watch adds a folder's watch (a no-op when polling).
func (w *watcher) watch(dir string) {
	if w.fsw == nil {
		return
	}
	if err := w.fsw.Add(dir); err != nil && !w.warned[dir] {
		w.warned[dir] = true
		w.im.opt.Logger.Warn("cannot watch folder (inotify limit? see fs.inotify.max_user_watches); the periodic rescan still covers it", "dir", dir, "err", err)
	}
}

// checkRoots re-establishes the watches of roots that went away and came back (a share
// unmounted and mounted again, a folder deleted and recreated).
func (w *watcher) checkRoots() {
	if w.fsw == nil {
		return
	}
	watched := map[string]bool{}
	for _, p := range w.fsw.WatchList() {
		watched[filepath.Clean(p)] = true
	}
	for _, r := range w.roots {
		if _, err := os.Stat(r.dir); err != nil {
			w.im.opt.Logger.Warn("watched folder is gone; waiting for it to come back", "dir", r.dir, "err", err)
			continue
		}
		if !watched[r.dir] {
			w.im.opt.Logger.Warn("watched folder is back: watching it again", "dir", r.dir)
			// rescan, which follows, walks it and adds its watches.
		}
	}
}

// step looks again at the files whose settle time is over, takes the reports that are
// ready, logs the waits that began or ended, and returns the roots to import and when the
// first of them was complete.
func (w *watcher) step(now time.Time) ([]*root, time.Time) {
	w.lookThroughDirty()
	w.mu.Lock()
	again := w.a.lookAgain(now)
	w.mu.Unlock()
	for _, o := range again {
		info, err := os.Stat(o.c.path)
		if err != nil {
			w.observe(observation{op: opRemoved, c: candidate{path: o.c.path}})
			continue
		}
		o.c.size, o.c.modTime = info.Size(), info.ModTime()
		w.observe(o)
	}
	w.mu.Lock()
	ready, notes := w.a.ready(time.Now())
	w.m.QueueDepth.Store(int64(w.a.pending()))
	w.mu.Unlock()
	for _, n := range notes {
		w.im.opt.Logger.Info(n.String(w.opt.ManifestWait))
	}
	var out []*root
	var since time.Time
	for _, p := range ready {
		r := *p.c.root // the same base and source: the decision is the scan's
		r.dir, r.file = filepath.Dir(p.c.path), p.c.path
		if info, err := os.Stat(p.c.path); err != nil || !info.Mode().IsRegular() {
			continue // gone since its last look
		}
		out = append(out, &r)
		if since.IsZero() || p.complete.Before(since) {
			since = p.complete
		}
	}
	return out, since
}

// tryAgain keeps complete reports to try again at the next drain: the given paths of ready
// (all of ready when paths is nil).
func (w *watcher) tryAgain(ready []*root, paths []string) {
	if paths == nil { // the whole batch
		for _, r := range ready {
			w.again[r.file] = r
		}
		return
	}
	byPath := make(map[string]*root, len(ready))
	for _, r := range ready {
		byPath[r.file] = r
	}
	for _, p := range paths {
		if r := byPath[p]; r != nil {
			w.again[p] = r
		}
	}
}

// takeAgain adds the reports kept to try again to ready, but those gone, and those the
// ledger now holds as they are (another instance imported them).
func (w *watcher) takeAgain(ready []*root) []*root {
	if len(w.again) == 0 {
		return ready
	}
	in := make(map[string]bool, len(ready))
	for _, r := range ready {
		in[r.file] = true
	}
	paths := sortedKeys(w.again)
	recs, err := w.im.opt.Ledger.FilesAt(paths)
	if err != nil {
		return ready // the ledger is away: the batch fails, and they wait for the next try
	}
	for _, p := range paths {
		r := w.again[p]
		delete(w.again, p)
		info, err := os.Stat(p)
		if err != nil || !info.Mode().IsRegular() || in[p] {
			continue
		}
		if f, ok := recs[p]; ok && f.Same(info.Size(), info.ModTime()) && f.State != ledger.Seen {
			continue
		}
		ready = append(ready, r)
	}
	return ready
}

// importBatch runs the scan machinery over the ready files (and drains what the ledger has
// queued, even when no file is ready).
func (w *watcher) importBatch(ctx context.Context, ready []*root, since time.Time) (*Summary, error) {
	start := time.Now()
	if since.IsZero() {
		since = start
	}
	sum, err := w.im.scan(ctx, ready)
	if sum != nil {
		w.m.FilesImported.Add(int64(sum.Outcomes[Imported]))
		w.m.FilesFailed.Add(int64(sum.Outcomes[Failed] + sum.Outcomes[Unmatched]))
		if sum.Outcomes[Imported] > 0 {
			w.m.LastSuccess.Store(time.Now().Unix())
			w.m.lastLatencyNs.Store(int64(time.Since(since)))
		}
		if len(ready) > 0 || sum.Files > 0 {
			w.im.opt.Logger.Info("batch imported", "files", len(ready), "imported", sum.Outcomes[Imported],
				"failed", sum.Outcomes[Failed]+sum.Outcomes[Unmatched], "queued", sum.Outcomes[Queued],
				"runs", sum.Runs.Total(), "took", time.Since(start).Round(time.Millisecond), "waiting", w.m.QueueDepth.Load())
		}
		if err == nil {
			err = sum.err // the first of sum.Errors (addError keeps both)
		}
	}
	return sum, err
}
