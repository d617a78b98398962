package docs_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

const module = "github.com/octane-import/octane-import/"

// imports lists each package of the module (outside bench, docs and reliability) with the
// module's packages and the standard network packages it imports, from `go list` (tests
// excluded: they may use anything).
func imports(t *testing.T) map[string][]string {
	t.Helper()
	cmd := exec.Command("go", "list", "-f", `{{.ImportPath}}{{range .Imports}} {{.}}{{end}}`, "./...")
	cmd.Dir = ".."
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	pkgs := map[string][]string{}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		fields := strings.Fields(line)
		name := strings.TrimPrefix(fields[0], module)
		if name == "docs" || name == "reliability" || name == "bench" || strings.HasPrefix(name, "bench/") {
			continue
		}
		var deps []string
		for _, imp := range fields[1:] {
			switch {
			case strings.HasPrefix(imp, module):
				deps = append(deps, strings.TrimPrefix(imp, module))
			case imp == "net/http" || imp == "net/url":
				deps = append(deps, imp)
			}
		}
		pkgs[name] = deps
	}
	return pkgs
}

// TestDependencies checks the rules docs/design.md states: dependencies point one way,
// mapping knows nothing of HTTP, octane nothing of files or rules, only cmd uses the
// sandbox, the readers stand alone; and design.md names every package.
func TestDependencies(t *testing.T) {
	pkgs := imports(t)
	if _, ok := pkgs["mapping"]; !ok || len(pkgs) < 10 {
		t.Fatalf("go list gave %d packages of the module, without mapping: %v", len(pkgs), pkgs)
	}
	never := map[string][]string{ // package → what it must not import
		"mapping":           {"net/http", "octane", "importer", "importer/ledger", "config", "sandbox", "cmd/octane-import"},
		"octane":            {"mapping", "importer", "importer/ledger", "config", "report", "manifest", "sandbox", "internal/glob"},
		"report":            {"mapping", "octane", "importer", "config", "manifest", "sandbox", "net/http"},
		"manifest":          {"mapping", "octane", "importer", "config", "report", "sandbox", "net/http"},
		"importer":          {"config", "sandbox", "cmd/octane-import", "internal/testkit"},
		"importer/ledger":   {"importer", "mapping", "octane", "config", "sandbox"},
		"config":            {"sandbox", "cmd/octane-import"},
		"sandbox":           {"importer", "mapping", "config", "cmd/octane-import"},
		"internal/glob":     {"mapping", "importer", "config"},
		"internal/yamlnode": {"mapping", "importer", "config", "manifest"},
		"internal/duration": {"mapping", "importer", "config"},
	}
	for pkg, deps := range pkgs {
		// internal/testkit and its scripts are test tooling (tests only import them): they
		// may use the sandbox and each other.
		tooling := pkg == "internal/testkit" || strings.HasPrefix(pkg, "internal/testkit/")
		for _, bad := range never[pkg] {
			if slices.Contains(deps, bad) {
				t.Errorf("%s imports %s (docs/design.md: it must not)", pkg, bad)
			}
		}
		for _, d := range deps {
			if d == "sandbox" && pkg != "cmd/octane-import" && !tooling {
				t.Errorf("%s imports sandbox: only cmd/octane-import may (for --sandbox and `sandbox`)", pkg)
			}
			if (d == "internal/testkit" || strings.HasPrefix(d, "internal/testkit/")) && !tooling {
				t.Errorf("%s imports internal/testkit outside its tests", pkg)
			}
			if strings.HasPrefix(d, "cmd/") {
				t.Errorf("%s imports %s: nothing imports the command", pkg, d)
			}
		}
	}
	design, err := os.ReadFile(filepath.Join("..", "docs", "design.md"))
	if err != nil {
		t.Fatal(err)
	}
	for pkg := range pkgs {
		if !strings.Contains(string(design), "| `"+pkg+"` |") {
			t.Errorf("docs/design.md's table has no row for package %s", pkg)
		}
	}
}
