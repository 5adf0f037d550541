// Package e2e tests Borealis from the outside: a real `borealis serve` process, the real
// aws-sdk-go-v2 RDS client signing with the root key, and pgx over verify-full TLS.
package e2e

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/service/rds"
	"github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"
	"github.com/jackc/pgx/v5"

	"github.com/borealis-db/borealis/internal/epaddr"
	"github.com/borealis-db/borealis/internal/steer"
)

// binary is the borealis binary under test: $BOREALIS_BIN (make test sets it) or one built
// here into the test's temporary directory.
var binary string

func TestMain(m *testing.M) {
	code, err := run(m)
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e:", err)
		os.Exit(1)
	}
	os.Exit(code)
}

func run(m *testing.M) (int, error) {
	binary = os.Getenv("BOREALIS_BIN")
	if binary == "" {
		// Build the binary and the guard extension beside it, as `make build` does.
		_, file, _, _ := runtime.Caller(0)
		top := filepath.Join(filepath.Dir(file), "..", "..")
		build := exec.Command("make", "-s", "build")
		build.Dir = top
		build.Stdout, build.Stderr = os.Stderr, os.Stderr
		if err := build.Run(); err != nil {
			return 0, fmt.Errorf("make build: %w", err)
		}
		binary = filepath.Join(top, "bin", "borealis")
	}
	code := m.Run()
	shared.stop()
	// Clusters a test left behind leave their OS accounts (serve removes one with its cluster).
	tempDirs.Lock()
	removeTenantAccounts(tempDirs.list)
	for _, dir := range tempDirs.list {
		removePins(dir)
	}
	tempDirs.Unlock()
	return code, nil
}

// removePins removes what a serve of dataDir left pinned in the BPF filesystem (a test
// that killed serve, or kept its servers, leaves its steering and fence attached on
// purpose). Left there, every run would add programs to the root cgroup until the
// kernel's limit per attach point refuses the next serve's fence (E2BIG).
func removePins(dataDir string) {
	if dir, err := steer.PinDir(dataDir); err == nil {
		os.RemoveAll(dir)
	}
}

// server is one running `borealis serve`.
type server struct {
	DataDir string
	APIAddr string
	DNSAddr string // --dns-addr, where the test gave one (see resolving)
	cmd     *exec.Cmd
	exited  chan struct{}
	logPath string
}

// sharedServer is started once and used by every test that can share it.
type sharedServer struct {
	once sync.Once
	srv  *server
	err  error
}

var shared sharedServer

func (s *sharedServer) get(t *testing.T) *server {
	t.Helper()
	s.once.Do(func() {
		dir, err := publicTempDir("borealis-e2e-")
		if err != nil {
			s.err = err
			return
		}
		dnsAddr, err := dnsListenAddr()
		if err != nil {
			s.err = err
			return
		}
		if s.srv, s.err = startServer(dir, freeAddr(t), "--dns-addr", dnsAddr); s.err == nil {
			s.err = s.srv.openDefaultGroup(context.Background(), t)
		}
	})
	if s.err != nil {
		t.Fatalf("start shared server: %v", s.err)
	}
	return s.srv
}

func (s *sharedServer) stop() {
	if s.srv != nil {
		s.srv.stop()
		os.RemoveAll(s.srv.DataDir)
	}
}

// tempDirs are the directories publicTempDir made.
var tempDirs struct {
	sync.Mutex
	list []string
}

// publicTempDir makes a directory the postgres account can traverse: PostgreSQL runs as
// that account and must reach its data directory below this one.
func publicTempDir(prefix string) (string, error) {
	dir, err := os.MkdirTemp("", prefix)
	if err != nil {
		return "", err
	}
	tempDirs.Lock()
	tempDirs.list = append(tempDirs.list, dir)
	tempDirs.Unlock()
	return dir, os.Chmod(dir, 0o755)
}

// testDataDir is a data directory of the test's own (see publicTempDir), removed when the
// test ends, after the cleanups it registers later (a server's stop among them).
func testDataDir(t *testing.T, prefix string) string {
	t.Helper()
	dir, err := publicTempDir(prefix)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		removePins(dir)
		os.RemoveAll(dir)
	})
	return dir
}

func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// startServer runs borealis serve, with any extra flags, and waits until its API answers.
func startServer(dataDir, apiAddr string, args ...string) (*server, error) {
	s := &server{DataDir: dataDir, APIAddr: apiAddr, exited: make(chan struct{}), logPath: filepath.Join(dataDir, "serve.log")}
	if i := slices.Index(args, "--dns-addr"); i >= 0 && i+1 < len(args) {
		s.DNSAddr = args[i+1]
	}
	logf, err := os.OpenFile(s.logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return nil, err
	}
	// Each serve answers DNS on a port of its own (a test's --dns-addr comes later and wins).
	s.cmd = exec.Command(binary, append([]string{"serve", "--data-dir", dataDir, "--api-addr", apiAddr, "--dns-addr", "127.0.0.1:0"}, args...)...)
	health, client := "http://"+apiAddr+"/healthz", http.DefaultClient
	if slices.Contains(args, "--api-tls") {
		// Readiness only: the tests verify the certificate themselves.
		health = "https://" + apiAddr + "/healthz"
		client = &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}}
	}
	s.cmd.Stdout, s.cmd.Stderr = logf, logf
	if err := s.cmd.Start(); err != nil {
		logf.Close()
		return nil, err
	}
	go func() { s.cmd.Wait(); logf.Close(); close(s.exited) }()
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case <-s.exited:
			return nil, fmt.Errorf("borealis serve exited early:\n%s", s.logTail())
		default:
		}
		resp, err := client.Get(health)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return s, nil
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	s.stop()
	return nil, fmt.Errorf("borealis serve did not answer in time:\n%s", s.logTail())
}

