package duration

import (
	"strings"
	"testing"
	"time"
)

func TestParse(t *testing.T) {
	config := Accept{Days: true}
	manifest := Accept{Millis: true}
	tests := []struct {
		in     string
		accept Accept
		want   time.Duration
		err    string // "" when valid
	}{
		// Go durations, everywhere.
		{"90s", Accept{}, 90 * time.Second, ""},
		{"1h30m", config, 90 * time.Minute, ""},
		{"1h2m3.5s", manifest, time.Hour + 2*time.Minute + 3500*time.Millisecond, ""},
		{"850ms", manifest, 850 * time.Millisecond, ""},
		{"0", config, 0, ""},
		{"-5s", config, 0, "duration must not be negative, got -5s"},
		{"-5s", manifest, 0, "duration must not be negative, got -5s"},
		{"", config, 0, `"" is not a duration (examples: 90s, 5m, 1h30m, 30d)`},
		{"1y", config, 0, `"1y" is not a duration (examples: 90s, 5m, 1h30m, 30d)`},
		{"soon", Accept{}, 0, `"soon" is not a duration (examples: 90s, 5m, 1h30m)`},
		{"2 minutes", manifest, 0, `"2 minutes" is not a duration (examples: 90s, 5m, 1h30m; or whole milliseconds: 150000)`},
		{"9999999999h", config, 0, "is not a duration"},
		{strings.Repeat("x", 70), config, 0, `"` + strings.Repeat("x", 60) + `…" is not a duration`},

		// Whole days, where accepted.
		{"2d", config, 48 * time.Hour, ""},
		{"0d", config, 0, ""},
		{"36500d", config, 36500 * 24 * time.Hour, ""},
		{"36501d", config, 0, `"36501d" is too long (at most 36500d)`},
		{"99999999999999999999d", config, 0, "is too long"},
		{"-1d", config, 0, "duration must not be negative, got -1d"},
		{"d", config, 0, `"d" is not a duration`},
		{"1.5d", config, 0, `"1.5d" is not a duration`},
		{"2d", manifest, 0, `"2d" is not a duration`},

		// Whole milliseconds, where accepted.
		{"120490", manifest, 120490 * time.Millisecond, ""},
		{"+5", manifest, 5 * time.Millisecond, ""},
		{"0", manifest, 0, ""},
		{"-5", manifest, 0, "duration must not be negative, got -5"},
		{"-0", manifest, 0, "duration must not be negative, got -0"},
		{"1.5", manifest, 0, "milliseconds must be an integer, got 1.5 (or write a duration such as 1.5s)"},
		{"1e3", manifest, 0, "milliseconds must be an integer, got 1e3"},
		{"-1.5", manifest, 0, "milliseconds must be an integer, got -1.5"},
		{"99999999999999999999", manifest, 0, "99999999999999999999 milliseconds is too long"},
		{"9223372036855", manifest, 0, "milliseconds is too long"},
		{"9223372036854", manifest, 9223372036854 * time.Millisecond, ""},
		{"120490", config, 0, `"120490" is not a duration`},
		{"inf", manifest, 0, `"inf" is not a duration`},
	}
	for _, tc := range tests {
		got, err := Parse(tc.in, tc.accept)
		switch {
		case tc.err == "" && (err != nil || got != tc.want):
			t.Errorf("Parse(%q, %+v) = %v, %v; want %v", tc.in, tc.accept, got, err, tc.want)
		case tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)):
			t.Errorf("Parse(%q, %+v) = %v, %v; want an error containing %q", tc.in, tc.accept, got, err, tc.err)
		}
	}
}

func FuzzParse(f *testing.F) {
	for _, s := range []string{"90s", "30d", "-1d", "150000", "1.5", "-5", "1h2m3.5s", "+5", "1e9"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		for _, a := range []Accept{{}, {Days: true}, {Millis: true}, {Days: true, Millis: true}} {
			d, err := Parse(s, a)
			if err == nil && d < 0 {
				t.Fatalf("Parse(%q, %+v) = %v", s, a, d)
			}
			if err != nil && err.Error() == "" {
				t.Fatal("empty error")
			}
		}
	})
}
