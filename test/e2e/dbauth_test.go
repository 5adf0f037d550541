package e2e

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/feature/rds/auth"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	iamtypes "github.com/aws/aws-sdk-go-v2/service/iam/types"
	"github.com/aws/aws-sdk-go-v2/service/rds"
	"github.com/jackc/pgx/v5"
)

// loginWith connects to an endpoint as user with a password (or token), over verify-full
// TLS unless sslmode says otherwise.
func (s *server) loginWith(ctx context.Context, endpoint string, port int32, user, password, sslmode string) (*pgx.Conn, error) {
	cfg, err := pgx.ParseConfig(fmt.Sprintf("host=%s port=%d user=%s dbname=postgres sslmode=%s sslrootcert=%s connect_timeout=10",
		endpoint, port, user, sslmode, s.bundlePath()))
	if err != nil {
		return nil, err
	}
	cfg.Password = password
	cfg.LookupFunc = lookupEndpoint
	return pgx.ConnectConfig(ctx, cfg)
}

// presignToken makes an IAM authentication token as rds/auth does, signed at a chosen time.
func presignToken(t *testing.T, hostPort, user, keyID, secret string, signedAt time.Time) string {
	t.Helper()
	req, _ := http.NewRequest("GET", "https://"+hostPort+"/?Action=connect&DBUser="+user+"&X-Amz-Expires=900", nil)
	u, _, err := v4.NewSigner().PresignHTTP(context.Background(), aws.Credentials{AccessKeyID: keyID, SecretAccessKey: secret}, req,
		"e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855", "rds-db", "us-east-1", signedAt)
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimPrefix(u, "https://")
}

