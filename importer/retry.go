package importer

import (
	"context"
	"fmt"
	"os"
	"slices"

	"github.com/octane-import/octane-import/importer/ledger"
	"github.com/octane-import/octane-import/octane"
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
	// A file Octane failed (some of its payloads failed or were skipped) and that has not
	// changed since is retried payload by payload: only the payloads that did not make it are
	// sent again. Reading the file again would send every run of it, duplicating those whose
	// payloads Octane accepted (a file's runs can span several payloads).
	requeued, todo, err := im.requeue(todo)
	if err != nil {
		return newSummary(), err
	}
	var roots []*root
	for i := range todo {
		f := &todo[i]
		if _, err := os.Stat(f.Path); err != nil {
			continue // gone: reported by status, nothing to retry
		}
		r := im.newRoot(f.Path, false)
		if f.Root != "" {
			r.named = f.Root // outside every source: the folder it was first imported under
		}
		roots = append(roots, r)
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
	if len(roots) == 0 && len(builds) == 0 && requeued == 0 {
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

// requeue handles the files in todo that Octane failed after it accepted part of their runs
// (a file's runs can span several payloads, one accepted and another failed): reading such a
// file again would send every run of it, and those of the accepted payloads would arrive
// twice. If the file is unchanged on disk, its failed and skipped payloads are sent again
// instead, from the ledger, and so is every file sharing those payloads. Files nothing of
// which was accepted are left to be read again (so that a fixed manifest or rule applies).
// It returns how many payloads it requeued and the files left to read again.
func (im *Importer) requeue(todo []ledger.File) (int, []ledger.File, error) {
	all, err := im.opt.Ledger.Payloads()
	if err != nil {
		return 0, nil, err
	}
	state := make(map[uint64]ledger.Payload, len(all))
	for _, p := range all {
		state[p.ID] = p
	}
	again := map[uint64]bool{}
	add := func(f ledger.File) bool {
		added := false
		for _, id := range f.Payloads {
			if st := state[id].State; (st == ledger.PayloadFailed || st == ledger.PayloadSkipped) && !again[id] {
				again[id], added = true, true
			}
		}
		return added
	}
	for _, f := range todo {
		if f.State != ledger.Failed || !partlyAccepted(f, state) {
			continue
		}
		info, err := os.Stat(f.Path)
		if err != nil || !info.Mode().IsRegular() || !f.Same(info.Size(), info.ModTime()) {
			continue // changed (new content: read again) or gone
		}
		add(f)
	}
	// A file sharing a requeued payload is covered by it: it must not be read again.
	var rest []ledger.File
	for changed := true; changed; {
		changed = false
		rest = rest[:0]
		for _, f := range todo {
			shares := false
			for _, id := range f.Payloads {
				shares = shares || again[id]
			}
			switch {
			case !shares:
				rest = append(rest, f)
			case add(f):
				changed = true
			}
		}
	}
	if len(again) == 0 || im.opt.DryRun {
		return len(again), rest, nil
	}
	ids := make([]uint64, 0, len(again))
	for id := range again {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	for _, id := range ids {
		data, err := im.opt.Ledger.PayloadData(id)
		if err != nil {
			return 0, nil, err
		}
		// The same runs in new bytes, written to the ledger before they are sent.
		data, err = octane.RemarkGzipped(data, fmt.Sprintf("retry of payload %d after %d attempts", id, state[id].Attempts))
		if err != nil {
			return 0, nil, fmt.Errorf("ledger: payload %d: %w", id, err)
		}
		if err := im.opt.Ledger.Requeue(id, data); err != nil {
			return 0, nil, err
		}
	}
	return len(ids), rest, nil
}

func partlyAccepted(f ledger.File, state map[uint64]ledger.Payload) bool {
	for _, id := range f.Payloads {
		// Accepted, or still queued or in flight: rereading the file would send those runs
		// again. Only the failed and skipped payloads are sent again.
		if st := state[id].State; st != ledger.PayloadFailed && st != ledger.PayloadSkipped {
			return true
		}
	}
	return false
}
