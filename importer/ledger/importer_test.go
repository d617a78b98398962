package ledger_test

import (
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/octane-import/octane-import/importer"
	"github.com/octane-import/octane-import/importer/ledger"
	"github.com/octane-import/octane-import/mapping"
	"github.com/octane-import/octane-import/octane"
	"github.com/octane-import/octane-import/sandbox"
)

// The importer as it is, on either backend: scanning the repository's example tree into the
// sandbox records the same outcome in a PostgreSQL ledger as in an embedded one, and a
// second scan finds everything unchanged.
func TestImporterOnEveryBackend(t *testing.T) {
	tree, err := filepath.Abs(filepath.Join("..", "..", "testdata", "builds"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(tree); err != nil {
		t.Fatal(err)
	}
	var sums []ledger.Summary
	for _, state := range []string{filepath.Join(t.TempDir(), "ledger.db"), ledger.PGURLForTest(t)} {
		srv, err := sandbox.Start(sandbox.Options{})
		if err != nil {
			t.Fatal(err)
		}
		defer srv.Close()
		o := srv.Options()
		client, err := octane.New(octane.Config{URL: srv.URL(), SharedSpace: o.SharedSpace, Workspace: o.Workspace,
			ClientID: o.Credentials[0].ID, ClientSecret: o.Credentials[0].Secret,
			Poll: octane.PollPolicy{Min: time.Millisecond, Max: 20 * time.Millisecond}, Logger: slog.New(slog.DiscardHandler)})
		if err != nil {
			t.Fatal(err)
		}
		scan := func() *importer.Summary {
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			l, err := ledger.OpenStore(ctx, state, ledger.Options{Version: "test"})
			if err != nil {
				t.Fatal(err)
			}
			defer l.Close()
			im, err := importer.New(importer.Options{Rules: mapping.Default("test-host"), Ledger: l,
				Client: func(string) (importer.Client, error) { return client, nil }})
			if err != nil {
				t.Fatal(err)
			}
			sum, err := im.Scan(ctx, []string{tree})
			if err != nil {
				t.Fatalf("%s: %v", ledger.RedactURLs(state), err)
			}
			return sum
		}
		first := scan()
		if first.Outcomes[importer.Imported] == 0 || first.Outcomes[importer.Failed] != 0 {
			t.Fatalf("%s: first scan %+v", ledger.RedactURLs(state), first.Outcomes)
		}
		second := scan()
		if second.Outcomes[importer.Unchanged] != first.Outcomes[importer.Imported]+first.Outcomes[importer.Empty] || second.Payloads != 0 {
			t.Errorf("%s: second scan %+v (%d payloads), first %+v", ledger.RedactURLs(state), second.Outcomes, second.Payloads, first.Outcomes)
		}
		v, err := ledger.OpenView(state)
		if err != nil {
			t.Fatal(err)
		}
		s, err := v.Summarize()
		v.Close()
		if err != nil {
			t.Fatal(err)
		}
		sums = append(sums, s)
	}
	if len(sums) == 2 && !sameSummary(sums[0], sums[1]) {
		t.Errorf("embedded ledger %+v, PostgreSQL %+v", sums[0], sums[1])
	}
}

func sameSummary(a, b ledger.Summary) bool {
	eq := func(x, y map[string]int) bool {
		for k, v := range x {
			if y[k] != v {
				return false
			}
		}
		return len(x) == len(y)
	}
	conv := func(s ledger.Summary) [3]map[string]int {
		var out [3]map[string]int
		for i := range out {
			out[i] = map[string]int{}
		}
		for k, v := range s.Files {
			out[0][string(k)] = v
		}
		for k, v := range s.Payloads {
			out[1][string(k)] = v
		}
		for k, v := range s.Builds {
			out[2][string(k)] = v
		}
		return out
	}
	ca, cb := conv(a), conv(b)
	return eq(ca[0], cb[0]) && eq(ca[1], cb[1]) && eq(ca[2], cb[2]) && a.Runs == b.Runs
}
