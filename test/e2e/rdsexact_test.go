package e2e

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/rds"
	rdstypes "github.com/aws/aws-sdk-go-v2/service/rds/types"
)

// The SDK's paginators list every parameter group once, the default group included, when
// the page breaks among names that sort before the default group's.
func TestParameterGroupPaginatorsListEachGroupOnce(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	c := shared.get(t).rds(t)
	const def = "default.aurora-postgresql15"
	var mine []string
	for i := 0; i < 21; i++ {
		name := fmt.Sprintf("aapage-%02d", i)
		mine = append(mine, name)
		if _, err := c.CreateDBClusterParameterGroup(ctx, &rds.CreateDBClusterParameterGroupInput{DBClusterParameterGroupName: aws.String(name),
			DBParameterGroupFamily: aws.String("aurora-postgresql15"), Description: aws.String("paging")}); err != nil {
			t.Fatal(err)
		}
		if _, err := c.CreateDBParameterGroup(ctx, &rds.CreateDBParameterGroupInput{DBParameterGroupName: aws.String(name),
			DBParameterGroupFamily: aws.String("aurora-postgresql15"), Description: aws.String("paging")}); err != nil {
			t.Fatal(err)
		}
	}
	check := func(kind string, names []string) {
		t.Helper()
		seen := map[string]int{}
		for _, n := range names {
			seen[n]++
		}
		for n, k := range seen {
			if k > 1 {
				t.Errorf("%s: %s listed %d times", kind, n, k)
			}
		}
		for _, n := range append([]string{def}, mine...) {
			if seen[n] != 1 {
				t.Errorf("%s: %s listed %d times", kind, n, seen[n])
			}
		}
		if !slices.IsSorted(names) {
			t.Errorf("%s: not in name order: %v", kind, names)
		}
	}

	var cluster []string
	pc := rds.NewDescribeDBClusterParameterGroupsPaginator(c, &rds.DescribeDBClusterParameterGroupsInput{MaxRecords: aws.Int32(20)})
	for pages := 0; pc.HasMorePages(); pages++ {
		out, err := pc.NextPage(ctx)
		if err != nil || pages > 10 {
			t.Fatalf("page %d: %v", pages, err)
		}
		for _, g := range out.DBClusterParameterGroups {
			cluster = append(cluster, aws.ToString(g.DBClusterParameterGroupName))
		}
	}
	check("DescribeDBClusterParameterGroups", cluster)

	var db []string
	pd := rds.NewDescribeDBParameterGroupsPaginator(c, &rds.DescribeDBParameterGroupsInput{MaxRecords: aws.Int32(20)})
	for pages := 0; pd.HasMorePages(); pages++ {
		out, err := pd.NextPage(ctx)
		if err != nil || pages > 10 {
			t.Fatalf("page %d: %v", pages, err)
		}
		for _, g := range out.DBParameterGroups {
			db = append(db, aws.ToString(g.DBParameterGroupName))
		}
	}
	check("DescribeDBParameterGroups", db)

	// Filters RDS does not support for these describes are refused, not ignored.
	_, err := c.DescribeDBParameterGroups(ctx, &rds.DescribeDBParameterGroupsInput{
		Filters: []rdstypes.Filter{{Name: aws.String("db-parameter-group-family"), Values: []string{"aurora-postgresql14"}}}})
	if code, status := apiError(t, err); code != "InvalidParameterValue" || status != 400 || !strings.Contains(err.Error(), "Unrecognized filter name") {
		t.Errorf("filter: %s/%d %v", code, status, err)
	}
}

