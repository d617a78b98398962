package importer

import (
	"bytes"
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"slices"
	"sort"
	"strings"

	"github.com/octane-import/octane-import/importer/ledger"
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

	pendingSeal []*openPayload      // closed, not yet written
	spare       [][]byte            // the buffers of written payloads, for the next ones (a payload's buffer grows to megabytes)
	staged      []ledger.NewPayload // large reports' own payloads, staged on disk, not yet written
	stagedFiles []ledger.File       // the records of those reports
	records     []ledger.File       // records of files with nothing to send, not yet written
	released    []string            // files whose claims are to be given up
	waiting     map[string]bool     // unchanged files an earlier run left queued: reported after sending
	warns       map[string][]Warning
	flaky       map[string]int

	plan      *sendPlan                   // the sender's, when it runs meanwhile
	remaining map[string]int              // reports of each planned build not yet taken
	sealedFor map[string][]ledger.Payload // payloads sealed for each build, until handed over
	late      []ledger.Payload            // sealed for builds outside the plan
	sealedIDs []uint64                    // every payload sealed (and so claimed) by this scan
}

// releaseSealed gives up the claims of the payloads this scan sealed, once its sending is
// over: what it could not send is another instance's, or a later run's, to send.
func (b *batcher) releaseSealed() {
	if len(b.sealedIDs) == 0 {
		return
	}
	if err := b.im.opt.Ledger.ReleasePayloads(context.Background(), b.sealedIDs); err != nil {
		b.im.opt.Logger.Warn("ledger: releasing payload claims failed (they expire with the lease)", "err", err)
	}
	b.sealedIDs = nil
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

// release gives up the claim of a file that needs nothing written (unchanged, out of the
// window, stopped while read), in batches like record.
func (b *batcher) release(path string) error {
	if b.im.opt.DryRun {
		return nil // a dry run claims nothing
	}
	b.released = append(b.released, path)
	if len(b.released) >= 512 {
		return b.flushReleases()
	}
	return nil
}

func (b *batcher) flushReleases() error {
	if len(b.released) == 0 {
		return nil
	}
	err := b.im.opt.Ledger.ReleaseFiles(context.Background(), b.released)
	b.released = b.released[:0]
	if err != nil {
		return err
	}
	return nil
}

func (b *batcher) flushRecords() error {
	if len(b.records) == 0 {
		return nil
	}
	if err := b.im.opt.Ledger.PutFiles(b.records...); err != nil {
		return err
	}
	b.records = b.records[:0]
	return nil
}

type buildAcc struct {
	spec       *mapping.Build
	runs       ledger.Counts // all runs of the build, earlier scans included
	line       *BuildN
	touched    bool
	inLedger   bool
	handedOver bool // sealed and given to the sender: its record is the sender's now
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
		waiting: map[string]bool{}, warns: map[string][]Warning{}, flaky: map[string]int{},
		sealedFor: map[string][]ledger.Payload{}}
}

// build returns the accumulator of the build a decision sends to, with what earlier scans
// recorded of it.
func (b *batcher) build(d *mapping.Decision) (*buildAcc, error) {
	key := d.Key()
	if acc, ok := b.builds[key]; ok {
		return acc, nil
	}
	acc := &buildAcc{spec: &mapping.Build{}}
	if l := b.im.opt.Ledger; l != nil {
		prev, ok, err := l.Build(key)
		if err != nil {
			return nil, err
		}
		if ok {
			old, err := unmarshalBuild(prev)
			if err != nil {
				return nil, fmt.Errorf("ledger: build %s: %w", key, err)
			}
			acc.inLedger = true
			acc.runs = prev.Runs
			acc.spec.Merge(old)
		}
	}
	acc.line = &BuildN{ID: BuildID{Server: d.Server.InstanceID, Job: d.Job, Build: d.Build}, Target: d.Target}
	b.builds[key] = acc
	b.sum.ByBuild[key] = acc.line
	return acc, nil
}

