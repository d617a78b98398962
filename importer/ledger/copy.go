package ledger

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/jackc/pgx/v5"
	bolt "go.etcd.io/bbolt"
)

// Copied counts what Copy moved.
type Copied struct {
	Files, Payloads, Builds int
	Bytes                   int64 // payload bytes (queued, failed and skipped payloads; accepted ones have none)
}

// Copy moves the embedded ledger at from (a bbolt file, either schema) into the PostgreSQL
// ledger at to, which must hold nothing yet: every file, payload (with its bytes from the
// spool), build, the scan counter and the payload ids, so that the importer goes on where
// it stopped, without importing anything again (`octane-import ledger copy --from FILE --to
// URL`). It reads the embedded ledger read-only, under its shared lock, so no scan or watch
// can change it meanwhile (one holding it makes Copy fail with a *LockedError), and writes
// everything in one transaction: on any error the PostgreSQL ledger is left as it was.
// Afterwards it checks that both ledgers count the same. The embedded ledger is left as it
// is; stop using it (point --state at the URL).
func Copy(ctx context.Context, from, to string) (Copied, error) {
	var c Copied
	if _, err := os.Stat(from); err != nil {
		return c, fmt.Errorf("ledger copy: %w", err)
	}
	if !IsURL(to) {
		return c, fmt.Errorf("ledger copy: %s is not a postgres:// URL", RedactURLs(to))
	}
	src, err := Open(from, Options{ReadOnly: true})
	if err != nil {
		return c, err
	}
	defer src.Close()
	dst, err := OpenPostgres(ctx, to, Options{})
	if err != nil {
		return c, err
	}
	defer dst.Close()
	scan, seq, err := src.counters()
	if err != nil {
		return c, err
	}
	err = dst.tx(ctx, "copying "+from, func(tx pgx.Tx) error {
		var n int64
		if err := tx.QueryRow(ctx, `SELECT (SELECT count(*) FROM octane_import.files) + (SELECT count(*) FROM octane_import.payloads)
			+ (SELECT count(*) FROM octane_import.builds)`).Scan(&n); err != nil {
			return err
		}
		if n > 0 {
			return &dbError{msg: fmt.Sprintf("it already holds %d records: copy into a ledger that holds nothing", n)}
		}
		if err := copyFiles(ctx, tx, src, &c); err != nil {
			return err
		}
		if err := copyPayloads(ctx, tx, src, &c); err != nil {
			return err
		}
		builds, err := src.Builds()
		if err != nil {
			return err
		}
		c.Builds = len(builds)
		b := &pgx.Batch{}
		for i := 0; i < len(builds); i += 1000 {
			upsertBuilds(b, builds[i:min(i+1000, len(builds))])
		}
		b.Queue(`UPDATE octane_import.meta SET value = $1 WHERE key = 'scan'`, int64(scan))
		// The next block of ids starts after the embedded ledger's last id (the sequence counts
		// in blocks: see payloadIDs).
		b.Queue(`SELECT setval('octane_import.payload_ids', m) FROM (
			SELECT greatest($1::bigint, (SELECT coalesce(max(id), 0) FROM octane_import.payloads)) AS m) t WHERE m > 0`, int64(seq))
		return tx.SendBatch(ctx, b).Close()
	})
	if err != nil {
		return c, err
	}
	want, err := src.Summarize()
	if err != nil {
		return c, err
	}
	got, err := dst.Summarize()
	if err != nil {
		return c, err
	}
	if fmt.Sprint(want) != fmt.Sprint(got) {
		return c, fmt.Errorf("ledger copy: %s counts %v after the copy, %s %v", dst.Path(), got, from, want)
	}
	return c, nil
}

// counters are the embedded ledger's last scan number and last payload id.
func (l *Ledger) counters() (scan, payloadSeq uint64, err error) {
	err = l.view(func(tx *bolt.Tx, _ nameLookup) error {
		if v := tx.Bucket(bucketMeta).Get(keyScan); len(v) == 8 {
			scan = btoi(v)
		}
		payloadSeq = tx.Bucket(bucketPayloads).Sequence()
		return nil
	})
	return scan, payloadSeq, err
}

// copyFiles streams the file records into the files table (COPY), reading them in a
// goroutine so that only a few are in memory at once.
func copyFiles(ctx context.Context, tx pgx.Tx, src *Ledger, c *Copied) error {
	rows := make(chan []any, 256)
	errc := make(chan error, 1)
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() {
		defer close(rows)
		errc <- src.Files(func(f File) bool {
			select {
			case rows <- []any{f.Path, f.Root, f.Size, f.ModTime, f.Hash, string(f.State), f.Rule, f.Target, f.Build, int64s(f.Payloads),
				f.Task, f.Status, int32(f.Runs.Passed), int32(f.Runs.Failed), int32(f.Runs.Skipped), f.Error,
				int32(f.Attempt), int64(f.Scan), nanos(f.Updated)}:
				return true
			case <-ctx.Done():
				return false
			}
		})
	}()
	n, err := tx.CopyFrom(ctx, pgx.Identifier{pgSchema, "files"}, columns(fileCols), pgx.CopyFromFunc(func() ([]any, error) {
		row, ok := <-rows
		if !ok {
			return nil, nil
		}
		return row, nil
	}))
	cancel()
	for range rows {
	}
	if rerr := <-errc; err == nil && rerr != nil && !errors.Is(rerr, context.Canceled) {
		err = rerr
	}
	c.Files = int(n)
	return err
}

// copyPayloads copies the payload records with their bytes; those of payloads not yet
// accepted must be in the spool (a queued payload without its bytes could never be sent).
func copyPayloads(ctx context.Context, tx pgx.Tx, src *Ledger, c *Copied) error {
	ps, err := src.Payloads()
	if err != nil {
		return err
	}
	i := 0
	n, err := tx.CopyFrom(ctx, pgx.Identifier{pgSchema, "payloads"},
		[]string{"id", "target", "build", "files", "runs", "bytes", "data", "state", "task", "task_status", "error", "attempts", "created", "updated"},
		pgx.CopyFromFunc(func() ([]any, error) {
			if i == len(ps) {
				return nil, nil
			}
			p := ps[i]
			i++
			var data []byte
			if p.State != PayloadDone {
				d, err := src.PayloadData(p.ID)
				if err != nil {
					return nil, fmt.Errorf("the bytes of %s payload %d are missing: %w", p.State, p.ID, err)
				}
				data = d
				c.Bytes += int64(len(d))
			}
			return []any{int64(p.ID), p.Target, p.Build, nonNil(p.Files), int32(p.Runs), int32(p.Bytes), data, string(p.State),
				p.Task, p.Status, p.Error, int32(p.Attempts), nanos(p.Created), nanos(p.Updated)}, nil
		}))
	c.Payloads = int(n)
	return err
}

func columns(list string) []string {
	parts := strings.Split(list, ",")
	for i := range parts {
		parts[i] = strings.TrimSpace(parts[i])
	}
	return parts
}
