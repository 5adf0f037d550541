package gateway

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"time"
)

// A cluster's endpoints share its port and addresses, as on RDS, where they differ only
// by name. A TLS client names the endpoint it wants in its ClientHello (SNI: libpq, pgx,
// JDBC and node-postgres send the host name), so an endpoint whose Target has Pick hands
// the SSLRequest's answer itself, reads the ClientHello, lets Pick choose the server by
// that name, and then plays the server the same SSLRequest and ClientHello: TLS still
// runs end to end between the client and PostgreSQL. Plaintext startups carry no name and
// go to the Target itself (the writer). Kernel steering decides at the SYN, before any
// name is known, so such an endpoint is relayed (the kernel still applies the security
// groups).

// errHelloRead stops the TLS handshake used to read a ClientHello.
var errHelloRead = errors.New("client hello read")

// helloConn hands crypto/tls the client's bytes, keeping a copy, and swallows what the
// aborted handshake would write back.
type helloConn struct {
	net.Conn
	seen bytes.Buffer
}

func (c *helloConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	c.seen.Write(p[:n])
	return n, err
}

func (c *helloConn) Write(p []byte) (int, error) { return len(p), nil }

// readClientHello reads the client's ClientHello and returns the name it asks for ("" for
// none) and every byte read, to be replayed to the server.
func readClientHello(client net.Conn) (string, []byte, error) {
	hc := &helloConn{Conn: client}
	name, got := "", false
	err := tls.Server(hc, &tls.Config{GetConfigForClient: func(h *tls.ClientHelloInfo) (*tls.Config, error) {
		name, got = h.ServerName, true
		return nil, errHelloRead
	}}).Handshake()
	if !got {
		if err == nil {
			err = errors.New("no ClientHello")
		}
		return "", nil, err
	}
	return name, hc.seen.Bytes(), nil
}

// pickByName serves an SSLRequest (head) on an endpoint whose target has Pick: it answers
// 'S', reads the ClientHello, and dials the server Pick chooses for its name, which has
// then been sent the SSLRequest and the ClientHello. It returns nil (having counted the
// refusal) when the client goes or no server serves the name.
func (g *Gateway) pickByName(ep *endpoint, client net.Conn, head []byte, target Target, refused func(string)) (net.Conn, int64) {
	if _, err := client.Write([]byte{'S'}); err != nil {
		return nil, 0
	}
	_ = client.SetReadDeadline(time.Now().Add(30 * time.Second))
	name, hello, err := readClientHello(client)
	if err != nil {
		return nil, 0
	}
	_ = client.SetReadDeadline(time.Time{})
	t, ok := target.Pick(name)
	if !ok {
		g.log.Info(logNoServer, "endpoint", ep.name, "source", client.RemoteAddr().String(), "name", name)
		refused(reasonNoServer)
		resetOnClose(client)
		return nil, 0
	}
	if !g.relayTargetIsServer(ep.name+" "+t.Addr, t) {
		g.log.Error("connection refused: a process other than the server listens on its private port", "endpoint", ep.name, "backend", t.Addr, "postmaster", t.PID)
		refused("server-impostor")
		resetOnClose(client)
		return nil, 0
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	server, err := relayDialer.DialContext(ctx, "tcp", t.Addr)
	cancel()
	if err != nil {
		g.log.Warn("backend unreachable", "endpoint", ep.name, "backend", t.Addr, "err", err)
		refused("server-unreachable")
		resetOnClose(client)
		return nil, 0
	}
	var answer [1]byte
	_ = server.SetReadDeadline(time.Now().Add(10 * time.Second))
	if _, err := server.Write(head); err != nil {
		server.Close()
		return nil, 0
	}
	if _, err := io.ReadFull(server, answer[:]); err != nil || answer[0] != 'S' {
		g.log.Warn("backend refused TLS", "endpoint", ep.name, "backend", t.Addr, "err", err)
		server.Close()
		refused("server-unreachable")
		resetOnClose(client)
		return nil, 0
	}
	_ = server.SetReadDeadline(time.Time{})
	if _, err := server.Write(hello); err != nil {
		server.Close()
		return nil, 0
	}
	return server, int64(len(head) + len(hello))
}

// cancelEverywhere passes a CancelRequest (head, then the process id and secret key) to
// every server of the endpoint: the key is the issuing server's alone, so the others do
// nothing with it, and the client, which expects no answer, is then closed.
func (g *Gateway) cancelEverywhere(ep *endpoint, client net.Conn, head []byte, servers []Target) {
	var key [8]byte
	if _, err := io.ReadFull(client, key[:]); err != nil {
		return
	}
	msg := append(append([]byte(nil), head...), key[:]...)
	for _, t := range servers {
		if !g.relayTargetIsServer(ep.name+" "+t.Addr, t) {
			continue
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		server, err := relayDialer.DialContext(ctx, "tcp", t.Addr)
		cancel()
		if err != nil {
			continue
		}
		server.Write(msg)
		server.Close()
	}
}
