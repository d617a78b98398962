package report

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strings"

	"golang.org/x/text/encoding/htmlindex"
	"golang.org/x/text/encoding/unicode"
)

const bufSize = 64 << 10

// errReader remembers the first error of the underlying reader other than
// io.EOF, so that an I/O failure is not reported as an XML syntax error.
type errReader struct {
	r   io.Reader
	err error
}

func (e *errReader) Read(p []byte) (int, error) {
	n, err := e.r.Read(p)
	if err != nil && err != io.EOF && e.err == nil {
		e.err = err
	}
	return n, err
}

var xml11 = regexp.MustCompile(`version\s*=\s*["']1\.1["']`)

// input turns raw report bytes into UTF-8 for encoding/xml: it drops a UTF-8
// BOM, transcodes UTF-16 (with a BOM, or recognised from "<?" in the first
// bytes), and rewrites an XML 1.1 declaration to 1.0, which is all
// encoding/xml understands. Declared 8-bit encodings are handled later by
// charsetReader, when the decoder reads the declaration.
func (p *parser) input(rd io.Reader) (io.Reader, error) {
	br := bufio.NewReaderSize(rd, bufSize)
	head, err := br.Peek(4)
	if err != nil && err != io.EOF {
		return nil, err
	}
	var u *bufio.Reader
	switch {
	case bytes.HasPrefix(head, []byte{0xEF, 0xBB, 0xBF}):
		if _, err := br.Discard(3); err != nil {
			return nil, err
		}
		u = br
	case bytes.HasPrefix(head, []byte{0xFF, 0xFE}):
		p.utf16 = "UTF-16LE"
		u = bufio.NewReaderSize(unicode.UTF16(unicode.LittleEndian, unicode.ExpectBOM).NewDecoder().Reader(br), bufSize)
	case bytes.HasPrefix(head, []byte{0xFE, 0xFF}):
		p.utf16 = "UTF-16BE"
		u = bufio.NewReaderSize(unicode.UTF16(unicode.BigEndian, unicode.ExpectBOM).NewDecoder().Reader(br), bufSize)
	case bytes.Equal(head, []byte{'<', 0, '?', 0}):
		p.utf16 = "UTF-16LE"
		u = bufio.NewReaderSize(unicode.UTF16(unicode.LittleEndian, unicode.IgnoreBOM).NewDecoder().Reader(br), bufSize)
	case bytes.Equal(head, []byte{0, '<', 0, '?'}):
		p.utf16 = "UTF-16BE"
		u = bufio.NewReaderSize(unicode.UTF16(unicode.BigEndian, unicode.IgnoreBOM).NewDecoder().Reader(br), bufSize)
	default:
		u = br
	}

	// XML 1.1: the declaration is at most a few hundred bytes at the very start.
	decl, err := u.Peek(512)
	if err != nil && err != io.EOF && !errors.Is(err, bufio.ErrBufferFull) {
		return nil, err
	}
	if !bytes.HasPrefix(decl, []byte("<?xml")) {
		return u, nil
	}
	end := bytes.Index(decl, []byte("?>"))
	if end < 0 {
		return u, nil
	}
	decl = decl[:end+2]
	loc := xml11.FindIndex(decl)
	if loc == nil {
		return u, nil
	}
	fixed := make([]byte, 0, len(decl))
	fixed = append(fixed, decl[:loc[0]]...)
	fixed = append(fixed, `version="1.0"`...)
	fixed = append(fixed, decl[loc[1]:]...)
	if _, err := u.Discard(len(decl)); err != nil {
		return nil, err
	}
	p.warnf(WarnXML11, 1, "XML 1.1 declaration: read with the XML 1.0 rules (characters 1.1 adds are refused)")
	return io.MultiReader(bytes.NewReader(fixed), u), nil
}

// charsetReader is the decoder's CharsetReader: it is called with the
// encoding label of the XML declaration when that label is not UTF-8.
func (p *parser) charsetReader(label string, in io.Reader) (io.Reader, error) {
	norm := strings.ToLower(strings.NewReplacer(" ", "", "_", "-").Replace(strings.TrimSpace(label)))
	if p.utf16 != "" {
		// Already transcoded from the BOM or the first bytes: the byte order
		// mark wins over the declaration (XML 1.0, appendix F).
		if !strings.HasPrefix(norm, "utf-16") && norm != "utf16" && norm != "unicode" {
			p.warnf(WarnEncodingMismatch, 1, "encoding %q declared, but the file is %s: read as %s", label, p.utf16, p.utf16)
		}
		return in, nil
	}
	switch {
	case strings.HasPrefix(norm, "utf-16") || norm == "utf16" || norm == "unicode":
		// The bytes are not UTF-16 (we would have seen "<\x00?\x00"): the
		// declaration is wrong and the content is read as UTF-8.
		p.warnf(WarnEncodingMismatch, 1, "encoding %q declared, but the file is not UTF-16: read as UTF-8", label)
		return in, nil
	case norm == "utf8" || norm == "us-ascii" || norm == "ascii":
		return in, nil
	}
	enc, err := htmlindex.Get(norm)
	if err != nil {
		return nil, fmt.Errorf("%w %q", ErrEncoding, label)
	}
	return enc.NewDecoder().Reader(in), nil
}
