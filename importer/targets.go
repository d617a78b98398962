package importer

import (
	"context"
	"fmt"
	"hash/fnv"
	"net/url"
	"slices"
	"strings"

	"github.com/octane-import/octane-import/importer/ledger"
	"github.com/octane-import/octane-import/octane"
)

// A report is imported to a target: an Octane (URL), a shared space and a workspace. The
// ledger keeps, by target name, the identity of the Octane it imported to (a hash of the
// three). When a scan starts, checkTargets compares each configured target with it:
//
//   - the target names another Octane, shared space or workspace than the ledger's records
//     were imported to (its url or workspace was changed): those reports are new for it, and
//     are imported again;
//   - it names the same, but that Octane no longer has a CI server the ledger's builds were
//     reported under (a stand-in restarted, a workspace reset): the ledger no longer matches
//     its Octane, and the reports are imported again too.
//
// Either way it is said plainly (a warning in the summary and the log): a ledger must
// never claim results are in an Octane that does not have them.

// TargetIdentity is the text a target's identity is made of: its URL (scheme and host in
// lower case, no trailing slash), shared space and workspace.
func TargetIdentity(c octane.Config) string {
	u := strings.TrimRight(strings.TrimSpace(c.URL), "/")
	if p, err := url.Parse(u); err == nil {
		p.Scheme, p.Host = strings.ToLower(p.Scheme), strings.ToLower(p.Host)
		u = p.String()
	}
	return u + " shared space " + strings.TrimSpace(c.SharedSpace) + " workspace " + strings.TrimSpace(c.Workspace)
}

func identityHash(text string) uint64 {
	h := fnv.New64a()
	h.Write([]byte(text))
	return h.Sum64()
}

// checkTargets compares the configured targets with what the ledger imported to, once per
// Importer, and prepares the reports of a target that changed to be imported again.
func (im *Importer) checkTargets(ctx context.Context, sum *Summary) error {
	if im.targetsChecked || im.opt.DryRun || len(im.opt.Identities) == 0 {
		return nil
	}
	im.targetsChecked = true
	l := im.opt.Ledger
	warn := func(w string) {
		sum.Warnings = appendLimited(sum.Warnings, w)
		im.opt.Logger.Warn(w)
	}
	for _, name := range sortedKeys(im.opt.Identities) {
		text := im.opt.Identities[name]
		id := identityHash(text)
		prev, known, err := l.TargetIdentity(name)
		if err != nil {
			return err
		}
		switch {
		case !known:
			// First import to it (or a ledger from before identities were kept).
		case prev != id:
			n, err := im.resetTarget(name, "target "+name+" now names another Octane or workspace")
			if err != nil {
				return err
			}
			if n > 0 {
				warn(fmt.Sprintf("target %q now names %s, not the Octane or workspace this ledger imported its %s to: they are new there and are imported again",
					name, text, plural(n, "report")))
			}
		default:
			missing, server, err := im.probeTarget(ctx, name)
			if err != nil {
				if octane.IsTargetRefused(err) {
					return &TargetRefusedError{Target: name, Err: err}
				}
				warn(fmt.Sprintf("could not check that Octane (target %q) still holds what this ledger imported to it: %v", name, err))
				continue
			}
			if missing {
				n, err := im.resetTarget(name, "Octane no longer has CI server "+server)
				if err != nil {
					return err
				}
				warn(fmt.Sprintf("target %q (%s) has no CI server %q, under which this ledger reported builds: it is not the Octane the ledger imported to, or it was reset. Its %s are imported again",
					name, text, server, plural(n, "report")))
			}
		}
		if !known || prev != id {
			if err := l.SetTargetIdentity(name, id); err != nil {
				return err
			}
		}
	}
	return nil
}

// probeTarget asks the target's Octane for one CI server the ledger reported builds under
// (one request, after signing in). Missing means Octane does not have it.
func (im *Importer) probeTarget(ctx context.Context, name string) (missing bool, server string, err error) {
	builds, err := im.opt.Ledger.Builds(ledger.BuildPut)
	if err != nil {
		return false, "", err
	}
	for _, b := range builds {
		if b.Target != name {
			continue
		}
		sp, err := unmarshalBuild(b)
		if err != nil || sp.Server.InstanceID == "" {
			continue
		}
		server = sp.Server.InstanceID
		break
	}
	if server == "" {
		return false, "", nil // nothing reported there yet
	}
	c, err := im.opt.Client(name)
	if err != nil {
		return false, server, err
	}
	has, err := c.HasCIServer(ctx, server)
	return err == nil && !has, server, err
}

// resetTarget makes the reports recorded for a target new again: their records go back to
// "seen" (read again, and imported, by the next look), the payloads still queued for the
// target are dropped (their reports are read again), and its builds are forgotten (their
// counts start again). It returns how many of those reports had been imported (sent or
// accepted) there.
func (im *Importer) resetTarget(name, why string) (int, error) {
	l := im.opt.Ledger
	var files []ledger.File
	imported := 0
	err := l.Files(func(f ledger.File) bool {
		if f.Target == name && f.State != ledger.Seen && f.State != ledger.Unmatched {
			if f.State == ledger.Accepted || f.State == ledger.Sent {
				imported++
			}
			f.State, f.Error, f.Payloads, f.Task, f.Status = ledger.Seen, "", nil, "", ""
			f.Runs = ledger.Counts{}
			files = append(files, f)
		}
		return true
	})
	if err != nil {
		return 0, err
	}
	ps, err := l.Payloads(ledger.Pending, ledger.PayloadSent)
	if err != nil {
		return 0, err
	}
	for _, p := range ps {
		if p.Target == name {
			if err := l.MarkDone(p.ID, ledger.PayloadSkipped, "", why+": its reports are read again"); err != nil {
				return 0, err
			}
		}
	}
	// The records last: settling the dropped payloads above rewrote them.
	for chunk := range slices.Chunk(files, 512) {
		if err := l.PutFiles(chunk...); err != nil {
			return 0, err
		}
	}
	builds, err := l.Builds()
	if err != nil {
		return 0, err
	}
	var reset []ledger.Build
	for _, b := range builds {
		if b.Target == name {
			// Forgotten: not to be sent (not pending) and counted again from nothing when
			// its reports are read again, which makes it pending once more.
			b.Spec, b.Runs, b.State, b.Error = forgotten, ledger.Counts{}, ledger.BuildFailed, why+": its reports are read again"
			reset = append(reset, b)
		}
	}
	if err := l.PutBuilds(reset...); err != nil {
		return 0, err
	}
	return imported, nil
}
