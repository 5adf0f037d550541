package dbauth

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"os"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"
)

// bindRequest encodes what PostgreSQL's ldap method sends: an LDAPv3 simple bind.
func bindRequest(id byte, dn, password string) []byte {
	op := append(encode(tagInteger, []byte{3}), encode(tagOctetString, []byte(dn))...)
	op = append(op, encode(tagSimpleAuth, []byte(password))...)
	return encode(tagSequence, append(encode(tagInteger, []byte{id}), encode(tagBindRequest, op)...))
}

func TestLDAPResponderAnswersBindsWithTheVerdict(t *testing.T) {
	var got []string
	s, err := ListenLDAP("127.0.0.1:0", func(_ context.Context, dn, pw string) error {
		got = append(got, dn)
		if pw == strings.Repeat("t", 1500) { // a token-sized password: long-form lengths
			return nil
		}
		return errors.New("no")
	}, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	c, err := net.Dial("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(s.Port())))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	r := bufio.NewReader(c)
	result := func() int {
		tag, msg, err := readTLV(r)
		if err != nil || tag != tagSequence {
			t.Fatalf("response: %v", err)
		}
		_, op, body, err := parseMessage(msg)
		if err != nil || op != tagBindResponse {
			t.Fatalf("not a BindResponse: %x %v", op, err)
		}
		els, _ := elements(body)
		return int(els[0].body[0])
	}
	c.Write(bindRequest(1, "cluster-abc/app", "wrong"))
	if code := result(); code != resultInvalidCredentials {
		t.Fatalf("wrong password: result %d", code)
	}
	c.Write(bindRequest(2, "cluster-abc/app", strings.Repeat("t", 1500)))
	if code := result(); code != resultSuccess {
		t.Fatalf("right token: result %d", code)
	}
	if len(got) != 2 || got[1] != "cluster-abc/app" {
		t.Fatalf("binds seen: %v", got)
	}
	c.Write(encode(tagSequence, append(encode(tagInteger, []byte{3}), tagUnbindRequest, 0)))
	if _, err := r.ReadByte(); err == nil {
		t.Fatal("the connection stayed open after an unbind")
	}
}

// A BER length alone (a few bytes from any local process) allocates nothing: the body
// grows as its bytes arrive.
func TestALengthAloneAllocatesNothing(t *testing.T) {
	header := []byte{tagSequence, 0x83, 0x00, 0xff, 0xff} // 65,535 bytes announced, none sent
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	for range 100 {
		if _, _, err := readTLV(bufio.NewReader(bytes.NewReader(header))); err == nil {
			t.Fatal("a truncated element was read")
		}
	}
	runtime.ReadMemStats(&after)
	if grew := after.TotalAlloc - before.TotalAlloc; grew > 100*8<<10 {
		t.Fatalf("100 announced lengths allocated %d bytes; want what their buffers need, not 6.5 MB", grew)
	}
}

// One account's idle connections are capped, and do not keep another account's server
// from its binds: any local process can connect to the responder.
func TestOneAccountsIdleConnectionsDoNotStarveAnother(t *testing.T) {
	if os.Getenv(backendChildEnv) != "" {
		t.Skip("the child's own run")
	}
	client, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	holdConnections(client)
	s, err := ListenLDAP("127.0.0.1:0", func(context.Context, string, string) error { return nil }, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(s.Port()))
	var idle []net.Conn
	defer func() {
		for _, c := range idle {
			c.Close()
		}
	}()
	for range maxConnsPerAccount {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		idle = append(idle, c)
	}
	over, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer over.Close()
	over.SetReadDeadline(time.Now().Add(10 * time.Second))
	if _, err := over.Read(make([]byte, 1)); !errors.Is(err, io.EOF) {
		t.Fatalf("a connection past the account's %d: %v; want it closed at once", maxConnsPerAccount, err)
	}
	out := runBackendChild(t, childBinary(t), client.Addr().String(), s.Port())
	if !strings.Contains(out, "result 0\n") {
		t.Fatalf("another account's bind while this one is at its cap:\n%s", out)
	}
}
