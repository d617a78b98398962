package importer

import (
	"context"
	"os"
	"path/filepath"

	"github.com/octane-import/octane-import/importer/ledger"
)

// Retry imports again the files the ledger holds as failed or unmatched (all of them, or
// those under the given paths), after the user fixed the cause: a file, the configuration, or
// something in Octane. Builds Octane refused are reported again. Each retried payload carries
// the attempt number, so Octane sees new bytes instead of answering with the old failed task.
func (im *Importer) Retry(ctx context.Context, paths []string) (*Summary, error) {
	var filters []string
	for _, p := range paths {
		abs, err := Normalize(p)
		if err != nil {
			return newSummary(), err
		}
		filters = append(filters, abs)
	}
	var todo []ledger.File
	err := im.opt.Ledger.Files(func(f ledger.File) bool {
		if f.State != ledger.Failed && f.State != ledger.Unmatched {
			return true
		}
		if len(filters) > 0 && !underAny(f.Path, filters) {
			return true
		}
		todo = append(todo, f)
		return true
	})
	if err != nil {
		return newSummary(), err
	}
	builds, err := im.opt.Ledger.Builds(ledger.BuildFailed)
	if err != nil {
		return newSummary(), err
	}
	var roots []*root
	for i := range todo {
		f := &todo[i]
		if _, err := os.Stat(f.Path); err != nil {
			continue // gone: reported by status, nothing to retry
		}
		dir := f.Root
		if dir == "" {
			dir = filepath.Dir(f.Path)
		}
		roots = append(roots, &root{dir: dir, file: f.Path, source: im.sourceFor(dir)})
		if im.opt.DryRun {
			continue
		}
		f.Attempt++
		f.State, f.Error, f.Payloads, f.Task, f.Status = ledger.Seen, "", nil, "", ""
	}
	if !im.opt.DryRun {
		if err := im.opt.Ledger.PutFiles(todo...); err != nil {
			return newSummary(), err
		}
		for i := range builds {
			builds[i].State, builds[i].Error = ledger.BuildPending, ""
		}
		if err := im.opt.Ledger.PutBuilds(builds...); err != nil {
			return newSummary(), err
		}
	}
	if len(roots) == 0 && len(builds) == 0 {
		return newSummary(), nil
	}
	return im.scan(ctx, roots)
}

func underAny(path string, dirs []string) bool {
	for _, d := range dirs {
		if within(path, d) {
			return true
		}
	}
	return false
}
