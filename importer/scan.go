package importer

import (
	"cmp"
	"context"
	"errors"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/octane-import/octane-import/importer/ledger"
	"github.com/octane-import/octane-import/mapping"
)

// Scan makes one pass over paths (or the configuration's sources when none are given):
// discover, read, map, group into builds, record, submit, and report. A file that cannot be
// read or mapped fails alone; Octane refusing a build fails that build alone; Octane being
// unreachable stops the sending and leaves the rest queued in the ledger (the error says so).
func (im *Importer) Scan(ctx context.Context, paths []string) (*Summary, error) {
	roots, err := im.roots(paths)
	if err != nil {
		return newSummary(), err
	}
	return im.scan(ctx, roots)
}

func (im *Importer) scan(ctx context.Context, roots []*root) (*Summary, error) {
	started := time.Now()
	sum := newSummary()
	for _, r := range roots {
		sum.Searched = append(sum.Searched, r.searched())
	}
	sum.DryRun = im.opt.DryRun
	defer func() { sum.Elapsed = time.Since(started) }()
	var err error
	var scanID uint64
	if !im.opt.DryRun {
		if scanID, err = im.opt.Ledger.NextScan(); err != nil {
			return sum, err
		}
	}
	warns := map[string][]Warning{} // what was adjusted in each file, until the file is reported
	flaky := map[string]int{}       // runs of each file that passed on a rerun, likewise
	emit := func(r FileResult) {
		if w := warns[r.Path]; len(w) > 0 {
			r.Warnings = w
			delete(warns, r.Path)
			sum.Adjusted++
		}
		if n := flaky[r.Path]; n > 0 {
			r.Flaky = n
			delete(flaky, r.Path)
			if r.Outcome == Imported || r.Outcome == Planned {
				sum.Flaky += n
			}
		}
		sum.count(r)
		im.opt.Reporter.File(r)
	}

	// Pass 1: the build manifests; pass 2 below reads the reports.
	ms, total, err := im.loadManifests(ctx, roots, func(c candidate, err error) { im.recordFailure(emit, c, scanID, err) })
	if err != nil {
		return sum, err
	}
	progress := Progress{Phase: "reading", FilesTotal: total}
	im.opt.Reporter.Progress(progress)

	// Pass 2: the reports, read in parallel, batched in one goroutine.
	b := newBatcher(im, scanID, sum)
	b.warns, b.flaky = warns, flaky
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	cands := make(chan candidate, 64)
	results := make(chan readResult, im.opt.Readers)
	walkErrs := make(chan FileResult, 16)
	var walkErr error
	go func() {
		defer close(cands)
		seen := map[string]bool{} // overlapping paths or sources: each file is read once
		for _, r := range roots {
			err := r.walk(ctx, func(kind string, c candidate) error {
				if kind != "report" || seen[c.path] {
					return nil
				}
				seen[c.path] = true
				select {
				case cands <- c:
					return nil
				case <-ctx.Done():
					return ctx.Err()
				}
			}, func(path string, err error) {
				walkErrs <- FileResult{Path: path, Outcome: Failed, Error: errorInfo(err)}
			})
			if err != nil {
				walkErr = err
				return
			}
		}
	}()
	var wg sync.WaitGroup
	for range im.opt.Readers {
		wg.Go(func() {
			for c := range cands {
				results <- im.read(ctx, c, ms, scanID, !im.opt.DryRun)
			}
		})
	}
	go func() { wg.Wait(); close(results) }()

	var batchErr error
	for results != nil {
		select {
		case wr := <-walkErrs:
			emit(wr)
			continue
		case <-tick.C:
			progress.Elapsed = time.Since(started)
			im.opt.Reporter.Progress(progress)
			continue
		case rr, ok := <-results:
			if !ok {
				results = nil
				continue
			}
			progress.FilesDone++
			if batchErr != nil {
				rr.runs.discard()
				continue // drain
			}
			if err := im.take(b, &rr, emit); err != nil {
				batchErr = err
			}
			progress.Runs += rr.counts.Total()
		}
	}
	for len(walkErrs) > 0 {
		emit(<-walkErrs)
	}
	progress.Elapsed = time.Since(started)
	im.opt.Reporter.Progress(progress)
	if batchErr == nil {
		batchErr = walkErr
	}
	if batchErr == nil {
		batchErr = b.finish()
	}
	if batchErr != nil {
		return sum, batchErr
	}
	sum.Builds = len(b.builds)
	if im.opt.DryRun {
		sum.Plan = im.plan(b, sum)
		return sum, ctx.Err()
	}
	if err := ctx.Err(); err != nil {
		sum.Interrupt = true
		im.reportSent(emit, sum, scanID, b.waiting)
		im.countQueued(sum)
		return sum, err
	}

	// Send what the ledger holds: this scan's work and anything an earlier run left queued.
	progress.Phase = "sending"
	snd := newSender(im, sum)
	snd.progress = func(total, done int) {
		progress.PayloadsTotal, progress.PayloadsDone, progress.Elapsed = total, done, time.Since(started)
		im.opt.Reporter.Progress(progress)
	}
	sendErr := snd.run(ctx)
	sum.Requests, sum.Sent = snd.requests, snd.sent
	switch {
	case errors.Is(sendErr, context.Canceled):
		sum.Interrupt = true // said as such, not as an error
	case sendErr != nil:
		sum.Errors = append(sum.Errors, sendErr.Error())
	}
	for p := range b.waiting {
		snd.handled[p] = true
	}
	im.reportSent(emit, sum, scanID, snd.handled)
	im.countQueued(sum)
	if sendErr != nil && !isUnavailable(sendErr) {
		return sum, sendErr
	}
	return sum, nil
}

