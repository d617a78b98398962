package report

import (
	"bytes"
	"math"
	"strconv"
	"strings"
	"time"
	"unicode"
)

// durationIssue says why parseSeconds had to guess or give up.
type durationIssue int

const (
	durOK durationIssue = iota
	durUnreadable
	durNegative
	durNanoseconds
	durTooLarge
	durDecimalComma
)

// nanosThreshold: an integer time at or above this many "seconds" (11.6 days)
// is taken as nanoseconds; container-structure-test writes those.
const nanosThreshold = 1e6

// parseSeconds reads a JUnit time attribute (seconds). See the package doc for
// the separators it accepts. It never returns a negative duration.
func parseSeconds(s string) (time.Duration, durationIssue) {
	s = strings.TrimSpace(s)
	if s == "" {
		return 0, durOK
	}
	issue := durOK
	commas, dots := strings.Count(s, ","), strings.Count(s, ".")
	num := s
	switch {
	case commas > 0 && dots > 0:
		// The last separator is the decimal one: "2,503.1" or "2.503,1".
		if strings.LastIndexByte(s, ',') > strings.LastIndexByte(s, '.') {
			num = strings.ReplaceAll(strings.ReplaceAll(s, ".", ""), ",", ".")
		} else {
			num = strings.ReplaceAll(s, ",", "")
		}
	case commas == 1:
		num = strings.Replace(s, ",", ".", 1)
		issue = durDecimalComma
	case commas > 1:
		num = strings.ReplaceAll(s, ",", "")
	case dots > 1:
		num = strings.ReplaceAll(s, ".", "")
	}
	secs, err := strconv.ParseFloat(num, 64)
	if err != nil {
		if d, err := time.ParseDuration(s); err == nil { // "5ms", as go-junit accepts
			if d < 0 {
				return 0, durNegative
			}
			return d, durOK
		}
		return 0, durUnreadable
	}
	switch {
	case math.IsNaN(secs) || math.IsInf(secs, 0):
		return 0, durUnreadable
	case secs < 0:
		return 0, durNegative
	case secs >= nanosThreshold && !strings.ContainsAny(num, ".eE"):
		return time.Duration(secs), durNanoseconds
	case secs*1e9 >= math.MaxInt64:
		return 0, durTooLarge
	}
	return time.Duration(math.Round(secs * 1e9)), issue
}

// Layouts for timestamps. Go accepts a fractional second after the seconds
// field even when the layout has none.
var (
	zonedLayouts = []string{
		"2006-01-02T15:04:05Z07:00",
		"2006-01-02 15:04:05Z07:00",
		"2006-01-02T15:04:05Z0700",
		"2006-01-02 15:04:05Z0700",
		time.RFC1123,
		time.RFC1123Z,
		time.RFC850,
		"Mon, 2 Jan 2006 15:04:05 MST",
	}
	localLayouts = []string{
		"2006-01-02T15:04:05",
		"2006-01-02 15:04:05",
		"2006-01-02T15:04",
		"2006-01-02",
	}
)

// minPlausible: earlier timestamps are placeholders (0001-01-01, 1970-01-01).
var minPlausible = time.Date(1980, 1, 1, 0, 0, 0, 0, time.UTC)

// tsIssue says why a timestamp is unknown, or what was guessed.
type tsIssue uint8

const (
	tsOK          tsIssue = iota
	tsUnreadable          // not a timestamp
	tsPlaceholder         // before 1980
	tsZoneUnknown         // a zone abbreviation loc does not define: read as zone-less
)

// parseTimestamp reads a suite or testcase timestamp. zoneLess says the time
// was written without a zone (or with an abbreviation loc does not know) and
// was read in loc.
func parseTimestamp(s string, loc *time.Location) (t time.Time, zoneLess bool, issue tsIssue) {
	s = strings.TrimSpace(s)
	if s == "" {
		return time.Time{}, false, tsUnreadable
	}
	check := func(t time.Time, zoneLess bool, issue tsIssue) (time.Time, bool, tsIssue) {
		if t.Before(minPlausible) {
			return time.Time{}, false, tsPlaceholder
		}
		return t, zoneLess, issue
	}
	if strings.HasSuffix(s, " UTC") && !strings.Contains(s, ",") {
		s = strings.TrimSpace(strings.TrimSuffix(s, " UTC"))
		for _, l := range localLayouts {
			if t, err := time.ParseInLocation(l, s, time.UTC); err == nil {
				return check(t, false, tsOK)
			}
		}
		return time.Time{}, false, tsUnreadable
	}
	s = strings.Replace(s, "T ", "T", 1)
	for _, l := range zonedLayouts {
		// ParseInLocation, not Parse: a zone abbreviation ("EST") is looked up
		// in loc, never in the machine's zone.
		t, err := time.ParseInLocation(l, s, loc)
		if err != nil {
			continue
		}
		if z := t.Location(); strings.Contains(l, "MST") && z != loc && z != time.UTC {
			// Parse made up a zone for an abbreviation loc does not define,
			// with offset 0: unless it is GMT (or GMT+n), the offset is
			// unknown, so the time is read as zone-less in loc.
			if name, off := t.Zone(); off == 0 && !strings.HasPrefix(name, "GMT") && name != "UT" {
				y, mo, d := t.Date()
				h, mi, sec := t.Clock()
				return check(time.Date(y, mo, d, h, mi, sec, t.Nanosecond(), loc), true, tsZoneUnknown)
			}
		}
		return check(t, false, tsOK)
	}
	for _, l := range localLayouts {
		if t, err := time.ParseInLocation(l, s, loc); err == nil {
			return check(t, true, tsOK)
		}
	}
	return time.Time{}, false, tsUnreadable
}

