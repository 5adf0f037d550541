// Package guardtest runs the guard extension (pgext/guard) in a real
// PostgreSQL server made by internal/engine, and checks its rules from the
// outside, as clients of the cluster see them. The tests live beside the
// extension rather than inside it: a Go package directory must not hold .c
// files.
package guardtest

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/md5"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"math/big"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/borealis-db/borealis/internal/engine"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

const (
	master     = "master1"
	masterPass = "Master-pass-1"
	database   = "appdb"
	// Password of every LOGIN role the tests make.
	rolePass = "Role-pass-1"
)

// srv is the one server the package's tests share: rds.restrict_password_commands
// is on unless a test restarts it otherwise (see restartRestrict).
var srv struct {
	l       *engine.Local
	spec    engine.Spec
	libPath string
}

func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	flag.Parse() // for testing.Verbose
	root, err := setup()
	if root != "" {
		defer os.RemoveAll(root)
	}
	if srv.l != nil {
		defer srv.l.Close(context.Background())
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "guardtest setup:", err)
		return 1
	}
	return m.Run()
}

// setup builds the extension, creates the cluster volume, starts the server
// with the guard preloaded and makes the roles the tests use.
func setup() (string, error) {
	// The same server headers `make build` uses: Debian's PostgreSQL 15.
	pgConfig := os.Getenv("PG_CONFIG")
	if pgConfig == "" {
		pgConfig = "/usr/lib/postgresql/15/bin/pg_config"
	}
	build := exec.Command("make", "-C", "../guard", "PG_CONFIG="+pgConfig)
	if out, err := build.CombinedOutput(); err != nil {
		return "", fmt.Errorf("make -C ../guard: %w\n%s", err, out)
	}
	// PostgreSQL runs as the postgres account: every directory it touches,
	// and the library, must be reachable by it.
	root, err := os.MkdirTemp("", "borealis-guard-")
	if err != nil {
		return "", err
	}
	if err := os.Chmod(root, 0o755); err != nil {
		return root, err
	}
	lib := filepath.Join(root, "lib")
	if err := os.Mkdir(lib, 0o755); err != nil {
		return root, err
	}
	if err := os.Chmod(lib, 0o755); err != nil {
		return root, err
	}
	srv.libPath = filepath.Join(lib, "guard.so")
	if err := copyFile("../guard/guard.so", srv.libPath); err != nil {
		return root, err
	}
	certPEM, keyPEM, err := selfSigned("guard.test")
	if err != nil {
		return root, err
	}
	port, err := freePort()
	if err != nil {
		return root, err
	}
	logger := slog.New(slog.DiscardHandler)
	if testing.Verbose() {
		logger = slog.New(slog.NewTextHandler(os.Stderr, nil))
	}
	if srv.l, err = engine.NewLocal(logger, engine.Options{StopWithParent: true}); err != nil {
		return root, err
	}
	srv.spec = engine.Spec{
		Name:       "guard",
		DataDir:    filepath.Join(root, "data"),
		SocketDir:  filepath.Join(root, "sock"),
		LogFile:    filepath.Join(root, "postgres.log"),
		ListenAddr: "127.0.0.1",
		Port:       port,
		CertPEM:    certPEM,
		KeyPEM:     keyPEM,
		// Random per run; never logged.
		AdminPassword: randomHex(16),
		Settings:      settings("on"),
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	boot := engine.Bootstrap{MasterUsername: master, MasterPasswordVerifier: md5Password(master, masterPass), DatabaseName: database}
	if err := srv.l.Create(ctx, srv.spec, boot); err != nil {
		return root, err
	}
	if err := srv.l.Start(ctx, srv.spec); err != nil {
		return root, err
	}
	c, err := srv.l.Connect(ctx, srv.spec, database)
	if err != nil {
		return root, err
	}
	defer c.Close(context.Background())
	for _, q := range []string{
		// A CREATEROLE role outside rds_password and rds_superuser.
		"CREATE ROLE cr LOGIN CREATEROLE PASSWORD '" + rolePass + "'",
		// An ordinary user.
		"CREATE ROLE u1 LOGIN PASSWORD '" + rolePass + "'",
		// A password manager, as AWS recommends: CREATEROLE + rds_password.
		"CREATE ROLE pwmgr LOGIN CREATEROLE PASSWORD '" + rolePass + "'",
		"GRANT rds_password TO pwmgr",
		// cr may create objects in public (PostgreSQL 15 keeps PUBLIC out).
		"GRANT CREATE ON SCHEMA public TO cr, u1",
	} {
		if _, err := c.Exec(ctx, q); err != nil {
			return root, fmt.Errorf("%s: %w", q, err)
		}
	}
	return root, nil
}

func settings(restrict string) map[string]string {
	return map[string]string{
		"shared_preload_libraries":       srv.libPath,
		"rds.restrict_password_commands": restrict,
	}
}

// restartRestrict restarts the shared server with rds.restrict_password_commands
// set to v.
func restartRestrict(t *testing.T, v string) {
	t.Helper()
	srv.spec.Settings = settings(v)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := srv.l.Restart(ctx, srv.spec); err != nil {
		t.Fatalf("restart with restrict=%s: %v", v, err)
	}
}

func copyFile(from, to string) error {
	in, err := os.Open(from)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(to, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	if err := out.Close(); err != nil {
		return err
	}
	return os.Chmod(to, 0o644)
}

func selfSigned(cn string) (certPEM, keyPEM []byte, err error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, err
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: cn}, DNSNames: []string{cn},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, nil, err
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, nil, err
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}), nil
}

