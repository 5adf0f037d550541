package e2e

import (
	"context"
	"crypto/sha1"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/rds"
	rdstypes "github.com/aws/aws-sdk-go-v2/service/rds/types"
	"github.com/jackc/pgx/v5"
)

const legacyCA = "rds-ca-rsa2048-g1"

// caPEMs splits a trust bundle into its certificates, keyed by SHA-1 thumbprint as
// DescribeCertificates shows it.
func caPEMs(t *testing.T, bundle []byte) map[string][]byte {
	t.Helper()
	out := map[string][]byte{}
	for {
		var b *pem.Block
		b, bundle = pem.Decode(bundle)
		if b == nil {
			return out
		}
		out[fmt.Sprintf("%x", sha1.Sum(b.Bytes))] = pem.EncodeToMemory(b)
	}
}

// connectPinned opens a verify-full session trusting only the CA certificates in rootPEM.
func connectPinned(ctx context.Context, dir, name string, rootPEM []byte, endpoint string, port int32, user, password, db string) (*pgx.Conn, error) {
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, rootPEM, 0o644); err != nil {
		return nil, err
	}
	cfg, err := pgx.ParseConfig(fmt.Sprintf("host=%s port=%d user=%s password=%s dbname=%s sslmode=verify-full sslrootcert=%s connect_timeout=10",
		endpoint, port, user, password, db, path))
	if err != nil {
		return nil, err
	}
	cfg.LookupFunc = lookupEndpoint
	return pgx.ConnectConfig(ctx, cfg)
}

func describeInstance(ctx context.Context, t *testing.T, c *rds.Client, id string) rdstypes.DBInstance {
	t.Helper()
	out, err := c.DescribeDBInstances(ctx, &rds.DescribeDBInstancesInput{DBInstanceIdentifier: aws.String(id)})
	if err != nil {
		t.Fatal(err)
	}
	return out.DBInstances[0]
}

