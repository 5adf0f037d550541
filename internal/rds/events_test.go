package rds

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/borealis-db/borealis/internal/awsquery"
	"github.com/borealis-db/borealis/internal/rdsevent"
)

func describeEvents(t *testing.T, s *Service, kv ...string) describeEventsResult {
	t.Helper()
	out, err := s.Do(context.Background(), "DescribeEvents", query(kv...))
	if err != nil {
		t.Fatalf("DescribeEvents %v: %v", kv, err)
	}
	return out.(describeEventsResult)
}

func messages(r describeEventsResult) []string {
	var out []string
	for _, e := range r.Events.Items {
		out = append(out, e.SourceIdentifier+": "+e.Message)
	}
	return out
}

// TestDescribeEventsReportsParameterChanges: ModifyDBParameterGroup is one event per
// parameter under the group's source type, with its ARN; ModifyDBInstance naming a group
// is the instance's "Updated to use DBParameterGroup".
func TestDescribeEventsReportsParameterChanges(t *testing.T) {
	s := fixture(t)
	ctx := context.Background()
	if _, err := s.Do(ctx, "ModifyDBParameterGroup", query("DBParameterGroupName", "g2",
		"Parameters.Parameter.1.ParameterName", "work_mem", "Parameters.Parameter.1.ParameterValue", "8192", "Parameters.Parameter.1.ApplyMethod", "immediate")); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Do(ctx, "ModifyDBInstance", query("DBInstanceIdentifier", "i1", "DBParameterGroupName", "g2")); err != nil {
		t.Fatal(err)
	}
	r := describeEvents(t, s, "SourceType", "db-parameter-group", "SourceIdentifier", "G2")
	if got, want := messages(r), []string{"g2: Updated parameter work_mem to 8192 with apply method immediate"}; !slices.Equal(got, want) {
		t.Fatalf("group events %q, want %q", got, want)
	}
	if e := r.Events.Items[0]; e.SourceArn != "arn:aws:rds:us-east-1:123456789012:pg:g2" || e.SourceType != "db-parameter-group" || len(e.EventCategories) != 0 {
		t.Errorf("event %+v", e)
	}
	r = describeEvents(t, s, "SourceType", "db-instance", "SourceIdentifier", "i1", "EventCategories.EventCategory.1", "configuration change")
	if got, want := messages(r), []string{"i1: Updated to use DBParameterGroup g2"}; !slices.Equal(got, want) {
		t.Errorf("instance events %q, want %q", got, want)
	}
	if r := describeEvents(t, s, "SourceType", "db-instance", "EventCategories.EventCategory.1", "failure"); len(r.Events.Items) != 0 {
		t.Errorf("failure events: %q", messages(r))
	}
}

// TestDescribeEventsWindowAndPaging: the last 60 minutes by default, Duration and
// StartTime/EndTime as RDS reads them (the rds-describe-events manual), oldest first, MaxRecords pages with a Marker.
func TestDescribeEventsWindowAndPaging(t *testing.T) {
	s := newTestService(t)
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	s.cfg.Now = func() time.Time { return now }
	ctx := context.Background()
	add := func(id string, at time.Time) {
		if err := s.events.AddEvent(ctx, rdsevent.InstanceRestarted.New(id, at)); err != nil {
			t.Fatal(err)
		}
	}
	add("old", now.Add(-3*time.Hour))
	for i := range 45 {
		add(fmt.Sprintf("i%02d", i), now.Add(-30*time.Minute+time.Duration(i)*time.Second))
	}
	var got []string
	marker := ""
	for pages := 0; ; pages++ {
		kv := []string{"MaxRecords", "20"}
		if marker != "" {
			kv = append(kv, "Marker", marker)
		}
		r := describeEvents(t, s, kv...)
		if len(r.Events.Items) > 20 {
			t.Fatalf("page of %d", len(r.Events.Items))
		}
		got = append(got, messages(r)...)
		if marker = r.Marker; marker == "" {
			if pages != 2 {
				t.Errorf("%d pages, want 3", pages+1)
			}
			break
		}
	}
	if len(got) != 45 || got[0] != "i00: DB instance restarted" || got[44] != "i44: DB instance restarted" {
		t.Errorf("paged events: %d, %q ... %q", len(got), got[0], got[len(got)-1])
	}
	if r := describeEvents(t, s, "Duration", "240", "SourceType", "db-instance", "SourceIdentifier", "old"); len(r.Events.Items) != 1 {
		t.Errorf("Duration 240: %q", messages(r))
	}
	if r := describeEvents(t, s, "StartTime", "2026-03-01T08:30Z", "EndTime", "2026-03-01T09:30:00Z"); !slices.Equal(messages(r), []string{"old: DB instance restarted"}) {
		t.Errorf("StartTime/EndTime: %q", messages(r))
	}
	// Duration is ignored beside StartTime or EndTime; StartTime alone runs to now.
	if r := describeEvents(t, s, "StartTime", "2026-03-01T08:30:00Z", "Duration", "10"); len(r.Events.Items) != 46 {
		t.Errorf("StartTime and Duration 10: %d events", len(r.Events.Items))
	}
	if r := describeEvents(t, s, "EndTime", "2026-03-01T09:10:00Z", "Duration", "600"); !slices.Equal(messages(r), []string{"old: DB instance restarted"}) {
		t.Errorf("EndTime: %q", messages(r))
	}
}

