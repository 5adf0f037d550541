// Package pki holds the service's certificate authority and issues the server certificates
// whose common name is a cluster endpoint, so that clients can use sslmode=verify-full.
package pki

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"strconv"
	"strings"
	"time"
)

// DefaultCAIdentifier is the RDS name of the CA new instances use, as on RDS.
const DefaultCAIdentifier = "rds-ca-rsa2048-g1"

// CA is a certificate authority: the root of the trust bundle clients download.
type CA struct {
	Identifier string
	Cert       *x509.Certificate
	CertPEM    []byte
	key        crypto.Signer
}

// KeyType is the kind of key a CA (and the server certificates it issues) uses, named as
// in RDS's CA identifiers (rds-ca-rsa2048-g1, rds-ca-ecc384-g1, ...).
type KeyType string

// The key types RDS offers.
const (
	RSA2048 KeyType = "rsa2048"
	RSA4096 KeyType = "rsa4096"
	ECC384  KeyType = "ecc384"
)

// ParseKeyType reads a key type as the command line and the store spell it.
func ParseKeyType(s string) (KeyType, error) {
	switch kt := KeyType(strings.ToLower(s)); kt {
	case RSA2048, RSA4096, ECC384:
		return kt, nil
	}
	return "", fmt.Errorf("pki: unknown key type %q (want ecc384, rsa2048 or rsa4096)", s)
}

// newKey makes a private key of type kt.
func newKey(kt KeyType) (crypto.Signer, error) {
	switch kt {
	case RSA2048:
		return rsa.GenerateKey(rand.Reader, 2048)
	case RSA4096:
		return rsa.GenerateKey(rand.Reader, 4096)
	case ECC384:
		return ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	}
	return nil, fmt.Errorf("pki: unknown key type %q", kt)
}

// NewCA makes a self-signed RSA 2048 root valid for 40 years, as RDS's roots are long-lived.
// It returns the CA and its private key in PEM, for the caller to keep 0600.
func NewCA(identifier, organization string, now time.Time) (*CA, []byte, error) {
	return NewCAOf(RSA2048, identifier, organization, now)
}

// NewCAOf is NewCA with a key of type kt.
func NewCAOf(kt KeyType, identifier, organization string, now time.Time) (*CA, []byte, error) {
	key, err := newKey(kt)
	if err != nil {
		return nil, nil, err
	}
	serial, err := newSerial()
	if err != nil {
		return nil, nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject: pkix.Name{
			CommonName:         "Borealis " + identifier + " Root CA",
			Organization:       []string{organization},
			OrganizationalUnit: []string{"Borealis RDS"},
		},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.AddDate(40, 0, 0),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
		MaxPathLenZero:        true,
		SubjectKeyId:          keyID(key.Public()),
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		return nil, nil, err
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, nil, err
	}
	ca, err := ParseCA(identifier, pemBlock("CERTIFICATE", der), pemBlock("PRIVATE KEY", keyDER))
	if err != nil {
		return nil, nil, err
	}
	return ca, pemBlock("PRIVATE KEY", keyDER), nil
}

// NextIdentifier names a new Borealis CA of type kt: borealis-ca-ecc384-g1, then -g2 once
// that exists, and so on, the way RDS numbers its CA generations.
func NextIdentifier(kt KeyType, existing []string) string {
	prefix := "borealis-ca-" + string(kt) + "-g"
	next := 1
	for _, id := range existing {
		rest, ok := strings.CutPrefix(id, prefix)
		if n, err := strconv.Atoi(rest); ok && err == nil && n >= next {
			next = n + 1
		}
	}
	return prefix + strconv.Itoa(next)
}

// KeyType is the type of the CA's key, which its server certificates share.
func (ca *CA) KeyType() KeyType { return keyTypeOf(ca.Cert.PublicKey) }

func keyTypeOf(pub any) KeyType {
	switch k := pub.(type) {
	case *ecdsa.PublicKey:
		return ECC384
	case *rsa.PublicKey:
		if k.N.BitLen() > 2048 {
			return RSA4096
		}
	}
	return RSA2048
}

// Thumbprint is the SHA-1 fingerprint of a certificate in hex, the form RDS shows.
func Thumbprint(cert *x509.Certificate) string {
	sum := sha1.Sum(cert.Raw)
	return fmt.Sprintf("%x", sum[:])
}

