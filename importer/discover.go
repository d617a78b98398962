package importer

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"iter"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/octane-import/octane-import/manifest"
)

// root is one place a scan looks: a directory (or a single file) the user named, or a
// configured source's folder.
type root struct {
	dir  string // absolute, cleaned; for a single file, its directory
	file string // set when the root is a single file
	// named is the folder rules see the paths of files outside every source relative to:
	// dir, the path named on the command line (see docs/configuration.md, "Paths").
	named string
	im    *Importer
}

// place is where a file stands for the rules: in the innermost configured source holding it
// (that source's patterns, rules relative to its folder, manifests looked for up to it), or
// outside every source (the default patterns, rules relative to the folder named on the
// command line, manifests looked for up to the top of the file system).
type place struct {
	source *Source // nil outside every source
	base   string  // the folder rules see the file's path relative to
}

// sourceDir is a configured source with its folder normalised.
type sourceDir struct {
	dir string
	src *Source
}

// newRoot makes the root of a directory or file the user named (or a source's folder).
func (im *Importer) newRoot(path string, isDir bool) *root {
	r := &root{dir: path, named: path, im: im}
	if !isDir {
		r.dir, r.file, r.named = filepath.Dir(path), path, filepath.Dir(path)
	}
	return r
}

// placeOf tells where a file under the root stands: the innermost source holding it, else
// outside every source, relative to the path named.
func (r *root) placeOf(path string) place {
	var best *sourceDir
	for i := range r.im.sources {
		sd := &r.im.sources[i]
		if within(path, sd.dir) && (best == nil || len(sd.dir) > len(best.dir)) {
			best = sd
		}
	}
	if best != nil {
		return place{source: best.src, base: best.dir}
	}
	return place{base: r.named}
}

// rel is the slash path of path relative to the place's base.
func (p place) rel(path string) string {
	if n := len(p.base); len(path) > n+1 && path[n] == filepath.Separator && path[:n] == p.base {
		return filepath.ToSlash(path[n+1:]) // what Rel says of a clean path under a clean base, without its work
	}
	rel, err := filepath.Rel(p.base, path)
	if err != nil {
		return filepath.ToSlash(path)
	}
	return filepath.ToSlash(rel)
}

// defaultSource is the patterns outside every source: the defaults, compiled once.
var defaultSource = func() (s Source) {
	if err := s.Compile(); err != nil {
		panic(err) // the built-in patterns, checked by the tests
	}
	return s
}()

func (p place) patterns() *Source {
	if p.source != nil {
		return p.source
	}
	return &defaultSource
}

// isReport and isManifest apply the place's source patterns (the defaults outside sources).
func (p place) isReport(path string) bool { return p.patterns().IsReport(p.rel(path)) }
func (p place) isManifest(path string) bool {
	return manifest.IsManifestName(filepath.Base(path)) || (p.source != nil && p.source.IsManifest(p.rel(path)))
}

// manifestTop is the last folder a report's manifest may be in: its source's folder, or
// the top of the file system ("") outside every source.
func (p place) manifestTop() string {
	if p.source != nil {
		return p.base
	}
	return ""
}

// zone is the source's timezone for zone-less report timestamps (nil: the machine's).
func (p place) zone() *time.Location {
	if p.source != nil {
		return p.source.Zone
	}
	return nil
}

// searched says where the root looks and what makes a report there.
func (r *root) searched() Searched {
	if r.file != "" {
		return Searched{Path: r.file, Patterns: []string{filepath.Base(r.file)}}
	}
	pl := r.placeOf(r.dir)
	pats := DefaultInclude
	if pl.source != nil && len(pl.source.Include) > 0 {
		pats = pl.source.Include
	}
	return Searched{Path: r.dir, Patterns: pats}
}

// candidate is a file discovery found.
type candidate struct {
	path    string // absolute, cleaned: the ledger key
	root    *root
	place   place
	size    int64
	modTime time.Time
}

// Normalize turns a path into the form the ledger keys files by: absolute and cleaned.
func Normalize(path string) (string, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return "", err
	}
	return filepath.Clean(abs), nil
}

