package yamlnode

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"regexp"
	"slices"
	"strconv"
	"unicode/utf8"

	"gopkg.in/yaml.v3"
)

// Read parses data as a single YAML document and returns its top node, or
// nil when the stream holds no document (an empty file, only comments). The
// top node may be a null scalar (a file holding "~"); aliases are not
// resolved. A syntax error is recorded with the line it is on and Read
// returns nil; a second document is recorded at its start, and the first is
// returned all the same.
func (c *Checker) Read(data []byte) *yaml.Node {
	if line, col, msg := checkChars(data); msg != "" {
		c.ErrorAt(line, col, "", "invalid YAML: %s", msg)
		return nil
	}
	doc, second, err := decode(data)
	if err != nil {
		line, msg := locate(data, err)
		c.ErrorAt(line, 0, "", "invalid YAML: %s", msg)
		return nil
	}
	if second != nil {
		c.Errorf(second, "", "a second YAML document: a %s is one document (remove the '---' separator)", c.kind())
	}
	if doc == nil || doc.Kind != yaml.DocumentNode {
		return doc
	}
	if len(doc.Content) == 0 {
		return nil
	}
	return doc.Content[0]
}

// errPanic marks a panic of the YAML parser, turned into an error.
var errPanic = errors.New("the YAML parser failed")

// decode reads the first document of data and looks for a second. A nil
// document and error mean an empty stream.
func decode(data []byte) (doc, second *yaml.Node, err error) {
	doc, second, _, err = decodeCounted(data)
	return doc, second, err
}

// decodeCounted is decode, also returning how many bytes of data yaml.v3
// had read: it reads 512 bytes at a time, so an error is before that.
func decodeCounted(data []byte) (doc, second *yaml.Node, read int, err error) {
	r := &countingReader{data: data}
	doc, second, err = decodeFrom(r)
	return doc, second, r.off, err
}

type countingReader struct {
	data []byte
	off  int
}

func (r *countingReader) Read(p []byte) (int, error) {
	if r.off >= len(r.data) {
		return 0, io.EOF
	}
	n := copy(p, r.data[r.off:])
	r.off += n
	return n, nil
}

func decodeFrom(in io.Reader) (doc, second *yaml.Node, err error) {
	defer func() {
		// yaml.v3 is frozen and has panicked on hostile input before; no
		// file may take the program down.
		if r := recover(); r != nil {
			doc, second, err = nil, nil, fmt.Errorf("%w: %v", errPanic, r)
		}
	}()
	dec := yaml.NewDecoder(in)
	var d yaml.Node
	if err := dec.Decode(&d); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, nil, nil
		}
		return nil, nil, err
	}
	var next yaml.Node
	switch err := dec.Decode(&next); {
	case err == nil:
		return &d, &next, nil
	case !errors.Is(err, io.EOF):
		return nil, nil, err
	}
	return &d, nil, nil
}

// failure is the error text of decoding data, "" when it decodes.
func failure(data []byte) string {
	if _, _, err := decode(data); err != nil {
		return err.Error()
	}
	return ""
}

var yamlErrRE = regexp.MustCompile(`^yaml: (?:line (\d+): )?(.*)$`)

// splitErr splits a yaml.v3 error text into the line it prints (0 when none)
// and the message.
func splitErr(text string) (int, string) {
	m := yamlErrRE.FindStringSubmatch(text)
	if m == nil {
		return 0, text
	}
	n, _ := strconv.Atoi(m[1])
	return n, m[2]
}

// parserErrors are the messages of yaml.v3's parser, as opposed to its
// scanner. For these it prints the 0-based line of its mark, where for
// scanner errors it prints the 1-based one; for both it leaves the line out
// when the 0-based line is 0.
var parserErrors = []string{
	"did not find expected ',' or ']'",
	"did not find expected ',' or '}'",
	"did not find expected <document start>",
	"did not find expected <stream-start>",
	"did not find expected '-' indicator",
	"did not find expected key",
	"did not find expected node content",
	"found duplicate %YAML directive",
	"found incompatible YAML document",
	"found undefined tag handle",
	"found duplicate %TAG directive",
}

