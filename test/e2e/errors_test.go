package e2e

import (
	"context"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/rds"
	rdstypes "github.com/aws/aws-sdk-go-v2/service/rds/types"
)

func clusterInput(id string, mod func(*rds.CreateDBClusterInput)) *rds.CreateDBClusterInput {
	in := &rds.CreateDBClusterInput{
		DBClusterIdentifier: aws.String(id),
		Engine:              aws.String("aurora-postgresql"),
		MasterUsername:      aws.String("admin1"),
		MasterUserPassword:  aws.String("good-password-1"),
	}
	if mod != nil {
		mod(in)
	}
	return in
}

func TestBadInputGetsRDSErrorsAndChangesNothing(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	srv := shared.get(t)
	c := srv.rds(t)

	// One real cluster, for the duplicate and instance cases.
	if _, err := c.CreateDBCluster(ctx, clusterInput("errors-base", nil)); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		c.DeleteDBCluster(context.Background(), &rds.DeleteDBClusterInput{DBClusterIdentifier: aws.String("errors-base"), SkipFinalSnapshot: aws.Bool(true)})
	})

	bad := []struct {
		name   string
		in     *rds.CreateDBClusterInput
		code   string
		status int
		msg    string
	}{
		{"identifier starting with a digit", clusterInput("1abc", nil), "InvalidParameterValue", 400, "not a valid identifier"},
		{"identifier with double hyphen", clusterInput("a--b", nil), "InvalidParameterValue", 400, "not a valid identifier"},
		{"identifier ending with hyphen", clusterInput("abc-", nil), "InvalidParameterValue", 400, "not a valid identifier"},
		{"identifier with underscore", clusterInput("a_b", nil), "InvalidParameterValue", 400, "not a valid identifier"},
		{"identifier of 64 characters", clusterInput("a"+strings.Repeat("b", 63), nil), "InvalidParameterValue", 400, "not a valid identifier"},
		{"duplicate identifier, other case", clusterInput("ERRORS-BASE", nil), "DBClusterAlreadyExistsFault", 400, ""},
		{"master user rdsadmin", clusterInput("e1", func(in *rds.CreateDBClusterInput) { in.MasterUsername = aws.String("rdsadmin") }), "InvalidParameterValue", 400, "reserved word"},
		{"master user with symbols", clusterInput("e1", func(in *rds.CreateDBClusterInput) { in.MasterUsername = aws.String("ad-min") }), "InvalidParameterValue", 400, "MasterUsername"},
		{"master user too long", clusterInput("e1", func(in *rds.CreateDBClusterInput) { in.MasterUsername = aws.String(strings.Repeat("a", 17)) }), "InvalidParameterValue", 400, "longer than 16"},
		{"no master user", clusterInput("e1", func(in *rds.CreateDBClusterInput) { in.MasterUsername = nil }), "InvalidParameterValue", 400, "MasterUsername"},
		{"short password", clusterInput("e1", func(in *rds.CreateDBClusterInput) { in.MasterUserPassword = aws.String("sh0rt") }), "InvalidParameterValue", 400, "shorter than 8"},
		{"password with @", clusterInput("e1", func(in *rds.CreateDBClusterInput) { in.MasterUserPassword = aws.String("pass@word123") }), "InvalidParameterValue", 400, "printable ASCII"},
		{"password with space", clusterInput("e1", func(in *rds.CreateDBClusterInput) { in.MasterUserPassword = aws.String("pass word123") }), "InvalidParameterValue", 400, "printable ASCII"},
		{"password with slash", clusterInput("e1", func(in *rds.CreateDBClusterInput) { in.MasterUserPassword = aws.String("pass/word123") }), "InvalidParameterValue", 400, "printable ASCII"},
		{"password of 129 characters", clusterInput("e1", func(in *rds.CreateDBClusterInput) { in.MasterUserPassword = aws.String(strings.Repeat("p", 129)) }), "InvalidParameterValue", 400, "longer than 128"},
		{"other engine", clusterInput("e1", func(in *rds.CreateDBClusterInput) { in.Engine = aws.String("aurora-mysql") }), "InvalidParameterValue", 400, "Invalid DB engine"},
		{"engine version 16", clusterInput("e1", func(in *rds.CreateDBClusterInput) { in.EngineVersion = aws.String("16.1") }), "InvalidParameterCombination", 400, "Cannot find version 16.1"},
		{"engine version 15.99", clusterInput("e1", func(in *rds.CreateDBClusterInput) { in.EngineVersion = aws.String("15.99") }), "InvalidParameterCombination", 400, "Cannot find version 15.99 for aurora-postgresql"},
		{"encrypted storage", clusterInput("e1", func(in *rds.CreateDBClusterInput) { in.StorageEncrypted = aws.Bool(true) }), "InvalidParameterCombination", 400, "does not encrypt storage"},
		{"KMS key", clusterInput("e1", func(in *rds.CreateDBClusterInput) { in.KmsKeyId = aws.String("alias/aws/rds") }), "InvalidParameterCombination", 400, "does not encrypt storage"},
		{"backup retention 36", clusterInput("e1", func(in *rds.CreateDBClusterInput) { in.BackupRetentionPeriod = aws.Int32(36) }), "InvalidParameterValue", 400, "between 1 and 35"},
		{"backup window of 10 minutes", clusterInput("e1", func(in *rds.CreateDBClusterInput) { in.PreferredBackupWindow = aws.String("03:00-03:10") }), "InvalidParameterValue", 400, "at least 30 minutes"},
		{"backup window over maintenance", clusterInput("e1", func(in *rds.CreateDBClusterInput) { in.PreferredBackupWindow = aws.String("04:45-05:15") }), "InvalidParameterValue", 400, "must not overlap"},
		{"port out of range", clusterInput("e1", func(in *rds.CreateDBClusterInput) { in.Port = aws.Int32(80) }), "InvalidParameterValue", 400, "port"},
	}
	for _, tc := range bad {
		t.Run("CreateDBCluster/"+tc.name, func(t *testing.T) {
			_, err := c.CreateDBCluster(ctx, tc.in)
			code, status := apiError(t, err)
			if code != tc.code || status != tc.status {
				t.Fatalf("got %s/%d, want %s/%d (%v)", code, status, tc.code, tc.status, err)
			}
			if tc.msg != "" && !strings.Contains(err.Error(), tc.msg) {
				t.Errorf("message %q does not say %q", err.Error(), tc.msg)
			}
			if strings.Contains(err.Error(), aws.ToString(tc.in.MasterUserPassword)) && len(aws.ToString(tc.in.MasterUserPassword)) > 0 {
				t.Errorf("error text contains the password")
			}
		})
	}

	instanceCases := []struct {
		name string
		in   *rds.CreateDBInstanceInput
		code string
	}{
		{"unknown cluster", &rds.CreateDBInstanceInput{DBInstanceIdentifier: aws.String("i1"), DBClusterIdentifier: aws.String("no-such-cluster"), DBInstanceClass: aws.String("db.r6g.large"), Engine: aws.String("aurora-postgresql")}, "DBClusterNotFoundFault"},
		{"bad class", &rds.CreateDBInstanceInput{DBInstanceIdentifier: aws.String("i1"), DBClusterIdentifier: aws.String("errors-base"), DBInstanceClass: aws.String("db.m1.tiny"), Engine: aws.String("aurora-postgresql")}, "InvalidParameterCombination"},
		{"bad identifier", &rds.CreateDBInstanceInput{DBInstanceIdentifier: aws.String("-i1"), DBClusterIdentifier: aws.String("errors-base"), DBInstanceClass: aws.String("db.r6g.large"), Engine: aws.String("aurora-postgresql")}, "InvalidParameterValue"},
		{"no cluster", &rds.CreateDBInstanceInput{DBInstanceIdentifier: aws.String("i1"), DBInstanceClass: aws.String("db.r6g.large"), Engine: aws.String("aurora-postgresql")}, "InvalidParameterCombination"},
		{"other engine", &rds.CreateDBInstanceInput{DBInstanceIdentifier: aws.String("i1"), DBClusterIdentifier: aws.String("errors-base"), DBInstanceClass: aws.String("db.r6g.large"), Engine: aws.String("postgres")}, "InvalidParameterValue"},
	}
	for _, tc := range instanceCases {
		t.Run("CreateDBInstance/"+tc.name, func(t *testing.T) {
			_, err := c.CreateDBInstance(ctx, tc.in)
			if code, status := apiError(t, err); code != tc.code || status/100 != 4 {
				t.Fatalf("got %s/%d, want %s (%v)", code, status, tc.code, err)
			}
		})
	}

	t.Run("unknown identifiers are 404 with the model's codes", func(t *testing.T) {
		_, err := c.DescribeDBClusters(ctx, &rds.DescribeDBClustersInput{DBClusterIdentifier: aws.String("nope")})
		if code, status := apiError(t, err); code != "DBClusterNotFoundFault" || status != 404 {
			t.Errorf("DescribeDBClusters: %s/%d", code, status)
		}
		_, err = c.DescribeDBInstances(ctx, &rds.DescribeDBInstancesInput{DBInstanceIdentifier: aws.String("nope")})
		if code, status := apiError(t, err); code != "DBInstanceNotFound" || status != 404 {
			t.Errorf("DescribeDBInstances: %s/%d", code, status)
		}
		_, err = c.DeleteDBInstance(ctx, &rds.DeleteDBInstanceInput{DBInstanceIdentifier: aws.String("nope"), SkipFinalSnapshot: aws.Bool(true)})
		if code, status := apiError(t, err); code != "DBInstanceNotFound" || status != 404 {
			t.Errorf("DeleteDBInstance: %s/%d", code, status)
		}
		_, err = c.DeleteDBCluster(ctx, &rds.DeleteDBClusterInput{DBClusterIdentifier: aws.String("nope"), SkipFinalSnapshot: aws.Bool(true)})
		if code, status := apiError(t, err); code != "DBClusterNotFoundFault" || status != 404 {
			t.Errorf("DeleteDBCluster: %s/%d", code, status)
		}
	})

	t.Run("paging", func(t *testing.T) {
		_, err := c.DescribeDBClusters(ctx, &rds.DescribeDBClustersInput{MaxRecords: aws.Int32(5)})
		if code, status := apiError(t, err); code != "InvalidParameterValue" || status != 400 {
			t.Errorf("MaxRecords 5: %s/%d", code, status)
		}
		out, err := c.DescribeDBClusters(ctx, &rds.DescribeDBClustersInput{MaxRecords: aws.Int32(20), Marker: aws.String("errors-base")})
		if err != nil {
			t.Fatal(err)
		}
		for _, cl := range out.DBClusters {
			if aws.ToString(cl.DBClusterIdentifier) <= "errors-base" {
				t.Errorf("page after marker errors-base holds %s", aws.ToString(cl.DBClusterIdentifier))
			}
		}
		_, err = c.DescribeDBClusters(ctx, &rds.DescribeDBClustersInput{Filters: []rdsFilter{{Name: aws.String("bogus"), Values: []string{"x"}}}})
		if code, _ := apiError(t, err); code != "InvalidParameterValue" {
			t.Errorf("unknown filter: %s", code)
		}
	})

	t.Run("nothing was created by the refused calls", func(t *testing.T) {
		out, err := c.DescribeDBClusters(ctx, &rds.DescribeDBClustersInput{})
		if err != nil {
			t.Fatal(err)
		}
		for _, cl := range out.DBClusters {
			if id := aws.ToString(cl.DBClusterIdentifier); id == "e1" || id == "1abc" || id == "a--b" {
				t.Errorf("refused cluster %s exists", id)
			}
		}
		inst, err := c.DescribeDBInstances(ctx, &rds.DescribeDBInstancesInput{Filters: []rdsFilter{{Name: aws.String("db-instance-id"), Values: []string{"i1"}}}})
		if err != nil {
			t.Fatal(err)
		}
		if len(inst.DBInstances) != 0 {
			t.Errorf("refused instance exists: %+v", inst.DBInstances)
		}
	})
}

type rdsFilter = rdstypes.Filter
