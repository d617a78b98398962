package octane_test

import (
	"strings"
	"testing"

	"github.com/octane-import/octane-import/octane"
)

func TestRedactURL(t *testing.T) {
	tests := []struct {
		in, want, secret string
	}{
		{"", "", ""},
		{"https://octane.example.com/ctx", "https://octane.example.com/ctx", ""},
		{"http://proxy.corp:3128", "http://proxy.corp:3128", ""},
		{"not a url", "not a url", ""},
		{"http://u:pw-1@proxy.corp:3128", "http://u:[redacted]@proxy.corp:3128", "pw-1"},
		{"https://u:pw-1@octane.example.com/ctx/?x=1#f", "https://u:[redacted]@octane.example.com/ctx/?x=1#f", "pw-1"},
		{"socks5://u:p%40ss-1@proxy.corp:1080", "socks5://u:[redacted]@proxy.corp:1080", "ss-1"},
		{"ftp://u:pw-1@proxy:1", "ftp://u:[redacted]@proxy:1", "pw-1"},
		// A proxy may be given without a scheme.
		{"u:pw-1@proxy.corp:3128", "u:[redacted]@proxy.corp:3128", "pw-1"},
		// An "@" inside the password, not escaped: the last one ends it.
		{"http://u:p@ss-1@proxy.corp", "http://u:[redacted]@proxy.corp", "ss-1"},
		{"http://:pw-1@proxy.corp", "http://:[redacted]@proxy.corp", "pw-1"},
		// A user alone, or an empty password, hides nothing.
		{"http://token-user@proxy.corp:3128", "http://token-user@proxy.corp:3128", ""},
		{"http://u:@proxy.corp", "http://u:@proxy.corp", ""},
		// Not a URL at all, the password still hidden.
		{"http://u:pw-1@[::1", "http://u:[redacted]@[::1", "pw-1"},
		// A "/", "?" or "#" in the password: where it ends cannot be told.
		{"http://u:pa/ss-1@proxy.corp:3128", "[redacted]", "ss-1"},
		{"http://u:12/ss-1@proxy.corp", "[redacted]", "ss-1"},
		{"http://u:p?ss-1@proxy.corp", "[redacted]", "ss-1"},
		{"http://u:p#ss-1@proxy.corp", "[redacted]", "ss-1"},
		// An "@" in the path of a URL without user information stays.
		{"https://octane.example.com/users/@me", "https://octane.example.com/users/@me", ""},
	}
	for _, tc := range tests {
		got := octane.RedactURL(tc.in)
		if got != tc.want {
			t.Errorf("RedactURL(%q) = %q, want %q", tc.in, got, tc.want)
		}
		if tc.secret != "" && strings.Contains(got, tc.secret) {
			t.Errorf("RedactURL(%q) = %q shows the password", tc.in, got)
		}
	}
}
