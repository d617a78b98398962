package sandbox

import (
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"io"
	"mime"
	"net/http"
	"strings"
)

// errorBody is the single-error body of section 3.4.
type errorBody struct {
	Index             *int    `json:"index,omitempty"`
	EntityIndex       *int    `json:"entity_index,omitempty"`
	ErrorCode         string  `json:"error_code"`
	CorrelationID     string  `json:"correlation_id"`
	Description       string  `json:"description"`
	DescriptionTransl string  `json:"description_translated"`
	BusinessError     bool    `json:"business_error"`
	StackTrace        string  `json:"stack_trace"`
	Properties        *string `json:"properties"`
	httpStatus        int
}

func newError(status int, code, description string, business bool) *errorBody {
	return &errorBody{
		ErrorCode: code, CorrelationID: randomToken(25), Description: description,
		DescriptionTransl: description, BusinessError: business, httpStatus: status,
	}
}

func (e *errorBody) Error() string { return e.ErrorCode + ": " + e.Description }

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		status = http.StatusInternalServerError
		b = []byte(`{"error_code":"platform.general_error","description":"cannot encode the answer"}`)
	}
	w.Header().Set("Content-Type", "application/json;charset=UTF-8")
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

func writeError(w http.ResponseWriter, status int, code, description string, business bool) {
	writeErr(w, newError(status, code, description, business))
}

func writeErr(w http.ResponseWriter, e *errorBody) {
	writeJSON(w, e.httpStatus, e)
}

// acceptsJSON reports whether the Accept header allows JSON. A missing header
// is taken as "anything" (HTTP semantics); any list without application/json,
// application/* or */* is refused with 406 (section 3.4).
func acceptsJSON(r *http.Request) bool {
	vals := r.Header.Values("Accept")
	if len(vals) == 0 {
		return true
	}
	for _, v := range vals {
		for _, part := range strings.Split(v, ",") {
			mt, _, err := mime.ParseMediaType(strings.TrimSpace(part))
			if err != nil {
				continue
			}
			switch mt {
			case "application/json", "application/*", "*/*":
				return true
			}
		}
	}
	return false
}

// Content-Encoding values accepted on request bodies (section 2.4, and
// shared/octane-clients.md section 2, P1). The public test-results resource
// documents "Content-Encoding header field must be set to application/gzip"
// (DOC-tr, help sets 15.1.20 to 23.4-24.3); the SDK sends "gzip" to the /api
// entity resources (JSON). No source shows either resource taking the other
// value, so each takes only its own: the stricter reading.
const (
	encodingXML  = "application/gzip"
	encodingJSON = "gzip"
)

// readBody checks Content-Type (415), Content-Encoding (415 unless it is the
// one value this kind of resource takes: application/gzip for test-results
// XML, gzip for JSON; any when Options.RefuseCompressed) and the size cap
// (413), and returns the decoded body and the raw bytes.
func (s *Server) readBody(r *http.Request, wantType string) (body, raw []byte, e *errorBody) {
	var b bytes.Buffer
	if raw, e = s.readBodyTo(r, wantType, &b); e != nil {
		return nil, nil, e
	}
	return b.Bytes(), raw, nil
}

// bodySink takes a decoded request body: a bytes.Buffer, a strings.Builder.
type bodySink interface {
	io.Writer
	Grow(n int)
}

// payloadSink keeps a test-results payload as a string and hashes it as it
// is written.
type payloadSink struct {
	strings.Builder
	h hash.Hash
}

func (p *payloadSink) Write(b []byte) (int, error) {
	p.h.Write(b)
	return p.Builder.Write(b)
}