func TestIAMDatabaseAuthentication(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	srv := shared.get(t)
	c := srv.rds(t)
	desc, _ := createCluster(ctx, t, c, "iamdb", "owner1", "Owner-pass-123", "", func(in *rds.CreateDBClusterInput) {
		in.EnableIAMDatabaseAuthentication = aws.Bool(true)
	})
	cl := desc.DBClusters[0]
	if !aws.ToBool(cl.IAMDatabaseAuthenticationEnabled) {
		t.Fatal("IAMDatabaseAuthenticationEnabled is false after creating with it")
	}
	endpoint, port := aws.ToString(cl.Endpoint), aws.ToInt32(cl.Port)
	hostPort := fmt.Sprintf("%s:%d", endpoint, port)

	// Database users: two members of rds_iam, one of them with a password from before.
	owner := srv.connect(ctx, t, endpoint, port, "owner1", "Owner-pass-123", "postgres")
	defer owner.Close(ctx)
	for _, q := range []string{
		`CREATE ROLE app_reader LOGIN PASSWORD 'Reader-pass-123'`,
		`CREATE ROLE admin LOGIN`,
		`GRANT rds_iam TO app_reader, admin`,
	} {
		if _, err := owner.Exec(ctx, q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}

	// An IAM user allowed rds-db:connect as any app_* user of any cluster.
	consoleUser(ctx, t, srv, "db-app", "Db-app-pass-123", nil,
		`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"rds-db:connect","Resource":"arn:aws:rds-db:us-east-1:*:dbuser:*/app_*"}]}`)
	ic := srv.iam(t)
	newKey := func() (string, string) {
		k, err := ic.CreateAccessKey(ctx, &iam.CreateAccessKeyInput{UserName: aws.String("db-app")})
		if err != nil {
			t.Fatal(err)
		}
		return aws.ToString(k.AccessKey.AccessKeyId), aws.ToString(k.AccessKey.SecretAccessKey)
	}
	keyID, secret := newKey()
	sdkToken := func(user string) string {
		tok, err := auth.BuildAuthToken(ctx, hostPort, "us-east-1", user, staticCreds(keyID, secret))
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}

	conn, err := srv.loginWith(ctx, endpoint, port, "app_reader", sdkToken("app_reader"), "verify-full")
	if err != nil {
		t.Fatalf("a fresh SDK token: %v", err)
	}
	var who string
	if err := conn.QueryRow(ctx, "SELECT current_user").Scan(&who); err != nil || who != "app_reader" {
		t.Fatalf("current_user %q, %v", who, err)
	}
	conn.Close(ctx)

	// The aws CLI's token, through psql.
	cmd := exec.Command("aws", "rds", "generate-db-auth-token", "--hostname", endpoint, "--port", fmt.Sprint(port), "--username", "app_reader", "--region", "us-east-1")
	cmd.Env = append(os.Environ(), "AWS_ACCESS_KEY_ID="+keyID, "AWS_SECRET_ACCESS_KEY="+secret, "AWS_SHARED_CREDENTIALS_FILE=/dev/null", "AWS_CONFIG_FILE=/dev/null")
	cliToken, err := cmd.Output()
	if err != nil {
		t.Fatalf("aws rds generate-db-auth-token: %v", err)
	}
	psql := exec.Command("psql", fmt.Sprintf("host=%s hostaddr=127.0.0.1 port=%d dbname=postgres user=app_reader sslmode=verify-full sslrootcert=%s", endpoint, port, srv.bundlePath()),
		"-tAc", "SELECT current_user")
	psql.Env = append(os.Environ(), "PGPASSWORD="+strings.TrimSpace(string(cliToken)))
	if out, err := psql.CombinedOutput(); err != nil || strings.TrimSpace(string(out)) != "app_reader" {
		t.Fatalf("psql with the CLI's token: %v\n%s", err, out)
	}

	// Debian's JDBC driver, with the token as its password, by the endpoint name that serve's
	// DNS server resolves.
	jdbc := srv.resolving(t, "java", "-cp", "/usr/share/java/postgresql.jar", "testdata/JdbcLogin.java",
		fmt.Sprintf("jdbc:postgresql://%s/postgres?sslmode=verify-full&sslrootcert=%s", hostPort, srv.bundlePath()),
		"app_reader", sdkToken("app_reader"))
	if out, err := jdbc.CombinedOutput(); err != nil || strings.TrimSpace(string(out)) != "app_reader" {
		t.Fatalf("JDBC with an SDK token: %v\n%s", err, out)
	}

	oldKey, oldSecret := newKey()
	if _, err := ic.UpdateAccessKey(ctx, &iam.UpdateAccessKeyInput{UserName: aws.String("db-app"), AccessKeyId: aws.String(oldKey), Status: iamtypes.StatusTypeInactive}); err != nil {
		t.Fatal(err)
	}
	good := sdkToken("app_reader")
	tampered := good[:len(good)-1] + map[bool]string{true: "0", false: "1"}[!strings.HasSuffix(good, "0")]
	refused := []struct{ name, user, password, sslmode string }{
		{"expired token", "app_reader", presignToken(t, hostPort, "app_reader", keyID, secret, time.Now().Add(-16*time.Minute)), "verify-full"},
		{"token for another user", "admin", good, "verify-full"},
		{"token for another port", "app_reader", presignToken(t, fmt.Sprintf("%s:%d", endpoint, port+1), "app_reader", keyID, secret, time.Now()), "verify-full"},
		{"token for another host", "app_reader", presignToken(t, fmt.Sprintf("other.cluster-x.us-east-1.rds.borealis.localhost:%d", port), "app_reader", keyID, secret, time.Now()), "verify-full"},
		{"tampered signature", "app_reader", tampered, "verify-full"},
		{"token from an inactive key", "app_reader", presignToken(t, hostPort, "app_reader", oldKey, oldSecret, time.Now()), "verify-full"},
		{"user the policy does not name (admin)", "admin", sdkToken("admin"), "verify-full"},
		{"plaintext connection", "app_reader", good, "disable"},
		{"the role's old password", "app_reader", "Reader-pass-123", "verify-full"},
	}
	for _, r := range refused {
		if conn, err := srv.loginWith(ctx, endpoint, port, r.user, r.password, r.sslmode); err == nil {
			conn.Close(ctx)
			t.Errorf("%s: logged in", r.name)
		} else if !strings.Contains(err.Error(), "28000") && !strings.Contains(err.Error(), "authentication failed") && !strings.Contains(err.Error(), "pg_hba.conf") {
			t.Errorf("%s: %v, want an authentication failure", r.name, err)
		}
	}
	// The refusals are in the operator's log, with reasons and without tokens.
	logText, _ := os.ReadFile(srv.logPath)
	for _, reason := range []string{"expired at", "for database user", "not an endpoint of this cluster", "signature does not match", "unknown or inactive", "AccessDenied"} {
		if !strings.Contains(string(logText), reason) {
			t.Errorf("serve's log has no refusal mentioning %q", reason)
		}
	}
	if strings.Contains(string(logText), good) || strings.Contains(string(logText), "X-Amz-Signature=") {
		t.Error("a token reached serve's log")
	}
	tokens := []string{good, tampered}
	for _, r := range refused {
		tokens = append(tokens, r.password)
	}
	assertIAMRefusalsInTrail(t, srv, tokens, "ExpiredToken", "SignatureDoesNotMatch", "WrongDBUser", "WrongEndpoint", "InvalidClientTokenId", "AccessDenied")

	// Turned off, tokens stop working (and members of rds_iam cannot log in at all).
	if _, err := c.ModifyDBCluster(ctx, &rds.ModifyDBClusterInput{DBClusterIdentifier: aws.String("iamdb"), EnableIAMDatabaseAuthentication: aws.Bool(false), ApplyImmediately: aws.Bool(true)}); err != nil {
		t.Fatal(err)
	}
	// The cluster is "modifying" until every instance has the change.
	if err := rds.NewDBClusterAvailableWaiter(c, waitOpts).Wait(ctx, &rds.DescribeDBClustersInput{DBClusterIdentifier: aws.String("iamdb")}, time.Minute); err != nil {
		t.Fatal(err)
	}
	if conn, err := srv.loginWith(ctx, endpoint, port, "app_reader", sdkToken("app_reader"), "verify-full"); err == nil {
		conn.Close(ctx)
		t.Error("a token logged in after IAM authentication was turned off")
	}
}
