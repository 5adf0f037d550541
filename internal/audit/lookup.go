package audit

import (
	"encoding/json"
	"strings"
	"time"
)

// Lookup attributes, as CloudTrail's LookupEvents names them.
const (
	AttrEventID      = "EventId"
	AttrEventName    = "EventName"
	AttrReadOnly     = "ReadOnly"
	AttrUsername     = "Username"
	AttrResourceType = "ResourceType"
	AttrResourceName = "ResourceName"
	AttrEventSource  = "EventSource"
	AttrAccessKeyID  = "AccessKeyId"
)

// Query selects events, newest first.
type Query struct {
	Attribute, Value string    // at most one attribute, as CloudTrail allows; "" for all
	Start, End       time.Time // inclusive; zero means unbounded
	Before           uint64    // only events older than this sequence number (paging); 0: none
	Max              int       // at most this many (>0)
	// Scan, if > 0, bounds the records examined: a page then ends early (with Next set)
	// rather than read the whole trail for a filter that matches little.
	Scan int
}

// Page is one page of a lookup: its events, newest first, and, when more may remain,
// Next: the Before of the next page.
type Page struct {
	Events []Stored
	Next   uint64
}

// Username is what CloudTrail reports as an event's user name: the IAM user's name, or
// "root" for the account's root user.
func Username(e Event) string {
	if e.UserIdentity.UserName != "" {
		return e.UserIdentity.UserName
	}
	if e.UserIdentity.Type == "Root" {
		return "root"
	}
	return ""
}

// ResourceName is the name LookupEvents gives a resource: its ARN.
func (r Resource) Name() string { return r.ARN }

// Matches reports whether e has the attribute's value.
func Matches(e Event, attr, value string) bool {
	switch attr {
	case "":
		return true
	case AttrEventID:
		return e.EventID == value
	case AttrEventName:
		return e.EventName == value
	case AttrReadOnly:
		return strings.EqualFold(value, "true") == e.ReadOnly && (strings.EqualFold(value, "true") || strings.EqualFold(value, "false"))
	case AttrUsername:
		return Username(e) == value
	case AttrEventSource:
		return e.EventSource == value
	case AttrAccessKeyID:
		return e.UserIdentity.AccessKeyID == value
	case AttrResourceType:
		for _, r := range e.Resources {
			if r.Type == value {
				return true
			}
		}
	case AttrResourceName:
		for _, r := range e.Resources {
			if r.ARN == value || shortName(r.ARN) == value {
				return true
			}
		}
	}
	return false
}

// shortName is the last part of an ARN ("db1" of arn:aws:rds:r:a:cluster:db1).
func shortName(arn string) string {
	if i := strings.LastIndexAny(arn, ":/"); i >= 0 {
		return arn[i+1:]
	}
	return arn
}

// Lookup returns the events q selects, newest first, and whether more remain (page on with
// Before set to the last one's Seq). It reads the segments from the newest, skipping the
// days outside the time range: a linear scan bounded by the retention.
func (t *Trail) Lookup(q Query) ([]Stored, bool, error) {
	q.Scan = 0
	p, err := t.LookupPage(q)
	return p.Events, p.Next != 0, err
}

// LookupPage is Lookup that examines at most q.Scan records (if > 0).
func (t *Trail) LookupPage(q Query) (Page, error) {
	segs, err := segments(t.dir)
	if err != nil {
		return Page{}, err
	}
	var out []Stored
	examined := 0
	for i := len(segs) - 1; i >= 0; i-- {
		s := segs[i]
		if q.Before != 0 && s.first >= q.Before {
			continue
		}
		// a segment's events are from its day on, to the day the next segment began (a
		// segment goes on past its day when the next one could not be started), or to its
		// own day's end if the next began earlier (a clock stepped back)
		if day, err := time.Parse("20060102", s.day); err == nil {
			if !q.End.IsZero() && day.After(q.End) {
				continue
			}
			if i+1 < len(segs) && !q.Start.IsZero() {
				if next, err := time.Parse("20060102", max(s.day, segs[i+1].day)); err == nil && !next.AddDate(0, 0, 1).After(q.Start) {
					continue // not break: after a clock stepped back, older segments may still match
				}
			}
		}
		recs, err := readSegment(t.dir, s)
		if err != nil {
			return Page{}, err
		}
		for j := len(recs) - 1; j >= 0; j-- {
			r := recs[j]
			if r.Seq == 0 || (q.Before != 0 && r.Seq >= q.Before) {
				continue
			}
			if q.Scan > 0 && examined == q.Scan {
				return Page{Events: out, Next: r.Seq + 1}, nil
			}
			examined++
			var e Event
			if json.Unmarshal(r.Event, &e) != nil {
				continue
			}
			if (!q.Start.IsZero() && e.EventTime.Before(q.Start)) || (!q.End.IsZero() && e.EventTime.After(q.End)) {
				continue
			}
			if !Matches(e, q.Attribute, q.Value) {
				continue
			}
			if len(out) == q.Max {
				return Page{Events: out, Next: out[len(out)-1].Seq}, nil
			}
			out = append(out, Stored{Seq: r.Seq, Hash: r.Hash, Event: e, Raw: r.Event})
		}
	}
	return Page{Events: out}, nil
}
