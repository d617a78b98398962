package importer

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"math"
	"sort"
	"strings"
	"sync"

	"github.com/octane-import/octane-import/importer/ledger"
	"github.com/octane-import/octane-import/mapping"
	"github.com/octane-import/octane-import/octane"
)

// errUnavailable wraps a temporary failure that outlasted the client's retries: Octane is
// down or unreachable. Work stays queued in the ledger for the next run.
type errUnavailable struct{ err error }

func (e errUnavailable) Error() string {
	return "Octane is unreachable; the rest stays queued in the ledger for the next run: " + e.err.Error()
}
func (e errUnavailable) Unwrap() error { return e.err }

// sender submits what the ledger holds. Builds are reported oldest first, each after the
// builds its causes name and after the previous build of its job (jobs in parallel); as soon
// as a build is reported its payloads go to the posters, and Octane's tasks are waited for by
// other workers, so that a slow task never holds the rest back. Servers and pipelines are
// made once, on first need.
type sender struct {
	im       *Importer
	sum      *Summary
	mu       sync.Mutex
	handled  map[string]bool   // files whose payloads this run sent or resolved
	failed   map[string]string // build key → why Octane refused it
	requests int
	sent     int                   // payloads sent this run
	progress func(total, done int) // called under mu
	total    int
	done     int

	ensure  sync.Mutex                 // one server or pipeline made at a time
	descs   *mapping.Servers           // one description per server, the fullest
	servers map[string]octane.CIServer // target\x00instance id → entity
	pipes   map[string]bool            // target\x00server\x00pipeline → ensured
	// ownPipeline holds the jobs (pipeline key\x00job) Octane would not add to their
	// pipeline: their builds go under a pipeline of their own.
	ownPipeline map[string]bool
	payloads    map[string][]ledger.Payload // under mu
	plan        *sendPlan                   // the builds the scan is reading meanwhile; nil: none
	lines       map[string]*BuildN          // the summary's line of each build, under mu
	warnings    []string                    // for the summary, under mu
	extraBuilds int                         // builds an earlier run left queued, sent by this one

	extra   []ledger.Payload          // sealed by this instance outside the plan: sent by the next prepare
	held    []uint64                  // the payloads this sender holds claims on, under mu
	claimed map[uint64]bool           // every payload it held a claim on, under mu
	order   []ledger.Build            // what prepare found, in order
	specs   map[string]*mapping.Build // by build key
	jobs    map[string][]octane.Job   // by pipeline
}

func newSender(im *Importer, sum *Summary) *sender {
	return &sender{im: im, sum: sum, handled: map[string]bool{}, servers: map[string]octane.CIServer{},
		pipes: map[string]bool{}, failed: map[string]string{}, ownPipeline: map[string]bool{}, lines: map[string]*BuildN{}}
}

// run sends everything pending in the ledger, and the builds of plan (nil: none) as the
// scan that made it reads them: each when it is read (sendPlan.ready) and the builds
// before it are reported. It may run while the scan reads: it writes nothing of the
// summary but its own fields (merge brings the rest in afterwards).
func (s *sender) run(ctx context.Context, plan *sendPlan) error {
	if err := s.prepare(plan); err != nil {
		return err
	}
	return s.send(ctx)
}

