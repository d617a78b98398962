package importer

import (
	"cmp"
	"fmt"
	"maps"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/octane-import/octane-import/manifest"
)

// arrivals is watch's decisions, apart from its loop: from what the watcher observes (file
// events, polls and rescans, each with the size and mtime it found) and the time it is
// given, it answers which reports are complete and ready to import, which wait, and why. It
// does no I/O and reads no clock, so a table test drives it with made-up observations and a
// fake clock (gotestsum's internal/filewatcher keeps its decisions apart the same way). What
// a file is (report, manifest, neither) and where it stands (its source, its manifests' top)
// come from discovery, with each observation: watch and scan decide alike.
//
// A file is complete when a look at least --settle after its last change finds the same
// size and mtime, at once when it appeared whole (an atomic rename into place), or at once
// when a marker file in its folder or above is at least as new as it. A complete report is
// then held back only
//   - while a build manifest on its way up (its folder and above, up to its source) is still
//     being written, or
//   - for --manifest-wait, while no manifest is on its way up but one is expected there: its
//     source declares manifest patterns, or a sibling of its folder (or of a folder above it,
//     inside the watched root) holds one, as the build before it did. A marker ends this
//     wait.
//
// Manifests are never imported by themselves: each report's scan reads the manifests above
// it. arrivals keeps them to know where builds have manifests.
type arrivals struct {
	settle       time.Duration
	manifestWait time.Duration
	// expects says whether a place's source declares that its builds have manifests.
	expects func(place) bool

	reports   map[string]*arrival        // reports seen and not yet handed out
	manifests map[string]*arrival        // manifests known to be there
	inDir     map[string]map[string]bool // folder → the manifests in it
	below     map[string]map[string]bool // folder → the manifests in its sub-folders (one level down)
	markers   map[string]time.Time       // marker file → its mtime
	dirty     map[string]*root           // folders to look through
	noted     map[string]int             // folder → its wait for a manifest was logged (1), and its end (2)
	due       time.Time                  // the earliest time a step may find work without a new observation
}

// arrival is one file arrivals keeps.
type arrival struct {
	c        candidate
	kind     string    // "report" or "manifest"
	seen     time.Time // first seen
	stableAt time.Time // when its size or mtime was last seen to change (or first seen)
	complete time.Time // when it became complete; zero while it settles
	how      string    // what made it complete: "settled", "whole" or "marker"
}

// arrivalOp is what the watcher saw happen to a path.
type arrivalOp int

const (
	opFound      arrivalOp = iota // a look (a poll, a rescan, a second look) found the file with this size and mtime
	opCreated                     // a file event: created (whole: it already ends like a complete report)
	opWritten                     // a file event: written
	opRemoved                     // gone: a file, or a folder with everything in it
	opRenamed                     // renamed away: gone under this name (the new name comes as created)
	opDirCreated                  // a folder appeared (or a root is to be looked through): files made before its watch send no event
	opMarker                      // a marker file (--marker) is there, with its mtime
)

// observation is one thing the watcher saw.
type observation struct {
	op    arrivalOp
	kind  string    // for files: "report" or "manifest", what discovery made of it
	c     candidate // the path (cleaned, absolute), its root and place, size and mtime
	whole bool      // opCreated: the file is already complete
}

func newArrivals(settle, manifestWait time.Duration, expects func(place) bool) *arrivals {
	return &arrivals{
		settle: settle, manifestWait: manifestWait, expects: expects,
		reports: map[string]*arrival{}, manifests: map[string]*arrival{},
		inDir: map[string]map[string]bool{}, below: map[string]map[string]bool{},
		markers: map[string]time.Time{}, dirty: map[string]*root{}, noted: map[string]int{},
	}
}

// tracking reports whether the path is a report or manifest arrivals keeps.
func (a *arrivals) tracking(path string) bool {
	return a.reports[path] != nil || a.manifests[path] != nil
}

// pending is the number of reports seen and not yet handed out.
func (a *arrivals) pending() int { return len(a.reports) }