// readBodyTo is readBody writing the decoded body to dst, in one allocation
// when the body says its size (Content-Length, the gzip trailer).
func (s *Server) readBodyTo(r *http.Request, wantType string, dst bodySink) (raw []byte, e *errorBody) {
	ct := r.Header.Get("Content-Type")
	if ct == "" {
		return nil, newError(http.StatusUnsupportedMediaType, "platform.unsupported_media_type",
			fmt.Sprintf("Missing Content-Type; this resource takes %s", wantType), false)
	}
	mt, params, err := mime.ParseMediaType(ct)
	if err != nil || mt != wantType {
		return nil, newError(http.StatusUnsupportedMediaType, "platform.unsupported_media_type",
			fmt.Sprintf("Content-Type %q is not supported here; this resource takes %s", ct, wantType), false)
	}
	if cs, ok := params["charset"]; ok && !strings.EqualFold(cs, "utf-8") {
		return nil, newError(http.StatusUnsupportedMediaType, "platform.unsupported_media_type",
			fmt.Sprintf("charset %q is not supported; send UTF-8", cs), false)
	}
	limit := s.opts.MaxBodyBytes
	var rb bytes.Buffer
	if r.ContentLength > 0 && r.ContentLength <= limit {
		rb.Grow(int(r.ContentLength) + bytes.MinRead)
	}
	_, err = rb.ReadFrom(io.LimitReader(r.Body, limit+1))
	raw = rb.Bytes()
	if err != nil {
		return nil, newError(http.StatusBadRequest, "platform.bad_request", "Cannot read the request body: "+err.Error(), false)
	}
	if int64(len(raw)) > limit {
		return nil, newError(http.StatusRequestEntityTooLarge, "platform.request_too_large",
			fmt.Sprintf("The request body is larger than %d bytes", limit), false)
	}
	enc := strings.ToLower(strings.TrimSpace(r.Header.Get("Content-Encoding")))
	if enc == "" || enc == "identity" {
		dst.Grow(len(raw))
		_, _ = dst.Write(raw) // the sinks do not fail
		return raw, nil
	}
	if s.opts.RefuseCompressed {
		if s.opts.RefuseCompressedStatus == http.StatusBadRequest {
			code := "platform.invalid_json"
			if wantType == "application/xml" {
				code = "testbox.xml_validation_error"
			}
			return nil, newError(http.StatusBadRequest, code,
				fmt.Sprintf("The payload is not well-formed: content is not allowed in prolog (this server does not decode Content-Encoding %q)", enc), false)
		}
		return nil, newError(http.StatusUnsupportedMediaType, "platform.unsupported_media_type",
			fmt.Sprintf("Content-Encoding %q is not supported: this server takes uncompressed request bodies only", enc), false)
	}
	want := encodingJSON
	if wantType == "application/xml" {
		want = encodingXML
	}
	if enc != want {
		return nil, newError(http.StatusUnsupportedMediaType, "platform.unsupported_media_type",
			fmt.Sprintf("Content-Encoding %q is not supported here; a compressed %s body takes Content-Encoding: %s", enc, wantType, want), false)
	}
	zr, err := gzip.NewReader(bytes.NewReader(raw))
	if err != nil {
		return nil, newError(http.StatusBadRequest, "platform.bad_request", "Content-Encoding says "+enc+" but the body is not gzip: "+err.Error(), false)
	}
	// The gzip trailer holds the size (mod 2^32) of the last member: a hint,
	// no more than deflate's ratio of 1032 to 1 allows.
	if n := len(raw); n >= 18 {
		size := int64(binary.LittleEndian.Uint32(raw[n-4:]))
		if size <= limit && size <= 1032*int64(n) {
			dst.Grow(int(size) + bytes.MinRead)
		}
	}
	size, err := io.Copy(dst, io.LimitReader(zr, limit+1))
	if err != nil {
		return nil, newError(http.StatusBadRequest, "platform.bad_request", "Corrupt gzip body: "+err.Error(), false)
	}
	if size > limit {
		return nil, newError(http.StatusRequestEntityTooLarge, "platform.request_too_large",
			fmt.Sprintf("The decompressed body is larger than %d bytes", limit), false)
	}
	return raw, nil
}

// decodeJSON decodes exactly one JSON value (numbers as json.Number).
func decodeJSON(body []byte) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, err
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, errors.New("unexpected data after the JSON value")
	}
	return v, nil
}
