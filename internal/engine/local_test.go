package engine

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/md5"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"github.com/borealis-db/borealis/internal/scram"
	"log/slog"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// The helper process (see startHelper) runs a driver on the spec in this
// variable, then waits to be killed. helperOwnerEnv is its Options.Owner.
const (
	helperEnv      = "BOREALIS_ENGINE_TEST_HELPER"
	helperOwnerEnv = "BOREALIS_ENGINE_TEST_OWNER"
)

var cleanups []func()

func TestMain(m *testing.M) {
	if spec := os.Getenv(helperEnv); spec != "" {
		helperMain(spec)
		return
	}
	if args := os.Getenv(portsHelperEnv); args != "" {
		portsHelperMain(args)
		return
	}
	code := m.Run()
	for i := len(cleanups) - 1; i >= 0; i-- {
		cleanups[i]()
	}
	os.Exit(code)
}

func helperMain(specJSON string) {
	var s Spec
	if err := json.Unmarshal([]byte(specJSON), &s); err != nil {
		fmt.Println("ERR", err)
		os.Exit(2)
	}
	l, err := NewLocal(nil, Options{Owner: os.Getenv(helperOwnerEnv)})
	if err == nil {
		err = l.Start(context.Background(), s)
	}
	if err != nil {
		fmt.Println("ERR", strings.ReplaceAll(err.Error(), "\n", " | "))
		os.Exit(2)
	}
	fmt.Println("READY", l.Status(s.Name).PID)
	select {}
}

func testLogger() *slog.Logger {
	if testing.Verbose() {
		return slog.New(slog.NewTextHandler(os.Stderr, nil))
	}
	return slog.New(slog.DiscardHandler)
}

// testRoot is a directory the postgres account can traverse (t.TempDir is
// 0700 root), removed when the package's tests end.
func testRoot(t *testing.T) string {
	t.Helper()
	d, err := os.MkdirTemp("", "borealis-engine-")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(d, 0o755); err != nil {
		t.Fatal(err)
	}
	cleanups = append(cleanups, func() { os.RemoveAll(d) })
	return d
}

type testPKI struct {
	caPEM, certPEM, keyPEM []byte
}

func newTestPKI(cn string) (testPKI, error) {
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return testPKI{}, err
	}
	now := time.Now()
	caTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "Borealis test CA"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		return testPKI{}, err
	}
	ca, _ := x509.ParseCertificate(caDER)
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return testPKI{}, err
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: cn}, DNSNames: []string{cn},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		return testPKI{}, err
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return testPKI{}, err
	}
	return testPKI{
		caPEM:   pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER}),
		certPEM: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		keyPEM:  pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}),
	}, nil
}

func testCert(t *testing.T, cn string) (cert, key []byte) {
	p, err := newTestPKI(cn)
	if err != nil {
		t.Fatal(err)
	}
	return p.certPEM, p.keyPEM
}

func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

func md5Password(user, password string) string {
	sum := md5.Sum([]byte(password + user))
	return "md5" + hex.EncodeToString(sum[:])
}

type fixture struct {
	root     string
	l        *Local
	spec     Spec
	boot     Bootstrap
	password string
	caFile   string
}

func newFixture(t *testing.T, name string) *fixture {
	t.Helper()
	root := testRoot(t)
	p, err := newTestPKI("db.test")
	if err != nil {
		t.Fatal(err)
	}
	caFile := filepath.Join(root, "ca.pem")
	if err := os.WriteFile(caFile, p.caPEM, 0o644); err != nil {
		t.Fatal(err)
	}
	l, err := NewLocal(testLogger(), Options{})
	if err != nil {
		t.Fatal(err)
	}
	f := &fixture{
		root: root, l: l, password: "Master-pass-1", caFile: caFile,
		spec: Spec{
			Name:       name,
			DataDir:    filepath.Join(root, name, "data"),
			SocketDir:  filepath.Join(root, name, "sock"),
			LogFile:    filepath.Join(root, name, "postgres.log"),
			ListenAddr: "127.0.0.1", Port: freePort(t),
			CertPEM: p.certPEM, KeyPEM: p.keyPEM,
			AdminPassword: "admin-secret-1",
			// Unique per run: a test never meets an account an earlier run left.
			OSUser: TenantUser(filepath.Join(root, name)),
		},
	}
	// Before the root directory goes (cleanups run last first).
	cleanups = append(cleanups, func() {
		l.Close(context.Background())
		if l.tenant(f.spec) {
			l.forgetTenant(context.Background(), f.spec)
		}
	})
	verifier, err := scram.Verifier(f.password)
	if err != nil {
		t.Fatal(err)
	}
	f.boot = Bootstrap{MasterUsername: "master", MasterPasswordVerifier: verifier, DatabaseName: "appdb"}
	return f
}

