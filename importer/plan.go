package importer

import (
	"context"
	"os"
	"sort"
	"sync"

	"github.com/octane-import/octane-import/importer/ledger"
	"github.com/octane-import/octane-import/mapping"
	"github.com/octane-import/octane-import/report"
)

// A scan that sends overlaps reading with sending. It first looks at every report's head
// (look: the ledger, then the report up to its first test case, then the decision), which
// tells which build each report goes to. That fixes the order of the builds (oldest first,
// a root build before the builds it caused: orderBuilds) and the plan the sender starts
// with. The reports are then read build by build in that order, and each build is handed to
// the sender as soon as its last report is read and sealed (sendPlan.complete), while the
// next ones are read.

// lookResult is what the first look at a report found.
type lookResult struct {
	c       candidate
	settled *readResult       // the ledger settles it: nothing to read
	d       *mapping.Decision // the build its head decides; nil when the head could not be read or decided (the read says why)
	prev    *ledger.File      // its ledger record once claimed; nil when it has none (the read needs no lookup of its own)
	key     string            // d's build key, kept once the planner has it (d is dropped: a backfill holds many)
}

// look takes a report's ledger record (claimed: see claimFiles), then reads its head and
// decides its build.
func (im *Importer) look(cl claimed, ms *manifests, scanID uint64) lookResult {
	c := cl.c
	if cl.elsewhere {
		rr := readResult{c: c, outcome: Skipped, elsewhere: true}
		return lookResult{c: c, settled: &rr}
	}
	rr, done := im.settledBy(c, scanID, cl.prev, cl.known)
	if done {
		rr.unclaimed = cl.unclaimed
		return lookResult{c: c, settled: &rr}
	}
	lr := lookResult{c: c, prev: cl.record()} // without a decision when the head cannot be read or decided: the read says why
	f, err := os.Open(c.path)
	if err != nil {
		return lr
	}
	defer f.Close()
	head, err := report.NewDecoder(f, c.path, readOptions).Head()
	if err != nil {
		return lr
	}
	if d, _, err := im.decide(c, ms, mapping.ReportFacts{Properties: headProperties(head), Start: head.Timestamp, Zoneless: head.ZoneLess}); err == nil {
		lr.d = d
	}
	return lr
}

// claimed is a report this instance claimed (or found claimed by another, elsewhere), with
// its ledger record as it was once claimed.
type claimed struct {
	c         candidate
	prev      ledger.File
	known     bool
	elsewhere bool
	unclaimed bool // its record settles it (unchanged, failed before, queued): nothing will be written, so no claim
}

// record is the claimed report's ledger record, nil when it has none.
func (cl claimed) record() *ledger.File {
	if !cl.known {
		return nil
	}
	f := cl.prev
	return &f
}

// claimBatch is how many reports are claimed and looked up in the ledger at a time.
const claimBatch = 256

// claimFiles claims the reports found, in batches (one ledger round trip for the claims and
// one for the records of each batch), and passes them on with their records; a report
// another live instance holds is passed on as elsewhere. Without claim (a dry run) it only
// looks the records up. It stops at the first ledger error, which it returns.
func (im *Importer) claimFiles(ctx context.Context, found <-chan candidate, out chan<- claimed, claim bool) error {
	l := im.opt.Ledger
	batch := make([]candidate, 0, claimBatch)
	for c := range found {
		batch = append(batch[:0], c)
	fill:
		for len(batch) < claimBatch {
			select {
			case c, ok := <-found:
				if !ok {
					break fill
				}
				batch = append(batch, c)
			default:
				break fill
			}
		}
		// The records first: a report its record settles (a rescan's unchanged files) is
		// passed on without a claim, since nothing will be written for it; the others are
		// claimed, and their records read again once claimed (another instance may have
		// sealed one meanwhile). A rescan of a shared ledger is then reads only.
		paths := make([]string, len(batch))
		for i, c := range batch {
			paths[i] = c.path
		}
		var before map[string]ledger.File
		if l != nil {
			var err error
			if before, err = l.FilesAt(paths); err != nil {
				return err
			}
		}
		var toClaim []string
		send := func(cl claimed) error {
			select {
			case out <- cl:
				return nil
			case <-ctx.Done():
				return ctx.Err()
			}
		}
		rest := batch[:0:0]
		for _, c := range batch {
			if prev, ok := before[c.path]; !claim || (ok && settledByRecord(prev, c)) {
				if err := send(claimed{c: c, prev: prev, known: ok, unclaimed: true}); err != nil {
					return err
				}
				continue
			}
			rest = append(rest, c)
			toClaim = append(toClaim, c.path)
		}
		if len(rest) == 0 {
			continue
		}
		held, err := l.ClaimFiles(ctx, toClaim)
		if err != nil {
			return err
		}
		recs, err := l.FilesAt(held)
		if err != nil {
			return err
		}
		mine := make(map[string]bool, len(held))
		for _, p := range held {
			mine[p] = true
		}
		for _, c := range rest {
			prev, known := recs[c.path]
			if err := send(claimed{c: c, prev: prev, known: known, elsewhere: !mine[c.path]}); err != nil {
				return err
			}
		}
	}
	return nil
}

