package main

import (
	"path/filepath"
	"testing"

	"github.com/rogpeppe/go-internal/testscript"

	"github.com/octane-import/octane-import/internal/testkit"
	"github.com/octane-import/octane-import/internal/testkit/scripts"
)

// TestMain lets the test binary run as octane-import inside the scripts: `exec
// octane-import` in a script runs main, as the built binary would.
func TestMain(m *testing.M) {
	testscript.Main(testkit.WithPostgres(m), map[string]func(){
		"octane-import": main,
	})
}

// TestScripts runs testdata/script/*.txtar: command lines as a user types them, with what
// they must print and their exit status (see the testscript package). Each script starts
// in a fresh folder holding its files; `standin` starts a stand-in Octane for it (the
// commands scripts.Commands adds, and the [postgres] condition, are described there).
func TestScripts(t *testing.T) {
	builds, err := filepath.Abs(filepath.Join("..", "..", "testdata", "builds"))
	if err != nil {
		t.Fatal(err)
	}
	testscript.Run(t, testscript.Params{
		Dir: filepath.Join("testdata", "script"),
		Setup: func(e *testscript.Env) error {
			e.Setenv("BUILDS", builds) // the repository's example builds (read-only)
			e.Setenv("NO_COLOR", "")
			e.Setenv("TZ", "UTC")
			return nil
		},
		Condition: scripts.Condition,
		Cmds:      scripts.Commands(),
	})
}
