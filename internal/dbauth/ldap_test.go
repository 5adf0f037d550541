package dbauth

import (
	"bufio"
	"context"
	"errors"
	"log/slog"
	"net"
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
