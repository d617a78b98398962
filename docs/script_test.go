package docs_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/rogpeppe/go-internal/testscript"

	"github.com/octane-import/octane-import/internal/testkit"
	"github.com/octane-import/octane-import/internal/testkit/scripts"
)

// TestScripts runs testdata/script/*.txtar, what the pages promise as a user would check
// it: command lines and what they must print, against the built binary (first on PATH) in
// a minimal environment (testscript's: no variable of the machine running the tests leaks
// in). The custom commands and conditions are scripts'; BINARY_VERSION, BINARY_COMMIT12 and
// BINARY_DATE are the version information the binary was built with.
func TestScripts(t *testing.T) {
	bin := testkit.Binary(t)
	testscript.Run(t, testscript.Params{
		Dir: filepath.Join("testdata", "script"),
		Setup: func(e *testscript.Env) error {
			e.Setenv("PATH", filepath.Dir(bin)+string(os.PathListSeparator)+e.Getenv("PATH"))
			e.Setenv("LANG", "C.UTF-8")
			e.Setenv("BINARY_VERSION", testkit.BinaryVersion)
			e.Setenv("BINARY_COMMIT12", testkit.BinaryCommit[:12])
			e.Setenv("BINARY_DATE", testkit.BinaryDate)
			return nil
		},
		Condition: scripts.Condition,
		Cmds:      scripts.Commands(),
	})
}
