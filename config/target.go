package config

import (
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"

	"github.com/octane-import/octane-import/octane"
)

// Target is one Octane workspace to send to. Its credentials are resolved
// at load from ${env:NAME} and ${file:PATH} references; every way of
// printing a Target (String, GoString, LogValue, MarshalJSON) redacts them.
type Target struct {
	Name, URL, SharedSpace, Workspace string
	ClientID, ClientSecret            string
	User, Password                    string
	Proxy, NoProxy, CAFile            string
	Insecure                          bool
	Compression                       string // gzip (default) or none: how test-results payloads travel
	ClientType                        string // the HPECLIENTTYPE header ("" = HPE_CI_CLIENT, "none" = not sent)
	TestNaming                        string // split (default), clt or converter: how a classname becomes package and class
	Line                              int    // line of the target in the file (0 when built in)

	// Unresolved says why a value of the target could not be resolved at load (a
	// ${env:NAME} not set, a ${file:PATH} that cannot be read). Only connecting needs those
	// values: explain, validate, status and a dry run go on without them.
	Unresolved []Problem
}

// Usable says whether the target can be connected to: its values all resolved.
func (t Target) Usable() error {
	if len(t.Unresolved) == 0 {
		return nil
	}
	return &LoadError{File: t.Unresolved[0].File, Problems: t.Unresolved}
}

const redacted = "[redacted]"

func redact(s string) string {
	if s == "" {
		return ""
	}
	return redacted
}

// String describes the target without its secrets.
func (t Target) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "target %q url=%q shared_space=%q workspace=%q", t.Name, octane.RedactURL(t.URL), t.SharedSpace, t.Workspace)
	if t.ClientID != "" {
		fmt.Fprintf(&b, " client_id=%q", t.ClientID)
	}
	if t.ClientSecret != "" {
		b.WriteString(" client_secret=" + redacted)
	}
	if t.User != "" {
		fmt.Fprintf(&b, " user=%q", t.User)
	}
	if t.Password != "" {
		b.WriteString(" password=" + redacted)
	}
	if t.Proxy != "" {
		fmt.Fprintf(&b, " proxy=%q", octane.RedactURL(t.Proxy))
	}
	if t.Insecure {
		b.WriteString(" insecure")
	}
	return b.String()
}

// GoString keeps %#v from printing the secrets.
func (t Target) GoString() string { return "config.Target{" + t.String() + "}" }

// LogValue gives slog the target without its secrets.
func (t Target) LogValue() slog.Value {
	return slog.GroupValue(
		slog.String("name", t.Name),
		slog.String("url", octane.RedactURL(t.URL)),
		slog.String("shared_space", t.SharedSpace),
		slog.String("workspace", t.Workspace),
		slog.String("client_id", t.ClientID),
		slog.String("client_secret", redact(t.ClientSecret)),
		slog.String("user", t.User),
		slog.String("password", redact(t.Password)),
		slog.String("proxy", octane.RedactURL(t.Proxy)),
		slog.Bool("insecure", t.Insecure),
	)
}

// MarshalJSON writes the target with its secrets redacted.
func (t Target) MarshalJSON() ([]byte, error) {
	return json.Marshal(struct {
		Name         string `json:"name"`
		URL          string `json:"url"`
		SharedSpace  string `json:"shared_space"`
		Workspace    string `json:"workspace"`
		ClientID     string `json:"client_id,omitempty"`
		ClientSecret string `json:"client_secret,omitempty"`
		User         string `json:"user,omitempty"`
		Password     string `json:"password,omitempty"`
		Proxy        string `json:"proxy,omitempty"`
		NoProxy      string `json:"no_proxy,omitempty"`
		CAFile       string `json:"ca_file,omitempty"`
		Insecure     bool   `json:"insecure,omitempty"`
		Line         int    `json:"line,omitempty"`
	}{t.Name, octane.RedactURL(t.URL), t.SharedSpace, t.Workspace, t.ClientID, redact(t.ClientSecret), t.User, redact(t.Password),
		octane.RedactURL(t.Proxy), t.NoProxy, t.CAFile, t.Insecure, t.Line})
}

// expandRefs replaces ${env:NAME} and ${file:PATH} in s. `$${` stands for a
// literal `${`. A relative PATH is taken from baseDir (the configuration
// file's folder); one trailing newline (\n or \r\n) of the file is removed.
// refProblem is why a ${...} reference did not expand: a mistake in the file, or a value
// that is not there now (unresolved: a variable not set, a file that cannot be read).
type refProblem struct {
	msg        string
	unresolved bool
}

func expandRefs(s string, env func(string) (string, bool), baseDir string) (string, []refProblem) {
	if !strings.Contains(s, "${") {
		return s, nil
	}
	var b strings.Builder
	var errs []refProblem
	for i := 0; i < len(s); i++ {
		if strings.HasPrefix(s[i:], "$${") {
			b.WriteString("${")
			i += 2
			continue
		}
		if !strings.HasPrefix(s[i:], "${") {
			b.WriteByte(s[i])
			continue
		}
		end := strings.IndexByte(s[i:], '}')
		if end < 0 {
			errs = append(errs, refProblem{msg: fmt.Sprintf("unclosed ${ in %q", s)})
			return s, errs
		}
		ref := s[i+2 : i+end]
		i += end
		kind, arg, _ := strings.Cut(ref, ":")
		switch kind {
		case "env":
			if arg == "" {
				errs = append(errs, refProblem{msg: "${env:} names no variable"})
				continue
			}
			v, ok := env(arg)
			if !ok {
				errs = append(errs, refProblem{msg: fmt.Sprintf("environment variable %s is not set (referenced as ${env:%s})", arg, arg), unresolved: true})
				continue
			}
			b.WriteString(v)
		case "file":
			if arg == "" {
				errs = append(errs, refProblem{msg: "${file:} names no file"})
				continue
			}
			p := arg
			if !filepath.IsAbs(p) {
				p = filepath.Join(baseDir, p)
			}
			data, err := readSecretFile(p)
			if err != nil {
				errs = append(errs, refProblem{msg: fmt.Sprintf("cannot read ${file:%s}: %v", arg, err), unresolved: true})
				continue
			}
			v := strings.TrimSuffix(string(data), "\n")
			v = strings.TrimSuffix(v, "\r")
			b.WriteString(v)
		default:
			errs = append(errs, refProblem{msg: fmt.Sprintf("unknown reference ${%s}: use ${env:NAME} or ${file:PATH} ($${ for a literal ${)", ref)})
		}
	}
	return b.String(), errs
}

// maxSecretFile bounds what ${file:...} reads.
const maxSecretFile = 64 << 10

// readSecretFile reads a small regular file. Devices, FIFOs and directories
// are refused before they are opened: /dev/zero would never end and a FIFO
// would block the load forever.
func readSecretFile(p string) ([]byte, error) {
	st, err := os.Stat(p)
	if err != nil {
		return nil, err
	}
	if !st.Mode().IsRegular() {
		return nil, fmt.Errorf("not a regular file (%s)", st.Mode().Type())
	}
	f, err := os.Open(p)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxSecretFile+1))
	if err != nil {
		return nil, err
	}
	if len(data) > maxSecretFile {
		return nil, fmt.Errorf("larger than %d KiB: not a secret", maxSecretFile>>10)
	}
	return data, nil
}
