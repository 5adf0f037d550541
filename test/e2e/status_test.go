package e2e

import (
	"context"
	"io"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/rds"
	rdstypes "github.com/aws/aws-sdk-go-v2/service/rds/types"
)

// TestServerThatCannotStartIsNeverAvailable: a value the API accepts but PostgreSQL cannot
// start with (ssl_ciphers naming no cipher) makes the instance and its cluster
// incompatible-parameters, never available, with the reason in DescribeDBInstances'
// StatusInfos; the failed starts are counted at /metrics; once the group is fixed the
// instance comes up without a reboot.
func TestServerThatCannotStartIsNeverAvailable(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	srv := shared.get(t)
	c := srv.rds(t)
	newClusterGroup(ctx, t, c, "status-badciphers")
	if _, err := c.ModifyDBClusterParameterGroup(ctx, &rds.ModifyDBClusterParameterGroupInput{DBClusterParameterGroupName: aws.String("status-badciphers"),
		Parameters: []rdstypes.Parameter{param("ssl_ciphers", "NOSUCHCIPHER", rdstypes.ApplyMethodImmediate)}}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.CreateDBCluster(ctx, &rds.CreateDBClusterInput{DBClusterIdentifier: aws.String("status-1"), Engine: aws.String("aurora-postgresql"),
		MasterUsername: aws.String("dbmaster"), MasterUserPassword: aws.String("S3cret-pass!"),
		DBClusterParameterGroupName: aws.String("status-badciphers")}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.CreateDBInstance(ctx, &rds.CreateDBInstanceInput{DBInstanceIdentifier: aws.String("status-1-writer"), DBClusterIdentifier: aws.String("status-1"),
		DBInstanceClass: aws.String("db.r6g.large"), Engine: aws.String("aurora-postgresql")}); err != nil {
		t.Fatal(err)
	}
	defer deleteCluster(ctx, t, c, "status-1", "status-1-writer")

	var in rdstypes.DBInstance
	eventually(t, 3*time.Minute, "incompatible-parameters", func() (bool, error) {
		out, err := c.DescribeDBInstances(ctx, &rds.DescribeDBInstancesInput{DBInstanceIdentifier: aws.String("status-1-writer")})
		if err != nil {
			return false, err
		}
		in = out.DBInstances[0]
		if aws.ToString(in.DBInstanceStatus) == "available" {
			t.Fatal("a server that cannot start is available")
		}
		return aws.ToString(in.DBInstanceStatus) == "incompatible-parameters", nil
	})
	if len(in.StatusInfos) != 1 || !strings.Contains(aws.ToString(in.StatusInfos[0].Message), "ssl_ciphers") ||
		aws.ToBool(in.StatusInfos[0].Normal) || aws.ToString(in.StatusInfos[0].Status) != "incompatible-parameters" {
		t.Errorf("StatusInfos %+v", in.StatusInfos)
	}
	for _, si := range in.StatusInfos {
		if strings.Contains(aws.ToString(si.Message), "NOSUCHCIPHER") {
			t.Errorf("the reason quotes the value: %q", aws.ToString(si.Message))
		}
	}
	// The reason is an event too (once, not per retry).
	if got := eventMessages(ctx, t, c, rdstypes.SourceTypeDbInstance, "status-1-writer"); !slices.Contains(got,
		"Database instance put into incompatible-parameters. "+aws.ToString(in.StatusInfos[0].Message)) {
		t.Errorf("events %q", got)
	}
	cl, err := c.DescribeDBClusters(ctx, &rds.DescribeDBClustersInput{DBClusterIdentifier: aws.String("status-1")})
	if err != nil || aws.ToString(cl.DBClusters[0].Status) != "incompatible-parameters" {
		t.Errorf("cluster: %v %v", aws.ToString(cl.DBClusters[0].Status), err)
	}

	// The retries back off, and /metrics counts them.
	failed := regexp.MustCompile(`borealis_instance_start_attempts_total\{cluster="status-1",instance="status-1-writer",result="failed"\} (\d+)`)
	eventually(t, time.Minute, "a second failed start at /metrics", func() (bool, error) {
		resp, err := http.Get("http://" + srv.APIAddr + "/metrics")
		if err != nil {
			return false, err
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		m := failed.FindSubmatch(body)
		if m == nil {
			return false, nil
		}
		n, _ := strconv.Atoi(string(m[1]))
		return n >= 2, nil
	})

	// Fixed: the instance comes up without a reboot.
	if _, err := c.ModifyDBClusterParameterGroup(ctx, &rds.ModifyDBClusterParameterGroupInput{DBClusterParameterGroupName: aws.String("status-badciphers"),
		Parameters: []rdstypes.Parameter{param("ssl_ciphers", "HIGH:MEDIUM:+3DES:!aNULL", rdstypes.ApplyMethodImmediate)}}); err != nil {
		t.Fatal(err)
	}
	// (Not the SDK's waiters: they give up on incompatible-parameters, as they do on RDS.)
	eventually(t, 3*time.Minute, "available", func() (bool, error) {
		out, err := c.DescribeDBInstances(ctx, &rds.DescribeDBInstancesInput{DBInstanceIdentifier: aws.String("status-1-writer")})
		if err != nil {
			return false, err
		}
		cl, err := c.DescribeDBClusters(ctx, &rds.DescribeDBClustersInput{DBClusterIdentifier: aws.String("status-1")})
		if err != nil {
			return false, err
		}
		return aws.ToString(out.DBInstances[0].DBInstanceStatus) == "available" && aws.ToString(cl.DBClusters[0].Status) == "available", nil
	})
	out, err := c.DescribeDBInstances(ctx, &rds.DescribeDBInstancesInput{DBInstanceIdentifier: aws.String("status-1-writer")})
	if err != nil || len(out.DBInstances[0].StatusInfos) != 0 {
		t.Errorf("available with StatusInfos %+v %v", out.DBInstances[0].StatusInfos, err)
	}
}
