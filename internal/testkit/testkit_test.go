package testkit

import (
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestGoldenDiffNamesTheFirstDifferingLine(t *testing.T) {
	for _, tc := range []struct{ want, got, line string }{
		{"a\nb\nc\n", "a\nB\nc\n", "line 2:\nwant: \"b\"\ngot:  \"B\""},
		{"a\n", "a\nmore\n", "line 2:\nwant: \"\"\ngot:  \"more\""},
		{"a\nb", "a", "line 2:\nwant: \"b\"\ngot:  \"\""},
	} {
		d := diff(tc.want, tc.got)
		if !strings.Contains(d, "first difference at "+tc.line) || !strings.Contains(d, "--- got\n"+tc.got) {
			t.Errorf("diff(%q, %q) =\n%s\nwant line %s and both texts", tc.want, tc.got, d, tc.line)
		}
	}
	if d := diff(strings.Repeat("x", 20<<10), "y"); strings.Contains(d, "--- got") {
		t.Errorf("long texts are shown in full: %d bytes", len(d))
	}
}

func TestGoldenComparesAndUpdates(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sub", "x.golden")
	*update = true
	Golden(t, path, "one\n")
	*update = false
	if data, err := os.ReadFile(path); err != nil || string(data) != "one\n" {
		t.Fatalf("-update wrote %q, %v", data, err)
	}
	Golden(t, path, []byte("one\n"))
}

func TestCopyTreeAndWriteFile(t *testing.T) {
	src := t.TempDir()
	WriteFile(t, filepath.Join(src, "a", "b", "c.txt"), "c")
	WriteFile(t, filepath.Join(src, "d.bin"), []byte{0, 1})
	dst := CopyTree(t, src)
	for rel, want := range map[string]string{"a/b/c.txt": "c", "d.bin": "\x00\x01"} {
		if got, err := os.ReadFile(filepath.Join(dst, rel)); err != nil || string(got) != want {
			t.Errorf("%s: %q, %v; want %q", rel, got, err, want)
		}
	}
}

func TestFreeAddrIsFree(t *testing.T) {
	addr := FreeAddr(t)
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatalf("FreeAddr gave %s, which cannot be listened on: %v", addr, err)
	}
	ln.Close()
}