// roots resolves the paths a user named (or the configuration's sources when none) into roots.
func (im *Importer) roots(paths []string) ([]*root, error) {
	var out []*root
	if len(paths) == 0 {
		for _, s := range im.opt.Sources {
			if s.Dir == "" {
				continue
			}
			dir, err := Normalize(s.Dir)
			if err != nil {
				return nil, err
			}
			out = append(out, im.newRoot(dir, true))
		}
		if len(out) == 0 {
			return nil, fmt.Errorf("nothing to scan: name a path, or add sources to the configuration")
		}
		return out, nil
	}
	for _, p := range paths {
		abs, err := Normalize(p)
		if err != nil {
			return nil, err
		}
		info, err := os.Stat(abs)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", p, err)
		}
		out = append(out, im.newRoot(abs, info.IsDir()))
	}
	return out, nil
}

// rootsOverlap reports whether a file can be found under two of the roots: one names a
// folder holding another, or the same file twice. A scan needs to remember the files it
// passed (so as to read each once) only then; for roots apart, a set of every path would
// be the largest thing a rescan holds in memory.
func rootsOverlap(roots []*root) bool {
	covers := func(a, b *root) bool {
		switch {
		case a.file != "":
			return b.file == a.file
		case b.file != "":
			return within(b.file, a.dir)
		}
		return within(b.dir, a.dir)
	}
	for i, a := range roots {
		for _, b := range roots[i+1:] {
			if covers(a, b) || covers(b, a) {
				return true
			}
		}
	}
	return false
}

// normalizeSources keeps the configured sources with their folders normalised, so that
// placeOf compares cleaned absolute paths.
func normalizeSources(sources []Source) []sourceDir {
	var out []sourceDir
	for i := range sources {
		s := &sources[i]
		if s.Dir == "" {
			continue
		}
		if d, err := Normalize(s.Dir); err == nil {
			out = append(out, sourceDir{dir: d, src: s})
		}
	}
	return out
}

func within(path, dir string) bool {
	if path == dir {
		return true
	}
	return strings.HasPrefix(path, dir+string(filepath.Separator))
}

// kindOf says what discovery makes of a file: "manifest" or "report" by its place's source
// patterns (the defaults outside every source), "" for anything else; and where it stands.
func (r *root) kindOf(path string) (string, place) {
	pl := r.placeOf(path)
	switch {
	case pl.isManifest(path):
		return "manifest", pl
	case pl.isReport(path):
		return "report", pl
	}
	return "", pl
}

// admit makes a candidate of a file discovery selected: a regular file, no older than its
// source's max_age.
func (r *root) admit(path string, pl place, info fs.FileInfo) (candidate, bool) {
	return r.admitFile(path, pl, info.Mode().IsRegular(), info.Size(), info.ModTime())
}

// admitFile is admit with the file's facts (entryStat's).
func (r *root) admitFile(path string, pl place, regular bool, size int64, mtime time.Time) (candidate, bool) {
	if !regular {
		return candidate{}, false
	}
	if pl.source != nil && pl.source.MaxAge > 0 && time.Since(mtime) > pl.source.MaxAge {
		return candidate{}, false
	}
	return candidate{path: path, root: r, place: pl, size: size, modTime: mtime}, true
}

// statEntry is what admitFile needs of an entry, by fs.DirEntry.Info.
func statEntry(d fs.DirEntry) (regular bool, size int64, mtime time.Time, err error) {
	info, err := d.Info()
	if err != nil {
		return false, 0, time.Time{}, err
	}
	return info.Mode().IsRegular(), info.Size(), info.ModTime(), nil
}

// walk calls fn for every regular file under the root that the source patterns select as a
// manifest (kind "manifest") or a report (kind "report"). Unreadable directories and symlink
// loops are reported through onErr and skipped; the walk goes on.
func (r *root) walk(ctx context.Context, fn func(kind string, c candidate) error, onErr func(path string, err error)) error {
	return r.walkWith(ctx, treeVisitor{file: fn, err: onErr})
}

// walkWith is walk with a visitor of its own (see treeVisitor.report).
func (r *root) walkWith(ctx context.Context, v treeVisitor) error {
	if r.file != "" {
		info, err := os.Stat(r.file)
		if err != nil {
			return err
		}
		kind := "report"
		if manifest.IsManifestName(filepath.Base(r.file)) {
			kind = "manifest"
		}
		return v.file(kind, candidate{path: r.file, root: r, place: r.placeOf(r.file), size: info.Size(), modTime: info.ModTime()})
	}
	return r.walkTree(ctx, r.dir, v)
}

