// Package ledger is octane-import's on-disk memory: for every file it has seen, its identity
// (path, size, mtime, content hash), the build it went to and how far it got; for every
// test-results payload, the exact bytes to send and what Octane answered.
//
// It is a single bbolt file. Every change is one fsync'd transaction, so a kill -9 leaves
// the ledger as it was after the last completed step: a payload is written (with the files
// it covers) before it is sent, and its task id after. A payload whose send had no recorded
// answer is sent again byte for byte, which Octane deduplicates.
package ledger

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
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
// more files. Its bytes live in a file of the spool folder beside the ledger (written and
// synced before the payload's record commits), and are deleted once Octane accepted them:
// kept out of the bbolt file, they never sit in its memory map, so a backfill's memory does
// not grow with the bytes it has queued.
type Payload struct {
	ID       uint64       `json:"id"`
	Target   string       `json:"target"`
	Build    string       `json:"build"`
	Files    []string     `json:"files"`
	Runs     int          `json:"runs"`
	Bytes    int          `json:"bytes"`
	Spool    string       `json:"spool,omitempty"` // the file in the spool folder holding its bytes
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
	bucketData     = []byte("payload-data")
	bucketBuilds   = []byte("builds")
	bucketMeta     = []byte("meta")
	keyVersion     = []byte("version")
	keyScan        = []byte("scan")
)

const schemaVersion = "1"

// ErrLocked is returned by Open when another process holds the ledger.
var ErrLocked = errors.New("the ledger is in use by another octane-import process")

// Ledger is an open ledger. It is safe for concurrent use.
type Ledger struct {
	db       *bolt.DB
	path     string
	spool    string // folder of payload bytes: path + ".spool"
	seq      atomic.Uint64
	readOnly bool
	now      func() time.Time
}

// Options tune Open.
type Options struct {
	ReadOnly bool          // open for reading only (dry runs, status); a missing file is an empty ledger
	Timeout  time.Duration // how long to wait for another process's lock; default 2s
}

// Open opens or creates the ledger at path.
func Open(path string, opt Options) (*Ledger, error) {
	if opt.Timeout == 0 {
		opt.Timeout = 2 * time.Second
	}
	l := &Ledger{path: path, spool: path + ".spool", readOnly: opt.ReadOnly, now: time.Now}
	if opt.ReadOnly {
		if _, err := os.Stat(path); errors.Is(err, os.ErrNotExist) {
			return l, nil // nothing recorded yet
		}
	} else if dir := filepath.Dir(path); dir != "" {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return nil, fmt.Errorf("ledger %s: %w", path, err)
		}
	}
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: opt.Timeout, ReadOnly: opt.ReadOnly})
	if err != nil {
		if errors.Is(err, berrors.ErrTimeout) {
			return nil, fmt.Errorf("ledger %s: %w", path, ErrLocked)
		}
		return nil, fmt.Errorf("ledger %s: %w", path, err)
	}
	l.db = db
	if opt.ReadOnly {
		return l, l.checkVersion()
	}
	err = db.Update(func(tx *bolt.Tx) error {
		for _, b := range [][]byte{bucketFiles, bucketPayloads, bucketData, bucketBuilds, bucketMeta} {
			if _, err := tx.CreateBucketIfNotExists(b); err != nil {
				return err
			}
		}
		meta := tx.Bucket(bucketMeta)
		if v := meta.Get(keyVersion); v == nil {
			return meta.Put(keyVersion, []byte(schemaVersion))
		}
		return nil
	})
	if err == nil {
		err = l.checkVersion()
	}
	if err == nil {
		err = l.cleanSpool()
	}
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("ledger %s: %w", path, err)
	}
	return l, nil
}