// countQueued counts what stays in the ledger after the run: the payloads not yet sent,
// and those sent whose task Octane has not yet answered.
func (im *Importer) countQueued(sum *Summary) {
	if ps, err := im.opt.Ledger.Payloads(ledger.Pending, ledger.PayloadSent); err == nil {
		for _, p := range ps {
			if p.State == ledger.Pending {
				sum.Queued++
			} else {
				sum.Unanswered++
			}
		}
	}
}

// take routes one read report: final outcomes are reported at once, the rest batched.
func (im *Importer) take(b *batcher, rr *readResult, emit func(FileResult)) error {
	if len(rr.warnings) > 0 {
		b.warns[rr.c.path] = rr.warnings
	}
	if rr.flaky > 0 {
		b.flaky[rr.c.path] = rr.flaky
	}
	if rr.err != nil && (errors.Is(rr.err, context.Canceled) || errors.Is(rr.err, context.DeadlineExceeded)) {
		return nil // stopped while reading it: nothing about the file itself, so nothing recorded
	}
	switch rr.outcome {
	case Unchanged:
		if st := rr.rec.State; !im.opt.DryRun && (st == ledger.Parsed || st == ledger.Sent) {
			// Queued by an earlier run: reported once the send phase settles it.
			b.waiting[rr.rec.Path] = true
			return nil
		}
		// Touched but not changed (same hash): remember the new size and mtime.
		if !im.opt.DryRun && (rr.rec.Size != rr.c.size || rr.rec.ModTime != rr.c.modTime.UnixNano()) {
			rr.rec.Size, rr.rec.ModTime = rr.c.size, rr.c.modTime.UnixNano()
			if err := b.record(rr.rec); err != nil {
				return err
			}
		}
		emit(im.resultOf(rr.rec, Unchanged))
		return nil
	case Failed, Unmatched, Empty:
		if rr.prevFail != "" {
			r := im.resultOf(rr.rec, Failed)
			r.Error = &ErrorInfo{Message: "failed in an earlier run and unchanged since (fix it, then run `octane-import retry`): " + rr.prevFail}
			emit(r)
			return nil
		}
		if !im.opt.DryRun {
			if err := b.record(rr.rec); err != nil {
				return err
			}
		}
		r := im.resultOf(rr.rec, rr.outcome)
		r.Error = errorInfo(rr.err)
		if rr.outcome == Empty {
			r.Error = &ErrorInfo{Message: "the report holds no test cases", File: rr.c.path}
		}
		emit(r)
		return nil
	}
	if err := b.add(rr); err != nil {
		return err
	}
	if rr.outcome == Skipped || rr.outcome == Planned {
		r := im.resultOf(rr.rec, rr.outcome)
		if acc := b.builds[rr.rec.Build]; acc != nil {
			id := idOf(acc.spec)
			r.Build = &id
		}
		emit(r)
	}
	return nil
}

func (im *Importer) recordFailure(emit func(FileResult), c candidate, scanID uint64, err error) {
	rec := ledger.File{Path: c.path, Size: c.size, ModTime: c.modTime.UnixNano(), State: ledger.Failed, Error: err.Error(), Scan: scanID}
	if !im.opt.DryRun {
		if perr := im.opt.Ledger.PutFiles(rec); perr != nil {
			im.opt.Logger.Error("ledger write failed", "path", c.path, "err", perr)
		}
	}
	r := im.resultOf(rec, Failed)
	r.Error = errorInfo(err)
	emit(r)
}