// treeVisitor is what walkTree reports.
type treeVisitor struct {
	// file gets the manifests and reports (see walk).
	file func(kind string, c candidate) error
	// report, when set, gets the reports instead of file, without their size and mtime: the
	// first pass of a scan only counts them, and the lstat that reading an entry's size and
	// mtime costs is the larger part of a rescan's walk. A report under a source with a
	// max_age is still looked at (and passed on only when young enough).
	report func() error
	// dir, when set, gets every folder before the walk lists it: watch adds the folder's
	// watch there, so that a file made after the listing sends an event.
	dir func(path string) error
	// other, when set, gets every other regular file (watch looks for its markers there).
	other func(path string, d fs.DirEntry) error
	// err gets the folders and files that could not be read; the walk goes on.
	err func(path string, err error)
}

// walkTree walks the folder dir, under the root, for walk and for watch.
func (r *root) walkTree(ctx context.Context, dir string, v treeVisitor) error {
	// Symbolic links are not followed: CI archives are full of them (Jenkins'
	// lastSuccessfulBuild, GitLab's latest), and following one would import the same results
	// a second time under another path. The walk reports them at debug level only.
	var st entryStat
	defer st.close()
	return filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			if path == dir && errors.Is(err, fs.ErrNotExist) {
				return nil
			}
			v.err(path, err)
			if d != nil && d.IsDir() {
				return fs.SkipDir
			}
			return nil
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		path = filepath.Clean(path)
		if d.IsDir() {
			if v.dir != nil {
				return v.dir(path)
			}
			return nil
		}
		if d.Type()&fs.ModeSymlink != 0 {
			return nil
		}
		kind, pl := r.kindOf(path)
		if kind == "" {
			if v.other != nil && d.Type().IsRegular() {
				return v.other(path, d)
			}
			return nil
		}
		counted := kind == "report" && v.report != nil
		if counted && (pl.source == nil || pl.source.MaxAge <= 0) {
			if !d.Type().IsRegular() { // what admit checks, known from the entry itself
				return nil
			}
			return v.report()
		}
		regular, size, mtime, err := st.stat(path, d)
		if err != nil {
			v.err(path, err)
			return nil
		}
		c, ok := r.admitFile(path, pl, regular, size, mtime)
		switch {
		case !ok:
			return nil
		case counted:
			return v.report()
		}
		return v.file(kind, c)
	})
}

// manifests is the index of the build manifests found in a scan, by directory.
type manifests struct {
	byDir  map[string]*manifest.Manifest
	broken map[string]error // directory → why its manifest could not be read
}

func newManifests() *manifests {
	return &manifests{byDir: map[string]*manifest.Manifest{}, broken: map[string]error{}}
}

func (ms *manifests) add(m *manifest.Manifest) error {
	dir := filepath.Dir(m.Path)
	if other, ok := ms.byDir[dir]; ok && other.Path != m.Path {
		names := []string{other.Path, m.Path}
		sort.Strings(names)
		err := fmt.Errorf("two build manifests in one folder: %s and %s", names[0], names[1])
		ms.broken[dir] = err
		return err
	}
	ms.byDir[dir] = m
	return nil
}

// owner returns the manifest of the build a report belongs to: the nearest manifest in the
// report's folder or above (up to top; "" is the top of the file system) whose report globs
// match it. A broken manifest on that path claims the report too, so that its runs never go
// to a wrong build.
func (ms *manifests) owner(path, top string) (*manifest.Manifest, error) {
	for dir := range upFrom(filepath.Dir(path), top) {
		if err, ok := ms.broken[dir]; ok {
			var me *manifest.Error
			if errors.As(err, &me) {
				// Its problems are reported once, with the manifest itself.
				return nil, fmt.Errorf("its build manifest %s is invalid (%s, listed with the manifest)", me.File, plural(len(me.Problems), "problem"))
			}
			return nil, fmt.Errorf("its build manifest in %s cannot be used: %w", dir, err)
		}
		if m, ok := ms.byDir[dir]; ok && m.Owns(path) {
			return m, nil
		}
	}
	return nil, nil
}