// blockErrors are the parser errors of a block collection meeting a line
// that does not fit it.
var blockErrors = []string{"did not find expected key", "did not find expected '-' indicator"}

const endOfStream = "found unexpected end of stream"

// markErrors are the errors whose mark is where the mistake is: the start
// of an unclosed quoted value or flow collection, of a key without ':'.
var markErrors = []string{
	endOfStream,
	"found unexpected document indicator",
	"could not find expected ':'",
	"did not find expected ',' or ']'",
	"did not find expected ',' or '}'",
}

// maxLocate bounds the input whose syntax error is placed by parsing its
// prefixes (a few dozen parses of at most this size).
const maxLocate = 4 << 20

// locate finds the line of a decoding error and the message to print.
//
// yaml.v3 prints one mark of an error, and leaves out that mark's line when
// it is the first. The mark is the start of what it was reading: for an
// unclosed quote or flow collection that is the mistake, but for a bad
// indent it is the start of the enclosing list (a bad indent on line 4 of a
// list that starts on line 2 reads "line 1", its 0-based line), and for a
// stray tab the start of the value before it. So:
//
//   - the error is read again with an empty line put before the input, which
//     makes yaml.v3 print its mark always (it is never on the first line);
//   - for the errors whose mark is the mistake (markErrors) that is the line;
//   - for the others, an error without a line (an unknown anchor) and a
//     panic, the line is the first whose inclusion gives the same error: the
//     shortest prefix of the input, in whole lines, that fails exactly so;
//   - an error right after a quoted value that runs over several lines is
//     reported where that value starts: a missing closing quote makes the
//     value swallow the lines after it, and yaml.v3 only trips later.
func locate(data []byte, err error) (int, string) {
	if errors.Is(err, errPanic) {
		return prefixLine(data, 1, len(lineEnds(data)), func(p []byte) bool { return errors.Is(errOf(p), errPanic) }), err.Error()
	}
	text := err.Error()
	printed, msg := splitErr(text)
	isParser := slices.Contains(parserErrors, msg)
	_, _, read, serr := decodeCounted(shift(data))
	shifted := ""
	if serr != nil {
		shifted = serr.Error()
	}
	sLine, sMsg := splitErr(shifted)
	if sMsg != msg || len(data) > maxLocate || hasUTF16BOM(data) {
		// UTF-16 input (which cannot take the extra line) or an input too
		// large to parse again: yaml.v3's line, made 1-based.
		switch {
		case isParser:
			return printed + 1, msg
		case printed == 0:
			return 1, msg
		}
		return printed, msg
	}
	mark := sLine
	if !isParser && mark > 0 {
		mark-- // a scanner error's line is 1-based
	}
	var line int
	if mark > 0 && slices.Contains(markErrors, msg) {
		line = mark
	} else {
		// The error is at or after the mark and before what yaml.v3 had
		// read (less the line put before the input); look first within the
		// last few KiB of that.
		fails := func(p []byte) bool { return failure(shift(p)) == shifted }
		lo, hi := max(mark, 1), lineAt(data, read-1)
		if near := lineAt(data, read-1-nearBytes); near > lo && !fails(prefix(data, near)) {
			lo = near + 1
		}
		line = prefixLine(data, lo, hi, fails)
	}
	if !slices.Contains(markErrors, msg) && line >= 2 {
		ql, qmsg := splitErr(failure(shift(prefix(data, line-1))))
		if qmsg == endOfStream && ql-1 >= 1 && ql-1 < line {
			return ql - 1, fmt.Sprintf("a quoted value starts here and runs on to line %d, where: %s (is its closing quote missing?)", line, msg)
		}
	}
	if slices.Contains(blockErrors, msg) {
		msg += " (check the indentation of this line)"
	}
	return line, msg
}

func errOf(data []byte) error {
	_, _, err := decode(data)
	return err
}

// nearBytes is how far before the end of what yaml.v3 had read an error is
// looked for first: its read size and look-ahead, with room to spare.
const nearBytes = 8 << 10

