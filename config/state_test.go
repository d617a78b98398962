package config

import (
	"path/filepath"
	"testing"

	"github.com/octane-import/octane-import/internal/testkit"
)

// The ledger's location: a settings.state path is relative to the configuration's folder, a
// postgres:// URL (written out or from the environment) is taken as it is, and --state (or
// OCTANE_IMPORT_STATE, which sets it) wins over both.
func TestLedgerPath(t *testing.T) {
	dir := t.TempDir()
	cfgPath := filepath.Join(dir, "octane-import.yaml")
	const url = "postgres://importer:s3cret@db.example.com:5432/octane?sslmode=require"
	env := testkit.LookupEnv(map[string]string{"OCTANE_CLIENT_ID": "id", "OCTANE_CLIENT_SECRET": "x", "LEDGER_URL": url})
	for _, c := range []struct {
		name, state, flag, want string
	}{
		{"default", "", "", filepath.Join(dir, "octane-import.state")},
		{"relative", "state/ledger.db", "", filepath.Join(dir, "state", "ledger.db")},
		{"absolute", "/var/lib/octane-import/ledger.db", "", "/var/lib/octane-import/ledger.db"},
		{"url", url, "", url},
		{"postgresql scheme", "postgresql://db.example.com/octane", "", "postgresql://db.example.com/octane"},
		{"upper-case scheme", "POSTGRES://db.example.com/octane", "", "POSTGRES://db.example.com/octane"},
		{"url from the environment", "${env:LEDGER_URL}", "", url},
		{"flag over a path", "state.db", url, url},
		{"flag over a url", url, "other.db", "other.db"},
	} {
		t.Run(c.name, func(t *testing.T) {
			src := minimal
			if c.state != "" {
				src += "settings:\n  state: \"" + c.state + "\"\n"
			}
			cfg, err := Parse([]byte(src), cfgPath, env)
			if err != nil {
				t.Fatal(err)
			}
			if got := LedgerPath(cfg, Overrides{State: c.flag}); got != c.want {
				t.Errorf("LedgerPath = %q, want %q", got, c.want)
			}
		})
	}
}
