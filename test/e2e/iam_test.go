package e2e

import (
	"context"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	iamtypes "github.com/aws/aws-sdk-go-v2/service/iam/types"
	"github.com/aws/aws-sdk-go-v2/service/rds"
	rdstypes "github.com/aws/aws-sdk-go-v2/service/rds/types"
	"github.com/aws/aws-sdk-go-v2/service/sts"
)

func staticCreds(id, secret string) aws.CredentialsProvider {
	return aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) {
		return aws.Credentials{AccessKeyID: id, SecretAccessKey: secret}, nil
	})
}

func connectionRetryer() aws.Retryer {
	return retry.NewStandard(func(o *retry.StandardOptions) {
		o.Retryables = []retry.IsErrorRetryable{retry.RetryableConnectionError{}}
	})
}

// iam returns an IAM client signing as the root user.
func (s *server) iam(t *testing.T) *iam.Client {
	t.Helper()
	id, secret := s.rootKey(t)
	return iam.New(iam.Options{Region: "us-east-1", BaseEndpoint: aws.String("http://" + s.APIAddr),
		Credentials: staticCreds(id, secret), Retryer: connectionRetryer()})
}

// rdsAs returns an RDS client signing with the given key, its connections leaving from
// sourceIP ("" for the default).
func (s *server) rdsAs(keyID, secret, sourceIP string) *rds.Client {
	o := rds.Options{Region: "us-east-1", BaseEndpoint: aws.String("http://" + s.APIAddr),
		Credentials: staticCreds(keyID, secret), Retryer: connectionRetryer()}
	if sourceIP != "" {
		dialer := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(sourceIP)}, Timeout: 10 * time.Second}
		o.HTTPClient = &http.Client{Transport: &http.Transport{DialContext: dialer.DialContext}}
	}
	return rds.New(o)
}

// newUser creates an IAM user with an access key, the managed policies attached and the
// inline policies put, and returns the key.
func newUser(ctx context.Context, t *testing.T, c *iam.Client, name string, managed []string, inline map[string]string) (string, string) {
	t.Helper()
	if _, err := c.CreateUser(ctx, &iam.CreateUserInput{UserName: aws.String(name)}); err != nil {
		t.Fatalf("CreateUser %s: %v", name, err)
	}
	for _, arn := range managed {
		if _, err := c.AttachUserPolicy(ctx, &iam.AttachUserPolicyInput{UserName: aws.String(name), PolicyArn: aws.String(arn)}); err != nil {
			t.Fatalf("AttachUserPolicy %s: %v", arn, err)
		}
	}
	for pname, doc := range inline {
		if _, err := c.PutUserPolicy(ctx, &iam.PutUserPolicyInput{UserName: aws.String(name), PolicyName: aws.String(pname), PolicyDocument: aws.String(doc)}); err != nil {
			t.Fatalf("PutUserPolicy %s: %v", pname, err)
		}
	}
	key, err := c.CreateAccessKey(ctx, &iam.CreateAccessKeyInput{UserName: aws.String(name)})
	if err != nil {
		t.Fatal(err)
	}
	return aws.ToString(key.AccessKey.AccessKeyId), aws.ToString(key.AccessKey.SecretAccessKey)
}

// denied checks that err is RDS's AccessDenied for action, with IAM's message form.
func denied(t *testing.T, err error, action, because string) {
	t.Helper()
	code, status := apiError(t, err)
	if code != "AccessDenied" || status != 403 {
		t.Fatalf("%s: got %s/%d, want AccessDenied/403 (%v)", action, code, status, err)
	}
	if !strings.Contains(err.Error(), "is not authorized to perform: "+action) || !strings.Contains(err.Error(), because) {
		t.Errorf("%s: message %q", action, err.Error())
	}
}