func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

func md5Password(user, password string) string {
	sum := md5.Sum([]byte(password + user))
	return "md5" + hex.EncodeToString(sum[:])
}

func randomHex(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	return hex.EncodeToString(b)
}

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	t.Cleanup(cancel)
	return ctx
}

// dial opens a TLS session (sslmode=require) over TCP, as a client would.
func dial(ctx context.Context, user, password string) (*pgx.Conn, error) {
	cfg, err := pgx.ParseConfig(fmt.Sprintf("host=%s port=%d dbname=%s sslmode=require connect_timeout=10",
		srv.spec.ListenAddr, srv.spec.Port, database))
	if err != nil {
		return nil, err
	}
	cfg.User, cfg.Password = user, password
	cfg.Fallbacks = nil
	return pgx.ConnectConfig(ctx, cfg)
}

// as connects as user (master1 with its password, others with rolePass).
func as(t *testing.T, user string) *pgx.Conn {
	t.Helper()
	pw := rolePass
	if user == master {
		pw = masterPass
	}
	c, err := dial(ctxT(t), user, pw)
	if err != nil {
		t.Fatalf("connect as %s: %v", user, err)
	}
	t.Cleanup(func() { c.Close(context.Background()) })
	return c
}

// admin connects as rdsadmin over the unix socket.
func admin(t *testing.T) *pgx.Conn {
	t.Helper()
	c, err := srv.l.Connect(ctxT(t), srv.spec, database)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close(context.Background()) })
	return c
}

// adminExec runs statements as rdsadmin, failing the test on error.
func adminExec(t *testing.T, qs ...string) {
	t.Helper()
	c := admin(t)
	for _, q := range qs {
		if _, err := c.Exec(ctxT(t), q); err != nil {
			t.Fatalf("as rdsadmin: %s: %v", q, err)
		}
	}
}

// mustExec runs q on c and fails the test on error.
func mustExec(t *testing.T, c *pgx.Conn, q string) {
	t.Helper()
	if _, err := c.Exec(ctxT(t), q); err != nil {
		t.Fatalf("%s as %s: %v", q, c.Config().User, err)
	}
}

// wantPgError checks err is a PostgreSQL error with code and message.
func wantPgError(t *testing.T, what string, err error, code, msg string) {
	t.Helper()
	var pe *pgconn.PgError
	if !errors.As(err, &pe) {
		t.Errorf("%s: want ERROR %s %q, got %v", what, code, msg, err)
		return
	}
	if pe.Code != code || pe.Message != msg {
		t.Errorf("%s: want ERROR %s %q, got %s %q (detail %q)", what, code, msg, pe.Code, pe.Message, pe.Detail)
	}
}

// serverUp checks the server still accepts a fresh session: a crashed
// backend would have made the postmaster restart every session.
func serverUp(t *testing.T) {
	t.Helper()
	c, err := dial(ctxT(t), master, masterPass)
	if err != nil {
		t.Fatalf("server down? %v", err)
	}
	defer c.Close(context.Background())
	var one int
	if err := c.QueryRow(ctxT(t), "SELECT 1").Scan(&one); err != nil || one != 1 {
		t.Fatalf("SELECT 1 on a fresh session: %d, %v", one, err)
	}
}

// roleExists reports whether the role name exists.
func roleExists(t *testing.T, name string) bool {
	t.Helper()
	var ok bool
	if err := admin(t).QueryRow(ctxT(t), "SELECT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = $1)", name).Scan(&ok); err != nil {
		t.Fatal(err)
	}
	return ok
}

// dropRoles removes roles a test made, as rdsadmin.
func dropRoles(t *testing.T, names ...string) {
	t.Helper()
	c := admin(t)
	for _, n := range names {
		if _, err := c.Exec(ctxT(t), "DROP ROLE IF EXISTS "+pgx.Identifier{n}.Sanitize()); err != nil {
			t.Errorf("drop role %s: %v", n, err)
		}
	}
}

func quoteLit(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }
