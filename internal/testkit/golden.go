package testkit

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// update is the one -update flag of the project's tests: `go test ./pkg -update` rewrites
// the golden files the package's tests compare with instead of comparing.
var update = flag.Bool("update", false, "rewrite the golden files instead of comparing with them")

// Golden compares got with the golden file at path (relative to the test's folder, or
// absolute). With -update it writes got there instead, making its folders.
func Golden[T string | []byte](t testing.TB, path string, got T) {
	t.Helper()
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (go test -run '%s' -update writes it)", err, t.Name())
	}
	if string(want) != string(got) {
		t.Errorf("%s differs from the output (check it, then go test -run '%s' -update rewrites it)\n%s", path, t.Name(), diff(string(want), string(got)))
	}
}

// diff describes how got differs from want: the first line that differs, and both texts
// in full when they are short.
func diff(want, got string) string {
	wl, gl := strings.Split(want, "\n"), strings.Split(got, "\n")
	var b strings.Builder
	for i := 0; i < len(wl) || i < len(gl); i++ {
		var w, g string
		if i < len(wl) {
			w = wl[i]
		}
		if i < len(gl) {
			g = gl[i]
		}
		if w != g || (i >= len(wl)) != (i >= len(gl)) {
			fmt.Fprintf(&b, "first difference at line %d:\nwant: %q\ngot:  %q\n", i+1, w, g)
			break
		}
	}
	if len(want)+len(got) <= 16<<10 {
		fmt.Fprintf(&b, "--- got\n%s\n--- want\n%s", got, want)
	}
	return b.String()
}