var shared struct {
	once sync.Once
	f    *fixture
	err  error
}

// sharedFixture is one created volume for the tests that can share it
// (initdb costs about a second). Tests leave it running or not; each starts
// it with running().
func sharedFixture(t *testing.T) *fixture {
	t.Helper()
	shared.once.Do(func() {
		f := newFixture(t, "shared")
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		start := time.Now()
		if err := f.l.Create(ctx, f.spec, f.boot); err != nil {
			shared.err = err
			return
		}
		t.Logf("Create took %v", time.Since(start))
		shared.f = f
	})
	if shared.err != nil {
		t.Fatalf("shared volume: %v", shared.err)
	}
	return shared.f
}

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	t.Cleanup(cancel)
	return ctx
}

func (f *fixture) running(t *testing.T) {
	t.Helper()
	if err := f.l.Start(ctxT(t), f.spec); err != nil {
		t.Fatal(err)
	}
	if st := f.l.Status(f.spec.Name); st.State != StateRunning {
		t.Fatalf("status after Start: %+v", st)
	}
}

// tcp connects like a client of the endpoint: TLS verify-full for db.test,
// which resolves to the server's listen address.
func (f *fixture) tcp(ctx context.Context, user, password, db string) (*pgx.Conn, error) {
	cfg, err := pgx.ParseConfig(fmt.Sprintf("host=db.test port=%d user=%s password=%s dbname=%s sslmode=verify-full sslrootcert=%s",
		f.spec.Port, user, password, db, f.caFile))
	if err != nil {
		return nil, err
	}
	cfg.LookupFunc = func(context.Context, string) ([]string, error) { return []string{f.spec.ListenAddr}, nil }
	return pgx.ConnectConfig(ctx, cfg)
}

func (f *fixture) admin(t *testing.T, db string) *pgx.Conn {
	t.Helper()
	c, err := f.l.Connect(ctxT(t), f.spec, db)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close(context.Background()) })
	return c
}

// account is the OS account the fixture's server runs as.
func (f *fixture) account(t *testing.T) account {
	t.Helper()
	a, err := f.l.account(ctxT(t), f.spec)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func drain(ch <-chan Exit) {
	for {
		select {
		case <-ch:
		default:
			return
		}
	}
}

func waitExit(t *testing.T, ch <-chan Exit, name string, pid int) Exit {
	t.Helper()
	timeout := time.After(20 * time.Second)
	for {
		select {
		case ev := <-ch:
			if ev.Name == name && ev.PID == pid {
				return ev
			}
		case <-timeout:
			t.Fatalf("no exit event for %s pid %d", name, pid)
		}
	}
}

func procUID(t *testing.T, pid int) string {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(l, "Uid:") {
			return strings.Fields(l)[1]
		}
	}
	return ""
}

