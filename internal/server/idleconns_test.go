package server

import (
	"bufio"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/big"
	"net"
	"net/http"
	"os"
	"testing"
	"time"
)

// testTLS is a self-signed server configuration.
func testTLS(t *testing.T) *tls.Config {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		DNSNames: []string{"api"}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	return &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key}}}
}

// capped serves on listenHTTP's listener with a total cap of max (TLS when tlsOn): /slow
// answers once release is closed, anything else at once.
func capped(t *testing.T, max int, tlsOn bool, release chan struct{}) (addr string, dial func(src string) net.Conn) {
	t.Helper()
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/slow" {
			<-release
		}
		io.WriteString(w, "ok")
	})
	hl, err := listenHTTP("127.0.0.1:0", h, HTTPLimits{MaxConns: max}, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	addr = hl.ln.Addr().String()
	ln := hl.ln
	if tlsOn {
		ln = tls.NewListener(ln, testTLS(t))
	}
	go hl.srv.Serve(ln)
	t.Cleanup(func() {
		select {
		case <-release:
		default:
			close(release)
		}
		hl.srv.Close()
	})
	return addr, func(src string) net.Conn {
		c := dialFrom(t, src, addr)
		if tlsOn {
			return tls.Client(c, &tls.Config{InsecureSkipVerify: true})
		}
		return c
	}
}

// request sends one request for path on c and reads the answer within wait.
func request(c net.Conn, path string, wait time.Duration) error {
	c.SetDeadline(time.Now().Add(wait))
	if _, err := fmt.Fprintf(c, "GET %s HTTP/1.1\r\nHost: api\r\n\r\n", path); err != nil {
		return err
	}
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		return err
	}
	_, err = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return err
}

// closedByServer reports whether the server closed c (a read ends with EOF or a reset)
// within wait.
func closedByServer(c net.Conn, wait time.Duration) bool {
	c.SetReadDeadline(time.Now().Add(wait))
	_, err := c.Read(make([]byte, 1))
	return err != nil && !errors.Is(err, os.ErrDeadlineExceeded)
}

// A flood of kept-alive connections that sit idle cannot fill the cap: near it, a
// connection that goes idle is closed, so clients keep being served. Over TLS too.
func TestIdleConnectionsCannotFillTheCap(t *testing.T) {
	for _, tlsOn := range []bool{false, true} {
		t.Run(fmt.Sprintf("tls=%v", tlsOn), func(t *testing.T) {
			_, dial := capped(t, 4, tlsOn, make(chan struct{}))
			var open []net.Conn
			for i := 1; i <= 12; i++ {
				c := dial(fmt.Sprintf("127.0.0.%d", i))
				start := time.Now()
				if err := request(c, "/", 5*time.Second); err != nil {
					t.Fatalf("client %d, after %d idle connections: %v, want it served", i, i-1, err)
				}
				if d := time.Since(start); d > 2*time.Second {
					t.Errorf("client %d waited %v", i, d)
				}
				open = append(open, c)
			}
			closed := 0
			for _, c := range open {
				if closedByServer(c, 200*time.Millisecond) {
					closed++
				}
			}
			if closed < len(open)-3 {
				t.Errorf("%d of %d idle connections closed, want all but those below the cap", closed, len(open))
			}
		})
	}
}

// When every place is taken and serve would accept one more, the idle connections are
// closed at once, while the requests under way are left to finish.
func TestIdleConnectionsGiveWayAtTheCap(t *testing.T) {
	release := make(chan struct{})
	_, dial := capped(t, 4, false, release)
	var idle []net.Conn
	for i := 1; i <= 2; i++ {
		c := dial(fmt.Sprintf("127.0.0.%d", i))
		if err := request(c, "/", 10*time.Second); err != nil {
			t.Fatal(err)
		}
		idle = append(idle, c)
	}
	var busy []net.Conn
	for i := 3; i <= 4; i++ {
		c := dial(fmt.Sprintf("127.0.0.%d", i))
		c.SetDeadline(time.Now().Add(20 * time.Second))
		if _, err := fmt.Fprintf(c, "GET /slow HTTP/1.1\r\nHost: api\r\n\r\n"); err != nil {
			t.Fatal(err)
		}
		busy = append(busy, c)
	}
	for i, c := range idle {
		if !closedByServer(c, 5*time.Second) {
			t.Errorf("idle connection %d still open with every place taken", i)
		}
	}
	if err := request(dial("127.0.0.5"), "/", 5*time.Second); err != nil {
		t.Fatalf("a new client: %v", err)
	}
	close(release)
	for i, c := range busy {
		resp, err := http.ReadResponse(bufio.NewReader(c), nil)
		if err != nil {
			t.Fatalf("request %d under way was cut: %v", i, err)
		}
		resp.Body.Close()
	}
}

// Below the cap's last eighth kept-alive connections stay open as usual.
func TestIdleConnectionsStayBelowTheCap(t *testing.T) {
	_, dial := capped(t, 16, false, make(chan struct{}))
	c := dial("127.0.0.1")
	for range 3 {
		if err := request(c, "/", 10*time.Second); err != nil {
			t.Fatalf("keep-alive below the cap: %v", err)
		}
	}
	if closedByServer(c, 300*time.Millisecond) {
		t.Fatal("an idle connection was closed far below the cap")
	}
}

// New connections that send nothing cannot hold the cap for the whole header timeout
// (10 s): when serve has no place for one more, those silent for half of it are closed.
func TestStalledNewConnectionsGiveWayAtTheCap(t *testing.T) {
	_, dial := capped(t, 4, false, make(chan struct{}))
	for i := 1; i <= 4; i++ {
		dial(fmt.Sprintf("127.0.0.%d", i)) // connects, sends nothing
	}
	start := time.Now()
	if err := request(dial("127.0.0.5"), "/", 9*time.Second); err != nil {
		t.Fatalf("a client behind four silent connections: %v, want it served before their header timeout", err)
	}
	if d := time.Since(start); d > DefaultHTTPLimits.ReadHeader*3/4 {
		t.Errorf("served after %v", d)
	}
}
