package ledger

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// Holder is the process that holds a ledger open for writing, as it recorded itself in the
// holder record beside the ledger (path + ".holder"): written when it opens the ledger,
// removed when it closes it.
type Holder struct {
	PID     int       `json:"pid"`
	Host    string    `json:"host"`
	Command []string  `json:"command"` // its command line, secrets redacted
	Since   time.Time `json:"since"`
	// Socket is where it serves read-only views of the ledger (OpenView), if it does.
	Socket string `json:"socket,omitempty"`
}

// Alive reports whether the holder may still be running: false only when it ran on this
// host and no process has its pid any more (a kill -9 or a lost machine leaves its record
// behind; a holder on another host is taken to be alive).
func (h *Holder) Alive() bool {
	if host, _ := os.Hostname(); h.Host != host {
		return true
	}
	return processAlive(h.PID)
}

// String names the holder: pid, host, command and since when, e.g.
// "pid 4242 on build-7 (octane-import watch /drops), since 2026-03-04 05:06:07 UTC (3m0s ago)".
func (h *Holder) String() string {
	cmd := strings.Join(h.Command, " ")
	if len(cmd) > 200 {
		cmd = cmd[:200] + "…"
	}
	return fmt.Sprintf("pid %d on %s (%s), since %s (%s ago)", h.PID, h.Host, cmd,
		h.Since.UTC().Format("2006-01-02 15:04:05 MST"), time.Since(h.Since).Round(time.Second))
}

// LockedError is the error of opening a ledger another process holds. errors.Is(err,
// ErrLocked) is true of it.
type LockedError struct {
	Path string
	// Holder is who holds it, from its holder record; nil when there is no record (a
	// read-only reader such as a dry run, or an octane-import from before the records).
	Holder *Holder
	// Stale is set when the record names a process of this host that is gone: whoever holds
	// the ledger now did not record itself.
	Stale bool
}

func (e *LockedError) Error() string {
	switch {
	case e.Holder == nil:
		return fmt.Sprintf("ledger %s: %v (it did not say who: a read-only reader such as status or a dry run, or an older octane-import)", e.Path, ErrLocked)
	case e.Stale:
		return fmt.Sprintf("ledger %s: %v; its holder record names %s, which is no longer running (a stale record: who holds it now is unknown)", e.Path, ErrLocked, e.Holder)
	}
	return fmt.Sprintf("ledger %s: %v: %s", e.Path, ErrLocked, e.Holder)
}

// Is makes errors.Is(err, ErrLocked) true.
func (e *LockedError) Is(target error) bool { return target == ErrLocked }

// holderPath is where the holder of the ledger at path records itself.
func holderPath(path string) string { return path + ".holder" }

// ReadHolder returns the holder record of the ledger at path, or nil when there is none.
// The record may be stale (see Holder.Alive).
func ReadHolder(path string) (*Holder, error) {
	data, err := os.ReadFile(holderPath(path))
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var h Holder
	if err := json.Unmarshal(data, &h); err != nil {
		return nil, fmt.Errorf("holder record %s: %w", holderPath(path), err)
	}
	return &h, nil
}

// lockedError describes the holder of a ledger this process could not lock.
func lockedError(path string) error {
	h, err := ReadHolder(path)
	if err != nil || h == nil {
		return &LockedError{Path: path}
	}
	return &LockedError{Path: path, Holder: h, Stale: !h.Alive()}
}

// newHolder describes this process.
func newHolder(socket string) *Holder {
	host, _ := os.Hostname()
	return &Holder{PID: os.Getpid(), Host: host, Command: redactArgs(os.Args), Since: time.Now().Round(time.Millisecond), Socket: socket}
}

// writeHolder records h beside the ledger at path: written to a temporary file, synced and
// renamed into place, so that a reader sees a whole record or none.
func writeHolder(path string, h *Holder) error {
	data, err := json.Marshal(h)
	if err != nil {
		return err
	}
	return writeSynced(fmt.Sprintf("%s.%d.tmp", holderPath(path), os.Getpid()), holderPath(path), data, os.O_TRUNC)
}

// removeHolder removes the holder record if it is still h's (it must be: h holds the lock).
func removeHolder(path string, h *Holder) {
	if cur, err := ReadHolder(path); err == nil && cur != nil && cur.PID == h.PID && cur.Since.Equal(h.Since) {
		os.Remove(holderPath(path))
	}
}

// socketPath is where the holder of the ledger at path serves views: beside it, or, when that
// path is too long for a unix socket (104 bytes on some systems), in the temporary folder
// under a name derived from the ledger's absolute path.
func socketPath(path string) string {
	p := path + ".sock"
	if len(p) < 100 {
		return p
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		abs = path
	}
	sum := sha256.Sum256([]byte(abs))
	return filepath.Join(os.TempDir(), "octane-import-"+hex.EncodeToString(sum[:8])+".sock")
}

// redactArgs is a command line with secrets replaced: passwords in URLs, and the values of
// flags whose names say secret, password or token.
func redactArgs(args []string) []string {
	out := make([]string, len(args))
	redactNext := false
	for i, a := range args {
		switch {
		case redactNext:
			a, redactNext = "xxxxx", false
		case strings.HasPrefix(a, "-") && secretFlag(a):
			if name, _, ok := strings.Cut(a, "="); ok {
				a = name + "=xxxxx"
			} else {
				redactNext = true
			}
		}
		out[i] = RedactURLs(a)
	}
	return out
}

func secretFlag(flag string) bool {
	name, _, _ := strings.Cut(strings.ToLower(flag), "=")
	for _, s := range []string{"secret", "password", "passwd", "token"} {
		if strings.Contains(name, s) {
			return true
		}
	}
	return false
}

// RedactURLs replaces the password of every URL with userinfo in s by "xxxxx".
func RedactURLs(s string) string {
	i := strings.Index(s, "://")
	if i < 0 {
		return s
	}
	var b strings.Builder
	for {
		i = strings.Index(s, "://")
		if i < 0 {
			b.WriteString(s)
			return b.String()
		}
		start := i
		for start > 0 && isSchemeChar(s[start-1]) {
			start--
		}
		end := i + 3
		for end < len(s) && !strings.ContainsRune(" \t\n\"'<>`", rune(s[end])) {
			end++
		}
		b.WriteString(s[:start])
		b.WriteString(redactURL(s[start:end]))
		s = s[end:]
	}
}

func isSchemeChar(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '+' || c == '-' || c == '.'
}

func redactURL(raw string) string {
	u, err := url.Parse(raw)
	if err == nil && u.User != nil {
		if _, ok := u.User.Password(); ok {
			return u.Redacted()
		}
		return raw
	}
	if err != nil {
		// Unparseable (a password with reserved characters, say): cut what sits between
		// "://user:" and the last "@" before the host.
		rest := raw[strings.Index(raw, "://")+3:]
		if at := strings.LastIndex(rest, "@"); at >= 0 {
			if colon := strings.Index(rest[:at], ":"); colon >= 0 {
				return raw[:len(raw)-len(rest)] + rest[:colon] + ":xxxxx" + rest[at:]
			}
		}
	}
	return raw
}
