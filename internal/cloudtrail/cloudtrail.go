// Package cloudtrail is the CloudTrail API over the audit trail: LookupEvents, as CloudTrail's
// event history answers it. Trails, event data stores, Lake queries and the rest are not
// Borealis's (its one trail is always on): they are refused with UnsupportedOperationException.
package cloudtrail

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"math"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/borealis-db/borealis/internal/audit"
	"github.com/borealis-db/borealis/internal/awsquery"
)

// Protocol facts, from botocore's cloudtrail 2013-11-01 model.
const (
	Version    = "2013-11-01"
	JSONTarget = "com.amazonaws.cloudtrail.v20131101.CloudTrail_20131101"
)

// Trail is what LookupEvents reads.
type Trail interface {
	LookupPage(q audit.Query) (audit.Page, error)
}

// maxScan bounds the events one LookupEvents call examines (about 40 MiB of records): a
// filter that matches little answers a short page with a NextToken, as CloudTrail may,
// rather than read the whole trail in one call.
const maxScan = 20000

// Service answers the CloudTrail API.
type Service struct {
	trail Trail
}

// New returns the CloudTrail API over trail.
func New(trail Trail) *Service { return &Service{trail: trail} }

// operations are CloudTrail's actions other than LookupEvents (botocore's model).
var operations = strings.Fields(`AddTags CancelQuery CreateChannel CreateDashboard CreateEventDataStore
CreateTrail DeleteChannel DeleteDashboard DeleteEventDataStore DeleteResourcePolicy DeleteTrail
DeregisterOrganizationDelegatedAdmin DescribeQuery DescribeTrails DisableFederation EnableFederation
GenerateQuery GetChannel GetDashboard GetEventConfiguration GetEventDataStore GetEventSelectors GetImport
GetInsightSelectors GetQueryResults GetResourcePolicy GetTrail GetTrailStatus ListChannels ListDashboards
ListEventDataStores ListImportFailures ListImports ListInsightsData ListInsightsMetricData ListPublicKeys
ListQueries ListTags ListTrails PutEventConfiguration PutEventSelectors PutInsightSelectors
PutResourcePolicy RegisterOrganizationDelegatedAdmin RemoveTags RestoreEventDataStore SearchSampleQueries
StartDashboardRefresh StartEventDataStoreIngestion StartImport StartLogging StartQuery
StopEventDataStoreIngestion StopImport StopLogging UpdateChannel UpdateDashboard UpdateEventDataStore UpdateTrail`)

// Do runs one action.
func (s *Service) Do(ctx context.Context, action string, p awsquery.Params) (any, error) {
	switch {
	case action == "LookupEvents":
		return s.lookupEvents(p)
	case slices.Contains(operations, action):
		return nil, awsquery.Errorf(http.StatusBadRequest, "UnsupportedOperationException",
			"%s is not supported: Borealis keeps one always-on event history, read with LookupEvents.", action)
	default:
		return nil, awsquery.Errorf(http.StatusBadRequest, "UnknownOperationException", "The operation %s is not known.", awsquery.Clip(action))
	}
}

// LookupEventsResult is LookupEvents' output; its JSON is the protocol's, and the console
// reads it through the same struct.
type LookupEventsResult struct {
	Events    []Event `json:"Events"`
	NextToken string  `json:"NextToken,omitempty"`
}

// Event is one event as LookupEvents summarises it.
type Event struct {
	EventId         string     `json:"EventId"`
	EventName       string     `json:"EventName"`
	ReadOnly        string     `json:"ReadOnly"`
	AccessKeyId     string     `json:"AccessKeyId,omitempty"`
	EventTime       float64    `json:"EventTime"` // epoch seconds, as the JSON protocol sends timestamps
	EventSource     string     `json:"EventSource"`
	Username        string     `json:"Username,omitempty"`
	Resources       []Resource `json:"Resources"`
	CloudTrailEvent string     `json:"CloudTrailEvent"`
}

// Resource is a resource an event names.
type Resource struct {
	ResourceType string `json:"ResourceType,omitempty"`
	ResourceName string `json:"ResourceName,omitempty"`
}

func invalid(code, format string, args ...any) error {
	return awsquery.Errorf(http.StatusBadRequest, code, format, args...)
}

var attributeKeys = []string{audit.AttrEventID, audit.AttrEventName, audit.AttrReadOnly, audit.AttrUsername,
	audit.AttrResourceType, audit.AttrResourceName, audit.AttrEventSource, audit.AttrAccessKeyID}

var attrMember = regexp.MustCompile(`^LookupAttributes\.member\.(\d+)\.(AttributeKey|AttributeValue)$`)

