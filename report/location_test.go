package report

import (
	"strings"
	"testing"
	"time"
	_ "time/tzdata" // the zones below, whatever the machine has
)

func mustZone(t *testing.T, name string) *time.Location {
	t.Helper()
	loc, err := time.LoadLocation(name)
	if err != nil {
		t.Fatal(err)
	}
	return loc
}

// TestLocation: zone-less timestamps (issue 12 item 7) are read in
// Options.Location, wherever they are, and are said to be zone-less; zoned
// ones are the same instant in every location.
func TestLocation(t *testing.T) {
	const doc = `<testsuites>
  <testsuite name="zone-less" timestamp="2020-11-18T13:17:18">
    <testcase name="suite's"/>
    <testcase name="own" timestamp="2020-11-18T13:20:00.5"/>
    <testcase name="own zoned" timestamp="2020-11-18T13:20:00Z"/>
  </testsuite>
  <testsuite name="zoned" timestamp="2020-11-18T13:17:18Z"><testcase name="Z"/></testsuite>
  <testsuite name="offset" timestamp="2020-11-18T13:17:18+09:00"><testcase name="+09:00"/></testsuite>
  <testsuite name="utc suffix" timestamp="2020-11-18 13:17:18 UTC"><testcase name="UTC suffix"/></testsuite>
  <testsuite name="gmt" timestamp="Wed, 18 Nov 2020 13:17:18 GMT"><testcase name="GMT"/></testsuite>
  <testsuite name="est" timestamp="Wed, 18 Nov 2020 13:17:18 EST"><testcase name="EST"/></testsuite>
  <testsuite name="date only" timestamp="2020-11-18"><testcase name="date only"/></testsuite>
  <testsuite name="minutes" timestamp="2020-11-18T13:17"><testcase name="minutes"/></testsuite>
</testsuites>`
	type want struct {
		utc string // the instant, in UTC
	}
	same := func(s string) want { return want{s} }
	for _, tc := range []struct {
		zone  string
		start string // the earliest suite timestamp
		runs  map[string]want
		// EST is a zone of America/New_York only; elsewhere it is unknown,
		// read as zone-less, with a warning.
		estWarning bool
	}{
		{"UTC", "2020-11-18T00:00:00Z", map[string]want{
			"suite's": {"2020-11-18T13:17:18Z"}, "own": {"2020-11-18T13:20:00.5Z"},
			"EST": {"2020-11-18T13:17:18Z"}, "date only": {"2020-11-18T00:00:00Z"}, "minutes": {"2020-11-18T13:17:00Z"},
		}, true},
		{"Asia/Tokyo", "2020-11-17T15:00:00Z", map[string]want{
			"suite's": {"2020-11-18T04:17:18Z"}, "own": {"2020-11-18T04:20:00.5Z"},
			"EST": {"2020-11-18T04:17:18Z"}, "date only": {"2020-11-17T15:00:00Z"}, "minutes": {"2020-11-18T04:17:00Z"},
		}, true},
		{"America/New_York", "2020-11-18T04:17:18Z", map[string]want{
			"suite's": {"2020-11-18T18:17:18Z"}, "own": {"2020-11-18T18:20:00.5Z"},
			"EST": same("2020-11-18T18:17:18Z"), "date only": {"2020-11-18T05:00:00Z"}, "minutes": {"2020-11-18T18:17:00Z"},
		}, false},
	} {
		for k, v := range map[string]want{"own zoned": same("2020-11-18T13:20:00Z"), "Z": same("2020-11-18T13:17:18Z"),
			"+09:00": same("2020-11-18T04:17:18Z"), "UTC suffix": same("2020-11-18T13:17:18Z"), "GMT": same("2020-11-18T13:17:18Z")} {
			tc.runs[k] = v
		}
		loc := mustZone(t, tc.zone)
		for _, how := range []string{"Options.Location", "SetLocation after Head"} {
			opts := Options{Location: loc}
			if how != "Options.Location" {
				opts.Location = mustZone(t, "Pacific/Kiritimati") // +14: far from all three
			}
			d := NewDecoder(strings.NewReader(doc), "tz.xml", opts)
			h, err := d.Head()
			if err != nil {
				t.Fatal(err)
			}
			if how != "Options.Location" {
				d.SetLocation(loc)
			}
			if h.Location != loc || !h.Timestamp.Equal(utc(tc.runs["suite's"].utc)) || !h.ZoneLess || !h.Suites[1].ZoneLess {
				t.Errorf("%s, %s: head timestamp %v zone-less %v in %v", tc.zone, how, h.Timestamp, h.ZoneLess, h.Location)
			}
			n := 0
			for {
				r, err := d.Next()
				if err != nil {
					break
				}
				n++
				w, ok := tc.runs[r.Name]
				if !ok {
					t.Fatalf("run %q not in the table", r.Name)
				}
				if !r.Started.Equal(utc(w.utc)) {
					t.Errorf("%s, %s: %q started %v, want %s", tc.zone, how, r.Name, r.Started.UTC(), w.utc)
				}
			}
			sum := d.Summary()
			if n != len(tc.runs) || !sum.ZoneLess || sum.Location != loc || !sum.Start.Equal(utc(tc.start)) {
				t.Errorf("%s, %s: %d runs, summary %+v", tc.zone, how, n, sum)
			}
			est := false
			for _, w := range sum.Warnings {
				est = est || w.Code == WarnTimestampZoneUnknown
			}
			if est != tc.estWarning {
				t.Errorf("%s, %s: zone-unknown warning %v, want %v: %v", tc.zone, how, est, tc.estWarning, sum.Warnings)
			}
		}
	}
}