// add takes one read report into its build and its build's open payload.
func (b *batcher) add(rr *readResult) error {
	d := rr.dec
	if !b.inWindow(d, rr) {
		rr.runs.discard()
		return nil
	}
	acc, err := b.build(d)
	if err != nil {
		return err
	}
	acc.spec.Add(d, rr.counts.Total(), rr.counts.Failed)
	acc.runs.Add(rr.counts)
	acc.touched = true
	acc.line.Files++
	acc.line.Runs.Add(rr.counts)
	acc.line.Pipeline = acc.spec.Pipeline
	acc.line.Start = acc.spec.Start
	acc.line.Result = wireBuild(acc.spec).Result

	rr.rec.Build = d.Key()
	rr.rec.Runs = rr.counts
	rr.rec.State = ledger.Parsed
	if b.im.opt.DryRun {
		rr.outcome = Planned
		return nil
	}
	if len(rr.runs.staged) > 0 {
		// A large report, cut into payloads of its own as it was read: they are sealed with
		// its record, in one transaction.
		b.staged = append(b.staged, rr.runs.staged...)
		b.stagedFiles = append(b.stagedFiles, rr.rec)
		rr.runs.staged = nil
		return b.flush()
	}
	frag, n := rr.runs.runs()
	rc := resultContext(d)
	pk := d.Key() + "\x00" + contextKey(rc)
	op := b.open[pk]
	if op != nil && (op.runs+n > b.im.opt.MaxRunsPerPayload || op.buf.Len()+len(frag) > b.im.opt.MaxPayloadBytes) {
		// The report's runs do not fit: the open payload is written without them.
		if err := b.seal(op); err != nil {
			return err
		}
		op = nil
	}
	if op == nil {
		op = &openPayload{key: pk, build: d.Key(), target: d.Target, attempt: rr.rec.Attempt}
		if n := len(b.spare); n > 0 {
			op.buf = *bytes.NewBuffer(b.spare[n-1])
			b.spare = b.spare[:n-1]
		}
		op.enc = octane.NewEncoder(&op.buf, rc)
		b.open[pk] = op
	}
	seen := len(op.enc.Warnings()) // the context's, said with the payload's first report
	if err := op.enc.WriteEncoded(frag, n); err != nil {
		return fmt.Errorf("%s: %w", rr.c.path, err)
	}
	for _, w := range op.enc.Warnings()[seen:] {
		if len(b.warns[rr.c.path]) < maxFileWarnings {
			b.warns[rr.c.path] = append(b.warns[rr.c.path], Warning{Code: "octane-limit", Message: w})
		}
	}
	op.runs += n
	op.names = append(op.names, rr.c.path)
	rr.runs = nil
	b.tick++
	op.lastUse = b.tick
	op.files = append(op.files, rr.rec)
	if op.runs >= b.im.opt.MaxRunsPerPayload || op.buf.Len() >= b.im.opt.MaxPayloadBytes {
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

// inWindow applies --since and --until to the report's build start.
func (b *batcher) inWindow(d *mapping.Decision, rr *readResult) bool {
	t := d.Start
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
		// earlier (failed) task.
		return octane.Remark(&op.buf, fmt.Sprintf("retry %d", op.attempt))
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
	return b.seal(oldest)
}

// seal writes an open payload now.
func (b *batcher) seal(op *openPayload) error {
	if err := b.retire(op); err != nil {
		return err
	}
	return b.flush()
}

// retire takes an open payload out of the open ones and closes it, for the next flush.
func (b *batcher) retire(op *openPayload) error {
	delete(b.open, op.key)
	if err := b.close(op); err != nil {
		return err
	}
	b.pendingSeal = append(b.pendingSeal, op)
	return nil
}

// flush writes the closed payloads, their files and builds in one ledger transaction.
func (b *batcher) flush() error {
	if len(b.pendingSeal) == 0 && len(b.staged) == 0 {
		return nil
	}
	nps := slices.Clone(b.staged)
	files := slices.Clone(b.stagedFiles)
	buildSet := map[string]bool{}
	var builds []ledger.Build
	addBuild := func(key string) { // each build once, as it stands now
		if !buildSet[key] {
			buildSet[key] = true
			builds = append(builds, b.ledgerBuild(b.builds[key]))
		}
	}
	for _, np := range b.staged {
		addBuild(np.Build)
	}
	for _, op := range b.pendingSeal {
		data, err := octane.Gzip(op.buf.Bytes())
		if err != nil {
			return err
		}
		nps = append(nps, ledger.NewPayload{Target: op.target, Build: op.build, Files: op.names, Runs: op.runs, Data: data})
		files = append(files, op.files...)
		addBuild(op.build)
	}
	ids, err := b.im.opt.Ledger.Seal(nps, files, builds)
	b.discardStaged() // sealed (the ledger took the files), or not: either way they are gone
	if errors.Is(err, ledger.ErrClaimed) {
		// This instance's claims expired while it read (it stalled, or lost the database
		// for longer than the lease) and another instance holds some of the files now:
		// that one imports them. Nothing of this transaction was written.
		var names []string
		for _, f := range files {
			names = append(names, f.Path)
		}
		w := fmt.Sprintf("%d report(s) were taken over by another octane-import instance while this one read them (this one's claims had expired); that instance imports them: %s",
			len(names), strings.Join(names, ", "))
		b.sum.Warnings = appendLimited(b.sum.Warnings, w)
		b.im.opt.Logger.Warn(w)
		b.recycle()
		return nil
	}
	if err != nil {
		return err
	}
	b.sealedIDs = append(b.sealedIDs, ids...)
	b.sum.Payloads += len(nps) // counted once written: a seal another instance refused wrote nothing
	for i, np := range nps {
		b.builds[np.Build].line.Payloads++
		b.sealedFor[np.Build] = append(b.sealedFor[np.Build], ledger.Payload{ID: ids[i], Target: np.Target,
			Build: np.Build, Files: np.Files, Runs: np.Runs, State: ledger.Pending})
	}
	b.recycle()
	return nil
}

// recycle keeps the buffers of the payloads just written (the ledger has their bytes) for
// the next payloads, and forgets the payloads.
func (b *batcher) recycle() {
	for _, op := range b.pendingSeal {
		if len(b.spare) < maxSpareBuffers {
			b.spare = append(b.spare, op.buf.Bytes()[:0])
		}
		op.buf = bytes.Buffer{}
	}
	b.pendingSeal = b.pendingSeal[:0]
}

// maxSpareBuffers bounds the payload buffers kept for reuse.
const maxSpareBuffers = 4

// taken counts a planned report as taken (whatever came of it): when it was its build's
// last, the build's open payloads are sealed and the build goes to the sender.
func (b *batcher) taken(key string) error {
	if b.plan == nil || key == "" {
		return nil
	}
	b.remaining[key]--
	if b.remaining[key] > 0 {
		return nil
	}
	delete(b.remaining, key)
	for _, op := range b.open {
		if op.build == key {
			if err := b.retire(op); err != nil {
				return err
			}
		}
	}
	if err := b.flush(); err != nil {
		return err
	}
	if err := b.flushRecords(); err != nil {
		return err
	}
	var line *BuildN
	if acc := b.builds[key]; acc != nil {
		line = acc.line
		acc.handedOver = true
	}
	b.plan.complete(key, b.sealedFor[key], line)
	delete(b.sealedFor, key)
	return nil
}

// discardStaged forgets the staged payloads not yet written, removing what is left of them.
func (b *batcher) discardStaged() {
	for _, np := range b.staged {
		_ = os.Remove(np.Staged) // gone already when the ledger took it
	}
	b.staged, b.stagedFiles = b.staged[:0], b.stagedFiles[:0]
}

func (b *batcher) ledgerBuild(acc *buildAcc) ledger.Build {
	return ledger.Build{Key: acc.spec.Key(), Target: acc.spec.Target, Start: acc.spec.Start,
		Spec: marshalBuild(acc.spec), State: ledger.BuildPending, Runs: acc.runs}
}

// finish seals every open payload (oldest first) and records every build this scan touched.
func (b *batcher) finish() error {
	ops := make([]*openPayload, 0, len(b.open))
	for _, op := range b.open {
		ops = append(ops, op)
	}
	sort.Slice(ops, func(i, j int) bool { return ops[i].lastUse < ops[j].lastUse })
	for _, op := range ops {
		if err := b.retire(op); err != nil {
			return err
		}
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
	if err := b.flushReleases(); err != nil {
		return err
	}
	var builds []ledger.Build
	for _, acc := range b.builds {
		if acc.touched && !acc.handedOver {
			builds = append(builds, b.ledgerBuild(acc))
		}
	}
	if err := b.im.opt.Ledger.PutBuilds(builds...); err != nil {
		return err
	}
	lines := map[string]*BuildN{}
	for key, acc := range b.builds {
		lines[key] = acc.line
	}
	for key, ps := range b.sealedFor {
		if !b.plan.has(key) {
			b.late = append(b.late, ps...) // outside the plan: for the sender's second pass
		}
	}
	b.plan.finish(b.sealedFor, lines)
	clear(b.sealedFor)
	return nil
}

// resultContext is the result-level part of a payload: the build it belongs to and the
// fields every run in it gets, all from the report's decision.
func resultContext(d *mapping.Decision) octane.ResultContext {
	return octane.ResultContext{
		Build:        &octane.BuildRef{ServerID: d.Server.InstanceID, JobID: d.Job, BuildID: d.Build},
		ReleaseID:    d.ReleaseID,
		ReleaseName:  d.Release,
		MilestoneID:  d.Milestone,
		BacklogItems: d.BacklogItems,
		ProductAreas: d.ProductAreas,
		TestFields:   sortedFields(d.TestFields),
		Environment:  sortedFields(d.Environment),
	}
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
func testRun(r *report.Run, d *mapping.Decision, naming report.Naming) octane.TestRun {
	tr := octane.TestRun{
		Module: r.Module, Package: r.Package, Class: r.Class, Name: r.Name,
		Status: string(r.Status), Duration: r.Duration, Started: r.Started,
	}
	if naming != report.NamingSplit && r.Classname != "" {
		// The identity another Octane client gave this test (docs/test-naming.md).
		tr.Package, tr.Class = naming.Split(r.Classname)
	}
	tr.ExternalReportURL = d.RunURL(tr.Package, tr.Class, tr.Name, r.Suite) // back to the CI
	switch {
	case tr.Started.IsZero():
		tr.Started = d.Start
	case tr.Started.Location() == zoneless:
		tr.Started = d.InZone(tr.Started)
	}
	if r.Failure != nil {
		tr.Error = &octane.RunError{Type: r.Failure.Type, Message: r.Failure.Message, Body: r.Failure.Body}
	}
	var desc []string
	if r.Flaky {
		desc = append(desc, "Flaky: passed on a rerun.")
	}
	for i, f := range r.EarlierFailures {
		desc = append(desc, fmt.Sprintf("Attempt %d %s: %s", i+1, cmp.Or(f.Kind, "failure"), firstLine(cmp.Or(f.Message, f.Type, f.Body))))
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
	tr.Description = strings.Join(desc, "\n")
	return tr
}

// firstLine is s up to its first line break.
func firstLine(s string) string {
	line, _, _ := strings.Cut(strings.TrimSpace(s), "\n")
	return line
}
