package importer

import (
	"bytes"
	"fmt"
	"io"
	"os"

	"github.com/octane-import/octane-import/importer/ledger"
	"github.com/octane-import/octane-import/mapping"
	"github.com/octane-import/octane-import/octane"
	"github.com/octane-import/octane-import/report"
)

// fileRuns are a report's runs, encoded as the reader goes: nothing holds the report whole.
//
// Runs are encoded into a fragment (octane.NewRunEncoder). A report that fits in one
// payload leaves its whole fragment for the batcher, which puts it into the open payload of
// its build beside other reports' runs. A larger report is cut as it is read: each time the
// fragment holds a payload's worth of runs, it becomes a payload of the report's own,
// compressed into a file staged beside the ledger (ledger.NewPayload.Staged), and the last
// runs become one more at the end. The batcher seals those payloads with the report's
// record, in one ledger transaction, as it seals any payload: memory holds one payload's
// runs at most, however large the report.
type fileRuns struct {
	path     string
	d        *mapping.Decision
	naming   report.Naming
	note     string // the payloads' remark (an explicit retry must reach Octane as new bytes)
	dir      string // where staged payloads go
	maxRuns  int
	maxBytes int

	frag     bytes.Buffer
	enc      *octane.Encoder
	staged   []ledger.NewPayload
	warnings []string // what the encoder had to change, for the file's warnings
}

func (im *Importer) newFileRuns(path string, d *mapping.Decision, attempt int) *fileRuns {
	fr := &fileRuns{path: path, d: d, naming: im.naming(d), maxRuns: im.opt.MaxRunsPerPayload,
		maxBytes: im.opt.MaxPayloadBytes, dir: im.opt.Ledger.StageDir()}
	if attempt > 0 {
		fr.note = fmt.Sprintf("retry %d", attempt)
	}
	fr.enc = octane.NewRunEncoder(&fr.frag)
	return fr
}

// add encodes one run, and stages a payload when the fragment is full.
func (fr *fileRuns) add(r *report.Run) error {
	if err := fr.enc.Encode(testRun(r, fr.d, fr.naming)); err != nil {
		return fmt.Errorf("%s: %w", fr.path, err)
	}
	if fr.enc.Runs() >= fr.maxRuns || fr.frag.Len() >= fr.maxBytes {
		return fr.stage()
	}
	return nil
}

// finish ends the report: when it was cut, its last runs become a payload of its own too.
func (fr *fileRuns) finish() error {
	if err := fr.enc.Close(); err != nil {
		return fmt.Errorf("%s: %w", fr.path, err)
	}
	if len(fr.staged) > 0 && fr.enc.Runs() > 0 {
		return fr.stage()
	}
	fr.warnings = append(fr.warnings, fr.enc.Warnings()...)
	return nil
}

// runs returns the fragment left for the batcher and its number of runs (none when the report
// was cut into payloads of its own).
func (fr *fileRuns) runs() ([]byte, int) {
	if len(fr.staged) > 0 {
		return nil, 0
	}
	return fr.frag.Bytes(), fr.enc.Runs()
}

// stage writes the fragment's runs as a payload of the report's own, compressed, into a
// staged file, and starts a new fragment.
func (fr *fileRuns) stage() error {
	f, err := os.CreateTemp(fr.dir, "staged-*.xml.gz.tmp")
	if err != nil {
		return fmt.Errorf("staging a payload of %s: %w", fr.path, err)
	}
	n := fr.enc.Runs()
	ctxWarnings, err := octane.WritePayload(f, resultContext(fr.d), fr.frag.Bytes(), n, fr.note)
	var size int64
	if err == nil {
		size, err = f.Seek(0, io.SeekCurrent)
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		_ = os.Remove(f.Name())
		return fmt.Errorf("staging a payload of %s: %w", fr.path, err)
	}
	if len(fr.staged) == 0 {
		fr.warnings = append(fr.warnings, ctxWarnings...) // said once, not once per payload
	}
	fr.warnings = append(fr.warnings, fr.enc.Warnings()...)
	fr.staged = append(fr.staged, ledger.NewPayload{Target: fr.d.Target, Build: fr.d.Key(), Files: []string{fr.path},
		Runs: n, Staged: f.Name(), Bytes: int(size)})
	fr.frag.Reset()
	fr.enc = octane.NewRunEncoder(&fr.frag)
	return nil
}

// discard removes the staged payloads of a report that will not be sealed.
func (fr *fileRuns) discard() {
	if fr == nil {
		return
	}
	for _, p := range fr.staged {
		_ = os.Remove(p.Staged)
	}
	fr.staged = nil
}
