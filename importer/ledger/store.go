package ledger

import (
	"context"
	"errors"
	"strings"
	"time"
)

// Store is a ledger, whatever keeps it: everything the importer records about files,
// payloads and builds, with the same guarantees on every backend:
//
//   - Every change is one transaction, durable when the call returns: a payload is written
//     (Seal), with the records of the files it covers and its build, before it is sent, and
//     what Octane answered after (MarkSent, MarkDone). A kill -9 at any point leaves the
//     ledger as it was after the last call that returned.
//   - Several instances may share a ledger (PostgreSQL): a file is worked on (read, mapped,
//     sealed) by the instance that claimed it (ClaimFiles), and a payload is sent by the
//     instance that claimed it (ClaimPayloads). Claims last while their instance lives: each
//     instance renews its claims with its heartbeat, and the claims of an instance that
//     stopped renewing them (killed, host lost, cut off from the database) expire after
//     Options.Lease and are taken over. Writing a file or payload another live instance has
//     claimed fails with ErrClaimed.
//
// *Ledger (bbolt, one process at a time) is the embedded default; a postgres:// URL selects
// PostgreSQL (OpenStore). The embedded ledger has a single instance, the process holding it,
// so its claims only keep that process from handing out one payload twice.
type Store interface {
	View

	// NextScan allocates the number of a new scan (used to pick out the files a run touched).
	NextScan() (uint64, error)
	// TargetIdentity returns the identity (a hash of its URL, shared space and workspace)
	// the target of that name had when the ledger last imported to it; SetTargetIdentity
	// records it. A file is imported to a target: see importer's checkTargets.
	TargetIdentity(name string) (uint64, bool, error)
	SetTargetIdentity(name string, identity uint64) error
	// File returns the record of path, if any.
	File(path string) (File, bool, error)
	// FilesAt returns the records of the given paths that the ledger holds, by path, in one
	// read (a rescan looks its files up in batches).
	FilesAt(paths []string) (map[string]File, error)
	// PutFiles records files with nothing to send (one transaction).
	PutFiles(files ...File) error

	// Seal writes payloads, the files they cover and the builds they belong to in one
	// transaction, assigns the payloads their ids, and appends each payload's id to the
	// records of the files it lists. It returns the new ids in order. The new payloads are
	// claimed by this instance, which sends them next (ReleasePayloads gives them up).
	Seal(payloads []NewPayload, files []File, builds []Build) ([]uint64, error)
	// StageDir is the folder to write staged payloads in (NewPayload.Staged); "" means the
	// system's temporary folder.
	StageDir() string
	// Payloads returns the payloads in the given states (all when none given), by id.
	Payloads(states ...PayloadState) ([]Payload, error)
	// PayloadData returns the stored bytes of a payload.
	PayloadData(id uint64) ([]byte, error)
	// MarkSent records the task id Octane gave a payload, and moves its files to Sent when
	// all their payloads are at least sent.
	MarkSent(id uint64, task, status string) error
	// MarkAttempt counts a send that got no usable answer (the payload stays pending).
	MarkAttempt(id uint64, errText string) error
	// MarkDone records a payload's final outcome (accepted or failed, or skipped) and
	// settles the files it covers; an accepted payload's bytes are dropped and its claim
	// released.
	MarkDone(id uint64, state PayloadState, status, errText string) error
	// Requeue puts a failed or skipped payload back in the queue with new bytes.
	Requeue(id uint64, data []byte) error

	// PutBuilds records builds.
	PutBuilds(builds ...Build) error
	// Build returns the record of a build.
	Build(key string) (Build, bool, error)
	// Builds returns the builds in the given states (all when none), oldest start first.
	Builds(states ...BuildState) ([]Build, error)

	// Instance describes this instance (for PostgreSQL, its files and payloads in flight as
	// of its last heartbeat; Instances counts them now).
	Instance() Instance
	// ClaimFiles claims the given files for this instance and returns those it holds now:
	// unclaimed ones, ones whose claim expired, and ones it held already. Look a file up
	// (File, FilesAt) after claiming it: another instance may have sealed it meanwhile.
	// Seal and PutFiles release the claims of the files they write.
	ClaimFiles(ctx context.Context, paths []string) ([]string, error)
	// ReleaseFiles gives up this instance's claims of the given files (unchanged files).
	// While the database is unavailable the claims are given up by the next heartbeat that
	// reaches it (ReleaseFiles and ReleasePayloads then return nil).
	ReleaseFiles(ctx context.Context, paths []string) error
	// ClaimPayloads claims up to limit payloads in the given states (pending and sent when
	// none given) that no live instance has claimed (this one included: a payload is handed
	// out once), oldest first.
	ClaimPayloads(ctx context.Context, limit int, states ...PayloadState) ([]Payload, error)
	// ReleasePayloads gives up this instance's claims of the given payloads (for another
	// instance, or a later run, to send).
	ReleasePayloads(ctx context.Context, ids []uint64) error
	// ReleaseAll gives up every claim of this instance, for a caller with nothing in flight
	// (a watcher between batches): after a database outage, a write whose answer was lost
	// may have left claims this instance does not know it holds.
	ReleaseAll(ctx context.Context) error
}

// Instance is one octane-import process working on a ledger, as its heartbeat row says.
type Instance struct {
	ID       string    `json:"id"`
	Host     string    `json:"host"`
	PID      int       `json:"pid"`
	Version  string    `json:"version"`
	Started  time.Time `json:"started"`
	LastSeen time.Time `json:"last_seen"`
	InFlight int       `json:"in_flight"` // files and payloads it holds claims on
}

// ErrClaimed is returned when an instance writes a file or payload another live instance
// has claimed.
var ErrClaimed = errors.New("claimed by another octane-import instance")

// ErrUnavailable is what errors.Is finds in an error of a ledger that could not be reached
// (PostgreSQL restarted, down or cut off): the call may succeed later, and nothing it was to
// write was written unless the error says the outcome is unknown (a commit whose answer was
// lost). Work resumes by itself once the database is back.
var ErrUnavailable = errors.New("the ledger's database is unavailable")

// IsTemporary reports whether err is a ledger being unavailable (ErrUnavailable).
func IsTemporary(err error) bool { return errors.Is(err, ErrUnavailable) }

var (
	_ Store = (*Ledger)(nil)
	_ Store = (*Postgres)(nil)
)

// IsURL reports whether a --state location names a PostgreSQL ledger (postgres:// or
// postgresql://) rather than a file.
func IsURL(location string) bool {
	l := strings.ToLower(location)
	return strings.HasPrefix(l, "postgres://") || strings.HasPrefix(l, "postgresql://")
}

// OpenStore opens the ledger at location: a postgres:// (or postgresql://) URL is a
// PostgreSQL ledger, anything else the path of an embedded one (Open). The context bounds
// connecting and migrating the schema.
func OpenStore(ctx context.Context, location string, opt Options) (Store, error) {
	if IsURL(location) {
		return OpenPostgres(ctx, location, opt)
	}
	return Open(location, opt)
}
