package rds

import (
	"context"
	"log/slog"
	"path/filepath"
	"testing"

	"github.com/borealis-db/borealis/internal/awsquery"
	"github.com/borealis-db/borealis/internal/store"
)

func newTestService(t *testing.T) *Service {
	t.Helper()
	st, err := store.Open(context.Background(), filepath.Join(t.TempDir(), "state.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return New(Config{Region: "us-east-1", AccountID: "123456789012", EndpointDomain: "test", EndpointSuffix: "abc", EngineVersion: "15.4"},
		st, func() {}, slog.New(slog.DiscardHandler))
}

func query(kv ...string) awsquery.Params {
	p := awsquery.Params{Values: map[string][]string{}}
	for i := 0; i+1 < len(kv); i += 2 {
		p.Values[kv[i]] = append(p.Values[kv[i]], kv[i+1])
	}
	return p
}

// TestEveryRoutedActionHasAnIAMMapping walks the one table Do routes by: every action
// runs something and names at least one resource for IAM.
func TestEveryRoutedActionHasAnIAMMapping(t *testing.T) {
	s := newTestService(t)
	p := query("DBClusterIdentifier", "c1", "DBInstanceIdentifier", "i1", "DBClusterParameterGroupName", "g1",
		"DBParameterGroupName", "g2", "ResourceName", "arn:aws:rds:us-east-1:123456789012:cluster:c1",
		"SourceDBClusterParameterGroupIdentifier", "g1", "TargetDBClusterParameterGroupIdentifier", "g3",
		"SourceDBParameterGroupIdentifier", "g2", "TargetDBParameterGroupIdentifier", "g4")
	if len(actions) < 28 {
		t.Fatalf("only %d actions in the table", len(actions))
	}
	for name, a := range actions {
		if a.run == nil || a.resources == nil {
			t.Errorf("%s: run or resources missing", name)
			continue
		}
		res, _ := s.Authorization(context.Background(), name, p)
		if len(res) == 0 {
			t.Errorf("%s: no resource", name)
		}
		for _, r := range res {
			if r.ARN == "" {
				t.Errorf("%s: empty ARN", name)
			}
		}
	}
}

func TestActionsNameTheResourcesAWSDocuments(t *testing.T) {
	s := newTestService(t)
	arns := func(action string, kv ...string) []string {
		res, _ := s.Authorization(context.Background(), action, query(kv...))
		var out []string
		for _, r := range res {
			out = append(out, r.ARN)
		}
		return out
	}
	cases := []struct {
		action string
		kv     []string
		want   []string
	}{
		{"CreateDBInstance", []string{"DBInstanceIdentifier", "I1", "DBClusterIdentifier", "C1"},
			[]string{"arn:aws:rds:us-east-1:123456789012:db:i1", "arn:aws:rds:us-east-1:123456789012:cluster:c1"}},
		{"DescribeDBClusters", nil, []string{"*"}},
		{"DescribeDBClusters", []string{"DBClusterIdentifier", "c1"}, []string{"arn:aws:rds:us-east-1:123456789012:cluster:c1"}},
		{"DescribeDBInstances", nil, []string{"*"}},
		{"ModifyDBClusterParameterGroup", []string{"DBClusterParameterGroupName", "g1"}, []string{"arn:aws:rds:us-east-1:123456789012:cluster-pg:g1"}},
		{"DescribeDBParameters", []string{"DBParameterGroupName", "g2"}, []string{"arn:aws:rds:us-east-1:123456789012:pg:g2"}},
		{"DescribeEngineDefaultParameters", nil, []string{"*"}},
		{"NoSuchAction", nil, []string{"*"}},
	}
	for _, c := range cases {
		got := arns(c.action, c.kv...)
		if len(got) != len(c.want) {
			t.Errorf("%s: %v, want %v", c.action, got, c.want)
			continue
		}
		for i := range got {
			if got[i] != c.want[i] {
				t.Errorf("%s: %v, want %v", c.action, got, c.want)
			}
		}
	}
}