func (s *Service) lookupEvents(p awsquery.Params) (any, error) {
	var q audit.Query
	attrs := map[string]map[string]string{}
	for k, v := range p.Values {
		if m := attrMember.FindStringSubmatch(k); m != nil {
			if attrs[m[1]] == nil {
				attrs[m[1]] = map[string]string{}
			}
			attrs[m[1]][m[2]] = v[0]
		} else if strings.HasPrefix(k, "LookupAttributes") {
			return nil, invalid("InvalidLookupAttributesException", "LookupAttributes must be a list of AttributeKey and AttributeValue pairs.")
		}
	}
	switch {
	case len(attrs) > 1:
		return nil, invalid("InvalidLookupAttributesException", "You can only specify one lookup attribute.")
	case len(attrs) == 1:
		for _, a := range attrs {
			key, value := a["AttributeKey"], a["AttributeValue"]
			if !slices.Contains(attributeKeys, key) {
				return nil, invalid("InvalidLookupAttributesException", "The lookup attribute key %s is not valid; valid keys are %s.", awsquery.Clip(key), strings.Join(attributeKeys, ", "))
			}
			if value == "" || len(value) > 2000 {
				return nil, invalid("InvalidLookupAttributesException", "The value of lookup attribute %s must be 1 to 2000 characters.", key)
			}
			q.Attribute, q.Value = key, value
		}
	}
	var err error
	if q.Start, err = timeParam(p, "StartTime"); err != nil {
		return nil, err
	}
	if q.End, err = timeParam(p, "EndTime"); err != nil {
		return nil, err
	}
	if !q.Start.IsZero() && !q.End.IsZero() && q.Start.After(q.End) {
		return nil, invalid("InvalidTimeRangeException", "The start time must be before the end time.")
	}
	q.Max = 50
	if p.Has("MaxResults") {
		n, err := strconv.Atoi(p.Get("MaxResults"))
		if err != nil || n < 1 || n > 50 {
			return nil, invalid("InvalidMaxResultsException", "MaxResults must be between 1 and 50.")
		}
		q.Max = n
	}
	if p.Has("EventCategory") {
		if p.Get("EventCategory") != "insight" {
			return nil, invalid("InvalidEventCategoryException", "The event category %s is not valid; the valid category is insight.", awsquery.Clip(p.Get("EventCategory")))
		}
		return LookupEventsResult{Events: []Event{}}, nil // Borealis records no Insights events
	}
	if tok := p.Get("NextToken"); tok != "" {
		if q.Before, err = parseToken(tok, q); err != nil {
			return nil, err
		}
	}
	q.Scan = maxScan
	page, err := s.trail.LookupPage(q)
	if err != nil {
		return nil, err
	}
	out := LookupEventsResult{Events: make([]Event, 0, len(page.Events))}
	for _, st := range page.Events {
		out.Events = append(out.Events, summary(st))
	}
	if page.Next != 0 {
		out.NextToken = token(page.Next, q)
	}
	return out, nil
}

func summary(st audit.Stored) Event {
	e := st.Event
	out := Event{
		EventId:         e.EventID,
		EventName:       e.EventName,
		ReadOnly:        strconv.FormatBool(e.ReadOnly),
		AccessKeyId:     e.UserIdentity.AccessKeyID,
		EventTime:       float64(e.EventTime.Unix()),
		EventSource:     e.EventSource,
		Username:        audit.Username(e),
		Resources:       []Resource{},
		CloudTrailEvent: string(st.Raw),
	}
	for _, r := range e.Resources {
		name := r.ARN
		if i := strings.LastIndexAny(name, ":/"); i >= 0 {
			name = name[i+1:]
		}
		out.Resources = append(out.Resources, Resource{ResourceType: r.Type, ResourceName: name})
	}
	return out
}

// timeParam reads a timestamp member: epoch seconds (the JSON protocol's form), or an
// ISO 8601 time (what a Query-form caller such as the console sends).
func timeParam(p awsquery.Params, name string) (time.Time, error) {
	v := p.Get(name)
	if v == "" {
		return time.Time{}, nil
	}
	if f, err := strconv.ParseFloat(v, 64); err == nil && !math.IsNaN(f) && !math.IsInf(f, 0) && math.Abs(f) < 1e11 {
		sec, frac := math.Modf(f)
		return time.Unix(int64(sec), int64(frac*1e9)).UTC(), nil
	}
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04", "2006-01-02"} {
		if t, err := time.Parse(layout, v); err == nil {
			return t.UTC(), nil
		}
	}
	return time.Time{}, invalid("InvalidTimeRangeException", "%s is not a valid time.", name)
}

// A NextToken names where the previous page ended and fingerprints the query it belongs
// to: CloudTrail refuses a token given with different parameters.
func fingerprint(q audit.Query) string {
	h := sha256.Sum256(fmt.Appendf(nil, "%s\x00%s\x00%d\x00%d", q.Attribute, q.Value, q.Start.UnixNano(), q.End.UnixNano()))
	return hex.EncodeToString(h[:8])
}

func token(seq uint64, q audit.Query) string {
	return base64.RawURLEncoding.EncodeToString(fmt.Appendf(nil, "%d.%s", seq, fingerprint(q)))
}

func parseToken(tok string, q audit.Query) (uint64, error) {
	bad := invalid("InvalidNextTokenException", "The NextToken is not valid, or was issued for other parameters.")
	b, err := base64.RawURLEncoding.DecodeString(tok)
	if err != nil {
		return 0, bad
	}
	seqText, fp, ok := strings.Cut(string(b), ".")
	seq, err := strconv.ParseUint(seqText, 10, 64)
	if !ok || err != nil || seq == 0 || fp != fingerprint(q) {
		return 0, bad
	}
	return seq, nil
}