// stop ends serve gracefully (SIGTERM), as an operator would.
func (s *server) stop() {
	_ = s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.exited:
	case <-time.After(60 * time.Second):
		_ = s.cmd.Process.Kill()
		<-s.exited
	}
}

// kill ends serve with SIGKILL: the crash the restart test survives.
func (s *server) kill() {
	_ = s.cmd.Process.Kill()
	<-s.exited
}

func (s *server) logTail() string {
	b, _ := os.ReadFile(s.logPath)
	if len(b) > 4000 {
		b = b[len(b)-4000:]
	}
	return string(b)
}

// rootKey reads the root access key from the credentials file serve wrote.
// steering reports whether the server's log says it hands admitted connections to their
// server in the kernel (as root with BPF it does; elsewhere the gateway relays).
func (s *server) steering() bool {
	b, _ := os.ReadFile(s.logPath)
	return strings.Contains(string(b), "kernel steering on")
}

func (s *server) rootKey(t *testing.T) (id, secret string) {
	t.Helper()
	f, err := os.Open(filepath.Join(s.DataDir, "credentials"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), "=")
		if !ok {
			continue
		}
		switch strings.TrimSpace(k) {
		case "aws_access_key_id":
			id = strings.TrimSpace(v)
		case "aws_secret_access_key":
			secret = strings.TrimSpace(v)
		}
	}
	if id == "" || secret == "" {
		t.Fatal("credentials file has no default keys")
	}
	return id, secret
}

// rds returns an RDS client signing with the root user's key.
func (s *server) rds(t *testing.T) *rds.Client {
	t.Helper()
	id, secret := s.rootKey(t)
	return rds.New(rds.Options{
		Region:       "us-east-1",
		BaseEndpoint: aws.String("http://" + s.APIAddr),
		Credentials: aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) {
			return aws.Credentials{AccessKeyID: id, SecretAccessKey: secret}, nil
		}),
		// Retry only what a real network does to a request (net/http's rare closed idle
		// connection race): never an answer of ours, so a 4xx or 5xx is never hidden.
		Retryer: retry.NewStandard(func(o *retry.StandardOptions) {
			o.Retryables = []retry.IsErrorRetryable{retry.RetryableConnectionError{}}
		}),
	})
}

func (s *server) bundlePath() string { return filepath.Join(s.DataDir, "global-bundle.pem") }

// connect opens a verify-full TLS session to an endpoint name, reaching it at 127.0.0.1
// (endpoint names do not resolve here), so the certificate is still checked for the name.
func (s *server) connect(ctx context.Context, t *testing.T, endpoint string, port int32, user, password, db string) *pgx.Conn {
	t.Helper()
	conn, err := s.tryConnect(ctx, endpoint, port, user, password, db)
	if err != nil {
		t.Fatalf("connect to %s:%d as %s: %v", endpoint, port, user, err)
	}
	t.Cleanup(func() { conn.Close(context.Background()) })
	return conn
}

// endpointAddr is where endpoint name listens, as serve's DNS answers it (package
// epaddr): the cluster endpoint on 127.0.0.1, the reader and instance endpoints on
// loopback addresses of their own.
func endpointAddr(name string) string {
	if strings.Contains(name, ".cluster-") && !strings.Contains(name, ".cluster-ro-") {
		return "127.0.0.1"
	}
	if a, ok := epaddr.Own([]netip.Addr{netip.MustParseAddr("127.0.0.1")}, name); ok {
		return a.String()
	}
	return "127.0.0.1"
}

// lookupEndpoint is a pgx LookupFunc resolving endpoint names as serve's DNS does.
func lookupEndpoint(_ context.Context, host string) ([]string, error) {
	return []string{endpointAddr(host)}, nil
}

func (s *server) tryConnect(ctx context.Context, endpoint string, port int32, user, password, db string) (*pgx.Conn, error) {
	cfg, err := pgx.ParseConfig(fmt.Sprintf("host=%s port=%d user=%s password=%s dbname=%s sslmode=verify-full sslrootcert=%s connect_timeout=10",
		endpoint, port, user, password, db, s.bundlePath()))
	if err != nil {
		return nil, err
	}
	cfg.LookupFunc = lookupEndpoint
	return pgx.ConnectConfig(ctx, cfg)
}

// apiError returns an AWS error's code and HTTP status.
func apiError(t *testing.T, err error) (string, int) {
	t.Helper()
	if err == nil {
		t.Fatal("expected an AWS error, got success")
	}
	var ae smithy.APIError
	if !errors.As(err, &ae) {
		t.Fatalf("not an AWS API error: %v", err)
	}
	status := 0
	var re *smithyhttp.ResponseError
	if errors.As(err, &re) {
		status = re.HTTPStatusCode()
	}
	return ae.ErrorCode(), status
}

// eventually polls cond until it holds or the deadline passes.
func eventually(t *testing.T, timeout time.Duration, what string, cond func() (bool, error)) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		ok, err := cond()
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s (last error: %v)", what, err)
		}
		time.Sleep(200 * time.Millisecond)
	}
}