func TestMasterOverTLSAndRoles(t *testing.T) {
	f := sharedFixture(t)
	f.running(t)
	ctx := ctxT(t)

	if f.l.root {
		if got, want := procUID(t, f.l.Status(f.spec.Name).PID), strconv.Itoa(int(f.account(t).uid)); got != want {
			t.Errorf("postmaster uid %s, want %s", got, want)
		}
		fi, err := os.Stat(filepath.Join(f.spec.DataDir, keyFile))
		if err != nil || fi.Mode().Perm() != 0o600 {
			t.Errorf("server.key: %v %v", fi.Mode(), err)
		}
	}

	// Both stored verifiers are SCRAM: an md5 one would be a login by itself.
	var verifiers string
	if err := f.admin(t, "postgres").QueryRow(ctx, `SELECT string_agg(left(rolpassword, 14), ',' ORDER BY rolname)
		FROM pg_authid WHERE rolname IN ('rdsadmin', $1)`, f.boot.MasterUsername).Scan(&verifiers); err != nil ||
		verifiers != "SCRAM-SHA-256$,SCRAM-SHA-256$" {
		t.Errorf("stored verifiers of the master and rdsadmin: %q, %v; want SCRAM", verifiers, err)
	}

	c, err := f.tcp(ctx, f.boot.MasterUsername, f.password, f.boot.DatabaseName)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close(ctx)
	var ssl bool
	if err := c.QueryRow(ctx, "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()").Scan(&ssl); err != nil || !ssl {
		t.Errorf("ssl = %v, %v", ssl, err)
	}

	var super, inherit, createRole, createDB, login, repl, bypass bool
	var validUntil string
	err = c.QueryRow(ctx, `SELECT rolsuper, rolinherit, rolcreaterole, rolcreatedb, rolcanlogin, rolreplication,
		rolbypassrls, rolvaliduntil::text FROM pg_roles WHERE rolname = current_user`).
		Scan(&super, &inherit, &createRole, &createDB, &login, &repl, &bypass, &validUntil)
	if err != nil {
		t.Fatal(err)
	}
	if super || !inherit || !createRole || !createDB || !login || repl || bypass || validUntil != "infinity" {
		t.Errorf("master attributes: super=%v inherit=%v createrole=%v createdb=%v login=%v repl=%v bypassrls=%v valid=%s",
			super, inherit, createRole, createDB, login, repl, bypass, validUntil)
	}

	var member bool
	var owner, pgOwner, adminDBOwner string
	err = c.QueryRow(ctx, `SELECT pg_has_role(current_user, 'rds_superuser', 'MEMBER'),
		(SELECT pg_get_userbyid(datdba) FROM pg_database WHERE datname = current_database()),
		(SELECT pg_get_userbyid(datdba) FROM pg_database WHERE datname = 'postgres'),
		(SELECT pg_get_userbyid(datdba) FROM pg_database WHERE datname = 'rdsadmin')`).
		Scan(&member, &owner, &pgOwner, &adminDBOwner)
	if err != nil {
		t.Fatal(err)
	}
	if !member || owner != "master" || pgOwner != "master" || adminDBOwner != "rdsadmin" {
		t.Errorf("member=%v owner(appdb)=%s owner(postgres)=%s owner(rdsadmin)=%s", member, owner, pgOwner, adminDBOwner)
	}

	var grants string
	err = c.QueryRow(ctx, `SELECT string_agg(r.rolname || CASE WHEN m.admin_option THEN '*' ELSE '' END, ',' ORDER BY r.rolname)
		FROM pg_auth_members m JOIN pg_roles r ON r.oid = m.roleid
		WHERE m.member = 'rds_superuser'::regrole`).Scan(&grants)
	if err != nil {
		t.Fatal(err)
	}
	if want := "pg_checkpoint*,pg_monitor*,pg_read_all_settings*,pg_read_all_stats*,pg_signal_backend*,pg_stat_scan_tables*,rds_password*,rds_replication*"; grants != want {
		t.Errorf("rds_superuser memberships %s, want %s", grants, want)
	}

	var adminSuper bool
	if err := c.QueryRow(ctx, "SELECT rolsuper FROM pg_roles WHERE rolname = 'rdsadmin'").Scan(&adminSuper); err != nil || !adminSuper {
		t.Errorf("rdsadmin superuser = %v, %v", adminSuper, err)
	}

	_, err = c.Exec(ctx, "ALTER ROLE rdsadmin PASSWORD 'x'")
	var pgErr *pgconn.PgError
	if !errors.As(err, &pgErr) || pgErr.Code != "42501" {
		t.Errorf("ALTER ROLE rdsadmin as master: %v", err)
	}

	if c2, err := f.tcp(ctx, Admin, f.spec.AdminPassword, "postgres"); err == nil {
		c2.Close(ctx)
		t.Error("rdsadmin logged in over TCP")
	} else if !strings.Contains(err.Error(), "pg_hba.conf rejects") {
		t.Errorf("rdsadmin over TCP: %v", err)
	}
	if c2, err := f.tcp(ctx, f.boot.MasterUsername, f.password, "rdsadmin"); err == nil {
		c2.Close(ctx)
		t.Error("master connected to the rdsadmin database")
	}
	if c2, err := f.tcp(ctx, f.boot.MasterUsername, "wrong", "postgres"); err == nil {
		c2.Close(ctx)
		t.Error("wrong password accepted")
	}
	// Users never come in over the socket.
	cfg, _ := pgx.ParseConfig("sslmode=disable")
	cfg.Host, cfg.Port, cfg.User, cfg.Password, cfg.Database = f.spec.SocketDir, uint16(f.spec.Port), f.boot.MasterUsername, f.password, "postgres"
	if c2, err := pgx.ConnectConfig(ctx, cfg); err == nil {
		c2.Close(ctx)
		t.Error("master logged in over the unix socket")
	}
}

