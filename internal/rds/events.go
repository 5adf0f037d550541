package rds

import (
	"context"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/borealis-db/borealis/internal/awsquery"
	"github.com/borealis-db/borealis/internal/rdsevent"
	"github.com/borealis-db/borealis/internal/store"
)

// EventLog keeps RDS events (the store): the API emits some (parameter group changes) and
// answers DescribeEvents from it; the reconciler emits the rest.
type EventLog interface {
	AddEvent(ctx context.Context, e rdsevent.Event) error
	Events(ctx context.Context, q store.EventQuery) ([]store.StoredEvent, error)
}

var (
	describeEventsMembers = paged.With(members{"SourceIdentifier": acted, "SourceType": acted, "StartTime": acted,
		"EndTime": acted, "Duration": acted, "EventCategories": list("EventCategory"), "Filters": filters()})
	// RDS documents Filters as not supported by either action: any filter is refused.
	describeEventCategoriesMembers = members{"SourceType": acted, "Filters": filters()}
)

// defaultEventWindow is DescribeEvents' Duration when neither it nor StartTime is given.
const defaultEventWindow = 60 * time.Minute

// emit records an event; a failure is logged, not returned: RDS emits events on a best
// effort basis and the change they report has happened.
func (s *Service) emit(ctx context.Context, e rdsevent.Event) {
	if s.events == nil {
		return
	}
	if err := s.events.AddEvent(ctx, e); err != nil {
		s.log.Error("rds event", "source", e.SourceID, "message", e.Message, "err", err)
	}
}

func (s *Service) describeEvents(ctx context.Context, p awsquery.Params) (any, error) {
	maxRecords, marker, err := paging(p)
	if err != nil {
		return nil, err
	}
	sourceType, sourceID := p.String("SourceType"), p.String("SourceIdentifier")
	if sourceType != "" && !rdsevent.KnownSourceType(sourceType) {
		return nil, awsquery.InvalidParameterValue("Invalid source type: %s", awsquery.Clip(sourceType))
	}
	if sourceID != "" && sourceType == "" {
		return nil, awsquery.InvalidParameterCombination("SourceType must be specified when SourceIdentifier is specified.")
	}
	if sourceType == rdsevent.DBInstance || sourceType == rdsevent.DBCluster || strings.Contains(sourceType, "parameter-group") {
		sourceID = strings.ToLower(sourceID) // stored lower-case
	}
	known := rdsevent.Categories(sourceType)
	if sourceType == "" {
		for _, t := range rdsevent.CategorySourceTypes {
			known = append(known, rdsevent.Categories(t)...)
		}
	}
	cats := p.List("EventCategories", "EventCategory")
	for _, c := range cats {
		if !slices.Contains(known, strings.ToLower(c)) {
			return nil, awsquery.InvalidParameterValue("Invalid event category: %s", awsquery.Clip(c))
		}
	}
	start, end, err := s.eventWindow(p)
	if err != nil {
		return nil, err
	}
	var after int64
	if marker != "" {
		if after, err = strconv.ParseInt(marker, 10, 64); err != nil || after < 0 {
			return nil, awsquery.InvalidParameterValue("Invalid marker: %s", awsquery.Clip(marker))
		}
	}
	q := store.EventQuery{SourceType: sourceType, SourceID: sourceID, Start: start, End: end, After: after}
	var res describeEventsResult
	for {
		q.Limit = maxRecords + 1
		evs, err := s.events.Events(ctx, q)
		if err != nil {
			return nil, err
		}
		for _, e := range evs {
			q.After = e.Seq
			if len(cats) > 0 && !slices.ContainsFunc(e.Categories, func(c string) bool {
				return slices.ContainsFunc(cats, func(w string) bool { return strings.EqualFold(w, c) })
			}) {
				continue
			}
			if len(res.Events.Items) == maxRecords {
				res.Marker = strconv.FormatInt(res.last, 10)
				return res, nil
			}
			res.Events.Items = append(res.Events.Items, s.eventXML(e.Event))
			res.last = e.Seq
		}
		if len(evs) < q.Limit {
			return res, nil
		}
	}
}

