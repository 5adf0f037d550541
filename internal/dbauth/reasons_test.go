package dbauth

import (
	"bufio"
	"context"
	"encoding/json"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/borealis-db/borealis/internal/dataplane"
)

// recording has a records its refusals.
func recording(a *Authority) *[]dataplane.AuthFailure {
	var got []dataplane.AuthFailure
	a.cfg.Refused = func(_ context.Context, f dataplane.AuthFailure) { got = append(got, f) }
	return &got
}

func TestEachRefusalIsRecordedWithItsReasonAndNoTokenText(t *testing.T) {
	now := time.Now()
	good := token(t, endpoint+":5432", "app_reader", keyID)
	tampered := good[:len(good)-1] + string("0123456789abcdef"[(strings.IndexByte("0123456789abcdef", good[len(good)-1])+1)%16])
	cases := []struct {
		name, dn, token string
		now             time.Time
		reason, key     string
	}{
		{"expired", "cluster-abc/app_reader", good, now.Add(16 * time.Minute), "ExpiredToken", keyID},
		{"signed in the future", "cluster-abc/app_reader", good, now.Add(-10 * time.Minute), "TokenNotYetValid", keyID},
		{"another user", "cluster-abc/app_writer", good, now, "WrongDBUser", keyID},
		{"another port", "cluster-abc/app_reader", token(t, endpoint+":5433", "app_reader", keyID), now, "WrongEndpoint", keyID},
		{"tampered signature", "cluster-abc/app_reader", tampered, now, "SignatureDoesNotMatch", keyID},
		{"inactive key", "cluster-abc/app_reader", token(t, endpoint+":5432", "app_reader", inactive), now, "InvalidClientTokenId", inactive},
		{"no rds-db:connect", "cluster-abc/admin", token(t, endpoint+":5432", "admin", keyID), now, "AccessDenied", keyID},
		{"unknown cluster", "cluster-xyz/app_reader", good, now, "UnknownCluster", keyID},
		{"a made-up session token", "cluster-abc/app_reader", sessionToken(t, endpoint+":5432", "app_reader"), now, "InvalidClientTokenId", keyID},
		{"a password, not a token", "cluster-abc/app_reader", "Secret-pass-1", now, "MalformedToken", ""},
		{"a one-hour token", "cluster-abc/app_reader", presign(t, endpoint+":5432", "app_reader", 3600), now, "MalformedToken", keyID},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			a, _ := authority(func() time.Time { return c.now })
			got := recording(a)
			if err := a.Bind(context.Background(), c.dn, c.token); err == nil {
				t.Fatal("admitted")
			}
			if len(*got) != 1 {
				t.Fatalf("recorded %d refusals; want 1", len(*got))
			}
			f := (*got)[0]
			user := strings.TrimPrefix(c.dn, c.dn[:strings.IndexByte(c.dn, '/')+1])
			if f.Reason != c.reason || f.Message == "" || f.DBUser != user || f.AccessKeyID != c.key {
				t.Fatalf("recorded %+v; want reason %s, user %s, key %q", f, c.reason, user, c.key)
			}
			b, _ := json.Marshal(f)
			for _, secretPart := range tokenSecrets(c.token) {
				if strings.Contains(string(b), secretPart) {
					t.Fatalf("the record %s holds %q of the token", b, secretPart)
				}
			}
		})
	}
}

// tokenSecrets are what of a token must never be recorded: the token, its signature,
// and each half of the signature.
func tokenSecrets(tok string) []string {
	out := []string{tok}
	if _, sig, ok := strings.Cut(tok, "X-Amz-Signature="); ok {
		sig, _, _ = strings.Cut(sig, "&")
		out = append(out, sig, sig[:len(sig)/2], sig[len(sig)/2:])
	}
	return out
}