// prefixLine returns the smallest line count k in lo..hi for which fails
// holds on the first k lines of data, by bisection (fails holds for hi).
func prefixLine(data []byte, lo, hi int, fails func([]byte) bool) int {
	if lo > hi {
		return hi
	}
	for lo < hi {
		mid := lo + (hi-lo)/2
		if fails(prefix(data, mid)) {
			hi = mid
		} else {
			lo = mid + 1
		}
	}
	return hi
}

// lineAt returns the 1-based line holding byte offset off of data (the
// first line for an offset before it, the last after it).
func lineAt(data []byte, off int) int {
	ends := lineEnds(data)
	for i, e := range ends {
		if off < e {
			return i + 1
		}
	}
	return len(ends)
}

var utf8BOM = []byte("\xef\xbb\xbf")

func hasUTF16BOM(data []byte) bool {
	return bytes.HasPrefix(data, []byte{0xfe, 0xff}) || bytes.HasPrefix(data, []byte{0xff, 0xfe})
}

// shift puts an empty line before data (after its byte-order mark).
func shift(data []byte) []byte {
	bom := 0
	if bytes.HasPrefix(data, utf8BOM) {
		bom = len(utf8BOM)
	}
	out := make([]byte, 0, len(data)+1)
	out = append(out, data[:bom]...)
	out = append(out, '\n')
	return append(out, data[bom:]...)
}

// prefix returns the first k lines of data, line breaks included.
func prefix(data []byte, k int) []byte {
	ends := lineEnds(data)
	if k >= len(ends) {
		return data
	}
	return data[:ends[k-1]]
}

// lineEnds returns the offset just past each line of data, as yaml.v3
// counts lines: a line ends at \n, \r\n, \r, U+0085, U+2028 or U+2029, and
// the text after the last break, if any, is a last line.
func lineEnds(data []byte) []int {
	var ends []int
	for i := 0; i < len(data); {
		n := breakLen(data[i:])
		if n == 0 {
			i++
			continue
		}
		i += n
		ends = append(ends, i)
	}
	if len(ends) == 0 || ends[len(ends)-1] < len(data) {
		ends = append(ends, len(data))
	}
	return ends
}

// breakLen is the length of the line break at the start of b, 0 if none.
func breakLen(b []byte) int {
	switch {
	case bytes.HasPrefix(b, []byte("\r\n")):
		return 2
	case b[0] == '\n' || b[0] == '\r':
		return 1
	case bytes.HasPrefix(b, []byte("\u0085")):
		return 2
	case bytes.HasPrefix(b, []byte("\u2028")), bytes.HasPrefix(b, []byte("\u2029")):
		return 3
	}
	return 0
}

// checkChars finds the first byte sequence yaml.v3's reader would refuse
// (it reports those without a position): invalid UTF-8, and the characters
// YAML does not allow in a stream. It returns "" when there is none.
func checkChars(data []byte) (line, col int, msg string) {
	if hasUTF16BOM(data) {
		return 0, 0, "" // UTF-16, left to yaml.v3
	}
	line, col = 1, 1
	for i := 0; i < len(data); {
		if n := breakLen(data[i:]); n > 0 {
			line, col = line+1, 1
			i += n
			continue
		}
		r, size := utf8.DecodeRune(data[i:])
		switch {
		case r == utf8.RuneError && size <= 1:
			return line, col, fmt.Sprintf("not valid UTF-8 (byte 0x%02x)", data[i])
		case !(r == 0x9 || (r >= 0x20 && r <= 0x7E) || (r >= 0xA0 && r <= 0xD7FF) ||
			(r >= 0xE000 && r <= 0xFFFD) || r >= 0x10000):
			return line, col, fmt.Sprintf("the character %U is not allowed in YAML", r)
		}
		col++
		i += size
	}
	return 0, 0, ""
}

// kind names the file in messages.
func (c *Checker) kind() string {
	if c.Kind != "" {
		return c.Kind
	}
	return "file"
}

// Truncate shortens s to 60 characters for a message.
func Truncate(s string) string {
	if utf8.RuneCountInString(s) <= 60 {
		return s
	}
	r := []rune(s)
	return string(r[:60]) + "…"
}

// Join appends a key to a field path.
func Join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

// Index appends a list index to a field path.
func Index(path string, i int) string { return path + "[" + strconv.Itoa(i) + "]" }
