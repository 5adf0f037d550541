package server

import (
	"crypto/tls"
	"net"
	"os"
	"time"

	"github.com/borealis-db/borealis/internal/pki"
)

// apiTLS is the API and console's TLS configuration: a certificate from the service's own
// CA, so that clients trusting global-bundle.pem verify it, naming the API's address,
// localhost and this host's name. It is issued at each start and kept in memory only.
func apiTLS(ca *pki.CA, apiAddr string, now time.Time) (*tls.Config, error) {
	host, _, err := net.SplitHostPort(apiAddr)
	if err != nil {
		return nil, err
	}
	req := pki.ServerRequest{CommonName: "localhost", DNSNames: []string{"localhost"}, IPs: []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback}}
	if ip := net.ParseIP(host); ip != nil && !ip.IsUnspecified() {
		req.IPs = append(req.IPs, ip)
	} else if host != "" && ip == nil {
		req.DNSNames = append(req.DNSNames, host)
	}
	if name, err := os.Hostname(); err == nil && name != "" {
		req.DNSNames = append(req.DNSNames, name)
	}
	certPEM, keyPEM, err := ca.Issue(req, now)
	if err != nil {
		return nil, err
	}
	cert, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		return nil, err
	}
	return &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}, nil
}