// prepare reads what the ledger holds to be sent, and the plan. It must come before the
// scan seals anything of the plan's builds: the payloads sealed afterwards come through the
// plan (sendPlan.complete), never twice.
func (s *sender) prepare(plan *sendPlan) error {
	l := s.im.opt.Ledger
	s.plan = plan
	builds, err := l.Builds(ledger.BuildPending)
	if err != nil {
		return err
	}
	specs := make(map[string]*mapping.Build, len(builds))
	for _, b := range builds {
		sp, err := unmarshalBuild(b)
		if err != nil {
			return fmt.Errorf("ledger: build %s: %w", b.Key, err)
		}
		specs[b.Key] = sp
	}
	if plan != nil {
		for key, sp := range plan.specs {
			if _, ok := specs[key]; !ok {
				specs[key] = sp
				builds = append(builds, ledger.Build{Key: key, Target: sp.Target, Start: sp.Start, State: ledger.BuildPending})
			}
		}
	}
	builds = orderBuilds(builds, specs)
	jobs := pipelineJobs(specs)
	s.mu.Lock()
	for _, b := range builds {
		// (With a plan, the scan is writing the summary meanwhile: the plan says what it reads.)
		leftover := !plan.has(b.Key)
		if plan == nil {
			_, touched := s.sum.ByBuild[b.Key]
			leftover = !touched
		}
		if leftover {
			// Left queued by an earlier run: this run sends it, so its summary says so.
			sp := specs[b.Key]
			s.lines[b.Key] = &BuildN{ID: idOf(sp), Target: sp.Target, Pipeline: sp.Pipeline, Start: sp.Start,
				Result: wireBuild(sp).Result, Runs: b.Runs}
			s.extraBuilds++
		}
	}
	s.mu.Unlock()
	s.descs = serversOf(specs)
	for _, w := range s.descs.Warnings {
		s.warn(w)
	}
	// What is queued and no live instance holds (another may be sending the rest), and
	// what this instance sealed outside the plan (it holds those already).
	queued, err := l.ClaimPayloads(context.Background(), math.MaxInt32, ledger.Pending, ledger.PayloadSent)
	if err != nil {
		return err
	}
	queued = append(queued, s.extra...)
	s.extra = nil
	for _, p := range queued {
		s.held = append(s.held, p.ID)
	}
	s.mu.Lock()
	s.payloads = map[string][]ledger.Payload{}
	for _, p := range queued {
		s.payloads[p.Build] = append(s.payloads[p.Build], p)
	}
	s.total = len(builds) + len(queued)
	s.report()
	s.mu.Unlock()
	s.order, s.specs, s.jobs = builds, specs, jobs
	return nil
}

// send sends what prepare found, and the plan's builds as they are read. At the end it gives
// up its claims of the payloads it did not settle, for another instance or a later run.
func (s *sender) send(ctx context.Context) error {
	defer s.releaseHeld()
	builds, specs, jobs := s.order, s.specs, s.jobs
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var firstErr error
	var errOnce sync.Once
	fail := func(err error) { errOnce.Do(func() { firstErr = err; cancel() }) }
	waits := make(chan waitItem, 64)
	var waiters sync.WaitGroup
	// Waiting is mostly sleeping between polls (the client bounds the requests in flight):
	// more waiters than senders, or the last payloads' tasks are waited for one after another.
	for range max(4*s.im.opt.Senders, 16) {
		waiters.Go(func() {
			for w := range waits {
				if err := s.wait(ctx, w); err != nil {
					fail(err)
				}
				s.finished()
			}
		})
	}

	// Posters take payloads as soon as their build is reported.
	posts := make(chan ledger.Payload, 64)
	var posters sync.WaitGroup
	for range s.im.opt.Senders {
		posters.Go(func() {
			for p := range posts {
				w, err := s.post(ctx, p)
				if err != nil {
					fail(err)
				}
				if w == nil {
					s.finished()
					continue
				}
				waits <- *w
			}
		})
	}

	// Payloads whose build was reported in an earlier run (which stopped before sending
	// them) go first. Then the builds, one at a time in order (oldest first, causes before
	// the builds they caused), each build's payloads handed to the posters right after it.
	pendingBuild := make(map[string]bool, len(builds))
	for _, b := range builds {
		pendingBuild[b.Key] = true
	}
	var keys []string
	s.mu.Lock()
	for key := range s.payloads {
		if !pendingBuild[key] {
			keys = append(keys, key)
		}
	}
	s.mu.Unlock()
	sort.Strings(keys)
	for _, key := range keys {
		if err := s.queuePayloads(key, posts); err != nil {
			fail(err)
		}
	}
	// Builds are reported Senders at a time, in order; a build waits for the builds its causes
	// name and for the previous build of its own job, so each job's builds reach Octane oldest
	// first and a root build before the builds it caused, while different jobs go in parallel.
	reported := make(map[string]chan struct{}, len(builds))
	after := make(map[string][]string, len(builds))
	lastOfJob := map[string]string{}
	for _, b := range builds {
		reported[b.Key] = make(chan struct{})
		sp := specs[b.Key]
		for _, c := range sp.Causes {
			if k := buildKey(sp.Target, sp.Server.InstanceID, c.Job, c.Build); k != b.Key {
				if _, ok := reported[k]; ok {
					after[b.Key] = append(after[b.Key], k)
				}
			}
		}
		job := sp.Target + "\x00" + sp.Server.InstanceID + "\x00" + sp.Job
		if prev, ok := lastOfJob[job]; ok {
			after[b.Key] = append(after[b.Key], prev)
		}
		lastOfJob[job] = b.Key
	}
	work := make(chan ledger.Build)
	var reporters sync.WaitGroup
	for range s.im.opt.Senders {
		reporters.Go(func() {
			for b := range work {
				if err := s.reportInTurn(ctx, b, specs[b.Key], jobs, after[b.Key], reported, posts); err != nil {
					fail(err)
				}
				close(reported[b.Key])
			}
		})
	}
feed:
	for _, b := range builds {
		select {
		case work <- b:
		case <-ctx.Done():
			break feed
		}
	}
	close(work)
	reporters.Wait()
	close(posts)
	posters.Wait()
	close(waits)
	waiters.Wait()
	if firstErr != nil {
		return firstErr
	}
	return ctx.Err()
}

