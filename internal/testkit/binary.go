package testkit

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sync"
	"testing"
)

// The version information Binary's build carries (-ldflags -X, as scripts/release.sh sets
// it): `octane-import --version` prints them.
const (
	BinaryVersion = "v0.0.0-test"
	BinaryCommit  = "0123456789abcdef"
	BinaryDate    = "2026-11-27T00:00:00Z"
)

var built struct {
	once      sync.Once
	dir, path string
	err       error
	skip      string
}

// Binary returns the path of the octane-import binary of this checkout, built on the
// first call of the test process: `go build -trimpath` of ./cmd/octane-import with the
// version information above, into a temporary folder (world-readable, so that a child run
// as another user can run it). go build's cache makes building unchanged code a link.
// Without a go tool the test is skipped. A package that calls Binary runs its tests
// through Main (or WithPostgres), which removes the folder afterwards.
func Binary(t testing.TB) string {
	t.Helper()
	built.once.Do(build)
	if built.skip != "" {
		t.Skip(built.skip)
	}
	if built.err != nil {
		t.Fatal(built.err)
	}
	return built.path
}

func build() {
	goTool, err := exec.LookPath("go")
	if err != nil {
		built.skip = "no go tool on PATH to build octane-import: " + err.Error()
		return
	}
	root, err := repoRoot()
	if err != nil {
		built.err = err
		return
	}
	dir, err := os.MkdirTemp("", "octane-import-test-")
	if err != nil {
		built.err = err
		return
	}
	built.dir = dir
	if err := os.Chmod(dir, 0o755); err != nil {
		built.err = err
		return
	}
	name := "octane-import"
	if runtime.GOOS == "windows" {
		name += ".exe"
	}
	path := filepath.Join(dir, name)
	ldflags := fmt.Sprintf("-X main.version=%s -X main.commit=%s -X main.date=%s", BinaryVersion, BinaryCommit, BinaryDate)
	cmd := exec.Command(goTool, "build", "-trimpath", "-ldflags", ldflags, "-o", path, "./cmd/octane-import")
	cmd.Dir = root
	if out, err := cmd.CombinedOutput(); err != nil {
		built.err = fmt.Errorf("building octane-import: %v\n%s", err, out)
		return
	}
	built.path = path
}

// RemoveBinary removes what Binary built, if it built anything. Main calls it after
// m.Run.
func RemoveBinary() {
	if built.dir != "" {
		os.RemoveAll(built.dir)
	}
}