// DescribeDBEngineVersions and DescribeOrderableDBInstanceOptions answer what this Borealis
// runs, through the SDK's own paginators, and what they list is what CreateDBInstance takes.
func TestEngineVersionsAndOrderableOptions(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	c := shared.get(t).rds(t)
	v, err := c.DescribeDBEngineVersions(ctx, &rds.DescribeDBEngineVersionsInput{Engine: aws.String("aurora-postgresql"), DefaultOnly: aws.Bool(true)})
	if err != nil || len(v.DBEngineVersions) != 1 {
		t.Fatalf("versions: %+v %v", v, err)
	}
	ev := v.DBEngineVersions[0]
	version := aws.ToString(ev.EngineVersion)
	if aws.ToString(ev.Engine) != "aurora-postgresql" || aws.ToString(ev.DBParameterGroupFamily) != "aurora-postgresql15" ||
		!strings.HasPrefix(version, "15.") || aws.ToString(ev.MajorEngineVersion) != "15" || aws.ToString(ev.Status) != "available" ||
		!slices.Equal(ev.SupportedEngineModes, []string{"provisioned"}) {
		t.Errorf("engine version %+v", ev)
	}
	// The version listed is the one clusters run.
	out, err := c.DescribeDBClusters(ctx, &rds.DescribeDBClustersInput{})
	if err != nil {
		t.Fatal(err)
	}
	for _, cl := range out.DBClusters {
		if got := aws.ToString(cl.EngineVersion); got != version {
			t.Errorf("cluster %s runs %s, DescribeDBEngineVersions lists %s", aws.ToString(cl.DBClusterIdentifier), got, version)
		}
	}
	other, err := c.DescribeDBEngineVersions(ctx, &rds.DescribeDBEngineVersionsInput{Engine: aws.String("aurora-postgresql"), EngineVersion: aws.String("15.99")})
	if err != nil || len(other.DBEngineVersions) != 0 {
		t.Errorf("15.99: %+v %v", other, err)
	}
	_, err = c.DescribeDBEngineVersions(ctx, &rds.DescribeDBEngineVersionsInput{ListSupportedCharacterSets: aws.Bool(true)})
	if code, _ := apiError(t, err); code != "InvalidParameterCombination" {
		t.Errorf("ListSupportedCharacterSets: %s", code)
	}

	var classes []string
	p := rds.NewDescribeOrderableDBInstanceOptionsPaginator(c, &rds.DescribeOrderableDBInstanceOptionsInput{
		Engine: aws.String("aurora-postgresql"), EngineVersion: aws.String(version), MaxRecords: aws.Int32(40)})
	for pages := 0; p.HasMorePages(); pages++ {
		page, err := p.NextPage(ctx)
		if err != nil || pages > 10 {
			t.Fatalf("page %d: %v", pages, err)
		}
		for _, o := range page.OrderableDBInstanceOptions {
			if aws.ToString(o.EngineVersion) != version || !aws.ToBool(o.Vpc) || aws.ToString(o.StorageType) != "aurora" {
				t.Errorf("option %+v", o)
			}
			classes = append(classes, aws.ToString(o.DBInstanceClass))
		}
	}
	if len(classes) < 40 || !slices.Contains(classes, "db.r6g.large") || !slices.Contains(classes, "db.t3.medium") || slices.Contains(classes, "db.m5.large") {
		t.Errorf("classes %v", classes)
	}
	// A class not listed is refused by CreateDBInstance.
	_, err = c.CreateDBInstance(ctx, &rds.CreateDBInstanceInput{DBInstanceIdentifier: aws.String("orderable-x"), DBClusterIdentifier: aws.String("orderable-none"),
		DBInstanceClass: aws.String("db.m5.large"), Engine: aws.String("aurora-postgresql")})
	if code, _ := apiError(t, err); code != "InvalidParameterCombination" {
		t.Errorf("unlisted class: %s", code)
	}
}

