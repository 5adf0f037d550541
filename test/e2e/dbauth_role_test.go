package e2e

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/rds/auth"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/rds"
	"github.com/aws/aws-sdk-go-v2/service/sts"
)

// TestIAMDatabaseAuthenticationWithRoleCredentials: an application assumes a role and logs
// in with a token its session signs (X-Amz-Security-Token), through pgx and through psql
// with the aws CLI's token; a tampered session token and a role whose boundary does not
// allow rds-db:connect are refused. (An expired session within the token's 15 minutes is
// internal/dbauth TestRoleSessionTokens, on a clock the test moves.)
func TestIAMDatabaseAuthenticationWithRoleCredentials(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	srv := shared.get(t)
	desc, _ := createCluster(ctx, t, srv.rds(t), "iamrole", "owner1", "Owner-pass-123", "", func(in *rds.CreateDBClusterInput) {
		in.EnableIAMDatabaseAuthentication = aws.Bool(true)
	})
	cl := desc.DBClusters[0]
	endpoint, port := aws.ToString(cl.Endpoint), aws.ToInt32(cl.Port)
	hostPort := fmt.Sprintf("%s:%d", endpoint, port)
	owner := srv.connect(ctx, t, endpoint, port, "owner1", "Owner-pass-123", "postgres")
	defer owner.Close(ctx)
	if _, err := owner.Exec(ctx, `CREATE ROLE app_role LOGIN; GRANT rds_iam TO app_role`); err != nil {
		t.Fatal(err)
	}

	ic := srv.iam(t)
	keyID, secret := newUser(ctx, t, ic, "role-assumer", nil, map[string]string{
		"assume": `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"sts:AssumeRole","Resource":"*"}]}`})
	account := strings.Split(userARN(t, ic, "role-assumer"), ":")[4]
	connect := fmt.Sprintf(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"rds-db:connect","Resource":"arn:aws:rds-db:us-east-1:%s:dbuser:%s/app_role"}]}`,
		account, aws.ToString(cl.DbClusterResourceId))
	trust := fmt.Sprintf(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::%s:user/role-assumer"},"Action":"sts:AssumeRole"}]}`, account)
	noDB, err := ic.CreatePolicy(ctx, &iam.CreatePolicyInput{PolicyName: aws.String("RoleDbNoConnect"), PolicyDocument: aws.String(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"rds:Describe*","Resource":"*"}]}`)})
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range []struct {
		name     string
		boundary *string
	}{{"DbConnect", nil}, {"DbConnectCapped", noDB.Policy.Arn}} {
		if _, err := ic.CreateRole(ctx, &iam.CreateRoleInput{RoleName: aws.String(r.name), AssumeRolePolicyDocument: aws.String(trust), PermissionsBoundary: r.boundary}); err != nil {
			t.Fatal(err)
		}
		if _, err := ic.PutRolePolicy(ctx, &iam.PutRolePolicyInput{RoleName: aws.String(r.name), PolicyName: aws.String("connect"), PolicyDocument: aws.String(connect)}); err != nil {
			t.Fatal(err)
		}
	}
	stsc := sts.New(sts.Options{Region: "us-east-1", BaseEndpoint: aws.String("http://" + srv.APIAddr), Credentials: staticCreds(keyID, secret)})
	assume := func(role string) aws.Credentials {
		out, err := stsc.AssumeRole(ctx, &sts.AssumeRoleInput{RoleArn: aws.String("arn:aws:iam::" + account + ":role/" + role), RoleSessionName: aws.String("db-login")})
		if err != nil {
			t.Fatal(err)
		}
		c := out.Credentials
		return aws.Credentials{AccessKeyID: aws.ToString(c.AccessKeyId), SecretAccessKey: aws.ToString(c.SecretAccessKey), SessionToken: aws.ToString(c.SessionToken)}
	}
	token := func(c aws.Credentials) string {
		tok, err := auth.BuildAuthToken(ctx, hostPort, "us-east-1", "app_role", aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) { return c, nil }))
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
	creds := assume("DbConnect")
	if !strings.Contains(token(creds), "X-Amz-Security-Token=") {
		t.Fatal("the SDK's token does not carry the session token")
	}
	conn, err := srv.loginWith(ctx, endpoint, port, "app_role", token(creds), "verify-full")
	if err != nil {
		t.Fatalf("pgx with a role session's token: %v", err)
	}
	var who string
	if err := conn.QueryRow(ctx, "SELECT current_user").Scan(&who); err != nil || who != "app_role" {
		t.Fatalf("current_user %q, %v", who, err)
	}
	conn.Close(ctx)

	// The aws CLI's token from the same session (AWS_SESSION_TOKEN), through psql.
	cmd := exec.Command("aws", "rds", "generate-db-auth-token", "--hostname", endpoint, "--port", fmt.Sprint(port), "--username", "app_role", "--region", "us-east-1")
	cmd.Env = append(os.Environ(), "AWS_ACCESS_KEY_ID="+creds.AccessKeyID, "AWS_SECRET_ACCESS_KEY="+creds.SecretAccessKey, "AWS_SESSION_TOKEN="+creds.SessionToken,
		"AWS_SHARED_CREDENTIALS_FILE=/dev/null", "AWS_CONFIG_FILE=/dev/null")
	cliToken, err := cmd.Output()
	if err != nil {
		t.Fatalf("aws rds generate-db-auth-token: %v", err)
	}
	psql := exec.Command("psql", fmt.Sprintf("host=%s hostaddr=127.0.0.1 port=%d dbname=postgres user=app_role sslmode=verify-full sslrootcert=%s", endpoint, port, srv.bundlePath()),
		"-tAc", "SELECT current_user")
	psql.Env = append(os.Environ(), "PGPASSWORD="+strings.TrimSpace(string(cliToken)))
	if out, err := psql.CombinedOutput(); err != nil || strings.TrimSpace(string(out)) != "app_role" {
		t.Fatalf("psql with the CLI's token from role credentials: %v\n%s", err, out)
	}

	tampered := creds
	tampered.SessionToken = creds.SessionToken[:len(creds.SessionToken)-2] + map[bool]string{true: "AA", false: "BB"}[!strings.HasSuffix(creds.SessionToken, "AA")]
	noToken := creds
	noToken.SessionToken = ""
	for _, r := range []struct{ name, token string }{
		{"a tampered session token", token(tampered)},
		{"the session's key without its token", token(noToken)},
		{"a role whose boundary does not allow rds-db:connect", token(assume("DbConnectCapped"))},
	} {
		if conn, err := srv.loginWith(ctx, endpoint, port, "app_role", r.token, "verify-full"); err == nil {
			conn.Close(ctx)
			t.Errorf("%s: logged in", r.name)
		} else if !strings.Contains(err.Error(), "28000") && !strings.Contains(err.Error(), "authentication failed") {
			t.Errorf("%s: %v, want an authentication failure", r.name, err)
		}
	}
}
