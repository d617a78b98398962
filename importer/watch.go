package importer

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/fsnotify/fsnotify"

	"github.com/octane-import/octane-import/internal/glob"
	"github.com/octane-import/octane-import/manifest"
)

// WatchOptions tune Watch.
type WatchOptions struct {
	Settle       time.Duration // a file is complete when its size and mtime held still this long; default 2s
	Marker       string        // glob of a marker file (e.g. "*.done") that makes every file in its folder complete at once
	Poll         time.Duration // poll instead of (or besides) events; 0 = events, polling only where events cannot work
	Reconcile    time.Duration // full rescan period in every mode; default 10m
	ManifestWait time.Duration // how long a report without a manifest waits for one; default 30s
	Tick         time.Duration // how often pending files are looked at; default Settle/4 (at least 50ms)
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

// Metrics are a watcher's counters, for /metrics and the logs. Safe for concurrent reads.
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
}

// LastLatency is how long the latest batch took from its files being complete to Octane's answer.
func (m *Metrics) LastLatency() time.Duration { return time.Duration(m.lastLatencyNs.Load()) }

// pendingFile is a file seen but not yet complete (or complete and waiting for its manifest).
type pendingFile struct {
	size     int64
	mtime    time.Time
	stableAt time.Time // when size and mtime were last seen to change
	readyAt  time.Time // when it became complete
	root     *root
}

// watcher holds the state of one Watch call.
type watcher struct {
	im      *Importer
	opt     WatchOptions
	roots   []*root
	m       *Metrics
	fsw     *fsnotify.Watcher
	polling bool

	mu      sync.Mutex
	pending map[string]*pendingFile
	dirty   map[string]*root // directories to (re)scan for files
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
	w := &watcher{im: im, opt: opt, roots: roots, m: m, pending: map[string]*pendingFile{}, dirty: map[string]*root{}}
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
	// Watches first, then the full scan: whatever is created in between shows up twice,
	// and the ledger makes that harmless.
	for _, r := range roots {
		w.addTree(r, r.dir)
	}
	w.rescan()
	var events <-chan fsnotify.Event
	var errs <-chan error
	if w.fsw != nil {
		events, errs = w.fsw.Events, w.fsw.Errors
	}
	tick := time.NewTicker(w.opt.Tick)
	defer tick.Stop()
	reconcile := time.NewTicker(w.opt.Reconcile)
	defer reconcile.Stop()
	var poll <-chan time.Time
	if w.polling {
		pt := time.NewTicker(w.opt.Poll)
		defer pt.Stop()
		poll = pt.C
	}
	drainAfter := time.Now() // work an earlier run left queued is sent at once, not with the next file
	for {
		select {
		case <-ctx.Done():
			log.Info("watch stopping", "pending", len(w.pending))
			return nil
		case ev, ok := <-events:
			if !ok {
				events = nil
				continue
			}
			w.event(ev)
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
		case <-tick.C:
			w.scanDirty()
			ready := w.ready(time.Now())
			if len(ready) == 0 && (drainAfter.IsZero() || time.Now().Before(drainAfter)) {
				continue
			}
			if err := w.importBatch(ctx, ready); err != nil {
				if ctx.Err() != nil {
					return nil
				}
				m.OctaneErrors.Add(1)
				drainAfter = time.Now().Add(w.opt.RetryQueued)
				log.Warn("import incomplete; the queued work is tried again", "in", w.opt.RetryQueued, "err", err)
			} else {
				drainAfter = time.Time{}
			}
		}
	}
}

// addTree watches dir and every directory under it, and queues them for a scan.
func (w *watcher) addTree(r *root, dir string) {
	_ = filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			if d != nil && d.IsDir() {
				w.im.opt.Logger.Warn("cannot watch folder", "dir", path, "err", err)
				return fs.SkipDir
			}
			return nil
		}
		if !d.IsDir() {
			return nil
		}
		if w.fsw != nil {
			if err := w.fsw.Add(path); err != nil {
				w.im.opt.Logger.Warn("cannot watch folder (inotify limit? see fs.inotify.max_user_watches); the periodic rescan still covers it", "dir", path, "err", err)
			}
		}
		return nil
	})
	w.mu.Lock()
	w.dirty[dir] = r
	w.mu.Unlock()
}

