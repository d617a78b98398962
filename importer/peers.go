package importer

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/octane-import/octane-import/importer/ledger"
)

// Sharing a target's rate limit among the instances of a shared ledger: every instance
// working on one PostgreSQL ledger sends to the same targets (high availability, or a
// backfill split across machines), so each target's configured rate_limit is what all of
// them together may send, not what each may. Every heartbeat period each instance counts the
// live instances (heartbeats within the lease, itself included) and paces its clients at the
// configured rate divided by that count. An instance that joins or leaves changes the share
// within a period; meanwhile the total may exceed the rate by one instance's share, which
// Octane's own throttling (429 with Retry-After, honoured by the client) absorbs.
//
// The count is of every instance on the ledger, whichever targets it sends to: the stricter
// reading, since instances record no targets in their heartbeat rows, and a shared ledger's
// instances run one configuration.

// instanceCounter is what the sharing needs of a ledger: this instance and the live ones.
type instanceCounter interface {
	Instance() ledger.Instance
	Instances(ctx context.Context) ([]ledger.Instance, error)
}

// rateLimited is a client whose rate limit can change while it runs (*octane.Client).
type rateLimited interface {
	RateLimit() float64
	SetRateLimit(r float64)
}

// rateShare divides the targets' rate limits among a shared ledger's live instances.
type rateShare struct {
	store  instanceCounter
	period time.Duration
	log    *slog.Logger
	base   map[string]float64 // each target's configured rate (requests/s)
	limit  map[string]rateLimited

	mu        sync.Mutex
	instances int // the count the rates are divided by now (0: not counted yet)

	stop      chan struct{}
	done      chan struct{}
	closeOnce sync.Once
}

// newRateShare prepares the sharing of the clients' configured rates; unlimited clients (the
// sandbox's) are left alone. It returns nil when there is nothing to share.
func newRateShare(store instanceCounter, clients map[string]rateLimited, period time.Duration, log *slog.Logger) *rateShare {
	s := &rateShare{store: store, period: period, log: log, base: map[string]float64{}, limit: map[string]rateLimited{}}
	for name, c := range clients {
		if r := c.RateLimit(); r > 0 {
			s.base[name], s.limit[name] = r, c
		}
	}
	if len(s.base) == 0 {
		return nil
	}
	return s
}

// start counts the instances now (within ctx), before anything is sent, and then every
// period until close.
func (s *rateShare) start(ctx context.Context) {
	s.step(ctx)
	s.stop, s.done = make(chan struct{}), make(chan struct{})
	go func() {
		defer close(s.done)
		t := time.NewTicker(s.period)
		defer t.Stop()
		for {
			select {
			case <-s.stop:
				return
			case <-t.C:
			}
			ctx, cancel := context.WithTimeout(context.Background(), s.period)
			s.step(ctx)
			cancel()
		}
	}()
}

// close stops the loop and waits for it; again, it does nothing.
func (s *rateShare) close() {
	if s == nil || s.stop == nil {
		return
	}
	s.closeOnce.Do(func() {
		close(s.stop)
		<-s.done
	})
}

// step counts the live instances and, when the count changed, sets each client's share of
// its target's rate and says so once. A ledger that does not answer leaves the shares as
// they are (the ledger's own errors say it is away).
func (s *rateShare) step(ctx context.Context) {
	list, err := s.store.Instances(ctx)
	if err != nil {
		s.log.Debug("rate limit: the live instances could not be counted; the shares stay as they are", "err", err)
		return
	}
	n, self := len(list), s.store.Instance().ID
	if !slices.ContainsFunc(list, func(in ledger.Instance) bool { return in.ID == self }) {
		n++ // this instance, whose heartbeat is late: counted all the same
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if n == s.instances {
		return
	}
	first := s.instances == 0
	s.instances = n
	var rates []string
	for _, name := range sortedKeys(s.base) {
		share := s.base[name] / float64(n)
		s.limit[name].SetRateLimit(share)
		rates = append(rates, fmt.Sprintf("%s %.3g/s of %.3g/s", name, share, s.base[name]))
	}
	if first && n == 1 {
		return // alone from the start: the configured rates, nothing to say
	}
	s.log.Info("rate limit shared among the instances on the ledger", "instances", n, "rates", strings.Join(rates, ", "))
}

// sharedBy is the count the rates are divided by now (0 before the first count).
func (s *rateShare) sharedBy() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.instances
}
