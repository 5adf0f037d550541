package rds

import (
	"context"
	"encoding/json"
	"encoding/xml"
	"net/http"
	"strings"
	"testing"

	"github.com/borealis-db/borealis/internal/awsquery"
	"github.com/borealis-db/borealis/internal/scram"
	"github.com/borealis-db/borealis/internal/store"
)

// CreateDBCluster keeps a SCRAM-SHA-256 verifier with its own salt, never the password: two
// clusters with the same master name and password do not share a verifier.
func TestCreateDBClusterStoresASaltedSCRAMVerifier(t *testing.T) {
	s := newTestService(t)
	ctx := context.Background()
	newCluster(t, s, "c1")
	newCluster(t, s, "c2")
	c1, _ := s.store.Cluster(ctx, "c1")
	c2, _ := s.store.Cluster(ctx, "c2")
	if !scram.IsVerifier(c1.MasterPasswordVerifier) || c1.MasterPasswordVerifier == c2.MasterPasswordVerifier {
		t.Fatalf("verifiers %q and %q", c1.MasterPasswordVerifier, c2.MasterPasswordVerifier)
	}
	doc, err := json.Marshal(c1)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(doc), "S3cret-pass!") {
		t.Fatal("the store holds the password")
	}
}

// A bad MasterUserPassword is refused with CreateDBCluster's errors, names no password,
// and leaves the cluster as it was.
func TestModifyDBClusterRefusesBadMasterPassword(t *testing.T) {
	s := newTestService(t)
	ctx := context.Background()
	newCluster(t, s, "c1")
	setStatus(t, s, "c1", store.StatusAvailable)
	before, _ := s.store.Cluster(ctx, "c1")
	for _, pw := range []string{"", "short1!", "has space 123", "slash/pass123", "at@pass1234", `quote"pass123`, "caf\u00e9-pass-123",
		strings.Repeat("a", 129)} {
		_, err := s.Do(ctx, "ModifyDBCluster", query("DBClusterIdentifier", "c1", "MasterUserPassword", pw, "ApplyImmediately", "true"))
		e := awsquery.AsError(err)
		if e == nil || e.Code != "InvalidParameterValue" || e.Status != http.StatusBadRequest {
			t.Errorf("%q: %v", pw, err)
			continue
		}
		if pw != "" && strings.Contains(e.Error(), pw) {
			t.Errorf("error for %q repeats the password: %v", pw, e)
		}
	}
	after, _ := s.store.Cluster(ctx, "c1")
	if after.Status != store.StatusAvailable || after.MasterPasswordVerifier != before.MasterPasswordVerifier {
		t.Fatalf("a refused modify changed the cluster: status %s", after.Status)
	}
}

// A new master password: the cluster is resetting-master-credentials with a new verifier
// until the reconciler applied it; the response shows the change as "****" only; a second
// modify meanwhile is refused.
func TestModifyDBClusterMasterPassword(t *testing.T) {
	s := newTestService(t)
	ctx := context.Background()
	newCluster(t, s, "c1")
	setStatus(t, s, "c1", store.StatusAvailable)
	before, _ := s.store.Cluster(ctx, "c1")
	const pw = "N3w-master-pass"
	out, err := s.Do(ctx, "ModifyDBCluster", query("DBClusterIdentifier", "C1", "MasterUserPassword", pw))
	if err != nil {
		t.Fatal(err)
	}
	body, err := xml.Marshal(out)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(body), "<Status>resetting-master-credentials</Status>") ||
		!strings.Contains(string(body), "<PendingModifiedValues><MasterUserPassword>****</MasterUserPassword></PendingModifiedValues>") {
		t.Errorf("response: %s", body)
	}
	after, _ := s.store.Cluster(ctx, "c1")
	if !scram.IsVerifier(after.MasterPasswordVerifier) || after.MasterPasswordVerifier == before.MasterPasswordVerifier {
		t.Fatalf("verifier not replaced")
	}
	for _, secret := range []string{pw, after.MasterPasswordVerifier, strings.Split(after.MasterPasswordVerifier, "$")[2]} {
		if strings.Contains(string(body), secret) {
			t.Errorf("response holds %q", secret)
		}
	}
	_, err = s.Do(ctx, "ModifyDBCluster", query("DBClusterIdentifier", "c1", "MasterUserPassword", "An0ther-pass"))
	if code(err) != "InvalidDBClusterStateFault" {
		t.Errorf("second modify while resetting: %v", err)
	}
	setStatus(t, s, "c1", store.StatusAvailable)
	out, _ = s.Do(ctx, "DescribeDBClusters", query("DBClusterIdentifier", "c1"))
	if body, _ := xml.Marshal(out); strings.Contains(string(body), "PendingModifiedValues") {
		t.Errorf("applied reset still pending: %s", body)
	}
}

func setStatus(t *testing.T, s *Service, id string, status store.Status) {
	t.Helper()
	if _, err := s.store.UpdateCluster(context.Background(), id, func(c *store.Cluster) error {
		c.Status = status
		return nil
	}); err != nil {
		t.Fatal(err)
	}
}