// reportInTurn waits for the builds that must reach Octane first, reports the build and
// hands its payloads to the posters.
func (s *sender) reportInTurn(ctx context.Context, b ledger.Build, sp *mapping.Build, jobs map[string][]octane.Job,
	first []string, reported map[string]chan struct{}, posts chan<- ledger.Payload) error {
	for _, k := range first {
		select {
		case <-reported[k]:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	if ready := s.plan.readyOf(b.Key); ready != nil {
		// Being read by the scan: wait until it is, then take it as the ledger has it.
		select {
		case <-ready:
		case <-ctx.Done():
			return ctx.Err()
		}
		bd, ok, err := s.im.opt.Ledger.Build(b.Key)
		if err != nil {
			return err
		}
		sealed, line := s.plan.taken(b.Key)
		s.mu.Lock()
		for _, p := range sealed {
			s.held = append(s.held, p.ID)
		}
		s.payloads[b.Key] = append(s.payloads[b.Key], sealed...)
		s.total += len(sealed)
		if line != nil {
			s.lines[b.Key] = line
		}
		s.mu.Unlock()
		if !ok || bd.State != ledger.BuildPending {
			// Nothing of it to report (its reports were unchanged, failed or out of the
			// window); what an earlier run left of it still goes.
			s.finished()
			return s.queueAs(b.Key, bd, ok, posts)
		}
		if sp, err = unmarshalBuild(bd); err != nil {
			return fmt.Errorf("ledger: build %s: %w", b.Key, err)
		}
		b = bd
	}
	if err := s.reportBuild(ctx, b, sp, jobs); err != nil {
		return err
	}
	// Reported by this sender: s.failed says whether Octane refused it, no lookup needed.
	return s.queueAs(b.Key, ledger.Build{}, false, posts)
}

// releaseHeld gives up the claims of the payloads this sender held (those it settled are
// released already; releasing them again is harmless).
func (s *sender) releaseHeld() {
	s.mu.Lock()
	held := s.held
	s.held = nil
	if s.claimed == nil {
		s.claimed = map[uint64]bool{}
	}
	for _, id := range held {
		s.claimed[id] = true
	}
	s.mu.Unlock()
	if len(held) == 0 {
		return
	}
	if err := s.im.opt.Ledger.ReleasePayloads(context.Background(), held); err != nil {
		s.im.opt.Logger.Warn("ledger: releasing payload claims failed (they expire with the lease)", "err", err)
	}
}

// claimedIDs is every payload this sender held a claim on (once it has released them).
func (s *sender) claimedIDs() map[uint64]bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make(map[uint64]bool, len(s.claimed)+len(s.held))
	for id := range s.claimed {
		out[id] = true
	}
	for _, id := range s.held {
		out[id] = true
	}
	return out
}

// warn adds a warning to the run's summary and log.
func (s *sender) warn(w string) {
	s.mu.Lock()
	s.warnings = appendLimited(s.warnings, w)
	s.mu.Unlock()
	s.im.opt.Logger.Warn(w)
}

// merge brings what the sender found into the summary, once it is done.
func (s *sender) merge(sum *Summary) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for key, line := range s.lines {
		if _, ok := sum.ByBuild[key]; !ok {
			sum.ByBuild[key] = line
		}
	}
	sum.Builds += s.extraBuilds
	for _, w := range s.warnings {
		sum.Warnings = appendLimited(sum.Warnings, w)
	}
	s.lines, s.warnings, s.extraBuilds = map[string]*BuildN{}, nil, 0
	sum.Requests += s.requests
	sum.Sent += s.sent
	s.requests, s.sent = 0, 0
}