// resultOf describes a file from its ledger record.
func (im *Importer) resultOf(f ledger.File, o Outcome) FileResult {
	r := FileResult{Path: f.Path, Outcome: o, Rule: f.Rule, Target: f.Target, Runs: f.Runs, Task: f.Task, TaskStatus: f.Status}
	if f.Build != "" {
		id := idOfKey(f.Build)
		r.Build = &id
	}
	if f.Error != "" && (o == Failed || o == Unmatched) {
		r.Error = &ErrorInfo{Message: f.Error}
	}
	return r
}

// reportSent reports the files whose payloads this run wrote or sent, from the ledger.
func (im *Importer) reportSent(emit func(FileResult), sum *Summary, scanID uint64, handled map[string]bool) {
	if sum.Payloads == 0 && len(handled) == 0 {
		return // nothing was written or sent: no file to report from the ledger
	}
	var out []FileResult
	err := im.opt.Ledger.Files(func(f ledger.File) bool {
		if len(f.Payloads) == 0 || !(f.Scan == scanID || handled[f.Path]) {
			return true
		}
		var o Outcome
		switch f.State {
		case ledger.Accepted:
			o = Imported
		case ledger.Failed:
			o = Failed
		default:
			o = Queued
		}
		out = append(out, im.resultOf(f, o))
		return true
	})
	if err != nil {
		sum.Errors = append(sum.Errors, err.Error())
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Path < out[j].Path })
	for _, r := range out {
		emit(r)
	}
	// Bring the build lines up to date with what the ledger now says.
	for key, line := range sum.ByBuild {
		if bd, ok, _ := im.opt.Ledger.Build(key); ok && line.State == "" {
			line.State = string(bd.State)
		}
	}
}

func idOfKey(key string) BuildID {
	parts := strings.SplitN(key, "\x1f", 4) // see buildKey
	for len(parts) < 4 {
		parts = append(parts, "")
	}
	return BuildID{Server: parts[1], Job: parts[2], Build: parts[3]}
}

func (im *Importer) plan(b *batcher, sum *Summary) *Plan {
	byTarget := map[string]*PlanTarget{}
	var targets []string
	keys := make([]string, 0, len(b.builds))
	specs := make(map[string]*mapping.Build, len(b.builds))
	for k, acc := range b.builds {
		keys = append(keys, k)
		specs[k] = acc.spec
	}
	sort.Strings(keys)
	descs := serversOf(specs)
	for _, w := range descs.Warnings {
		sum.Warnings = appendLimited(sum.Warnings, w)
	}
	for _, k := range keys {
		acc := b.builds[k]
		sp := acc.spec
		pt := byTarget[sp.Target]
		if pt == nil {
			pt = &PlanTarget{Target: sp.Target, extra: map[string]bool{}}
			byTarget[sp.Target] = pt
			targets = append(targets, sp.Target)
		}
		if !pt.extra["s"+sp.Server.InstanceID] {
			pt.extra["s"+sp.Server.InstanceID] = true
			desc, _ := descs.Get(sp.Target, sp.Server.InstanceID)
			pt.Servers = append(pt.Servers, PlanServer{InstanceID: desc.InstanceID, Name: cmp.Or(desc.Name, desc.InstanceID), Type: desc.Type, URL: desc.URL})
			pt.Requests++
		}
		pk := "p" + sp.Server.InstanceID + "\x00" + sp.Pipeline
		if !pt.extra[pk] {
			pt.extra[pk] = true
			pt.Pipelines = append(pt.Pipelines, PlanPipeline{Server: sp.Server.InstanceID, Name: sp.Pipeline})
			pt.Requests++
		}
		for i := range pt.Pipelines {
			pp := &pt.Pipelines[i]
			if pp.Server == sp.Server.InstanceID && pp.Name == sp.Pipeline {
				for _, j := range []string{sp.RootJob, sp.Job} {
					if !pt.extra["j"+pk+"\x00"+j] {
						pt.extra["j"+pk+"\x00"+j] = true
						pp.Jobs = append(pp.Jobs, j)
					}
				}
			}
		}
		line := acc.line
		decided := *sp
		decided.Server, _ = descs.Get(sp.Target, sp.Server.InstanceID)
		line.Decided = &decided
		line.Payloads = (line.Runs.Total() + im.opt.MaxRunsPerPayload - 1) / im.opt.MaxRunsPerPayload
		pt.Builds = append(pt.Builds, line)
		pt.Runs.Add(line.Runs)
		pt.Payloads += line.Payloads
		pt.Requests += 1 + 2*line.Payloads // PUT build; POST test-results and a task poll per payload
	}
	p := &Plan{}
	for _, t := range targets {
		pt := byTarget[t]
		sort.SliceStable(pt.Builds, func(i, j int) bool { return pt.Builds[i].Start.Before(pt.Builds[j].Start) })
		p.Targets = append(p.Targets, *pt)
	}
	return p
}
