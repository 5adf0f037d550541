package rds

import (
	"context"
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/borealis-db/borealis/internal/awsquery"
	"github.com/borealis-db/borealis/internal/pki"
	"github.com/borealis-db/borealis/internal/store"
)

const eccCA = "borealis-ca-ecc384-g1"

// withCAs gives the service's store the first CA (in meta, as serve makes it) and an
// ecc384 CA next to it, as `borealis ca add` makes it.
func withCAs(t *testing.T, s *Service) {
	t.Helper()
	ctx := context.Background()
	legacy, key, err := pki.NewCA(store.LegacyCAIdentifier, "test", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.store.InitMeta(ctx, "ca_key", string(key)); err != nil {
		t.Fatal(err)
	}
	if _, err := s.store.InitMeta(ctx, "ca_cert", string(legacy.CertPEM)); err != nil {
		t.Fatal(err)
	}
	ecc, key, err := pki.NewCAOf(pki.ECC384, eccCA, "test", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if err := s.store.AddCertificateAuthority(ctx, store.CertificateAuthority{ID: eccCA, CertPEM: string(ecc.CertPEM), KeyPEM: string(key)}, false); err != nil {
		t.Fatal(err)
	}
}

// wantError checks an action failed with an AWS error of code and status.
func wantError(t *testing.T, err error, code string, status int) {
	t.Helper()
	if err == nil {
		t.Fatalf("want %s, got success", code)
	}
	e := awsquery.AsError(err)
	if e.Code != code || e.Status != status {
		t.Fatalf("got %s (%d) %q, want %s (%d)", e.Code, e.Status, e.Message, code, status)
	}
}

func TestDescribeAndModifyCertificates(t *testing.T) {
	ctx := context.Background()
	s := newTestService(t)
	withCAs(t, s)
	out, err := s.Do(ctx, "DescribeCertificates", query())
	if err != nil {
		t.Fatal(err)
	}
	res := out.(describeCertificatesResult)
	if res.DefaultCertificateForNewLaunches != store.LegacyCAIdentifier || len(res.Certificates.Items) != 2 {
		t.Fatalf("describe: %+v", res)
	}
	ecc := res.Certificates.Items[0]
	if ecc.CertificateIdentifier != eccCA || ecc.CertificateType != "CA" || len(ecc.Thumbprint) != 40 ||
		ecc.CertificateArn != "arn:aws:rds:us-east-1:123456789012:cert:"+eccCA || ecc.CustomerOverride ||
		!ecc.ValidTill.After(time.Now().AddDate(39, 0, 0)) || !ecc.ValidFrom.Before(time.Now()) {
		t.Errorf("ecc384 CA: %+v", ecc)
	}
	// Identifiers are not case-sensitive; an unknown one is CertificateNotFound.
	if out, err := s.Do(ctx, "DescribeCertificates", query("CertificateIdentifier", "BOREALIS-CA-ECC384-G1")); err != nil || len(out.(describeCertificatesResult).Certificates.Items) != 1 {
		t.Errorf("by identifier: %v %v", out, err)
	}
	_, err = s.Do(ctx, "DescribeCertificates", query("CertificateIdentifier", "rds-ca-2019"))
	wantError(t, err, "CertificateNotFound", http.StatusNotFound)
	_, err = s.Do(ctx, "DescribeCertificates", query("MaxRecords", "5"))
	wantError(t, err, "InvalidParameterValue", http.StatusBadRequest)

	_, err = s.Do(ctx, "ModifyCertificates", query("CertificateIdentifier", "rds-ca-2019"))
	wantError(t, err, "CertificateNotFound", http.StatusNotFound)
	_, err = s.Do(ctx, "ModifyCertificates", query())
	wantError(t, err, "InvalidParameterCombination", http.StatusBadRequest)
	out, err = s.Do(ctx, "ModifyCertificates", query("CertificateIdentifier", eccCA))
	if err != nil {
		t.Fatal(err)
	}
	if c := out.(modifyCertificatesResult).Certificate; c == nil || c.CertificateIdentifier != eccCA || !c.CustomerOverride || c.CustomerOverrideValidTill == nil {
		t.Errorf("override: %+v", c)
	}
	out, _ = s.Do(ctx, "DescribeCertificates", query())
	if res := out.(describeCertificatesResult); res.DefaultCertificateForNewLaunches != eccCA || !res.Certificates.Items[0].CustomerOverride || res.Certificates.Items[1].CustomerOverride {
		t.Errorf("after override: %+v", res)
	}
	if _, err := s.Do(ctx, "ModifyCertificates", query("RemoveCustomerOverride", "true")); err != nil {
		t.Fatal(err)
	}
	out, _ = s.Do(ctx, "DescribeCertificates", query())
	if res := out.(describeCertificatesResult); res.DefaultCertificateForNewLaunches != store.LegacyCAIdentifier {
		t.Errorf("after removing the override: %+v", res)
	}
}

func newCluster(t *testing.T, s *Service, id string) {
	t.Helper()
	if _, err := s.Do(context.Background(), "CreateDBCluster", query("DBClusterIdentifier", id, "Engine", "aurora-postgresql",
		"MasterUsername", "dbmaster", "MasterUserPassword", "S3cret-pass!")); err != nil {
		t.Fatal(err)
	}
}

func createInstanceQuery(id, cluster string, kv ...string) awsquery.Params {
	return query(append([]string{"DBInstanceIdentifier", id, "DBClusterIdentifier", cluster,
		"DBInstanceClass", "db.r6g.large", "Engine", "aurora-postgresql"}, kv...)...)
}

func TestInstanceCAOnCreateModifyAndReboot(t *testing.T) {
	ctx := context.Background()
	s := newTestService(t)
	withCAs(t, s)
	newCluster(t, s, "c1")

	_, err := s.Do(ctx, "CreateDBInstance", createInstanceQuery("i1", "c1", "CACertificateIdentifier", "rds-ca-2019"))
	wantError(t, err, "CertificateNotFound", http.StatusNotFound)
	if _, err := s.store.Instance(ctx, "i1"); err != store.ErrNotFound {
		t.Fatalf("a refused create left an instance: %v", err)
	}
	out, err := s.Do(ctx, "CreateDBInstance", createInstanceQuery("i1", "c1"))
	if err != nil {
		t.Fatal(err)
	}
	if x := out.(instanceResult).DBInstance; x.CACertificateIdentifier != store.LegacyCAIdentifier || x.CertificateDetails != nil {
		t.Errorf("default CA: %s %+v", x.CACertificateIdentifier, x.CertificateDetails)
	}
	out, err = s.Do(ctx, "CreateDBInstance", createInstanceQuery("i2", "c2", "CACertificateIdentifier", "Borealis-CA-ECC384-G1"))
	wantError(t, err, "DBClusterNotFoundFault", http.StatusNotFound)

	// Not available yet: the instance is being created.
	_, err = s.Do(ctx, "ModifyDBInstance", query("DBInstanceIdentifier", "i1", "CACertificateIdentifier", eccCA, "ApplyImmediately", "true"))
	wantError(t, err, "InvalidDBInstanceState", http.StatusBadRequest)
	if _, err := s.store.UpdateInstance(ctx, "i1", func(in *store.Instance) error {
		in.Status, in.CertCA = store.StatusAvailable, store.LegacyCAIdentifier
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	bad := []struct {
		kv     []string
		code   string
		status int
	}{
		{[]string{"DBInstanceIdentifier", "nope", "CACertificateIdentifier", eccCA}, "DBInstanceNotFound", 404},
		{[]string{"DBInstanceIdentifier", "i1", "CACertificateIdentifier", "rds-ca-2019"}, "CertificateNotFound", 404},
		{[]string{"DBInstanceIdentifier", "i1", "DBInstanceClass", "db.r6g.xlarge"}, "InvalidParameterCombination", 400},
		{[]string{"DBInstanceIdentifier", "i1", "CACertificateIdentifier", eccCA, "ApplyImmediately", "maybe"}, "InvalidParameterValue", 400},
		{[]string{"CACertificateIdentifier", eccCA}, "MissingParameter", 400},
	}
	for _, b := range bad {
		_, err := s.Do(ctx, "ModifyDBInstance", query(b.kv...))
		wantError(t, err, b.code, b.status)
	}
	if in, _ := s.store.Instance(ctx, "i1"); in.CAIdentifier != store.LegacyCAIdentifier || in.PendingCAIdentifier != "" || in.Status != store.StatusAvailable {
		t.Fatalf("refused modifications changed the instance: %+v", in)
	}

	// Without ApplyImmediately the change waits for the next reboot.
	out, err = s.Do(ctx, "ModifyDBInstance", query("DBInstanceIdentifier", "i1", "CACertificateIdentifier", eccCA))
	if err != nil {
		t.Fatal(err)
	}
	x := out.(instanceResult).DBInstance
	if x.CACertificateIdentifier != store.LegacyCAIdentifier || x.PendingModifiedValues == nil || x.PendingModifiedValues.CACertificateIdentifier != eccCA || store.Status(x.DBInstanceStatus) != store.StatusAvailable {
		t.Fatalf("pending: %+v %+v", x, x.PendingModifiedValues)
	}
	out, err = s.Do(ctx, "RebootDBInstance", query("DBInstanceIdentifier", "i1"))
	if err != nil {
		t.Fatal(err)
	}
	if x := out.(instanceResult).DBInstance; x.CACertificateIdentifier != eccCA || x.PendingModifiedValues != nil || store.Status(x.DBInstanceStatus) != store.StatusRebooting {
		t.Fatalf("after reboot: %s %+v %s", x.CACertificateIdentifier, x.PendingModifiedValues, x.DBInstanceStatus)
	}

	// With ApplyImmediately the instance is modifying until the reconciler has reloaded.
	if _, err := s.store.UpdateInstance(ctx, "i1", func(in *store.Instance) error {
		in.Status, in.CertCA = store.StatusAvailable, eccCA
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	out, err = s.Do(ctx, "ModifyDBInstance", query("DBInstanceIdentifier", "I1", "CACertificateIdentifier", store.LegacyCAIdentifier, "ApplyImmediately", "true"))
	if err != nil {
		t.Fatal(err)
	}
	if x := out.(instanceResult).DBInstance; x.CACertificateIdentifier != store.LegacyCAIdentifier || store.Status(x.DBInstanceStatus) != store.StatusModifying {
		t.Fatalf("apply immediately: %s %s", x.CACertificateIdentifier, x.DBInstanceStatus)
	}
	// Only the change applied at once is "Applying modification" (the reconciler reports
	// its end; a pending change applied by the reboot reports only that).
	r := describeEvents(t, s, "SourceType", "db-instance", "SourceIdentifier", "i1", "EventCategories.EventCategory.1", "configuration change")
	if got, want := messages(r), []string{"i1: Applying modification to certificate authority"}; !slices.Equal(got, want) {
		t.Errorf("events %q, want %q", got, want)
	}
}

func TestCertificateActionsNameTheirResources(t *testing.T) {
	s := newTestService(t)
	for _, c := range []struct {
		action string
		kv     []string
		want   string
	}{
		{"DescribeCertificates", nil, "*"},
		{"DescribeCertificates", []string{"CertificateIdentifier", "Borealis-CA-ECC384-G1"}, "arn:aws:rds:us-east-1:123456789012:cert:borealis-ca-ecc384-g1"},
		{"ModifyCertificates", []string{"CertificateIdentifier", eccCA}, "*"},
		{"ModifyDBInstance", []string{"DBInstanceIdentifier", "I1"}, "arn:aws:rds:us-east-1:123456789012:db:i1"},
	} {
		res, _ := s.Authorization(context.Background(), c.action, query(c.kv...))
		if len(res) != 1 || res[0].ARN != c.want {
			t.Errorf("%s %v: %v, want %s", c.action, c.kv, res, c.want)
		}
	}
}