func (w *watcher) rootOf(path string) *root {
	var best *root
	for _, r := range w.roots {
		if within(path, r.dir) && (best == nil || len(r.dir) > len(best.dir)) {
			best = r
		}
	}
	return best
}

// event turns one fsnotify event into "look at this path again". No I/O but a stat: the
// event loop must keep up with the kernel queue.
func (w *watcher) event(ev fsnotify.Event) {
	if ev.Op == fsnotify.Chmod {
		return
	}
	path := filepath.Clean(ev.Name)
	r := w.rootOf(path)
	if r == nil {
		return
	}
	if ev.Op.Has(fsnotify.Create) {
		if info, err := os.Lstat(path); err == nil && info.IsDir() {
			w.addTree(r, path) // add the watch, then scan it: files made before the watch are not missed
			return
		}
	}
	if ev.Op.Has(fsnotify.Remove) || ev.Op.Has(fsnotify.Rename) {
		w.mu.Lock()
		delete(w.pending, path)
		w.mu.Unlock()
		if ev.Op.Has(fsnotify.Rename) {
			return
		}
	}
	w.consider(r, path)
	if ev.Op.Has(fsnotify.Create) && renamedComplete(path) {
		// A report that appears whole at once (an atomic rename into place, which inotify
		// reports as a create) needs no settle time.
		w.mu.Lock()
		if p, ok := w.pending[path]; ok && p.readyAt.IsZero() {
			p.readyAt = time.Now()
		}
		w.mu.Unlock()
	}
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

// consider looks at one path: a report or a manifest goes (back) into the pending set; a
// marker file makes its folder's files complete.
func (w *watcher) consider(r *root, path string) {
	base := filepath.Base(path)
	if w.opt.Marker != "" {
		if ok, _ := glob.Match(w.opt.Marker, base); ok {
			w.markDone(filepath.Dir(path))
			return
		}
	}
	if pl := r.placeOf(path); !pl.isReport(path) && !pl.isManifest(path) {
		return
	}
	info, err := os.Stat(path)
	if err != nil || !info.Mode().IsRegular() {
		return
	}
	now := time.Now()
	w.mu.Lock()
	defer w.mu.Unlock()
	p, ok := w.pending[path]
	if !ok {
		if f, known, _ := w.im.opt.Ledger.File(path); known && f.Same(info.Size(), info.ModTime()) && f.State != "seen" {
			return // already in the ledger as it is now
		}
		w.pending[path] = &pendingFile{size: info.Size(), mtime: info.ModTime(), stableAt: now, root: r}
		w.m.FilesSeen.Add(1)
		w.m.QueueDepth.Store(int64(len(w.pending)))
		return
	}
	if p.size != info.Size() || !p.mtime.Equal(info.ModTime()) {
		p.size, p.mtime, p.stableAt, p.readyAt = info.Size(), info.ModTime(), now, time.Time{}
	}
}

func (w *watcher) markDone(dir string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	now := time.Now()
	for path, p := range w.pending {
		if filepath.Dir(path) == dir && p.readyAt.IsZero() {
			p.readyAt = now
		}
	}
}

// rescan queues every root for a full look (polling and reconciliation).
func (w *watcher) rescan() {
	w.m.Scans.Add(1)
	w.mu.Lock()
	for _, r := range w.roots {
		w.dirty[r.dir] = r
	}
	w.mu.Unlock()
	w.scanDirty()
}

// scanDirty walks the directories queued for a look and considers every file in them.
func (w *watcher) scanDirty() {
	w.mu.Lock()
	dirty := w.dirty
	w.dirty = map[string]*root{}
	w.mu.Unlock()
	for dir, r := range dirty {
		sub := *r
		sub.file = ""
		_ = filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
			if err != nil {
				if d != nil && d.IsDir() {
					return fs.SkipDir
				}
				return nil
			}
			if d.IsDir() || d.Type()&fs.ModeSymlink != 0 {
				return nil
			}
			w.consider(&sub, filepath.Clean(path))
			return nil
		})
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
			w.addTree(r, r.dir)
		}
	}
}