// zoneAbbrev returns the last word of a timestamp (its zone, for messages).
func zoneAbbrev(s string) string {
	f := strings.Fields(s)
	if len(f) == 0 {
		return ""
	}
	return f[len(f)-1]
}

// fileExtensions are the last dotted element of a classname that names a
// file ("test_foo.py", "Assert.equal.phpt") rather than a class.
var fileExtensions = map[string]bool{
	"py": true, "js": true, "mjs": true, "cjs": true, "ts": true, "mts": true, "cts": true,
	"jsx": true, "tsx": true, "vue": true, "svelte": true, "rb": true, "php": true, "phpt": true,
	"go": true, "java": true, "kt": true, "kts": true, "scala": true, "groovy": true, "cs": true,
	"fs": true, "vb": true, "c": true, "cc": true, "cpp": true, "cxx": true, "h": true, "hpp": true,
	"swift": true, "m": true, "mm": true, "t": true, "pl": true, "pm": true, "feature": true,
	"robot": true, "sh": true, "bats": true, "ps1": true, "lua": true, "rs": true, "ex": true,
	"exs": true, "erl": true, "dart": true, "r": true, "jl": true, "xml": true, "yaml": true, "yml": true,
}

func hasFileExtension(s string) bool {
	i := strings.LastIndexByte(s, '.')
	return i > 0 && i < len(s)-1 && fileExtensions[strings.ToLower(s[i+1:])]
}

// splitClassname splits a JUnit classname into Octane's package and class:
//
//	com.example.FooTest          → com.example / FooTest        (Java, C#, Python module.Class)
//	tests.test_foo               → tests / test_foo             (Python module of test functions)
//	src/app/foo.test.ts          → src/app / foo.test.ts        (a path: directory / file)
//	C:\src\foo.js, Foo\Bar\Test  → C:\src / foo.js, Foo\Bar / Test
//	github.com/x/y/api4          → github.com/x/y / api4        (a Go import path)
//	crate::module::tests         → crate::module / tests        (Rust, C++, Perl)
//	test_foo.py, Foo › bar, TypedTest/1, bazel/test  → "" / the whole classname
//
// A classname with blanks, or a slash path that does not look like one (no
// file extension, no dot in its first element), is kept whole as the class.
func splitClassname(s string) (pkg, class string) {
	s = strings.TrimSpace(s)
	if s == "" || strings.IndexFunc(s, unicode.IsSpace) >= 0 || strings.ContainsRune(s, '›') {
		return "", s
	}
	if i := strings.LastIndexAny(s, `/\`); i >= 0 {
		first := s
		if j := strings.IndexAny(s, `/\`); j >= 0 {
			first = s[:j]
		}
		looksPath := hasFileExtension(s[i+1:]) || strings.Contains(first, ".") ||
			strings.HasPrefix(s, "/") || strings.Contains(s, `\`) || (len(first) == 2 && first[1] == ':')
		if !looksPath || i == 0 || i == len(s)-1 {
			return "", s
		}
		return s[:i], s[i+1:]
	}
	if i := strings.LastIndex(s, "::"); i > 0 && i < len(s)-2 {
		return s[:i], s[i+2:]
	}
	if hasFileExtension(s) {
		return "", s
	}
	if i := strings.LastIndexByte(s, '.'); i > 0 && i < len(s)-1 {
		return s[:i], s[i+1:]
	}
	return "", s
}

// attachmentScanner finds [[ATTACHMENT|path]] markers in system-out/err text
// that arrives in pieces, keeping only an unfinished marker between pieces.
type attachmentScanner struct {
	buf   []byte
	found []string
}

var (
	attachOpen  = []byte("[[ATTACHMENT|")
	attachClose = []byte("]]")
)

// maxMarker bounds how much text an unfinished marker may hold on to.
const maxMarker = 4096

func (a *attachmentScanner) reset() { a.buf, a.found = a.buf[:0], a.found[:0] }

func (a *attachmentScanner) write(p []byte) {
	a.buf = append(a.buf, p...)
	for {
		i := bytes.Index(a.buf, attachOpen)
		if i < 0 {
			// Keep a tail that may be the start of a marker.
			keep := min(len(a.buf), len(attachOpen)-1)
			a.buf = a.buf[:copy(a.buf, a.buf[len(a.buf)-keep:])]
			return
		}
		j := bytes.Index(a.buf[i+len(attachOpen):], attachClose)
		if j < 0 {
			if len(a.buf)-i > maxMarker {
				a.buf = a.buf[:0]
			} else {
				a.buf = a.buf[:copy(a.buf, a.buf[i:])]
			}
			return
		}
		path := strings.TrimSpace(string(a.buf[i+len(attachOpen) : i+len(attachOpen)+j]))
		if path != "" {
			a.found = append(a.found, path)
		}
		rest := i + len(attachOpen) + j + len(attachClose)
		a.buf = a.buf[:copy(a.buf, a.buf[rest:])]
	}
}

// appendUnique appends the paths not already in list.
func appendUnique(list []string, paths ...string) []string {
next:
	for _, p := range paths {
		for _, q := range list {
			if p == q {
				continue next
			}
		}
		list = append(list, p)
	}
	return list
}