// observe takes one observation at now. It reports whether the observation was of a file
// arrivals did not keep yet.
func (a *arrivals) observe(o observation, now time.Time) (added bool) {
	path := o.c.path
	switch o.op {
	case opRemoved, opRenamed:
		a.forget(path)
		return false
	case opDirCreated:
		a.dirty[path] = o.c.root
		a.soon(now)
		return false
	case opMarker:
		a.markers[path] = o.c.modTime
		dir := filepath.Dir(path)
		for _, p := range a.all() {
			if within(p.c.path, dir) {
				a.byMarker(p, now)
			}
		}
		a.soon(now)
		return false
	}
	set := a.reports
	if o.kind == "manifest" {
		set = a.manifests
	}
	p := set[path]
	if p == nil {
		p = &arrival{c: o.c, kind: o.kind, seen: now, stableAt: now}
		set[path] = p
		if o.kind == "manifest" {
			a.index(path, true)
		}
		added = true
	} else if p.c.size != o.c.size || !p.c.modTime.Equal(o.c.modTime) {
		p.c.size, p.c.modTime = o.c.size, o.c.modTime
		p.stableAt, p.complete, p.how = now, time.Time{}, ""
	} else if p.complete.IsZero() && now.Sub(p.stableAt) >= a.settle {
		// A second look, --settle after the last change, found it the same: complete (the
		// way gofmt checks that a file did not change while it read it).
		p.complete, p.how = now, "settled"
	}
	if p.complete.IsZero() && o.op == opCreated && o.whole {
		p.complete, p.how = now, "whole"
	}
	a.byMarker(p, now)
	if p.complete.IsZero() {
		a.soon(p.stableAt.Add(a.settle))
	} else {
		a.soon(now)
	}
	return added
}

// byMarker makes p complete when a marker in its folder or above is at least as new as it:
// the producer said that everything there is written. A file changed after the marker (a
// folder reused by a later build with the marker left behind) settles as usual.
func (a *arrivals) byMarker(p *arrival, now time.Time) {
	if p.how == "marker" {
		return
	}
	for m, mtime := range a.markers {
		if within(p.c.path, filepath.Dir(m)) && !p.c.modTime.After(mtime) {
			p.complete, p.how = now, "marker"
			return
		}
	}
}

// forget drops path and, for a folder, everything under it.
func (a *arrivals) forget(path string) {
	dropUnder(a.reports, path)
	for _, m := range dropUnder(a.manifests, path) {
		a.index(m, false)
	}
	dropUnder(a.markers, path)
	dropUnder(a.dirty, path)
}

// dropUnder deletes the keys of m that are path or under it, and returns them.
func dropUnder[V any](m map[string]V, path string) []string {
	var out []string
	for k := range m {
		if within(k, path) {
			delete(m, k)
			out = append(out, k)
		}
	}
	return out
}

// index adds a manifest to (or removes it from) the folder indexes.
func (a *arrivals) index(path string, add bool) {
	dir := filepath.Dir(path)
	for _, ix := range []struct {
		m   map[string]map[string]bool
		key string
	}{{a.inDir, dir}, {a.below, filepath.Dir(dir)}} {
		if add {
			if ix.m[ix.key] == nil {
				ix.m[ix.key] = map[string]bool{}
			}
			ix.m[ix.key][path] = true
			continue
		}
		delete(ix.m[ix.key], path)
		if len(ix.m[ix.key]) == 0 {
			delete(ix.m, ix.key)
		}
	}
}

func (a *arrivals) all() []*arrival {
	out := make([]*arrival, 0, len(a.reports)+len(a.manifests))
	for _, p := range a.reports {
		out = append(out, p)
	}
	for _, p := range a.manifests {
		out = append(out, p)
	}
	return out
}

// soon lowers the time of the next step to t.
func (a *arrivals) soon(t time.Time) {
	if a.due.IsZero() || t.Before(a.due) {
		a.due = t
	}
}

// next is when the watcher should next step (look again, take what is ready) if nothing is
// observed meanwhile; zero when nothing waits on time.
func (a *arrivals) next() time.Time { return a.due }

// takeDirty returns the folders to look through (walk, watch) and forgets them.
func (a *arrivals) takeDirty() map[string]*root {
	d := a.dirty
	a.dirty = map[string]*root{}
	return d
}

