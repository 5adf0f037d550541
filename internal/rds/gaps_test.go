package rds

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/borealis-db/borealis/internal/iam/policy"
	"github.com/borealis-db/borealis/internal/params"
	"github.com/borealis-db/borealis/internal/store"
)

// Paging the parameter groups lists each group once, the default one included, even when
// the marker sorts before the default group's name.
func TestParameterGroupPagesListEachGroupOnce(t *testing.T) {
	s := newTestService(t)
	ctx := context.Background()
	for _, k := range []groupKind{clusterGroups, dbGroups} {
		var want []string
		for i := 0; i < 22; i++ {
			want = append(want, fmt.Sprintf("a-%02d", i))
		}
		want = append(want, params.DefaultGroup, "z-00", "z-01")
		for _, name := range want {
			if name == params.DefaultGroup {
				continue
			}
			if _, err := s.Do(ctx, "Create"+k.label, query(k.nameParam, name, "DBParameterGroupFamily", params.Family, "Description", "d")); err != nil {
				t.Fatal(err)
			}
		}
		var got []string
		marker := ""
		for page := 0; page < 10; page++ {
			q := query("MaxRecords", "20")
			if marker != "" {
				q = query("MaxRecords", "20", "Marker", marker)
			}
			out, err := s.Do(ctx, "Describe"+k.label+"s", q)
			if err != nil {
				t.Fatal(err)
			}
			v := out.(struct {
				Marker string `xml:"Marker,omitempty"`
				Groups xmlGroupList
			})
			for _, g := range v.Groups.items {
				got = append(got, g.Name)
			}
			if marker = v.Marker; marker == "" {
				break
			}
		}
		if !slices.Equal(got, want) {
			t.Errorf("%s pages list %v, want %v", k.label, got, want)
		}
	}
}

// ModifyDBInstance DBParameterGroupName: the instance names the new group at once, its
// parameters wait for the reboot (pending-reboot), as on RDS.
func TestModifyDBInstanceParameterGroup(t *testing.T) {
	s := fixture(t)
	ctx := context.Background()
	out, err := s.Do(ctx, "ModifyDBInstance", query("DBInstanceIdentifier", "I1", "DBParameterGroupName", "G2"))
	if err != nil {
		t.Fatal(err)
	}
	x := out.(instanceResult).DBInstance
	if g := x.DBParameterGroups[0]; g.DBParameterGroupName != "g2" || g.ParameterApplyStatus != "pending-reboot" {
		t.Errorf("after modify: %+v", g)
	}
	if store.Status(x.DBInstanceStatus) != store.StatusAvailable {
		t.Errorf("status %s: a group change does not take the instance down", x.DBInstanceStatus)
	}
	// The reboot applies it: the reconciler restarts the server with the new group.
	if _, err := s.Do(ctx, "RebootDBInstance", query("DBInstanceIdentifier", "i1")); err != nil {
		t.Fatal(err)
	}
	started(t, s, "i1")
	out, _ = s.Do(ctx, "DescribeDBInstances", query("DBInstanceIdentifier", "i1"))
	if g := out.(describeInstancesResult).DBInstances.Items[0].DBParameterGroups[0]; g.DBParameterGroupName != "g2" || g.ParameterApplyStatus != "in-sync" {
		t.Errorf("after reboot: %+v", g)
	}

	// Back to the default group, and refusals that change nothing.
	if out, err = s.Do(ctx, "ModifyDBInstance", query("DBInstanceIdentifier", "i1", "DBParameterGroupName", params.DefaultGroup)); err != nil {
		t.Fatal(err)
	}
	if g := out.(instanceResult).DBInstance.DBParameterGroups[0]; g.DBParameterGroupName != params.DefaultGroup || g.ParameterApplyStatus != "pending-reboot" {
		t.Errorf("back to the default: %+v", g)
	}
	before := snapshot(t, s)
	_, err = s.Do(ctx, "ModifyDBInstance", query("DBInstanceIdentifier", "i1", "DBParameterGroupName", "nope"))
	wantError(t, err, "DBParameterGroupNotFound", http.StatusNotFound)
	// A cluster parameter group is not a DB parameter group.
	_, err = s.Do(ctx, "ModifyDBInstance", query("DBInstanceIdentifier", "i1", "DBParameterGroupName", "g1"))
	wantError(t, err, "DBParameterGroupNotFound", http.StatusNotFound)
	if snapshot(t, s) != before {
		t.Fatal("a refused modify changed the state")
	}
}