// reportBuild reports one build; Octane refusing it is recorded (its payloads will fail with
// the reason), Octane being unreachable is returned.
func (s *sender) reportBuild(ctx context.Context, b ledger.Build, sp *mapping.Build, jobs map[string][]octane.Job) error {
	err := s.putBuild(ctx, b, sp, jobs)
	if err == nil {
		b.State, b.Error = ledger.BuildPut, ""
	} else if stopsSending(ctx, err) {
		return s.stop(ctx, sp.Target, err)
	} else {
		b.State, b.Error = ledger.BuildFailed, err.Error()
		s.mu.Lock()
		s.failed[b.Key] = fmt.Sprintf("Octane refused build %s: %v", idOf(sp), err)
		s.mu.Unlock()
		s.im.opt.Logger.Warn("build refused", "build", idOf(sp).String(), "err", err)
	}
	if err := s.im.opt.Ledger.PutBuilds(b); err != nil {
		return err
	}
	s.ensure.Lock()
	own := s.ownPipeline[pipeKey(sp)+"\x00"+sp.Job]
	s.ensure.Unlock()
	s.mu.Lock()
	if line := s.lines[b.Key]; line != nil {
		line.State = string(b.State)
		if own {
			line.Pipeline = cmp.Or(sp.JobName, sp.Job)
		}
	}
	s.mu.Unlock()
	s.finished()
	return nil
}

// queuePayloads hands a build's queued payloads to the posters, or settles them as skipped
// when Octane refused the build (their files fail with the build's reason).
func (s *sender) queuePayloads(key string, posts chan<- ledger.Payload) error {
	bd, ok, err := s.im.opt.Ledger.Build(key)
	if err != nil {
		return err
	}
	return s.queueAs(key, bd, ok, posts)
}

// queueAs is queuePayloads with the build's ledger record at hand (ok: there is one): Octane
// refused the build in this run (s.failed) or, as the record says, in an earlier one.
func (s *sender) queueAs(key string, bd ledger.Build, ok bool, posts chan<- ledger.Payload) error {
	l := s.im.opt.Ledger
	s.mu.Lock()
	why, refused := s.failed[key]
	s.mu.Unlock()
	if !refused && ok && bd.State == ledger.BuildFailed {
		why, refused = "Octane refused its build: "+bd.Error, true
	}
	s.mu.Lock()
	ps := s.payloads[key]
	delete(s.payloads, key)
	s.mu.Unlock()
	for _, p := range ps {
		if !refused {
			posts <- p
			continue
		}
		if err := l.MarkDone(p.ID, ledger.PayloadSkipped, "", why); err != nil {
			return err
		}
		s.markHandled(p)
		s.finished()
	}
	return nil
}

func (s *sender) finished() {
	s.mu.Lock()
	s.done++
	s.report()
	s.mu.Unlock()
}

// stop is the error that stops the sending: the context's, Octane refusing the target as
// a whole (a configuration error: nothing is marked failed), or Octane being unreachable.
func (s *sender) stop(ctx context.Context, target string, err error) error {
	if ctx.Err() != nil {
		return ctx.Err()
	}
	if octane.IsTargetRefused(err) {
		return &TargetRefusedError{Target: target, Err: err}
	}
	return errUnavailable{err}
}

// pipelineJobs lists, for every pipeline, its root job first and then every other job its
// pending builds ran.
func pipelineJobs(specs map[string]*mapping.Build) map[string][]octane.Job {
	out := map[string][]octane.Job{}
	seen := map[string]bool{}
	add := func(k string, j octane.Job) {
		if seen[k+"\x00"+j.CIID] {
			return
		}
		seen[k+"\x00"+j.CIID] = true
		out[k] = append(out[k], j)
	}
	keys := sortedKeys(specs)
	for _, k := range keys {
		sp := specs[k]
		pk := pipeKey(sp)
		add(pk, octane.Job{CIID: sp.RootJob, Name: cmp.Or(sp.RootJobName, sp.RootJob)})
	}
	for _, k := range keys {
		sp := specs[k]
		add(pipeKey(sp), octane.Job{CIID: sp.Job, Name: cmp.Or(sp.JobName, sp.Job)})
	}
	return out
}

func pipeKey(sp *mapping.Build) string {
	return sp.Target + "\x00" + sp.Server.InstanceID + "\x00" + sp.Pipeline
}

func (s *sender) client(target string) (Client, error) {
	return s.im.opt.Client(target)
}

