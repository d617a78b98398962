package gen

import (
	"cmp"
	"crypto/sha256"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/octane-import/octane-import/manifest"
	"github.com/octane-import/octane-import/report"
)

// digest hashes every file's path and bytes under dir.
func digest(t *testing.T, dir string) map[string][32]byte {
	t.Helper()
	out := map[string][32]byte{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		out[rel] = sha256.Sum256(data)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestDeterministic(t *testing.T) {
	spec := Spec{Seed: 7, Builds: 5, FilesPerBuild: 4, CasesPerFile: 30}
	a, b := t.TempDir(), t.TempDir()
	sa, err := Write(a, spec)
	if err != nil {
		t.Fatal(err)
	}
	sb, err := Write(b, spec)
	if err != nil {
		t.Fatal(err)
	}
	if sa != sb {
		t.Fatalf("stats differ: %+v vs %+v", sa, sb)
	}
	da, db := digest(t, a), digest(t, b)
	if len(da) != sa.Reports+sa.Manifests {
		t.Fatalf("%d files on disk, stats say %d reports and %d manifests", len(da), sa.Reports, sa.Manifests)
	}
	for k, v := range da {
		if db[k] != v {
			t.Errorf("%s differs between two runs with the same seed", k)
		}
	}
	c := t.TempDir()
	if _, err := Write(c, Spec{Seed: 8, Builds: 5, FilesPerBuild: 4, CasesPerFile: 30}); err != nil {
		t.Fatal(err)
	}
	same := 0
	for k, v := range digest(t, c) {
		if da[k] == v {
			same++
		}
	}
	if same == len(da) {
		t.Error("another seed wrote the same corpus")
	}
}

// TestReadable: every generated report reads without error or warning, with the counts the
// generator reports, and every manifest loads and owns its build's reports.
func TestReadable(t *testing.T) {
	dir := t.TempDir()
	st, err := Write(dir, Spec{Seed: 1, Builds: 12, FilesPerBuild: 3, CasesPerFile: 40})
	if err != nil {
		t.Fatal(err)
	}
	var got Stats
	var size int64
	err = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		info, _ := d.Info()
		size += info.Size()
		if manifest.IsManifestName(d.Name()) {
			m, err := manifest.Load(p)
			if err != nil {
				return err
			}
			got.Manifests++
			entries, _ := os.ReadDir(filepath.Dir(p))
			for _, e := range entries {
				if e.Name() != d.Name() && !m.Owns(filepath.Join(filepath.Dir(p), e.Name())) {
					t.Errorf("%s does not own %s", p, e.Name())
				}
			}
			return nil
		}
		r, err := report.ReadFile(p)
		if err != nil {
			return err
		}
		if len(r.Warnings) > 0 {
			t.Errorf("%s: warnings %v", p, r.Warnings)
		}
		c := r.Counts()
		got.Reports++
		got.Cases += c.Total
		got.Failed += c.Failed
		got.Skipped += c.Skipped
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if got.Reports != st.Reports || got.Cases != st.Cases || got.Failed != st.Failed || got.Skipped != st.Skipped || got.Manifests != st.Manifests {
		t.Errorf("read back %+v, generator says %+v", got, st)
	}
	if size != st.Bytes {
		t.Errorf("%d bytes on disk, generator says %d", size, st.Bytes)
	}
	if st.Failed == 0 || st.Skipped == 0 || st.Manifests == 0 || st.Manifests == st.Builds {
		t.Errorf("corpus lacks variety: %+v", st)
	}
}

// TestSuiteExact: WriteSuite writes exactly what its Suite says, case by case (classnames,
// names, failures, skips, output, timestamps), readably and the same bytes each time.
func TestSuiteExact(t *testing.T) {
	ts := time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)
	for _, s := range []Suite{
		{Name: "com.acme.A", Cases: 3},
		{Name: "com.acme.A", Cases: 5, Failed: 1, Timestamp: ts},
		{Name: "com.example.job00.Suite1", Cases: 40, Failed: 5, Skipped: 5, CaseName: func(i int) string { return fmt.Sprintf("case %d of build 101 <&>", i) }},
		{Name: "com.example.huge", Cases: 200, Classes: 50, Failed: 4, Skipped: 2, Output: 300},
		{Name: "com.example.Big", Cases: 3, Output: 5000, CaseName: func(i int) string { return fmt.Sprintf("big case %d", i) }},
	} {
		t.Run(fmt.Sprintf("%s/%d/%d", s.Name, s.Cases, s.Classes), func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "r", "TEST-x.xml")
			st, err := WriteSuite(path, s)
			if err != nil {
				t.Fatal(err)
			}
			first, _ := os.ReadFile(path)
			if _, err := WriteSuite(path, s); err != nil {
				t.Fatal(err)
			}
			if again, _ := os.ReadFile(path); string(again) != string(first) || st.Bytes != int64(len(first)) {
				t.Errorf("not the same bytes twice, or Bytes %d for %d bytes", st.Bytes, len(first))
			}
			r, err := report.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			if len(r.Warnings) > 0 {
				t.Errorf("warnings %v", r.Warnings)
			}
			if c := r.Counts(); c.Total != s.Cases || st.Cases != s.Cases || c.Failed != s.Failed || st.Failed != s.Failed || c.Skipped != st.Skipped || st.Skipped != s.Skipped {
				t.Errorf("read %+v, wrote %+v, asked %d cases, %d failed, %d skipped", c, st, s.Cases, s.Failed, s.Skipped)
			}
			if s.Failed > 0 && r.Runs[0].Status != report.Failed {
				t.Errorf("the first case is %s, want failed", r.Runs[0].Status)
			}
			for i, run := range r.Runs {
				if run.Classname != s.Class(i) || run.Name != s.Case(i) {
					t.Errorf("run %d is %s %q, want %s %q", i, run.Classname, run.Name, s.Class(i), s.Case(i))
				}
				if want := cmp.Or(s.Timestamp, base); !run.Started.Equal(want) && i == 0 {
					t.Errorf("started %s, want %s", run.Started, want)
				}
			}
			classes := map[string]bool{}
			for i := range s.Cases {
				classes[s.Class(i)] = true
			}
			if want := max(s.Classes, 1); len(classes) != want {
				t.Errorf("%d classes, want %d", len(classes), want)
			}
			if s.Output > 0 && int64(len(first)) < int64(s.Cases)*s.Output {
				t.Errorf("%d bytes for %d cases of %d bytes of output", len(first), s.Cases, s.Output)
			}
		})
	}
}