// ParseCA loads a CA from its certificate and PKCS#8 key in PEM.
func ParseCA(identifier string, certPEM, keyPEM []byte) (*CA, error) {
	cb, _ := pem.Decode(certPEM)
	if cb == nil || cb.Type != "CERTIFICATE" {
		return nil, errors.New("pki: CA certificate is not PEM")
	}
	cert, err := x509.ParseCertificate(cb.Bytes)
	if err != nil {
		return nil, fmt.Errorf("pki: CA certificate: %w", err)
	}
	kb, _ := pem.Decode(keyPEM)
	if kb == nil {
		return nil, errors.New("pki: CA key is not PEM")
	}
	k, err := x509.ParsePKCS8PrivateKey(kb.Bytes)
	if err != nil {
		return nil, fmt.Errorf("pki: CA key: %w", err)
	}
	signer, ok := k.(crypto.Signer)
	if !ok {
		return nil, errors.New("pki: CA key cannot sign")
	}
	return &CA{Identifier: identifier, Cert: cert, CertPEM: pemBlock("CERTIFICATE", cb.Bytes), key: signer}, nil
}

// ServerRequest names what a server certificate must be valid for.
type ServerRequest struct {
	CommonName string   // the cluster endpoint: RDS puts it in the CN
	DNSNames   []string // every endpoint name that reaches the server (CN included again: clients check SANs only)
	IPs        []net.IP // addresses to name too (the API's certificate); endpoint certificates name none
	Validity   time.Duration
}

// Issue signs a new server certificate with a key of the CA's type (an ECDSA P-384 key from
// an ecc384 CA, as RDS does). It returns the certificate and key in PEM.
func (ca *CA) Issue(req ServerRequest, now time.Time) (certPEM, keyPEM []byte, err error) {
	if req.CommonName == "" {
		return nil, nil, errors.New("pki: server certificate needs a common name")
	}
	validity := req.Validity
	if validity == 0 {
		validity = 395 * 24 * time.Hour // RDS server certificates last about a year
	}
	notAfter := now.Add(validity)
	if notAfter.After(ca.Cert.NotAfter) {
		notAfter = ca.Cert.NotAfter
	}
	key, err := newKey(ca.KeyType())
	if err != nil {
		return nil, nil, err
	}
	serial, err := newSerial()
	if err != nil {
		return nil, nil, err
	}
	usage := x509.KeyUsageDigitalSignature
	if _, isRSA := key.(*rsa.PrivateKey); isRSA {
		usage |= x509.KeyUsageKeyEncipherment // RSA key exchange; meaningless for ECDSA
	}
	dns := append([]string{req.CommonName}, req.DNSNames...)
	tmpl := &x509.Certificate{
		SerialNumber:   serial,
		Subject:        pkix.Name{CommonName: req.CommonName, Organization: ca.Cert.Subject.Organization},
		NotBefore:      now.Add(-time.Hour),
		NotAfter:       notAfter,
		KeyUsage:       usage,
		ExtKeyUsage:    []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		DNSNames:       dedupe(dns),
		IPAddresses:    req.IPs,
		AuthorityKeyId: ca.Cert.SubjectKeyId,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.Cert, key.Public(), ca.key)
	if err != nil {
		return nil, nil, err
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, nil, err
	}
	return pemBlock("CERTIFICATE", der), pemBlock("PRIVATE KEY", keyDER), nil
}

func newSerial() (*big.Int, error) {
	return rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
}

// keyID is the subject key identifier: RSA keys keep the PKCS#1 hash the first CA used,
// other keys hash their PKIX encoding.
func keyID(pub crypto.PublicKey) []byte {
	var der []byte
	if k, ok := pub.(*rsa.PublicKey); ok {
		der = x509.MarshalPKCS1PublicKey(k)
	} else {
		der, _ = x509.MarshalPKIXPublicKey(pub)
	}
	sum := sha256.Sum256(der)
	return sum[:20]
}

func pemBlock(typ string, der []byte) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der})
}

func dedupe(in []string) []string {
	seen := make(map[string]bool, len(in))
	out := in[:0:0]
	for _, s := range in {
		if s != "" && !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	return out
}

// ParseCertificate reads the first certificate of a PEM chain.
func ParseCertificate(certPEM []byte) (*x509.Certificate, error) {
	b, _ := pem.Decode(certPEM)
	if b == nil || b.Type != "CERTIFICATE" {
		return nil, errors.New("pki: not a PEM certificate")
	}
	return x509.ParseCertificate(b.Bytes)
}
