package ledger

import (
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"
)

// testNames is an in-memory name table for codec tests.
type testNames struct {
	ids   map[string]uint64
	names []string
}

func (n *testNames) assign(s string) (uint64, error) {
	if n.ids == nil {
		n.ids = map[string]uint64{}
	}
	if id, ok := n.ids[s]; ok {
		return id, nil
	}
	n.names = append(n.names, s)
	n.ids[s] = uint64(len(n.names))
	return uint64(len(n.names)), nil
}

func (n *testNames) lookup(id uint64) (string, error) {
	if id == 0 || id > uint64(len(n.names)) {
		return "", fmt.Errorf("%w: no name %d", errCorrupt, id)
	}
	return n.names[id-1], nil
}

var codecTime = time.Unix(0, 1772600000123456789)

func TestCodecRoundTrip(t *testing.T) {
	var n testNames
	files := []File{
		{Path: "/a"},
		{Path: "/drops/payments/unit/1042/TEST-a.xml", Root: "/drops", Size: 1234, ModTime: 1772600000123456789, Hash: benchHash,
			State: Accepted, Rule: "by-folder", Target: "prod", Build: "prod\x1fci\x1fjob\x1f1042", Payloads: []uint64{7, 3, 1 << 40},
			Task: "1001", Status: "success", Runs: Counts{Passed: 3, Failed: 1, Skipped: 2}, Error: "", Attempt: 2, Scan: 9, Updated: codecTime},
		{Path: "/b", Hash: "not a sha256", State: Failed, Error: "broken.xml:3: unexpected EOF", ModTime: -5, Size: -1},
		{Path: "/c", Hash: strings.ToUpper(benchHash), State: FileState("from the future"), Task: "0042"},
		{Path: "/d", Task: "18446744073709551615"},
		{Path: "/e", Task: "task-7"},
	}
	for _, f := range files {
		v, err := encodeFile(&f, n.assign)
		if err != nil {
			t.Fatal(err)
		}
		got, err := decodeFile(f.Path, v, n.lookup)
		if err != nil {
			t.Fatalf("%s: %v", f.Path, err)
		}
		if !reflect.DeepEqual(normFile(got), normFile(f)) {
			t.Errorf("file round trip:\n got %+v\nwant %+v", got, f)
		}
	}
	payloads := []Payload{
		{ID: 1},
		{ID: 2, Target: "prod", Build: "k", Files: []string{"/r/a/b.xml", "/r/a/c.xml", "/r/b.xml", "/r/a/b.xml", ""}, Runs: 9, Bytes: 1000,
			Spool: "1-2-3.xml.gz", State: PayloadSent, Task: "77", Status: "queued", Error: "x", Attempts: 3, Created: codecTime, Updated: codecTime.Add(time.Second)},
	}
	for _, p := range payloads {
		v, err := encodePayload(&p, n.assign)
		if err != nil {
			t.Fatal(err)
		}
		got, err := decodePayload(p.ID, v, n.lookup, false)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(normPayload(got), normPayload(p)) {
			t.Errorf("payload round trip:\n got %+v\nwant %+v", got, p)
		}
		head, err := decodePayload(p.ID, v, n.lookup, true)
		if err != nil || head.State != p.State || head.Spool != p.Spool {
			t.Errorf("payload head = %+v, %v", head, err)
		}
	}
	builds := []Build{
		{Key: "k"},
		{Key: "k2", Target: "prod", Start: codecTime, Spec: json.RawMessage(`{"a":1}`), State: BuildFailed, Error: "no", Runs: Counts{1, 2, 3}, Updated: codecTime},
	}
	for _, bd := range builds {
		v, err := encodeBuild(&bd, n.assign)
		if err != nil {
			t.Fatal(err)
		}
		got, err := decodeBuild(bd.Key, v, n.lookup)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(normBuild(got), normBuild(bd)) {
			t.Errorf("build round trip:\n got %+v\nwant %+v", got, bd)
		}
	}
}

// A file record of the bench's shape is well under the 400 bytes (key and bbolt's
// overhead come on top).
func TestFileRecordSize(t *testing.T) {
	var n testNames
	f := File{Path: benchPath(1, 2), Root: "/srv/ci-drops/results", Size: 4123, ModTime: codecTime.UnixNano(), Hash: benchHash, State: Accepted,
		Rule: "by-folder", Target: "prod", Build: benchBuildKey(1), Payloads: []uint64{1234}, Task: "101234", Status: "success",
		Runs: Counts{Passed: 4, Failed: 1}, Scan: 3, Updated: codecTime}
	v, err := encodeFile(&f, n.assign)
	if err != nil {
		t.Fatal(err)
	}
	js, _ := json.Marshal(f)
	t.Logf("file record: %d bytes binary, %d bytes JSON (key %d bytes)", len(v), len(js), len(f.Path))
	if len(v) > 80 {
		t.Errorf("file record is %d bytes", len(v))
	}
}

func normFile(f File) File {
	f.Updated = f.Updated.UTC()
	if len(f.Payloads) == 0 {
		f.Payloads = nil
	}
	return f
}

func normPayload(p Payload) Payload {
	p.Created, p.Updated = p.Created.UTC(), p.Updated.UTC()
	if len(p.Files) == 0 {
		p.Files = nil
	}
	return p
}

func normBuild(b Build) Build {
	b.Start, b.Updated = b.Start.UTC(), b.Updated.UTC()
	return b
}

// FuzzDecode feeds arbitrary bytes to the record decoders: an error or a record, never a
// panic (a ledger file is input too: a disk can corrupt it).
func FuzzDecode(f *testing.F) {
	var n testNames
	fr, _ := encodeFile(&File{Path: "/a", Root: "/r", Hash: benchHash, Payloads: []uint64{1, 2}, Error: "e", Updated: codecTime}, n.assign)
	pr, _ := encodePayload(&Payload{Target: "t", Files: []string{"/a/b", "/a/c"}, Created: codecTime}, n.assign)
	br, _ := encodeBuild(&Build{Target: "t", Spec: json.RawMessage(`{}`), Start: codecTime}, n.assign)
	for _, seed := range [][]byte{fr, pr, br, []byte(`{"path":"/x"}`), {1, 0xff, 0x80}, {}} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		_, _ = decodeFile("/k", data, n.lookup)
		_, _ = decodePayload(1, data, n.lookup, false)
		_, _ = decodePayload(1, data, n.lookup, true)
		_, _ = decodeBuild("k", data, n.lookup)
	})
}
