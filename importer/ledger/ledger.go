// Package ledger is octane-import's on-disk memory: for every file it has seen, its identity
// (path, size, mtime, content hash), the build it went to and how far it got; for every
// test-results payload, the exact bytes to send and what Octane answered.
//
// Every change is one durable transaction, so a kill -9 leaves the ledger as it was after the
// last completed step: a payload is written (with the files it covers) before it is sent, and
// its task id after. A payload whose send had no recorded answer is sent again byte for byte,
// which Octane deduplicates.
//
// Store is the ledger as the importer uses it, with two backends:
//
//   - Ledger, the embedded default: a single bbolt file of compact binary records (codec.go;
//     schema 2, migrated from schema 1's JSON when opened for writing), with payload bytes in
//     a spool folder beside it. One process holds it at a time; it records who it is beside
//     the ledger (holder.go) and serves read-only views to other processes (view.go).
//   - Postgres, selected by a postgres:// URL (OpenStore): the same records in PostgreSQL,
//     shared by several instances on several machines, which claim files and payloads with
//     leases and keep a heartbeat row each (postgres.go). Copy moves an embedded ledger there.
package ledger

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	bolt "go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"
)

// FileState is how far a file got.
type FileState string

// The states of a file, in the order a file normally passes through them.
const (
	Seen      FileState = "seen"      // discovered, not yet read (only transiently)
	Parsed    FileState = "parsed"    // read and mapped; its runs sit in payloads not yet sent
	Sent      FileState = "sent"      // every payload holding its runs was sent; waiting for Octane's task
	Accepted  FileState = "accepted"  // Octane processed every payload holding its runs
	Failed    FileState = "failed"    // could not be read, mapped or imported; Error says why
	Unmatched FileState = "unmatched" // no mapping rule matched it
	Empty     FileState = "empty"     // a report without test cases, or a manifest (nothing to send)
)

// Terminal reports whether nothing more will happen to a file in this state without a change
// to the file or an explicit retry.
func (s FileState) Terminal() bool {
	switch s {
	case Accepted, Failed, Unmatched, Empty:
		return true
	}
	return false
}

// Counts are the test runs of a file or build by status.
type Counts struct {
	Passed  int `json:"passed"`
	Failed  int `json:"failed"`
	Skipped int `json:"skipped"`
}

// Total is the number of runs.
func (c Counts) Total() int { return c.Passed + c.Failed + c.Skipped }

// Add adds o to c.
func (c *Counts) Add(o Counts) {
	c.Passed += o.Passed
	c.Failed += o.Failed
	c.Skipped += o.Skipped
}

// File is what the ledger knows of one file, keyed by its absolute, cleaned path.
type File struct {
	Path     string    `json:"path"`
	Root     string    `json:"root,omitempty"` // the scanned folder it was found under (mapping is relative to it)
	Size     int64     `json:"size"`
	ModTime  int64     `json:"mtime"` // unix nanoseconds
	Hash     string    `json:"hash,omitempty"`
	State    FileState `json:"state"`
	Rule     string    `json:"rule,omitempty"`
	Target   string    `json:"target,omitempty"`
	Build    string    `json:"build,omitempty"` // build key
	Payloads []uint64  `json:"payloads,omitempty"`
	Task     string    `json:"task,omitempty"`
	Status   string    `json:"task_status,omitempty"`
	Runs     Counts    `json:"runs"`
	Error    string    `json:"error,omitempty"`
	Attempt  int       `json:"attempt,omitempty"` // explicit retries so far
	Scan     uint64    `json:"scan,omitempty"`    // the scan that last changed it
	Updated  time.Time `json:"updated"`
}

// Same reports whether f still describes a file of this size and mtime.
func (f File) Same(size int64, mtime time.Time) bool {
	return f.Size == size && f.ModTime == mtime.UnixNano()
}

// PayloadState is how far a payload got.
type PayloadState string

// The states of a payload.
const (
	Pending        PayloadState = "pending"  // written, not yet known to Octane
	PayloadSent    PayloadState = "sent"     // Octane answered with a task id
	PayloadDone    PayloadState = "accepted" // the task ended success or warning
	PayloadFailed  PayloadState = "failed"   // the task ended failed, or Octane refused the payload
	PayloadSkipped PayloadState = "skipped"  // its build was refused, so it was never sent
)

// Payload is one test-results request: gzip'd XML for one build, covering runs from one or
// more files. In the embedded ledger its bytes live in a file of the spool folder beside it
// (written and synced before the payload's record commits), and are deleted once Octane
// accepted them: kept out of the bbolt file, they never sit in its memory map, so a
// backfill's memory does not grow with the bytes it has queued. In PostgreSQL they are a
// column of the payload's row (every instance may have to send them), dropped likewise.
type Payload struct {
	ID       uint64       `json:"id"`
	Target   string       `json:"target"`
	Build    string       `json:"build"`
	Files    []string     `json:"files"`
	Runs     int          `json:"runs"`
	Bytes    int          `json:"bytes"`
	Spool    string       `json:"spool,omitempty"` // the file in the spool folder holding its bytes (embedded ledger)
	State    PayloadState `json:"state"`
	Task     string       `json:"task,omitempty"`
	Status   string       `json:"task_status,omitempty"`
	Error    string       `json:"error,omitempty"`
	Attempts int          `json:"attempts,omitempty"`
	Created  time.Time    `json:"created"`
	Updated  time.Time    `json:"updated"`
}

