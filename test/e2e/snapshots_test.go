package e2e

import (
	"context"
	"fmt"
	"net"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/rds"
	"github.com/aws/aws-sdk-go-v2/service/rds/types"
)

func waitSnapOpts(o *rds.DBClusterSnapshotAvailableWaiterOptions) {
	o.MinDelay, o.MaxDelay = 200*time.Millisecond, time.Second
}

// snapshotOf describes one snapshot.
func snapshotOf(ctx context.Context, t *testing.T, c *rds.Client, id string) types.DBClusterSnapshot {
	t.Helper()
	out, err := c.DescribeDBClusterSnapshots(ctx, &rds.DescribeDBClusterSnapshotsInput{DBClusterSnapshotIdentifier: aws.String(id)})
	if err != nil {
		t.Fatalf("DescribeDBClusterSnapshots %s: %v", id, err)
	}
	if len(out.DBClusterSnapshots) != 1 {
		t.Fatalf("%s: %d snapshots", id, len(out.DBClusterSnapshots))
	}
	return out.DBClusterSnapshots[0]
}

// waitSnapshot waits until snapshot id is available.
func waitSnapshot(ctx context.Context, t *testing.T, c *rds.Client, id string) types.DBClusterSnapshot {
	t.Helper()
	if err := rds.NewDBClusterSnapshotAvailableWaiter(c, waitSnapOpts).Wait(ctx,
		&rds.DescribeDBClusterSnapshotsInput{DBClusterSnapshotIdentifier: aws.String(id)}, 4*time.Minute); err != nil {
		t.Fatalf("wait snapshot %s available: %v", id, err)
	}
	return snapshotOf(ctx, t, c, id)
}

