package pki

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/tls"
	"crypto/x509"
	"net"
	"testing"
	"time"
)

func TestServerCertificateVerifiesForEndpointNameOnly(t *testing.T) {
	now := time.Now()
	ca, keyPEM, err := NewCA(DefaultCAIdentifier, "Borealis test", now)
	if err != nil {
		t.Fatal(err)
	}
	// A CA reloaded from its PEM files signs the same way.
	ca, err = ParseCA(DefaultCAIdentifier, ca.CertPEM, keyPEM)
	if err != nil {
		t.Fatal(err)
	}
	certPEM, srvKeyPEM, err := ca.Issue(ServerRequest{
		CommonName: "prod.cluster-abc.us-east-1.rds.example",
		DNSNames:   []string{"prod.cluster-ro-abc.us-east-1.rds.example"},
		IPs:        []net.IP{net.ParseIP("127.0.0.1")},
	}, now)
	if err != nil {
		t.Fatal(err)
	}
	pair, err := tls.X509KeyPair(certPEM, srvKeyPEM)
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := x509.ParseCertificate(pair.Certificate[0])
	if err != nil {
		t.Fatal(err)
	}
	if leaf.Subject.CommonName != "prod.cluster-abc.us-east-1.rds.example" {
		t.Errorf("CN = %q, want the cluster endpoint", leaf.Subject.CommonName)
	}
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(ca.CertPEM)
	for _, name := range []string{"prod.cluster-abc.us-east-1.rds.example", "prod.cluster-ro-abc.us-east-1.rds.example", "127.0.0.1"} {
		if _, err := leaf.Verify(x509.VerifyOptions{DNSName: name, Roots: roots}); err != nil {
			t.Errorf("verify %s: %v", name, err)
		}
	}
	if _, err := leaf.Verify(x509.VerifyOptions{DNSName: "other.cluster-abc.us-east-1.rds.example", Roots: roots}); err == nil {
		t.Error("certificate verified for a name it was not issued for")
	}
	other, _, err := NewCA(DefaultCAIdentifier, "someone else", now)
	if err != nil {
		t.Fatal(err)
	}
	otherRoots := x509.NewCertPool()
	otherRoots.AppendCertsFromPEM(other.CertPEM)
	if _, err := leaf.Verify(x509.VerifyOptions{DNSName: leaf.Subject.CommonName, Roots: otherRoots}); err == nil {
		t.Error("certificate verified against an unrelated CA")
	}
}

// TestECC384CAIssuesECDSAServerCertificates: an ecc384 CA signs P-384 server certificates
// that a TLS client trusting only that CA accepts for the endpoint name.
func TestECC384CAIssuesECDSAServerCertificates(t *testing.T) {
	now := time.Now()
	ca, keyPEM, err := NewCAOf(ECC384, "borealis-ca-ecc384-g1", "Borealis test", now)
	if err != nil {
		t.Fatal(err)
	}
	if ca, err = ParseCA(ca.Identifier, ca.CertPEM, keyPEM); err != nil {
		t.Fatal(err)
	}
	if ca.KeyType() != ECC384 {
		t.Fatalf("key type %s", ca.KeyType())
	}
	if pub, ok := ca.Cert.PublicKey.(*ecdsa.PublicKey); !ok || pub.Curve != elliptic.P384() {
		t.Fatalf("CA key %T, want ECDSA P-384", ca.Cert.PublicKey)
	}
	certPEM, srvKeyPEM, err := ca.Issue(ServerRequest{CommonName: "db.cluster-x.test", Validity: time.Hour}, now)
	if err != nil {
		t.Fatal(err)
	}
	pair, err := tls.X509KeyPair(certPEM, srvKeyPEM)
	if err != nil {
		t.Fatal(err)
	}
	leaf, _ := x509.ParseCertificate(pair.Certificate[0])
	if _, ok := leaf.PublicKey.(*ecdsa.PublicKey); !ok {
		t.Errorf("server key %T, want ECDSA", leaf.PublicKey)
	}
	if d := leaf.NotAfter.Sub(now); d > time.Hour || d < 59*time.Minute {
		t.Errorf("validity %v, want the hour asked for", d)
	}
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(ca.CertPEM)
	if _, err := leaf.Verify(x509.VerifyOptions{DNSName: "db.cluster-x.test", Roots: roots}); err != nil {
		t.Errorf("verify: %v", err)
	}
	// A client pinned to an older RSA CA must not accept it.
	old, _, err := NewCA(DefaultCAIdentifier, "Borealis test", now)
	if err != nil {
		t.Fatal(err)
	}
	oldRoots := x509.NewCertPool()
	oldRoots.AppendCertsFromPEM(old.CertPEM)
	if _, err := leaf.Verify(x509.VerifyOptions{DNSName: "db.cluster-x.test", Roots: oldRoots}); err == nil {
		t.Error("verified against a CA that did not sign it")
	}
	if tp := Thumbprint(ca.Cert); len(tp) != 40 {
		t.Errorf("thumbprint %q", tp)
	}
}

func TestNextIdentifierCountsGenerations(t *testing.T) {
	cases := []struct {
		kt       KeyType
		existing []string
		want     string
	}{
		{ECC384, []string{"rds-ca-rsa2048-g1"}, "borealis-ca-ecc384-g1"},
		{ECC384, []string{"rds-ca-rsa2048-g1", "borealis-ca-ecc384-g1"}, "borealis-ca-ecc384-g2"},
		{RSA2048, []string{"rds-ca-rsa2048-g1", "borealis-ca-ecc384-g3"}, "borealis-ca-rsa2048-g1"},
		{RSA4096, []string{"borealis-ca-rsa4096-g2", "borealis-ca-rsa4096-gx"}, "borealis-ca-rsa4096-g3"},
	}
	for _, c := range cases {
		if got := NextIdentifier(c.kt, c.existing); got != c.want {
			t.Errorf("NextIdentifier(%s, %v) = %s, want %s", c.kt, c.existing, got, c.want)
		}
	}
	if _, err := ParseKeyType("dsa1024"); err == nil {
		t.Error("unknown key type accepted")
	}
}