// BuildState is how far a build's own record got.
type BuildState string

// The states of a build.
const (
	BuildPending BuildState = "pending" // its latest description was not yet PUT
	BuildPut     BuildState = "put"     // Octane has its latest description
	BuildFailed  BuildState = "failed"  // Octane refused it
)

// Build is one CI build as octane-import will report it. Spec is the importer's own
// description of it (opaque here); the ledger keeps it so that a restart can send it.
type Build struct {
	Key     string          `json:"key"`
	Target  string          `json:"target"`
	Start   time.Time       `json:"start"`
	Spec    json.RawMessage `json:"spec"`
	State   BuildState      `json:"state"`
	Error   string          `json:"error,omitempty"`
	Runs    Counts          `json:"runs"`
	Updated time.Time       `json:"updated"`
}

var (
	bucketFiles    = []byte("files")
	bucketPayloads = []byte("payloads")
	bucketData     = []byte("payload-data") // payload bytes from before the spool (schema 1)
	bucketBuilds   = []byte("builds")
	bucketMeta     = []byte("meta")
	keyVersion     = []byte("version")
	keyScan        = []byte("scan")
)

// schemaVersion is the layout this code writes: 2 is binary records with shared names
// (codec.go); 1 was JSON records. A ledger of schema 1 is migrated when opened for writing,
// and read as it is when opened read-only.
const schemaVersion = "2"

// ErrLocked is what Open's error is when another process holds the ledger: a *LockedError
// that names the holder when it recorded itself (holder.go).
var ErrLocked = errors.New("the ledger is in use by another octane-import process")

// Ledger is the embedded ledger: a bbolt file, with payload bytes in a spool folder beside
// it. One process at a time holds it. It is safe for concurrent use.
type Ledger struct {
	db       *bolt.DB
	path     string
	spool    string // folder of payload bytes: path + ".spool"
	seq      atomic.Uint64
	readOnly bool
	now      func() time.Time
	names    *names
	closed   sync.Once
	closeErr error

	// Opened for writing: who this process is (the holder record beside the ledger), the
	// server of read-only views (view.go), and the claims of this process, the ledger's
	// one instance (claims.go).
	opt      Options
	started  time.Time
	claims   claims
	holder   *Holder
	listener net.Listener
	server   *http.Server
	serving  sync.WaitGroup
}

// Options tune Open, OpenPostgres and OpenStore.
type Options struct {
	ReadOnly bool          // open for reading only (dry runs, status); a missing file is an empty ledger
	Timeout  time.Duration // how long to wait for another process's lock (embedded); default 2s

	// Version is this octane-import's version, as the instance's heartbeat row shows it.
	Version string
	// Lease is how long claims outlive their instance's last heartbeat (PostgreSQL);
	// default 30s. Heartbeat is how often an instance renews its row and claims; default a
	// third of the lease.
	Lease, Heartbeat time.Duration
	// CallTimeout bounds the calls that take no context (PostgreSQL); default 30s.
	CallTimeout time.Duration
	// Logger hears what the ledger does on its own that a user waits for (PostgreSQL: giving
	// up the claims at Close while the database is away); nil: nothing is said.
	Logger *slog.Logger
}

// Open opens or creates the ledger at path.
func Open(path string, opt Options) (*Ledger, error) {
	if opt.Timeout == 0 {
		opt.Timeout = 2 * time.Second
	}
	l := &Ledger{path: path, spool: path + ".spool", readOnly: opt.ReadOnly, now: time.Now, names: newNames(), opt: opt, started: time.Now()}
	if opt.ReadOnly {
		if _, err := os.Stat(path); errors.Is(err, os.ErrNotExist) {
			return l, nil // nothing recorded yet
		}
	} else if dir := filepath.Dir(path); dir != "" {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return nil, fmt.Errorf("ledger %s: %w", path, err)
		}
	}
	db, err := openBolt(path, opt.ReadOnly, opt.Timeout)
	if err != nil {
		if errors.Is(err, berrors.ErrTimeout) {
			return nil, lockedError(path)
		}
		return nil, fmt.Errorf("ledger %s: %w", path, err)
	}
	l.db = db
	version, err := l.version()
	if err == nil && opt.ReadOnly {
		return l, nil
	}
	if err == nil && version == "1" {
		err = l.migrate()
	}
	if err == nil {
		err = l.init()
	}
	if err == nil {
		err = l.cleanSpool()
	}
	if err != nil {
		l.db.Close()
		return nil, l.named(err)
	}
	l.serve()
	return l, nil
}