// ModifyDBInstance DBParameterGroupName as on RDS: the instance names the group at once,
// its values reach PostgreSQL at the reboot (pending-reboot until then, in-sync after).
func TestModifyDBInstanceParameterGroupAppliesAtReboot(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	srv := shared.get(t)
	c := srv.rds(t)
	if _, err := c.CreateDBParameterGroup(ctx, &rds.CreateDBParameterGroupInput{DBParameterGroupName: aws.String("swap-db"),
		DBParameterGroupFamily: aws.String("aurora-postgresql15"), Description: aws.String("swap")}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.ModifyDBParameterGroup(ctx, &rds.ModifyDBParameterGroupInput{DBParameterGroupName: aws.String("swap-db"),
		Parameters: []rdstypes.Parameter{param("max_connections", "42", rdstypes.ApplyMethodPendingReboot), param("work_mem", "6144", rdstypes.ApplyMethodImmediate)}}); err != nil {
		t.Fatal(err)
	}
	desc, instanceID := createCluster(ctx, t, c, "pgswap", "master1", "Master-pass1", "")
	endpoint, port := aws.ToString(desc.DBClusters[0].Endpoint), aws.ToInt32(desc.DBClusters[0].Port)
	conn := srv.connect(ctx, t, endpoint, port, "master1", "Master-pass1", "postgres")
	before := show(ctx, t, conn, "max_connections")

	_, err := c.ModifyDBInstance(ctx, &rds.ModifyDBInstanceInput{DBInstanceIdentifier: aws.String(instanceID), DBParameterGroupName: aws.String("no-such-group")})
	if code, status := apiError(t, err); code != "DBParameterGroupNotFound" || status != 404 {
		t.Errorf("unknown group: %s/%d", code, status)
	}
	out, err := c.ModifyDBInstance(ctx, &rds.ModifyDBInstanceInput{DBInstanceIdentifier: aws.String(instanceID), DBParameterGroupName: aws.String("SWAP-DB")})
	if err != nil {
		t.Fatal(err)
	}
	if g := out.DBInstance.DBParameterGroups[0]; aws.ToString(g.DBParameterGroupName) != "swap-db" || aws.ToString(g.ParameterApplyStatus) != "pending-reboot" {
		t.Errorf("modify answers %s %s", aws.ToString(g.DBParameterGroupName), aws.ToString(g.ParameterApplyStatus))
	}
	if got := instanceApplyStatus(ctx, t, c, instanceID); got != "pending-reboot" {
		t.Errorf("ParameterApplyStatus %q before the reboot", got)
	}
	if got := show(ctx, t, conn, "max_connections"); got != before {
		t.Errorf("max_connections changed before the reboot: %s", got)
	}
	conn.Close(ctx)
	reboot(ctx, t, c, instanceID)
	if got := instanceApplyStatus(ctx, t, c, instanceID); got != "in-sync" {
		t.Errorf("ParameterApplyStatus %q after the reboot", got)
	}
	conn = srv.connect(ctx, t, endpoint, port, "master1", "Master-pass1", "postgres")
	defer conn.Close(ctx)
	if got := show(ctx, t, conn, "max_connections"); got != "42" {
		t.Errorf("max_connections after the reboot = %s, want 42", got)
	}
	if got := show(ctx, t, conn, "work_mem"); got != "6MB" {
		t.Errorf("work_mem after the reboot = %s, want 6MB", got)
	}
	// The group is in use now.
	_, err = c.DeleteDBParameterGroup(ctx, &rds.DeleteDBParameterGroupInput{DBParameterGroupName: aws.String("swap-db")})
	if code, _ := apiError(t, err); code != "InvalidDBParameterGroupState" {
		t.Errorf("delete a group in use: %s", code)
	}
	conn.Close(ctx)
	deleteCluster(ctx, t, c, "pgswap", instanceID)
}

// A parameter as DescribeDBClusterParameters returns it (with its description, type and
// engine modes) can be fed back to ModifyDBClusterParameterGroup, as scripts do on RDS: the
// descriptive fields change nothing, the value is set.
func TestDescribedParameterFedBackToModify(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	c := shared.get(t).rds(t)
	newClusterGroup(ctx, t, c, "fedback")
	ps := clusterParams(ctx, t, c, "fedback")
	p := findParam(t, ps, "log_statement")
	if p.Description == nil || p.DataType == nil || p.Source == nil {
		t.Fatalf("described parameter lacks fields: %+v", p)
	}
	p.SupportedEngineModes = []string{"provisioned"}
	p.ParameterValue, p.ApplyMethod = aws.String("ddl"), rdstypes.ApplyMethodImmediate
	if _, err := c.ModifyDBClusterParameterGroup(ctx, &rds.ModifyDBClusterParameterGroupInput{DBClusterParameterGroupName: aws.String("fedback"),
		Parameters: []rdstypes.Parameter{p}}); err != nil {
		t.Fatal(err)
	}
	if got := findParam(t, clusterParams(ctx, t, c, "fedback"), "log_statement"); aws.ToString(got.ParameterValue) != "ddl" || aws.ToString(got.Source) != "user" {
		t.Errorf("after modify: %+v", got)
	}
}