// The refusal names the client of the backend that asked: a child process stands in for
// a PostgreSQL backend, with a client connection and its LDAP bind.
func TestRefusalNamesTheBackendsClient(t *testing.T) {
	if os.Getenv(backendChildEnv) != "" {
		t.Skip("the child's own run")
	}
	client, err := net.Listen("tcp", "127.0.0.7:0")
	if err != nil {
		t.Skipf("no 127.0.0.7: %v", err)
	}
	defer client.Close()
	holdConnections(client)
	a, _ := authority(time.Now)
	got := recording(a)
	child := childBinary(t)
	a.cfg.IsBackend = func(exe string) bool { return exe == child }
	srv, err := ListenLDAP("127.0.0.1:0", a.Bind, a.cfg.Log)
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	out := runBackendChild(t, child, client.Addr().String(), srv.Port())
	local := strings.TrimSpace(lastLine(out))
	if len(*got) != 1 {
		t.Fatalf("recorded %d refusals; want 1\n%s", len(*got), out)
	}
	f := (*got)[0]
	if f.Source.Addr() != netip.MustParseAddr("127.0.0.7") || f.Endpoint != local || f.Reason != "MalformedToken" {
		t.Fatalf("recorded %+v; want the client 127.0.0.7 on %s", f, local)
	}
}

const backendChildEnv = "DBAUTH_BACKEND_CHILD"

// TestBackendChild is the stand-in backend: it connects to the client's address, binds
// to the responder with a password that is no token, and prints its client socket's
// local address.
func TestBackendChild(t *testing.T) {
	addrs := strings.Fields(os.Getenv(backendChildEnv))
	password := "not-a-token"
	if len(addrs) == 3 { // a password of the parent's choice
		password, addrs = addrs[2], addrs[:2]
	}
	if len(addrs) != 2 {
		t.Skip("run by TestRefusalNamesTheBackendsClient")
	}
	c, err := net.Dial("tcp", addrs[0])
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	l, err := net.Dial("tcp", addrs[1])
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	bind := encode(tagInteger, []byte{3})
	bind = append(bind, encode(tagOctetString, []byte(BindDNPrefix("cluster-abc")+"app_reader"))...)
	bind = append(bind, encode(tagSimpleAuth, []byte(password))...)
	msg := append(encode(tagInteger, []byte{1}), encode(tagBindRequest, bind)...)
	if _, err := l.Write(encode(tagSequence, msg)); err != nil {
		t.Fatal(err)
	}
	_, resp, err := readTLV(bufio.NewReader(l))
	if err != nil {
		t.Fatal(err)
	}
	_, _, body, _ := parseMessage(resp)
	if els, _ := elements(body); len(els) > 0 && len(els[0].body) == 1 {
		os.Stdout.WriteString("\nresult " + strconv.Itoa(int(els[0].body[0])))
	}
	os.Stdout.WriteString("\n" + c.LocalAddr().String() + "\n")
}

func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	for i := len(lines) - 1; i >= 0; i-- {
		if strings.Count(lines[i], ":") == 1 && strings.HasPrefix(lines[i], "127.") {
			return lines[i]
		}
	}
	return ""
}

// holdConnections accepts connections on l and keeps them open until l is closed: the
// client connections a backend holds.
func holdConnections(l net.Listener) {
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			defer c.Close()
		}
	}()
}

// childBinary is a copy of the test binary that the nobody account can run: PostgreSQL
// never runs as root, and the responder names no client of a root process.
func childBinary(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile(os.Args[0])
	if err != nil {
		t.Fatal(err)
	}
	dir, err := os.MkdirTemp("", "dbauth-child-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	exe := filepath.Join(dir, "backend")
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(exe, b, 0o755); err != nil {
		t.Fatal(err)
	}
	return exe
}

// runBackendChild runs TestBackendChild in exe as nobody, with a client connection to
// client and a bind to the responder on port (with password, if given); it returns the
// child's output.
func runBackendChild(t *testing.T, exe, client string, port int, password ...string) string {
	t.Helper()
	uid, gid := nobody(t)
	cmd := exec.Command(exe, "-test.run=^TestBackendChild$")
	cmd.Env = append(os.Environ(), backendChildEnv+"="+strings.Join(append([]string{client, net.JoinHostPort("127.0.0.1", strconv.Itoa(port))}, password...), " "))
	cmd.Dir = "/"
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uid, Gid: gid}}
	b, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("child: %v\n%s", err, b)
	}
	return string(b)
}

