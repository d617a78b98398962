package octane

import (
	"net/url"
	"strings"
)

// redacted stands for a secret in what is printed or logged.
const redacted = "[redacted]"

// redact hides a secret: "" stays "" (so that what is unset shows as unset).
func redact(s string) string {
	if s == "" {
		return ""
	}
	return redacted
}

// RedactURL returns s, a URL to print or log, with the password of its user
// information replaced by [redacted]: http://user:pw@proxy:3128 becomes
// http://user:[redacted]@proxy:3128, and so does a URL written without a
// scheme (user:pw@proxy:3128, as a proxy may be given). The user name stays;
// a URL without a password is returned as it is. When an "@" stands after
// the host part and may end a password written with a "/" in it (the URL does
// not parse, or its host part has a ":"), where the password ends cannot be
// told, and the whole of s is replaced by [redacted].
func RedactURL(s string) string {
	prefix, rest := "", s
	if i := strings.Index(s, "://"); i >= 0 {
		prefix, rest = s[:i+3], s[i+3:]
	}
	end := len(rest)
	if i := strings.IndexAny(rest, "/?#"); i >= 0 {
		end = i
	}
	host, tail := rest[:end], rest[end:]
	at := strings.LastIndex(host, "@")
	if at < 0 {
		if strings.Contains(tail, "@") {
			if _, err := url.Parse(s); err != nil || strings.Contains(host, ":") {
				return redacted
			}
		}
		return s
	}
	user, password, ok := strings.Cut(host[:at], ":")
	if !ok || password == "" {
		return s
	}
	return prefix + user + ":" + redacted + host[at:] + tail
}
