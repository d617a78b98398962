package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/octane-import/octane-import/importer/ledger"
	"github.com/octane-import/octane-import/internal/testkit"
)

func getText(addr, path string) string {
	resp, err := http.Get("http://" + addr + path)
	if err != nil {
		return ""
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}

// gauge is the value of a metric in /metrics, or "" when it is not there.
func gauge(metrics, name string) string {
	m := regexp.MustCompile(`(?m)^` + name + ` (\S+)$`).FindStringSubmatch(metrics)
	if m == nil {
		return ""
	}
	return m[1]
}

// Issue 17: a watcher's /metrics and /status say how many live instances (peers) work on its
// ledger: another instance joining and leaving a PostgreSQL ledger shows in both; the
// database down shows as octane_import_ledger_up 0 (no peers figure), and back, as 1.
func TestWatchPeersOnAPostgresLedger(t *testing.T) {
	srv := testkit.NeedPostgres(t)
	url := srv.Database(t)
	w := newPGWorld(t, "")
	addr := testkit.FreeAddr(t)
	watch := startWatch(t, "watch", "--config", w.config, "--state", url, "--settle", "100ms", "--health-listen", addr, w.tree)
	waitFor(t, "the tree imported", func() bool {
		return gauge(getText(addr, "/metrics"), "octane_import_files_imported_total") == fmt.Sprint(w.files)
	})
	var st statusJSON
	waitFor(t, "one instance in /metrics and /status", func() bool {
		return gauge(getText(addr, "/metrics"), "octane_import_peers") == "1" && getJSON(addr, "/status", &st) == nil && len(st.Instances) == 1
	})

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	peer, err := ledger.OpenPostgres(ctx, url, ledger.Options{Version: "the-peer"})
	if err != nil {
		t.Fatal(err)
	}
	defer peer.Close()
	waitFor(t, "two instances in /metrics and /status", func() bool {
		return gauge(getText(addr, "/metrics"), "octane_import_peers") == "2" && getJSON(addr, "/status", &st) == nil && len(st.Instances) == 2
	})
	if st.Instances[1].Version != "the-peer" || !strings.HasPrefix(st.Instances[0].Version, "octane-import ") {
		t.Errorf("/status instances: %+v", st.Instances)
	}
	if got := gauge(getText(addr, "/metrics"), "octane_import_ledger_up"); got != "1" {
		t.Errorf("octane_import_ledger_up %q, want 1", got)
	}
	if err := peer.Close(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "one instance again once the peer left", func() bool {
		return gauge(getText(addr, "/metrics"), "octane_import_peers") == "1"
	})

	if err := srv.Stop(false); err != nil {
		t.Fatal(err)
	}
	restarted := false
	defer func() {
		if !restarted {
			_ = srv.Start()
		}
	}()
	metrics := getText(addr, "/metrics")
	if gauge(metrics, "octane_import_ledger_up") != "0" || gauge(metrics, "octane_import_peers") != "" {
		t.Errorf("/metrics with the database down:\n%s\nwant octane_import_ledger_up 0 and no octane_import_peers", metrics)
	}
	if gauge(metrics, "octane_import_files_imported_total") != fmt.Sprint(w.files) {
		t.Errorf("/metrics with the database down lost the watcher's own figures:\n%s\nwatch:\n%s", metrics, watch.errb.String())
	}
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	restarted = true
	waitFor(t, "the ledger up again, with this instance", func() bool {
		m := getText(addr, "/metrics")
		return gauge(m, "octane_import_ledger_up") == "1" && gauge(m, "octane_import_peers") == "1"
	})
	if c := watch.stop(t); c != exitOK {
		t.Errorf("watch exit %d\n%s", c, watch.errb.String())
	}
	if s := watch.errb.String() + watch.out.String(); strings.Contains(s, srv.Password()) {
		t.Errorf("the password shows in the watcher's output:\n%s", s)
	}
}

// An embedded ledger has one instance: the watcher holding it.
func TestWatchPeersOnAnEmbeddedLedger(t *testing.T) {
	dir := t.TempDir()
	testkit.WriteFile(t, filepath.Join(dir, "job", "1", "TEST-a.xml"), oneTest)
	addr := testkit.FreeAddr(t)
	startWatch(t, "watch", "--sandbox", "--state", filepath.Join(t.TempDir(), "l.db"), "--health-listen", addr, dir)
	var st statusJSON
	waitFor(t, "/metrics and /status", func() bool { return getJSON(addr, "/status", &st) == nil })
	m := getText(addr, "/metrics")
	if gauge(m, "octane_import_peers") != "1" || gauge(m, "octane_import_ledger_up") != "1" || len(st.Instances) != 1 {
		t.Errorf("/metrics:\n%s\n/status instances: %+v; want one instance", m, st.Instances)
	}
	if len(st.Instances) == 1 && st.Instances[0].PID == 0 {
		t.Errorf("the instance has no pid: %+v", st.Instances[0])
	}
}
