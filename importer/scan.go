package importer

import (
	"cmp"
	"context"
	"errors"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
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
	b := newBatcher(im, scanID, sum)
	defer b.releaseSealed()
	// A file's warnings (what was adjusted in it) and flaky runs (that passed on a rerun) wait
	// in the batcher until the file is reported.
	emit := func(r FileResult) {
		if w := b.warns[r.Path]; len(w) > 0 {
			r.Warnings = w
			delete(b.warns, r.Path)
			sum.Adjusted++
		}
		if n := b.flaky[r.Path]; n > 0 {
			r.Flaky = n
			delete(b.flaky, r.Path)
			if r.Outcome == Imported || r.Outcome == Planned {
				sum.Flaky += n
			}
		}
		sum.count(r)
		im.opt.Reporter.File(r)
	}

	// Is every target still the Octane the ledger imported to?
	if err := im.checkTargets(ctx, sum); err != nil {
		return sum, err
	}

	// Pass 1: the build manifests; pass 2 below reads the reports.
	ms, total, err := im.loadManifests(ctx, roots, func(c candidate, err error) { im.recordFailure(emit, c, scanID, err) })
	if err != nil {
		return sum, err
	}
	progress := Progress{Phase: "reading", FilesTotal: total}
	im.opt.Reporter.Progress(progress)

	// Pass 2: the reports. A dry run reads them as they are found. A scan that sends first
	// looks at each one's head (in parallel), which fixes its build and the order of the
	// builds; then it reads them build by build in that order (in parallel, batched in this
	// goroutine) while the sender reports each build as soon as it is read (plan.go).
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	walkErrs := make(chan FileResult, 16)
	var walkErr error
	found := make(chan candidate, 64)
	go func() {
		defer close(found)
		// Overlapping paths or sources: each file is read once. Only then are the paths kept
		// (a hundred thousand of them are a tenth of a rescan's memory).
		var seen map[string]bool
		if len(roots) > 64 || rootsOverlap(roots) { // (a watch batch names each file: pairs are not compared)
			seen = map[string]bool{}
		}
		for _, r := range roots {
			err := r.walk(ctx, func(kind string, c candidate) error {
				if kind != "report" || seen[c.path] {
					return nil
				}
				if seen != nil {
					seen[c.path] = true
				}
				select {
				case found <- c:
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

	var sendTotal, sendDone atomic.Int64 // the sender's progress, shown with the next tick
	var batchErr error
	take := func(rr *readResult) {
		progress.FilesDone++
		if batchErr != nil {
			rr.runs.discard()
			return // drain
		}
		if err := im.take(b, rr, emit); err != nil {
			batchErr = err
		}
		progress.Runs += rr.counts.Total()
	}
	// pump runs fn over the items of in on Readers goroutines, passing each result to
	// handle in this goroutine, with progress and the walker's errors in between.
	pump := func(n int, work func(), out <-chan any, handle func(any)) {
		var wg sync.WaitGroup
		for range n {
			wg.Go(work)
		}
		done := make(chan struct{})
		go func() { wg.Wait(); close(done) }()
		for {
			select {
			case wr := <-walkErrs:
				emit(wr)
			case <-tick.C:
				progress.Elapsed = time.Since(started)
				progress.PayloadsTotal, progress.PayloadsDone = int(sendTotal.Load()), int(sendDone.Load())
				im.opt.Reporter.Progress(progress)
			case v := <-out:
				handle(v)
			case <-done:
				for {
					select {
					case v := <-out:
						handle(v)
					default:
						return
					}
				}
			}
		}
	}

	var plan *sendPlan
	var order []lookResult
	if !im.opt.DryRun {
		// The first look: the claim and the ledger record (in batches), then the head.
		claims, claimErr := im.claimAll(ctx, found, true)
		// Progress counts the reports looked at (their heads read) in this phase, then, in
		// the reading, those done: the ones the ledger settled here, and those read.
		looks := make(chan any, im.opt.Readers)
		planner := im.newPlanner()
		progress.Phase = "looking"
		im.opt.Reporter.Progress(progress)
		settled := 0
		pump(im.opt.Readers, func() {
			for cl := range claims {
				looks <- im.look(cl, ms, scanID)
			}
		}, looks, func(v any) {
			lr := v.(lookResult)
			if lr.settled != nil {
				take(lr.settled)
				settled++
				return
			}
			progress.FilesDone++
			planner.add(lr)
		})
		progress.Elapsed = time.Since(started)
		im.opt.Reporter.Progress(progress) // every report looked at
		progress.Phase, progress.FilesDone = "reading", settled
		im.opt.Reporter.Progress(progress)
		if err := *claimErr; err != nil {
			return sum, err
		}
		var remaining map[string]int
		plan, order, remaining, err = planner.finish()
		if err != nil {
			return sum, err
		}
		b.plan, b.remaining = plan, remaining
	}

	// The sender runs meanwhile, with its own summary fields (merged at the end).
	var snd *sender
	sendCtx, stopSending := context.WithCancel(ctx)
	defer stopSending()
	sent := make(chan error, 1)
	if !im.opt.DryRun && len(order) > 0 {
		snd = newSender(im, sum)
		snd.progress = func(total, done int) { sendTotal.Store(int64(total)); sendDone.Store(int64(done)) }
		if err := snd.prepare(plan); err != nil {
			return sum, err
		}
		go func() { sent <- snd.send(sendCtx) }()
	}

	// The reading.
	results := make(chan any, im.opt.Readers)
	if im.opt.DryRun {
		// The ledger records in batches (a dry run claims nothing), then the reading.
		records, lookupErr := im.claimAll(ctx, found, false)
		pump(im.opt.Readers, func() {
			for cl := range records {
				results <- im.readKnown(ctx, cl.c, ms, scanID, false, &record{cl.prev, cl.known})
			}
		}, results, func(v any) { rr := v.(readResult); take(&rr) })
		if err := *lookupErr; err != nil && ctx.Err() == nil {
			return sum, err
		}
	} else {
		items := make(chan lookResult)
		go func() {
			defer close(items)
			for _, lr := range order {
				select {
				case items <- lr:
				case <-ctx.Done():
					return
				}
			}
		}()
		type planned struct {
			rr  readResult
			key string
		}
		pump(im.opt.Readers, func() {
			for lr := range items {
				results <- planned{rr: im.readKnown(ctx, lr.c, ms, scanID, true, recordOf(lr.prev)), key: lr.key}
			}
		}, results, func(v any) {
			p := v.(planned)
			take(&p.rr)
			if batchErr == nil {
				if err := b.taken(p.key); err != nil {
					batchErr = err
				}
			}
		})
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
	var sendErr error
	if snd != nil {
		if batchErr != nil {
			stopSending()
		}
		plan.finish(nil, nil) // whatever happened to the reading, the sender is not kept waiting
		sendErr = <-sent
		snd.merge(sum)
	}
	if batchErr != nil {
		return sum, batchErr
	}
	sum.Builds += len(b.builds)
	if im.opt.DryRun {
		sum.Plan = im.plan(b, sum)
		return sum, ctx.Err()
	}
	if err := ctx.Err(); err != nil {
		sum.Interrupt = true
		if snd != nil {
			im.reportSent(emit, sum, scanID, snd.handled, b.waiting, snd.claimedIDs())
		} else {
			im.reportSent(emit, sum, scanID, nil, b.waiting, nil)
		}
		im.countQueued(sum)
		return sum, err
	}

	// Then what is left in the ledger: anything an earlier run left queued (when this scan
	// read nothing), builds this scan's reading found outside its plan (a report that
	// changed between its two looks), payloads the first sending could not send.
	progress.Phase = "sending"
	if snd == nil {
		snd = newSender(im, sum)
	}
	snd.progress = func(total, done int) {
		progress.PayloadsTotal, progress.PayloadsDone, progress.Elapsed = total, done, time.Since(started)
		im.opt.Reporter.Progress(progress)
	}
	if sendErr == nil {
		snd.extra = b.late
		sendErr = snd.run(ctx, nil)
		snd.merge(sum)
	}
	switch {
	case errors.Is(sendErr, context.Canceled):
		sum.Interrupt = true // said as such, not as an error
	case sendErr != nil:
		sum.addError(sendErr)
	}
	im.reportSent(emit, sum, scanID, snd.handled, b.waiting, snd.claimedIDs())
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

// heldElsewhere is why a file of a shared ledger is skipped: another live instance holds it.
const heldElsewhere = "another octane-import instance is importing it"

// take routes one read report: final outcomes are reported at once, the rest batched.
func (im *Importer) take(b *batcher, rr *readResult, emit func(FileResult)) error {
	if len(rr.warnings) > 0 {
		b.warns[rr.c.path] = rr.warnings
	}
	if rr.flaky > 0 {
		b.flaky[rr.c.path] = rr.flaky
	}
	if rr.elsewhere {
		r := FileResult{Path: rr.c.path, Outcome: Skipped,
			Error: &ErrorInfo{Message: heldElsewhere + " (it holds the file's claim in the shared ledger)"}, held: true}
		emit(r)
		return nil
	}
	release := b.release
	if rr.unclaimed {
		release = func(string) error { return nil } // settled by its record: never claimed
	}
	if rr.err != nil && (errors.Is(rr.err, context.Canceled) || errors.Is(rr.err, context.DeadlineExceeded)) {
		return release(rr.c.path) // stopped while reading it: nothing about the file itself, so nothing recorded
	}
	switch rr.outcome {
	case Unchanged:
		if st := rr.rec.State; !im.opt.DryRun && (st == ledger.Parsed || st == ledger.Sent) {
			// Queued by an earlier run: reported once the send phase settles it.
			b.waiting[rr.rec.Path] = true
			return release(rr.rec.Path)
		}
		// Touched but not changed (same hash): remember the new size and mtime.
		if !im.opt.DryRun && (rr.rec.Size != rr.c.size || rr.rec.ModTime != rr.c.modTime.UnixNano()) {
			rr.rec.Size, rr.rec.ModTime = rr.c.size, rr.c.modTime.UnixNano()
			if err := b.record(rr.rec); err != nil {
				return err
			}
		} else if err := release(rr.rec.Path); err != nil {
			return err
		}
		emit(im.resultOf(rr.rec, Unchanged))
		return nil
	case Failed, Unmatched, Empty:
		if rr.prevFail != "" {
			if err := release(rr.rec.Path); err != nil {
				return err
			}
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
		if rr.outcome == Skipped {
			if err := release(rr.rec.Path); err != nil {
				return err
			}
		}
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

// reportSent reports the files whose payloads this run wrote or sent (handled), from the
// ledger, and the files an earlier run left queued (waiting): those whose payloads this
// run's sender claimed are reported as the ledger has them now; the others another
// instance of a shared ledger holds, or has settled: a file it is sending is skipped (held
// elsewhere), one it imported is unchanged for this run, one that failed is failed.
func (im *Importer) reportSent(emit func(FileResult), sum *Summary, scanID uint64, handled, waiting map[string]bool, claimed map[uint64]bool) {
	if sum.Payloads == 0 && len(handled) == 0 && len(waiting) == 0 {
		return // nothing was written or sent: no file to report from the ledger
	}
	var out []FileResult
	err := im.opt.Ledger.Files(func(f ledger.File) bool {
		if len(f.Payloads) == 0 || !(f.Scan == scanID || handled[f.Path] || waiting[f.Path]) {
			return true
		}
		ours := f.Scan == scanID || handled[f.Path] || claimed == nil
		for _, id := range f.Payloads {
			ours = ours || claimed[id]
		}
		var o Outcome
		switch {
		case f.State == ledger.Accepted && ours:
			o = Imported
		case f.State == ledger.Accepted:
			o = Unchanged
		case f.State == ledger.Failed:
			o = Failed
		case ours:
			o = Queued
		default:
			r := im.resultOf(f, Skipped)
			r.Error = &ErrorInfo{Message: heldElsewhere + " (it holds the claims of the file's payloads in the shared ledger)"}
			out = append(out, r)
			return true
		}
		out = append(out, im.resultOf(f, o))
		return true
	})
	if err != nil {
		sum.addError(err)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Path < out[j].Path })
	for _, r := range out {
		emit(r)
	}
	// Bring the build lines the sender did not settle up to date with what the ledger now
	// says (one lookup each: the others need none).
	for key, line := range sum.ByBuild {
		if line.State != "" {
			continue
		}
		if bd, ok, _ := im.opt.Ledger.Build(key); ok {
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
