package octane

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strings"
	"unicode/utf16"
	"unicode/utf8"
)

// MaxName is the XSD and entity limit for names and CI ids (string255).
const MaxName = 255

// MaxErrorText is the most characters the encoder writes in one error type,
// error message, error text or description: 512*512, the limit the Octane CI
// SDK applies "because Octane XML parser has limit size for reading attribute
// of XML file" (octane-ci-java-sdk commit 042ddc66, defect #2310022;
// shared/octane-clients.md §1.2, X11). Characters are counted as Java counts
// them (UTF-16 code units: a character outside the BMP counts twice), the
// stricter reading, since the server's parser is Java.
const MaxErrorText = 512 * 512

// truncateRunes cuts s to at most n characters (runes), never splitting a UTF-8
// sequence. It reports whether it cut.
func truncateRunes(s string, n int) (string, bool) {
	if n < 0 {
		n = 0
	}
	if len(s) <= n { // bytes ≥ runes
		return s, false
	}
	i := 0
	for pos := range s {
		if i == n {
			return s[:pos], true
		}
		i++
	}
	return s, false
}

// shortenID makes an identifier fit in max characters without merging distinct
// ids: a long id becomes its prefix, "~" and 16 hex digits of its SHA-256.
// The same input always gives the same output.
func shortenID(s string, max int) (string, bool) {
	if utf8.RuneCountInString(s) <= max {
		return s, false
	}
	sum := sha256.Sum256([]byte(s))
	suffix := "~" + hex.EncodeToString(sum[:8])
	prefix, _ := truncateRunes(s, max-len(suffix))
	return prefix + suffix, true
}

// isXMLChar reports whether r is allowed in XML 1.0.
func isXMLChar(r rune) bool {
	return r == 0x9 || r == 0xA || r == 0xD ||
		r >= 0x20 && r <= 0xD7FF ||
		r >= 0xE000 && r <= 0xFFFD ||
		r >= 0x10000 && r <= 0x10FFFF
}

// cleanXML makes s valid XML 1.0 text: invalid UTF-8 bytes become U+FFFD and
// characters not allowed in XML 1.0 are dropped. It returns how many bytes
// were replaced and how many characters were dropped.
func cleanXML(s string) (out string, replaced, dropped int) {
	ok := true
	for _, r := range s {
		if r == utf8.RuneError || !isXMLChar(r) {
			ok = false
			break
		}
	}
	if ok {
		return s, 0, 0
	}
	var b strings.Builder
	b.Grow(len(s))
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		i += size
		switch {
		case r == utf8.RuneError && size == 1:
			replaced++
			b.WriteRune(utf8.RuneError)
		case !isXMLChar(r):
			dropped++
		default:
			b.WriteRune(r)
		}
	}
	return b.String(), replaced, dropped
}

// fitName cleans and cuts a name to MaxName characters, logging what it did.
func (c *Client) fitName(what, s string) string {
	s, rep, drop := cleanXML(s)
	if rep+drop > 0 {
		c.log.Warn("octane: replaced or dropped characters invalid in XML", "field", what, "replaced", rep, "dropped", drop)
	}
	out, cut := truncateRunes(s, MaxName)
	if cut {
		c.log.Warn("octane: value cut to the Octane limit", "field", what, "limit", MaxName, "length", utf8.RuneCountInString(s), "kept", out)
	}
	return out
}

// fitID shortens an identifier to MaxName characters (prefix + hash), logging it.
func (c *Client) fitID(what, s string) string {
	s, rep, drop := cleanXML(s)
	if rep+drop > 0 {
		c.log.Warn("octane: replaced or dropped characters invalid in XML", "field", what, "replaced", rep, "dropped", drop)
	}
	out, cut := shortenID(s, MaxName)
	if cut {
		c.log.Warn("octane: identifier longer than the Octane limit, shortened with a hash", "field", what, "limit", MaxName, "length", utf8.RuneCountInString(s), "now", out)
	}
	return out
}

// utf16Units counts s as Java's String.length() does: one unit per character,
// two for a character outside the Basic Multilingual Plane.
func utf16Units(s string) int {
	n := 0
	for _, r := range s {
		n += utf16.RuneLen(r) // r is never a surrogate: 1 or 2
	}
	return n
}

// unitPrefix returns the longest prefix of s of at most n UTF-16 units.
func unitPrefix(s string, n int) string {
	for i, r := range s {
		w := utf16.RuneLen(r)
		if n < w {
			return s[:i]
		}
		n -= w
	}
	return s
}

// unitSuffix returns the longest suffix of s of at most n UTF-16 units.
func unitSuffix(s string, n int) string {
	i := len(s)
	for i > 0 {
		r, size := utf8.DecodeLastRuneInString(s[:i])
		w := utf16.RuneLen(r)
		if n < w {
			break
		}
		n -= w
		i -= size
	}
	return s[i:]
}

// capText keeps s within limit UTF-16 units: a longer s becomes its head, a
// marker saying how much was cut, and its tail (the head holds the exception
// and the first frames, the tail the innermost "Caused by"). It returns the
// length of s in units when it cut, else 0. The same s always gives the same
// result.
func capText(s string, limit int) (string, int) {
	if len(s) <= limit { // bytes >= UTF-16 units
		return s, 0
	}
	n := utf16Units(s)
	if n <= limit {
		return s, 0
	}
	// The marker names the count cut, which depends on the marker's own
	// length: size it for the largest count first, then fill the room.
	marker := func(cut int) string {
		return fmt.Sprintf("\n\n[… %d characters cut by octane-import: Octane's XML parser takes at most %d …]\n\n", cut, limit)
	}
	room := limit - utf16Units(marker(n))
	if room < 2 {
		return unitPrefix(s, limit), n
	}
	head := unitPrefix(s, room-room/2)
	tail := unitSuffix(s, room/2)
	return head + marker(n-utf16Units(head)-utf16Units(tail)) + tail, n
}
