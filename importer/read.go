package importer

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"strings"
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
	c         candidate
	rec       ledger.File // the record to write (path, size, mtime, hash, rule, target ...)
	outcome   Outcome     // set when the file needs nothing more (unchanged, failed, ...)
	err       error
	dec       *mapping.Decision
	man       *manifest.Manifest
	counts    ledger.Counts
	flaky     int       // runs that passed on a rerun
	warnings  []Warning // what the reader (and the encoder) adjusted
	runs      *fileRuns // the encoded runs (a scan that sends); nil otherwise
	prevFail  string    // the reason it failed in an earlier scan
	elsewhere bool      // another live instance holds its claim: it imports it
	unclaimed bool      // settled by its record without a claim: nothing to give up
}

// read stats, checks the ledger, reads, hashes and maps one report, in one pass over the
// file: the decision is made on what the report says before its first test case (its
// properties and first timestamps: report.Decoder.Head), its runs are then encoded as they
// are read when encode is set (fileRuns), and the decision takes the whole report's times
// and counts at the end. Scan, watch, retry and explain all read here.
func (im *Importer) read(ctx context.Context, c candidate, ms *manifests, scanID uint64, encode bool) readResult {
	return im.readKnown(ctx, c, ms, scanID, encode, nil)
}

// record is a report's ledger record as a batch lookup found it (known: there is one).
type record struct {
	f     ledger.File
	known bool
}

// recordOf is the record a lookResult keeps (nil: none) as readKnown takes it.
func recordOf(f *ledger.File) *record {
	if f == nil {
		return &record{}
	}
	return &record{*f, true}
}

// readKnown is read with the report's ledger record at hand (nil: read makes the lookup):
// a scan looks records up in batches (claimFiles), not one query per report.
func (im *Importer) readKnown(ctx context.Context, c candidate, ms *manifests, scanID uint64, encode bool, rec *record) (rr readResult) {
	var prev ledger.File
	var known, done bool
	if rec == nil {
		rr, prev, known, done = im.settled(c, scanID)
	} else {
		prev, known = rec.f, rec.known
		rr, done = im.settledBy(c, scanID, prev, known)
	}
	if done {
		return rr
	}
	f, err := os.Open(c.path)
	if err != nil {
		return rr.fail(err)
	}
	defer f.Close()
	defer func() {
		if rr.outcome != "" || rr.err != nil {
			rr.runs.discard() // not to be sealed: its staged payloads go
			rr.runs = nil
		}
	}()
	h := sha256.New()
	err = im.decodeRuns(ctx, &rr, report.NewDecoder(io.TeeReader(f, h), c.path, readOptions), ms, encode)
	if err == nil || rr.dec == nil {
		_, _ = io.Copy(h, f) // the rest (after the root element, or of an unmatched report) counts for the hash too
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
		rr.rec, rr.outcome, rr.err = prev, Unchanged, nil
		if prev.State == ledger.Failed {
			rr.outcome, rr.prevFail = Failed, prev.Error
		}
		return rr
	}
	if err != nil {
		if errors.Is(err, mapping.ErrUnmatched) {
			rr.outcome, rr.err = Unmatched, err
			rr.rec.State, rr.rec.Error = ledger.Unmatched, err.Error()
			return rr
		}
		return rr.fail(err)
	}
	if err := ctx.Err(); err != nil {
		return rr.fail(err)
	}
	d := rr.dec
	rr.rec.Rule, rr.rec.Target = d.Rule, d.Target
	if rr.counts.Total() == 0 {
		rr.outcome = Empty
		rr.rec.State = ledger.Empty
		rr.rec.Error = "the report holds no test cases"
	}
	return rr
}

// settled looks the report up in the ledger: done when its record settles it without
// reading it (unchanged since it was imported, or failed and unchanged since).
func (im *Importer) settled(c candidate, scanID uint64) (rr readResult, prev ledger.File, known, done bool) {
	if im.opt.Ledger != nil {
		var err error
		prev, known, err = im.opt.Ledger.File(c.path)
		if err != nil {
			rr = readResult{c: c, rec: c.record(scanID)}
			return rr.fail(err), prev, known, true
		}
	}
	rr, done = im.settledBy(c, scanID, prev, known)
	return rr, prev, known, done
}

// settledBy is settled with the report's record at hand (prev, when known).
func (im *Importer) settledBy(c candidate, scanID uint64, prev ledger.File, known bool) (rr readResult, done bool) {
	rr = readResult{c: c, rec: c.record(scanID)}
	if known {
		rr.rec.Attempt = prev.Attempt
		if prev.Same(c.size, c.modTime) {
			switch prev.State {
			case ledger.Failed:
				rr.outcome, rr.prevFail = Failed, prev.Error
				rr.rec = prev
				return rr, true
			case ledger.Unmatched, ledger.Seen:
				// mapping may have changed since: look again
			default:
				rr.outcome, rr.rec = Unchanged, prev
				return rr, true
			}
		}
	}
	return rr, false
}

// record is the ledger record a report starts with in scan scanID: where it is, as found.
func (c candidate) record(scanID uint64) ledger.File {
	return ledger.File{Path: c.path, Root: c.place.base, Size: c.size, ModTime: c.modTime.UnixNano(), Scan: scanID}
}