// ready takes out of the pending set the files that are complete (settled, or marked done)
// and, for reports without a manifest, have waited long enough for one.
func (w *watcher) ready(now time.Time) []*root {
	w.mu.Lock()
	defer w.mu.Unlock()
	var out []*root
	var paths []string
	// Folders whose build manifest is still being written: their reports wait for it.
	manifestDirs := map[string]bool{}
	for path, p := range w.pending {
		if p.readyAt.IsZero() && manifest.IsManifestName(filepath.Base(path)) {
			manifestDirs[filepath.Dir(path)] = true
		}
	}
	for path, p := range w.pending {
		if p.readyAt.IsZero() && now.Sub(p.stableAt) >= w.opt.Settle {
			// Settled: look once more, the way gofmt checks a file did not change under it.
			info, err := os.Stat(path)
			if err != nil {
				delete(w.pending, path)
				continue
			}
			if info.Size() != p.size || !info.ModTime().Equal(p.mtime) {
				p.size, p.mtime, p.stableAt = info.Size(), info.ModTime(), now
				continue
			}
			p.readyAt = now
		}
		if p.readyAt.IsZero() || w.manifestPending(path, p.root, manifestDirs) {
			continue
		}
		if w.opt.ManifestWait > 0 && !manifest.IsManifestName(filepath.Base(path)) && now.Sub(p.readyAt) < w.opt.ManifestWait && !w.hasManifest(path, p.root) {
			continue
		}
		paths = append(paths, path)
	}
	sort.Strings(paths) // manifests and reports of one folder together, in a stable order
	for _, path := range paths {
		p := w.pending[path]
		delete(w.pending, path)
		r := *p.root // the same base and source: the decision is the scan's
		r.dir, r.file = filepath.Dir(path), path
		out = append(out, &r)
	}
	w.m.QueueDepth.Store(int64(len(w.pending)))
	return out
}

// manifestPending reports whether a manifest in the report's folder or above is still settling.
func (w *watcher) manifestPending(path string, r *root, dirs map[string]bool) bool {
	if len(dirs) == 0 || manifest.IsManifestName(filepath.Base(path)) {
		return false
	}
	for dir := filepath.Dir(path); ; dir = filepath.Dir(dir) {
		if dirs[dir] {
			return true
		}
		if dir == r.dir || !within(dir, r.dir) || dir == filepath.Dir(dir) {
			return false
		}
	}
}

// hasManifest reports whether a manifest sits in the report's folder or above, up to its root.
func (w *watcher) hasManifest(path string, r *root) bool {
	for dir := filepath.Dir(path); ; dir = filepath.Dir(dir) {
		for _, name := range manifest.Names {
			if _, err := os.Stat(filepath.Join(dir, name)); err == nil {
				return true
			}
		}
		if dir == r.dir || !within(dir, r.dir) || dir == filepath.Dir(dir) {
			return false
		}
	}
}

// importBatch runs the scan machinery over the ready files (and drains what the ledger has
// queued, even when no file is ready).
func (w *watcher) importBatch(ctx context.Context, ready []*root) error {
	start := time.Now()
	sum, err := w.im.scan(ctx, ready)
	if sum != nil {
		w.m.FilesImported.Add(int64(sum.Outcomes[Imported]))
		w.m.FilesFailed.Add(int64(sum.Outcomes[Failed] + sum.Outcomes[Unmatched]))
		if sum.Outcomes[Imported] > 0 {
			w.m.LastSuccess.Store(time.Now().Unix())
			w.m.lastLatencyNs.Store(int64(time.Since(start)))
		}
		if len(ready) > 0 || sum.Files > 0 {
			w.im.opt.Logger.Info("batch imported", "files", len(ready), "imported", sum.Outcomes[Imported],
				"failed", sum.Outcomes[Failed]+sum.Outcomes[Unmatched], "queued", sum.Outcomes[Queued],
				"runs", sum.Runs.Total(), "took", time.Since(start).Round(time.Millisecond), "waiting", w.m.QueueDepth.Load())
		}
		if len(sum.Errors) > 0 && err == nil {
			err = fmt.Errorf("%s", sum.Errors[0])
		}
	}
	return err
}