// putBuild makes sure the build's server and pipeline exist, then reports the build.
func (s *sender) putBuild(ctx context.Context, b ledger.Build, sp *mapping.Build, jobs map[string][]octane.Job) error {
	c, err := s.client(sp.Target)
	if err != nil {
		return err
	}
	if err := s.ensureParents(ctx, c, sp, jobs); err != nil {
		return err
	}
	s.count()
	ob := wireBuild(sp)
	if desc, ok := s.descs.Get(sp.Target, sp.Server.InstanceID); ok {
		ob.ServerType, ob.ServerURL = desc.Type, desc.URL // the server as described once for all its builds
	}
	return c.PutBuild(ctx, ob)
}

// ensureParents finds or makes the build's CI server and pipeline, once per run.
func (s *sender) ensureParents(ctx context.Context, c Client, sp *mapping.Build, jobs map[string][]octane.Job) error {
	s.ensure.Lock()
	defer s.ensure.Unlock()
	sk := sp.Target + "\x00" + sp.Server.InstanceID
	srv, ok := s.servers[sk]
	if !ok {
		s.count()
		var err error
		desc, ok := s.descs.Get(sp.Target, sp.Server.InstanceID)
		if !ok {
			desc = sp.Server
		}
		srv, err = c.EnsureCIServer(ctx, octane.CIServer{InstanceID: desc.InstanceID,
			Name: cmp.Or(desc.Name, desc.InstanceID), Type: desc.Type, URL: desc.URL})
		if err != nil {
			return fmt.Errorf("CI server %s: %w", sp.Server.InstanceID, err)
		}
		s.servers[sk] = srv
	}
	pk := pipeKey(sp)
	if !s.pipes[pk] {
		s.count()
		_, err := c.EnsurePipeline(ctx, octane.Pipeline{Name: sp.Pipeline, ServerID: srv.ID, Jobs: jobs[pk]})
		var refused *octane.JobRefusedError
		if errors.As(err, &refused) {
			s.jobsRefused(sp, refused)
			err = nil
		}
		if err != nil {
			return fmt.Errorf("pipeline %q: %w", sp.Pipeline, err)
		}
		s.pipes[pk] = true
	}
	if s.ownPipeline[pk+"\x00"+sp.Job] {
		// Octane would not add this job to its pipeline: its builds go under a pipeline of
		// their own, with the job as root, rather than nowhere.
		own := pk + "\x00" + sp.Job
		if !s.pipes[own] {
			s.count()
			name := cmp.Or(sp.JobName, sp.Job)
			if _, err := c.EnsurePipeline(ctx, octane.Pipeline{Name: name, ServerID: srv.ID, Jobs: []octane.Job{{CIID: sp.Job, Name: name}}}); err != nil {
				return fmt.Errorf("pipeline %q of job %s: %w", name, sp.Job, err)
			}
			s.pipes[own] = true
		}
	}
	return nil
}

// jobsRefused records that Octane refused to add jobs to an existing pipeline (Octane
// before 16.2.100 cannot), and says once what happens to their builds and what to do.
func (s *sender) jobsRefused(sp *mapping.Build, refused *octane.JobRefusedError) {
	pk := pipeKey(sp)
	var ids []string
	for _, j := range refused.Jobs {
		s.ownPipeline[pk+"\x00"+j.CIID] = true
		ids = append(ids, j.CIID)
	}
	w := fmt.Sprintf("Octane refused to add job(s) %s to the existing pipeline %q on CI server %s (%v): "+
		"their builds are reported under a pipeline of their own, each job its root. To have them in %q, add the jobs "+
		"to that pipeline in Octane (Octane 16.2.100 and later can add them itself); the builds already reported stay where they are",
		strings.Join(ids, ", "), sp.Pipeline, sp.Server.InstanceID, refused.Err, sp.Pipeline)
	s.warn(w)
}

func (s *sender) report() {
	if s.progress != nil {
		s.progress(s.total, s.done)
	}
}

func (s *sender) markHandled(p ledger.Payload) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, f := range p.Files {
		s.handled[f] = true
	}
}

// waitItem is a payload Octane took, waiting for its task to end.
type waitItem struct {
	p    ledger.Payload
	c    Client
	task octane.Task
}