// decodeRuns reads the report: its head, the decision, every run (encoded when encode is
// set), then the decision again with the whole report's facts. An unmatched report is
// left unread after its head (mapping.ErrUnmatched).
func (im *Importer) decodeRuns(ctx context.Context, rr *readResult, dec *report.Decoder, ms *manifests, encode bool) error {
	head, err := dec.Head()
	if err != nil {
		return err
	}
	props := headProperties(head)
	facts := mapping.ReportFacts{Properties: props, Start: head.Timestamp, Zoneless: head.ZoneLess}
	d, m, err := im.decide(rr.c, ms, facts)
	if err != nil {
		return err
	}
	rr.dec, rr.man = d, m
	if encode {
		rr.runs = im.newFileRuns(rr.c.path, d, rr.rec.Attempt)
	}
	var first time.Time // the earliest run start
	for n := 0; ; n++ {
		if n%1024 == 1023 {
			if err := ctx.Err(); err != nil {
				return err
			}
		}
		r, err := dec.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return err
		}
		switch r.Status {
		case report.Passed:
			rr.counts.Passed++
		case report.Failed:
			rr.counts.Failed++
		default:
			rr.counts.Skipped++
		}
		if r.Flaky {
			rr.flaky++
		}
		if !r.Started.IsZero() && (first.IsZero() || r.Started.Before(first)) {
			first = r.Started
		}
		if rr.runs != nil {
			if err := rr.runs.add(r); err != nil {
				return err
			}
		}
	}
	if rr.runs != nil {
		if err := rr.runs.finish(); err != nil {
			return err
		}
	}
	sum := dec.Summary()
	rr.warnings = fromReport(sum.Warnings)
	// The decision again, with what only the whole report tells: when its tests started and
	// how long they took, how many ran and failed. Where it goes (target, build, payload
	// context) was settled by the head and cannot change: templates never name times or
	// counts.
	full := summaryFacts(sum, first, rr.counts)
	full.Properties = props
	if rr.dec, _, err = im.decide(rr.c, ms, full); err != nil {
		return err
	}
	if rr.dec.Key() != d.Key() || rr.dec.Target != d.Target {
		return fmt.Errorf("%s: the decision changed between the report's head and its end (%s, then %s): please report this as a bug", rr.c.path, d.Key(), rr.dec.Key())
	}
	if late := lateRouting(im, rr, ms, sum, full); late != "" {
		rr.warnings = append(rr.warnings, Warning{Code: "late-property", Message: late})
	}
	if rr.runs != nil {
		for _, w := range rr.runs.warnings {
			if len(rr.warnings) < maxFileWarnings {
				rr.warnings = append(rr.warnings, Warning{Code: "octane-limit", Message: w})
			}
		}
	}
	return nil
}

// lateRouting says when properties that came after the report's first test case would have
// sent the report elsewhere: the decision is made before the first run is read, on the
// properties said before it, and stays made.
func lateRouting(im *Importer, rr *readResult, ms *manifests, sum *report.Summary, full mapping.ReportFacts) string {
	if len(sum.LateProperties) == 0 {
		return ""
	}
	all := make(map[string]string, len(full.Properties)+len(sum.LateProperties))
	maps.Copy(all, full.Properties)
	var names []string
	for _, p := range sum.LateProperties {
		if _, ok := all[p.Name]; !ok {
			all[p.Name] = p.Value
			names = append(names, p.Name)
		}
	}
	if len(names) == 0 {
		return ""
	}
	alt := full
	alt.Properties = all
	d, _, err := im.decide(rr.c, ms, alt)
	if err == nil && d.Key() == rr.dec.Key() && contextKey(resultContext(d)) == contextKey(resultContext(rr.dec)) {
		return ""
	}
	return fmt.Sprintf("properties %s come after the first test case and were not used to map the report (the rules see the properties said before its first test case): move them to the first suite, or map the report by its path", strings.Join(names, ", "))
}

// decide makes the one decision for a report: its manifest (found by walking up from its
// folder), the root its rule sees it under, and what the report says. Scan, watch, retry
// and explain all decide here.
func (im *Importer) decide(c candidate, ms *manifests, facts mapping.ReportFacts) (*mapping.Decision, *manifest.Manifest, error) {
	m, err := ms.owner(c.path, c.place.manifestTop())
	if err != nil {
		return nil, nil, err
	}
	in := mapping.Input{
		Path: c.path, Root: c.place.base, Zone: c.place.zone(), ModTime: c.modTime, Manifest: m,
		Report: facts, Env: im.opt.Env,
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

// summaryFacts is what a whole report says about its build, for the decision: its earliest
// timestamp (a suite's, or a run's own), how long its tests ran, how many ran and failed.
func summaryFacts(sum *report.Summary, firstRun time.Time, counts ledger.Counts) mapping.ReportFacts {
	f := mapping.ReportFacts{Start: sum.Start, Zoneless: sum.ZoneLess, Runs: counts.Total(), Failed: counts.Failed}
	if f.Start.IsZero() || (!firstRun.IsZero() && firstRun.Before(f.Start)) {
		f.Start = firstRun
	}
	if !f.Start.IsZero() {
		f.Zoneless = f.Start.Location() == zoneless
	}
	switch end := later(sum.SuiteEnd, sum.RunEnd); {
	case !f.Start.IsZero() && end.After(f.Start):
		f.Duration = end.Sub(f.Start) + sum.UnplacedTime // latest end − earliest start
	default:
		f.Duration = sum.Elapsed()
	}
	return f
}

func later(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}

func (rr readResult) fail(err error) readResult {
	rr.outcome, rr.err = Failed, err
	rr.rec.State, rr.rec.Error = ledger.Failed, err.Error()
	return rr
}

// headProperties are the properties a report says before its first test case, the first
// value of each name.
func headProperties(h *report.Head) map[string]string {
	if len(h.Properties) == 0 {
		return nil
	}
	m := make(map[string]string, len(h.Properties))
	for _, p := range h.Properties {
		if _, ok := m[p.Name]; !ok {
			m[p.Name] = p.Value
		}
	}
	return m
}