// nobody's uid and gid: the account the stand-in backend runs as.
func nobody(t *testing.T) (uid, gid uint32) {
	t.Helper()
	out, err := exec.Command("id", "-u", "nobody").Output()
	if err != nil {
		t.Skipf("no nobody account: %v", err)
	}
	u, _ := strconv.Atoi(strings.TrimSpace(string(out)))
	out, _ = exec.Command("id", "-g", "nobody").Output()
	g, _ := strconv.Atoi(strings.TrimSpace(string(out)))
	return uint32(u), uint32(g)
}

// Any local process can reach the responder: only a connection of the cluster's own
// account may ask about it. A local user (here root, this test) or another tenant's
// server with a valid token for the cluster is refused and leaves nothing in the trail in
// the cluster's name; the cluster's account (nobody here) with the same token logs in.
func TestOnlyTheClustersAccountMayAskTheResponder(t *testing.T) {
	if os.Getenv(backendChildEnv) != "" {
		t.Skip("the child's own run")
	}
	client, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	holdConnections(client)
	owner, _ := nobody(t)
	a, _ := authority(time.Now)
	got := recording(a)
	a.cfg.Owner = func(resourceID string) (uint32, bool) { return owner, resourceID == "cluster-abc" }
	srv, err := ListenLDAP("127.0.0.1:0", a.Bind, a.cfg.Log)
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	good := token(t, endpoint+":5432", "app_reader", keyID)

	c, err := net.Dial("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(srv.Port())))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := c.Write(bindRequest(1, BindDNPrefix("cluster-abc")+"app_reader", good)); err != nil {
		t.Fatal(err)
	}
	_, msg, err := readTLV(bufio.NewReader(c))
	if err != nil {
		t.Fatal(err)
	}
	_, _, body, _ := parseMessage(msg)
	if els, _ := elements(body); len(els) == 0 || len(els[0].body) != 1 || els[0].body[0] != resultInvalidCredentials {
		t.Fatalf("a bind from outside the cluster's account: %x; want invalid credentials", body)
	}
	if len(*got) != 0 {
		t.Fatalf("recorded %+v in the cluster's name; want nothing", *got)
	}
	if err := a.Bind(context.Background(), BindDNPrefix("cluster-abc")+"app_reader", good); err == nil {
		t.Fatal("a bind over no connection was admitted")
	}

	out := runBackendChild(t, childBinary(t), client.Addr().String(), srv.Port(), good)
	if !strings.Contains(out, "result 0\n") {
		t.Fatalf("the cluster's account was refused:\n%s", out)
	}
}

// Any local process can bind to the responder: one that is not a backend does not get
// its other connections passed off as a client.
func TestABindFromAnotherProcessNamesNoClient(t *testing.T) {
	if os.Getenv(backendChildEnv) != "" {
		t.Skip("the child's own run")
	}
	client, err := net.Listen("tcp", "127.0.0.7:0")
	if err != nil {
		t.Skipf("no 127.0.0.7: %v", err)
	}
	defer client.Close()
	holdConnections(client)
	a, _ := authority(time.Now)
	got := recording(a)
	srv, err := ListenLDAP("127.0.0.1:0", a.Bind, a.cfg.Log) // IsBackend nil: postgres only
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	runBackendChild(t, childBinary(t), client.Addr().String(), srv.Port())
	if len(*got) != 1 || (*got)[0].Source.IsValid() || (*got)[0].Endpoint != "" {
		t.Fatalf("recorded %+v; want one refusal naming no client", *got)
	}
}
