package rds

import (
	"context"
	"encoding/json"
	"encoding/xml"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/borealis-db/borealis/internal/awsquery"
	"github.com/borealis-db/borealis/internal/params"
	"github.com/borealis-db/borealis/internal/store"
)

const c1ARN = "arn:aws:rds:us-east-1:123456789012:cluster:c1"

// fixture is a service with something of everything: CAs, cluster c1 with its writer i1
// (available, started with the default groups), cluster group g1 and DB group g2.
func fixture(t *testing.T) *Service {
	t.Helper()
	s := newTestService(t)
	ctx := context.Background()
	withCAs(t, s)
	newCluster(t, s, "c1")
	setStatus(t, s, "c1", store.StatusAvailable)
	if _, err := s.Do(ctx, "CreateDBInstance", createInstanceQuery("i1", "c1")); err != nil {
		t.Fatal(err)
	}
	started(t, s, "i1")
	withSnapshot(t, s, "c1", "s1")
	for _, q := range []struct{ action, name string }{{"CreateDBClusterParameterGroup", "DBClusterParameterGroupName"}, {"CreateDBParameterGroup", "DBParameterGroupName"}} {
		g := map[string]string{"DBClusterParameterGroupName": "g1", "DBParameterGroupName": "g2"}[q.name]
		if _, err := s.Do(ctx, q.action, query(q.name, g, "DBParameterGroupFamily", params.Family, "Description", "d")); err != nil {
			t.Fatal(err)
		}
	}
	return s
}

