package ledger

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"slices"
	"time"

	bolt "go.etcd.io/bbolt"
)

// View is a read-only view of a ledger: what `status` shows. OpenView returns one whether
// or not another process holds the ledger.
type View interface {
	// Path is the ledger's location.
	Path() string
	// Summarize counts what the ledger holds.
	Summarize() (Summary, error)
	// Files calls fn for every file record in path order; fn returning false stops.
	Files(fn func(File) bool) error
	// FilesIn is Files restricted to the given states (all when none).
	FilesIn(states []FileState, fn func(File) bool) error
	// Instances lists the live instances working on the ledger: for PostgreSQL the
	// instances with a recent heartbeat; for an embedded ledger the process holding it, if
	// any.
	Instances(ctx context.Context) ([]Instance, error)
	// Through is the process the view reads through (the ledger's holder), or nil when it
	// reads the ledger itself.
	Through() *Holder
	Close() error
}

var _ View = (*Ledger)(nil)

// Through is nil: a Ledger reads its file itself.
func (l *Ledger) Through() *Holder { return nil }

// FilesIn calls fn for every file record in one of the states (all when none), in path order.
func (l *Ledger) FilesIn(states []FileState, fn func(File) bool) error {
	return l.Files(func(f File) bool {
		if len(states) > 0 && !slices.Contains(states, f.State) {
			return true
		}
		return fn(f)
	})
}

// OpenView opens a read-only view of the ledger at path, or at a postgres:// URL (which any
// number of processes read at once). When a process holds an embedded ledger for writing (a
// scan or a watch), bbolt's lock keeps every other process out of the file, so the view asks
// that process, over the unix socket its holder record names; otherwise it opens the file
// read-only (a missing file is an empty ledger). When the holder serves no views (an older
// octane-import), the error is a *LockedError naming it.
func OpenView(path string) (View, error) {
	if IsURL(path) {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		return OpenPostgres(ctx, path, Options{ReadOnly: true})
	}
	var lastErr error
	for range 3 {
		h, err := ReadHolder(path)
		if err != nil {
			return nil, err
		}
		if h != nil && h.Socket != "" && h.Alive() {
			v, err := dialView(path, h)
			if err == nil {
				return v, nil
			}
			lastErr = err // gone meanwhile, or not answering: try the file
		}
		l, err := Open(path, Options{ReadOnly: true, Timeout: 500 * time.Millisecond})
		if err == nil {
			return l, nil
		}
		if !errors.Is(err, ErrLocked) {
			return nil, err
		}
		lastErr = err
		if h2, _ := ReadHolder(path); h2 == nil || h2.Socket == "" || (h != nil && h2.Since.Equal(h.Since) && h2.PID == h.PID) {
			break // no holder to ask, or the same one that did not answer
		}
	}
	return nil, lastErr
}

// The view server: the holder of a ledger answers read-only queries on a unix socket.
//
//	GET /holder          the holder record (a client checks it reached the process it read about)
//	GET /instance        the holder as an Instance (files and payloads in flight)
//	GET /summary         Summary as JSON
//	GET /files?state=S   file records as JSON lines, in path order (all states when none given)
//
// Records are read a page at a time, each page in a read transaction of its own, so a slow
// reader never holds a transaction open (which would stall the writer when bbolt needs to
// grow its memory map).

const viewPage = 1024

func (l *Ledger) serve() {
	sock := socketPath(l.path)
	_ = os.Remove(sock) // a crashed holder's (this process holds the lock now)
	ln, err := net.Listen("unix", sock)
	if err == nil {
		if err = os.Chmod(sock, 0o600); err != nil {
			ln.Close()
		}
	}
	if err != nil {
		sock = "" // no views; the holder record still names this process
	} else {
		l.listener = ln
	}
	l.holder = newHolder(sock)
	if err := writeHolder(l.path, l.holder); err != nil {
		l.holder = nil // nothing recorded: a blocked process will say it does not know who
	}
	if l.listener == nil {
		return
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /holder", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, l.holder)
	})
	mux.HandleFunc("GET /instance", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, l.Instance())
	})
	mux.HandleFunc("GET /summary", func(w http.ResponseWriter, _ *http.Request) {
		s, err := l.Summarize()
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		writeJSON(w, s)
	})
	mux.HandleFunc("GET /files", func(w http.ResponseWriter, r *http.Request) {
		var states []FileState
		for _, s := range r.URL.Query()["state"] {
			states = append(states, FileState(s))
		}
		w.Header().Set("Content-Type", "application/x-ndjson")
		bw := bufio.NewWriter(w)
		enc := json.NewEncoder(bw)
		after := ""
		for {
			page, next, err := l.filesPage(after, states, viewPage)
			if err != nil {
				// Mid-stream: the client sees a line that is not a record and reports it.
				fmt.Fprintf(bw, "%q\n", "error: "+err.Error())
				break
			}
			for _, f := range page {
				if err := enc.Encode(f); err != nil {
					return
				}
			}
			if next == "" || r.Context().Err() != nil {
				break
			}
			after = next
		}
		bw.Flush()
	})
	l.server = &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	l.serving.Add(1)
	go func() {
		defer l.serving.Done()
		_ = l.server.Serve(ln)
	}()
}