func TestCreateIsIdempotent(t *testing.T) {
	f := sharedFixture(t)
	f.running(t)
	before, err := os.Stat(filepath.Join(f.spec.DataDir, Marker))
	if err != nil {
		t.Fatal(err)
	}
	if err := f.l.Create(ctxT(t), f.spec, f.boot); err != nil {
		t.Fatal(err)
	}
	after, err := os.Stat(filepath.Join(f.spec.DataDir, Marker))
	if err != nil || !after.ModTime().Equal(before.ModTime()) {
		t.Errorf("marker rewritten: %v", err)
	}
	if st := f.l.Status(f.spec.Name); st.State != StateRunning {
		t.Errorf("second Create disturbed the server: %+v", st)
	}
}

func TestCreateRedoesHalfMadeVolume(t *testing.T) {
	f := newFixture(t, "half")
	ctx := ctxT(t)
	// What a crash during initdb leaves: PostgreSQL's files, no marker.
	junk := filepath.Join(f.spec.DataDir, "base", "1", "junk")
	if err := os.MkdirAll(filepath.Dir(junk), 0o755); err != nil {
		t.Fatal(err)
	}
	for path, data := range map[string]string{
		junk: "x", filepath.Join(f.spec.DataDir, "PG_VERSION"): "15\n",
		filepath.Join(f.spec.DataDir, pidFile): "999999\n" + f.spec.DataDir + "\n",
	} {
		if err := os.WriteFile(path, []byte(data), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	if err := f.l.Create(ctx, f.spec, f.boot); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(junk); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("half-made volume not wiped: %v", err)
	}
	if _, err := os.Stat(pwFile(f.spec)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("password file left behind: %v", err)
	}
	f.running(t)
	var n int
	if err := f.admin(t, "postgres").QueryRow(ctx, "SELECT count(*) FROM pg_roles WHERE rolname = 'master'").Scan(&n); err != nil || n != 1 {
		t.Errorf("master role count %d, %v", n, err)
	}

	if err := f.l.Destroy(ctx, f.spec); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(f.spec.DataDir); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("Destroy left %s: %v", f.spec.DataDir, err)
	}
	if st := f.l.Status(f.spec.Name); st.State != StateStopped {
		t.Errorf("status after Destroy: %+v", st)
	}
	if ps := serverProcs(f.spec.DataDir); len(ps) != 0 {
		t.Errorf("processes left after Destroy: %v", ps)
	}
}