// A group of another family cannot be given to an instance (none can be made through the
// API today; the check guards stores written otherwise).
func TestModifyDBInstanceRefusesAnotherFamily(t *testing.T) {
	s := fixture(t)
	ctx := context.Background()
	if err := s.store.CreateParameterGroup(ctx, store.ParameterGroup{Name: "old", Kind: store.DBParamGroup, Family: "aurora-postgresql14"}); err != nil {
		t.Fatal(err)
	}
	_, err := s.Do(ctx, "ModifyDBInstance", query("DBInstanceIdentifier", "i1", "DBParameterGroupName", "old"))
	wantError(t, err, "InvalidParameterCombination", http.StatusBadRequest)
	if in, _ := s.store.Instance(ctx, "i1"); in.ParameterGroup == "old" {
		t.Fatal("the instance took a group of another family")
	}
}

// rds:ModifyDBInstance is authorized on the DB parameter group too, as on RDS: a policy
// that keeps a user off pg:secret-* holds for the group an instance is moved to.
func TestModifyDBInstanceIsAuthorizedOnTheParameterGroup(t *testing.T) {
	s := fixture(t)
	const denySecret = `{"Version":"2012-10-17","Statement":[
	 {"Effect":"Allow","Action":"rds:*","Resource":"*"},
	 {"Effect":"Deny","Action":"rds:ModifyDBInstance","Resource":"arn:aws:rds:us-east-1:123456789012:pg:secret-*"}]}`
	for _, name := range []string{"secret-a", "SECRET-A"} {
		if d := decide(t, s, denySecret, "ModifyDBInstance", query("DBInstanceIdentifier", "i1", "DBParameterGroupName", name)); d == policy.Allow {
			t.Errorf("%s: allowed", name)
		}
	}
	if d := decide(t, s, denySecret, "ModifyDBInstance", query("DBInstanceIdentifier", "i1", "DBParameterGroupName", "g2")); d != policy.Allow {
		t.Errorf("g2: %s", d)
	}
}

// A copied group gets the tags asked for, which IAM saw as aws:RequestTag: a policy that
// requires a tag on new groups is then true of the group made.
func TestCopiedGroupGetsTheRequestTags(t *testing.T) {
	s := fixture(t)
	ctx := context.Background()
	if _, err := s.Do(ctx, "CopyDBParameterGroup", query("SourceDBParameterGroupIdentifier", "g2", "TargetDBParameterGroupIdentifier", "g5",
		"TargetDBParameterGroupDescription", "d", "Tags.Tag.1.Key", "team", "Tags.Tag.1.Value", "blue")); err != nil {
		t.Fatal(err)
	}
	g, err := s.store.ParameterGroup(ctx, store.DBParamGroup, "g5")
	if err != nil || len(g.Tags) != 1 || g.Tags[0] != (store.Tag{Key: "team", Value: "blue"}) {
		t.Fatalf("copy tags: %+v %v", g.Tags, err)
	}
}

