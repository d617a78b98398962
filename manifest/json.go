package manifest

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"unicode/utf8"

	"gopkg.in/yaml.v3"
)

// The JSON front end. JSON is YAML, but yaml.v3's messages for broken JSON
// talk about YAML ("did not find expected node content") and it would accept
// things JSON forbids. So a .json manifest is read with encoding/json, token by
// token, into the same yaml.Node tree the YAML front end yields, with the line
// and column of every value. One validator then serves both.

// maxJSONDepth bounds nesting; a manifest is at most four levels deep.
const maxJSONDepth = 64

type jsonReader struct {
	data  []byte
	dec   *json.Decoder
	lines []int // byte offset of the start of each line
}

// syntaxError is a JSON syntax problem at a byte offset.
type syntaxError struct {
	offset int64
	msg    string
}

func (e *syntaxError) Error() string { return e.msg }

func parseJSON(data []byte) (*yaml.Node, error) {
	r := &jsonReader{data: data, dec: json.NewDecoder(bytes.NewReader(data))}
	r.dec.UseNumber()
	r.lines = lineStarts(data)
	n, err := r.value(0)
	if err != nil {
		return nil, err
	}
	if n == nil {
		return nil, nil // empty input
	}
	start := r.skip(r.dec.InputOffset())
	if _, err := r.dec.Token(); !errors.Is(err, io.EOF) {
		return nil, &syntaxError{offset: start, msg: "invalid JSON: more data after the top-level object"}
	}
	return n, nil
}

// skip returns the offset of the next token at or after off: it passes
// whitespace and the ':' and ',' separators the decoder consumes silently.
func (r *jsonReader) skip(off int64) int64 {
	for off < int64(len(r.data)) {
		switch r.data[off] {
		case ' ', '\t', '\r', '\n', ',', ':':
			off++
		default:
			return off
		}
	}
	return off
}

// position converts a byte offset to a 1-based line and character column.
func (r *jsonReader) position(off int64) (line, col int) {
	if off < 0 {
		off = 0
	}
	if off > int64(len(r.data)) {
		off = int64(len(r.data))
	}
	// The last line start <= off.
	lo, hi := 0, len(r.lines)-1
	for lo < hi {
		mid := (lo + hi + 1) / 2
		if int64(r.lines[mid]) <= off {
			lo = mid
		} else {
			hi = mid - 1
		}
	}
	return lo + 1, utf8.RuneCount(r.data[r.lines[lo]:off]) + 1
}

// token reads the next token and the offset where it starts.
func (r *jsonReader) token() (json.Token, int64, error) {
	start := r.skip(r.dec.InputOffset())
	tok, err := r.dec.Token()
	if err != nil {
		var se *json.SyntaxError
		switch {
		case errors.As(err, &se):
			off := se.Offset - 1
			if off < start {
				off = start
			}
			return nil, start, &syntaxError{offset: off, msg: "invalid JSON: " + se.Error()}
		case errors.Is(err, io.ErrUnexpectedEOF):
			return nil, start, &syntaxError{offset: int64(len(r.data)), msg: "invalid JSON: unexpected end of input"}
		case errors.Is(err, io.EOF):
			return nil, start, err
		default:
			return nil, start, &syntaxError{offset: start, msg: "invalid JSON: " + err.Error()}
		}
	}
	return tok, start, nil
}

// value reads one JSON value. It returns (nil, nil) on an empty input.
func (r *jsonReader) value(depth int) (*yaml.Node, error) {
	tok, start, err := r.token()
	if errors.Is(err, io.EOF) {
		if depth == 0 {
			return nil, nil
		}
		return nil, &syntaxError{offset: int64(len(r.data)), msg: "invalid JSON: unexpected end of input"}
	}
	if err != nil {
		return nil, err
	}
	line, col := r.position(start)
	n := &yaml.Node{Line: line, Column: col}
	switch t := tok.(type) {
	case json.Delim:
		if depth >= maxJSONDepth {
			return nil, &syntaxError{offset: start, msg: fmt.Sprintf("invalid JSON: nested deeper than %d levels", maxJSONDepth)}
		}
		switch t {
		case '{':
			n.Kind, n.Tag = yaml.MappingNode, "!!map"
			for r.dec.More() {
				k, err := r.value(depth + 1) // always a string: the decoder enforces it
				if err != nil {
					return nil, err
				}
				v, err := r.value(depth + 1)
				if err != nil {
					return nil, err
				}
				n.Content = append(n.Content, k, v)
			}
		case '[':
			n.Kind, n.Tag = yaml.SequenceNode, "!!seq"
			for r.dec.More() {
				v, err := r.value(depth + 1)
				if err != nil {
					return nil, err
				}
				n.Content = append(n.Content, v)
			}
		default:
			return nil, &syntaxError{offset: start, msg: fmt.Sprintf("invalid JSON: unexpected %q", rune(t))}
		}
		// The closing delimiter.
		if _, _, err := r.token(); err != nil {
			if errors.Is(err, io.EOF) {
				return nil, &syntaxError{offset: int64(len(r.data)), msg: "invalid JSON: unexpected end of input"}
			}
			return nil, err
		}
	case string:
		n.Kind, n.Tag, n.Value, n.Style = yaml.ScalarNode, "!!str", t, yaml.DoubleQuotedStyle
	case json.Number:
		n.Kind, n.Value = yaml.ScalarNode, string(t)
		n.Tag = "!!int"
		if bytes.ContainsAny([]byte(t), ".eE") {
			n.Tag = "!!float"
		}
	case bool:
		n.Kind, n.Tag, n.Value = yaml.ScalarNode, "!!bool", fmt.Sprint(t)
	case nil:
		n.Kind, n.Tag, n.Value = yaml.ScalarNode, "!!null", "null"
	default:
		return nil, &syntaxError{offset: start, msg: fmt.Sprintf("invalid JSON: unexpected token %v", t)}
	}
	return n, nil
}

// firstInvalidUTF8 returns the position and value of the first byte that is
// not valid UTF-8.
func firstInvalidUTF8(data []byte) (line, col int, b byte) {
	line, col = 1, 1
	for i := 0; i < len(data); {
		r, size := utf8.DecodeRune(data[i:])
		if r == utf8.RuneError && size <= 1 {
			return line, col, data[i]
		}
		if r == '\n' {
			line, col = line+1, 1
		} else {
			col++
		}
		i += size
	}
	return line, col, 0
}

func lineStarts(data []byte) []int {
	lines := []int{0}
	for i, c := range data {
		if c == '\n' {
			lines = append(lines, i+1)
		}
	}
	return lines
}
