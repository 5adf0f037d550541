package pki

import (
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
