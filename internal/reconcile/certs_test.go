package reconcile

import (
	"context"
	"crypto/x509"
	"log/slog"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/borealis-db/borealis/internal/pki"
	"github.com/borealis-db/borealis/internal/store"
)

// TestServerCertificatesFollowTheInstanceCAAndAreRenewed: a certificate is issued from the
// instance's CA, kept while it is good, replaced when the CA changes or when less than
// CertRenewBefore is left.
func TestServerCertificatesFollowTheInstanceCAAndAreRenewed(t *testing.T) {
	ctx := context.Background()
	st, err := store.Open(ctx, filepath.Join(t.TempDir(), "state.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	legacy, key, err := pki.NewCA(store.LegacyCAIdentifier, "test", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	st.InitMeta(ctx, "ca_key", string(key))
	st.InitMeta(ctx, "ca_cert", string(legacy.CertPEM))
	ecc, key, err := pki.NewCAOf(pki.ECC384, "borealis-ca-ecc384-g1", "test", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if err := st.AddCertificateAuthority(ctx, store.CertificateAuthority{ID: ecc.Identifier, CertPEM: string(ecc.CertPEM), KeyPEM: string(key)}, false); err != nil {
		t.Fatal(err)
	}
	r := New(Config{EndpointAddrs: []string{"127.0.0.1"}, CertValidity: time.Hour, CertRenewBefore: 10 * time.Minute}, st, nil, nil, slog.New(slog.DiscardHandler))
	c := store.Cluster{ID: "c1", Endpoint: "c1.cluster-x.test", ReaderEndpoint: "c1.cluster-ro-x.test"}
	m := store.Instance{ID: "i1", Endpoint: "i1.x.test", Writer: true}

	m, issued, err := r.ensureCert(ctx, c, m)
	if err != nil || !issued || m.CertCA != store.LegacyCAIdentifier {
		t.Fatalf("first issue: %v %v %s", issued, err, m.CertCA)
	}
	leaf := verify(t, m.CertPEM, legacy, "c1.cluster-x.test", "c1.cluster-ro-x.test", "i1.x.test")
	if d := time.Until(leaf.NotAfter); d > time.Hour || d < 50*time.Minute {
		t.Errorf("validity left %v, want the hour configured", d)
	}
	if _, issued, _ := r.ensureCert(ctx, c, m); issued {
		t.Error("a good certificate was replaced")
	}
	first := m

	m.CAIdentifier = ecc.Identifier
	m, issued, err = r.ensureCert(ctx, c, m)
	if err != nil || !issued || m.CertCA != ecc.Identifier {
		t.Fatalf("CA change: %v %v %s", issued, err, m.CertCA)
	}
	verify(t, m.CertPEM, ecc, "c1.cluster-x.test")
	second := m

	r.cfg.CertRenewBefore = 2 * time.Hour // the certificate now ends "soon"
	renewed, issued, err := r.ensureCert(ctx, c, m)
	if err != nil || !issued || string(renewed.CertPEM) == string(m.CertPEM) || renewed.CertCA != ecc.Identifier {
		t.Fatalf("renewal: %v %v", issued, err)
	}

	m.CAIdentifier = "borealis-ca-ecc384-g9"
	if _, _, err := r.ensureCert(ctx, c, m); err == nil {
		t.Error("issued from a CA that does not exist")
	}

	// Once served, a CA change and a renewal are events; a first certificate, or one
	// issued again while far from its end (new names), is none.
	r.cfg.Events = st
	r.emitCertChange(ctx, store.Instance{}, first)
	r.emitCertChange(ctx, first, second)
	r.emitCertChange(ctx, second, renewed) // CertRenewBefore 2h: second ends "soon"
	r.cfg.CertRenewBefore = 10 * time.Minute
	r.emitCertChange(ctx, second, renewed)
	events, err := st.Events(ctx, store.EventQuery{SourceID: "i1", End: time.Now().Add(time.Hour), Limit: 10})
	if err != nil {
		t.Fatal(err)
	}
	leaf = verify(t, renewed.CertPEM, ecc)
	want := []string{"Finished applying modification to certificate authority",
		"The server certificate was renewed before it expires. The new certificate is issued by borealis-ca-ecc384-g1 and valid until " + leaf.NotAfter.UTC().Format(time.RFC3339)}
	var got []string
	for _, e := range events {
		got = append(got, e.Message)
	}
	if !slices.Equal(got, want) {
		t.Errorf("events %q, want %q", got, want)
	}
	if len(events) == 2 && (events[0].Categories[0] != "configuration change" || events[1].Categories[0] != "notification" || events[1].EventID != "RDS-EVENT-0044") {
		t.Errorf("events %+v", events)
	}
}

func verify(t *testing.T, certPEM []byte, ca *pki.CA, names ...string) *x509.Certificate {
	t.Helper()
	leaf, err := pki.ParseCertificate(certPEM)
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	roots.AddCert(ca.Cert)
	for _, n := range names {
		if _, err := leaf.Verify(x509.VerifyOptions{DNSName: n, Roots: roots}); err != nil {
			t.Errorf("verify %s against %s: %v", n, ca.Identifier, err)
		}
	}
	return leaf
}
