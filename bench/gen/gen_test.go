package gen

import (
	"crypto/sha256"
	"io/fs"
	"os"
	"path/filepath"
	"testing"

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