// lookAgain lists the files whose settle time is over without a look since: the watcher
// looks at each once more and passes on what it found (the observation with the size and
// mtime it found, or opRemoved when the file is gone) before they count as complete.
func (a *arrivals) lookAgain(now time.Time) []observation {
	var out []observation
	for _, p := range a.all() {
		if p.complete.IsZero() && now.Sub(p.stableAt) >= a.settle {
			out = append(out, observation{op: opFound, kind: p.kind, c: p.c})
		}
	}
	slices.SortFunc(out, func(x, y observation) int { return cmp.Compare(x.c.path, y.c.path) })
	return out
}

// manifestWait is why a complete report waits for a build manifest.
type manifestWait struct {
	reason string    // WaitManifest (none yet, one is expected) or WaitManifestWritten (one is being written)
	dir    string    // where the manifest is expected, or the one being written
	name   string    // the manifest's expected name (or pattern), or the one being written
	why    string    // why one is expected there
	until  time.Time // when the wait ends at the latest (zero: when the manifest is complete)
}

// waitFor says whether the complete report p waits for a manifest at now, and why.
func (a *arrivals) waitFor(p *arrival, now time.Time) (manifestWait, bool) {
	if m := a.nearestManifest(p); m != nil {
		// While the nearest manifest is being written, the report waits for it (even when
		// a marker made the report complete: a manifest read half-written would fail the
		// report for good); once it is complete, the report has its manifest.
		if m.complete.IsZero() {
			return manifestWait{reason: WaitManifestWritten, dir: filepath.Dir(m.c.path), name: filepath.Base(m.c.path)}, true
		}
		return manifestWait{}, false
	}
	if !a.mayWait(p, now) {
		return manifestWait{}, false
	}
	w, ok := a.expected(p)
	w.reason, w.until = WaitManifest, p.complete.Add(a.manifestWait)
	return w, ok
}

// nearestManifest is the manifest nearest the report p on its way up (its folder and
// above, up to its place's manifestTop); nil when none. (Two in one folder are an error
// the report's scan reports.)
func (a *arrivals) nearestManifest(p *arrival) *arrival {
	for dir := range upFrom(filepath.Dir(p.c.path), p.c.place.manifestTop()) {
		if ms := a.inDir[dir]; len(ms) > 0 {
			return a.manifests[sortedKeys(ms)[0]]
		}
	}
	return nil
}

// mayWait reports whether the complete report p may still wait for a manifest that is not
// there: --manifest-wait is not over, and no marker made it complete.
func (a *arrivals) mayWait(p *arrival, now time.Time) bool {
	return a.manifestWait > 0 && p.how != "marker" && now.Sub(p.complete) < a.manifestWait
}

// expected says where a manifest is expected for the report p (with no manifest on its way
// up), and why: its source declares manifest patterns, or a sibling of its folder or of a
// folder above it (inside the watched root) holds one.
func (a *arrivals) expected(p *arrival) (manifestWait, bool) {
	dir := filepath.Dir(p.c.path)
	if a.expects != nil && a.expects(p.c.place) {
		name := strings.Join(manifest.Names, " or ")
		if src := p.c.place.source; src != nil && len(src.Manifests) > 0 {
			name = "a manifest (" + strings.Join(src.Manifests, ", ") + ")"
		}
		return manifestWait{dir: dir, name: name, why: "the source " + p.c.place.base + " declares build manifests"}, true
	}
	top := p.c.place.base
	if p.c.root != nil {
		top = p.c.root.dir
	}
	for d := range upFrom(dir, top) {
		if d == top || !within(d, top) {
			break
		}
		// (A manifest in d itself is on the way up: p has it, and nothing is expected.)
		if ms := a.below[filepath.Dir(d)]; len(ms) > 0 {
			m := sortedKeys(ms)[0]
			return manifestWait{dir: d, name: filepath.Base(m), why: filepath.Dir(m) + " has one"}, true
		}
	}
	return manifestWait{}, false
}

