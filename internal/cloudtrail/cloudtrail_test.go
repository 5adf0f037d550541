package cloudtrail

import (
	"context"
	"errors"
	"net/url"
	"testing"
	"time"

	"github.com/borealis-db/borealis/internal/audit"
	"github.com/borealis-db/borealis/internal/awsquery"
)

// fakeTrail has events seq 1..n, one a minute from t0, named E1..En.
type fakeTrail struct{ n int }

var t0 = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

func (f fakeTrail) LookupPage(q audit.Query) (audit.Page, error) {
	if q.Scan <= 0 {
		return audit.Page{}, errors.New("a lookup without a scan bound")
	}
	var out []audit.Stored
	for seq := f.n; seq >= 1; seq-- {
		if q.Before != 0 && uint64(seq) >= q.Before {
			continue
		}
		e := audit.Event{EventName: "E" + string(rune('0'+seq)), EventTime: t0.Add(time.Duration(seq) * time.Minute)}
		if !audit.Matches(e, q.Attribute, q.Value) || (!q.Start.IsZero() && e.EventTime.Before(q.Start)) || (!q.End.IsZero() && e.EventTime.After(q.End)) {
			continue
		}
		if len(out) == q.Max {
			return audit.Page{Events: out, Next: out[len(out)-1].Seq}, nil
		}
		out = append(out, audit.Stored{Seq: uint64(seq), Event: e, Raw: []byte(`{}`)})
	}
	return audit.Page{Events: out}, nil
}

func lookup(t *testing.T, v url.Values) (LookupEventsResult, string) {
	t.Helper()
	res, err := New(fakeTrail{n: 5}).Do(context.Background(), "LookupEvents", awsquery.Params{Values: v})
	if err != nil {
		return LookupEventsResult{}, awsquery.AsError(err).Code
	}
	return res.(LookupEventsResult), ""
}

func TestLookupEventsPagesNewestFirst(t *testing.T) {
	page, code := lookup(t, url.Values{"MaxResults": {"2"}})
	if code != "" || len(page.Events) != 2 || page.Events[0].EventName != "E5" || page.NextToken == "" {
		t.Fatalf("%s %+v", code, page)
	}
	next, code := lookup(t, url.Values{"MaxResults": {"2"}, "NextToken": {page.NextToken}})
	if code != "" || len(next.Events) != 2 || next.Events[0].EventName != "E3" {
		t.Fatalf("%s %+v", code, next)
	}
	// the token belongs to its query
	if _, code := lookup(t, url.Values{"MaxResults": {"2"}, "NextToken": {page.NextToken}, "StartTime": {"1767225600"}}); code != "InvalidNextTokenException" {
		t.Fatalf("token with another query: %s", code)
	}
}

func TestLookupEventsRefusesWhatCloudTrailRefuses(t *testing.T) {
	for name, c := range map[string]struct {
		v    url.Values
		code string
	}{
		"two attributes": {url.Values{"LookupAttributes.member.1.AttributeKey": {"EventName"}, "LookupAttributes.member.1.AttributeValue": {"a"},
			"LookupAttributes.member.2.AttributeKey": {"Username"}, "LookupAttributes.member.2.AttributeValue": {"b"}}, "InvalidLookupAttributesException"},
		"unknown key":     {url.Values{"LookupAttributes.member.1.AttributeKey": {"Color"}, "LookupAttributes.member.1.AttributeValue": {"a"}}, "InvalidLookupAttributesException"},
		"empty value":     {url.Values{"LookupAttributes.member.1.AttributeKey": {"EventName"}}, "InvalidLookupAttributesException"},
		"start after end": {url.Values{"StartTime": {"1767229200"}, "EndTime": {"1767225600"}}, "InvalidTimeRangeException"},
		"bad time":        {url.Values{"StartTime": {"yesterday"}}, "InvalidTimeRangeException"},
		"0 results":       {url.Values{"MaxResults": {"0"}}, "InvalidMaxResultsException"},
		"51 results":      {url.Values{"MaxResults": {"51"}}, "InvalidMaxResultsException"},
		"forged token":    {url.Values{"NextToken": {"bm9wZQ"}}, "InvalidNextTokenException"},
		"category":        {url.Values{"EventCategory": {"data"}}, "InvalidEventCategoryException"},
	} {
		if _, code := lookup(t, c.v); code != c.code {
			t.Errorf("%s: %q, want %s", name, code, c.code)
		}
	}
	if _, err := New(fakeTrail{}).Do(context.Background(), "CreateTrail", awsquery.Params{Values: url.Values{}}); awsquery.AsError(err).Code != "UnsupportedOperationException" {
		t.Errorf("CreateTrail: %v", err)
	}
	if _, err := New(fakeTrail{}).Do(context.Background(), "MakeCoffee", awsquery.Params{Values: url.Values{}}); awsquery.AsError(err).Code != "UnknownOperationException" {
		t.Errorf("MakeCoffee: %v", err)
	}
}
