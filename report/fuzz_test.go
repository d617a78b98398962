package report

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"
)

// fuzzSeeds are the fixtures and the corpus files up to 64 KiB.
func fuzzSeeds(f *testing.F) [][]byte {
	seeds, _ := filepath.Glob("testdata/*.xml")
	if dir := corpusDirOrEmpty(); dir != "" {
		corpus, _ := filepath.Glob(filepath.Join(dir, "*.xml"))
		seeds = append(seeds, corpus...)
	}
	var out [][]byte
	for _, path := range seeds {
		data, err := os.ReadFile(path)
		if err != nil {
			f.Fatal(err)
		}
		if len(data) <= 64<<10 {
			out = append(out, data)
		}
	}
	return out
}

// FuzzRead: no panic and no hang on any input; every error is an *Error that
// names the file; every report keeps the invariants. Seeded from the fixtures
// and the corpus files up to 64 KiB (run: go test -fuzz FuzzRead ./report).
func FuzzRead(f *testing.F) {
	for _, data := range fuzzSeeds(f) {
		f.Add(data)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		const name = "fuzz.xml"
		r, err := ReadWith(bytes.NewReader(data), name, Options{Location: time.UTC})
		if err != nil {
			var e *Error
			if !errors.As(err, &e) || e.File != name || !strings.HasPrefix(err.Error(), name+":") || e.Err == nil {
				t.Fatalf("error %q (%T) does not name the file or has no cause", err, err)
			}
			if r != nil {
				t.Fatal("a report and an error")
			}
			return
		}
		if r.Path != name || r.Runs == nil {
			t.Fatalf("report %+v", r)
		}
		checkInvariants(t, r)
		if c := r.Counts(); c.Total != c.Passed+c.Failed+c.Skipped {
			t.Fatalf("counts %+v", c)
		}
	})
}

// chunkReader returns at most n bytes a Read.
type chunkReader struct {
	data []byte
	n    int
}

func (c *chunkReader) Read(p []byte) (int, error) {
	if len(c.data) == 0 {
		return 0, io.EOF
	}
	k := copy(p[:min(len(p), c.n)], c.data)
	c.data = c.data[k:]
	return k, nil
}

var fuzzZones = func() []*time.Location {
	zones := []*time.Location{time.UTC}
	for _, name := range []string{"Asia/Tokyo", "America/New_York"} {
		if loc, err := time.LoadLocation(name); err == nil {
			zones = append(zones, loc)
		}
	}
	return zones
}()

// FuzzDecoder: the streaming reader never panics or hangs, and gives what
// Read gives with the same options, whatever the size of the reads, the
// rerun window and the naming, and when the naming and the location are set
// after Head instead of in Options. Every run it gives keeps the invariants;
// the Summary counts what it gave (run: go test -fuzz FuzzDecoder ./report).
func FuzzDecoder(f *testing.F) {
	for i, data := range fuzzSeeds(f) {
		f.Add(data, uint8(i*37), uint8(i*11))
	}
	f.Fuzz(func(t *testing.T, data []byte, chunk, knobs uint8) {
		const name = "fuzz.xml"
		opts := Options{
			Naming:      Naming(knobs % 3),
			RerunWindow: []int{0, 1, 2, -1}[knobs/3%4],
			Location:    fuzzZones[int(knobs/12)%len(fuzzZones)],
		}
		late := knobs&0x80 != 0
		rep, rerr := ReadWith(bytes.NewReader(data), name, opts)

		dopts := opts
		if late {
			dopts.Naming = (opts.Naming + 1) % 3
			dopts.Location = fuzzZones[(int(knobs/12)+1)%len(fuzzZones)]
		}
		d := NewDecoder(&chunkReader{data: data, n: 1 + int(chunk)}, name, dopts)
		h, err := d.Head()
		exact := true
		if err == nil && late {
			exact = d.p.replayable // past its bounds, SetLocation applies to what follows only
			d.SetNaming(opts.Naming)
			d.SetLocation(opts.Location)
		}
		var runs []Run
		var c Counts
		for err == nil {
			var r *Run
			r, err = d.Next()
			if err != nil {
				break
			}
			if r.Name == "" || r.Duration < 0 || (r.Status == Failed) != (r.Failure != nil) || (r.Flaky && r.Status != Passed) {
				t.Fatalf("run %+v", r)
			}
			if p, cl := opts.Naming.Split(r.Classname); p != r.Package || cl != r.Class {
				t.Fatalf("run %q: %q / %q from classname %q in %s", r.Name, r.Package, r.Class, r.Classname, opts.Naming)
			}
			c.Total++
			switch r.Status {
			case Passed:
				c.Passed++
			case Failed:
				c.Failed++
			case Skipped:
				c.Skipped++
			}
			if r.Flaky {
				c.Flaky++
			}
			runs = append(runs, deepCopy(r))
		}
		if err != io.EOF {
			var e *Error
			if !errors.As(err, &e) || e.File != name {
				t.Fatalf("error %v (%T)", err, err)
			}
			if rerr == nil || rerr.Error() != err.Error() {
				t.Fatalf("stream error %v, Read error %v", err, rerr)
			}
			if _, again := d.Next(); again != err {
				t.Fatalf("error %v, then %v", err, again)
			}
			return
		}
		if rerr != nil {
			t.Fatalf("Read error %v, the stream read to the end", rerr)
		}
		if _, again := d.Next(); again != io.EOF {
			t.Fatalf("Next after the end: %v", again)
		}
		sum := d.Summary()
		if sum.Counts != c || c != rep.Counts() {
			t.Fatalf("summary counts %+v, runs given %+v, Read %+v", sum.Counts, c, rep.Counts())
		}
		slices.SortFunc(runs, byPosition)
		if len(runs) != len(rep.Runs) {
			t.Fatalf("%d runs, Read %d", len(runs), len(rep.Runs))
		}
		for i := range runs {
			if !reflect.DeepEqual(runs[i], rep.Runs[i]) {
				t.Fatalf("run %d:\n%+v\nRead:\n%+v", i, runs[i], rep.Runs[i])
			}
		}
		if !exact {
			return
		}
		if !slices.Equal(sum.Warnings, rep.Warnings) || !sum.Start.Equal(rep.Timestamp) || sum.Suites != rep.Suites {
			t.Fatalf("summary %+v\nRead: warnings %v, timestamp %v, suites %d", sum, rep.Warnings, rep.Timestamp, rep.Suites)
		}
		if n := len(h.Properties); n > len(rep.Properties) || !slices.Equal(h.Properties, rep.Properties[:n]) {
			t.Fatalf("head properties %v, Read %v", h.Properties, rep.Properties)
		}
		if !h.Timestamp.IsZero() && (h.Timestamp.Before(sum.Start) || h.Location != opts.Location) {
			t.Fatalf("head timestamp %v before the summary's %v", h.Timestamp, sum.Start)
		}
		if e := sum.Elapsed(); e < 0 {
			t.Fatalf("Elapsed %v", e)
		}
	})
}