// note is a line for the watcher's log: a folder's wait for a manifest began (once per
// folder while reports wait there), or its reports go without one after the wait.
type note struct {
	wait   manifestWait
	gaveUp bool
}

// String is the log line.
func (n note) String(wait time.Duration) string {
	if n.gaveUp {
		return fmt.Sprintf("no build manifest in %s after %s: importing its reports without one", n.wait.dir, wait)
	}
	return n.wait.waitLine(wait)
}

// ready hands out the reports ready to import at now (in path order, out of the set) and
// the notes for the log.
func (a *arrivals) ready(now time.Time) (out []*arrival, notes []note) {
	a.due = time.Time{}
	waitingIn := map[string]bool{}
	for _, path := range sortedKeys(a.reports) {
		p := a.reports[path]
		if p.complete.IsZero() {
			a.soon(p.stableAt.Add(a.settle))
			continue
		}
		if w, ok := a.waitFor(p, now); ok {
			waitingIn[w.dir] = true
			if w.reason == WaitManifest {
				a.soon(w.until)
				if a.noted[w.dir] == 0 {
					a.noted[w.dir] = 1
					notes = append(notes, note{wait: w})
				}
			}
			continue
		}
		if p.how != "marker" && a.manifestWait > 0 && a.nearestManifest(p) == nil {
			if w, ok := a.expected(p); ok && a.noted[w.dir] == 1 {
				a.noted[w.dir] = 2
				notes = append(notes, note{wait: w, gaveUp: true})
			}
		}
		out = append(out, p)
		delete(a.reports, path)
	}
	for _, p := range a.manifests {
		if p.complete.IsZero() {
			a.soon(p.stableAt.Add(a.settle))
		}
	}
	for d := range a.noted {
		if !waitingIn[d] {
			delete(a.noted, d)
		}
	}
	return out, notes
}

// Reasons a watcher holds a file back (WaitingFile.Reason).
const (
	WaitSettling        = "settling"         // its size or mtime changed less than --settle ago
	WaitManifest        = "manifest"         // complete, waiting up to --manifest-wait for its build manifest
	WaitManifestWritten = "manifest_written" // complete; its build manifest is still being written
)

// WaitingFile is a report a watcher has seen and holds back, and why (watch's /status).
type WaitingFile struct {
	Path   string    `json:"path"`
	Reason string    `json:"reason"` // WaitSettling, WaitManifest or WaitManifestWritten
	Detail string    `json:"detail"` // the reason in a sentence
	Since  time.Time `json:"since"`  // first seen
	// Until is when the wait ends at the latest: the settle time from its last change, or
	// the end of --manifest-wait; zero while a manifest is being written.
	Until time.Time `json:"until,omitzero"`
}

// waiting lists the reports held back at now, and why, in path order.
func (a *arrivals) waiting(now time.Time) []WaitingFile {
	out := []WaitingFile{}
	for _, path := range sortedKeys(a.reports) {
		p := a.reports[path]
		wf := WaitingFile{Path: path, Since: p.seen}
		w, waits := a.waitFor(p, now)
		switch {
		case p.complete.IsZero():
			wf.Reason, wf.Until = WaitSettling, p.stableAt.Add(a.settle)
			wf.Detail = fmt.Sprintf("it changed less than %s ago (--settle); it is read once it holds still", a.settle)
		case waits && w.reason == WaitManifestWritten:
			wf.Reason = WaitManifestWritten
			wf.Detail = fmt.Sprintf("its build manifest %s is still being written", filepath.Join(w.dir, w.name))
		case waits:
			wf.Reason, wf.Until = WaitManifest, w.until
			wf.Detail = w.waitLine(a.manifestWait)
		default:
			continue // ready: the next step takes it
		}
		out = append(out, wf)
	}
	return out
}

// waitLine is the log line (and /status detail) of a wait for an expected manifest.
func (w manifestWait) waitLine(d time.Duration) string {
	return fmt.Sprintf("waiting up to %s for %s in %s (%s); a marker file or the manifest ends the wait", d, w.name, w.dir, w.why)
}

// sortedKeys are the keys of m in order.
func sortedKeys[V any](m map[string]V) []string {
	return slices.Sorted(maps.Keys(m))
}
