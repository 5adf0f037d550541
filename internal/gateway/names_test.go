package gateway

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/binary"
	"io"
	"math/big"
	"net"
	"sync"
	"testing"
	"time"
)

// tlsBackend stands in for PostgreSQL: it answers an SSLRequest with 'S', then runs TLS as
// name (its certificate's only name) and writes name to the client.
func tlsBackend(t *testing.T, name string) string {
	t.Helper()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: name}, DNSNames: []string{name},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cfg := &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key}}}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				var req [8]byte
				if _, err := io.ReadFull(c, req[:]); err != nil || binary.BigEndian.Uint32(req[4:]) != sslRequestCode {
					return
				}
				c.Write([]byte{'S'})
				tc := tls.Server(c, cfg)
				if tc.Handshake() == nil {
					tc.Write([]byte(name))
				}
			}()
		}
	}()
	return ln.Addr().String()
}

// dialByName opens a PostgreSQL TLS session to addr asking for name (SNI) and returns who
// answered, or "" when the gateway ended the connection.
func dialByName(t *testing.T, addr, name string) string {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	req := make([]byte, 8)
	binary.BigEndian.PutUint32(req, 8)
	binary.BigEndian.PutUint32(req[4:], sslRequestCode)
	c.Write(req)
	var s [1]byte
	if _, err := io.ReadFull(c, s[:]); err != nil || s[0] != 'S' {
		return ""
	}
	tc := tls.Client(c, &tls.Config{ServerName: name, InsecureSkipVerify: true})
	if err := tc.Handshake(); err != nil {
		return ""
	}
	if got := tc.ConnectionState().PeerCertificates[0].Subject.CommonName; got != name && name != "" {
		t.Errorf("asked for %s, the certificate is %s's", name, got)
	}
	b, _ := io.ReadAll(tc)
	return string(b)
}

// An endpoint whose target has Pick sends each TLS connection where the name in its
// ClientHello says, with the SSLRequest and ClientHello replayed to that server; a name
// Pick refuses ends the connection; no name goes where Pick says for "".
func TestPickSendsAConnectionByTheNameItAsksFor(t *testing.T) {
	servers := map[string]string{"w.test": tlsBackend(t, "w.test"), "r.test": tlsBackend(t, "r.test")}
	var mu sync.Mutex
	var asked []string
	pick := func(name string) (Target, bool) {
		mu.Lock()
		asked = append(asked, name)
		mu.Unlock()
		switch name {
		case "down.test":
			return Target{}, false
		case "r.test":
			return Target{Addr: servers["r.test"]}, true
		}
		return Target{Addr: servers["w.test"]}, true
	}
	addr := newGateway(t, func() (Target, bool) {
		return Target{Addr: servers["w.test"], Admission: loopback, Pick: pick}, true
	})
	for name, want := range map[string]string{"r.test": "r.test", "w.test": "w.test", "down.test": ""} {
		if got := dialByName(t, addr, name); got != want {
			t.Errorf("asking for %s reached %q, want %q", name, got, want)
		}
	}
	// A client that asks for no name (a bare address) goes where Pick sends "".
	if got := dialByName(t, addr, ""); got != "w.test" {
		t.Errorf("no name reached %q", got)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(asked) != 4 {
		t.Errorf("Pick asked %v", asked)
	}
}

// A GSSAPI encryption request on such an endpoint is declined by the gateway itself, so
// that the SSLRequest that follows still chooses the server by name.
func TestPickDeclinesGSSEncryptionAndStillChoosesByName(t *testing.T) {
	r := tlsBackend(t, "r.test")
	addr := newGateway(t, func() (Target, bool) {
		return Target{Addr: tlsBackend(t, "w.test"), Admission: loopback, Pick: func(name string) (Target, bool) {
			return Target{Addr: r}, name == "r.test"
		}}, true
	})
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	req := make([]byte, 8)
	binary.BigEndian.PutUint32(req, 8)
	binary.BigEndian.PutUint32(req[4:], gssEncRequestCode)
	c.Write(req)
	var b [1]byte
	if _, err := io.ReadFull(c, b[:]); err != nil || b[0] != 'N' {
		t.Fatalf("answer to GSSENCRequest: %q %v", b, err)
	}
	binary.BigEndian.PutUint32(req[4:], sslRequestCode)
	c.Write(req)
	if _, err := io.ReadFull(c, b[:]); err != nil || b[0] != 'S' {
		t.Fatalf("answer to SSLRequest: %q %v", b, err)
	}
	tc := tls.Client(c, &tls.Config{ServerName: "r.test", InsecureSkipVerify: true})
	if got, _ := io.ReadAll(tc); string(got) != "r.test" {
		t.Errorf("reached %q, want r.test", got)
	}
}

// A CancelRequest names no endpoint: it reaches every server Servers lists.
func TestCancelRequestReachesEveryServer(t *testing.T) {
	got := make(chan string, 4)
	backend := func(name string) string {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { ln.Close() })
		go func() {
			for {
				c, err := ln.Accept()
				if err != nil {
					return
				}
				var msg [16]byte
				if _, err := io.ReadFull(c, msg[:]); err == nil && binary.BigEndian.Uint32(msg[4:]) == cancelRequestCode {
					got <- name
				}
				c.Close()
			}
		}()
		return ln.Addr().String()
	}
	w, r := backend("w"), backend("r")
	addr := newGateway(t, func() (Target, bool) {
		return Target{Addr: w, Admission: loopback,
			Pick:    func(string) (Target, bool) { return Target{Addr: w}, true },
			Servers: func() []Target { return []Target{{Addr: w}, {Addr: r}} }}, true
	})
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	msg := make([]byte, 16)
	binary.BigEndian.PutUint32(msg, 16)
	binary.BigEndian.PutUint32(msg[4:], cancelRequestCode)
	c.Write(msg)
	c.Close()
	seen := map[string]bool{}
	for range 2 {
		select {
		case n := <-got:
			seen[n] = true
		case <-time.After(5 * time.Second):
			t.Fatalf("the cancel reached %v only", seen)
		}
	}
}
