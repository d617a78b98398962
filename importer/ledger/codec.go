package ledger

import (
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"
)

// The records of schema 2 are compact binary values, not JSON: a rescan reads every file's
// record, and the ledger's memory map counts in the process's memory once read, so every byte
// of a record is paid for by every rescan. A record is
//
//	record version (1 byte) | fields, in a fixed order per kind
//
// with integers as varints, strings as a length and bytes, the content hash as its 32 bytes,
// and the strings that repeat across records (the scanned folder, rule, target, build key,
// task status) as the id of a name in the names bucket (0 is the empty string). A payload's
// file list stores each path as the length of the prefix it shares with the previous one and
// the rest. A record whose first byte is '{' is a schema-1 JSON record: a ledger part way
// through its migration (or a read-only view of an old one) reads both.
const recordVersion = 1

var errCorrupt = errors.New("corrupt record")

// nameLookup resolves name ids while decoding.
type nameLookup func(id uint64) (string, error)

// nameAssign gives a string its name id while encoding.
type nameAssign func(s string) (uint64, error)

var fileStates = []FileState{"", Seen, Parsed, Sent, Accepted, Failed, Unmatched, Empty}
var payloadStates = []PayloadState{"", Pending, PayloadSent, PayloadDone, PayloadFailed, PayloadSkipped}
var buildStates = []BuildState{"", BuildPending, BuildPut, BuildFailed}

// appendState writes a state as its index in states, or 0xff and the string for a state this
// version does not know.
func appendState[S ~string](b []byte, states []S, s S) []byte {
	for i, k := range states {
		if k == s {
			return append(b, byte(i))
		}
	}
	b = append(b, 0xff)
	return appendString(b, string(s))
}

func readState[S ~string](d *decoder, states []S) S {
	i := d.byte()
	if i == 0xff {
		return S(d.string())
	}
	if int(i) >= len(states) {
		d.fail()
		return ""
	}
	return states[i]
}

