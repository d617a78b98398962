package importer

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"slices"
	"sort"

	"github.com/octane-import/octane-import/importer/ledger"
	"github.com/octane-import/octane-import/manifest"
	"github.com/octane-import/octane-import/mapping"
	"github.com/octane-import/octane-import/octane"
	"github.com/octane-import/octane-import/report"
)

// batcher groups the runs of read reports into test-results payloads, one build (and one set
// of result-level fields) per payload, cut by run count and size. It runs in one goroutine.
//
// A payload is written to the ledger together with the records of every file whose runs it
// completes, in one transaction: a file is never half recorded. Runs of files still sitting
// in an open payload exist only in memory; if the process dies, those files are read again.
type batcher struct {
	im     *Importer
	scanID uint64
	sum    *Summary
	builds map[string]*buildAcc
	open   map[string]*openPayload
	tick   int

	pendingSeal []*openPayload  // closed, not yet written
	records     []ledger.File   // records of files with nothing to send, not yet written
	waiting     map[string]bool // unchanged files an earlier run left queued: reported after sending
}

// record keeps the record of a file that needs nothing sent (failed, unmatched, empty,
// touched), writing them in batches: one transaction per file would make a rescan of a tree
// whose mtimes all changed cost a disk sync per file. Losing the last batch in a crash only
// means those files are looked at again.
func (b *batcher) record(f ledger.File) error {
	b.records = append(b.records, f)
	if len(b.records) >= 512 {
		return b.flushRecords()
	}
	return nil
}

func (b *batcher) flushRecords() error {
	if len(b.records) == 0 {
		return nil
	}
	if err := b.im.opt.Ledger.PutFiles(b.records...); err != nil {
		return fmt.Errorf("ledger: %w", err)
	}
	b.records = b.records[:0]
	return nil
}

type buildAcc struct {
	spec     buildSpec
	runs     ledger.Counts // all runs of the build, earlier scans included
	line     *BuildN
	touched  bool
	inLedger bool
}

type openPayload struct {
	key, build, target string
	attempt            int
	buf                bytes.Buffer
	enc                *octane.Encoder
	runs               int
	files              []ledger.File // files whose last run is in this payload
	names              []string      // every file with a run in this payload
	lastUse            int
}

func newBatcher(im *Importer, scanID uint64, sum *Summary) *batcher {
	return &batcher{im: im, scanID: scanID, sum: sum, builds: map[string]*buildAcc{}, open: map[string]*openPayload{},
		waiting: map[string]bool{}}
}

// build returns the accumulator of a build, loading what earlier scans recorded.
func (b *batcher) build(spec buildSpec) (*buildAcc, error) {
	key := spec.key()
	if acc, ok := b.builds[key]; ok {
		return acc, nil
	}
	acc := &buildAcc{spec: spec}
	if l := b.im.opt.Ledger; l != nil {
		prev, ok, err := l.Build(key)
		if err != nil {
			return nil, err
		}
		if ok {
			old, err := unmarshalSpec(prev)
			if err != nil {
				return nil, fmt.Errorf("ledger: build %s: %w", key, err)
			}
			acc.inLedger = true
			acc.runs = prev.Runs
			if !spec.FromManifest && old.FromManifest {
				acc.spec = old // a manifest seen earlier still describes this build
			}
			acc.spec.merge(old.Start, old.End)
		}
	}
	id := acc.spec.id()
	acc.line = &BuildN{ID: id, Target: spec.Target, Pipeline: acc.spec.Pipeline}
	b.builds[key] = acc
	b.sum.ByBuild[key] = acc.line
	return acc, nil
}

