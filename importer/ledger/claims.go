package ledger

import (
	"context"
	"os"
	"slices"
	"strconv"
	"sync"
	"time"
)

// claims are the embedded ledger's claims. One process holds the ledger, so it is the only
// instance and every claim it asks for is its own; the claims only keep it from handing a
// payload out twice (ClaimPayloads) and count its work in flight. They live in memory: the
// next process to hold the ledger starts with none, as the claims of a dead instance expire.
type claims struct {
	mu       sync.Mutex
	files    map[string]bool
	payloads map[uint64]bool
}

func (c *claims) releaseFiles(paths []string) {
	c.mu.Lock()
	for _, p := range paths {
		delete(c.files, p)
	}
	c.mu.Unlock()
}

func (c *claims) claimPayloads(ids ...uint64) {
	c.mu.Lock()
	if c.payloads == nil {
		c.payloads = map[uint64]bool{}
	}
	for _, id := range ids {
		c.payloads[id] = true
	}
	c.mu.Unlock()
}

func (c *claims) releasePayloads(ids ...uint64) {
	c.mu.Lock()
	for _, id := range ids {
		delete(c.payloads, id)
	}
	c.mu.Unlock()
}

// Instance describes this process as the ledger's one instance.
func (l *Ledger) Instance() Instance {
	host, _ := os.Hostname()
	l.claims.mu.Lock()
	n := len(l.claims.files) + len(l.claims.payloads)
	l.claims.mu.Unlock()
	return Instance{ID: host + "-" + strconv.Itoa(os.Getpid()), Host: host, PID: os.Getpid(), Version: l.opt.Version,
		Started: l.started, LastSeen: time.Now(), InFlight: n}
}

// Instances is this process when it holds the ledger for writing; a read-only ledger has
// none (its holder, if any, is another process: see OpenView).
func (l *Ledger) Instances(context.Context) ([]Instance, error) {
	if l.readOnly || l.db == nil {
		return nil, nil
	}
	return []Instance{l.Instance()}, nil
}

// ClaimFiles claims every given file: this process is the ledger's only instance.
func (l *Ledger) ClaimFiles(_ context.Context, paths []string) ([]string, error) {
	if err := l.writable(); err != nil {
		return nil, err
	}
	l.claims.mu.Lock()
	defer l.claims.mu.Unlock()
	if l.claims.files == nil {
		l.claims.files = map[string]bool{}
	}
	for _, p := range paths {
		l.claims.files[p] = true
	}
	return dedupe(paths), nil
}

// ReleaseFiles gives up the claims of the files.
func (l *Ledger) ReleaseFiles(_ context.Context, paths []string) error {
	l.claims.releaseFiles(paths)
	return nil
}

// ClaimPayloads claims up to limit payloads in the given states (pending and sent when
// none) that this process has not claimed yet, oldest first.
func (l *Ledger) ClaimPayloads(_ context.Context, limit int, states ...PayloadState) ([]Payload, error) {
	if err := l.writable(); err != nil {
		return nil, err
	}
	if len(states) == 0 {
		states = []PayloadState{Pending, PayloadSent}
	}
	all, err := l.Payloads(states...)
	if err != nil {
		return nil, err
	}
	l.claims.mu.Lock()
	defer l.claims.mu.Unlock()
	if l.claims.payloads == nil {
		l.claims.payloads = map[uint64]bool{}
	}
	var out []Payload
	for _, p := range all {
		if len(out) == limit {
			break
		}
		if !l.claims.payloads[p.ID] {
			l.claims.payloads[p.ID] = true
			out = append(out, p)
		}
	}
	return slices.Clip(out), nil
}

// ReleasePayloads gives up the claims of the payloads.
func (l *Ledger) ReleasePayloads(_ context.Context, ids []uint64) error {
	l.claims.releasePayloads(ids...)
	return nil
}

// ReleaseAll gives up every claim this process holds.
func (l *Ledger) ReleaseAll(context.Context) error {
	l.claims.mu.Lock()
	l.claims.files, l.claims.payloads = nil, nil
	l.claims.mu.Unlock()
	return nil
}

func (l *Ledger) writable() error {
	if l.db == nil || l.readOnly {
		return errReadOnly(l.path)
	}
	return nil
}
