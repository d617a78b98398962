package report

import (
	"errors"
	"fmt"
)

// Sentinel errors, matched with errors.Is on an *Error.
var (
	// ErrEmpty: the file holds no XML element (zero bytes, blanks, or only a declaration or comments).
	ErrEmpty = errors.New("empty report")
	// ErrNotJUnit: well-formed XML whose root is not <testsuites>, <testsuite> or <testrun>.
	ErrNotJUnit = errors.New("not a JUnit report")
	// ErrMalformed: not XML, truncated XML, or an XML syntax error.
	ErrMalformed = errors.New("malformed XML")
	// ErrDoctype: a DOCTYPE or entity declaration, refused so that nothing is ever resolved (no XXE).
	ErrDoctype = errors.New("DOCTYPE not allowed")
	// ErrEncoding: a declared character encoding that cannot be read.
	ErrEncoding = errors.New("unsupported encoding")
)

// Error is a report that could not be read. It prints as "file:line: msg".
type Error struct {
	File string
	Line int // 0 when the error concerns the whole file
	Msg  string
	Err  error // the sentinel or the underlying error; see Unwrap
}

func (e *Error) Error() string {
	if e.Line > 0 {
		return fmt.Sprintf("%s:%d: %s", e.File, e.Line, e.Msg)
	}
	return fmt.Sprintf("%s: %s", e.File, e.Msg)
}

// Unwrap returns the sentinel (ErrEmpty, ErrNotJUnit…) or the I/O error.
func (e *Error) Unwrap() error { return e.Err }
