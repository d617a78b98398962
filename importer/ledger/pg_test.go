package ledger

import (
	"context"
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/octane-import/octane-import/internal/testkit"
)

// pgServer is the PostgreSQL server the package's tests share (internal/testkit: started by
// the first test that needs one, removed by TestMain). The test skips when there is none,
// unless CI is set.
func pgServer(t testing.TB) *testkit.PostgresServer {
	t.Helper()
	return testkit.NeedPostgres(t)
}

// pgURL creates a database for the test and returns its URL.
func pgURL(t testing.TB) string {
	t.Helper()
	return testkit.Postgres(t)
}

// testOptions keep the PostgreSQL ledger's leases short enough for tests to wait them out.
var testOptions = Options{Lease: 2 * time.Second, Heartbeat: 300 * time.Millisecond, CallTimeout: 20 * time.Second, Version: "test"}

func openPG(t testing.TB, url string, opt Options) *Postgres {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	p, err := OpenPostgres(ctx, url, opt)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	return p
}

// TestMain removes what the tests shared: the PostgreSQL server and the benchmarks' ledger.
func TestMain(m *testing.M) {
	code := testkit.Main(m)
	if rescanLedger.dir != "" {
		os.RemoveAll(rescanLedger.dir)
	}
	os.Exit(code)
}

// pgDown reports whether err says the database is unavailable, with a message that names
// no secret.
func pgDown(t *testing.T, err error) bool {
	t.Helper()
	if err == nil {
		return false
	}
	if strings.Contains(err.Error(), pgServer(t).Password()) {
		t.Errorf("error shows the password: %v", err)
	}
	return errors.Is(err, ErrUnavailable)
}