// DescribeDBEngineVersions answers what Borealis runs, and what CreateDBCluster accepts.
func TestDescribeDBEngineVersions(t *testing.T) {
	s := newTestService(t) // runs 15.4
	ctx := context.Background()
	versions := func(kv ...string) []xmlEngineVersion {
		t.Helper()
		out, err := s.Do(ctx, "DescribeDBEngineVersions", query(kv...))
		if err != nil {
			t.Fatalf("%v: %v", kv, err)
		}
		return out.(describeEngineVersionsResult).DBEngineVersions.Items
	}
	all := versions()
	if len(all) != 1 || all[0].Engine != Engine || all[0].EngineVersion != "15.4" || all[0].DBParameterGroupFamily != params.Family ||
		all[0].MajorEngineVersion != "15" || all[0].Status != "available" {
		t.Fatalf("versions: %+v", all)
	}
	for _, kv := range [][]string{
		{"Engine", Engine}, {"Engine", Engine, "EngineVersion", "15.4"}, {"Engine", Engine, "EngineVersion", "15"},
		{"DBParameterGroupFamily", params.Family}, {"DefaultOnly", "true"},
		{"Filters.Filter.1.Name", "engine-version", "Filters.Filter.1.Values.Value.1", "15.4"},
	} {
		if len(versions(kv...)) != 1 {
			t.Errorf("%v: not listed", kv)
		}
		// What is listed is what CreateDBCluster accepts.
		if v := slices.Index(kv, "EngineVersion"); v >= 0 {
			if err := checkEngine(Engine, kv[v+1], s.cfg.EngineVersion); err != nil {
				t.Errorf("listed %s, refused by create: %v", kv[v+1], err)
			}
		}
	}
	for _, kv := range [][]string{
		{"Engine", "postgres"}, {"Engine", Engine, "EngineVersion", "15.3"}, {"Engine", Engine, "EngineVersion", "15.99"},
		{"Engine", Engine, "EngineVersion", "16"}, {"DBParameterGroupFamily", "aurora-postgresql16"},
	} {
		if got := versions(kv...); len(got) != 0 {
			t.Errorf("%v: lists %+v", kv, got)
		}
	}
	_, err := s.Do(ctx, "DescribeDBEngineVersions", query("ListSupportedCharacterSets", "true"))
	wantError(t, err, "InvalidParameterCombination", http.StatusBadRequest)
}

// DescribeOrderableDBInstanceOptions lists exactly the classes CreateDBInstance accepts,
// for the engine and version Borealis runs, in VPCs.
func TestDescribeOrderableDBInstanceOptions(t *testing.T) {
	s := newTestService(t)
	ctx := context.Background()
	var classes []string
	marker := ""
	for page := 0; page < 20; page++ {
		q := query("Engine", Engine, "MaxRecords", "20", "Marker", marker)
		out, err := s.Do(ctx, "DescribeOrderableDBInstanceOptions", q)
		if err != nil {
			t.Fatal(err)
		}
		r := out.(describeOrderableResult)
		for _, o := range r.OrderableDBInstanceOptions.Items {
			if o.Engine != Engine || o.EngineVersion != "15.4" || !o.Vpc || o.LicenseModel != "postgresql-license" {
				t.Errorf("option %+v", o)
			}
			classes = append(classes, o.DBInstanceClass)
		}
		if marker = r.Marker; marker == "" {
			break
		}
	}
	if !slices.Equal(classes, instanceClasses) {
		t.Errorf("listed %v", classes)
	}
	for _, c := range classes {
		if err := checkInstanceClass(c, "15.4"); err != nil {
			t.Errorf("listed %s, refused by create: %v", c, err)
		}
	}
	for _, kv := range [][]string{
		{"Engine", "postgres"}, {"Engine", Engine, "Vpc", "false"}, {"Engine", Engine, "EngineVersion", "15.3"},
		{"Engine", Engine, "DBInstanceClass", "db.m1.small"}, {"Engine", Engine, "LicenseModel", "bring-your-own-license"},
	} {
		out, err := s.Do(ctx, "DescribeOrderableDBInstanceOptions", query(kv...))
		if err != nil || len(out.(describeOrderableResult).OrderableDBInstanceOptions.Items) != 0 {
			t.Errorf("%v: %+v %v", kv, out, err)
		}
	}
	out, err := s.Do(ctx, "DescribeOrderableDBInstanceOptions", query("Engine", Engine, "DBInstanceClass", "db.t3.medium", "EngineVersion", "15"))
	if err != nil || len(out.(describeOrderableResult).OrderableDBInstanceOptions.Items) != 1 {
		t.Errorf("db.t3.medium: %+v %v", out, err)
	}
	_, err = s.Do(ctx, "DescribeOrderableDBInstanceOptions", query())
	wantError(t, err, "MissingParameter", http.StatusBadRequest)
	if _, err = s.Do(ctx, "DescribeOrderableDBInstanceOptions", query("Engine", Engine, "MaxRecords", "1001")); !strings.Contains(fmt.Sprint(err), "between 20 and 1000") {
		t.Errorf("MaxRecords 1001: %v", err)
	}
}