// claimAll runs claimFiles over found in a goroutine of its own: the reports come out of
// the channel, and the error is there once it is closed.
func (im *Importer) claimAll(ctx context.Context, found <-chan candidate, claim bool) (<-chan claimed, *error) {
	out := make(chan claimed, claimBatch)
	var err error
	go func() {
		defer close(out)
		err = im.claimFiles(ctx, found, out, claim)
		for range found { // stopped early: let the walker end
		}
	}()
	return out, &err
}

// settledByRecord reports whether a report's ledger record settles it as it is on disk
// (settledBy's rules): the same size and mtime, read and mapped before.
func settledByRecord(prev ledger.File, c candidate) bool {
	return prev.Same(c.size, c.modTime) && prev.State != ledger.Unmatched && prev.State != ledger.Seen
}

// sendPlan is what a scan reads, for the sender that runs meanwhile: every build with its
// routing as its reports' heads decided (enough to make servers and pipelines and to order
// the builds; times and results come with the reading), and a channel per build closed once
// it is read and sealed. A nil plan has no builds.
type sendPlan struct {
	specs map[string]*mapping.Build
	ready map[string]chan struct{}

	mu     sync.Mutex
	sealed map[string][]ledger.Payload // by build: the payloads sealed for it by this scan
	lines  map[string]*BuildN          // by build: its line in the summary
	closed bool
}

// planner groups the looked-at reports by build as they come (add), and then orders them
// for reading (finish): build by build, in the order the builds are to be sent. Each
// report's decision is folded into its build's description at once and dropped: a
// backfill looks at a hundred thousand reports, and a decision is a kilobyte or two.
type planner struct {
	im     *Importer
	p      *sendPlan
	count  map[string]int // reports per build
	looked []lookResult   // with key, without decision
	err    error
}

func (im *Importer) newPlanner() *planner {
	return &planner{im: im, count: map[string]int{}, p: &sendPlan{specs: map[string]*mapping.Build{},
		ready: map[string]chan struct{}{}, sealed: map[string][]ledger.Payload{}, lines: map[string]*BuildN{}}}
}

// add takes one looked-at report.
func (pl *planner) add(lr lookResult) {
	if lr.d != nil && pl.err == nil {
		key := lr.d.Key()
		sp := pl.p.specs[key]
		if sp == nil {
			sp = &mapping.Build{}
			if l := pl.im.opt.Ledger; l != nil {
				prev, ok, err := l.Build(key)
				if err != nil {
					pl.err = err
					return
				}
				if ok {
					if old, err := unmarshalBuild(prev); err == nil {
						sp.Merge(old)
					}
				}
			}
			pl.p.specs[key] = sp
			pl.p.ready[key] = make(chan struct{})
		}
		sp.Add(lr.d, 0, 0)
		pl.count[key]++
		lr.key, lr.d = key, nil
	}
	pl.looked = append(pl.looked, lr)
}

// finish orders the reports for reading, and returns the plan, the order and how many
// reports each build has.
func (pl *planner) finish() (*sendPlan, []lookResult, map[string]int, error) {
	if pl.err != nil {
		return nil, nil, nil, pl.err
	}
	p := pl.p
	builds := make([]ledger.Build, 0, len(p.specs))
	for key, sp := range p.specs {
		builds = append(builds, ledger.Build{Key: key, Start: sp.Start})
	}
	builds = orderBuilds(builds, p.specs)
	rank := make(map[string]int, len(builds))
	for i, b := range builds {
		rank[b.Key] = i + 1 // 0: no build (read first: they fail or are unmatched quickly)
	}
	order := pl.looked
	pl.looked = nil
	sort.SliceStable(order, func(i, j int) bool { return rank[order[i].key] < rank[order[j].key] }) // "": 0, first
	return p, order, pl.count, nil
}

// has reports whether the plan holds the build.
func (p *sendPlan) has(key string) bool {
	if p == nil {
		return false
	}
	_, ok := p.specs[key]
	return ok
}

// readyOf is the channel closed when the build is read; nil when the plan has no such build.
func (p *sendPlan) readyOf(key string) <-chan struct{} {
	if p == nil {
		return nil
	}
	return p.ready[key]
}

// complete hands a build over to the sender: read and sealed, with the payloads sealed for
// it and its summary line.
func (p *sendPlan) complete(key string, sealed []ledger.Payload, line *BuildN) {
	p.mu.Lock()
	defer p.mu.Unlock()
	ch, ok := p.ready[key]
	if !ok || p.closed {
		return
	}
	select {
	case <-ch:
		return // complete already
	default:
	}
	p.sealed[key] = append(p.sealed[key], sealed...)
	if line != nil {
		p.lines[key] = line
	}
	close(ch)
}

// taken returns what complete gave for a build, once.
func (p *sendPlan) taken(key string) ([]ledger.Payload, *BuildN) {
	p.mu.Lock()
	defer p.mu.Unlock()
	sealed, line := p.sealed[key], p.lines[key]
	delete(p.sealed, key)
	return sealed, line
}

// finish hands over every build not yet complete, with what was sealed for it: the reading
// is over (or stopped), and whatever the ledger holds of them is theirs to send.
func (p *sendPlan) finish(sealed map[string][]ledger.Payload, lines map[string]*BuildN) {
	if p == nil {
		return
	}
	for key := range p.ready {
		p.complete(key, sealed[key], lines[key])
	}
	p.mu.Lock()
	p.closed = true
	p.mu.Unlock()
}
