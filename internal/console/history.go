package console

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// The event history page: CloudTrail's LookupEvents as the signed-in user (so IAM's
// cloudtrail:LookupEvents decides who sees it), one attribute filter as CloudTrail allows,
// a time range, and paging.

func (c *Console) historyRoutes(m *http.ServeMux) {
	m.HandleFunc("GET /console/event-history", c.signedIn(c.historyPage))
}

// historyAttributes are the filters the page offers, in CloudTrail's names.
var historyAttributes = []struct{ Key, Label string }{
	{"Username", "User name"},
	{"EventName", "Event name (action)"},
	{"ResourceName", "Resource name"},
	{"ResourceType", "Resource type"},
	{"EventSource", "Event source"},
	{"AccessKeyId", "Access key ID"},
	{"ReadOnly", "Read-only"},
	{"EventId", "Event ID"},
}

type historyEvent struct {
	EventId, EventName, ReadOnly, AccessKeyId, EventSource, Username, CloudTrailEvent string
	EventTime                                                                         float64
	Resources                                                                         []struct{ ResourceType, ResourceName string }
}

// Time is the event's time as the page shows it.
func (e historyEvent) Time() string {
	return time.Unix(int64(e.EventTime), 0).UTC().Format("2006-01-02 15:04:05Z")
}

// Record is the event's CloudTrail record, indented.
func (e historyEvent) Record() string {
	var buf bytes.Buffer
	if json.Indent(&buf, []byte(e.CloudTrailEvent), "", "  ") != nil {
		return e.CloudTrailEvent
	}
	return buf.String()
}

type recordSummary struct {
	SourceIPAddress string `json:"sourceIPAddress"`
	ErrorCode       string `json:"errorCode"`
	Response        struct {
		ConsoleLogin string `json:"ConsoleLogin"`
	} `json:"responseElements"`
	Additional struct {
		Authorization struct {
			Decision, Policy, Statement string
		} `json:"authorization"`
	} `json:"additionalEventData"`
}

func (e historyEvent) summary() recordSummary {
	var s recordSummary
	_ = json.Unmarshal([]byte(e.CloudTrailEvent), &s)
	return s
}

// SourceIP is where the call came from.
func (e historyEvent) SourceIP() string { return e.summary().SourceIPAddress }

// Outcome is the call's result in a few words: its error code, the deciding statement of
// a denial, a sign-in's result.
func (e historyEvent) Outcome() string {
	s := e.summary()
	var parts []string
	if s.Response.ConsoleLogin != "" {
		parts = append(parts, s.Response.ConsoleLogin)
	}
	if s.ErrorCode != "" {
		parts = append(parts, s.ErrorCode)
	}
	if a := s.Additional.Authorization; a.Decision != "" && a.Decision != "allowed" {
		d := a.Decision
		if a.Statement != "" {
			d += " by " + a.Policy + " statement " + a.Statement
		}
		parts = append(parts, d)
	}
	if len(parts) == 0 {
		return "ok"
	}
	return strings.Join(parts, " · ")
}

type historyData struct {
	Attributes         []struct{ Key, Label string }
	Key, Value         string
	Start, End         string
	Events             []historyEvent
	Next, ThisPageLink string
}

func (c *Console) historyPage(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	d := historyData{Attributes: historyAttributes, Key: q.Get("key"), Value: strings.TrimSpace(q.Get("value")),
		Start: q.Get("start"), End: q.Get("end")}
	if d.Key == "" {
		d.Key = "Username"
	}
	v := url.Values{}
	if d.Value != "" {
		v.Set("LookupAttributes.member.1.AttributeKey", d.Key)
		v.Set("LookupAttributes.member.1.AttributeValue", d.Value)
	}
	if d.Start != "" {
		v.Set("StartTime", d.Start)
	}
	if d.End != "" {
		v.Set("EndTime", d.End)
	}
	if t := q.Get("next"); t != "" {
		v.Set("NextToken", t)
	}
	v.Set("MaxResults", "50")
	var out struct {
		Events    []historyEvent `xml:"Events"`
		NextToken string
	}
	p := page{Title: "Event history"}
	if err := c.call(r, "cloudtrail", "LookupEvents", v, &out); err != nil {
		p.Error = c.errorText(err)
	}
	d.Events = out.Events
	if out.NextToken != "" {
		nq := url.Values{"key": {d.Key}, "value": {d.Value}, "start": {d.Start}, "end": {d.End}, "next": {out.NextToken}}
		d.Next = "/console/event-history?" + nq.Encode()
	}
	p.Data = d
	c.render(w, r, http.StatusOK, "history.html", p)
}