func appendString(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

func appendTime(b []byte, t time.Time) []byte {
	if t.IsZero() {
		return append(b, 0)
	}
	b = append(b, 1)
	return binary.AppendVarint(b, t.UnixNano())
}

func appendName(b []byte, assign nameAssign, s string) ([]byte, error) {
	if s == "" {
		return append(b, 0), nil
	}
	id, err := assign(s)
	if err != nil {
		return nil, err
	}
	return binary.AppendUvarint(b, id), nil
}

// hash kinds
const (
	hashNone   = 0
	hashSHA256 = 1 // 64 lowercase hex digits, stored as 32 bytes
	hashOther  = 2
)

func appendHash(b []byte, h string) []byte {
	if h == "" {
		return append(b, hashNone)
	}
	if len(h) == 64 {
		var raw [32]byte
		if _, err := hex.Decode(raw[:], []byte(h)); err == nil && hex.EncodeToString(raw[:]) == h {
			b = append(b, hashSHA256)
			return append(b, raw[:]...)
		}
	}
	b = append(b, hashOther)
	return appendString(b, h)
}

// appendTask writes an Octane task id: a decimal number (what Octane gives) as 1 and the
// number, anything else as 2 and the string, none as 0.
func appendTask(b []byte, task string) []byte {
	if task == "" {
		return append(b, 0)
	}
	if n, err := strconv.ParseUint(task, 10, 64); err == nil && strconv.FormatUint(n, 10) == task {
		b = append(b, 1)
		return binary.AppendUvarint(b, n)
	}
	b = append(b, 2)
	return appendString(b, task)
}

func encodeFile(f *File, assign nameAssign) ([]byte, error) {
	b := make([]byte, 0, 96+len(f.Error)+len(f.Task)+3*len(f.Payloads))
	b = append(b, recordVersion)
	b = appendState(b, fileStates, f.State)
	var err error
	if b, err = appendName(b, assign, f.Root); err != nil {
		return nil, err
	}
	b = binary.AppendVarint(b, f.Size)
	b = binary.AppendVarint(b, f.ModTime)
	b = appendHash(b, f.Hash)
	for _, s := range []string{f.Rule, f.Target, f.Build} {
		if b, err = appendName(b, assign, s); err != nil {
			return nil, err
		}
	}
	b = binary.AppendUvarint(b, uint64(len(f.Payloads)))
	var prev uint64
	for _, id := range f.Payloads {
		b = binary.AppendVarint(b, int64(id-prev))
		prev = id
	}
	b = appendTask(b, f.Task)
	if b, err = appendName(b, assign, f.Status); err != nil {
		return nil, err
	}
	b = binary.AppendVarint(b, int64(f.Runs.Passed))
	b = binary.AppendVarint(b, int64(f.Runs.Failed))
	b = binary.AppendVarint(b, int64(f.Runs.Skipped))
	b = appendString(b, f.Error)
	b = binary.AppendVarint(b, int64(f.Attempt))
	b = binary.AppendUvarint(b, f.Scan)
	return appendTime(b, f.Updated), nil
}

// decodeFile decodes the record of the file at path (the key).
func decodeFile(path string, v []byte, lookup nameLookup) (File, error) {
	if len(v) > 0 && v[0] == '{' {
		var f File
		err := json.Unmarshal(v, &f)
		return f, err
	}
	d := decoder{b: v, lookup: lookup}
	f := File{Path: path}
	if rv := d.byte(); rv != recordVersion {
		return f, fmt.Errorf("%w (record version %d, this octane-import reads %d)", errCorrupt, rv, recordVersion)
	}
	f.State = readState(&d, fileStates)
	f.Root = d.name()
	f.Size = d.varint()
	f.ModTime = d.varint()
	switch d.byte() {
	case hashNone:
	case hashSHA256:
		f.Hash = hex.EncodeToString(d.take(32))
	case hashOther:
		f.Hash = d.string()
	default:
		d.fail()
	}
	f.Rule = d.name()
	f.Target = d.name()
	f.Build = d.name()
	if n := d.count(); n > 0 {
		f.Payloads = make([]uint64, n)
		var prev uint64
		for i := range f.Payloads {
			prev += uint64(d.varint())
			f.Payloads[i] = prev
		}
	}
	f.Task = d.task()
	f.Status = d.name()
	f.Runs.Passed = int(d.varint())
	f.Runs.Failed = int(d.varint())
	f.Runs.Skipped = int(d.varint())
	f.Error = d.string()
	f.Attempt = int(d.varint())
	f.Scan = d.uvarint()
	f.Updated = d.time()
	return f, d.done()
}

func encodePayload(p *Payload, assign nameAssign) ([]byte, error) {
	size := 64 + len(p.Spool) + len(p.Error)
	for _, f := range p.Files {
		size += len(f)/4 + 4
	}
	b := make([]byte, 0, size)
	b = append(b, recordVersion)
	// state and spool first: opening the ledger reads only these (cleanSpool).
	b = appendState(b, payloadStates, p.State)
	b = appendString(b, p.Spool)
	var err error
	if b, err = appendName(b, assign, p.Target); err != nil {
		return nil, err
	}
	if b, err = appendName(b, assign, p.Build); err != nil {
		return nil, err
	}
	b = binary.AppendVarint(b, int64(p.Runs))
	b = binary.AppendVarint(b, int64(p.Bytes))
	b = appendTask(b, p.Task)
	if b, err = appendName(b, assign, p.Status); err != nil {
		return nil, err
	}
	b = appendString(b, p.Error)
	b = binary.AppendVarint(b, int64(p.Attempts))
	b = appendTime(b, p.Created)
	b = appendTime(b, p.Updated)
	b = binary.AppendUvarint(b, uint64(len(p.Files)))
	prev := ""
	for _, f := range p.Files {
		n := commonPrefix(prev, f)
		b = binary.AppendUvarint(b, uint64(n))
		b = appendString(b, f[n:])
		prev = f
	}
	return b, nil
}

func commonPrefix(a, b string) int {
	n := min(len(a), len(b))
	for i := range n {
		if a[i] != b[i] {
			return i
		}
	}
	return n
}

// decodePayload decodes the record of payload id; with head, only its state and spool file.
func decodePayload(id uint64, v []byte, lookup nameLookup, head bool) (Payload, error) {
	if len(v) > 0 && v[0] == '{' {
		var p Payload
		err := json.Unmarshal(v, &p)
		return p, err
	}
	d := decoder{b: v, lookup: lookup}
	p := Payload{ID: id}
	if d.byte() != recordVersion {
		return p, errCorrupt
	}
	p.State = readState(&d, payloadStates)
	p.Spool = d.string()
	if head {
		return p, d.err
	}
	p.Target = d.name()
	p.Build = d.name()
	p.Runs = int(d.varint())
	p.Bytes = int(d.varint())
	p.Task = d.task()
	p.Status = d.name()
	p.Error = d.string()
	p.Attempts = int(d.varint())
	p.Created = d.time()
	p.Updated = d.time()
	if n := d.count(); n > 0 {
		p.Files = make([]string, n)
		prev := ""
		for i := range p.Files {
			k := d.uvarint()
			rest := d.take(d.length())
			if k > uint64(len(prev)) || d.err != nil {
				d.fail()
				break
			}
			prev = prev[:k] + string(rest)
			p.Files[i] = prev
		}
	}
	return p, d.done()
}

func encodeBuild(bd *Build, assign nameAssign) ([]byte, error) {
	b := make([]byte, 0, 48+len(bd.Spec)+len(bd.Error))
	b = append(b, recordVersion)
	b = appendState(b, buildStates, bd.State)
	var err error
	if b, err = appendName(b, assign, bd.Target); err != nil {
		return nil, err
	}
	b = appendTime(b, bd.Start)
	if bd.Spec == nil {
		b = append(b, 0)
	} else {
		b = append(b, 1)
		b = appendString(b, string(bd.Spec))
	}
	b = appendString(b, bd.Error)
	b = binary.AppendVarint(b, int64(bd.Runs.Passed))
	b = binary.AppendVarint(b, int64(bd.Runs.Failed))
	b = binary.AppendVarint(b, int64(bd.Runs.Skipped))
	return appendTime(b, bd.Updated), nil
}

func decodeBuild(key string, v []byte, lookup nameLookup) (Build, error) {
	if len(v) > 0 && v[0] == '{' {
		var bd Build
		err := json.Unmarshal(v, &bd)
		return bd, err
	}
	d := decoder{b: v, lookup: lookup}
	bd := Build{Key: key}
	if d.byte() != recordVersion {
		return bd, errCorrupt
	}
	bd.State = readState(&d, buildStates)
	bd.Target = d.name()
	bd.Start = d.time()
	if d.byte() == 1 {
		bd.Spec = append(json.RawMessage(nil), d.take(d.length())...)
	}
	bd.Error = d.string()
	bd.Runs.Passed = int(d.varint())
	bd.Runs.Failed = int(d.varint())
	bd.Runs.Skipped = int(d.varint())
	bd.Updated = d.time()
	return bd, d.done()
}

// decoder reads a binary record; the first problem sticks (later reads return zero values),
// so a corrupt record is an error, never a panic.
type decoder struct {
	b      []byte
	err    error
	lookup nameLookup
}

func (d *decoder) fail() {
	if d.err == nil {
		d.err = errCorrupt
	}
	d.b = nil
}

func (d *decoder) byte() byte {
	if len(d.b) == 0 {
		d.fail()
		return 0
	}
	c := d.b[0]
	d.b = d.b[1:]
	return c
}

func (d *decoder) uvarint() uint64 {
	v, n := binary.Uvarint(d.b)
	if n <= 0 {
		d.fail()
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) varint() int64 {
	v, n := binary.Varint(d.b)
	if n <= 0 {
		d.fail()
		return 0
	}
	d.b = d.b[n:]
	return v
}

// count reads a length of a list whose entries take at least a byte each.
func (d *decoder) count() int {
	n := d.uvarint()
	if n > uint64(len(d.b)) {
		d.fail()
		return 0
	}
	return int(n)
}

func (d *decoder) take(n int) []byte {
	if n < 0 || n > len(d.b) {
		d.fail()
		return nil
	}
	v := d.b[:n]
	d.b = d.b[n:]
	return v
}

// length reads the length of the bytes that follow.
func (d *decoder) length() int {
	n := d.uvarint()
	if n > uint64(len(d.b)) {
		d.fail()
		return 0
	}
	return int(n)
}

func (d *decoder) string() string {
	return string(d.take(d.length()))
}

func (d *decoder) task() string {
	switch d.byte() {
	case 0:
		return ""
	case 1:
		return strconv.FormatUint(d.uvarint(), 10)
	case 2:
		return d.string()
	}
	d.fail()
	return ""
}

func (d *decoder) time() time.Time {
	if d.byte() == 0 {
		return time.Time{}
	}
	return time.Unix(0, d.varint())
}

func (d *decoder) name() string {
	id := d.uvarint()
	if id == 0 || d.err != nil {
		return ""
	}
	s, err := d.lookup(id)
	if err != nil {
		d.err = err
		d.b = nil
	}
	return s
}

func (d *decoder) done() error {
	if d.err == nil && len(d.b) != 0 {
		d.err = errCorrupt // fields this version does not know: refuse rather than drop them
	}
	return d.err
}
