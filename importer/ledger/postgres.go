package ledger

import (
	"cmp"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"maps"
	mrand "math/rand/v2"
	"net"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
)

// Postgres is a ledger in a PostgreSQL database (tables in the schema octane_import), which
// several instances on several machines share: the files, payloads (bytes included) and
// builds of the embedded ledger, plus the instances' heartbeat rows and their claims. Open
// it with OpenPostgres (or OpenStore with a postgres:// URL). It is safe for concurrent use.
//
// Every method is one transaction (READ COMMITTED, with the rows it changes locked FOR
// UPDATE in path or id order, so that concurrent instances neither lose an update nor
// deadlock). Methods without a context give up after Options.CallTimeout. Errors name the
// ledger by its URL with the password replaced by xxxxx, and carry PostgreSQL's own message;
// those of a database that cannot be reached are ErrUnavailable.
type Postgres struct {
	pool     *pgxpool.Pool
	url      string // redacted
	secret   string // the password, never shown: removed from every error message
	readOnly bool
	opt      Options

	mu   sync.Mutex
	inst Instance
	ids  []uint64 // payload ids allocated to this instance, not yet used

	// owed holds the claims this instance gave up while the database was unavailable: the
	// next heartbeat releases them before it renews the rest (else it would renew them for
	// as long as the instance lives, and nobody would send those payloads). It also keeps
	// ClaimFiles and a heartbeat's releasing apart.
	owed struct {
		sync.Mutex
		files    map[string]bool
		payloads map[uint64]bool
	}
	lastBeat time.Time // when the claims were last renewed (under mu)

	stop      chan struct{}
	beating   sync.WaitGroup
	closeOnce sync.Once
}

const pgSchema = "octane_import"

// pgMigrations are the schema versions, in order: migration i takes the schema from version
// i to i+1. Never edit one that shipped; add a new one.
var pgMigrations = []string{
	// 1: the ledger, claims and heartbeats.
	`CREATE TABLE octane_import.meta (key text PRIMARY KEY, value bigint NOT NULL);
	INSERT INTO octane_import.meta VALUES ('scan', 0);
	CREATE SEQUENCE octane_import.payload_ids START WITH 64 INCREMENT BY 64;
	CREATE TABLE octane_import.files (
		path text COLLATE "C" PRIMARY KEY,
		root text NOT NULL, size bigint NOT NULL, mtime bigint NOT NULL, hash text NOT NULL,
		state text NOT NULL, rule text NOT NULL, target text NOT NULL, build text NOT NULL,
		payloads bigint[] NOT NULL, task text NOT NULL, task_status text NOT NULL,
		passed integer NOT NULL, failed integer NOT NULL, skipped integer NOT NULL,
		error text NOT NULL, attempt integer NOT NULL, scan bigint NOT NULL, updated bigint);
	CREATE INDEX files_unsettled ON octane_import.files (state) WHERE state NOT IN ('accepted', 'empty');
	CREATE TABLE octane_import.payloads (
		id bigint PRIMARY KEY, target text NOT NULL, build text NOT NULL, files text[] NOT NULL,
		runs integer NOT NULL, bytes integer NOT NULL, data bytea,
		state text NOT NULL, task text NOT NULL, task_status text NOT NULL, error text NOT NULL,
		attempts integer NOT NULL, created bigint, updated bigint,
		claimed_by text, claim_expires timestamptz);
	ALTER TABLE octane_import.payloads ALTER COLUMN data SET STORAGE EXTERNAL;
	CREATE INDEX payloads_queued ON octane_import.payloads (id) WHERE state IN ('pending', 'sent');
	CREATE INDEX payloads_claimed ON octane_import.payloads (claimed_by) WHERE claimed_by IS NOT NULL;
	CREATE TABLE octane_import.builds (
		key text COLLATE "C" PRIMARY KEY, target text NOT NULL, start bigint, spec bytea,
		state text NOT NULL, error text NOT NULL,
		passed integer NOT NULL, failed integer NOT NULL, skipped integer NOT NULL, updated bigint);
	CREATE TABLE octane_import.file_claims (
		path text COLLATE "C" PRIMARY KEY, instance text NOT NULL, expires timestamptz NOT NULL);
	CREATE INDEX file_claims_instance ON octane_import.file_claims (instance);
	CREATE TABLE octane_import.instances (
		id text PRIMARY KEY, host text NOT NULL, pid integer NOT NULL, version text NOT NULL,
		started timestamptz NOT NULL, last_seen timestamptz NOT NULL, expires timestamptz NOT NULL);
` + pgFunctions,
}

