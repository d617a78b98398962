package importer

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/octane-import/octane-import/importer/ledger"
	"github.com/octane-import/octane-import/manifest"
	"github.com/octane-import/octane-import/mapping"
	"github.com/octane-import/octane-import/report"
)

// errChanged says a file changed while it was being read: it is still being written.
var errChanged = errors.New("the file changed while it was being read (still being written?)")

// readResult is one report, read and mapped, on its way to the batcher.
type readResult struct {
	c        candidate
	rec      ledger.File // the record to write (path, size, mtime, hash, rule, target ...)
	outcome  Outcome     // set when the file needs nothing more (unchanged, failed, ...)
	err      error
	dec      *mapping.Decision
	man      *manifest.Manifest
	rep      *report.Report
	counts   ledger.Counts
	start    time.Time // when its runs started (for the build's span)
	end      time.Time // when its last run ended
	prevFail string    // the reason it failed in an earlier scan
}

// read stats, checks the ledger, reads, hashes and maps one report.
func (im *Importer) read(ctx context.Context, c candidate, ms *manifests, scanID uint64) readResult {
	rr := readResult{c: c, rec: ledger.File{Path: c.path, Root: c.root.dir, Size: c.size, ModTime: c.modTime.UnixNano(), Scan: scanID}}
	var prev ledger.File
	var known bool
	if im.opt.Ledger != nil {
		var err error
		prev, known, err = im.opt.Ledger.File(c.path)
		if err != nil {
			return rr.fail(fmt.Errorf("ledger: %w", err))
		}
	}
	if known {
		rr.rec.Attempt = prev.Attempt
		if prev.Same(c.size, c.modTime) {
			switch prev.State {
			case ledger.Failed:
				rr.outcome, rr.prevFail = Failed, prev.Error
				rr.rec = prev
				return rr
			case ledger.Unmatched, ledger.Seen:
				// mapping may have changed since: look again
			default:
				rr.outcome, rr.rec = Unchanged, prev
				return rr
			}
		}
	}
	f, err := os.Open(c.path)
	if err != nil {
		return rr.fail(err)
	}
	defer f.Close()
	h := sha256.New()
	rep, err := report.Read(io.TeeReader(f, h), c.path)
	if err == nil {
		_, err = io.Copy(h, f) // whatever follows the root element counts for the hash too
	}
	rr.rec.Hash = hex.EncodeToString(h.Sum(nil))
	if info, serr := f.Stat(); serr == nil && (info.Size() != c.size || !info.ModTime().Equal(c.modTime)) {
		// What was hashed is not a settled version of the file: keep no hash, or the next
		// scan would find the finished file "unchanged" and leave it failed for good.
		rr.rec.Hash = ""
		return rr.fail(errChanged)
	}
	if known && prev.Hash == rr.rec.Hash && prev.State != ledger.Unmatched && prev.State != ledger.Seen {
		// Touched, not changed: keep what was done, remember the new size and mtime.
		prev.Size, prev.ModTime = c.size, c.modTime.UnixNano()
		rr.rec, rr.outcome = prev, Unchanged
		if prev.State == ledger.Failed {
			rr.outcome, rr.prevFail = Failed, prev.Error
		}
		return rr
	}
	if err != nil {
		return rr.fail(err)
	}
	if err := ctx.Err(); err != nil {
		return rr.fail(err)
	}
	rr.rep = rep
	m, err := ms.owner(c.path, c.root.dir)
	if err != nil {
		return rr.fail(err)
	}
	rr.man = m
	in := mapping.Input{
		Path: c.path, Root: c.root.dir, ModTime: c.modTime, SuiteTime: rep.Timestamp,
		Properties: properties(rep), Env: im.opt.Env,
	}
	if m != nil {
		in.Manifest = m.Fields()
	}
	d, err := im.opt.Config.Decide(in)
	if err != nil {
		if errors.Is(err, mapping.ErrUnmatched) {
			rr.outcome, rr.err = Unmatched, err
			rr.rec.State, rr.rec.Error = ledger.Unmatched, err.Error()
			return rr
		}
		return rr.fail(err)
	}
	rr.dec = d
	rr.rec.Rule, rr.rec.Target = d.Rule, d.Target
	rr.counts, rr.start, rr.end = countRuns(rep, d.Start)
	if len(rep.Runs) == 0 {
		rr.outcome = Empty
		rr.rec.State = ledger.Empty
		rr.rec.Error = "the report holds no test cases"
	}
	return rr
}

func (rr readResult) fail(err error) readResult {
	rr.outcome, rr.err = Failed, err
	rr.rec.State, rr.rec.Error = ledger.Failed, err.Error()
	return rr
}

func properties(rep *report.Report) map[string]string {
	if len(rep.Properties) == 0 {
		return nil
	}
	m := make(map[string]string, len(rep.Properties))
	for _, p := range rep.Properties {
		if _, ok := m[p.Name]; !ok {
			m[p.Name] = p.Value
		}
	}
	return m
}

// countRuns counts a report's runs by status and finds the span they cover. Runs without a
// start time are taken to start with the build (fallback).
func countRuns(rep *report.Report, fallback time.Time) (c ledger.Counts, start, end time.Time) {
	var total time.Duration
	for i := range rep.Runs {
		r := &rep.Runs[i]
		switch r.Status {
		case report.Passed:
			c.Passed++
		case report.Failed:
			c.Failed++
		default:
			c.Skipped++
		}
		total += r.Duration
		if !r.Started.IsZero() {
			if start.IsZero() || r.Started.Before(start) {
				start = r.Started
			}
			if e := r.Started.Add(r.Duration); e.After(end) {
				end = e
			}
		}
	}
	if start.IsZero() {
		start = rep.Timestamp
	}
	if start.IsZero() {
		start = fallback
	}
	if end.IsZero() && !start.IsZero() {
		end = start.Add(total) // no run has its own time: assume they ran one after another
	}
	return c, start, end
}
