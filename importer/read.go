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
	prevFail string // the reason it failed in an earlier scan
}

// read stats, checks the ledger, reads, hashes and maps one report.
func (im *Importer) read(ctx context.Context, c candidate, ms *manifests, scanID uint64) readResult {
	rr := readResult{c: c, rec: ledger.File{Path: c.path, Root: c.place.base, Size: c.size, ModTime: c.modTime.UnixNano(), Scan: scanID}}
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
	rep, err := report.ReadWith(io.TeeReader(f, h), c.path, readOptions)
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
	rr.dec, rr.man, err = im.decide(c, ms, rep)
	if err != nil {
		if errors.Is(err, mapping.ErrUnmatched) {
			rr.outcome, rr.err = Unmatched, err
			rr.rec.State, rr.rec.Error = ledger.Unmatched, err.Error()
			return rr
		}
		return rr.fail(err)
	}
	d := rr.dec
	rr.rec.Rule, rr.rec.Target = d.Rule, d.Target
	rr.counts = countRuns(rep)
	if len(rep.Runs) == 0 {
		rr.outcome = Empty
		rr.rec.State = ledger.Empty
		rr.rec.Error = "the report holds no test cases"
	}
	return rr
}

// decide makes the one decision for a read report: its manifest (found by walking up from
// its folder), the root its rule sees it under, and what the report says. Scan, watch,
// retry and explain all decide here.
func (im *Importer) decide(c candidate, ms *manifests, rep *report.Report) (*mapping.Decision, *manifest.Manifest, error) {
	m, err := ms.owner(c.path, c.place.manifestTop())
	if err != nil {
		return nil, nil, err
	}
	in := mapping.Input{
		Path: c.path, Root: c.place.base, Zone: c.place.zone(), ModTime: c.modTime, Manifest: m,
		Report: reportFacts(rep), Env: im.opt.Env,
	}
	d, err := im.opt.Rules.Decide(in)
	return d, m, err
}

// zoneless is the location the reader is given for timestamps written without a zone: a
// time in it is a wall clock, which the decision's timezone (rule, source or machine) turns
// into an instant (mapping.Decision.InZone).
var zoneless = time.FixedZone("zone-less", 0)

// readOptions are the reader's options: zone-less timestamps stay recognisable.
var readOptions = report.Options{Location: zoneless}

// reportFacts is what a report says about its build, for the decision: its properties, its
// earliest timestamp, how long its tests ran and how many failed.
func reportFacts(rep *report.Report) mapping.ReportFacts {
	if rep == nil {
		return mapping.ReportFacts{}
	}
	f := mapping.ReportFacts{Properties: properties(rep), Start: rep.Timestamp, Runs: len(rep.Runs)}
	f.Zoneless = !f.Start.IsZero() && f.Start.Location() == zoneless
	var total time.Duration
	var first, end time.Time
	// Runs sharing a start time (their suite's timestamp) ran one after another; a run with
	// a time of its own ends at its start plus its duration.
	shared := map[time.Time]time.Duration{}
	for i := range rep.Runs {
		r := &rep.Runs[i]
		if r.Status == report.Failed {
			f.Failed++
		}
		total += r.Duration
		if r.Started.IsZero() {
			continue
		}
		if first.IsZero() || r.Started.Before(first) {
			first = r.Started
		}
		shared[r.Started] += r.Duration
		if e := r.Started.Add(shared[r.Started]); e.After(end) {
			end = e
		}
	}
	if f.Start.IsZero() || (!first.IsZero() && first.Before(f.Start)) {
		f.Start = first
		f.Zoneless = !f.Start.IsZero() && f.Start.Location() == zoneless
	}
	switch {
	case !f.Start.IsZero() && end.After(f.Start):
		f.Duration = end.Sub(f.Start) // latest end − earliest start
	default:
		f.Duration = total // no timestamps: the suites one after another
	}
	return f
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

// countRuns counts a report's runs by status.
func countRuns(rep *report.Report) (c ledger.Counts) {
	for i := range rep.Runs {
		switch rep.Runs[i].Status {
		case report.Passed:
			c.Passed++
		case report.Failed:
			c.Failed++
		default:
			c.Skipped++
		}
	}
	return c
}