// pgFunctions do server-side what would otherwise take a round trip per step: a write is one
// round trip and one commit. Errors they raise carry our own SQLSTATEs: OIC01 a file or
// payload another live instance claimed, OIN01 a payload the ledger does not have, OIN02 a
// file naming a payload the ledger does not have, OIR01 a payload that cannot be requeued.
const pgFunctions = `
-- claim_for_write claims the files (sorted, distinct) for the instance until the
-- transaction ends, or fails if another live instance holds one.
CREATE FUNCTION octane_import.claim_for_write(p_paths text[], p_instance text, p_lease interval) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
	v_got bigint;
	v_taken text;
BEGIN
	WITH c AS (
		INSERT INTO octane_import.file_claims AS fc (path, instance, expires)
		SELECT x, p_instance, now() + p_lease FROM unnest(p_paths) AS x
		ON CONFLICT (path) DO UPDATE SET instance = EXCLUDED.instance, expires = EXCLUDED.expires
			WHERE fc.instance = EXCLUDED.instance OR fc.expires < now()
		RETURNING 1)
	SELECT count(*) INTO v_got FROM c;
	IF v_got < cardinality(p_paths) THEN
		SELECT string_agg(path || ' (instance ' || instance || ')', ', ') INTO v_taken FROM (
			SELECT path, instance FROM octane_import.file_claims
			WHERE path = ANY(p_paths) AND instance <> p_instance ORDER BY path LIMIT 3) t;
		RAISE EXCEPTION 'claimed by another octane-import instance: %', v_taken USING ERRCODE = 'OIC01';
	END IF;
END $$;

-- change_payload applies one of sent, attempt, done or requeue to a payload and settles the
-- files it covers (the same rules as settleFile in settle order: the payload row locked
-- first, then the files' rows in path order).
CREATE FUNCTION octane_import.change_payload(p_id bigint, p_instance text, p_op text, p_state text, p_task text,
	p_status text, p_error text, p_data bytea, p_now bigint) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
	q record;
	o record;
	v_data_op text := 'keep'; -- the bytes are never read here: set, dropped or left alone
BEGIN
	SELECT state, task, task_status, error, attempts, bytes, files, claimed_by, claim_expires INTO q
	FROM octane_import.payloads WHERE id = p_id FOR UPDATE;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'payload %: not in the ledger', p_id USING ERRCODE = 'OIN01';
	END IF;
	IF q.claimed_by IS NOT NULL AND q.claimed_by <> p_instance AND q.claim_expires > now() THEN
		RAISE EXCEPTION 'payload %: claimed by another octane-import instance (instance %)', p_id, q.claimed_by USING ERRCODE = 'OIC01';
	END IF;
	IF p_op = 'sent' THEN
		q.state := 'sent'; q.task := p_task; q.task_status := p_status; q.attempts := q.attempts + 1;
	ELSIF p_op = 'attempt' THEN
		q.attempts := q.attempts + 1; q.error := p_error;
	ELSIF p_op = 'done' THEN
		q.state := p_state; q.task_status := p_status; q.error := p_error;
		IF p_state = 'accepted' THEN
			v_data_op := 'drop';
		END IF;
		IF p_state IN ('accepted', 'failed', 'skipped') THEN
			q.claimed_by := NULL; q.claim_expires := NULL;
		END IF;
	ELSIF p_op = 'requeue' THEN
		IF q.state NOT IN ('failed', 'skipped') THEN
			RAISE EXCEPTION 'payload % is %: only failed or skipped payloads can be sent again', p_id, q.state USING ERRCODE = 'OIR01';
		END IF;
		q.state := 'pending'; q.task := ''; q.task_status := ''; q.error := '';
		q.bytes := octet_length(p_data); v_data_op := 'set'; q.claimed_by := NULL; q.claim_expires := NULL;
	ELSE
		RAISE EXCEPTION 'change_payload: no operation %', p_op;
	END IF;
	-- The bytes column is only written when it changes: writing it back unchanged would copy
	-- the whole payload into a new TOAST value at every step.
	UPDATE octane_import.payloads SET state = q.state, task = q.task, task_status = q.task_status, error = q.error,
		attempts = q.attempts, bytes = q.bytes, claimed_by = q.claimed_by, claim_expires = q.claim_expires, updated = p_now,
		data = CASE v_data_op WHEN 'set' THEN p_data WHEN 'drop' THEN NULL ELSE data END
	WHERE id = p_id;
	-- Settle the files in one statement (settleFile's rules): locked in path order first.
	PERFORM 1 FROM octane_import.files WHERE path = ANY(q.files) ORDER BY path FOR UPDATE;
	SELECT f.path, x.id INTO o FROM octane_import.files f, unnest(f.payloads) AS x(id)
	WHERE f.path = ANY(q.files) AND NOT EXISTS (SELECT 1 FROM octane_import.payloads r WHERE r.id = x.id) LIMIT 1;
	IF FOUND THEN
		RAISE EXCEPTION 'file % names payload %, which is not in the ledger', o.path, o.id USING ERRCODE = 'OIN02';
	END IF;
	UPDATE octane_import.files f SET state = s.state, task = s.task, task_status = s.status,
		error = CASE WHEN s.state = 'failed' THEN s.errs ELSE '' END, updated = p_now
	FROM (
		SELECT fl.path,
			CASE WHEN bool_or(r.state IN ('failed', 'skipped')) THEN 'failed'
				WHEN bool_or(r.state = 'pending') THEN 'parsed'
				WHEN bool_or(r.state = 'sent') THEN 'sent'
				ELSE 'accepted' END AS state,
			-- the last payload with a task, else the last payload
			coalesce((array_agg(r.task ORDER BY x.n DESC) FILTER (WHERE r.task <> ''))[1],
				(array_agg(r.task ORDER BY x.n DESC))[1], '') AS task,
			coalesce((array_agg(r.task_status ORDER BY x.n DESC) FILTER (WHERE r.task <> ''))[1],
				(array_agg(r.task_status ORDER BY x.n DESC))[1], '') AS status,
			-- the first failed or skipped payload's reason
			coalesce((array_agg(r.error ORDER BY x.n) FILTER (WHERE r.state IN ('failed', 'skipped') AND r.error <> ''))[1], '') AS errs
		FROM octane_import.files fl
		LEFT JOIN LATERAL unnest(fl.payloads) WITH ORDINALITY AS x(id, n) ON true
		LEFT JOIN octane_import.payloads r ON r.id = x.id
		WHERE fl.path = ANY(q.files)
		GROUP BY fl.path
	) s
	WHERE f.path = s.path AND NOT (f.state = 'failed' AND f.error <> '' AND cardinality(f.payloads) = 0);
END $$;
`

// OpenPostgres opens the PostgreSQL ledger at url (postgres://user:password@host/db?...; any
// libpq setting, e.g. sslmode, in the URL), creating or migrating its schema unless
// opt.ReadOnly, and registers this process as an instance with a heartbeat. A schema newer
// than this code knows is refused.
func OpenPostgres(ctx context.Context, url string, opt Options) (*Postgres, error) {
	opt.pgDefaults()
	p := &Postgres{url: RedactURLs(url), readOnly: opt.ReadOnly, opt: opt, stop: make(chan struct{})}
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		// pgx's parse errors name the URL with the password masked; mask it our way too.
		return nil, p.fail("reading the URL", err)
	}
	p.secret = cfg.ConnConfig.Password
	if cfg.ConnConfig.RuntimeParams["application_name"] == "" {
		cfg.ConnConfig.RuntimeParams["application_name"] = "octane-import"
	}
	if cfg.MaxConns < 8 {
		cfg.MaxConns = 8
	}
	cfg.ConnConfig.ConnectTimeout = min(opt.CallTimeout, 10*time.Second)
	p.pool, err = pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, p.fail("connecting", err)
	}
	if err := p.pool.Ping(ctx); err != nil {
		p.pool.Close()
		return nil, p.fail("connecting", err)
	}
	if err := p.migrate(ctx); err != nil {
		p.pool.Close()
		return nil, err
	}
	if opt.ReadOnly {
		return p, nil
	}
	if err := p.register(ctx); err != nil {
		p.pool.Close()
		return nil, err
	}
	p.beating.Add(1)
	go p.heartbeat()
	return p, nil
}

func (o *Options) pgDefaults() {
	if o.Lease <= 0 {
		o.Lease = 30 * time.Second
	}
	if o.Heartbeat <= 0 {
		o.Heartbeat = o.Lease / 3
	}
	if o.CallTimeout <= 0 {
		o.CallTimeout = 30 * time.Second
	}
}

// Heartbeat is how often this instance renews its row and claims (Options.Heartbeat, a
// third of the lease by default).
func (p *Postgres) Heartbeat() time.Duration { return p.opt.Heartbeat }

