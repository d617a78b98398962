package docs_test

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
)

// TestWorkedExampleIsCurrent keeps the worked example of configuration.md in step with the
// example file, the golden explain output the command produces from that layout (see
// cmd/octane-import/explain_test.go) and the golden list of load errors.
func TestWorkedExampleIsCurrent(t *testing.T) {
	doc, err := os.ReadFile("configuration.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{
		filepath.Join("examples", "octane-import.yaml"),
		filepath.Join("..", "cmd", "octane-import", "testdata", "explain-worked-example.golden"),
		filepath.Join("..", "config", "testdata", "mistakes.golden"),
	} {
		want, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Contains(doc, bytes.TrimRight(want, "\n")) {
			t.Errorf("configuration.md does not contain the current %s", name)
		}
	}
	// The JSON example is the first line of the golden JSON output, indented.
	jsonl, err := os.ReadFile(filepath.Join("..", "cmd", "octane-import", "testdata", "explain-worked-example.jsonl.golden"))
	if err != nil {
		t.Fatal(err)
	}
	var v any
	if err := json.Unmarshal(bytes.SplitN(jsonl, []byte("\n"), 2)[0], &v); err != nil {
		t.Fatal(err)
	}
	pretty, _ := json.MarshalIndent(v, "", "  ")
	if !bytes.Contains(doc, pretty) {
		t.Errorf("configuration.md does not contain the first line of explain-worked-example.jsonl.golden, indented:\n%s", pretty)
	}
}