// TestSetLocationHeadWarning: an abbreviation unknown in the first location
// and known in the one set after Head leaves no warning.
func TestSetLocationHeadWarning(t *testing.T) {
	const doc = `<testsuite name="est" timestamp="Wed, 18 Nov 2020 13:17:18 EST"><testcase name="a"/></testsuite>`
	d := NewDecoder(strings.NewReader(doc), "est.xml", Options{Location: time.UTC})
	h, err := d.Head()
	if err != nil {
		t.Fatal(err)
	}
	if !h.ZoneLess || len(d.Summary().Warnings) != 1 {
		t.Fatalf("in UTC: zone-less %v, warnings %v", h.ZoneLess, d.Summary().Warnings)
	}
	d.SetLocation(mustZone(t, "America/New_York"))
	if h.ZoneLess || !h.Timestamp.Equal(utc("2020-11-18T18:17:18Z")) || len(d.Summary().Warnings) != 0 {
		t.Errorf("in New York: %v zone-less %v, warnings %v", h.Timestamp, h.ZoneLess, d.Summary().Warnings)
	}
	r, err := d.Next()
	if err != nil || !r.Started.Equal(utc("2020-11-18T18:17:18Z")) {
		t.Errorf("run %+v, %v", r, err)
	}
	if s := d.Summary(); s.ZoneLess || !s.Start.Equal(utc("2020-11-18T18:17:18Z")) {
		t.Errorf("summary %+v", s)
	}
}

// TestParseTimestampLocation: the parser never consults time.Local when given
// a location.
func TestParseTimestampLocation(t *testing.T) {
	tokyo := mustZone(t, "Asia/Tokyo")
	for _, s := range []string{"2020-11-18T13:17:18", "2020-11-18 13:17:18", "2020-11-18T13:17", "2020-11-18"} {
		got, zl, issue := parseTimestamp(s, tokyo)
		if issue != tsOK || !zl || got.Location() != tokyo {
			t.Errorf("%q: %v zone-less %v issue %v", s, got, zl, issue)
		}
	}
	if got, zl, issue := parseTimestamp("Wed, 18 Nov 2020 13:17:18 JST", tokyo); issue != tsOK || zl || !got.Equal(utc("2020-11-18T04:17:18Z")) {
		t.Errorf("JST in Tokyo: %v %v %v", got, zl, issue)
	}
}