// openBolt opens the bbolt file at path, waiting up to timeout for its lock, and makes sure
// the file it locked is still the one at path: a migration replaces the file (migrate.go),
// and a process that waited for the old one's lock must not write to a file no one reads.
func openBolt(path string, readOnly bool, timeout time.Duration) (*bolt.DB, error) {
	deadline := time.Now().Add(timeout)
	for {
		var file *os.File
		db, err := bolt.Open(path, 0o600, &bolt.Options{
			Timeout: max(time.Until(deadline), time.Millisecond), ReadOnly: readOnly,
			OpenFile: func(name string, flag int, perm os.FileMode) (*os.File, error) {
				f, err := os.OpenFile(name, flag, perm)
				file = f
				return f, err
			},
		})
		if err != nil {
			return nil, err
		}
		held, herr := file.Stat()
		now, nerr := os.Stat(path)
		if herr == nil && nerr == nil && os.SameFile(held, now) {
			return db, nil
		}
		db.Close()
		if herr != nil {
			return nil, herr
		}
		if errors.Is(nerr, os.ErrNotExist) && readOnly {
			return nil, nerr
		}
		if time.Now().After(deadline) {
			return nil, berrors.ErrTimeout
		}
	}
}

// version reads the schema version, refusing one this code does not know.
func (l *Ledger) version() (string, error) {
	var v string
	err := l.db.View(func(tx *bolt.Tx) error {
		meta := tx.Bucket(bucketMeta)
		if meta == nil {
			if l.readOnly {
				return fmt.Errorf("not an octane-import ledger (no meta bucket)")
			}
			return nil // new
		}
		v = string(meta.Get(keyVersion))
		return nil
	})
	if err != nil {
		return "", err
	}
	switch v {
	case "", "1", schemaVersion:
		return v, nil
	}
	return v, fmt.Errorf("schema version %q: written by a newer octane-import (this one knows up to %s); use that version or newer", v, schemaVersion)
}

// init creates the buckets of a new ledger (and any a migration left out) and records the
// schema version.
func (l *Ledger) init() error {
	return l.db.Update(func(tx *bolt.Tx) error {
		for _, b := range [][]byte{bucketFiles, bucketPayloads, bucketData, bucketBuilds, bucketMeta, bucketNames, bucketNameIDs} {
			if _, err := tx.CreateBucketIfNotExists(b); err != nil {
				return err
			}
		}
		return tx.Bucket(bucketMeta).Put(keyVersion, []byte(schemaVersion))
	})
}

// cleanSpool creates the spool folder and removes what a crash left in it: half-written
// files, and files whose payload record never committed or was settled.
func (l *Ledger) cleanSpool() error {
	if err := os.MkdirAll(l.spool, 0o700); err != nil {
		return err
	}
	keep := map[string]bool{}
	err := l.read(func(tx *bolt.Tx, lookup nameLookup) error {
		return tx.Bucket(bucketPayloads).ForEach(func(k, v []byte) error {
			p, err := decodePayload(btoi(k), v, lookup, true)
			if err != nil {
				return fmt.Errorf("payload %d: %w", btoi(k), err)
			}
			if p.Spool != "" && p.State != PayloadDone {
				keep[p.Spool] = true
			}
			return nil
		})
	})
	if err != nil {
		return err
	}
	entries, err := os.ReadDir(l.spool)
	if err != nil {
		return err
	}
	for _, e := range entries {
		if !keep[e.Name()] {
			_ = os.Remove(filepath.Join(l.spool, e.Name()))
		}
	}
	return nil
}

// writeSpool stores payload bytes in a new spool file, synced to disk; the caller syncs the
// spool folder (once for all the files of a transaction) before committing the records.
func (l *Ledger) writeSpool(data []byte) (string, error) {
	name := fmt.Sprintf("%d-%d-%d.xml.gz", l.now().UnixNano(), os.Getpid(), l.seq.Add(1))
	path := filepath.Join(l.spool, name)
	if err := writeSynced(path+".tmp", path, data, os.O_EXCL); err != nil {
		return "", fmt.Errorf("spool: %w", err)
	}
	return name, nil
}

// writeSynced writes data to the temporary file tmp (opened with O_CREATE and flag), syncs
// it and renames it to path, so that a reader sees the whole file or none; tmp is removed
// when a step fails. The spool's files and the holder record are written so.
func writeSynced(tmp, path string, data []byte, flag int) error {
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|flag, 0o600)
	if err != nil {
		return err
	}
	_, err = f.Write(data)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		_ = os.Remove(tmp)
	}
	return err
}

// StageDir is where the importer writes the payloads it stages (NewPayload.Staged): the
// spool folder, so that Seal moves them into place by renaming. A file ending in ".tmp"
// that a crash left there is removed when the ledger is opened.
func (l *Ledger) StageDir() string { return l.spool }