// A manual snapshot, then the cluster deleted with a final snapshot once its writer is
// gone: both are listed, with the cluster's facts, after the cluster itself is gone; a
// copy carries the tags asked for and names its source; deleted snapshots go. The cluster
// copies its tags to snapshots: the automated and the final snapshot carry them, the
// manual one asked with tags of its own only those.
func TestClusterSnapshotsOutliveTheirCluster(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	srv := shared.get(t)
	c := srv.rds(t)
	desc, writer := createCluster(ctx, t, c, "snapsrc", "snapowner", "Snap-pass-1", "app", func(in *rds.CreateDBClusterInput) {
		in.EnableIAMDatabaseAuthentication = aws.Bool(true)
		in.CopyTagsToSnapshot = aws.Bool(true)
		in.Tags = []types.Tag{{Key: aws.String("cost-center"), Value: aws.String("cc-7")}}
	})
	cl := desc.DBClusters[0]
	if !aws.ToBool(cl.CopyTagsToSnapshot) {
		t.Fatal("DescribeDBClusters: CopyTagsToSnapshot false on a cluster created with it")
	}
	copiedTag := func(what string, tags []types.Tag) {
		t.Helper()
		if len(tags) != 1 || aws.ToString(tags[0].Key) != "cost-center" || aws.ToString(tags[0].Value) != "cc-7" {
			t.Errorf("%s: tags %v, want the cluster's cost-center=cc-7", what, tags)
		}
	}
	conn := srv.connect(ctx, t, aws.ToString(cl.Endpoint), aws.ToInt32(cl.Port), "snapowner", "Snap-pass-1", "app")
	if _, err := conn.Exec(ctx, `CREATE TABLE notes (n int); INSERT INTO notes SELECT generate_series(1, 3); CREATE ROLE app_iam LOGIN; GRANT rds_iam TO app_iam`); err != nil {
		t.Fatal(err)
	}

	out, err := c.CreateDBClusterSnapshot(ctx, &rds.CreateDBClusterSnapshotInput{
		DBClusterIdentifier: aws.String("SnapSrc"), DBClusterSnapshotIdentifier: aws.String("Snap-Manual"),
		Tags: []types.Tag{{Key: aws.String("team"), Value: aws.String("data")}},
	})
	if err != nil {
		t.Fatalf("CreateDBClusterSnapshot: %v", err)
	}
	if s := out.DBClusterSnapshot; aws.ToString(s.Status) != "creating" || aws.ToString(s.DBClusterSnapshotIdentifier) != "snap-manual" {
		t.Fatalf("new snapshot: %s %s", aws.ToString(s.Status), aws.ToString(s.DBClusterSnapshotIdentifier))
	}
	_, err = c.CreateDBClusterSnapshot(ctx, &rds.CreateDBClusterSnapshotInput{DBClusterIdentifier: aws.String("snapsrc"), DBClusterSnapshotIdentifier: aws.String("snap-manual")})
	if code, status := apiError(t, err); code != "DBClusterSnapshotAlreadyExistsFault" || status != 400 {
		t.Fatalf("same name again: %s %d", code, status)
	}
	manual := waitSnapshot(ctx, t, c, "snap-manual")
	if _, err := conn.Exec(ctx, `INSERT INTO notes VALUES (4), (5)`); err != nil {
		t.Fatal(err)
	}
	conn.Close(ctx)

	check := func(s types.DBClusterSnapshot, id string) {
		t.Helper()
		checks := map[string]struct{ got, want any }{
			"identifier":   {aws.ToString(s.DBClusterSnapshotIdentifier), id},
			"cluster":      {aws.ToString(s.DBClusterIdentifier), "snapsrc"},
			"type":         {aws.ToString(s.SnapshotType), "manual"},
			"status":       {aws.ToString(s.Status), "available"},
			"progress":     {aws.ToInt32(s.PercentProgress), int32(100)},
			"engine":       {aws.ToString(s.Engine), "aurora-postgresql"},
			"version":      {aws.ToString(s.EngineVersion), aws.ToString(cl.EngineVersion)},
			"port":         {aws.ToInt32(s.Port), aws.ToInt32(cl.Port)},
			"master":       {aws.ToString(s.MasterUsername), "snapowner"},
			"vpc":          {aws.ToString(s.VpcId) != "", true},
			"storage":      {aws.ToInt32(s.AllocatedStorage), aws.ToInt32(cl.AllocatedStorage)},
			"encrypted":    {aws.ToBool(s.StorageEncrypted), false},
			"iam auth":     {aws.ToBool(s.IAMDatabaseAuthenticationEnabled), true},
			"resource id":  {aws.ToString(s.DbClusterResourceId), aws.ToString(cl.DbClusterResourceId)},
			"cluster time": {aws.ToTime(s.ClusterCreateTime).Equal(aws.ToTime(cl.ClusterCreateTime)), true},
			"arn":          {strings.HasSuffix(aws.ToString(s.DBClusterSnapshotArn), ":cluster-snapshot:"+id), true},
			"taken":        {s.SnapshotCreateTime != nil && !aws.ToTime(s.SnapshotCreateTime).Before(aws.ToTime(cl.ClusterCreateTime)), true},
		}
		for what, c := range checks {
			if c.got != c.want {
				t.Errorf("%s: %s = %v, want %v", id, what, c.got, c.want)
			}
		}
	}
	check(manual, "snap-manual")
	tags, err := c.ListTagsForResource(ctx, &rds.ListTagsForResourceInput{ResourceName: manual.DBClusterSnapshotArn})
	if err != nil || len(tags.TagList) != 1 || aws.ToString(tags.TagList[0].Key) != "team" {
		t.Fatalf("tags of the snapshot: %v %v", tags, err)
	}

	cp, err := c.CopyDBClusterSnapshot(ctx, &rds.CopyDBClusterSnapshotInput{
		SourceDBClusterSnapshotIdentifier: aws.String("snap-manual"), TargetDBClusterSnapshotIdentifier: aws.String("snap-copy"),
		CopyTags: aws.Bool(true), Tags: []types.Tag{{Key: aws.String("copy"), Value: aws.String("yes")}},
	})
	if err != nil {
		t.Fatalf("CopyDBClusterSnapshot: %v", err)
	}
	if aws.ToString(cp.DBClusterSnapshot.SourceDBClusterSnapshotArn) != aws.ToString(manual.DBClusterSnapshotArn) {
		t.Errorf("copy's source %q", aws.ToString(cp.DBClusterSnapshot.SourceDBClusterSnapshotArn))
	}
	copied := waitSnapshot(ctx, t, c, "snap-copy")
	check(copied, "snap-copy")
	if len(copied.TagList) != 2 {
		t.Errorf("copy's tags: %v", copied.TagList)
	}

	// The automated backups are listed as automated snapshots, named as RDS names them, and
	// found by name with SnapshotType automated only.
	var auto types.DBClusterSnapshot
	eventually(t, 3*time.Minute, "an automated snapshot of snapsrc", func() (bool, error) {
		out, err := c.DescribeDBClusterSnapshots(ctx, &rds.DescribeDBClusterSnapshotsInput{DBClusterIdentifier: aws.String("snapsrc"), SnapshotType: aws.String("automated")})
		if err != nil || len(out.DBClusterSnapshots) == 0 {
			return false, err
		}
		auto = out.DBClusterSnapshots[0]
		return true, nil
	})
	if name := aws.ToString(auto.DBClusterSnapshotIdentifier); !regexp.MustCompile(`^rds:snapsrc-\d{4}-\d\d-\d\d-\d\d-\d\d$`).MatchString(name) ||
		aws.ToString(auto.Status) != "available" || aws.ToString(auto.SnapshotType) != "automated" {
		t.Errorf("automated snapshot %s: %s %s", name, aws.ToString(auto.Status), aws.ToString(auto.SnapshotType))
	}
	copiedTag("automated snapshot", auto.TagList)
	if lt, err := c.ListTagsForResource(ctx, &rds.ListTagsForResourceInput{ResourceName: auto.DBClusterSnapshotArn}); err != nil {
		t.Errorf("ListTagsForResource of the automated snapshot: %v", err)
	} else {
		copiedTag("automated snapshot's ListTagsForResource", lt.TagList)
	}
	// RDS's backup events: the manual snapshot's, and the automated one's under its name.
	waitEvent(ctx, t, c, types.SourceTypeDbClusterSnapshot, "snap-manual", "Creating manual cluster snapshot")
	waitEvent(ctx, t, c, types.SourceTypeDbClusterSnapshot, "snap-manual", "Manual cluster snapshot created")
	waitEvent(ctx, t, c, types.SourceTypeDbClusterSnapshot, aws.ToString(auto.DBClusterSnapshotIdentifier), "Automated cluster snapshot created")
	_, err = c.DescribeDBClusterSnapshots(ctx, &rds.DescribeDBClusterSnapshotsInput{DBClusterSnapshotIdentifier: auto.DBClusterSnapshotIdentifier})
	if code, _ := apiError(t, err); code != "DBClusterSnapshotNotFoundFault" {
		t.Errorf("an automated snapshot by name without SnapshotType: %s", code)
	}
	_, err = c.DeleteDBClusterSnapshot(ctx, &rds.DeleteDBClusterSnapshotInput{DBClusterSnapshotIdentifier: auto.DBClusterSnapshotIdentifier})
	if code, _ := apiError(t, err); code != "InvalidDBClusterSnapshotStateFault" {
		t.Errorf("deleting an automated snapshot: %s", code)
	}

	// The writer goes first, as on RDS; the final snapshot is then made from the volume.
	if _, err := c.DeleteDBInstance(ctx, &rds.DeleteDBInstanceInput{DBInstanceIdentifier: aws.String(writer)}); err != nil {
		t.Fatal(err)
	}
	if err := rds.NewDBInstanceDeletedWaiter(c, waitDelOpts).Wait(ctx, &rds.DescribeDBInstancesInput{DBInstanceIdentifier: aws.String(writer)}, 2*time.Minute); err != nil {
		t.Fatal(err)
	}
	_, err = c.DeleteDBCluster(ctx, &rds.DeleteDBClusterInput{DBClusterIdentifier: aws.String("snapsrc")})
	if code, _ := apiError(t, err); code != "InvalidParameterCombination" {
		t.Fatalf("delete without SkipFinalSnapshot nor FinalDBSnapshotIdentifier: %s", code)
	}
	if _, err := c.DeleteDBCluster(ctx, &rds.DeleteDBClusterInput{DBClusterIdentifier: aws.String("snapsrc"), FinalDBSnapshotIdentifier: aws.String("snap-final")}); err != nil {
		t.Fatalf("DeleteDBCluster with a final snapshot: %v", err)
	}
	final := waitSnapshot(ctx, t, c, "snap-final")
	check(final, "snap-final")
	copiedTag("final snapshot", final.TagList)
	eventually(t, 2*time.Minute, "cluster gone", func() (bool, error) {
		_, err := c.DescribeDBClusters(ctx, &rds.DescribeDBClustersInput{DBClusterIdentifier: aws.String("snapsrc")})
		return err != nil && strings.Contains(err.Error(), "DBClusterNotFoundFault"), err
	})

	// Listed by the deleted cluster's name, every one once, across pages.
	var ids []string
	p := rds.NewDescribeDBClusterSnapshotsPaginator(c, &rds.DescribeDBClusterSnapshotsInput{DBClusterIdentifier: aws.String("snapsrc"), SnapshotType: aws.String("manual"), MaxRecords: aws.Int32(20)})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range page.DBClusterSnapshots {
			ids = append(ids, aws.ToString(s.DBClusterSnapshotIdentifier))
		}
	}
	if fmt.Sprint(ids) != "[snap-copy snap-final snap-manual]" {
		t.Fatalf("snapshots of the deleted cluster: %v", ids)
	}
	// Its automated backups went with it (Aurora's default, DeleteAutomatedBackups true).
	if out, err := c.DescribeDBClusterSnapshots(ctx, &rds.DescribeDBClusterSnapshotsInput{DBClusterIdentifier: aws.String("snapsrc"), SnapshotType: aws.String("automated")}); err != nil || len(out.DBClusterSnapshots) != 0 {
		t.Errorf("automated snapshots of the deleted cluster: %v %v", out, err)
	}

	// Restored from each, a new cluster holds the data as it was at the snapshot (and IAM
	// database authentication only where the restore enables it, RDS's default being off).
	for _, r := range []struct {
		snapshot, cluster string
		want              int
		iamAuth           bool
	}{{"snap-manual", "snaprest-m", 3, true}, {"snap-final", "snaprest-f", 5, true}, {"snap-copy", "snaprest-c", 3, false}} {
		if got := restoredRows(ctx, t, srv, c, cl, r.snapshot, r.cluster, r.iamAuth); got != r.want {
			t.Errorf("restored from %s: %d rows, want %d", r.snapshot, got, r.want)
		}
	}

	if _, err := c.DeleteDBClusterSnapshot(ctx, &rds.DeleteDBClusterSnapshotInput{DBClusterSnapshotIdentifier: aws.String("snap-copy")}); err != nil {
		t.Fatal(err)
	}
	eventually(t, time.Minute, "copy gone", func() (bool, error) {
		_, err := c.DescribeDBClusterSnapshots(ctx, &rds.DescribeDBClusterSnapshotsInput{DBClusterSnapshotIdentifier: aws.String("snap-copy")})
		return err != nil && strings.Contains(err.Error(), "DBClusterSnapshotNotFoundFault"), err
	})
}