func TestCreateRefusals(t *testing.T) {
	f := newFixture(t, "refuse")
	ctx := ctxT(t)
	// A data directory holding someone else's file is never wiped.
	mine := filepath.Join(f.spec.DataDir, "important.txt")
	if err := os.MkdirAll(f.spec.DataDir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(mine, []byte("keep"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := f.l.Create(ctx, f.spec, f.boot); err == nil || !strings.Contains(err.Error(), "refusing") {
		t.Errorf("Create over a foreign directory: %v", err)
	}
	if _, err := os.Stat(mine); err != nil {
		t.Errorf("foreign file lost: %v", err)
	}
	if !f.l.root {
		t.Skip("not root: no account switch to check")
	}
	// A parent the server's account cannot traverse is named.
	locked := filepath.Join(f.root, "locked")
	if err := os.Mkdir(locked, 0o700); err != nil {
		t.Fatal(err)
	}
	s := f.spec
	s.DataDir = filepath.Join(locked, "data")
	s.OSUser = TenantUser(s.DataDir) // another volume: another account
	t.Cleanup(func() { f.l.forgetTenant(context.Background(), s) })
	if err := f.l.Create(ctx, s, f.boot); err == nil || !strings.Contains(err.Error(), locked+" is not traversable") {
		t.Errorf("Create under a locked directory: %v", err)
	}
}

func TestStopStartKeepsData(t *testing.T) {
	f := sharedFixture(t)
	f.running(t)
	ctx := ctxT(t)
	c := f.admin(t, f.boot.DatabaseName)
	if _, err := c.Exec(ctx, "CREATE TABLE IF NOT EXISTS public.kept (v text); INSERT INTO public.kept VALUES ('survives')"); err != nil {
		t.Fatal(err)
	}
	c.Close(ctx)
	if err := f.l.Stop(ctx, f.spec); err != nil {
		t.Fatal(err)
	}
	if st := f.l.Status(f.spec.Name); st.State != StateStopped {
		t.Errorf("status after Stop: %+v", st)
	}
	if ps := serverProcs(f.spec.DataDir); len(ps) != 0 {
		t.Errorf("processes left after Stop: %v", ps)
	}
	f.running(t)
	var n int
	if err := f.admin(t, f.boot.DatabaseName).QueryRow(ctx, "SELECT count(*) FROM public.kept WHERE v = 'survives'").Scan(&n); err != nil || n == 0 {
		t.Errorf("data lost across restart: %d, %v", n, err)
	}
}

func TestKilledPostmasterIsReportedAndRestarted(t *testing.T) {
	f := sharedFixture(t)
	f.running(t)
	drain(f.l.Exits())
	pid := f.l.Status(f.spec.Name).PID
	// A stopped child cannot notice the postmaster's death: it keeps the
	// shared memory, and Start must clear it away.
	var stuck int
	for _, p := range serverProcs(f.spec.DataDir) {
		if p.ppid == pid {
			stuck = p.pid
			break
		}
	}
	if stuck == 0 {
		t.Fatal("postmaster has no children")
	}
	if err := syscall.Kill(stuck, syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	ev := waitExit(t, f.l.Exits(), f.spec.Name, pid)
	if ev.Err == nil || !strings.Contains(ev.Err.Error(), "killed") {
		t.Errorf("exit error %v", ev.Err)
	}
	if st := f.l.Status(f.spec.Name); st.State != StateCrashed || st.Err == nil {
		t.Errorf("status after kill: %+v", st)
	}
	if !alive(stuck) {
		t.Fatalf("stopped child %d gone before Start", stuck)
	}
	f.running(t)
	if alive(stuck) {
		t.Errorf("orphaned child %d outlived Start", stuck)
	}
	var one int
	if err := f.admin(t, "postgres").QueryRow(ctxT(t), "SELECT 1").Scan(&one); err != nil {
		t.Fatal(err)
	}
}

func TestReloadAppliesSettings(t *testing.T) {
	f := sharedFixture(t)
	f.running(t)
	ctx := ctxT(t)
	auto := filepath.Join(f.spec.DataDir, autoConfFile)
	if err := os.WriteFile(auto, []byte("# ALTER SYSTEM\nport = '1'\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	s := f.spec
	s.Settings = map[string]string{"work_mem": "7MB"}
	if err := f.l.Reload(ctx, s); err != nil {
		t.Fatal(err)
	}
	var wm string
	if err := f.admin(t, "postgres").QueryRow(ctx, "SHOW work_mem").Scan(&wm); err != nil || wm != "7MB" {
		t.Errorf("work_mem after reload = %q, %v", wm, err)
	}
	if b, _ := os.ReadFile(auto); strings.Contains(string(b), "port") {
		t.Errorf("managed setting left in postgresql.auto.conf: %q", b)
	}
	if err := f.l.Reload(ctx, f.spec); err != nil {
		t.Fatal(err)
	}
}