// TestTokenFloor counts the test cases WriteSuite wrote, and names a file that is not XML.
func TestTokenFloor(t *testing.T) {
	path := filepath.Join(t.TempDir(), "TEST-a.xml")
	if _, err := WriteSuite(path, Suite{Name: "a.B", Cases: 250, Classes: 5, Failed: 3, Output: 100}); err != nil {
		t.Fatal(err)
	}
	if n, err := TokenFloor(path); n != 250 || err != nil {
		t.Errorf("TokenFloor = %d, %v; want 250", n, err)
	}
	if err := os.WriteFile(path, []byte("<testsuite><testcase"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := TokenFloor(path); err == nil {
		t.Error("a truncated report counted without error")
	}
}

// TestExactCases: with ExactCases every report has exactly CasesPerFile test cases, and reads
// back without warnings at the smallest detail the benchmarks use.
func TestExactCases(t *testing.T) {
	dir := t.TempDir()
	spec := Spec{Seed: 3, Builds: 2, FilesPerBuild: 3, CasesPerFile: 77, ExactCases: true, Detail: 0.01}
	st, err := Write(dir, spec)
	if err != nil {
		t.Fatal(err)
	}
	if st.Reports != 6 || st.Cases != 6*77 {
		t.Fatalf("%d reports, %d cases; want 6 and %d", st.Reports, st.Cases, 6*77)
	}
	files, err := filepath.Glob(filepath.Join(dir, "*", "*", "TEST-*.xml"))
	if err != nil || len(files) != 6 {
		t.Fatalf("%v, %v", files, err)
	}
	for _, p := range files {
		r, err := report.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		if len(r.Runs) != 77 || len(r.Warnings) > 0 {
			t.Errorf("%s: %d runs (want 77), warnings %v", p, len(r.Runs), r.Warnings)
		}
	}
	// Without ExactCases the same spec draws each report's count.
	st2, err := Write(t.TempDir(), Spec{Seed: 3, Builds: 2, FilesPerBuild: 3, CasesPerFile: 77, Detail: 0.01})
	if err != nil {
		t.Fatal(err)
	}
	if st2.Cases == st.Cases {
		t.Errorf("drawn counts add up to exactly %d: the draw is not applied", st.Cases)
	}
}