// post sends one payload (unless an earlier run already did) and returns what to wait for,
// or nil when the payload is settled already. Only an unavailable Octane or a cancelled
// context is returned as an error: a refused payload is recorded and the run goes on.
func (s *sender) post(ctx context.Context, p ledger.Payload) (*waitItem, error) {
	l := s.im.opt.Ledger
	s.markHandled(p)
	c, err := s.client(p.Target)
	if err != nil {
		return nil, l.MarkDone(p.ID, ledger.PayloadFailed, "", err.Error())
	}
	task := octane.Task{ID: p.Task, Status: p.Status}
	if p.State == ledger.Pending {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		data, err := l.PayloadData(p.ID)
		if err != nil {
			return nil, err
		}
		s.count()
		task, err = c.PostTestResults(ctx, data, s.im.opt.SkipErrors)
		if err != nil {
			if stopsSending(ctx, err) {
				_ = l.MarkAttempt(p.ID, err.Error())
				return nil, s.stop(ctx, p.Target, err)
			}
			return nil, l.MarkDone(p.ID, ledger.PayloadFailed, "", err.Error())
		}
		if err := l.MarkSent(p.ID, task.ID, task.Status); err != nil {
			return nil, s.elsewhere(p, err)
		}
		s.mu.Lock()
		s.sent++
		s.mu.Unlock()
	}
	return &waitItem{p: p, c: c, task: task}, nil
}

// wait follows a sent payload's task to its end and records the outcome.
func (s *sender) wait(ctx context.Context, w waitItem) error {
	l := s.im.opt.Ledger
	p, task := w.p, w.task
	// A resend of a payload Octane already processed (its first answer was lost) is answered
	// with the task's status alone, without errorDetails: fetch the task for Octane's message.
	if !task.Done() || (task.Status != "success" && task.ErrorDetails == "") {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		s.count()
		t, err := w.c.WaitTask(ctx, task.ID)
		if err != nil {
			// Whatever went wrong while asking, the task may well succeed: the payload stays
			// sent (never failed, which retry would resend) and the next run asks again.
			_ = l.MarkAttempt(p.ID, fmt.Sprintf("task %s: %v", task.ID, err))
			return s.stop(ctx, p.Target, err)
		}
		task = t
	}
	switch task.Status {
	case "success", "warning":
		return s.elsewhere(p, l.MarkDone(p.ID, ledger.PayloadDone, task.Status, task.ErrorDetails))
	default:
		msg := task.ErrorDetails
		if msg == "" {
			msg = "Octane's task ended " + task.Status
		}
		return s.elsewhere(p, l.MarkDone(p.ID, ledger.PayloadFailed, task.Status, fmt.Sprintf("task %s %s: %s", task.ID, task.Status, msg)))
	}
}

// elsewhere passes a ledger error on, except a payload another instance holds now (this
// one's claim expired while it worked): that one settles it, and this one lets it go.
func (s *sender) elsewhere(p ledger.Payload, err error) error {
	if errors.Is(err, ledger.ErrClaimed) {
		s.im.opt.Logger.Warn("payload taken over by another octane-import instance (this one's claim had expired); it settles it",
			"payload", p.ID, "build", idOfKey(p.Build).String())
		return nil
	}
	return err
}

func (s *sender) count() {
	s.mu.Lock()
	s.requests++
	s.mu.Unlock()
}

// isUnavailable reports whether err means Octane could not be reached.
func isUnavailable(err error) bool {
	var u errUnavailable
	return errors.As(err, &u)
}

// stopsSending reports whether err is about reaching Octane rather than about what was sent:
// a temporary failure that outlasted the retries, a cancelled run, or a session Octane still
// refuses after signing in again (401). Such an error must not fail a build or a payload:
// everything stays queued for the next run. (A 401 on a task poll would otherwise mark a
// payload Octane may well have accepted as failed, and `retry` would send its runs twice.)
func stopsSending(ctx context.Context, err error) bool {
	return octane.IsTemporary(err) || octane.IsUnauthorized(err) || octane.IsTargetRefused(err) || ctx.Err() != nil
}

// TargetRefusedError is Octane refusing a target as a whole: the credentials, their rights,
// or a shared space or workspace that does not exist. It is a configuration error: the run
// stops, nothing is marked failed, and the same command imports once the target is fixed.
type TargetRefusedError struct {
	Target string
	Err    error
}

func (e *TargetRefusedError) Error() string {
	return fmt.Sprintf("Octane refused target %q: %v. Nothing was marked failed: fix the target (credentials, their rights, the shared space or workspace) and run the same command again", e.Target, e.Err)
}
func (e *TargetRefusedError) Unwrap() error { return e.Err }