// stopServing stops the view server and waits for its requests to end (before the database
// closes under them), and removes the holder record and the socket.
func (l *Ledger) stopServing() {
	if l.server != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		if l.server.Shutdown(ctx) != nil {
			l.server.Close()
		}
		cancel()
		l.serving.Wait()
	}
	if l.holder != nil {
		removeHolder(l.path, l.holder)
		if l.holder.Socket != "" {
			os.Remove(l.holder.Socket)
		}
	}
}

// filesPage reads up to n file records in the given states after the path after, looking
// at no more than 8n records (one short transaction); next is where the following page
// starts, "" when there is none.
func (l *Ledger) filesPage(after string, states []FileState, n int) (page []File, next string, err error) {
	err = l.view(func(tx *bolt.Tx, lookup nameLookup) error {
		c := tx.Bucket(bucketFiles).Cursor()
		k, v := c.First()
		if after != "" {
			k, v = c.Seek([]byte(after))
			if k != nil && string(k) == after {
				k, v = c.Next()
			}
		}
		for seen := 0; k != nil; k, v = c.Next() {
			if len(page) == n || seen == 8*n {
				return nil
			}
			seen++
			next = string(k)
			f, err := decodeFile(next, v, lookup)
			if err != nil {
				return fmt.Errorf("file record %q: %w", k, err)
			}
			if len(states) == 0 || slices.Contains(states, f.State) {
				page = append(page, f)
			}
		}
		next = "" // the end
		return nil
	})
	return page, next, err
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(v)
}

// remoteView is a View through the ledger's holder.
type remoteView struct {
	path   string
	holder *Holder
	client *http.Client
}

func dialView(path string, h *Holder) (*remoteView, error) {
	tr := &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "unix", h.Socket)
		},
		ResponseHeaderTimeout: 30 * time.Second,
	}
	v := &remoteView{path: path, holder: h, client: &http.Client{Transport: tr}}
	var got Holder
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if err := v.get(ctx, "/holder", &got); err != nil {
		tr.CloseIdleConnections()
		return nil, err
	}
	if got.PID != h.PID || !got.Since.Equal(h.Since) {
		tr.CloseIdleConnections()
		return nil, fmt.Errorf("ledger %s: the socket %s is served by %s, not the holder on record", path, h.Socket, &got)
	}
	return v, nil
}

func (v *remoteView) request(ctx context.Context, path string) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://ledger"+path, nil)
	if err != nil {
		return nil, err
	}
	resp, err := v.client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("ledger %s: asking its holder, %s: %w", v.path, v.holder, err)
	}
	if resp.StatusCode != http.StatusOK {
		msg, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		resp.Body.Close()
		return nil, fmt.Errorf("ledger %s: its holder, %s, answered %s: %s", v.path, v.holder, resp.Status, msg)
	}
	return resp, nil
}

func (v *remoteView) get(ctx context.Context, path string, out any) error {
	resp, err := v.request(ctx, path)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
		return fmt.Errorf("ledger %s: reading its holder's answer: %w", v.path, err)
	}
	return nil
}

func (v *remoteView) Path() string { return v.path }

// Instances is the holder, the one process working on an embedded ledger.
func (v *remoteView) Instances(ctx context.Context) ([]Instance, error) {
	var in Instance
	err := v.get(ctx, "/instance", &in)
	if err != nil {
		return nil, err
	}
	return []Instance{in}, nil
}

func (v *remoteView) Through() *Holder { return v.holder }

func (v *remoteView) Close() error {
	v.client.CloseIdleConnections()
	return nil
}

func (v *remoteView) Summarize() (Summary, error) {
	s := newSummary()
	err := v.get(context.Background(), "/summary", &s)
	return s, err
}

func (v *remoteView) Files(fn func(File) bool) error { return v.FilesIn(nil, fn) }

func (v *remoteView) FilesIn(states []FileState, fn func(File) bool) error {
	q := url.Values{}
	for _, s := range states {
		q.Add("state", string(s))
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	resp, err := v.request(ctx, "/files?"+q.Encode())
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	dec := json.NewDecoder(bufio.NewReader(resp.Body))
	for {
		var raw json.RawMessage
		if err := dec.Decode(&raw); err == io.EOF {
			return nil
		} else if err != nil {
			return fmt.Errorf("ledger %s: reading its holder's answer: %w", v.path, err)
		}
		if len(raw) > 0 && raw[0] == '"' {
			var msg string
			_ = json.Unmarshal(raw, &msg)
			return fmt.Errorf("ledger %s: its holder, %s, failed: %s", v.path, v.holder, msg)
		}
		var f File
		if err := json.Unmarshal(raw, &f); err != nil {
			return fmt.Errorf("ledger %s: reading its holder's answer: %w", v.path, err)
		}
		if !fn(f) {
			return nil
		}
	}
}
