package importer

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/octane-import/octane-import/importer/ledger"
	"github.com/octane-import/octane-import/octane"
)

// TargetError says why a target cannot be used (no url, no credentials, a CA file that
// cannot be read): a configuration error, found before anything is read or sent.
type TargetError struct {
	Target string
	Err    error
}

func (e *TargetError) Error() string {
	if errors.Is(e.Err, errNoURL) {
		return fmt.Sprintf("target %q has no url: write one in the configuration, set OCTANE_URL (with OCTANE_SHARED_SPACE, OCTANE_WORKSPACE, OCTANE_CLIENT_ID, OCTANE_CLIENT_SECRET), or try --sandbox", e.Target)
	}
	return fmt.Sprintf("target %q: %v", e.Target, e.Err)
}

var errNoURL = errors.New("no url")

func (e *TargetError) Unwrap() error { return e.Err }

// Open opens what one run needs and returns the importer that uses it; Close releases it.
//   - The ledger at ledgerPath (a file: the embedded ledger; a postgres:// URL: PostgreSQL),
//     read-only for a dry run. An empty path is a throw-away
//     ledger in a temporary folder, removed by Close (the sandbox's: the in-process
//     stand-in forgets everything when the command ends, and so must its ledger).
//   - An Octane client per target, made here (not for a dry run, which sends nothing and
//     needs no credentials), so that a target that cannot work is a *TargetError at once.
//   - For a PostgreSQL ledger, which other instances may share, a loop that divides each
//     target's rate limit among the live instances every heartbeat period (peers.go).
func Open(ctx context.Context, opt Options, ledgerPath string, targets map[string]octane.Config) (*Importer, error) {
	res := &resources{clients: map[string]*octane.Client{}}
	path := ledgerPath
	if path == "" {
		dir, err := os.MkdirTemp("", "octane-import-sandbox-")
		if err != nil {
			return nil, err
		}
		res.tmpDir, path = dir, filepath.Join(dir, "ledger.db")
	}
	if !opt.DryRun {
		for _, name := range sortedKeys(targets) {
			if targets[name].URL == "" {
				res.close()
				return nil, &TargetError{Target: name, Err: errNoURL}
			}
			c, err := octane.New(targets[name])
			if err != nil {
				res.close()
				return nil, &TargetError{Target: name, Err: err}
			}
			res.clients[name] = c
			if opt.Identities == nil {
				opt.Identities = map[string]string{}
			}
			opt.Identities[name] = TargetIdentity(targets[name])
		}
	}
	l, err := ledger.OpenStore(ctx, path, ledger.Options{ReadOnly: opt.DryRun, Version: opt.Version, Lease: opt.Lease, Logger: opt.Logger})
	if err != nil {
		res.close()
		return nil, err
	}
	res.ledger = l
	opt.Ledger = l
	if opt.Client == nil {
		opt.Client = res.client
	}
	im, err := New(opt)
	if err != nil {
		res.close()
		return nil, err
	}
	im.res = res
	if pg, ok := l.(*ledger.Postgres); ok && !opt.DryRun {
		// Several instances may work on this ledger: they share each target's rate limit.
		clients := map[string]rateLimited{}
		for name, c := range res.clients {
			clients[name] = c
		}
		if s := newRateShare(pg, clients, pg.Heartbeat(), im.opt.Logger); s != nil {
			s.start(ctx)
			res.share = s
		}
	}
	return im, nil
}

// resources are what Open opened.
type resources struct {
	mu      sync.Mutex
	clients map[string]*octane.Client
	ledger  ledger.Store
	share   *rateShare // nil unless the ledger is shared
	tmpDir  string
}

func (r *resources) client(target string) (Client, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if c, ok := r.clients[target]; ok {
		return c, nil
	}
	return nil, fmt.Errorf("no target named %q in the configuration", target)
}

func (r *resources) close() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	var errs []error
	r.share.close()
	for _, c := range r.clients {
		_ = c.Close(ctx) // signs out; a failure there loses nothing
	}
	if r.ledger != nil {
		errs = append(errs, r.ledger.Close())
	}
	if r.tmpDir != "" {
		errs = append(errs, os.RemoveAll(r.tmpDir))
	}
	return errors.Join(errs...)
}

// Ledger is the ledger the importer records in (nil for a dry run without one).
func (im *Importer) Ledger() ledger.Store { return im.opt.Ledger }

// Close releases what Open opened: it signs out of Octane, closes the ledger, and removes
// a throw-away ledger. An importer made with New has nothing to release.
func (im *Importer) Close() error {
	if im.res == nil {
		return nil
	}
	return im.res.close()
}