// eventWindow is the time range DescribeEvents covers, as RDS reads its members: Duration
// (minutes, default 60) back from now when neither StartTime nor EndTime is given, and
// ignored when one is; StartTime alone runs to now, EndTime alone starts 60 minutes
// before it.
func (s *Service) eventWindow(p awsquery.Params) (time.Time, time.Time, error) {
	now := s.cfg.Now().UTC()
	start, hasStart, err := timestamp(p, "StartTime")
	if err != nil {
		return start, start, err
	}
	end, hasEnd, err := timestamp(p, "EndTime")
	if err != nil {
		return start, end, err
	}
	minutes, hasDuration, err := p.Int("Duration")
	if err != nil {
		return start, end, err
	}
	if hasDuration && minutes < 0 {
		return start, end, awsquery.InvalidParameterValue("Invalid value %d for Duration. Must be a non-negative number of minutes.", minutes)
	}
	window := defaultEventWindow
	if hasDuration {
		window = time.Duration(minutes) * time.Minute
	}
	switch {
	case hasStart && hasEnd:
	case hasStart:
		end = now
	case hasEnd:
		start = end.Add(-defaultEventWindow)
	default:
		end, start = now, now.Add(-window)
	}
	if end.Before(start) {
		return start, end, awsquery.InvalidParameterValue("The parameter StartTime must be before EndTime.")
	}
	return start, end, nil
}

// timestamp reads an ISO 8601 member (2009-07-08T18:00Z, seconds and fractions optional).
func timestamp(p awsquery.Params, name string) (time.Time, bool, error) {
	if !p.Has(name) {
		return time.Time{}, false, nil
	}
	v := strings.TrimSpace(p.String(name))
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04Z07:00", "2006-01-02T15:04:05", "2006-01-02T15:04", "2006-01-02"} {
		if t, err := time.Parse(layout, v); err == nil {
			return t.UTC(), true, nil
		}
	}
	return time.Time{}, false, awsquery.InvalidParameterValue("Invalid value for parameter %s: %q is not an ISO 8601 time.", name, awsquery.Clip(v))
}

// eventXML is e as DescribeEvents shows it, with the ARN of its source.
func (s *Service) eventXML(e rdsevent.Event) xmlEvent {
	x := xmlEvent{SourceIdentifier: e.SourceID, SourceType: e.SourceType, Message: e.Message, EventCategories: e.Categories, Date: e.Date}
	switch e.SourceType {
	case rdsevent.DBInstance:
		x.SourceArn = s.instanceARN(e.SourceID)
	case rdsevent.DBCluster:
		x.SourceArn = s.clusterARN(e.SourceID)
	case rdsevent.DBParameterGroup:
		x.SourceArn = s.groupARN(dbGroups, e.SourceID)
	case rdsevent.DBClusterParameterGroup:
		x.SourceArn = s.groupARN(clusterGroups, e.SourceID)
	}
	if x.EventCategories == nil {
		x.EventCategories = []string{}
	}
	return x
}

func (s *Service) describeEventCategories(_ context.Context, p awsquery.Params) (any, error) {
	types := rdsevent.CategorySourceTypes
	if t := p.String("SourceType"); p.Has("SourceType") {
		if rdsevent.Categories(t) == nil {
			return nil, awsquery.InvalidParameterValue("Invalid source type: %s", awsquery.Clip(t))
		}
		types = []string{t}
	}
	var res describeEventCategoriesResult
	for _, t := range types {
		res.EventCategoriesMapList.Items = append(res.EventCategoriesMapList.Items,
			xmlEventCategoriesMap{SourceType: t, EventCategories: rdsevent.Categories(t)})
	}
	return res, nil
}

type describeEventsResult struct {
	Events struct {
		Items []xmlEvent `xml:"Event"`
	} `xml:"Events"`
	Marker string `xml:"Marker,omitempty"`
	last   int64
}

type xmlEvent struct {
	SourceIdentifier string    `xml:"SourceIdentifier"`
	SourceType       string    `xml:"SourceType"`
	Message          string    `xml:"Message"`
	EventCategories  []string  `xml:"EventCategories>EventCategory"`
	Date             time.Time `xml:"Date"`
	SourceArn        string    `xml:"SourceArn,omitempty"`
}

type describeEventCategoriesResult struct {
	EventCategoriesMapList struct {
		Items []xmlEventCategoriesMap `xml:"EventCategoriesMap"`
	} `xml:"EventCategoriesMapList"`
}

type xmlEventCategoriesMap struct {
	SourceType      string   `xml:"SourceType"`
	EventCategories []string `xml:"EventCategories>EventCategory"`
}

// groupEvents reports a parameter group's changes, one event per parameter as RDS does,
// under the group's own source type.
func (s *Service) groupEvents(ctx context.Context, k groupKind, name string, changes []paramChange, reset, resetAll bool) {
	source := rdsevent.DBParameterGroup
	if k.store == store.ClusterParamGroup {
		source = rdsevent.DBClusterParameterGroup
	}
	now := s.cfg.Now()
	if resetAll {
		s.emit(ctx, rdsevent.ParametersResetAll.For(source).New(name, now))
		return
	}
	for _, c := range changes {
		if reset {
			s.emit(ctx, rdsevent.ParameterReset.For(source).New(name, now, c.name, c.method))
		} else {
			s.emit(ctx, rdsevent.ParameterUpdated.For(source).New(name, now, c.name, c.value, c.method))
		}
	}
}
