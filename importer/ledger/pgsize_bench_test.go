package ledger

import (
	"context"
	"testing"
	"time"
)

// BenchmarkPostgresSize fills a PostgreSQL ledger with an imported tree (20,000 files in 200
// builds of 100, each build's payload sent and accepted, as after a backfill) and reports
// what the database holds per file: the octane_import schema's tables with their indexes
// and TOAST, after a VACUUM (what a database settles at), in bytes per file and MB per
// 100,000 files, for docs/operations.md's sizing.
func BenchmarkPostgresSize(b *testing.B) {
	shape := benchShape{200, 100, false}
	var perFile float64
	for b.Loop() {
		b.StopTimer()
		url := pgURL(b)
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
		p, err := OpenPostgres(ctx, url, Options{})
		if err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		fillStore(b, p, shape, true)
		b.StopTimer()
		if _, err := p.pool.Exec(ctx, `VACUUM (ANALYZE) octane_import.files, octane_import.payloads, octane_import.builds, octane_import.file_claims`); err != nil {
			b.Fatal(err)
		}
		var size int64
		if err := p.pool.QueryRow(ctx, `SELECT sum(pg_total_relation_size(c.oid))::bigint FROM pg_class c
			JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = 'octane_import' AND c.relkind = 'r'`).Scan(&size); err != nil {
			b.Fatal(err)
		}
		var tables string
		if err := p.pool.QueryRow(ctx, `SELECT string_agg(c.relname || ' ' || pg_size_pretty(pg_total_relation_size(c.oid)), ', ' ORDER BY c.relname)
			FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = 'octane_import' AND c.relkind = 'r'`).Scan(&tables); err != nil {
			b.Fatal(err)
		}
		b.Logf("%d files: %s", shape.files(), tables)
		perFile = float64(size) / float64(shape.files())
		p.Close()
		cancel()
		b.StartTimer()
	}
	b.ReportMetric(perFile, "B/file")
	b.ReportMetric(perFile*100000/1e6, "MB/100k-files")
	b.ReportMetric(0, "ns/op")
}
