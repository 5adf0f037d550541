package rds

import (
	"context"
	"encoding/xml"
	"strings"
	"testing"

	"github.com/borealis-db/borealis/internal/store"
)

// TestDescribeShowsWhyAnInstanceIsNotAvailable: the reason the reconciler keeps with a
// status it set reaches DescribeDBInstances as a DBInstanceStatusInfo; an instance with no
// reason has no StatusInfos element at all.
func TestDescribeShowsWhyAnInstanceIsNotAvailable(t *testing.T) {
	ctx := context.Background()
	s := newTestService(t)
	newCluster(t, s, "c1")
	if _, err := s.Do(ctx, "CreateDBInstance", createInstanceQuery("i1", "c1")); err != nil {
		t.Fatal(err)
	}
	describe := func() xmlInstance {
		t.Helper()
		out, err := s.Do(ctx, "DescribeDBInstances", query("DBInstanceIdentifier", "i1"))
		if err != nil {
			t.Fatal(err)
		}
		b, err := xml.Marshal(out)
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(string(b), "StatusInfos") != (out.(describeInstancesResult).DBInstances.Items[0].StatusInfos != nil) {
			t.Errorf("StatusInfos element and list disagree: %s", b)
		}
		return out.(describeInstancesResult).DBInstances.Items[0]
	}
	if x := describe(); x.StatusInfos != nil {
		t.Fatalf("StatusInfos without a reason: %+v", x.StatusInfos)
	}
	reason := "The database server cannot start with the values of its parameter groups (ssl_ciphers)."
	if _, err := s.store.UpdateInstance(ctx, "i1", func(in *store.Instance) error {
		in.Status, in.StatusReason = store.StatusIncompatibleParameters, reason
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	x := describe()
	want := xmlStatusInfo{StatusType: "instance", Normal: false, Status: "incompatible-parameters", Message: reason}
	if x.DBInstanceStatus != "incompatible-parameters" || x.StatusInfos == nil || len(x.StatusInfos.Items) != 1 || x.StatusInfos.Items[0] != want {
		t.Errorf("described %q %+v", x.DBInstanceStatus, x.StatusInfos)
	}
}