// TestCertificateRotation: a CA added with `borealis ca add` while serve runs appears in
// DescribeCertificates and the trust bundle; ModifyDBInstance --apply-immediately moves the
// instance to it with a reload, so a client pinned to the new CA alone verifies while the
// session opened before keeps answering; the reconciler renews the certificate before it
// ends, again without cutting the session.
func TestCertificateRotation(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dir := testDataDir(t, "borealis-cert-")
	// Short-lived server certificates, so that a renewal happens during the test.
	srv, err := startServer(dir, freeAddr(t), "--server-cert-validity", "3m", "--server-cert-renew-before", "150s")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		srv.stop()
		if t.Failed() {
			t.Logf("serve log ends:\n%s", srv.logTail())
		}
	})
	if err := srv.openDefaultGroup(ctx, t); err != nil {
		t.Fatal(err)
	}
	c := srv.rds(t)
	// A port of its own: the shared server hands out ports from 5432 up too.
	_, free, _ := net.SplitHostPort(freeAddr(t))
	pin, _ := strconv.Atoi(free)
	desc, instanceID := createCluster(ctx, t, c, "Rotate-1", "dbmaster", "S3cret-pass!", "appdb",
		func(in *rds.CreateDBClusterInput) { in.Port = aws.Int32(int32(pin)) })
	t.Cleanup(func() { deleteCluster(ctx, t, c, "rotate-1", instanceID) })
	endpoint, port := aws.ToString(desc.DBClusters[0].Endpoint), aws.ToInt32(desc.DBClusters[0].Port)

	in := describeInstance(ctx, t, c, instanceID)
	if aws.ToString(in.CACertificateIdentifier) != legacyCA || in.CertificateDetails == nil ||
		aws.ToString(in.CertificateDetails.CAIdentifier) != legacyCA || in.CertificateDetails.ValidTill == nil {
		t.Fatalf("new instance: CA %s, details %+v", aws.ToString(in.CACertificateIdentifier), in.CertificateDetails)
	}

	old := srv.connect(ctx, t, endpoint, port, "dbmaster", "S3cret-pass!", "appdb")
	var pid int
	if err := old.QueryRow(ctx, "SELECT pg_backend_pid()").Scan(&pid); err != nil {
		t.Fatal(err)
	}

	add := exec.Command(binary, "ca", "add", "--data-dir", dir, "--type", "ecc384")
	outText, err := add.CombinedOutput()
	if err != nil || !strings.HasPrefix(string(outText), "borealis-ca-ecc384-g1\t") {
		t.Fatalf("borealis ca add: %v\n%s", err, outText)
	}
	const newCA = "borealis-ca-ecc384-g1"

	certs, err := c.DescribeCertificates(ctx, &rds.DescribeCertificatesInput{})
	if err != nil {
		t.Fatal(err)
	}
	if aws.ToString(certs.DefaultCertificateForNewLaunches) != legacyCA || len(certs.Certificates) != 2 {
		t.Fatalf("DescribeCertificates: default %s, %d certificates", aws.ToString(certs.DefaultCertificateForNewLaunches), len(certs.Certificates))
	}
	thumb := map[string]string{}
	for _, ct := range certs.Certificates {
		thumb[aws.ToString(ct.CertificateIdentifier)] = aws.ToString(ct.Thumbprint)
		if aws.ToString(ct.CertificateType) != "CA" || ct.ValidTill == nil || ct.ValidFrom == nil || aws.ToBool(ct.CustomerOverride) ||
			!strings.HasSuffix(aws.ToString(ct.CertificateArn), ":cert:"+aws.ToString(ct.CertificateIdentifier)) {
			t.Errorf("certificate %+v", ct)
		}
	}
	// The served bundle and the file both carry both CAs.
	resp, err := http.Get("http://" + srv.APIAddr + "/global-bundle.pem")
	if err != nil {
		t.Fatal(err)
	}
	served, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	file, err := os.ReadFile(srv.bundlePath())
	if err != nil {
		t.Fatal(err)
	}
	pems := caPEMs(t, served)
	if len(pems) != 2 || pems[thumb[legacyCA]] == nil || pems[thumb[newCA]] == nil || string(file) != string(served) {
		t.Fatalf("bundle: %d served certificates (thumbprints %v), file equal: %v", len(pems), thumb, string(file) == string(served))
	}
	newOnly, oldOnly := pems[thumb[newCA]], pems[thumb[legacyCA]]
	if conn, err := connectPinned(ctx, dir, "new-only.pem", newOnly, endpoint, port, "dbmaster", "S3cret-pass!", "appdb"); err == nil {
		conn.Close(ctx)
		t.Fatal("a client pinned to the new CA verified before the switch")
	}

	// Bad input: the exact AWS error, and nothing changes.
	_, err = c.ModifyDBInstance(ctx, &rds.ModifyDBInstanceInput{DBInstanceIdentifier: aws.String(instanceID),
		CACertificateIdentifier: aws.String("rds-ca-2019"), ApplyImmediately: aws.Bool(true)})
	if code, status := apiError(t, err); code != "CertificateNotFound" || status != 404 {
		t.Errorf("unknown CA: %s %d", code, status)
	}
	_, err = c.CreateDBInstance(ctx, &rds.CreateDBInstanceInput{DBInstanceIdentifier: aws.String("rotate-1-other"), DBClusterIdentifier: aws.String("rotate-1"),
		DBInstanceClass: aws.String("db.r6g.large"), Engine: aws.String("aurora-postgresql"), CACertificateIdentifier: aws.String("rds-ca-2019")})
	if code, status := apiError(t, err); code != "CertificateNotFound" || status != 404 {
		t.Errorf("CreateDBInstance with an unknown CA: %s %d", code, status)
	}
	if in := describeInstance(ctx, t, c, instanceID); aws.ToString(in.CACertificateIdentifier) != legacyCA || aws.ToString(in.DBInstanceStatus) != "available" {
		t.Fatalf("refused modification changed the instance: %s %s", aws.ToString(in.CACertificateIdentifier), aws.ToString(in.DBInstanceStatus))
	}

	mod, err := c.ModifyDBInstance(ctx, &rds.ModifyDBInstanceInput{DBInstanceIdentifier: aws.String(instanceID),
		CACertificateIdentifier: aws.String(newCA), ApplyImmediately: aws.Bool(true)})
	if err != nil {
		t.Fatalf("ModifyDBInstance: %v", err)
	}
	if aws.ToString(mod.DBInstance.CACertificateIdentifier) != newCA || aws.ToString(mod.DBInstance.DBInstanceStatus) != "modifying" {
		t.Errorf("ModifyDBInstance answered CA %s, status %s", aws.ToString(mod.DBInstance.CACertificateIdentifier), aws.ToString(mod.DBInstance.DBInstanceStatus))
	}
	var validTill time.Time
	eventually(t, 2*time.Minute, "the instance to serve a certificate from "+newCA, func() (bool, error) {
		in := describeInstance(ctx, t, c, instanceID)
		if in.CertificateDetails == nil || aws.ToString(in.DBInstanceStatus) != "available" {
			return false, nil
		}
		validTill = aws.ToTime(in.CertificateDetails.ValidTill)
		return aws.ToString(in.CertificateDetails.CAIdentifier) == newCA, nil
	})

	pinned, err := connectPinned(ctx, dir, "new-only.pem", newOnly, endpoint, port, "dbmaster", "S3cret-pass!", "appdb")
	if err != nil {
		t.Fatalf("client pinned to the new CA after the switch: %v", err)
	}
	defer pinned.Close(ctx)
	var one int
	if err := pinned.QueryRow(ctx, "SELECT 1").Scan(&one); err != nil || one != 1 {
		t.Fatalf("pinned session: %v", err)
	}
	if conn, err := connectPinned(ctx, dir, "old-only.pem", oldOnly, endpoint, port, "dbmaster", "S3cret-pass!", "appdb"); err == nil {
		conn.Close(ctx)
		t.Error("a client pinned to the old CA alone still verified after the switch")
	}
	sessionSurvives(ctx, t, old, pid)
	// DescribeEvents tells the CA change, in RDS's words for a modification applied.
	waitEvent(ctx, t, c, rdstypes.SourceTypeDbInstance, instanceID, "Applying modification to certificate authority")
	waitEvent(ctx, t, c, rdstypes.SourceTypeDbInstance, instanceID, "Finished applying modification to certificate authority")

	// The reconciler renews the certificate before it ends (3m lifetime, renewed with 150s
	// left), from the same CA, and the open session again survives the reload.
	eventually(t, 2*time.Minute, "the server certificate to be renewed", func() (bool, error) {
		in := describeInstance(ctx, t, c, instanceID)
		d := in.CertificateDetails
		return d != nil && aws.ToString(d.CAIdentifier) == newCA && aws.ToTime(d.ValidTill).After(validTill), nil
	})
	sessionSurvives(ctx, t, old, pid)
	// ... and tells it: RDS's operator-issued notification, naming the CA and the new end.
	renewed := "The server certificate was renewed before it expires. The new certificate is issued by " + newCA + " and valid until "
	eventually(t, time.Minute, "the renewal's event", func() (bool, error) {
		return slices.ContainsFunc(eventMessages(ctx, t, c, rdstypes.SourceTypeDbInstance, instanceID),
			func(m string) bool { return strings.HasPrefix(m, renewed) }), nil
	})
	awsCLIDescribesCertificates(t, srv)
}

