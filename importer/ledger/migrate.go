package ledger

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	bolt "go.etcd.io/bbolt"
)

// migrate rewrites a schema-1 ledger (JSON records) as schema 2 (binary records, shared
// names) into a new file, and puts that file in the old one's place. A new file rather than
// records rewritten in place, because bbolt never gives pages back: a ledger of 100,000 files
// would stay 100 MB while holding 25.
//
// Crash safety: the new file is written beside the old one (path + ".migrating", removed by
// the next attempt if a crash left it) and renamed over it only once complete and synced, so
// the file at path is always a whole ledger of one schema or the other. The new file is
// opened, and so locked, before the rename: no other process can take the ledger between the
// rename and this one using it. A process that waited for the old file's lock finds, once it
// gets it, that the file at path is another one and opens that (openBolt). Before closing
// the old file, its version is set to 2, so that an older octane-import that waited for it
// refuses it instead of writing to a file no one will read again.
func (l *Ledger) migrate() error {
	tmp := l.path + ".migrating"
	if err := os.Remove(tmp); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	ndb, err := bolt.Open(tmp, 0o600, &bolt.Options{Timeout: time.Second})
	if err != nil {
		return fmt.Errorf("migrating to schema %s: %w", schemaVersion, err)
	}
	fail := func(err error) error {
		ndb.Close()
		os.Remove(tmp)
		return fmt.Errorf("migrating to schema %s: %w", schemaVersion, err)
	}
	old := l.db
	l.db = ndb // update() writes to the new file from here on
	if err := l.init(); err != nil {
		l.db = old
		return fail(err)
	}
	err = l.copyFrom(old)
	l.db = old
	if err != nil {
		return fail(err)
	}
	if err := ndb.Sync(); err != nil {
		return fail(err)
	}
	if err := os.Rename(tmp, l.path); err != nil {
		return fail(err)
	}
	if err := syncDir(filepath.Dir(l.path)); err != nil {
		// The rename happened; whether it survives a power cut is the file system's call.
		_ = err
	}
	_ = old.Update(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketMeta).Put(keyVersion, []byte(schemaVersion))
	})
	old.Close()
	l.db = ndb
	return nil
}

// migrateBatch is how many records one transaction of the migration writes.
const migrateBatch = 4096

// copyFrom copies every record of src (either schema) into l, re-encoded, keeping each
// record's own Updated time, the payload and scan counters, and pre-spool payload bytes.
func (l *Ledger) copyFrom(src *bolt.DB) error {
	return src.View(func(stx *bolt.Tx) error {
		lookup := l.names.reader(stx)
		if err := l.copyBucket(stx, bucketFiles, func(w *nameTx, dst *bolt.Bucket, k, v []byte) error {
			f, err := decodeFile(string(k), v, lookup)
			if err != nil {
				return fmt.Errorf("file record %q: %w", k, err)
			}
			f.Path = string(k)
			return putFile(dst, w, &f)
		}); err != nil {
			return err
		}
		if err := l.copyBucket(stx, bucketPayloads, func(w *nameTx, dst *bolt.Bucket, k, v []byte) error {
			p, err := decodePayload(btoi(k), v, lookup, false)
			if err != nil {
				return fmt.Errorf("payload %d: %w", btoi(k), err)
			}
			p.ID = btoi(k)
			return putPayload(dst, w, &p)
		}); err != nil {
			return err
		}
		if err := l.copyBucket(stx, bucketBuilds, func(w *nameTx, dst *bolt.Bucket, k, v []byte) error {
			bd, err := decodeBuild(string(k), v, lookup)
			if err != nil {
				return fmt.Errorf("build %q: %w", k, err)
			}
			bd.Key = string(k)
			return putBuild(dst, w, &bd)
		}); err != nil {
			return err
		}
		if err := l.copyBucket(stx, bucketData, func(_ *nameTx, dst *bolt.Bucket, k, v []byte) error {
			return dst.Put(bytes.Clone(k), bytes.Clone(v))
		}); err != nil {
			return err
		}
		return l.write(func(tx *bolt.Tx, _ *nameTx) error {
			if seq := stx.Bucket(bucketPayloads).Sequence(); seq > 0 {
				if err := tx.Bucket(bucketPayloads).SetSequence(seq); err != nil {
					return err
				}
			}
			if v := stx.Bucket(bucketMeta).Get(keyScan); v != nil {
				return tx.Bucket(bucketMeta).Put(keyScan, bytes.Clone(v))
			}
			return nil
		})
	})
}

// copyBucket calls put for every record of the bucket name in src, writing migrateBatch
// records per transaction of l. The files bucket is filled in key order, so its pages are
// filled to the brim.
func (l *Ledger) copyBucket(src *bolt.Tx, name []byte, put func(w *nameTx, dst *bolt.Bucket, k, v []byte) error) error {
	sb := src.Bucket(name)
	if sb == nil {
		return nil
	}
	c := sb.Cursor()
	k, v := c.First()
	for k != nil {
		err := l.write(func(tx *bolt.Tx, w *nameTx) error {
			dst := tx.Bucket(name)
			dst.FillPercent = 1
			for n := 0; k != nil && n < migrateBatch; n++ {
				if err := put(w, dst, k, v); err != nil {
					return err
				}
				k, v = c.Next()
			}
			return nil
		})
		if err != nil {
			return err
		}
	}
	return nil
}
