// Package duration parses the durations people write in the configuration
// file and in build manifests: Go durations (90s, 1h30m, 2m30.5s) and, where
// the caller accepts them, whole days (30d) or whole milliseconds (150000).
// A negative duration is an error.
package duration

import (
	"fmt"
	"math"
	"regexp"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// Accept says which forms besides Go durations a place accepts.
type Accept struct {
	Days   bool // "30d": whole days, at most MaxDays
	Millis bool // "150000": whole milliseconds, as a CI tool's timing gives them
}

// MaxDays bounds a duration in days (a hundred years).
const MaxDays = 36500

const maxMillis = math.MaxInt64 / int64(time.Millisecond)

// number is a decimal number as written: what a misplaced unit-less value
// looks like.
var number = regexp.MustCompile(`^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$`)

// Parse reads s. Its errors quote s (at most 60 characters of it) and say
// what is accepted.
func Parse(s string, accept Accept) (time.Duration, error) {
	if accept.Millis && number.MatchString(s) {
		return millis(s)
	}
	if days, ok := strings.CutSuffix(s, "d"); accept.Days && ok && isDigits(strings.TrimPrefix(days, "-")) {
		n, err := strconv.Atoi(days)
		switch {
		case strings.HasPrefix(days, "-"):
			return 0, negative(s)
		case err != nil || n > MaxDays:
			return 0, fmt.Errorf("%q is too long (at most %dd)", truncate(s), MaxDays)
		}
		return time.Duration(n) * 24 * time.Hour, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, fmt.Errorf("%q is not a duration (%s)", truncate(s), examples(accept))
	}
	if d < 0 {
		return 0, negative(s)
	}
	return d, nil
}

// millis reads a number as milliseconds: a whole number ≥ 0.
func millis(s string) (time.Duration, error) {
	if isDigits(strings.TrimPrefix(s, "+")) {
		v, err := strconv.ParseInt(s, 10, 64)
		if err != nil || v > maxMillis {
			return 0, fmt.Errorf("%s milliseconds is too long", truncate(s))
		}
		return time.Duration(v) * time.Millisecond, nil
	}
	if strings.HasPrefix(s, "-") && isDigits(s[1:]) {
		return 0, negative(s)
	}
	return 0, fmt.Errorf("milliseconds must be an integer, got %s (or write a duration such as 1.5s)", truncate(s))
}

func negative(s string) error {
	return fmt.Errorf("duration must not be negative, got %s", truncate(s))
}

func examples(accept Accept) string {
	ex := "examples: 90s, 5m, 1h30m"
	if accept.Days {
		ex += ", 30d"
	}
	if accept.Millis {
		ex += "; or whole milliseconds: 150000"
	}
	return ex
}

// isDigits reports whether s is one or more ASCII digits.
func isDigits(s string) bool { return digits.MatchString(s) }

var digits = regexp.MustCompile(`^[0-9]+$`)

func truncate(s string) string {
	if utf8.RuneCountInString(s) <= 60 {
		return s
	}
	return string([]rune(s)[:60]) + "…"
}
