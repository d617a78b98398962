package octane

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"time"
)

// CI events: PUT {base}/internal-api/shared_spaces/{sid}/analytics/ci/events,
// the way every current plugin reports builds (shared/octane-api.md section
// 7; shared/octane-clients.md section 3: SDK @1c159e8 EventsServiceImpl.java
// :276-306, CIServerInfoImpl.java:43-48, CIEventImpl; GHA @4a9250a
// octaneClient.ts:84-111, ciEventsService.ts:175-195; ADO @7ac4f4a
// BaseTask.ts:145-154). PutBuild uses them with BuildReportingEvents.

type serverInfoJSON struct {
	Type        string `json:"type"`
	URL         string `json:"url,omitempty"`
	InstanceID  string `json:"instanceId"`
	SendingTime int64  `json:"sendingTime"`
}

type eventJSON struct {
	EventType          string           `json:"eventType"`
	BuildCIID          string           `json:"buildCiId"`
	Project            string           `json:"project"`
	ProjectDisplayName string           `json:"projectDisplayName"`
	Number             string           `json:"number"`
	StartTime          int64            `json:"startTime"`
	Duration           *int64           `json:"duration,omitempty"`
	Result             string           `json:"result,omitempty"`
	Causes             []eventCauseJSON `json:"causes,omitempty"`
	Parameters         []parameterJSON  `json:"parameters,omitempty"`
}

// eventCauseJSON is a CIEventCause; a build's cause is an upstream build.
type eventCauseJSON struct {
	Type      string `json:"type"`
	Project   string `json:"project"`
	BuildCIID string `json:"buildCiId"`
}

type eventsJSON struct {
	Server serverInfoJSON `json:"server"`
	Events []eventJSON    `json:"events"`
}

// putEvents reports build b (validated into out) as CI events: the server
// info, then the events for its status, with the build's original start time
// and duration as GHA sends them (startTime = the run's start, duration =
// its length): finished gives a started and a finished event, running a
// started event, queued a queued event, unavailable a started event (the
// build ran; its outcome is not known). The SDK's ci_server_identity query
// parameter names the server. The events API is internal: with the
// HPE_CI_CLIENT client type (the SDK's) nothing more is sent; with another
// or none, the GitHub Actions integration's ALM-OCTANE-PRIVATE and
// ALM-OCTANE-TECH-PREVIEW headers (shared/octane-api.md section 2.4).
func (c *Client) putEvents(ctx context.Context, b Build, out buildJSON) error {
	info := serverInfoJSON{Type: "unknown", InstanceID: out.ServerCIID, SendingTime: time.Now().UnixMilli()}
	if v, ok := c.servers.Load(out.ServerCIID); ok {
		s := v.(CIServer)
		info.Type, info.URL = cmp.Or(s.Type, info.Type), s.URL
	}
	info.Type = c.fitName("event.server.type", cmp.Or(b.ServerType, info.Type))
	info.URL = strings.TrimRight(cmp.Or(b.ServerURL, info.URL), "/") // as the SDK's CIServerInfo does
	ev := eventJSON{
		BuildCIID: out.BuildCIID, Project: out.JobCIID,
		ProjectDisplayName: c.fitName("event.projectDisplayName", cmp.Or(b.JobName, b.JobCIID)),
		Number:             out.BuildName, StartTime: out.StartTime, Parameters: out.Parameters,
	}
	for _, cs := range out.Causes {
		ev.Causes = append(ev.Causes, eventCauseJSON{Type: "upstream", Project: cs.JobCIID, BuildCIID: cs.BuildCIID})
	}
	var events []eventJSON
	switch out.Status {
	case "queued":
		ev.EventType = "queued"
		events = append(events, ev)
	case "finished":
		started := ev
		started.EventType = "started"
		finished := ev
		finished.EventType, finished.Duration, finished.Result = "finished", out.Duration, out.Result
		events = append(events, started, finished)
	default: // running, unavailable
		ev.EventType = "started"
		events = append(events, ev)
	}
	body, err := json.Marshal(eventsJSON{Server: info, Events: events})
	if err != nil {
		return fmt.Errorf("octane: put build %s/%s as events: %w", b.JobCIID, b.BuildCIID, err)
	}
	r := &request{
		method: http.MethodPut, url: c.base.String() + "/internal-api/shared_spaces/" + c.cfg.SharedSpace + "/analytics/ci/events",
		query: "ci_server_identity=" + escapeParam(out.ServerCIID),
		body:  body, contentType: "application/json", resendable: true,
		want: func(s int) bool { return s == http.StatusOK }, // the SDK takes 200 only
	}
	if c.cfg.ClientType != DefaultClientType {
		r.header = map[string]string{"ALM-OCTANE-PRIVATE": "true", "ALM-OCTANE-TECH-PREVIEW": "true"}
	}
	if _, err := c.do(ctx, r); err != nil {
		return fmt.Errorf("octane: put build %s/%s as events: %w", b.JobCIID, b.BuildCIID, err)
	}
	return nil
}