// sessionSurvives checks that the session opened first is the same backend and answers.
func sessionSurvives(ctx context.Context, t *testing.T, conn *pgx.Conn, pid int) {
	t.Helper()
	var now, one int
	if err := conn.QueryRow(ctx, "SELECT pg_backend_pid(), 1").Scan(&now, &one); err != nil {
		t.Fatalf("the session opened before the reload: %v", err)
	}
	if now != pid || one != 1 {
		t.Fatalf("session pid %d, want %d", now, pid)
	}
}

// awsCLIDescribesCertificates runs the aws CLI against the server, as an RDS user would.
func awsCLIDescribesCertificates(t *testing.T, srv *server) {
	t.Helper()
	if _, err := exec.LookPath("aws"); err != nil {
		t.Log("aws CLI not installed; skipping its check")
		return
	}
	cmd := exec.Command("aws", "rds", "describe-certificates", "--endpoint-url", "http://"+srv.APIAddr, "--region", "us-east-1", "--output", "json")
	cmd.Env = append(os.Environ(), "AWS_SHARED_CREDENTIALS_FILE="+filepath.Join(srv.DataDir, "credentials"), "AWS_CONFIG_FILE=/dev/null", "AWS_PROFILE=default")
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("aws rds describe-certificates: %v\n%s", err, out)
	}
	var res struct {
		DefaultCertificateForNewLaunches string
		Certificates                     []struct{ CertificateIdentifier string }
	}
	if err := json.Unmarshal(out, &res); err != nil || len(res.Certificates) != 2 || res.DefaultCertificateForNewLaunches != legacyCA {
		t.Errorf("aws rds describe-certificates: %v\n%s", err, out)
	}
}
