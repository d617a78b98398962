package testkit

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// SharedPath returns the path of rel (slash-separated) inside the team's shared folder
// (/work/shared: reference files beside the repository, never copied into it), found by
// walking up from the current directory, so that /work/main and /work/wt/NAME find the
// same folder; "" when there is none.
func SharedPath(rel string) string {
	dir, err := os.Getwd()
	if err != nil {
		return ""
	}
	for {
		p := filepath.Join(dir, "shared", filepath.FromSlash(rel))
		if _, err := os.Stat(p); err == nil {
			return p
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return ""
		}
		dir = parent
	}
}

// Shared is SharedPath, skipping the test when the shared folder does not hold rel.
func Shared(t testing.TB, rel string) string {
	t.Helper()
	p := SharedPath(rel)
	if p == "" {
		t.Skipf("shared/%s not found above the package directory", rel)
	}
	return p
}

// Missing stops a test that cannot run here (a tool or a server is not installed): it is
// skipped, unless CI is set; .ci/run installs everything the tests need, so there a
// missing piece is a failure, not a reason to pass.
func Missing(t testing.TB, why string) {
	t.Helper()
	if os.Getenv("CI") != "" {
		t.Fatalf("%s (CI is set: .ci/run must install it)", why)
	}
	t.Skip(why)
}

// Tool returns the path of the program name on PATH, or stops the test with Missing,
// naming the Debian package that holds it.
func Tool(t testing.TB, name, debianPackage string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		Missing(t, name+" is not installed (apt-get install "+debianPackage+")")
	}
	return p
}
