package testkit

import (
	"context"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

func TestMain(m *testing.M) { os.Exit(Main(m)) }

// TestPostgres creates databases of their own, and keeps what they hold across a fast and an
// immediate stop of the server.
func TestPostgres(t *testing.T) {
	s := NeedPostgres(t)
	a, b := s.Database(t), s.Database(t)
	if a == b || !strings.Contains(a, s.Password()) || !strings.HasPrefix(a, "postgres://ledger:") {
		t.Fatalf("databases %s and %s", a, b)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	exec := func(url, sql string) (int, error) {
		conn, err := pgx.Connect(ctx, url)
		if err != nil {
			return 0, err
		}
		defer conn.Close(ctx)
		var n int
		if strings.HasPrefix(sql, "SELECT") {
			err = conn.QueryRow(ctx, sql).Scan(&n)
		} else {
			_, err = conn.Exec(ctx, sql)
		}
		return n, err
	}
	if _, err := exec(a, "CREATE TABLE x (n int); INSERT INTO x VALUES (1), (2)"); err != nil {
		t.Fatal(err)
	}
	if _, err := exec(b, "SELECT count(*) FROM x"); err == nil {
		t.Fatal("database b sees database a's table")
	}
	for _, immediate := range []bool{false, true} {
		if err := s.Stop(immediate); err != nil {
			t.Fatal(err)
		}
		if _, err := exec(a, "SELECT count(*) FROM x"); err == nil {
			t.Fatalf("stopped (immediate %t), the server still answers", immediate)
		}
		if err := s.Start(); err != nil {
			t.Fatal(err)
		}
		if n, err := exec(a, "SELECT count(*) FROM x"); err != nil || n != 2 {
			t.Fatalf("after a restart (immediate %t): %d rows, %v", immediate, n, err)
		}
	}
}