// adoptSpool moves a staged payload file into the spool folder under a spool name, synced
// to disk (the caller syncs the folder).
func (l *Ledger) adoptSpool(staged string) (string, error) {
	f, err := os.OpenFile(staged, os.O_RDWR, 0)
	if err != nil {
		return "", fmt.Errorf("spool: staged payload: %w", err)
	}
	err = f.Sync()
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	name := fmt.Sprintf("%d-%d-%d.xml.gz", l.now().UnixNano(), os.Getpid(), l.seq.Add(1))
	if err == nil {
		err = os.Rename(staged, filepath.Join(l.spool, name))
	}
	if err != nil {
		return "", fmt.Errorf("spool: staged payload: %w", err)
	}
	return name, nil
}

func (l *Ledger) removeSpool(names ...string) {
	for _, n := range names {
		if n != "" {
			_ = os.Remove(filepath.Join(l.spool, n))
		}
	}
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// Path is where the ledger lives.
func (l *Ledger) Path() string { return l.path }

// Close closes the ledger (a second Close does nothing). A writer first stops serving views
// and removes its holder record, while it still holds the lock: a record is never removed
// from under the next holder.
func (l *Ledger) Close() error {
	l.closed.Do(func() {
		if l.db == nil {
			return
		}
		l.stopServing()
		l.closeErr = l.db.Close()
	})
	return l.closeErr
}

// view runs fn in a read transaction, with the names of that transaction; its error names
// the ledger.
func (l *Ledger) view(fn func(tx *bolt.Tx, lookup nameLookup) error) error {
	return l.named(l.read(fn))
}

// read is view without naming the ledger in errors, for opening it (Open names it).
func (l *Ledger) read(fn func(tx *bolt.Tx, lookup nameLookup) error) error {
	if l.db == nil {
		return nil
	}
	return l.db.View(func(tx *bolt.Tx) error {
		return fn(tx, l.names.reader(tx))
	})
}

// update runs fn in a write transaction; names it adds are cached once it commits. Its
// error names the ledger.
func (l *Ledger) update(fn func(tx *bolt.Tx, w *nameTx) error) error {
	return l.named(l.write(fn))
}

// write is update without naming the ledger in errors, for opening it (Open names it).
func (l *Ledger) write(fn func(tx *bolt.Tx, w *nameTx) error) error {
	if err := l.writable(); err != nil {
		return err
	}
	var w *nameTx
	err := l.db.Update(func(tx *bolt.Tx) error {
		// Grow the file by a 32nd of its size (32 KiB to 16 MiB) rather than bbolt's
		// default (the next power of two up to 16 MiB): a small ledger would be mostly empty.
		tx.DB().AllocSize = min(max(int(tx.Size()/32), 32<<10), 16<<20)
		w = l.names.writer(tx)
		return fn(tx, w)
	})
	if err == nil {
		w.committed()
	}
	return err
}

// ledgerError is an error of the embedded ledger that names it, as the errors of a
// PostgreSQL ledger name its URL: a user with several ledgers sees which one failed.
type ledgerError struct {
	path string
	err  error
}

func (e *ledgerError) Error() string { return "ledger " + e.path + ": " + e.err.Error() }
func (e *ledgerError) Unwrap() error { return e.err }

// named is err naming the ledger, unless it does already (or is nil).
func (l *Ledger) named(err error) error {
	var le *ledgerError
	if err == nil || errors.As(err, &le) {
		return err
	}
	return &ledgerError{path: l.path, err: err}
}

func errReadOnly(path string) error {
	return &ledgerError{path: path, err: errors.New("opened read-only")}
}

// NextScan allocates the number of a new scan (used to pick out the files a run touched).
func (l *Ledger) NextScan() (uint64, error) {
	if l.readOnly {
		return 0, nil
	}
	var n uint64
	err := l.update(func(tx *bolt.Tx, _ *nameTx) error {
		meta := tx.Bucket(bucketMeta)
		if v := meta.Get(keyScan); len(v) == 8 {
			n = binary.BigEndian.Uint64(v)
		}
		n++
		return meta.Put(keyScan, itob(n))
	})
	return n, err
}

// TargetIdentity returns the identity recorded for a target name.
func (l *Ledger) TargetIdentity(name string) (uint64, bool, error) {
	var id uint64
	var ok bool
	err := l.view(func(tx *bolt.Tx, _ nameLookup) error {
		if v := tx.Bucket(bucketMeta).Get(targetKey(name)); len(v) == 8 {
			id, ok = binary.BigEndian.Uint64(v), true
		}
		return nil
	})
	return id, ok, err
}

// SetTargetIdentity records the identity of a target name.
func (l *Ledger) SetTargetIdentity(name string, identity uint64) error {
	return l.update(func(tx *bolt.Tx, _ *nameTx) error {
		return tx.Bucket(bucketMeta).Put(targetKey(name), itob(identity))
	})
}

func targetKey(name string) []byte { return []byte("target/" + name) }

// File returns the record of path, if any.
func (l *Ledger) File(path string) (File, bool, error) {
	var f File
	var ok bool
	err := l.view(func(tx *bolt.Tx, lookup nameLookup) error {
		v := tx.Bucket(bucketFiles).Get([]byte(path))
		if v == nil {
			return nil
		}
		ok = true
		var err error
		f, err = decodeFile(path, v, lookup)
		if err != nil {
			return fmt.Errorf("file record %q: %w", path, err)
		}
		return nil
	})
	return f, ok, err
}

// FilesAt returns the records of the given paths that the ledger holds, by path, in one
// read: a rescan looks its files up in batches.
//
// The paths are looked up in key order with one cursor, which steps forward to the next
// path when it is a few records on (a batch of a discovery is mostly a folder's files,
// adjacent in the bucket) and seeks from the top of the tree only otherwise.
func (l *Ledger) FilesAt(paths []string) (map[string]File, error) {
	out := make(map[string]File, len(paths))
	sorted := slices.Clone(paths)
	slices.Sort(sorted)
	err := l.view(func(tx *bolt.Tx, lookup nameLookup) error {
		c := tx.Bucket(bucketFiles).Cursor()
		var k, v []byte
		for i, path := range sorted {
			key := []byte(path)
			if i == 0 {
				k, v = c.Seek(key)
			} else {
				for step := 0; k != nil && bytes.Compare(k, key) < 0; step++ {
					if step == maxCursorSteps {
						k, v = c.Seek(key)
						break
					}
					k, v = c.Next()
				}
			}
			if k == nil || !bytes.Equal(k, key) {
				continue
			}
			f, err := decodeFile(path, v, lookup)
			if err != nil {
				return fmt.Errorf("file record %q: %w", path, err)
			}
			out[path] = f
		}
		return nil
	})
	return out, err
}

// maxCursorSteps is how far FilesAt steps its cursor forward before it seeks instead.
const maxCursorSteps = 8

// PutFiles records files (one transaction).
func (l *Ledger) PutFiles(files ...File) error {
	if len(files) == 0 {
		return nil
	}
	now := l.now()
	err := l.update(func(tx *bolt.Tx, w *nameTx) error {
		b := filesBucket(tx)
		for _, f := range files {
			f.Updated = now
			if err := putFile(b, w, &f); err != nil {
				return err
			}
		}
		return nil
	})
	if err == nil {
		l.claims.releaseFiles(filePaths(files))
	}
	return err
}

// filePaths is the paths of files, in order.
func filePaths(files []File) []string {
	out := make([]string, len(files))
	for i, f := range files {
		out[i] = f.Path
	}
	return out
}

func putFile(b *bolt.Bucket, w *nameTx, f *File) error {
	v, err := encodeFile(f, w.assign)
	if err != nil {
		return err
	}
	return b.Put([]byte(f.Path), v)
}

func putPayload(b *bolt.Bucket, w *nameTx, p *Payload) error {
	v, err := encodePayload(p, w.assign)
	if err != nil {
		return err
	}
	return b.Put(itob(p.ID), v)
}

func putBuild(b *bolt.Bucket, w *nameTx, bd *Build) error {
	v, err := encodeBuild(bd, w.assign)
	if err != nil {
		return err
	}
	return b.Put([]byte(bd.Key), v)
}

// Files calls fn for every file record in path order; fn returning false stops.
func (l *Ledger) Files(fn func(File) bool) error {
	return l.view(func(tx *bolt.Tx, lookup nameLookup) error {
		c := tx.Bucket(bucketFiles).Cursor()
		for k, v := c.First(); k != nil; k, v = c.Next() {
			f, err := decodeFile(string(k), v, lookup)
			if err != nil {
				return fmt.Errorf("file record %q: %w", k, err)
			}
			if !fn(f) {
				return nil
			}
		}
		return nil
	})
}

// NewPayload is a payload about to be written.
type NewPayload struct {
	Target string
	Build  string
	Files  []string
	Runs   int
	Data   []byte
	// Staged, used when Data is nil, is a file holding the bytes, made in the store's
	// StageDir: Seal takes it over (moves it into its spool folder, or reads and removes it),
	// so that a large report's payloads never need to be in memory together. A staged file
	// whose Seal never came is removed when the ledger is next opened (bbolt) or is a
	// temporary file the importer removes (PostgreSQL).
	Staged string
	// Bytes is the size of the staged file (Data's length when Data is given).
	Bytes int
}

// size is the stored size of the payload's bytes.
func (np NewPayload) size() int {
	if np.Data != nil || np.Staged == "" {
		return len(np.Data)
	}
	return np.Bytes
}

// data returns the payload's bytes, reading a staged file.
func (np NewPayload) data() ([]byte, error) {
	if np.Data != nil || np.Staged == "" {
		return np.Data, nil
	}
	data, err := os.ReadFile(np.Staged)
	if err != nil {
		return nil, fmt.Errorf("staged payload: %w", err)
	}
	return data, nil
}

// Seal writes payloads, the files they cover and the builds they belong to in one
// transaction, assigns the payloads their ids, and appends each payload's id to the
// records of the files it lists. It returns the new ids in order.
func (l *Ledger) Seal(payloads []NewPayload, files []File, builds []Build) ([]uint64, error) {
	if err := l.writable(); err != nil { // before the payloads are spooled
		return nil, err
	}
	ids := make([]uint64, len(payloads))
	now := l.now()
	spooled := make([]string, len(payloads))
	for i, np := range payloads {
		var name string
		var err error
		if np.Data == nil && np.Staged != "" {
			name, err = l.adoptSpool(np.Staged)
		} else {
			name, err = l.writeSpool(np.Data)
		}
		if err != nil {
			l.removeSpool(spooled...)
			return nil, l.named(err)
		}
		spooled[i] = name
	}
	if len(spooled) > 0 {
		if err := syncDir(l.spool); err != nil {
			l.removeSpool(spooled...)
			return nil, l.named(fmt.Errorf("spool: %w", err))
		}
	}
	err := l.update(func(tx *bolt.Tx, w *nameTx) error {
		pb, fb, bb := bucket(tx, bucketPayloads), filesBucket(tx), bucket(tx, bucketBuilds)
		sealed, err := sealFiles(payloads, files)
		if err != nil {
			return err
		}
		for i, np := range payloads {
			id, err := pb.NextSequence()
			if err != nil {
				return err
			}
			ids[i] = id
			p := Payload{ID: id, Target: np.Target, Build: np.Build, Files: np.Files, Runs: np.Runs,
				Bytes: np.size(), Spool: spooled[i], State: Pending, Created: now, Updated: now}
			if err := putPayload(pb, w, &p); err != nil {
				return err
			}
			for _, path := range np.Files {
				sealed[path].Payloads = append(sealed[path].Payloads, id)
			}
		}
		for _, in := range files {
			f := sealed[in.Path]
			if f == nil {
				continue // listed twice: written already
			}
			delete(sealed, in.Path)
			f.Updated = now
			if err := putFile(fb, w, f); err != nil {
				return err
			}
		}
		for _, b := range builds {
			b.Updated = now
			if err := putBuild(bb, w, &b); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		l.removeSpool(spooled...)
		return nil, err
	}
	l.claims.releaseFiles(filePaths(files))
	l.claims.claimPayloads(ids...) // the sealer sends them next
	return ids, nil
}

// sealFiles indexes the files sealed with payloads by path (copies: the ids are appended to
// them) and checks that every file a payload names is among them.
func sealFiles(payloads []NewPayload, files []File) (map[string]*File, error) {
	byPath := make(map[string]*File, len(files))
	for i := range files {
		f := files[i]
		f.Payloads = slices.Clone(f.Payloads)
		byPath[f.Path] = &f
	}
	for _, np := range payloads {
		for _, path := range np.Files {
			if _, ok := byPath[path]; !ok {
				return nil, fmt.Errorf("payload for build %s names file %s that is not sealed with it", np.Build, path)
			}
		}
	}
	return byPath, nil
}

// Payloads returns the payloads in the given states (all when none given), by id.
func (l *Ledger) Payloads(states ...PayloadState) ([]Payload, error) {
	var out []Payload
	err := l.view(func(tx *bolt.Tx, lookup nameLookup) error {
		return tx.Bucket(bucketPayloads).ForEach(func(k, v []byte) error {
			if len(states) > 0 {
				head, err := decodePayload(btoi(k), v, lookup, true)
				if err != nil {
					return fmt.Errorf("payload %d: %w", btoi(k), err)
				}
				if !slices.Contains(states, head.State) {
					return nil
				}
			}
			p, err := decodePayload(btoi(k), v, lookup, false)
			if err != nil {
				return fmt.Errorf("payload %d: %w", btoi(k), err)
			}
			out = append(out, p)
			return nil
		})
	})
	return out, err
}

// PayloadData returns the stored bytes of a payload.
func (l *Ledger) PayloadData(id uint64) ([]byte, error) {
	var p Payload
	var legacy []byte
	err := l.view(func(tx *bolt.Tx, lookup nameLookup) error {
		v := tx.Bucket(bucketPayloads).Get(itob(id))
		if v == nil {
			return fmt.Errorf("payload %d: not in the ledger", id)
		}
		var err error
		if p, err = decodePayload(id, v, lookup, true); err != nil {
			return fmt.Errorf("payload %d: %w", id, err)
		}
		if p.Spool == "" {
			if d := tx.Bucket(bucketData).Get(itob(id)); d != nil {
				legacy = bytes.Clone(d)
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if p.Spool == "" {
		if legacy == nil {
			return nil, l.named(fmt.Errorf("payload %d: no stored bytes", id))
		}
		return legacy, nil
	}
	data, err := os.ReadFile(filepath.Join(l.spool, p.Spool))
	if err != nil {
		return nil, l.named(fmt.Errorf("payload %d: %w", id, err))
	}
	return data, nil
}

// MarkSent records the task id Octane gave a payload, and moves its files to Sent when all
// their payloads are at least sent.
func (l *Ledger) MarkSent(id uint64, task, status string) error {
	return l.finishPayload(id, func(p *Payload) {
		p.State, p.Task, p.Status = PayloadSent, task, status
		p.Attempts++
	})
}

// MarkAttempt counts a send that got no usable answer (the payload stays pending).
func (l *Ledger) MarkAttempt(id uint64, errText string) error {
	return l.finishPayload(id, func(p *Payload) {
		p.Attempts++
		p.Error = errText
	})
}

// MarkDone records a payload's final outcome: accepted (success or warning) or failed, with
// Octane's task status and error details. Accepted payloads' bytes are dropped. The files it
// covers become Accepted when all their payloads are, Failed as soon as one failed.
func (l *Ledger) MarkDone(id uint64, state PayloadState, status, errText string) error {
	err := l.finishPayload(id, func(p *Payload) {
		p.State, p.Status, p.Error = state, status, errText
	})
	if err == nil {
		l.claims.releasePayloads(id)
	}
	return err
}

// Requeue puts a failed or skipped payload back in the queue with new bytes, in one
// transaction, and settles the files it covers (they go back to Parsed). It is the explicit
// retry of a payload: the same runs, in bytes that differ from the failed ones so that Octane
// does not answer with the failed task. Accepted payloads are never requeued: their runs are
// in Octane, and sending them again would duplicate them.
func (l *Ledger) Requeue(id uint64, data []byte) error {
	if err := l.writable(); err != nil { // before the bytes are spooled
		return err
	}
	name, err := l.writeSpool(data)
	if err == nil {
		err = syncDir(l.spool)
	}
	if err != nil {
		l.removeSpool(name)
		return l.named(err)
	}
	var old string
	err = l.changePayload(id, func(tx *bolt.Tx, p *Payload) error {
		if err := requeueable(p); err != nil {
			return err
		}
		old = p.Spool
		p.State, p.Task, p.Status, p.Error, p.Bytes, p.Spool = Pending, "", "", "", len(data), name
		return tx.Bucket(bucketData).Delete(itob(id))
	})
	if err != nil {
		l.removeSpool(name)
		return err
	}
	l.removeSpool(old)
	l.claims.releasePayloads(id) // queued again: free to be handed out
	return nil
}

func requeueable(p *Payload) error {
	if p.State != PayloadFailed && p.State != PayloadSkipped {
		return fmt.Errorf("payload %d is %s: only failed or skipped payloads can be sent again", p.ID, p.State)
	}
	return nil
}

func (l *Ledger) finishPayload(id uint64, change func(*Payload)) error {
	return l.changePayload(id, func(_ *bolt.Tx, p *Payload) error {
		change(p)
		return nil
	})
}

func (l *Ledger) changePayload(id uint64, change func(*bolt.Tx, *Payload) error) error {
	now := l.now()
	var drop string // spool file of a payload Octane accepted: deleted once that is on disk
	err := l.update(func(tx *bolt.Tx, w *nameTx) error {
		pb, fb := bucket(tx, bucketPayloads), filesBucket(tx)
		v := pb.Get(itob(id))
		if v == nil {
			return fmt.Errorf("payload %d: not in the ledger", id)
		}
		p, err := decodePayload(id, v, w.lookup, false)
		if err != nil {
			return fmt.Errorf("payload %d: %w", id, err)
		}
		if err := change(tx, &p); err != nil {
			return err
		}
		p.Updated = now
		if p.State == PayloadDone {
			drop, p.Spool = p.Spool, "" // its bytes go: the record no longer names them
			if err := tx.Bucket(bucketData).Delete(itob(id)); err != nil {
				return err
			}
		}
		if err := putPayload(pb, w, &p); err != nil {
			return err
		}
		// The payloads the files name, each decoded once: the files of one payload mostly
		// name the same payloads.
		payloads := map[uint64]Payload{}
		for _, path := range p.Files {
			fv := fb.Get([]byte(path))
			if fv == nil {
				continue
			}
			f, err := decodeFile(path, fv, w.lookup)
			if err != nil {
				return fmt.Errorf("file record %q: %w", path, err)
			}
			for _, id := range f.Payloads {
				if _, ok := payloads[id]; ok {
					continue
				}
				v := pb.Get(itob(id))
				if v == nil {
					continue // settleFile says so
				}
				q, err := decodePayload(id, v, w.lookup, false)
				if err != nil {
					return fmt.Errorf("payload %d: %w", id, err)
				}
				payloads[id] = q
			}
			if err := settleFile(&f, payloads); err != nil {
				return err
			}
			f.Updated = now
			if err := putFile(fb, w, &f); err != nil {
				return err
			}
		}
		return nil
	})
	if err == nil {
		l.removeSpool(drop)
	}
	return err
}

// settleFile derives a file's state from its payloads (by id).
func settleFile(f *File, payloads map[uint64]Payload) error {
	if f.State == Failed && f.Error != "" && len(f.Payloads) == 0 {
		return nil
	}
	all := Accepted
	var task, status, errs string
	for _, id := range f.Payloads {
		p, ok := payloads[id]
		if !ok {
			return fmt.Errorf("file %s names payload %d, which is not in the ledger", f.Path, id)
		}
		if task == "" || p.Task != "" {
			task, status = p.Task, p.Status
		}
		switch p.State {
		case PayloadFailed, PayloadSkipped:
			all = Failed
			if errs == "" {
				errs = p.Error
			}
		case Pending:
			if all != Failed {
				all = Parsed
			}
		case PayloadSent:
			if all == Accepted {
				all = Sent
			}
		}
	}
	f.State, f.Task, f.Status = all, task, status
	if all == Failed {
		f.Error = errs
	} else {
		f.Error = ""
	}
	return nil
}

// PutBuilds records builds.
func (l *Ledger) PutBuilds(builds ...Build) error {
	now := l.now()
	return l.update(func(tx *bolt.Tx, w *nameTx) error {
		b := bucket(tx, bucketBuilds)
		for _, bd := range builds {
			bd.Updated = now
			if err := putBuild(b, w, &bd); err != nil {
				return err
			}
		}
		return nil
	})
}

// Build returns the record of a build.
func (l *Ledger) Build(key string) (Build, bool, error) {
	var bd Build
	var ok bool
	err := l.view(func(tx *bolt.Tx, lookup nameLookup) error {
		v := tx.Bucket(bucketBuilds).Get([]byte(key))
		if v == nil {
			return nil
		}
		ok = true
		var err error
		if bd, err = decodeBuild(key, v, lookup); err != nil {
			return fmt.Errorf("build %q: %w", key, err)
		}
		return nil
	})
	return bd, ok, err
}

// Builds returns the builds in the given states (all when none), oldest start first.
func (l *Ledger) Builds(states ...BuildState) ([]Build, error) {
	var out []Build
	err := l.view(func(tx *bolt.Tx, lookup nameLookup) error {
		return tx.Bucket(bucketBuilds).ForEach(func(k, v []byte) error {
			b, err := decodeBuild(string(k), v, lookup)
			if err != nil {
				return fmt.Errorf("build %q: %w", k, err)
			}
			if len(states) == 0 || slices.Contains(states, b.State) {
				out = append(out, b)
			}
			return nil
		})
	})
	sortBuilds(out)
	return out, err
}

func sortBuilds(out []Build) {
	sort.SliceStable(out, func(i, j int) bool {
		if !out[i].Start.Equal(out[j].Start) {
			return out[i].Start.Before(out[j].Start)
		}
		return out[i].Key < out[j].Key
	})
}

// Summary counts files by state and payloads by state.
type Summary struct {
	Files    map[FileState]int    `json:"files"`
	Payloads map[PayloadState]int `json:"payloads"`
	Builds   map[BuildState]int   `json:"builds"`
	Runs     Counts               `json:"runs"` // runs of accepted files
}

func newSummary() Summary {
	return Summary{Files: map[FileState]int{}, Payloads: map[PayloadState]int{}, Builds: map[BuildState]int{}}
}

// Summarize counts what the ledger holds.
func (l *Ledger) Summarize() (Summary, error) {
	s := newSummary()
	err := l.view(func(tx *bolt.Tx, lookup nameLookup) error {
		if err := tx.Bucket(bucketFiles).ForEach(func(k, v []byte) error {
			f, err := decodeFile(string(k), v, lookup)
			if err != nil {
				return fmt.Errorf("file record %q: %w", k, err)
			}
			s.Files[f.State]++
			if f.State == Accepted {
				s.Runs.Add(f.Runs)
			}
			return nil
		}); err != nil {
			return err
		}
		if err := tx.Bucket(bucketPayloads).ForEach(func(k, v []byte) error {
			p, err := decodePayload(btoi(k), v, lookup, true)
			if err != nil {
				return fmt.Errorf("payload %d: %w", btoi(k), err)
			}
			s.Payloads[p.State]++
			return nil
		}); err != nil {
			return err
		}
		return tx.Bucket(bucketBuilds).ForEach(func(k, v []byte) error {
			b, err := decodeBuild(string(k), v, lookup)
			if err != nil {
				return fmt.Errorf("build %q: %w", k, err)
			}
			s.Builds[b.State]++
			return nil
		})
	})
	return s, err
}

// filesBucket is the files bucket set up for writing. Files arrive mostly in path order (the
// walk's), so pages are split nearly full: half-empty pages would double the ledger, and a
// rescan reads all of it.
func filesBucket(tx *bolt.Tx) *bolt.Bucket { return bucket(tx, bucketFiles) }

// bucket is a bucket set up for writing: pages split 90 % full (bbolt's default is half),
// since keys mostly arrive in order (payload and name ids always do, files in the walk's
// order, builds oldest first).
func bucket(tx *bolt.Tx, name []byte) *bolt.Bucket {
	b := tx.Bucket(name)
	b.FillPercent = 0.9
	return b
}

func itob(n uint64) []byte {
	b := make([]byte, 8)
	binary.BigEndian.PutUint64(b, n)
	return b
}

func btoi(b []byte) uint64 {
	if len(b) != 8 {
		return 0
	}
	return binary.BigEndian.Uint64(b)
}