// upFrom yields dir and every folder above it, up to top ("" is the top of the file system;
// a top that does not hold dir stops after dir).
func upFrom(dir, top string) iter.Seq[string] {
	return func(yield func(string) bool) {
		for {
			if !yield(dir) {
				return
			}
			if (top != "" && (dir == top || !within(dir, top))) || dir == filepath.Dir(dir) {
				return
			}
			dir = filepath.Dir(dir)
		}
	}
}

// walkManifests finds the build manifests a scan of the root needs: every manifest under a
// directory root (or the root file itself), and those in the folders above it up to the
// root's manifestTop, so that a report finds its build's manifest whatever path names it
// (`scan one-report.xml`, `scan its-folder`, `scan the-source`). It calls fn for each
// manifest and report (when set) for each report under a directory root, uncounted errors
// going to onErr.
func (r *root) walkManifests(ctx context.Context, fn func(kind string, c candidate) error, report func() error, onErr func(path string, err error)) error {
	above := r.dir
	if r.file == "" || manifest.IsManifestName(filepath.Base(r.file)) {
		if err := r.walkWith(ctx, treeVisitor{file: fn, report: report, err: onErr}); err != nil {
			return err
		}
		if r.file == "" {
			var ok bool
			if above, ok = r.above(); !ok {
				return nil
			}
		}
	}
	return r.manifestsAbove(ctx, above, fn, onErr)
}

// above is the first folder above a directory root where its reports' manifests may be:
// its parent, unless the root is the top of the file system or its source's folder.
func (r *root) above() (string, bool) {
	above := filepath.Dir(r.dir)
	if pl := r.placeOf(r.dir); above == r.dir || (pl.source != nil && !within(above, pl.base)) {
		return "", false
	}
	return above, true
}

// manifestsAbove calls fn for the manifests in from and the folders above it, up to the
// root's manifestTop (the folders themselves are not walked).
func (r *root) manifestsAbove(ctx context.Context, from string, fn func(kind string, c candidate) error, onErr func(path string, err error)) error {
	for dir := range upFrom(from, r.placeOf(r.dir).manifestTop()) {
		if err := ctx.Err(); err != nil {
			return err
		}
		entries, err := os.ReadDir(dir)
		if err != nil {
			if dir == from {
				onErr(dir, err) // further up, an unreadable folder is simply not ours to read
			}
			continue
		}
		for _, e := range entries {
			path := filepath.Join(dir, e.Name())
			if e.IsDir() || path == r.file {
				continue
			}
			fpl := r.placeOf(path)
			if !fpl.isManifest(path) {
				continue
			}
			info, err := e.Info()
			if err != nil || !info.Mode().IsRegular() {
				continue
			}
			if err := fn("manifest", candidate{path: path, root: r, place: fpl, size: info.Size(), modTime: info.ModTime()}); err != nil {
				return err
			}
		}
	}
	return nil
}

// loadManifests is the first pass of a scan (and of explain): it reads every build manifest
// under the roots, so that reports find theirs whatever the order on disk, and counts the
// reports it passes (for the progress bar). A manifest that cannot be used is reported
// through broken and claims its folder's reports, so they fail rather than go to a wrong build.
// Walk errors are left to the second pass, which meets the same ones.
func (im *Importer) loadManifests(ctx context.Context, roots []*root, broken func(candidate, error)) (*manifests, int, error) {
	ms := newManifests()
	reports := 0
	for _, r := range roots {
		if r.file != "" {
			reports++
		}
		err := r.walkManifests(ctx, func(kind string, c candidate) error {
			if kind != "manifest" {
				return nil // reports go to the counter below
			}
			m, err := manifest.Load(c.path)
			if err == nil {
				err = ms.add(m)
			}
			if err != nil {
				ms.broken[filepath.Dir(c.path)] = err
				broken(c, err)
			}
			return nil
		}, func() error { reports++; return nil }, func(string, error) {})
		if err != nil {
			return nil, 0, err
		}
	}
	return ms, reports, nil
}

// plural is "1 problem", "2 problems".
func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}