// cleanSpool creates the spool folder and removes what a crash left in it: half-written
// files, and files whose payload record never committed or was settled.
func (l *Ledger) cleanSpool() error {
	if err := os.MkdirAll(l.spool, 0o700); err != nil {
		return err
	}
	keep := map[string]bool{}
	err := l.view(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketPayloads).ForEach(func(_, v []byte) error {
			var p Payload
			if err := json.Unmarshal(v, &p); err != nil {
				return err
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
	tmp := filepath.Join(l.spool, name+".tmp")
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return "", err
	}
	_, err = f.Write(data)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, filepath.Join(l.spool, name))
	}
	if err != nil {
		_ = os.Remove(tmp)
		return "", fmt.Errorf("spool: %w", err)
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

func (l *Ledger) checkVersion() error {
	return l.view(func(tx *bolt.Tx) error {
		meta := tx.Bucket(bucketMeta)
		if meta == nil {
			return fmt.Errorf("ledger %s: not an octane-import ledger (no meta bucket)", l.path)
		}
		if v := string(meta.Get(keyVersion)); v != schemaVersion {
			return fmt.Errorf("ledger %s: schema version %q, this octane-import reads %q", l.path, v, schemaVersion)
		}
		return nil
	})
}

// Path is where the ledger lives.
func (l *Ledger) Path() string { return l.path }

// Close closes the ledger.
func (l *Ledger) Close() error {
	if l.db == nil {
		return nil
	}
	return l.db.Close()
}

func (l *Ledger) view(fn func(tx *bolt.Tx) error) error {
	if l.db == nil {
		return nil
	}
	return l.db.View(fn)
}

func (l *Ledger) update(fn func(tx *bolt.Tx) error) error {
	if l.db == nil || l.readOnly {
		return fmt.Errorf("ledger %s: opened read-only", l.path)
	}
	return l.db.Update(fn)
}

// NextScan allocates the number of a new scan (used to pick out the files a run touched).
func (l *Ledger) NextScan() (uint64, error) {
	if l.readOnly {
		return 0, nil
	}
	var n uint64
	err := l.update(func(tx *bolt.Tx) error {
		meta := tx.Bucket(bucketMeta)
		if v := meta.Get(keyScan); len(v) == 8 {
			n = binary.BigEndian.Uint64(v)
		}
		n++
		return meta.Put(keyScan, itob(n))
	})
	return n, err
}

// File returns the record of path, if any.
func (l *Ledger) File(path string) (File, bool, error) {
	var f File
	var ok bool
	err := l.view(func(tx *bolt.Tx) error {
		v := tx.Bucket(bucketFiles).Get([]byte(path))
		if v == nil {
			return nil
		}
		ok = true
		return json.Unmarshal(v, &f)
	})
	return f, ok, err
}

// PutFiles records files (one transaction).
func (l *Ledger) PutFiles(files ...File) error {
	if len(files) == 0 {
		return nil
	}
	now := l.now()
	return l.update(func(tx *bolt.Tx) error {
		b := filesBucket(tx)
		for _, f := range files {
			f.Updated = now
			if err := putJSON(b, []byte(f.Path), f); err != nil {
				return err
			}
		}
		return nil
	})
}

// Files calls fn for every file record in path order; fn returning false stops.
func (l *Ledger) Files(fn func(File) bool) error {
	return l.view(func(tx *bolt.Tx) error {
		c := tx.Bucket(bucketFiles).Cursor()
		for k, v := c.First(); k != nil; k, v = c.Next() {
			var f File
			if err := json.Unmarshal(v, &f); err != nil {
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
}

// Seal writes payloads, the files they cover and the builds they belong to in one
// transaction, assigns the payloads their ids, and appends each payload's id to the
// records of the files it lists. It returns the new ids in order.
func (l *Ledger) Seal(payloads []NewPayload, files []File, builds []Build) ([]uint64, error) {
	if l.readOnly || l.db == nil {
		return nil, fmt.Errorf("ledger %s: opened read-only", l.path)
	}
	ids := make([]uint64, len(payloads))
	now := l.now()
	spooled := make([]string, len(payloads))
	for i, np := range payloads {
		name, err := l.writeSpool(np.Data)
		if err != nil {
			l.removeSpool(spooled...)
			return nil, err
		}
		spooled[i] = name
	}
	if len(spooled) > 0 {
		if err := syncDir(l.spool); err != nil {
			l.removeSpool(spooled...)
			return nil, fmt.Errorf("spool: %w", err)
		}
	}
	err := l.update(func(tx *bolt.Tx) error {
		pb, fb, bb := tx.Bucket(bucketPayloads), filesBucket(tx), tx.Bucket(bucketBuilds)
		byPath := make(map[string]*File, len(files))
		for i := range files {
			byPath[files[i].Path] = &files[i]
		}
		for i, np := range payloads {
			id, err := pb.NextSequence()
			if err != nil {
				return err
			}
			ids[i] = id
			p := Payload{ID: id, Target: np.Target, Build: np.Build, Files: np.Files, Runs: np.Runs,
				Bytes: len(np.Data), Spool: spooled[i], State: Pending, Created: now, Updated: now}
			if err := putJSON(pb, itob(id), p); err != nil {
				return err
			}
			for _, path := range np.Files {
				f, ok := byPath[path]
				if !ok {
					return fmt.Errorf("payload for build %s names file %s that is not sealed with it", np.Build, path)
				}
				f.Payloads = append(f.Payloads, id)
			}
		}
		for _, f := range files {
			f.Updated = now
			if err := putJSON(fb, []byte(f.Path), f); err != nil {
				return err
			}
		}
		for _, b := range builds {
			b.Updated = now
			if err := putJSON(bb, []byte(b.Key), b); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		l.removeSpool(spooled...)
		return nil, err
	}
	return ids, nil
}

// Payloads returns the payloads in the given states (all when none given), by id.
func (l *Ledger) Payloads(states ...PayloadState) ([]Payload, error) {
	var out []Payload
	err := l.view(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketPayloads).ForEach(func(k, v []byte) error {
			var p Payload
			if err := json.Unmarshal(v, &p); err != nil {
				return fmt.Errorf("payload %d: %w", btoi(k), err)
			}
			if len(states) == 0 || slices.Contains(states, p.State) {
				out = append(out, p)
			}
			return nil
		})
	})
	return out, err
}

// PayloadData returns the stored bytes of a payload.
func (l *Ledger) PayloadData(id uint64) ([]byte, error) {
	var p Payload
	var legacy []byte
	err := l.view(func(tx *bolt.Tx) error {
		v := tx.Bucket(bucketPayloads).Get(itob(id))
		if v == nil {
			return fmt.Errorf("payload %d: not in the ledger", id)
		}
		if err := json.Unmarshal(v, &p); err != nil {
			return err
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
			return nil, fmt.Errorf("payload %d: no stored bytes", id)
		}
		return legacy, nil
	}
	data, err := os.ReadFile(filepath.Join(l.spool, p.Spool))
	if err != nil {
		return nil, fmt.Errorf("payload %d: %w", id, err)
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
	return l.finishPayload(id, func(p *Payload) {
		p.State, p.Status, p.Error = state, status, errText
	})
}

// Requeue puts a failed or skipped payload back in the queue with new bytes, in one
// transaction, and settles the files it covers (they go back to Parsed). It is the explicit
// retry of a payload: the same runs, in bytes that differ from the failed ones so that Octane
// does not answer with the failed task. Accepted payloads are never requeued: their runs are
// in Octane, and sending them again would duplicate them.
func (l *Ledger) Requeue(id uint64, data []byte) error {
	if l.readOnly || l.db == nil {
		return fmt.Errorf("ledger %s: opened read-only", l.path)
	}
	name, err := l.writeSpool(data)
	if err == nil {
		err = syncDir(l.spool)
	}
	if err != nil {
		l.removeSpool(name)
		return err
	}
	var old string
	err = l.changePayload(id, func(tx *bolt.Tx, p *Payload) error {
		if p.State != PayloadFailed && p.State != PayloadSkipped {
			return fmt.Errorf("payload %d is %s: only failed or skipped payloads can be sent again", id, p.State)
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
	err := l.update(func(tx *bolt.Tx) error {
		pb, fb := tx.Bucket(bucketPayloads), filesBucket(tx)
		var p Payload
		v := pb.Get(itob(id))
		if v == nil {
			return fmt.Errorf("payload %d: not in the ledger", id)
		}
		if err := json.Unmarshal(v, &p); err != nil {
			return err
		}
		if err := change(tx, &p); err != nil {
			return err
		}
		p.Updated = now
		if err := putJSON(pb, itob(id), p); err != nil {
			return err
		}
		if p.State == PayloadDone {
			drop = p.Spool
			if err := tx.Bucket(bucketData).Delete(itob(id)); err != nil {
				return err
			}
		}
		for _, path := range p.Files {
			var f File
			fv := fb.Get([]byte(path))
			if fv == nil {
				continue
			}
			if err := json.Unmarshal(fv, &f); err != nil {
				return err
			}
			if err := settleFile(pb, &f); err != nil {
				return err
			}
			f.Updated = now
			if err := putJSON(fb, []byte(path), f); err != nil {
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

// settleFile derives a file's state from its payloads.
func settleFile(pb *bolt.Bucket, f *File) error {
	if f.State == Failed && f.Error != "" && len(f.Payloads) == 0 {
		return nil
	}
	all := Accepted
	var task, status, errs string
	for _, id := range f.Payloads {
		var p Payload
		v := pb.Get(itob(id))
		if v == nil {
			return fmt.Errorf("file %s names payload %d, which is not in the ledger", f.Path, id)
		}
		if err := json.Unmarshal(v, &p); err != nil {
			return err
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
	return l.update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketBuilds)
		for _, bd := range builds {
			bd.Updated = now
			if err := putJSON(b, []byte(bd.Key), bd); err != nil {
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
	err := l.view(func(tx *bolt.Tx) error {
		v := tx.Bucket(bucketBuilds).Get([]byte(key))
		if v == nil {
			return nil
		}
		ok = true
		return json.Unmarshal(v, &bd)
	})
	return bd, ok, err
}

// Builds returns the builds in the given states (all when none), oldest start first.
func (l *Ledger) Builds(states ...BuildState) ([]Build, error) {
	var out []Build
	err := l.view(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketBuilds).ForEach(func(k, v []byte) error {
			var b Build
			if err := json.Unmarshal(v, &b); err != nil {
				return fmt.Errorf("build %q: %w", k, err)
			}
			if len(states) == 0 || slices.Contains(states, b.State) {
				out = append(out, b)
			}
			return nil
		})
	})
	sort.SliceStable(out, func(i, j int) bool {
		if !out[i].Start.Equal(out[j].Start) {
			return out[i].Start.Before(out[j].Start)
		}
		return out[i].Key < out[j].Key
	})
	return out, err
}

// Summary counts files by state and payloads by state.
type Summary struct {
	Files    map[FileState]int    `json:"files"`
	Payloads map[PayloadState]int `json:"payloads"`
	Builds   map[BuildState]int   `json:"builds"`
	Runs     Counts               `json:"runs"` // runs of accepted files
}

// Summarize counts what the ledger holds.
func (l *Ledger) Summarize() (Summary, error) {
	s := Summary{Files: map[FileState]int{}, Payloads: map[PayloadState]int{}, Builds: map[BuildState]int{}}
	err := l.view(func(tx *bolt.Tx) error {
		if err := tx.Bucket(bucketFiles).ForEach(func(k, v []byte) error {
			var f File
			if err := json.Unmarshal(v, &f); err != nil {
				return err
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
			var p Payload
			if err := json.Unmarshal(v, &p); err != nil {
				return err
			}
			s.Payloads[p.State]++
			return nil
		}); err != nil {
			return err
		}
		return tx.Bucket(bucketBuilds).ForEach(func(k, v []byte) error {
			var b Build
			if err := json.Unmarshal(v, &b); err != nil {
				return err
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
func filesBucket(tx *bolt.Tx) *bolt.Bucket {
	b := tx.Bucket(bucketFiles)
	b.FillPercent = 0.9
	return b
}

func putJSON(b *bolt.Bucket, key []byte, v any) error {
	data, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return b.Put(key, data)
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
