package e2e

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials/stscreds"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/rds"
	"github.com/aws/aws-sdk-go-v2/service/sts"
)

// Roles and STS as applications use them: the SDK's AssumeRoleProvider and the aws CLI's
// role_arn + source_profile reach serve's STS, and the role session manages clusters within
// the role's rights and no further.
func TestRoleSessionsManageClustersWithinTheRole(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	srv := shared.get(t)
	root := srv.iam(t)
	rootRDS := srv.rds(t)
	endpoint := "http://" + srv.APIAddr
	rootID, rootSecret := srv.rootKey(t)
	who, err := sts.New(sts.Options{Region: "us-east-1", BaseEndpoint: aws.String(endpoint), Credentials: staticCreds(rootID, rootSecret)}).
		GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	if err != nil {
		t.Fatal(err)
	}
	account := aws.ToString(who.Account)
	roleARN := func(name string) string { return "arn:aws:iam::" + account + ":role/" + name }

	aliceID, aliceSecret := newUser(ctx, t, root, "sts-alice", nil, map[string]string{
		"assume": `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"sts:AssumeRole","Resource":"arn:aws:iam::*:role/sts-*"}]}`})
	trust := func(cond string) *string {
		return aws.String(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::` + account + `:root"},"Action":"sts:AssumeRole"` + cond + `}]}`)
	}
	for name, cond := range map[string]string{"sts-dev": "", "sts-vendor": `,"Condition":{"StringEquals":{"sts:ExternalId":"acme-42"}}`,
		"sts-admin": `,"Condition":{"Bool":{"aws:MultiFactorAuthPresent":"true"}}`} {
		if _, err := root.CreateRole(ctx, &iam.CreateRoleInput{RoleName: aws.String(name), AssumeRolePolicyDocument: trust(cond)}); err != nil {
			t.Fatal(err)
		}
		if _, err := root.PutRolePolicy(ctx, &iam.PutRolePolicyInput{RoleName: aws.String(name), PolicyName: aws.String("dev"), PolicyDocument: aws.String(`{"Version":"2012-10-17","Statement":[
			{"Effect":"Allow","Action":"rds:*","Resource":"arn:aws:rds:*:*:cluster:sts-dev-*"},
			{"Effect":"Allow","Action":"rds:DescribeDBClusters","Resource":"*"}]}`)}); err != nil {
			t.Fatal(err)
		}
	}
	t.Cleanup(func() {
		for _, id := range []string{"sts-dev-a", "sts-dev-cli"} {
			rootRDS.DeleteDBCluster(context.Background(), &rds.DeleteDBClusterInput{DBClusterIdentifier: aws.String(id), SkipFinalSnapshot: aws.Bool(true)})
		}
	})
	aliceSTS := sts.New(sts.Options{Region: "us-east-1", BaseEndpoint: aws.String(endpoint), Credentials: staticCreds(aliceID, aliceSecret), Retryer: connectionRetryer()})
	rdsWith := func(p aws.CredentialsProvider) *rds.Client {
		return rds.New(rds.Options{Region: "us-east-1", BaseEndpoint: aws.String(endpoint), Credentials: p, Retryer: connectionRetryer()})
	}

	t.Run("the SDK's AssumeRoleProvider", func(t *testing.T) {
		c := rdsWith(aws.NewCredentialsCache(stscreds.NewAssumeRoleProvider(aliceSTS, roleARN("sts-dev"), func(o *stscreds.AssumeRoleOptions) {
			o.RoleSessionName = "sdk"
		})))
		if _, err := c.CreateDBCluster(ctx, clusterInput("sts-dev-a", nil)); err != nil {
			t.Fatal(err)
		}
		_, err := c.CreateDBCluster(ctx, clusterInput("sts-prod-a", nil))
		denied(t, err, "rds:CreateDBCluster", "User: arn:aws:sts::"+account+":assumed-role/sts-dev/sdk")
		if _, err := c.DescribeDBClusters(ctx, &rds.DescribeDBClustersInput{}); err != nil {
			t.Fatal(err)
		}
	})

	t.Run("a session policy narrows the role", func(t *testing.T) {
		c := rdsWith(aws.NewCredentialsCache(stscreds.NewAssumeRoleProvider(aliceSTS, roleARN("sts-dev"), func(o *stscreds.AssumeRoleOptions) {
			o.RoleSessionName = "readonly"
			o.Policy = aws.String(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"rds:Describe*","Resource":"*"}]}`)
		})))
		if _, err := c.DescribeDBClusters(ctx, &rds.DescribeDBClustersInput{}); err != nil {
			t.Fatal(err)
		}
		_, err := c.CreateDBCluster(ctx, clusterInput("sts-dev-b", nil))
		denied(t, err, "rds:CreateDBCluster", "because no session policy allows the rds:CreateDBCluster action")
	})

	t.Run("trust refusals", func(t *testing.T) {
		for name, in := range map[string]*sts.AssumeRoleInput{
			"no ExternalId":    {RoleArn: aws.String(roleARN("sts-vendor"))},
			"wrong ExternalId": {RoleArn: aws.String(roleARN("sts-vendor")), ExternalId: aws.String("acme-41")},
			"no MFA":           {RoleArn: aws.String(roleARN("sts-admin"))},
			"not trusted":      {RoleArn: aws.String(roleARN("nobody-trusts"))},
		} {
			in.RoleSessionName = aws.String("x1")
			_, err := aliceSTS.AssumeRole(ctx, in)
			if code, status := apiError(t, err); code != "AccessDenied" || status != 403 {
				t.Errorf("%s: %s/%d", name, code, status)
			}
		}
	})

	t.Run("tampered session credentials", func(t *testing.T) {
		out, err := aliceSTS.AssumeRole(ctx, &sts.AssumeRoleInput{RoleArn: aws.String(roleARN("sts-dev")), RoleSessionName: aws.String("t1"), DurationSeconds: aws.Int32(900)})
		if err != nil {
			t.Fatal(err)
		}
		tok := []byte(aws.ToString(out.Credentials.SessionToken))
		tok[len(tok)/2] ^= 1
		c := rdsWith(aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) {
			return aws.Credentials{AccessKeyID: aws.ToString(out.Credentials.AccessKeyId), SecretAccessKey: aws.ToString(out.Credentials.SecretAccessKey), SessionToken: string(tok)}, nil
		}))
		_, err = c.DescribeDBClusters(ctx, &rds.DescribeDBClustersInput{})
		if code, status := apiError(t, err); code != "InvalidClientTokenId" || status != 403 {
			t.Errorf("tampered: %s/%d", code, status)
		}
	})

	t.Run("the aws CLI with role_arn and source_profile", func(t *testing.T) {
		if _, err := exec.LookPath("aws"); err != nil {
			t.Skip("aws CLI not installed")
		}
		dir := t.TempDir()
		config := filepath.Join(dir, "config")
		if err := os.WriteFile(config, []byte(`[profile source]
aws_access_key_id = `+aliceID+`
aws_secret_access_key = `+aliceSecret+`
region = us-east-1

[profile dev]
role_arn = `+roleARN("sts-dev")+`
source_profile = source
role_session_name = cli
region = us-east-1

[profile vendor]
role_arn = `+roleARN("sts-vendor")+`
source_profile = source
region = us-east-1

[profile vendor-ok]
role_arn = `+roleARN("sts-vendor")+`
source_profile = source
external_id = acme-42
region = us-east-1

[profile source-svc]
aws_access_key_id = `+aliceID+`
aws_secret_access_key = `+aliceSecret+`
services = borealis

[profile dev-svc]
role_arn = `+roleARN("sts-dev")+`
source_profile = source-svc
role_session_name = svc
region = us-east-1
services = borealis

[services borealis]
sts =
  endpoint_url = `+endpoint+`
`), 0o600); err != nil {
			t.Fatal(err)
		}
		// AWS_ENDPOINT_URL takes the CLI's credential provider to serve's STS. aws CLI v1 sets
		// RDS's endpoint itself (its update_endpoint_url customization), so commands name it too.
		aws := func(profile string, args ...string) (string, error) {
			cmd := exec.Command("aws", append(args, "--profile", profile, "--output", "text", "--endpoint-url", endpoint)...)
			cmd.Env = append(os.Environ(), "AWS_CONFIG_FILE="+config, "AWS_SHARED_CREDENTIALS_FILE=/dev/null",
				"AWS_ENDPOINT_URL="+endpoint, "HOME="+dir, "AWS_ACCESS_KEY_ID=", "AWS_SECRET_ACCESS_KEY=", "AWS_SESSION_TOKEN=", "AWS_PROFILE=")
			out, err := cmd.CombinedOutput()
			return string(out), err
		}
		// get-caller-identity goes to STS with the session the provider got from STS.
		out, err := aws("dev", "sts", "get-caller-identity", "--query", "Arn")
		if err != nil || strings.TrimSpace(out) != "arn:aws:sts::"+account+":assumed-role/sts-dev/cli" {
			t.Fatalf("get-caller-identity: %v\n%s", err, out)
		}
		if out, err := aws("dev", "rds", "create-db-cluster", "--db-cluster-identifier", "sts-dev-cli", "--engine", "aurora-postgresql",
			"--master-username", "admin1", "--master-user-password", "good-password-1"); err != nil {
			t.Fatalf("create-db-cluster: %v\n%s", err, out)
		}
		out, err = aws("dev", "rds", "create-db-cluster", "--db-cluster-identifier", "sts-prod-cli", "--engine", "aurora-postgresql",
			"--master-username", "admin1", "--master-user-password", "good-password-1")
		if err == nil || !strings.Contains(out, "AccessDenied") || !strings.Contains(out, "assumed-role/sts-dev/cli") {
			t.Fatalf("create-db-cluster outside the role: %v\n%s", err, out)
		}
		// A services section instead of AWS_ENDPOINT_URL.
		cmd := exec.Command("aws", "sts", "get-caller-identity", "--profile", "dev-svc", "--output", "text", "--query", "Arn")
		cmd.Env = append(os.Environ(), "AWS_CONFIG_FILE="+config, "AWS_SHARED_CREDENTIALS_FILE=/dev/null", "AWS_ENDPOINT_URL=",
			"HOME="+dir, "AWS_ACCESS_KEY_ID=", "AWS_SECRET_ACCESS_KEY=", "AWS_SESSION_TOKEN=", "AWS_PROFILE=")
		if b, err := cmd.CombinedOutput(); err != nil || strings.TrimSpace(string(b)) != "arn:aws:sts::"+account+":assumed-role/sts-dev/svc" {
			t.Fatalf("services section: %v\n%s", err, b)
		}
		out, err = aws("vendor", "sts", "get-caller-identity")
		if err == nil || !strings.Contains(out, "AccessDenied") {
			t.Fatalf("vendor without external_id: %v\n%s", err, out)
		}
		if out, err := aws("vendor-ok", "rds", "describe-db-clusters", "--query", "DBClusters[].DBClusterIdentifier"); err != nil || !strings.Contains(out, "sts-dev-cli") {
			t.Fatalf("vendor with external_id: %v\n%s", err, out)
		}
	})
}

// Temporary credentials outlive a kill -9 of serve (the session key is in the state file),
// and a role deleted after the restart ends its sessions at once.
func TestRoleSessionsSurviveAKill9(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dir := testDataDir(t, "borealis-sts-")
	addr := freeAddr(t)
	srv, err := startServer(dir, addr)
	if err != nil {
		t.Fatal(err)
	}
	root := srv.iam(t)
	id, secret := newUser(ctx, t, root, "alice", nil, map[string]string{
		"assume": `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"sts:AssumeRole","Resource":"*"}]}`})
	rootID, rootSecret := srv.rootKey(t)
	endpoint := aws.String("http://" + addr)
	who, err := sts.New(sts.Options{Region: "us-east-1", BaseEndpoint: endpoint, Credentials: staticCreds(rootID, rootSecret)}).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := root.CreateRole(ctx, &iam.CreateRoleInput{RoleName: aws.String("Ops"),
		AssumeRolePolicyDocument: aws.String(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"` + aws.ToString(who.Account) + `"},"Action":"sts:AssumeRole"}]}`)}); err != nil {
		t.Fatal(err)
	}
	out, err := sts.New(sts.Options{Region: "us-east-1", BaseEndpoint: endpoint, Credentials: staticCreds(id, secret), Retryer: connectionRetryer()}).
		AssumeRole(ctx, &sts.AssumeRoleInput{RoleArn: aws.String("arn:aws:iam::" + aws.ToString(who.Account) + ":role/Ops"), RoleSessionName: aws.String("before")})
	if err != nil {
		t.Fatal(err)
	}
	session := sts.New(sts.Options{Region: "us-east-1", BaseEndpoint: endpoint, Retryer: connectionRetryer(),
		Credentials: aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) {
			return aws.Credentials{AccessKeyID: aws.ToString(out.Credentials.AccessKeyId), SecretAccessKey: aws.ToString(out.Credentials.SecretAccessKey),
				SessionToken: aws.ToString(out.Credentials.SessionToken)}, nil
		})})

	srv.kill()
	if srv, err = startServer(dir, addr); err != nil {
		t.Fatal(err)
	}
	defer srv.stop()
	me, err := session.GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	if err != nil || !strings.HasSuffix(aws.ToString(me.Arn), ":assumed-role/Ops/before") {
		t.Fatalf("after the restart: %+v %v", me, err)
	}
	if _, err := srv.iam(t).DeleteRole(ctx, &iam.DeleteRoleInput{RoleName: aws.String("Ops")}); err != nil {
		t.Fatal(err)
	}
	_, err = session.GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	if code, status := apiError(t, err); code != "InvalidClientTokenId" || status != 403 {
		t.Fatalf("after DeleteRole: %s/%d", code, status)
	}
}