// The condition keys of the creates say what the new resource will be, whatever the
// request asks: a policy that requires encryption, Multi-AZ or a managed master password
// is not satisfied by Borealis, one that requires a VPC or RDS's own request-tag key is.
func TestCreateConditionKeysDescribeWhatWillBe(t *testing.T) {
	s := fixture(t)
	allowIf := func(cond string) string {
		return `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"rds:*","Resource":"*","Condition":` + cond + `}]}`
	}
	instance := createInstanceQuery("i2", "c1", "Tags.Tag.1.Key", "team", "Tags.Tag.1.Value", "blue")
	for cond, want := range map[string]policy.Decision{
		`{"Bool":{"rds:StorageEncrypted":"true"}}`:         policy.ImplicitDeny,
		`{"Bool":{"rds:MultiAz":"true"}}`:                  policy.ImplicitDeny,
		`{"Bool":{"rds:ManageMasterUserPassword":"true"}}`: policy.ImplicitDeny,
		`{"Bool":{"rds:Vpc":"true"}}`:                      policy.Allow,
		`{"StringEquals":{"rds:req-tag/team":"blue"}}`:     policy.Allow,
	} {
		if got := decide(t, s, allowIf(cond), "CreateDBInstance", instance); got != want {
			t.Errorf("CreateDBInstance %s: %s, want %s", cond, got, want)
		}
	}
	cluster := query(clusterQuery("c2", "ManageMasterUserPassword", "true", "Tags.Tag.1.Key", "team", "Tags.Tag.1.Value", "blue")...)
	if got := decide(t, s, allowIf(`{"Bool":{"rds:ManageMasterUserPassword":"true"}}`), "CreateDBCluster", cluster); got == policy.Allow {
		t.Error("CreateDBCluster: a request for a managed master password satisfied a policy requiring one")
	}
	if got := decide(t, s, allowIf(`{"StringEquals":{"rds:req-tag/team":"blue"}}`), "CreateDBCluster", cluster); got != policy.Allow {
		t.Errorf("CreateDBCluster rds:req-tag: %s", got)
	}
}

// Copy takes its source by name or by ARN; an ARN names a group of this region, account
// and kind only, never a local group of the same name.
func TestCopySourceARNNamesOnlyAGroupHere(t *testing.T) {
	s := fixture(t)
	ctx := context.Background()
	copyFrom := func(src, target string) error {
		_, err := s.Do(ctx, "CopyDBParameterGroup", query("SourceDBParameterGroupIdentifier", src,
			"TargetDBParameterGroupIdentifier", target, "TargetDBParameterGroupDescription", "d"))
		return err
	}
	for _, src := range []string{
		"arn:aws:rds:us-east-1:999999999999:pg:g2",         // another account
		"arn:aws:rds:eu-west-1:123456789012:pg:g2",         // another region
		"arn:aws:rds:us-east-1:123456789012:cluster-pg:g1", // a cluster group
		"arn:aws:rds:us-east-1:123456789012:db:g2",
	} {
		if err := copyFrom(src, "copy"); code(err) != "DBParameterGroupNotFound" {
			t.Errorf("%s: %v", src, err)
		}
	}
	if _, err := s.store.ParameterGroup(ctx, store.DBParamGroup, "copy"); err == nil {
		t.Fatal("a refused copy made a group")
	}
	if err := copyFrom("arn:aws:rds:us-east-1:123456789012:pg:G2", "copy"); err != nil {
		t.Fatal(err)
	}
}