// TestDescribeEventsRefusesWhatRDSRefuses: each bad request gets RDS's error.
func TestDescribeEventsRefusesWhatRDSRefuses(t *testing.T) {
	s := newTestService(t)
	ctx := context.Background()
	for _, c := range []struct {
		kv   []string
		code string
	}{
		{[]string{"SourceIdentifier", "i1"}, "InvalidParameterCombination"},
		{[]string{"SourceType", "db-table"}, "InvalidParameterValue"},
		{[]string{"MaxRecords", "10"}, "InvalidParameterValue"},
		{[]string{"MaxRecords", "101"}, "InvalidParameterValue"},
		{[]string{"Marker", "x"}, "InvalidParameterValue"},
		{[]string{"StartTime", "yesterday"}, "InvalidParameterValue"},
		{[]string{"StartTime", "2026-03-01T10:00:00Z", "EndTime", "2026-03-01T09:00:00Z"}, "InvalidParameterValue"},
		{[]string{"Duration", "-1"}, "InvalidParameterValue"},
		{[]string{"SourceType", "db-instance", "EventCategories.EventCategory.1", "backup"}, "InvalidParameterValue"},
		{[]string{"Filters.Filter.1.Name", "source-type", "Filters.Filter.1.Values.Value.1", "db-instance"}, "InvalidParameterValue"},
	} {
		_, err := s.Do(ctx, "DescribeEvents", query(c.kv...))
		if e := awsquery.AsError(err); e == nil || e.Code != c.code || e.Status != 400 {
			t.Errorf("%v: %v, want %s", c.kv, err, c.code)
		}
	}
	if _, err := s.Do(ctx, "DescribeEventCategories", query("SourceType", "db-table")); awsquery.AsError(err) == nil {
		t.Error("DescribeEventCategories accepted an unknown source type")
	}
}

// TestDescribeEventCategories lists each source type's categories, or one type's.
func TestDescribeEventCategories(t *testing.T) {
	s := newTestService(t)
	out, err := s.Do(context.Background(), "DescribeEventCategories", query())
	if err != nil {
		t.Fatal(err)
	}
	all := out.(describeEventCategoriesResult).EventCategoriesMapList.Items
	if len(all) != len(rdsevent.CategorySourceTypes) {
		t.Errorf("%d source types", len(all))
	}
	out, err = s.Do(context.Background(), "DescribeEventCategories", query("SourceType", "db-cluster"))
	if err != nil {
		t.Fatal(err)
	}
	one := out.(describeEventCategoriesResult).EventCategoriesMapList.Items
	if len(one) != 1 || one[0].SourceType != "db-cluster" || !slices.Contains(one[0].EventCategories, "failover") {
		t.Errorf("db-cluster: %+v", one)
	}
	// Every event Borealis emits is in its source type's categories.
	for _, k := range []rdsevent.Kind{rdsevent.ClusterCreated, rdsevent.ClusterDeleted, rdsevent.ClusterCreateFailed, rdsevent.FailoverStarted,
		rdsevent.FailoverCompleted, rdsevent.MasterReset, rdsevent.InstanceCreated, rdsevent.InstanceDeleted, rdsevent.InstanceRestarted,
		rdsevent.InstanceParamsChanged, rdsevent.InstanceParamsApplied, rdsevent.IncompatibleParams, rdsevent.IncompatibleNetwork,
		rdsevent.InstanceFailed, rdsevent.StorageExhausted, rdsevent.StorageRecovered} {
		if !slices.Contains(rdsevent.Categories(k.SourceType), k.Category) || !strings.HasPrefix(k.ID, "RDS-EVENT-") {
			t.Errorf("%s %q: category %q not among %s's", k.ID, k.Message, k.Category, k.SourceType)
		}
	}
}