// add takes one read report. It returns the file results that are final now (dry runs and
// files with nothing to send); the others are reported after sending.
func (b *batcher) add(rr *readResult) error {
	spec := specFor(rr.dec, rr.man)
	if !b.inWindow(spec, rr) {
		return nil
	}
	acc, err := b.build(spec)
	if err != nil {
		return err
	}
	if spec.FromManifest && !acc.spec.FromManifest {
		start, end := acc.spec.Start, acc.spec.End
		acc.spec = spec // the manifest arrived after reports that went without it
		acc.spec.merge(start, end)
	}
	acc.spec.merge(rr.start, rr.end)
	acc.runs.Add(rr.counts)
	acc.touched = true
	acc.line.Files++
	acc.line.Runs.Add(rr.counts)
	acc.line.Start = acc.spec.Start
	acc.line.Result = acc.spec.octaneBuild(acc.runs).Result

	rr.rec.Build = acc.spec.key()
	rr.rec.Runs = rr.counts
	rr.rec.State = ledger.Parsed
	if b.im.opt.DryRun {
		rr.outcome = Planned
		return nil
	}
	rc := resultContext(rr.dec, rr.man, spec)
	ctxKey := contextKey(rc)
	pk := acc.spec.key() + "\x00" + ctxKey
	op := b.open[pk]
	split := false
	for i := range rr.rep.Runs {
		if op != nil && (op.runs >= b.im.opt.MaxRunsPerPayload || op.buf.Len() >= b.im.opt.MaxPayloadBytes) {
			// Full: close it and keep it with this file; all are written when the file ends.
			if err := b.close(op); err != nil {
				return err
			}
			b.pendingSeal = append(b.pendingSeal, op)
			op, split = nil, true
		}
		if op == nil {
			op = &openPayload{key: pk, build: acc.spec.key(), target: spec.Target, attempt: rr.rec.Attempt}
			op.enc = octane.NewEncoder(&op.buf, rc)
			b.open[pk] = op
		}
		if err := op.enc.Encode(testRun(&rr.rep.Runs[i], rr.dec)); err != nil {
			return fmt.Errorf("%s: %w", rr.c.path, err)
		}
		op.runs++
		if len(op.names) == 0 || op.names[len(op.names)-1] != rr.c.path {
			op.names = append(op.names, rr.c.path)
		}
	}
	b.tick++
	op.lastUse = b.tick
	op.files = append(op.files, rr.rec)
	for _, w := range op.enc.Warnings() {
		b.sum.Warnings = appendLimited(b.sum.Warnings, rr.c.path+": "+w)
	}
	if split {
		// The file spans several payloads: write them all, this one too, so that the file's
		// record goes with every payload holding its runs.
		delete(b.open, pk)
		if err := b.close(op); err != nil {
			return err
		}
		b.pendingSeal = append(b.pendingSeal, op)
		return b.flush()
	}
	if op.runs >= b.im.opt.MaxRunsPerPayload || op.buf.Len() >= b.im.opt.MaxPayloadBytes {
		delete(b.open, pk)
		return b.seal(op)
	}
	// Memory stays bounded however the builds interleave on disk: too many open payloads, or
	// too many bytes in them, and the least recently used is written out.
	for len(b.open) > b.im.opt.MaxOpenBuilds || (len(b.open) > 1 && b.openBytes() > b.im.opt.MaxOpenBytes) {
		if err := b.sealOldest(); err != nil {
			return err
		}
	}
	return nil
}

func (b *batcher) openBytes() int {
	n := 0
	for _, op := range b.open {
		n += op.buf.Cap()
	}
	return n
}

func appendLimited(list []string, s string) []string {
	const max = 100
	if len(list) < max {
		return append(list, s)
	}
	if len(list) == max {
		return append(list, "(more warnings left out)")
	}
	return list
}

// inWindow applies --since and --until to the build's start.
func (b *batcher) inWindow(spec buildSpec, rr *readResult) bool {
	t := spec.Start
	if t.IsZero() {
		t = rr.start
	}
	if (!b.im.opt.Since.IsZero() && t.Before(b.im.opt.Since)) || (!b.im.opt.Until.IsZero() && !t.Before(b.im.opt.Until)) {
		rr.outcome = Skipped
		return false
	}
	return true
}

func (b *batcher) close(op *openPayload) error {
	if err := op.enc.Close(); err != nil {
		return err
	}
	if op.attempt > 0 {
		// An explicit retry must reach Octane as new bytes, or Octane would answer with the
		// earlier (failed) task. The comment is deterministic, so a resend is still identical.
		fmt.Fprintf(&op.buf, "\n<!-- octane-import retry %d -->\n", op.attempt)
	}
	return nil
}

func (b *batcher) sealOldest() error {
	var oldest *openPayload
	for _, op := range b.open {
		if oldest == nil || op.lastUse < oldest.lastUse {
			oldest = op
		}
	}
	delete(b.open, oldest.key)
	return b.seal(oldest)
}

func (b *batcher) seal(op *openPayload) error {
	if err := b.close(op); err != nil {
		return err
	}
	b.pendingSeal = append(b.pendingSeal, op)
	return b.flush()
}

// flush writes the closed payloads, their files and builds in one ledger transaction.
func (b *batcher) flush() error {
	if len(b.pendingSeal) == 0 {
		return nil
	}
	var nps []ledger.NewPayload
	var files []ledger.File
	buildSet := map[string]bool{}
	var builds []ledger.Build
	for _, op := range b.pendingSeal {
		data, err := octane.Gzip(op.buf.Bytes())
		if err != nil {
			return err
		}
		nps = append(nps, ledger.NewPayload{Target: op.target, Build: op.build, Files: op.names, Runs: op.runs, Data: data})
		files = append(files, op.files...)
		if !buildSet[op.build] {
			buildSet[op.build] = true
			builds = append(builds, b.ledgerBuild(b.builds[op.build]))
		}
		b.builds[op.build].line.Payloads++
		b.sum.Payloads++
	}
	if _, err := b.im.opt.Ledger.Seal(nps, files, builds); err != nil {
		return fmt.Errorf("ledger: %w", err)
	}
	b.pendingSeal = b.pendingSeal[:0]
	return nil
}