// started does what the reconciler does once an instance's server runs: it records the
// groups and values the server started with, and makes the instance available.
func started(t *testing.T, s *Service, id string) {
	t.Helper()
	ctx := context.Background()
	in, err := s.store.Instance(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	c, err := s.store.Cluster(ctx, in.ClusterID)
	if err != nil {
		t.Fatal(err)
	}
	d, err := params.ForInstance(ctx, s.store, c, in)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.store.UpdateInstance(ctx, id, func(in *store.Instance) error {
		in.Status = store.StatusAvailable
		in.Started = &store.StartedParams{ClusterGroup: d.ClusterGroup, DBGroup: d.DBGroup, Values: d.Values}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
}

// snapshot is everything the API can change, to prove a refused request changed nothing.
func snapshot(t *testing.T, s *Service) string {
	t.Helper()
	ctx := context.Background()
	var all []any
	cs, err1 := s.store.Clusters(ctx)
	ins, err2 := s.store.Instances(ctx)
	cg, err3 := s.store.ParameterGroups(ctx, store.ClusterParamGroup)
	dg, err4 := s.store.ParameterGroups(ctx, store.DBParamGroup)
	sg, err5 := s.store.SubnetGroups(ctx)
	ca, override, err6 := s.store.DefaultCA(ctx)
	snaps, err7 := s.store.ClusterSnapshots(ctx)
	for _, err := range []error{err1, err2, err3, err4, err5, err6, err7} {
		if err != nil {
			t.Fatal(err)
		}
	}
	all = append(all, cs, ins, cg, dg, sg, ca, override, snaps)
	b, err := json.Marshal(all)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// validRequests holds, for every routed action, a request the fixture can serve (or
// refuse for a reason other than its members).
var validRequests = map[string][]string{
	"CreateDBCluster":                        clusterQuery("c2"),
	"DescribeDBClusters":                     nil,
	"ModifyDBCluster":                        {"DBClusterIdentifier", "c1", "DeletionProtection", "true"},
	"DeleteDBCluster":                        {"DBClusterIdentifier", "c1", "SkipFinalSnapshot", "true"},
	"RebootDBCluster":                        {"DBClusterIdentifier", "c1"},
	"FailoverDBCluster":                      {"DBClusterIdentifier", "c1"},
	"CreateDBInstance":                       {"DBInstanceIdentifier", "i2", "DBClusterIdentifier", "c1", "DBInstanceClass", "db.r6g.large", "Engine", Engine},
	"DescribeDBInstances":                    nil,
	"ModifyDBInstance":                       {"DBInstanceIdentifier", "i1", "DBParameterGroupName", "g2"},
	"DeleteDBInstance":                       {"DBInstanceIdentifier", "i1", "SkipFinalSnapshot", "true"},
	"RebootDBInstance":                       {"DBInstanceIdentifier", "i1"},
	"AddTagsToResource":                      {"ResourceName", c1ARN, "Tags.Tag.1.Key", "k", "Tags.Tag.1.Value", "v"},
	"RemoveTagsFromResource":                 {"ResourceName", c1ARN, "TagKeys.member.1", "k"},
	"ListTagsForResource":                    {"ResourceName", c1ARN},
	"CreateDBSubnetGroup":                    {"DBSubnetGroupName", "sg1", "DBSubnetGroupDescription", "d", "SubnetIds.SubnetIdentifier.1", "subnet-1"},
	"DescribeDBSubnetGroups":                 nil,
	"DeleteDBSubnetGroup":                    {"DBSubnetGroupName", "sg1"},
	"DescribeCertificates":                   nil,
	"ModifyCertificates":                     {"CertificateIdentifier", eccCA},
	"RestoreDBClusterToPointInTime":          {"DBClusterIdentifier", "c9", "SourceDBClusterIdentifier", "c1", "UseLatestRestorableTime", "true"},
	"RestoreDBClusterFromSnapshot":           {"DBClusterIdentifier", "c9", "SnapshotIdentifier", "s1", "Engine", Engine},
	"DescribeDBEngineVersions":               nil,
	"DescribeOrderableDBInstanceOptions":     {"Engine", Engine},
	"CreateDBClusterParameterGroup":          {"DBClusterParameterGroupName", "g3", "DBParameterGroupFamily", params.Family, "Description", "d"},
	"CreateDBParameterGroup":                 {"DBParameterGroupName", "g3", "DBParameterGroupFamily", params.Family, "Description", "d"},
	"CopyDBClusterParameterGroup":            {"SourceDBClusterParameterGroupIdentifier", "g1", "TargetDBClusterParameterGroupIdentifier", "g4", "TargetDBClusterParameterGroupDescription", "d"},
	"CopyDBParameterGroup":                   {"SourceDBParameterGroupIdentifier", "g2", "TargetDBParameterGroupIdentifier", "g4", "TargetDBParameterGroupDescription", "d"},
	"DescribeDBClusterParameterGroups":       nil,
	"DescribeDBParameterGroups":              nil,
	"ModifyDBClusterParameterGroup":          {"DBClusterParameterGroupName", "g1", "Parameters.Parameter.1.ParameterName", "log_statement", "Parameters.Parameter.1.ParameterValue", "all"},
	"ModifyDBParameterGroup":                 {"DBParameterGroupName", "g2", "Parameters.Parameter.1.ParameterName", "work_mem", "Parameters.Parameter.1.ParameterValue", "8192"},
	"ResetDBClusterParameterGroup":           {"DBClusterParameterGroupName", "g1", "ResetAllParameters", "true"},
	"ResetDBParameterGroup":                  {"DBParameterGroupName", "g2", "ResetAllParameters", "true"},
	"DeleteDBClusterParameterGroup":          {"DBClusterParameterGroupName", "g1"},
	"DeleteDBParameterGroup":                 {"DBParameterGroupName", "g2"},
	"DescribeDBClusterParameters":            {"DBClusterParameterGroupName", "g1"},
	"DescribeDBParameters":                   {"DBParameterGroupName", "g2"},
	"DescribeEngineDefaultClusterParameters": {"DBParameterGroupFamily", params.Family},
	"DescribeEngineDefaultParameters":        {"DBParameterGroupFamily", params.Family},
	"DescribeEvents":                         {"SourceType", "db-instance", "SourceIdentifier", "i1", "Duration", "60"},
	"DescribeEventCategories":                {"SourceType", "db-instance"},
	"DescribeDBLogFiles":                     {"DBInstanceIdentifier", "i1"},
	"DownloadDBLogFilePortion":               {"DBInstanceIdentifier", "i1", "LogFileName", "error/postgresql.log.2026-01-01-00"},
	"CreateDBClusterSnapshot":                {"DBClusterSnapshotIdentifier", "s2", "DBClusterIdentifier", "c1"},
	"DescribeDBClusterSnapshots":             nil,
	"DeleteDBClusterSnapshot":                {"DBClusterSnapshotIdentifier", "s1"},
	"CopyDBClusterSnapshot":                  {"SourceDBClusterSnapshotIdentifier", "s1", "TargetDBClusterSnapshotIdentifier", "s3"},
	"DescribeDBClusterSnapshotAttributes":    {"DBClusterSnapshotIdentifier", "s1"},
	"ModifyDBClusterSnapshotAttribute":       {"DBClusterSnapshotIdentifier", "s1", "AttributeName", "restore"},
}

func sortedActions() []string {
	var names []string
	for name := range actions {
		names = append(names, name)
	}
	sort.Strings(names)
	return names
}

// Do or refuse, for every action: a member the action does not declare, a declared member
// it does not carry out set to anything but its default, and a filter it does not apply
// are each refused with RDS's error, and change nothing.
func TestEveryActionRefusesWhatItDoesNotDo(t *testing.T) {
	ctx := context.Background()
	for _, name := range sortedActions() {
		a := actions[name]
		t.Run(name, func(t *testing.T) {
			if a.members == nil {
				t.Fatal("no member table")
			}
			base, ok := validRequests[name]
			if !ok {
				t.Fatal("no valid request in the test: add one")
			}
			if err := memberRules.Check(name, query(base...), a.members); err != nil {
				t.Fatalf("a valid request is refused: %v", err)
			}
			s := fixture(t)
			before := snapshot(t, s)
			refused := func(what string, kv []string, code, text string) {
				t.Helper()
				_, err := s.Do(ctx, name, query(append(append([]string{}, base...), kv...)...))
				e := awsquery.AsError(err)
				if e == nil || e.Code != code || e.Status != 400 || !strings.Contains(e.Message, text) {
					t.Errorf("%s %v: %v, want %s %q", what, kv, err, code, text)
				}
				if after := snapshot(t, s); after != before {
					t.Fatalf("%s %v: a refused request changed the state", what, kv)
				}
			}
			refused("unknown member", []string{"NoSuchMember", "1"}, "InvalidParameterCombination", name+" does not support NoSuchMember")
			refused("a member twice", []string{"Version", "2014-10-31", "Version", "2014-10-31"}, "InvalidParameterCombination", "Version is given more than once.")
			refused("unknown nested member", []string{"NoSuchList.member.1", "1"}, "InvalidParameterCombination", name+" does not support NoSuchList")
			for m, d := range a.members {
				switch {
				case d.IsFilters:
					refused("filter", []string{"Filters.Filter.1.Name", "no-such-filter", "Filters.Filter.1.Values.Value.1", "x"},
						"InvalidParameterValue", "Unrecognized filter name: no-such-filter")
					refused("filter after a gap", []string{"Filters.Filter.2.Name", "no-such-filter", "Filters.Filter.2.Values.Value.1", "x"},
						"InvalidParameterValue", "Filters must be numbered from 1")
				case d.Elem != "":
					entry := m + "." + d.Elem + ".7"
					if len(d.Fields) > 0 {
						refused("unknown field", []string{m + "." + d.Elem + ".1.Bogus", "x"}, "InvalidParameterCombination", "does not support "+m+"."+d.Elem+".1.Bogus")
						entry += "." + d.Fields[0]
					}
					refused("entry after a gap", []string{entry, "x"}, "InvalidParameterValue", "The entries of "+m+" must be numbered from 1 without gaps.")
					refused("other element name", []string{m + ".Bogus.1", "x"}, "InvalidParameterCombination", "does not support "+m+".Bogus.1")
					refused("entry 01", []string{m + "." + d.Elem + ".01", "x"}, "InvalidParameterCombination", "does not support "+m)
				default:
					refused("parts of a scalar", []string{m + ".1", "x"}, "InvalidParameterCombination", "does not support "+m+".1")
					if d.Why != "" {
						refused("member at no default", []string{m, "not-a-default"}, "InvalidParameterCombination", d.Why)
					}
				}
			}
		})
	}
}

// Every filter an action declares narrows its answer: none is declared and then ignored.
func TestEveryDeclaredFilterIsApplied(t *testing.T) {
	ctx := context.Background()
	s := fixture(t)
	answer := func(name string, kv ...string) string {
		t.Helper()
		out, err := s.Do(ctx, name, query(append(append([]string{}, validRequests[name]...), kv...)...))
		if err != nil {
			t.Fatalf("%s %v: %v", name, kv, err)
		}
		b, err := xml.Marshal(struct {
			XMLName xml.Name `xml:"Result"`
			Out     any
		}{Out: out})
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	n := 0
	for _, name := range sortedActions() {
		for _, f := range actions[name].members["Filters"].Filters {
			n++
			all := answer(name)
			none := answer(name, "Filters.Filter.1.Name", f, "Filters.Filter.1.Values.Value.1", "no-such-value")
			if none == all {
				t.Errorf("%s: filter %s does not narrow the answer", name, f)
			}
		}
	}
	if n < 10 {
		t.Fatalf("only %d filters declared", n)
	}
}

// Every member an action says it carries out is read somewhere in the package's code (a
// misspelt member name in a table would otherwise be accepted and ignored).
func TestDeclaredMembersAreRead(t *testing.T) {
	read := map[string]bool{}
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	fset := token.NewFileSet()
	for _, f := range files {
		// The tables themselves do not count as reading.
		if strings.HasSuffix(f, "_test.go") || f == "members.go" || f == "actions.go" {
			continue
		}
		src, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		file, err := parser.ParseFile(fset, f, src, 0)
		if err != nil {
			t.Fatal(err)
		}
		ast.Inspect(file, func(n ast.Node) bool {
			if lit, ok := n.(*ast.BasicLit); ok && lit.Kind == token.STRING {
				if v, err := strconv.Unquote(lit.Value); err == nil {
					read[v] = true
					if name, _, ok := strings.Cut(v, "."); ok {
						read[name] = true // "Tags.Tag.%d." reads Tags
					}
				}
			}
			return true
		})
	}
	for _, name := range sortedActions() {
		for m, d := range actions[name].members {
			// Only-default members and filters are carried out by the table itself.
			if d.Why == "" && !d.IsFilters && !read[m] {
				t.Errorf("%s declares %s (%+v), which no code reads", name, m, d)
			}
		}
	}
}