func TestIAMDecidesEveryManagementAction(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	srv := shared.get(t)
	root := srv.iam(t)
	rootRDS := srv.rds(t)

	t.Run("a user with no policy may do nothing", func(t *testing.T) {
		id, secret := newUser(ctx, t, root, "nobody", nil, nil)
		_, err := srv.rdsAs(id, secret, "").DescribeDBClusters(ctx, &rds.DescribeDBClustersInput{})
		denied(t, err, "rds:DescribeDBClusters", "because no identity-based policy allows the rds:DescribeDBClusters action")
		who, err := sts.New(sts.Options{Region: "us-east-1", BaseEndpoint: aws.String("http://" + srv.APIAddr), Credentials: staticCreds(id, secret)}).
			GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
		if err != nil || !strings.HasSuffix(aws.ToString(who.Arn), ":user/nobody") {
			t.Errorf("GetCallerIdentity: %+v %v", who, err)
		}
	})

	t.Run("read-only can describe but not create", func(t *testing.T) {
		id, secret := newUser(ctx, t, root, "reader", []string{"arn:aws:iam::aws:policy/AmazonRDSReadOnlyAccess"}, nil)
		c := srv.rdsAs(id, secret, "")
		if _, err := c.DescribeDBClusters(ctx, &rds.DescribeDBClustersInput{}); err != nil {
			t.Fatalf("DescribeDBClusters: %v", err)
		}
		_, err := c.CreateDBCluster(ctx, clusterInput("ro-attempt", nil))
		denied(t, err, "rds:CreateDBCluster", "on resource: arn:aws:rds:us-east-1:")
		if _, err := rootRDS.DescribeDBClusters(ctx, &rds.DescribeDBClustersInput{DBClusterIdentifier: aws.String("ro-attempt")}); err == nil {
			t.Error("the denied call created the cluster")
		}
	})

	t.Run("a resource pattern limits which clusters a user manages", func(t *testing.T) {
		id, secret := newUser(ctx, t, root, "dev", nil, map[string]string{"dev-only": `{"Version":"2012-10-17","Statement":[
			{"Effect":"Allow","Action":"rds:*","Resource":"arn:aws:rds:*:*:cluster:dev-*"}]}`})
		c := srv.rdsAs(id, secret, "")
		if _, err := c.CreateDBCluster(ctx, clusterInput("dev-a", nil)); err != nil {
			t.Fatalf("dev-a: %v", err)
		}
		t.Cleanup(func() {
			rootRDS.DeleteDBCluster(context.Background(), &rds.DeleteDBClusterInput{DBClusterIdentifier: aws.String("dev-a"), SkipFinalSnapshot: aws.Bool(true)})
		})
		_, err := c.CreateDBCluster(ctx, clusterInput("prod-a", nil))
		denied(t, err, "rds:CreateDBCluster", "cluster:prod-a")
	})

	t.Run("a deny on cluster:prod-* holds for tagging however the ARN is spelled", func(t *testing.T) {
		made, err := rootRDS.CreateDBCluster(ctx, clusterInput("prod-tagged", nil))
		if err != nil {
			t.Fatal(err)
		}
		canonical := aws.ToString(made.DBCluster.DBClusterArn)
		t.Cleanup(func() {
			rootRDS.DeleteDBCluster(context.Background(), &rds.DeleteDBClusterInput{DBClusterIdentifier: aws.String("prod-tagged"), SkipFinalSnapshot: aws.Bool(true)})
		})
		id, secret := newUser(ctx, t, root, "no-prod-tags", nil, map[string]string{"no-prod": `{"Version":"2012-10-17","Statement":[
			{"Effect":"Allow","Action":"rds:*","Resource":"*"},
			{"Effect":"Deny","Action":"rds:*","Resource":"arn:aws:rds:*:*:cluster:prod-*"}]}`})
		c := srv.rdsAs(id, secret, "")
		for _, name := range []string{"PROD-TAGGED", "Prod-Tagged"} {
			arn := strings.TrimSuffix(canonical, "prod-tagged") + name
			_, err := c.AddTagsToResource(ctx, &rds.AddTagsToResourceInput{ResourceName: aws.String(arn), Tags: []rdstypes.Tag{{Key: aws.String("owner"), Value: aws.String("me")}}})
			denied(t, err, "rds:AddTagsToResource", "cluster:prod-tagged with an explicit deny")
			_, err = c.ListTagsForResource(ctx, &rds.ListTagsForResourceInput{ResourceName: aws.String(arn)})
			denied(t, err, "rds:ListTagsForResource", "cluster:prod-tagged with an explicit deny")
		}
		out, err := rootRDS.DescribeDBClusters(ctx, &rds.DescribeDBClustersInput{DBClusterIdentifier: aws.String("prod-tagged")})
		if err != nil || len(out.DBClusters) != 1 || len(out.DBClusters[0].TagList) != 0 {
			t.Fatalf("the denied calls tagged the cluster: %+v %v", out, err)
		}
	})

	t.Run("an explicit deny beats AdministratorAccess", func(t *testing.T) {
		id, secret := newUser(ctx, t, root, "admin-nodelete", []string{"arn:aws:iam::aws:policy/AdministratorAccess"}, map[string]string{
			"no-delete": `{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Action":"rds:DeleteDBCluster","Resource":"*"}]}`})
		c := srv.rdsAs(id, secret, "")
		if _, err := c.DescribeDBClusters(ctx, &rds.DescribeDBClustersInput{}); err != nil {
			t.Fatal(err)
		}
		_, err := c.DeleteDBCluster(ctx, &rds.DeleteDBClusterInput{DBClusterIdentifier: aws.String("anything"), SkipFinalSnapshot: aws.Bool(true)})
		denied(t, err, "rds:DeleteDBCluster", "with an explicit deny in an identity-based policy")
	})

	t.Run("a condition on rds:DatabaseClass limits instance classes", func(t *testing.T) {
		id, secret := newUser(ctx, t, root, "small-only", nil, map[string]string{"small": `{"Version":"2012-10-17","Statement":[
			{"Effect":"Allow","Action":"rds:CreateDBInstance","Resource":"*","Condition":{"StringEquals":{"rds:DatabaseClass":"db.t3.medium"}}}]}`})
		c := srv.rdsAs(id, secret, "")
		in := func(class string) *rds.CreateDBInstanceInput {
			return &rds.CreateDBInstanceInput{DBInstanceIdentifier: aws.String("small-1"), DBClusterIdentifier: aws.String("no-such-cluster"),
				DBInstanceClass: aws.String(class), Engine: aws.String("aurora-postgresql")}
		}
		_, err := c.CreateDBInstance(ctx, in("db.r6g.large"))
		denied(t, err, "rds:CreateDBInstance", "no identity-based policy allows")
		// Allowed: the call gets as far as the action, which finds no such cluster.
		_, err = c.CreateDBInstance(ctx, in("db.t3.medium"))
		if code, _ := apiError(t, err); code != "DBClusterNotFoundFault" {
			t.Errorf("db.t3.medium: %s (%v)", code, err)
		}
	})

	t.Run("aws:SourceIp refuses a call from another loopback address", func(t *testing.T) {
		id, secret := newUser(ctx, t, root, "from-one-ip", nil, map[string]string{"ip": `{"Version":"2012-10-17","Statement":[
			{"Effect":"Allow","Action":"rds:Describe*","Resource":"*","Condition":{"IpAddress":{"aws:SourceIp":"127.0.0.1/32"}}}]}`})
		if _, err := srv.rdsAs(id, secret, "127.0.0.1").DescribeDBClusters(ctx, &rds.DescribeDBClustersInput{}); err != nil {
			t.Fatalf("from 127.0.0.1: %v", err)
		}
		_, err := srv.rdsAs(id, secret, "127.0.0.2").DescribeDBClusters(ctx, &rds.DescribeDBClustersInput{})
		denied(t, err, "rds:DescribeDBClusters", "no identity-based policy allows")
	})

	t.Run("group policies apply to members", func(t *testing.T) {
		id, secret := newUser(ctx, t, root, "grouped", nil, nil)
		if _, err := root.CreateGroup(ctx, &iam.CreateGroupInput{GroupName: aws.String("readers")}); err != nil {
			t.Fatal(err)
		}
		if _, err := root.AttachGroupPolicy(ctx, &iam.AttachGroupPolicyInput{GroupName: aws.String("readers"), PolicyArn: aws.String("arn:aws:iam::aws:policy/AmazonRDSReadOnlyAccess")}); err != nil {
			t.Fatal(err)
		}
		c := srv.rdsAs(id, secret, "")
		_, err := c.DescribeDBClusters(ctx, &rds.DescribeDBClustersInput{})
		denied(t, err, "rds:DescribeDBClusters", "no identity-based policy allows")
		if _, err := root.AddUserToGroup(ctx, &iam.AddUserToGroupInput{GroupName: aws.String("readers"), UserName: aws.String("grouped")}); err != nil {
			t.Fatal(err)
		}
		if _, err := c.DescribeDBClusters(ctx, &rds.DescribeDBClustersInput{}); err != nil {
			t.Fatalf("after joining the group: %v", err)
		}
	})

	t.Run("an inactive or deleted key is refused at once", func(t *testing.T) {
		id, secret := newUser(ctx, t, root, "rotated", []string{"arn:aws:iam::aws:policy/AmazonRDSReadOnlyAccess"}, nil)
		c := srv.rdsAs(id, secret, "")
		if _, err := c.DescribeDBClusters(ctx, &rds.DescribeDBClustersInput{}); err != nil {
			t.Fatal(err)
		}
		if _, err := root.UpdateAccessKey(ctx, &iam.UpdateAccessKeyInput{UserName: aws.String("rotated"), AccessKeyId: aws.String(id), Status: iamtypes.StatusTypeInactive}); err != nil {
			t.Fatal(err)
		}
		_, err := c.DescribeDBClusters(ctx, &rds.DescribeDBClustersInput{})
		if code, status := apiError(t, err); code != "InvalidClientTokenId" || status != 403 {
			t.Fatalf("inactive key: %s/%d", code, status)
		}
		if _, err := root.DeleteAccessKey(ctx, &iam.DeleteAccessKeyInput{UserName: aws.String("rotated"), AccessKeyId: aws.String(id)}); err != nil {
			t.Fatal(err)
		}
		_, err = c.DescribeDBClusters(ctx, &rds.DescribeDBClustersInput{})
		if code, _ := apiError(t, err); code != "InvalidClientTokenId" {
			t.Fatalf("deleted key: %s", code)
		}
	})

	t.Run("IAM actions are authorized too", func(t *testing.T) {
		id, secret := newUser(ctx, t, root, "rds-only", []string{"arn:aws:iam::aws:policy/AmazonRDSFullAccess"}, nil)
		c := iam.New(iam.Options{Region: "us-east-1", BaseEndpoint: aws.String("http://" + srv.APIAddr), Credentials: staticCreds(id, secret), Retryer: connectionRetryer()})
		_, err := c.CreateUser(ctx, &iam.CreateUserInput{UserName: aws.String("sneaky")})
		if code, status := apiError(t, err); code != "AccessDenied" || status != 403 {
			t.Fatalf("CreateUser by an RDS-only user: %s/%d", code, status)
		}
	})

	t.Run("SimulatePrincipalPolicy explains a decision", func(t *testing.T) {
		out, err := root.SimulatePrincipalPolicy(ctx, &iam.SimulatePrincipalPolicyInput{
			PolicySourceArn: aws.String(userARN(t, root, "admin-nodelete")),
			ActionNames:     []string{"rds:DeleteDBCluster", "rds:DescribeDBClusters"},
		})
		if err != nil {
			t.Fatal(err)
		}
		got := map[string]iamtypes.PolicyEvaluationDecisionType{}
		for _, r := range out.EvaluationResults {
			got[aws.ToString(r.EvalActionName)] = r.EvalDecision
		}
		if got["rds:DeleteDBCluster"] != iamtypes.PolicyEvaluationDecisionTypeExplicitDeny || got["rds:DescribeDBClusters"] != iamtypes.PolicyEvaluationDecisionTypeAllowed {
			t.Errorf("decisions: %v", got)
		}
	})
}

func userARN(t *testing.T, c *iam.Client, name string) string {
	t.Helper()
	u, err := c.GetUser(context.Background(), &iam.GetUserInput{UserName: aws.String(name)})
	if err != nil {
		t.Fatal(err)
	}
	return aws.ToString(u.User.Arn)
}