func (b *batcher) ledgerBuild(acc *buildAcc) ledger.Build {
	return ledger.Build{Key: acc.spec.key(), Target: acc.spec.Target, Start: acc.spec.Start,
		Spec: acc.spec.marshal(), State: ledger.BuildPending, Runs: acc.runs}
}

// finish seals every open payload (oldest first) and records every build this scan touched.
func (b *batcher) finish() error {
	ops := make([]*openPayload, 0, len(b.open))
	for _, op := range b.open {
		ops = append(ops, op)
	}
	sort.Slice(ops, func(i, j int) bool { return ops[i].lastUse < ops[j].lastUse })
	for _, op := range ops {
		delete(b.open, op.key)
		if err := b.close(op); err != nil {
			return err
		}
		b.pendingSeal = append(b.pendingSeal, op)
	}
	if err := b.flush(); err != nil {
		return err
	}
	if b.im.opt.DryRun {
		return nil
	}
	if err := b.flushRecords(); err != nil {
		return err
	}
	var builds []ledger.Build
	for _, acc := range b.builds {
		if acc.touched {
			builds = append(builds, b.ledgerBuild(acc))
		}
	}
	return b.im.opt.Ledger.PutBuilds(builds...)
}

// resultContext is the result-level part of a payload: the build it belongs to and the
// fields every run in it gets.
func resultContext(d *mapping.Decision, m *manifest.Manifest, spec buildSpec) octane.ResultContext {
	rc := octane.ResultContext{
		Build:       &octane.BuildRef{ServerID: spec.Server.InstanceID, JobID: spec.Job, BuildID: spec.Build},
		ReleaseID:   d.ReleaseID,
		ReleaseName: d.Release,
		MilestoneID: d.Milestone,
	}
	rc.BacklogItems = union(d.BacklogItems, nil)
	rc.ProductAreas = union(d.ProductAreas, nil)
	if m != nil {
		rc.BacklogItems = union(rc.BacklogItems, m.BacklogItems)
		rc.ProductAreas = union(rc.ProductAreas, m.ProductAreas)
	}
	rc.TestFields = sortedFields(d.TestFields)
	rc.Environment = sortedFields(d.Environment)
	return rc
}

// union is a followed by the ids of b it lacks, in order.
func union(a, b []int64) []int64 {
	if len(a)+len(b) == 0 {
		return nil
	}
	out := append([]int64(nil), a...)
	for _, id := range b {
		if !slices.Contains(out, id) {
			out = append(out, id)
		}
	}
	return out
}

func sortedFields(m map[string]string) []octane.Field {
	if len(m) == 0 {
		return nil
	}
	out := make([]octane.Field, 0, len(m))
	for k, v := range m {
		out = append(out, octane.Field{Type: k, Value: v})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Type < out[j].Type })
	return out
}

func contextKey(rc octane.ResultContext) string {
	data, _ := json.Marshal(rc)
	sum := sha256.Sum256(data)
	return hex.EncodeToString(sum[:8])
}

// testRun converts a report's run to Octane's. A run with no start time of its own gets its
// build's (never "now": payloads must come out the same every time they are made).
func testRun(r *report.Run, d *mapping.Decision) octane.TestRun {
	tr := octane.TestRun{
		Module: r.Module, Package: r.Package, Class: r.Class, Name: r.Name,
		Status: string(r.Status), Duration: r.Duration, Started: r.Started,
	}
	if tr.Started.IsZero() {
		tr.Started = d.Start
	}
	if r.Failure != nil {
		tr.Error = &octane.RunError{Type: r.Failure.Type, Message: r.Failure.Message, Body: r.Failure.Body}
	}
	var desc []string
	if r.Flaky {
		desc = append(desc, "Flaky: passed on a rerun.")
	}
	if r.SkipMessage != "" {
		desc = append(desc, "Skipped: "+r.SkipMessage)
	}
	for _, a := range r.Attachments {
		desc = append(desc, "Attachment: "+a)
	}
	if r.SuiteLevel {
		desc = append(desc, "Suite-level failure (setup or teardown) reported by the test tool.")
	}
	if len(desc) > 0 {
		var buf bytes.Buffer
		for i, s := range desc {
			if i > 0 {
				buf.WriteByte('\n')
			}
			buf.WriteString(s)
		}
		tr.Description = buf.String()
	}
	return tr
}