// A narrow IAM user: may snapshot cluster A (into snapshots named a-*) and describe
// snapshots, but not snapshot another cluster, nor delete or copy a snapshot; and, not
// being allowed to tag, not snapshot A once A copies its tags to snapshots.
func TestClusterSnapshotIAM(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	srv := shared.get(t)
	c := srv.rds(t)
	createCluster(ctx, t, c, "snapiam-a", "iamowner", "Snap-pass-2", "")
	acct := strings.Split(aws.ToString(mustCluster(ctx, t, c, "snapiam-a").DBClusterArn), ":")[4]
	arn := "arn:aws:rds:us-east-1:" + acct + ":"
	policy := `{"Version":"2012-10-17","Statement":[
	 {"Effect":"Allow","Action":"rds:CreateDBClusterSnapshot","Resource":["` + arn + `cluster:snapiam-a","` + arn + `cluster-snapshot:a-*"]},
	 {"Effect":"Allow","Action":"rds:DescribeDBClusterSnapshots","Resource":"*"}]}`
	id, secret := newUser(ctx, t, srv.iam(t), "snapshot-taker", nil, map[string]string{"snap": policy})
	u := srv.rdsAs(id, secret, "")

	if _, err := u.CreateDBClusterSnapshot(ctx, &rds.CreateDBClusterSnapshotInput{DBClusterIdentifier: aws.String("SNAPIAM-A"), DBClusterSnapshotIdentifier: aws.String("a-1")}); err != nil {
		t.Fatalf("the user may snapshot cluster A: %v", err)
	}
	_, err := u.CreateDBClusterSnapshot(ctx, &rds.CreateDBClusterSnapshotInput{DBClusterIdentifier: aws.String("snapiam-b"), DBClusterSnapshotIdentifier: aws.String("a-2")})
	denied(t, err, "rds:CreateDBClusterSnapshot", "no identity-based policy allows")
	_, err = u.CreateDBClusterSnapshot(ctx, &rds.CreateDBClusterSnapshotInput{DBClusterIdentifier: aws.String("snapiam-a"), DBClusterSnapshotIdentifier: aws.String("b-1")})
	denied(t, err, "rds:CreateDBClusterSnapshot", "no identity-based policy allows")
	waitSnapshot(ctx, t, u, "a-1")
	_, err = u.DeleteDBClusterSnapshot(ctx, &rds.DeleteDBClusterSnapshotInput{DBClusterSnapshotIdentifier: aws.String("a-1")})
	denied(t, err, "rds:DeleteDBClusterSnapshot", "no identity-based policy allows")
	_, err = u.CopyDBClusterSnapshot(ctx, &rds.CopyDBClusterSnapshotInput{SourceDBClusterSnapshotIdentifier: aws.String("a-1"), TargetDBClusterSnapshotIdentifier: aws.String("a-3")})
	denied(t, err, "rds:CopyDBClusterSnapshot", "no identity-based policy allows")
	if s := snapshotOf(ctx, t, c, "a-1"); aws.ToString(s.Status) != "available" {
		t.Fatalf("a-1 is %s after the refusals", aws.ToString(s.Status))
	}
	// The cluster is tagged and made to copy its tags to snapshots: the user, who may not
	// tag (rds:AddTagsToResource), can no longer take a snapshot that would carry them,
	// nor have them copied by CopyTags; an administrator's snapshot gets them.
	if _, err := c.AddTagsToResource(ctx, &rds.AddTagsToResourceInput{ResourceName: aws.String(arn + "cluster:snapiam-a"),
		Tags: []types.Tag{{Key: aws.String("owner"), Value: aws.String("admin")}}}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.ModifyDBCluster(ctx, &rds.ModifyDBClusterInput{DBClusterIdentifier: aws.String("snapiam-a"), CopyTagsToSnapshot: aws.Bool(true)}); err != nil {
		t.Fatal(err)
	}
	if !aws.ToBool(mustCluster(ctx, t, c, "snapiam-a").CopyTagsToSnapshot) {
		t.Fatal("ModifyDBCluster CopyTagsToSnapshot true: DescribeDBClusters says false")
	}
	_, err = u.CreateDBClusterSnapshot(ctx, &rds.CreateDBClusterSnapshotInput{DBClusterIdentifier: aws.String("snapiam-a"), DBClusterSnapshotIdentifier: aws.String("a-2")})
	denied(t, err, "rds:AddTagsToResource", "cluster-snapshot:a-2")
	if _, err := c.CreateDBClusterSnapshot(ctx, &rds.CreateDBClusterSnapshotInput{DBClusterIdentifier: aws.String("snapiam-a"), DBClusterSnapshotIdentifier: aws.String("a-tagged")}); err != nil {
		t.Fatal(err)
	}
	if tags := waitSnapshot(ctx, t, c, "a-tagged").TagList; len(tags) != 1 || aws.ToString(tags[0].Key) != "owner" {
		t.Fatalf("the administrator's snapshot: tags %v", tags)
	}
	_, err = c.DescribeDBClusterSnapshots(ctx, &rds.DescribeDBClusterSnapshotsInput{DBClusterSnapshotIdentifier: aws.String("a-2")})
	if code, _ := apiError(t, err); code != "DBClusterSnapshotNotFoundFault" {
		t.Errorf("the refused snapshot a-2: %s", code)
	}
	if _, err := c.DeleteDBClusterSnapshot(ctx, &rds.DeleteDBClusterSnapshotInput{DBClusterSnapshotIdentifier: aws.String("a-tagged")}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.DeleteDBClusterSnapshot(ctx, &rds.DeleteDBClusterSnapshotInput{DBClusterSnapshotIdentifier: aws.String("a-1")}); err != nil {
		t.Fatal(err)
	}
}

func mustCluster(ctx context.Context, t *testing.T, c *rds.Client, id string) types.DBCluster {
	t.Helper()
	out, err := c.DescribeDBClusters(ctx, &rds.DescribeDBClustersInput{DBClusterIdentifier: aws.String(id)})
	if err != nil {
		t.Fatal(err)
	}
	return out.DBClusters[0]
}

// kill -9 of serve while a snapshot is made: it is never shown available half-made (nor
// failed), and after the restart it is made and becomes available.
func TestKill9DuringSnapshotConverges(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dir := testDataDir(t, "borealis-snapcrash-")
	addr := freeAddr(t)
	srv, err := startServer(dir, addr)
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.openDefaultGroup(ctx, t); err != nil {
		t.Fatal(err)
	}
	c := srv.rds(t)
	_, freePort, _ := net.SplitHostPort(freeAddr(t))
	pin, _ := strconv.Atoi(freePort)
	desc, writer := createCluster(ctx, t, c, "snapcrash", "owner1", "Crash-pass-1", "", func(in *rds.CreateDBClusterInput) {
		in.Port = aws.Int32(int32(pin))
	})
	cl := desc.DBClusters[0]
	conn := srv.connect(ctx, t, aws.ToString(cl.Endpoint), aws.ToInt32(cl.Port), "owner1", "Crash-pass-1", "postgres")
	// Enough data that the backup takes a while.
	if _, err := conn.Exec(ctx, `CREATE TABLE bulk AS SELECT n, md5(n::text) AS h FROM generate_series(1, 1500000) n`); err != nil {
		t.Fatal(err)
	}
	conn.Close(ctx)
	if _, err := c.CreateDBClusterSnapshot(ctx, &rds.CreateDBClusterSnapshotInput{DBClusterIdentifier: aws.String("snapcrash"),
		DBClusterSnapshotIdentifier: aws.String("crash-snap")}); err != nil {
		t.Fatal(err)
	}
	time.Sleep(1500 * time.Millisecond)
	if s := snapshotOf(ctx, t, c, "crash-snap"); aws.ToString(s.Status) != "creating" {
		t.Logf("the snapshot was %s before the kill: the crash came too late to test much", aws.ToString(s.Status))
	}
	srv.kill()

	srv, err = startServer(dir, addr)
	if err != nil {
		t.Fatal(err)
	}
	c = srv.rds(t)
	eventually(t, 4*time.Minute, "the snapshot made after the restart", func() (bool, error) {
		s := snapshotOf(ctx, t, c, "crash-snap")
		switch st := aws.ToString(s.Status); st {
		case "available":
			if aws.ToInt32(s.PercentProgress) != 100 || s.SnapshotCreateTime == nil {
				t.Fatalf("available: %d%%, %v", aws.ToInt32(s.PercentProgress), s.SnapshotCreateTime)
			}
			return true, nil
		case "creating":
			return false, nil
		default:
			t.Fatalf("the snapshot is %s after the restart", st)
		}
		return false, nil
	})

	// The same for a final snapshot, made from the volume after the writer went: the
	// cluster's data goes only once its final snapshot is available.
	if _, err := c.DeleteDBInstance(ctx, &rds.DeleteDBInstanceInput{DBInstanceIdentifier: aws.String(writer)}); err != nil {
		t.Fatal(err)
	}
	if err := rds.NewDBInstanceDeletedWaiter(c, waitDelOpts).Wait(ctx, &rds.DescribeDBInstancesInput{DBInstanceIdentifier: aws.String(writer)}, 2*time.Minute); err != nil {
		t.Fatal(err)
	}
	if _, err := c.DeleteDBCluster(ctx, &rds.DeleteDBClusterInput{DBClusterIdentifier: aws.String("snapcrash"), FinalDBSnapshotIdentifier: aws.String("crash-final")}); err != nil {
		t.Fatal(err)
	}
	time.Sleep(1500 * time.Millisecond)
	if s := snapshotOf(ctx, t, c, "crash-final"); aws.ToString(s.Status) != "creating" {
		t.Logf("the final snapshot was %s before the kill", aws.ToString(s.Status))
	}
	srv.kill()
	srv, err = startServer(dir, addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.stop)
	c = srv.rds(t)
	eventually(t, 4*time.Minute, "the cluster gone after its final snapshot", func() (bool, error) {
		_, err := c.DescribeDBClusters(ctx, &rds.DescribeDBClustersInput{DBClusterIdentifier: aws.String("snapcrash")})
		if err == nil {
			if st := aws.ToString(snapshotOf(ctx, t, c, "crash-final").Status); st != "creating" && st != "available" {
				t.Fatalf("the final snapshot is %s while its cluster is being deleted", st)
			}
			return false, nil
		}
		return strings.Contains(err.Error(), "DBClusterNotFoundFault"), err
	})
	if s := snapshotOf(ctx, t, c, "crash-final"); aws.ToString(s.Status) != "available" {
		t.Fatalf("the final snapshot is %s once its cluster is gone", aws.ToString(s.Status))
	}
}

// restoredRows restores snapshot into a new cluster (RestoreDBClusterFromSnapshot, then
// its writer, as on RDS), counts the rows of app.notes as the snapshot's master user, and
// deletes the restored cluster.
func restoredRows(ctx context.Context, t *testing.T, srv *server, c *rds.Client, source types.DBCluster, snapshot, cluster string, iamAuth bool) int {
	t.Helper()
	_, err := c.RestoreDBClusterFromSnapshot(ctx, &rds.RestoreDBClusterFromSnapshotInput{
		DBClusterIdentifier: aws.String(cluster), SnapshotIdentifier: aws.String(snapshot), Engine: aws.String("aurora-postgresql"),
		EnableIAMDatabaseAuthentication: aws.Bool(iamAuth),
	})
	if err != nil && strings.Contains(err.Error(), "InvalidAction") {
		t.Skip("RestoreDBClusterFromSnapshot is not served yet")
	}
	if err != nil {
		t.Fatalf("RestoreDBClusterFromSnapshot %s: %v", snapshot, err)
	}
	writer := cluster + "-writer"
	if _, err := c.CreateDBInstance(ctx, &rds.CreateDBInstanceInput{DBInstanceIdentifier: aws.String(writer), DBClusterIdentifier: aws.String(cluster),
		DBInstanceClass: aws.String("db.r6g.large"), Engine: aws.String("aurora-postgresql")}); err != nil {
		t.Fatal(err)
	}
	if err := rds.NewDBInstanceAvailableWaiter(c, waitInstOpts).Wait(ctx, &rds.DescribeDBInstancesInput{DBInstanceIdentifier: aws.String(writer)}, 4*time.Minute); err != nil {
		t.Fatalf("restored writer: %v", err)
	}
	cl := mustCluster(ctx, t, c, cluster)
	conn := srv.connect(ctx, t, aws.ToString(cl.Endpoint), aws.ToInt32(cl.Port), "snapowner", "Snap-pass-1", "app")
	var n int
	if err := conn.QueryRow(ctx, `SELECT count(*) FROM notes`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	conn.Close(ctx)
	// The master logged in; an IAM-authenticated user of the source does too.
	iamLoginToRestore(ctx, t, srv, c, source, cluster, "app_iam", iamAuth)
	deleteCluster(ctx, t, c, cluster, writer)
	return n
}