// migrate brings the schema to the version this code writes, under an advisory lock (two
// instances starting together migrate once); read-only, it only checks the version.
func (p *Postgres) migrate(ctx context.Context) error {
	want := len(pgMigrations)
	return p.tx(ctx, "migrating the schema", func(tx pgx.Tx) error {
		if !p.readOnly {
			if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(8151623)`); err != nil {
				return err
			}
			if _, err := tx.Exec(ctx, `CREATE SCHEMA IF NOT EXISTS octane_import;
				CREATE TABLE IF NOT EXISTS octane_import.schema_version (version integer NOT NULL)`); err != nil {
				return err
			}
		}
		var have int
		err := tx.QueryRow(ctx, `SELECT version FROM octane_import.schema_version`).Scan(&have)
		var pgErr *pgconn.PgError
		switch {
		case errors.As(err, &pgErr) && pgErr.Code == "42P01" && p.readOnly:
			return &dbError{msg: fmt.Sprintf("ledger %s: no octane-import ledger in this database yet (nothing imported with it)", p.url)}
		case errors.Is(err, pgx.ErrNoRows):
			have = 0
			if _, err := tx.Exec(ctx, `INSERT INTO octane_import.schema_version VALUES (0)`); err != nil {
				return err
			}
		case err != nil:
			return err
		}
		if have > want {
			return &dbError{msg: fmt.Sprintf("ledger %s: its schema is version %d, newer than this octane-import knows (%d): use the octane-import that wrote it, or a newer one", p.url, have, want)}
		}
		if have < want && p.readOnly {
			return &dbError{msg: fmt.Sprintf("ledger %s: its schema is version %d, older than this octane-import's (%d): a scan or watch with this version migrates it", p.url, have, want)}
		}
		for v := have; v < want; v++ {
			if _, err := tx.Exec(ctx, pgMigrations[v]); err != nil {
				return fmt.Errorf("migration to schema version %d: %w", v+1, err)
			}
		}
		if have < want {
			_, err = tx.Exec(ctx, `UPDATE octane_import.schema_version SET version = $1`, want)
		}
		return err
	})
}

// register writes this instance's heartbeat row.
func (p *Postgres) register(ctx context.Context) error {
	host, _ := os.Hostname()
	var rnd [4]byte
	_, _ = rand.Read(rnd[:])
	p.inst = Instance{ID: fmt.Sprintf("%s-%d-%s", host, os.Getpid(), hex.EncodeToString(rnd[:])), Host: host, PID: os.Getpid(), Version: p.opt.Version}
	err := p.do(ctx, "registering this instance", func(ctx context.Context) error {
		return p.pool.QueryRow(ctx, `INSERT INTO octane_import.instances (id, host, pid, version, started, last_seen, expires)
			VALUES ($1, $2, $3, $4, now(), now(), now() + $5::interval) RETURNING started, last_seen`,
			p.inst.ID, p.inst.Host, p.inst.PID, p.inst.Version, p.opt.Lease).Scan(&p.inst.Started, &p.inst.LastSeen)
	})
	p.lastBeat = time.Now()
	return err
}

// heartbeat renews this instance's row and claims every Options.Heartbeat until Close. A
// missed beat (the database away) is tried again at the next; an instance cut off for
// longer than the lease loses its claims to the others, and its writes to them then fail
// with ErrClaimed.
func (p *Postgres) heartbeat() {
	defer p.beating.Done()
	t := time.NewTicker(p.opt.Heartbeat)
	defer t.Stop()
	for {
		select {
		case <-p.stop:
			return
		case <-t.C:
		}
		ctx, cancel := context.WithTimeout(context.Background(), p.opt.Heartbeat)
		_ = p.beat(ctx)
		cancel()
	}
}

func (p *Postgres) beat(ctx context.Context) error {
	p.owed.Lock()
	defer p.owed.Unlock()
	files, payloads := slices.Collect(maps.Keys(p.owed.files)), slices.Collect(maps.Keys(p.owed.payloads))
	err := p.tx(ctx, "heartbeat", func(tx pgx.Tx) error {
		var seen time.Time
		var n int64
		b := &pgx.Batch{}
		if len(files)+len(payloads) > 0 {
			b.Queue(releaseFilesSQL, nonNil(files), p.inst.ID)
			b.Queue(releasePayloadsSQL, int64s(payloads), p.inst.ID)
		}
		b.Queue(`INSERT INTO octane_import.instances (id, host, pid, version, started, last_seen, expires)
			VALUES ($1, $2, $3, $4, $5, now(), now() + $6::interval)
			ON CONFLICT (id) DO UPDATE SET last_seen = now(), expires = EXCLUDED.expires RETURNING last_seen`,
			p.inst.ID, p.inst.Host, p.inst.PID, p.inst.Version, p.inst.Started, p.opt.Lease).
			QueryRow(func(r pgx.Row) error { return r.Scan(&seen) })
		// The claims are renewed in key order, as every write locks its rows (claim_for_write
		// and ClaimFiles lock files in path order): in any other order a heartbeat and a seal
		// of the same instance could wait for each other (a deadlock, which PostgreSQL ends by
		// failing one of them).
		b.Queue(`UPDATE octane_import.file_claims c SET expires = now() + $2::interval
			FROM (SELECT path FROM octane_import.file_claims WHERE instance = $1 ORDER BY path FOR UPDATE) s
			WHERE c.path = s.path`, p.inst.ID, p.opt.Lease)
		b.Queue(`UPDATE octane_import.payloads q SET claim_expires = now() + $2::interval
			FROM (SELECT id FROM octane_import.payloads WHERE claimed_by = $1 ORDER BY id FOR UPDATE) s
			WHERE q.id = s.id`, p.inst.ID, p.opt.Lease)
		// Rows of instances gone for a day, and claims long expired, are swept by whoever beats.
		b.Queue(`DELETE FROM octane_import.instances WHERE expires < now() - interval '1 day'`)
		b.Queue(`DELETE FROM octane_import.file_claims WHERE expires < now() - interval '1 hour'`)
		b.Queue(`SELECT (SELECT count(*) FROM octane_import.file_claims WHERE instance = $1)
			+ (SELECT count(*) FROM octane_import.payloads WHERE claimed_by = $1)`, p.inst.ID).
			QueryRow(func(r pgx.Row) error { return r.Scan(&n) })
		// Close runs every statement in order, each result read by its own callback.
		if err := tx.SendBatch(ctx, b).Close(); err != nil {
			return err
		}
		p.mu.Lock()
		p.inst.LastSeen, p.inst.InFlight = seen, int(n)
		p.mu.Unlock()
		return nil
	})
	if err == nil {
		p.mu.Lock()
		p.lastBeat = time.Now()
		p.mu.Unlock()
		p.owed.files, p.owed.payloads = nil, nil
	}
	return err
}

// owe records claims this instance gave up while the database was unavailable, for the next
// heartbeat to release.
func (p *Postgres) owe(files []string, payloads []uint64) {
	p.owed.Lock()
	defer p.owed.Unlock()
	if p.owed.files == nil {
		p.owed.files, p.owed.payloads = map[string]bool{}, map[uint64]bool{}
	}
	for _, f := range files {
		p.owed.files[f] = true
	}
	for _, id := range payloads {
		p.owed.payloads[id] = true
	}
}

func int64s(ids []uint64) []int64 {
	out := make([]int64, len(ids))
	for i, id := range ids {
		out[i] = int64(id)
	}
	return out
}

// Close stops the heartbeat, gives up this instance's claims and removes its row (others
// need not wait for its lease to take its work), and closes the connections.
func (p *Postgres) Close() error {
	var err error
	p.closeOnce.Do(func() {
		close(p.stop)
		p.beating.Wait()
		if !p.readOnly {
			err = p.leave()
		}
		p.pool.Close()
	})
	return err
}

// leave gives up this instance's claims and removes its row. While the database is
// unavailable it tries again, until it succeeds or the claims have expired by themselves (a
// lease after the last heartbeat), and at most closeWait: a run that ends during a restart
// of the database must not leave its files held for a lease, nor wait long to exit.
func (p *Postgres) leave() error {
	p.mu.Lock()
	expires := p.lastBeat.Add(p.opt.Lease)
	p.mu.Unlock()
	deadline := time.Now().Add(closeWait)
	if expires.Before(deadline) {
		deadline = expires
	}
	for pause := 100 * time.Millisecond; ; pause = min(2*pause, time.Second) {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		err := p.tx(ctx, "leaving", func(tx pgx.Tx) error {
			b := &pgx.Batch{}
			p.queueReleaseAll(b)
			b.Queue(`DELETE FROM octane_import.instances WHERE id = $1`, p.inst.ID)
			return tx.SendBatch(ctx, b).Close()
		})
		cancel()
		if err == nil || !IsTemporary(err) || time.Now().Add(pause).After(deadline) {
			return err
		}
		if pause == 100*time.Millisecond && p.opt.Logger != nil {
			p.opt.Logger.Warn("giving up this instance's claims: no answer from the database yet; trying again for a while (they expire by themselves a lease after the last heartbeat)",
				"until", deadline.Format(time.TimeOnly), "ledger", p.url)
		}
		time.Sleep(pause)
	}
}

// ReleaseAll gives up every claim of this instance (its heartbeat row stays).
func (p *Postgres) ReleaseAll(ctx context.Context) error {
	if err := p.writable(); err != nil {
		return err
	}
	p.owed.Lock()
	defer p.owed.Unlock()
	err := p.tx(ctx, "releasing claims", func(tx pgx.Tx) error {
		b := &pgx.Batch{}
		p.queueReleaseAll(b)
		return tx.SendBatch(ctx, b).Close()
	})
	if err == nil {
		p.owed.files, p.owed.payloads = nil, nil
	}
	return err
}

// queueReleaseAll queues giving up every claim of this instance (Close, ReleaseAll).
func (p *Postgres) queueReleaseAll(b *pgx.Batch) {
	b.Queue(`DELETE FROM octane_import.file_claims WHERE instance = $1`, p.inst.ID)
	b.Queue(`UPDATE octane_import.payloads SET claimed_by = NULL, claim_expires = NULL WHERE claimed_by = $1`, p.inst.ID)
}

// releaseFilesSQL and releasePayloadsSQL give up the claims of the files ($1, paths) or
// payloads ($1, ids) an instance ($2) holds: ReleaseFiles, ReleasePayloads, a write's end,
// and a heartbeat releasing what it is owed.
const (
	releaseFilesSQL    = `DELETE FROM octane_import.file_claims WHERE path = ANY($1) AND instance = $2`
	releasePayloadsSQL = `UPDATE octane_import.payloads SET claimed_by = NULL, claim_expires = NULL WHERE id = ANY($1) AND claimed_by = $2`
)

// closeWait bounds how long Close tries to give up the claims while the database is away.
const closeWait = 15 * time.Second

// Path is the ledger's URL, password masked.
func (p *Postgres) Path() string { return p.url }

// Through is nil: every instance reads the database itself.
func (p *Postgres) Through() *Holder { return nil }

// Instance describes this instance (its last heartbeat included).
func (p *Postgres) Instance() Instance {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.inst
}

// Instances lists the live instances (heartbeat within the lease), oldest first, with the
// files and payloads each holds claims on.
func (p *Postgres) Instances(ctx context.Context) ([]Instance, error) {
	var out []Instance
	err := p.do(ctx, "listing instances", func(ctx context.Context) error {
		var err error
		out, err = collect(ctx, p, `SELECT i.id, i.host, i.pid, i.version, i.started, i.last_seen,
				(SELECT count(*) FROM octane_import.file_claims c WHERE c.instance = i.id AND c.expires > now())
				+ (SELECT count(*) FROM octane_import.payloads q WHERE q.claimed_by = i.id AND q.claim_expires > now())
			FROM octane_import.instances i WHERE i.expires > now() ORDER BY i.started, i.id`, nil,
			func(r pgx.Row) (Instance, error) {
				var in Instance
				var n int64
				err := r.Scan(&in.ID, &in.Host, &in.PID, &in.Version, &in.Started, &in.LastSeen, &n)
				in.InFlight = int(n)
				return in, err
			})
		return err
	})
	return out, err
}

// ctx is the context of a method that takes none.
func (p *Postgres) ctx() (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), p.opt.CallTimeout)
}

func (p *Postgres) writable() error {
	if p.readOnly {
		return fmt.Errorf("ledger %s: opened read-only", p.url)
	}
	return nil
}

// do runs fn, once more if it failed before anything reached the server (a pooled
// connection the server had closed), and describes its error.
func (p *Postgres) do(ctx context.Context, what string, fn func(ctx context.Context) error) error {
	err := fn(ctx)
	if err != nil && pgconn.SafeToRetry(err) && ctx.Err() == nil {
		err = fn(ctx)
	}
	// A deadlock or serialization failure rolled the whole transaction back: it is run
	// again (a few times, after a short random pause), as PostgreSQL's documentation advises.
	for try := 0; try < 4 && rolledBack(err) && ctx.Err() == nil; try++ {
		time.Sleep(time.Duration(5+mrand.IntN(20<<try)) * time.Millisecond)
		err = fn(ctx)
	}
	if err != nil {
		return p.fail(what, err)
	}
	return nil
}

// rolledBack reports whether err is PostgreSQL ending a transaction so that it may be
// run again: a deadlock or a serialization failure.
func rolledBack(err error) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && (pgErr.Code == "40P01" || pgErr.Code == "40001")
}

// tx runs fn in a transaction (committed when fn returns nil) through do.
func (p *Postgres) tx(ctx context.Context, what string, fn func(tx pgx.Tx) error) error {
	return p.do(ctx, what, func(ctx context.Context) error {
		return pgx.BeginFunc(ctx, p.pool, fn)
	})
}

// dbError is an error of the PostgreSQL ledger: its message is ours (URL and password
// masked) with the database's own words; the server's *pgconn.PgError, when there is one,
// is reachable with errors.As. Nothing else of the driver's error is kept: a connection
// error holds the connection's configuration, password included.
type dbError struct {
	msg       string
	pgErr     *pgconn.PgError
	temporary bool
	wrapped   error // our own sentinel errors (ErrClaimed)
}

func (e *dbError) Error() string { return e.msg }

func (e *dbError) Unwrap() []error {
	var out []error
	if e.pgErr != nil {
		out = append(out, e.pgErr)
	}
	if e.wrapped != nil {
		out = append(out, e.wrapped)
	}
	return out
}

func (e *dbError) Is(target error) bool { return target == ErrUnavailable && e.temporary }

// fail describes err, met while doing what.
func (p *Postgres) fail(what string, err error) error {
	var de *dbError
	if errors.As(err, &de) {
		if !strings.HasPrefix(de.msg, "ledger ") {
			de.msg = fmt.Sprintf("ledger %s: %s: %s", p.url, what, de.msg)
		}
		return de
	}
	e := &dbError{temporary: temporaryPG(err)}
	errors.As(err, &e.pgErr)
	msg := p.redact(err.Error())
	if e.pgErr != nil && strings.HasPrefix(e.pgErr.Code, "OI") {
		msg = e.pgErr.Message // ours (the functions'): said plainly
		if e.pgErr.Code == "OIC01" {
			e.wrapped = ErrClaimed
		}
	}
	if e.temporary {
		msg += " (the database is unavailable: try again once it is back)"
	}
	e.msg = fmt.Sprintf("ledger %s: %s: %s", p.url, what, msg)
	return e
}

// redact removes the password from a message, literally and in URLs.
func (p *Postgres) redact(msg string) string {
	if len(p.secret) >= 3 {
		msg = strings.ReplaceAll(msg, p.secret, "xxxxx")
	}
	return RedactURLs(msg)
}

// temporaryPG reports whether err means the database could not be reached or went away,
// rather than refusing what was asked.
func temporaryPG(err error) bool {
	if errors.Is(err, context.Canceled) {
		return false
	}
	if errors.Is(err, context.DeadlineExceeded) || pgconn.Timeout(err) || pgconn.SafeToRetry(err) {
		return true
	}
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		switch {
		case strings.HasPrefix(pgErr.Code, "08"), // connection exception
			pgErr.Code == "57P01", pgErr.Code == "57P02", pgErr.Code == "57P03", // shutting down, starting up
			pgErr.Code == "53300",                        // too many connections
			pgErr.Code == "40001", pgErr.Code == "40P01": // serialization failure, deadlock: try again
			return true
		}
		return false // the server refused what was asked (bad password, no such database, ...)
	}
	var ne net.Error
	if errors.As(err, &ne) || errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE) {
		return true
	}
	var ce *pgconn.ConnectError
	if errors.As(err, &ce) {
		return true // could not connect, and not because the server said no (that is a PgError)
	}
	msg := err.Error()
	return strings.Contains(msg, "conn closed") || strings.Contains(msg, "connection reset") || strings.Contains(msg, "closed pool")
}

// The columns of a file record, in scanFile's order.
const fileCols = `path, root, size, mtime, hash, state, rule, target, build, payloads, task, task_status,
	passed, failed, skipped, error, attempt, scan, updated`

func scanFile(row pgx.Row) (File, error) {
	var f File
	var ids []int64
	var scan int64
	var updated *int64
	err := row.Scan(&f.Path, &f.Root, &f.Size, &f.ModTime, &f.Hash, &f.State, &f.Rule, &f.Target, &f.Build, &ids,
		&f.Task, &f.Status, &f.Runs.Passed, &f.Runs.Failed, &f.Runs.Skipped, &f.Error, &f.Attempt, &scan, &updated)
	if err != nil {
		return f, err
	}
	for _, id := range ids {
		f.Payloads = append(f.Payloads, uint64(id))
	}
	f.Scan = uint64(scan)
	f.Updated = fromNanos(updated)
	return f, nil
}

func nanos(t time.Time) *int64 {
	if t.IsZero() {
		return nil
	}
	n := t.UnixNano()
	return &n
}

func fromNanos(n *int64) time.Time {
	if n == nil {
		return time.Time{}
	}
	return time.Unix(0, *n)
}

// fileColumns is a batch of file records as one array per column, for unnest.
type fileColumns struct {
	path, root, hash, state, rule, target, build, payloads, task, status, errs []string
	size, mtime, scan                                                          []int64
	passed, failed, skipped, attempt                                           []int32
	updated                                                                    []*int64
}

func (c *fileColumns) add(f *File) {
	ids := make([]string, len(f.Payloads))
	for i, id := range f.Payloads {
		ids[i] = strconv.FormatUint(id, 10)
	}
	c.path = append(c.path, f.Path)
	c.root = append(c.root, f.Root)
	c.size = append(c.size, f.Size)
	c.mtime = append(c.mtime, f.ModTime)
	c.hash = append(c.hash, f.Hash)
	c.state = append(c.state, string(f.State))
	c.rule = append(c.rule, f.Rule)
	c.target = append(c.target, f.Target)
	c.build = append(c.build, f.Build)
	c.payloads = append(c.payloads, strings.Join(ids, ","))
	c.task = append(c.task, f.Task)
	c.status = append(c.status, f.Status)
	c.passed = append(c.passed, int32(f.Runs.Passed))
	c.failed = append(c.failed, int32(f.Runs.Failed))
	c.skipped = append(c.skipped, int32(f.Runs.Skipped))
	c.errs = append(c.errs, f.Error)
	c.attempt = append(c.attempt, int32(f.Attempt))
	c.scan = append(c.scan, int64(f.Scan))
	c.updated = append(c.updated, nanos(f.Updated))
}

// upsertFiles writes the records in c, replacing those of the same paths.
func upsertFiles(b *pgx.Batch, c *fileColumns) {
	b.Queue(`INSERT INTO octane_import.files (`+fileCols+`)
		SELECT u.path, u.root, u.size, u.mtime, u.hash, u.state, u.rule, u.target, u.build,
			string_to_array(u.payloads, ',')::bigint[], u.task, u.task_status, u.passed, u.failed, u.skipped,
			u.error, u.attempt, u.scan, u.updated
		FROM unnest($1::text[], $2::text[], $3::bigint[], $4::bigint[], $5::text[], $6::text[], $7::text[], $8::text[],
			$9::text[], $10::text[], $11::text[], $12::text[], $13::integer[], $14::integer[], $15::integer[], $16::text[],
			$17::integer[], $18::bigint[], $19::bigint[])
			AS u(path, root, size, mtime, hash, state, rule, target, build, payloads, task, task_status,
				passed, failed, skipped, error, attempt, scan, updated)
		ON CONFLICT (path) DO UPDATE SET root = EXCLUDED.root, size = EXCLUDED.size, mtime = EXCLUDED.mtime,
			hash = EXCLUDED.hash, state = EXCLUDED.state, rule = EXCLUDED.rule, target = EXCLUDED.target,
			build = EXCLUDED.build, payloads = EXCLUDED.payloads, task = EXCLUDED.task, task_status = EXCLUDED.task_status,
			passed = EXCLUDED.passed, failed = EXCLUDED.failed, skipped = EXCLUDED.skipped, error = EXCLUDED.error,
			attempt = EXCLUDED.attempt, scan = EXCLUDED.scan, updated = EXCLUDED.updated`,
		c.path, c.root, c.size, c.mtime, c.hash, c.state, c.rule, c.target, c.build, c.payloads, c.task, c.status,
		c.passed, c.failed, c.skipped, c.errs, c.attempt, c.scan, c.updated)
}

// claimForWrite queues the claim of paths for this instance for the rest of the batch's
// transaction (the claim rows stay locked until it ends); the batch fails with ErrClaimed
// when another live instance holds one. releaseAfterWrite, queued at the end of the batch,
// removes the claims again.
func (p *Postgres) claimForWrite(b *pgx.Batch, paths []string) {
	b.Queue(`SELECT octane_import.claim_for_write($1, $2, $3::interval)`, paths, p.inst.ID, p.opt.Lease)
}

func releaseAfterWrite(b *pgx.Batch, paths []string, instance string) {
	b.Queue(releaseFilesSQL, paths, instance)
}

const claimFilesSQL = `INSERT INTO octane_import.file_claims (path, instance, expires)
	SELECT path, $2, now() + $3::interval FROM unnest($1::text[]) AS path
	ON CONFLICT (path) DO UPDATE SET instance = EXCLUDED.instance, expires = EXCLUDED.expires
		WHERE octane_import.file_claims.instance = EXCLUDED.instance OR octane_import.file_claims.expires < now()
	RETURNING path`

// dedupe is paths sorted (the order every write locks rows in), each once.
func dedupe(paths []string) []string {
	out := slices.Clone(paths)
	slices.Sort(out)
	return slices.Compact(out)
}

// NextScan allocates the number of a new scan.
func (p *Postgres) NextScan() (uint64, error) {
	if p.readOnly {
		return 0, nil
	}
	ctx, cancel := p.ctx()
	defer cancel()
	var n int64
	err := p.do(ctx, "allocating a scan number", func(ctx context.Context) error {
		return p.pool.QueryRow(ctx, `UPDATE octane_import.meta SET value = value + 1 WHERE key = 'scan' RETURNING value`).Scan(&n)
	})
	return uint64(n), err
}

// TargetIdentity returns the identity recorded for a target name (a meta row; the
// identity's 64 bits are stored as a bigint).
func (p *Postgres) TargetIdentity(name string) (uint64, bool, error) {
	ctx, cancel := p.ctx()
	defer cancel()
	var v int64
	found := false
	err := p.do(ctx, "reading a target's identity", func(ctx context.Context) error {
		err := p.pool.QueryRow(ctx, `SELECT value FROM octane_import.meta WHERE key = $1`, "target/"+name).Scan(&v)
		if errors.Is(err, pgx.ErrNoRows) {
			return nil
		}
		found = err == nil
		return err
	})
	return uint64(v), found, err
}

// SetTargetIdentity records the identity of a target name.
func (p *Postgres) SetTargetIdentity(name string, identity uint64) error {
	if err := p.writable(); err != nil {
		return err
	}
	ctx, cancel := p.ctx()
	defer cancel()
	return p.do(ctx, "recording a target's identity", func(ctx context.Context) error {
		_, err := p.pool.Exec(ctx, `INSERT INTO octane_import.meta (key, value) VALUES ($1, $2)
			ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value`, "target/"+name, int64(identity))
		return err
	})
}

// File returns the record of path, if any.
func (p *Postgres) File(path string) (File, bool, error) {
	ctx, cancel := p.ctx()
	defer cancel()
	var f File
	ok := true
	err := p.do(ctx, "reading file "+path, func(ctx context.Context) error {
		var err error
		f, err = scanFile(p.pool.QueryRow(ctx, `SELECT `+fileCols+` FROM octane_import.files WHERE path = $1`, path))
		if errors.Is(err, pgx.ErrNoRows) {
			ok, err = false, nil
		}
		return err
	})
	return f, ok && err == nil, err
}

// FilesAt returns the records of the given paths that the ledger holds, in one query.
func (p *Postgres) FilesAt(paths []string) (map[string]File, error) {
	ctx, cancel := p.ctx()
	defer cancel()
	out := make(map[string]File, len(paths))
	err := p.do(ctx, "reading files", func(ctx context.Context) error {
		rows, err := p.pool.Query(ctx, `SELECT `+fileCols+` FROM octane_import.files WHERE path = ANY($1)`, paths)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			f, err := scanFile(rows)
			if err != nil {
				return err
			}
			out[f.Path] = f
		}
		return rows.Err()
	})
	return out, err
}

// Files calls fn for every file record in path order; fn returning false stops.
func (p *Postgres) Files(fn func(File) bool) error { return p.FilesIn(nil, fn) }

// FilesIn calls fn for every file record in one of the states (all when none), in path order.
func (p *Postgres) FilesIn(states []FileState, fn func(File) bool) error {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	q := `SELECT ` + fileCols + ` FROM octane_import.files ORDER BY path`
	var args []any
	if len(states) > 0 {
		q = `SELECT ` + fileCols + ` FROM octane_import.files WHERE state = ANY($1) ORDER BY path`
		args = append(args, stateStrings(states))
	}
	rows, err := p.pool.Query(ctx, q, args...)
	if err != nil {
		return p.fail("reading files", err)
	}
	defer rows.Close()
	for rows.Next() {
		f, err := scanFile(rows)
		if err != nil {
			return p.fail("reading files", err)
		}
		if !fn(f) {
			cancel() // or closing the rows would read the rest of them
			return nil
		}
	}
	if err := rows.Err(); err != nil {
		return p.fail("reading files", err)
	}
	return nil
}

// PutFiles records files (one transaction) and releases this instance's claims of them.
func (p *Postgres) PutFiles(files ...File) error {
	if err := p.writable(); err != nil || len(files) == 0 {
		return err
	}
	ctx, cancel := p.ctx()
	defer cancel()
	now := time.Now()
	last := make(map[string]File, len(files)) // a path listed twice: the last record wins
	for _, f := range files {
		f.Updated = now
		last[f.Path] = f
	}
	paths := slices.Sorted(maps.Keys(last)) // rows are locked in path order, as every write does
	var c fileColumns
	for _, path := range paths {
		f := last[path]
		c.add(&f)
	}
	return p.do(ctx, "recording files", func(ctx context.Context) error {
		b := &pgx.Batch{}
		p.claimForWrite(b, paths)
		upsertFiles(b, &c)
		releaseAfterWrite(b, paths, p.inst.ID)
		return p.pool.SendBatch(ctx, b).Close() // one implicit transaction
	})
}

// Seal writes payloads (their bytes included), the files they cover and their builds in one
// transaction; see Store.
func (p *Postgres) Seal(payloads []NewPayload, files []File, builds []Build) ([]uint64, error) {
	if err := p.writable(); err != nil {
		return nil, err
	}
	sealed, err := sealFiles(payloads, files)
	if err != nil {
		return nil, fmt.Errorf("ledger %s: %w", p.url, err)
	}
	ctx, cancel := p.ctx()
	defer cancel()
	now := time.Now()
	ids, err := p.payloadIDs(ctx, len(payloads))
	if err != nil {
		return nil, err
	}
	paths := slices.Sorted(maps.Keys(sealed))
	b := &pgx.Batch{}
	p.claimForWrite(b, paths)
	for i, np := range payloads {
		for _, path := range np.Files {
			sealed[path].Payloads = append(sealed[path].Payloads, ids[i])
		}
		data, err := np.data()
		if err != nil {
			return nil, fmt.Errorf("ledger %s: %w", p.url, err)
		}
		if data == nil {
			data = []byte{}
		}
		// Claimed by the instance that seals it, which sends it next: another instance's
		// ClaimPayloads does not hand it out meanwhile (ReleasePayloads gives it up).
		b.Queue(`INSERT INTO octane_import.payloads (id, target, build, files, runs, bytes, data, state, task, task_status, error, attempts, created, updated, claimed_by, claim_expires)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, '', '', '', 0, $9, $9, $10, now() + $11::interval)`,
			int64(ids[i]), np.Target, np.Build, nonNil(np.Files), np.Runs, len(data), data, string(Pending), now.UnixNano(), p.inst.ID, p.opt.Lease)
	}
	var c fileColumns
	for _, path := range paths { // in path order, as every write locks rows
		f := sealed[path]
		f.Updated = now
		c.add(f)
	}
	if len(c.path) > 0 {
		upsertFiles(b, &c)
	}
	upsertBuilds(b, lastBuilds(builds, now))
	releaseAfterWrite(b, paths, p.inst.ID)
	// One round trip, one implicit transaction: all of it or nothing.
	err = p.do(ctx, "sealing payloads", func(ctx context.Context) error {
		return p.pool.SendBatch(ctx, sendable(b)).Close()
	})
	if err != nil {
		return nil, err
	}
	for _, np := range payloads {
		if np.Data == nil && np.Staged != "" {
			_ = os.Remove(np.Staged) // its bytes are in the database now
		}
	}
	return ids, nil
}

// sendable is a fresh copy of b for one try of do: pgx fills a sent batch with the
// statements it prepared on the connection it went through, and a batch sent again on
// another connection names statements that connection never prepared.
func sendable(b *pgx.Batch) *pgx.Batch {
	nb := &pgx.Batch{QueuedQueries: make([]*pgx.QueuedQuery, 0, len(b.QueuedQueries))}
	for _, q := range b.QueuedQueries {
		nb.Queue(q.SQL, q.Arguments...)
	}
	return nb
}

// stateStrings is states as the text the state columns hold.
func stateStrings[S ~string](states []S) []string {
	out := make([]string, len(states))
	for i, s := range states {
		out[i] = string(s)
	}
	return out
}

// collect runs a query and scans every row it returns (nil when none, as the embedded
// ledger's methods return).
func collect[T any](ctx context.Context, p *Postgres, q string, args []any, scan func(pgx.Row) (T, error)) ([]T, error) {
	rows, err := p.pool.Query(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	return pgx.AppendRows([]T(nil), rows, func(r pgx.CollectableRow) (T, error) { return scan(r) })
}

// StageDir is "": staged payloads go to the system's temporary folder, and Seal reads them
// into the database.
func (p *Postgres) StageDir() string { return "" }

// payloadIDs hands out n new payload ids. The sequence counts in blocks of 64 (one nextval
// is 64 ids), which an instance keeps and hands out in order: ids are unique across
// instances and increase within one, and a block an instance did not use up is skipped.
func (p *Postgres) payloadIDs(ctx context.Context, n int) ([]uint64, error) {
	const block = 64
	p.mu.Lock()
	defer p.mu.Unlock()
	for len(p.ids) < n {
		var top int64
		err := p.do(ctx, "allocating payload ids", func(ctx context.Context) error {
			return p.pool.QueryRow(ctx, `SELECT nextval('octane_import.payload_ids')`).Scan(&top)
		})
		if err != nil {
			return nil, err
		}
		for id := top - block + 1; id <= top; id++ {
			p.ids = append(p.ids, uint64(id))
		}
	}
	out := slices.Clone(p.ids[:n])
	p.ids = p.ids[n:]
	return out, nil
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

const payloadCols = `id, target, build, files, runs, bytes, state, task, task_status, error, attempts, created, updated`

func scanPayload(row pgx.Row) (Payload, error) {
	var q Payload
	var id int64
	var created, updated *int64
	if err := row.Scan(&id, &q.Target, &q.Build, &q.Files, &q.Runs, &q.Bytes, &q.State, &q.Task, &q.Status, &q.Error, &q.Attempts, &created, &updated); err != nil {
		return q, err
	}
	q.ID = uint64(id)
	q.Created, q.Updated = fromNanos(created), fromNanos(updated)
	if len(q.Files) == 0 {
		q.Files = nil
	}
	return q, nil
}

// Payloads returns the payloads in the given states (all when none given), by id.
func (p *Postgres) Payloads(states ...PayloadState) ([]Payload, error) {
	ctx, cancel := p.ctx()
	defer cancel()
	var out []Payload
	err := p.do(ctx, "reading payloads", func(ctx context.Context) error {
		q := `SELECT ` + payloadCols + ` FROM octane_import.payloads ORDER BY id`
		var args []any
		if len(states) > 0 {
			q = `SELECT ` + payloadCols + ` FROM octane_import.payloads WHERE state = ANY($1) ORDER BY id`
			args = append(args, stateStrings(states))
		}
		var err error
		out, err = collect(ctx, p, q, args, scanPayload)
		return err
	})
	return out, err
}

// PayloadData returns the stored bytes of a payload.
func (p *Postgres) PayloadData(id uint64) ([]byte, error) {
	ctx, cancel := p.ctx()
	defer cancel()
	var data []byte
	found := true
	err := p.do(ctx, fmt.Sprintf("reading payload %d", id), func(ctx context.Context) error {
		err := p.pool.QueryRow(ctx, `SELECT data FROM octane_import.payloads WHERE id = $1`, int64(id)).Scan(&data)
		if errors.Is(err, pgx.ErrNoRows) {
			found, err = false, nil
		}
		return err
	})
	switch {
	case err != nil:
		return nil, err
	case !found:
		return nil, fmt.Errorf("ledger %s: payload %d: not in the ledger", p.url, id)
	case data == nil:
		return nil, fmt.Errorf("ledger %s: payload %d: no stored bytes", p.url, id)
	}
	return data, nil
}

// MarkSent records the task id Octane gave a payload.
func (p *Postgres) MarkSent(id uint64, task, status string) error {
	return p.changePayload(id, "recording a sent payload", "sent", "", task, status, "", nil)
}

// MarkAttempt counts a send that got no usable answer.
func (p *Postgres) MarkAttempt(id uint64, errText string) error {
	return p.changePayload(id, "recording an attempt", "attempt", "", "", "", errText, nil)
}

// MarkDone records a payload's final outcome and releases its claim.
func (p *Postgres) MarkDone(id uint64, state PayloadState, status, errText string) error {
	return p.changePayload(id, "recording a payload's outcome", "done", state, "", status, errText, nil)
}

// Requeue puts a failed or skipped payload back in the queue with new bytes.
func (p *Postgres) Requeue(id uint64, data []byte) error {
	if data == nil {
		data = []byte{}
	}
	return p.changePayload(id, "requeueing a payload", "requeue", "", "", "", "", data)
}

// changePayload changes a payload and settles its files: one call of the change_payload
// function, one round trip and one transaction.
func (p *Postgres) changePayload(id uint64, what, op string, state PayloadState, task, status, errText string, data []byte) error {
	if err := p.writable(); err != nil {
		return err
	}
	ctx, cancel := p.ctx()
	defer cancel()
	return p.do(ctx, fmt.Sprintf("%s (payload %d)", what, id), func(ctx context.Context) error {
		_, err := p.pool.Exec(ctx, `SELECT octane_import.change_payload($1, $2, $3, $4, $5, $6, $7, $8, $9)`,
			int64(id), p.inst.ID, op, string(state), task, status, errText, data, time.Now().UnixNano())
		return err
	})
}

func upsertBuilds(b *pgx.Batch, builds []Build) {
	if len(builds) == 0 {
		return
	}
	var keys, targets, states, errs []string
	var starts, updated []*int64
	var specs [][]byte
	var passed, failed, skipped []int32
	for _, bd := range builds {
		keys = append(keys, bd.Key)
		targets = append(targets, bd.Target)
		starts = append(starts, nanos(bd.Start))
		specs = append(specs, bd.Spec)
		states = append(states, string(bd.State))
		errs = append(errs, bd.Error)
		passed = append(passed, int32(bd.Runs.Passed))
		failed = append(failed, int32(bd.Runs.Failed))
		skipped = append(skipped, int32(bd.Runs.Skipped))
		updated = append(updated, nanos(bd.Updated))
	}
	b.Queue(`INSERT INTO octane_import.builds (key, target, start, spec, state, error, passed, failed, skipped, updated)
		SELECT * FROM unnest($1::text[], $2::text[], $3::bigint[], $4::bytea[], $5::text[], $6::text[], $7::integer[], $8::integer[], $9::integer[], $10::bigint[])
		ON CONFLICT (key) DO UPDATE SET target = EXCLUDED.target, start = EXCLUDED.start, spec = EXCLUDED.spec,
			state = EXCLUDED.state, error = EXCLUDED.error, passed = EXCLUDED.passed, failed = EXCLUDED.failed,
			skipped = EXCLUDED.skipped, updated = EXCLUDED.updated`,
		keys, targets, starts, specs, states, errs, passed, failed, skipped, updated)
}

// PutBuilds records builds.
func (p *Postgres) PutBuilds(builds ...Build) error {
	if err := p.writable(); err != nil || len(builds) == 0 {
		return err
	}
	ctx, cancel := p.ctx()
	defer cancel()
	builds = lastBuilds(builds, time.Now())
	return p.do(ctx, "recording builds", func(ctx context.Context) error {
		b := &pgx.Batch{}
		upsertBuilds(b, builds)
		return p.pool.SendBatch(ctx, b).Close()
	})
}

// lastBuilds is builds in key order (the order every write locks rows in), the last record
// of a key listed twice, updated now.
func lastBuilds(builds []Build, now time.Time) []Build {
	last := make(map[string]Build, len(builds))
	for _, bd := range builds {
		bd.Updated = now
		last[bd.Key] = bd
	}
	out := make([]Build, 0, len(last))
	for _, bd := range last {
		out = append(out, bd)
	}
	slices.SortFunc(out, func(a, b Build) int { return strings.Compare(a.Key, b.Key) })
	return out
}

const buildCols = `key, target, start, spec, state, error, passed, failed, skipped, updated`

func scanBuild(row pgx.Row) (Build, error) {
	var bd Build
	var start, updated *int64
	var spec []byte
	err := row.Scan(&bd.Key, &bd.Target, &start, &spec, &bd.State, &bd.Error, &bd.Runs.Passed, &bd.Runs.Failed, &bd.Runs.Skipped, &updated)
	bd.Start, bd.Updated = fromNanos(start), fromNanos(updated)
	if spec != nil {
		bd.Spec = spec
	}
	return bd, err
}

// Build returns the record of a build.
func (p *Postgres) Build(key string) (Build, bool, error) {
	ctx, cancel := p.ctx()
	defer cancel()
	var bd Build
	ok := true
	err := p.do(ctx, "reading a build", func(ctx context.Context) error {
		var err error
		bd, err = scanBuild(p.pool.QueryRow(ctx, `SELECT `+buildCols+` FROM octane_import.builds WHERE key = $1`, key))
		if errors.Is(err, pgx.ErrNoRows) {
			ok, err = false, nil
		}
		return err
	})
	return bd, ok && err == nil, err
}

// Builds returns the builds in the given states (all when none), oldest start first.
func (p *Postgres) Builds(states ...BuildState) ([]Build, error) {
	ctx, cancel := p.ctx()
	defer cancel()
	var out []Build
	err := p.do(ctx, "reading builds", func(ctx context.Context) error {
		q := `SELECT ` + buildCols + ` FROM octane_import.builds`
		var args []any
		if len(states) > 0 {
			q += ` WHERE state = ANY($1)`
			args = append(args, stateStrings(states))
		}
		var err error
		out, err = collect(ctx, p, q, args, scanBuild)
		return err
	})
	sortBuilds(out)
	return out, err
}

// Summarize counts what the ledger holds.
func (p *Postgres) Summarize() (Summary, error) {
	ctx, cancel := p.ctx()
	defer cancel()
	s := newSummary()
	err := p.do(ctx, "counting", func(ctx context.Context) error {
		s = newSummary()
		b := &pgx.Batch{}
		b.Queue(`SELECT state, count(*), coalesce(sum(passed), 0), coalesce(sum(failed), 0), coalesce(sum(skipped), 0) FROM octane_import.files GROUP BY state`)
		b.Queue(`SELECT state, count(*) FROM octane_import.payloads GROUP BY state`)
		b.Queue(`SELECT state, count(*) FROM octane_import.builds GROUP BY state`)
		br := p.pool.SendBatch(ctx, b)
		defer br.Close()
		var st string
		var n, passed, failed, skipped int64
		rows, err := br.Query()
		if err == nil {
			_, err = pgx.ForEachRow(rows, []any{&st, &n, &passed, &failed, &skipped}, func() error {
				s.Files[FileState(st)] = int(n)
				if FileState(st) == Accepted {
					s.Runs = Counts{Passed: int(passed), Failed: int(failed), Skipped: int(skipped)}
				}
				return nil
			})
		}
		if err == nil {
			rows, err = br.Query()
		}
		if err == nil {
			_, err = pgx.ForEachRow(rows, []any{&st, &n}, func() error { s.Payloads[PayloadState(st)] = int(n); return nil })
		}
		if err == nil {
			rows, err = br.Query()
		}
		if err == nil {
			_, err = pgx.ForEachRow(rows, []any{&st, &n}, func() error { s.Builds[BuildState(st)] = int(n); return nil })
		}
		return err
	})
	return s, err
}

// ClaimFiles claims files for this instance; see Store.
func (p *Postgres) ClaimFiles(ctx context.Context, paths []string) ([]string, error) {
	if err := p.writable(); err != nil {
		return nil, err
	}
	p.owed.Lock() // a heartbeat releasing owed claims waits, and the files claimed now are owed no more
	defer p.owed.Unlock()
	var got []string
	err := p.do(ctx, "claiming files", func(ctx context.Context) error {
		rows, err := p.pool.Query(ctx, claimFilesSQL, dedupe(paths), p.inst.ID, p.opt.Lease)
		if err != nil {
			return err
		}
		got, err = pgx.CollectRows(rows, pgx.RowTo[string])
		return err
	})
	for _, f := range got {
		delete(p.owed.files, f)
	}
	return got, err
}

// ReleaseFiles gives up this instance's claims of the files.
func (p *Postgres) ReleaseFiles(ctx context.Context, paths []string) error {
	if err := p.writable(); err != nil {
		return err
	}
	err := p.do(ctx, "releasing files", func(ctx context.Context) error {
		_, err := p.pool.Exec(ctx, releaseFilesSQL, paths, p.inst.ID)
		return err
	})
	if IsTemporary(err) {
		p.owe(paths, nil) // released by the next heartbeat that reaches the database
		return nil
	}
	return err
}

// ClaimPayloads claims up to limit unclaimed payloads in the given states (pending and sent
// when none), oldest first: SELECT ... FOR UPDATE SKIP LOCKED, so that instances claiming
// at once get different payloads without waiting for each other.
func (p *Postgres) ClaimPayloads(ctx context.Context, limit int, states ...PayloadState) ([]Payload, error) {
	if err := p.writable(); err != nil {
		return nil, err
	}
	if len(states) == 0 {
		states = []PayloadState{Pending, PayloadSent}
	}
	ss := stateStrings(states)
	p.owed.Lock() // as ClaimFiles: a payload claimed again is owed no release
	defer p.owed.Unlock()
	var out []Payload
	err := p.do(ctx, "claiming payloads", func(ctx context.Context) error {
		var err error
		out, err = collect(ctx, p, `WITH picked AS (
				SELECT id FROM octane_import.payloads
				WHERE state = ANY($1) AND (claimed_by IS NULL OR claim_expires < now())
				ORDER BY id LIMIT $2 FOR UPDATE SKIP LOCKED)
			UPDATE octane_import.payloads q SET claimed_by = $3, claim_expires = now() + $4::interval
			FROM picked WHERE q.id = picked.id
			RETURNING `+prefixed("q.", payloadCols), []any{ss, limit, p.inst.ID, p.opt.Lease},
			scanPayload)
		return err
	})
	slices.SortFunc(out, func(a, b Payload) int { return cmp.Compare(a.ID, b.ID) })
	if err == nil {
		for _, q := range out {
			delete(p.owed.payloads, q.ID)
		}
	}
	return out, err
}

// prefixed is the column list cols with every column qualified by prefix ("q.").
func prefixed(prefix, cols string) string {
	parts := columns(cols)
	for i, c := range parts {
		parts[i] = prefix + c
	}
	return strings.Join(parts, ", ")
}

// ReleasePayloads gives up this instance's claims of the payloads.
func (p *Postgres) ReleasePayloads(ctx context.Context, ids []uint64) error {
	if err := p.writable(); err != nil {
		return err
	}
	err := p.do(ctx, "releasing payloads", func(ctx context.Context) error {
		_, err := p.pool.Exec(ctx, releasePayloadsSQL, int64s(ids), p.inst.ID)
		return err
	})
	if IsTemporary(err) {
		p.owe(nil, ids) // released by the next heartbeat that reaches the database
		return nil
	}
	return err
}
