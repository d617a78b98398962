package docs_test

import (
	"html"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/octane-import/octane-import/internal/testkit"
)

// TestSandboxEmptyPageInstructions does what the empty sandbox page tells a new user to do,
// word for word: save its configuration snippet as octane-import.yaml, run its commands
// (in a folder that has the repository's testdata/builds), and refresh the page.
func TestSandboxEmptyPageInstructions(t *testing.T) {
	sb := startSandbox(t)
	page := sb.page(t)
	pre := func(id string) string {
		m := regexp.MustCompile(`(?s)<pre id="` + id + `">(.*?)</pre>`).FindStringSubmatch(page)
		if m == nil {
			t.Fatalf("the empty page has no <pre id=%q>:\n%s", id, page)
		}
		return html.UnescapeString(m[1])
	}
	config, commands := pre("conn-config"), pre("conn-commands")
	mustContain(t, "the configuration on the page", config, `url: "`+sb.url+`"`, `client_id: "`+sandboxClientID+`"`)
	mustContain(t, "the commands on the page", commands, "OCTANE_CLIENT_SECRET="+sandboxSecret)

	dir := t.TempDir()
	testkit.CopyTreeTo(t, filepath.Join("..", "testdata", "builds"), filepath.Join(dir, "testdata", "builds"))
	testkit.WriteFile(t, filepath.Join(dir, "octane-import.yaml"), config)
	expectOK(t, runBash(t, dir, nil, commands), "Files: 8 imported.")

	page = sb.page(t)
	mustContain(t, "the sandbox page after the import", page, "payments-unit", "web-e2e", "4 builds")
	if strings.Contains(page, "Nothing imported yet") {
		t.Error("the page still says nothing was imported")
	}
}
