package e2e

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/rds"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/borealis-db/borealis/internal/engine"
)

// removeTenantAccounts deletes the cluster accounts whose home (the cluster's volume
// directory) lies under one of dirs: those of clusters a test left behind.
func removeTenantAccounts(dirs []string) {
	b, err := os.ReadFile("/etc/passwd")
	if err != nil {
		return
	}
	for _, l := range strings.Split(string(b), "\n") {
		f := strings.Split(l, ":")
		if len(f) < 7 || f[4] != engine.TenantMarker {
			continue
		}
		for _, d := range dirs {
			if strings.HasPrefix(f[5], d+string(filepath.Separator)) {
				exec.Command("userdel", f[0]).Run()
				exec.Command("groupdel", f[0]).Run() // where USERGROUPS_ENAB is off
			}
		}
	}
}

// clusterHost is where a cluster lives on the host, as the test finds it from outside.
type clusterHost struct {
	account user.User
	uid     int
	dir     string // the volume directory
	data    string
	sockDir string
	port    int // the server's private port, named by its socket
	pid     int // the postmaster
}

func findCluster(t *testing.T, dataDir, resourceID string) clusterHost {
	t.Helper()
	h := clusterHost{dir: filepath.Join(dataDir, "clusters", resourceID)}
	h.data = filepath.Join(h.dir, "data")
	u, err := user.Lookup(engine.TenantUser(resourceID))
	if err != nil {
		t.Fatalf("the account of %s: %v", resourceID, err)
	}
	h.account, h.uid = *u, atoi(u.Uid)
	pidFile, err := os.ReadFile(filepath.Join(h.data, "postmaster.pid"))
	if err != nil {
		t.Fatal(err)
	}
	h.pid = atoi(strings.SplitN(string(pidFile), "\n", 2)[0])
	runs, _ := filepath.Glob(filepath.Join(dataDir, "run", "*", ".s.PGSQL.*"))
	for _, s := range runs {
		var st syscall.Stat_t
		if syscall.Stat(filepath.Dir(s), &st) == nil && int(st.Uid) == h.uid && !strings.HasSuffix(s, ".lock") {
			h.sockDir, h.port = filepath.Dir(s), atoi(strings.TrimPrefix(filepath.Ext(s), "."))
		}
	}
	if h.sockDir == "" {
		t.Fatalf("no socket of %s under %s/run", resourceID, dataDir)
	}
	return h
}

func atoi(s string) int {
	n, _ := strconv.Atoi(strings.TrimSpace(s))
	return n
}

// serverUIDs lists the real, effective, saved and filesystem uids of a postmaster and its
// children.
func serverUIDs(t *testing.T, postmaster int) map[int]string {
	t.Helper()
	out := map[int]string{}
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "status"))
		if err != nil {
			continue
		}
		var uids string
		var ppid int
		for _, l := range strings.Split(string(b), "\n") {
			k, v, _ := strings.Cut(l, ":")
			switch k {
			case "Uid":
				uids = strings.Join(strings.Fields(v), " ")
			case "PPid":
				ppid = atoi(v)
			}
		}
		if pid == postmaster || ppid == postmaster {
			out[pid] = uids
		}
	}
	return out
}

// dbErr is a database error's code, message and detail, with the names in repl replaced.
func dbErr(err error, repl ...string) string {
	if err == nil {
		return "no error"
	}
	msg := err.Error()
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		msg = pe.Code + " " + pe.Message + " | " + pe.Detail
	}
	return strings.NewReplacer(repl...).Replace(msg)
}

// TestClustersAreTenantsOfEachOther attacks cluster B from cluster A's master, through
// every file-naming option dblink and postgres_fdw pass to libpq inside A's server: B's TLS
// key, data files, log and socket are neither used nor read, and the error texts are those
// of a missing file. Each server runs as its own account, which survives a kill -9 of serve
// and is removed with its cluster.
func TestClustersAreTenantsOfEachOther(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("not root: every server runs as Borealis' own user")
	}
	t.Parallel()
	ctx := context.Background()
	dir := testDataDir(t, "borealis-tenant-")
	addr := freeAddr(t)
	srv, err := startServer(dir, addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.stop() })
	if err := srv.openDefaultGroup(ctx, t); err != nil {
		t.Fatal(err)
	}
	c := srv.rds(t)
	pinPort := func(in *rds.CreateDBClusterInput) {
		_, p, _ := net.SplitHostPort(freeAddr(t))
		in.Port = aws.Int32(int32(atoi(p)))
	}
	descA, _ := createCluster(ctx, t, c, "tenant-a", "amaster", "A-pass-12345", "", pinPort)
	descB, instB := createCluster(ctx, t, c, "tenant-b", "bmaster", "B-pass-12345", "", pinPort)
	clA, clB := descA.DBClusters[0], descB.DBClusters[0]
	a := findCluster(t, dir, aws.ToString(clA.DbClusterResourceId))
	b := findCluster(t, dir, aws.ToString(clB.DbClusterResourceId))

	// Every process of each server runs as that cluster's account, and only as it.
	for _, h := range []clusterHost{a, b} {
		want := strings.TrimSpace(strings.Repeat(strconv.Itoa(h.uid)+" ", 4))
		procs := serverUIDs(t, h.pid)
		if len(procs) < 3 {
			t.Errorf("%s: %d server processes", h.account.Username, len(procs))
		}
		for pid, uids := range procs {
			if uids != want {
				t.Errorf("%s: pid %d runs as uids %s, want %s", h.account.Username, pid, uids, want)
			}
		}
		if h.account.HomeDir != h.dir || h.uid == 0 {
			t.Errorf("account %+v", h.account)
		}
	}
	if a.uid == b.uid {
		t.Fatalf("clusters A and B share uid %d", a.uid)
	}

	endpointA, portA := aws.ToString(clA.Endpoint), aws.ToInt32(clA.Port)
	m := srv.connect(ctx, t, endpointA, portA, "amaster", "A-pass-12345", "postgres")
	for _, ext := range []string{"dblink", "postgres_fdw"} {
		if _, err := m.Exec(ctx, "CREATE EXTENSION "+ext); err != nil {
			t.Fatalf("CREATE EXTENSION %s as the master: %v", ext, err)
		}
	}
	if _, err := m.Exec(ctx, "CREATE TABLE kept AS SELECT 'survives' AS v"); err != nil {
		t.Fatal(err)
	}
	dblink := func(connstr string) error {
		var ok string
		err := m.QueryRow(ctx, "SELECT dblink_connect('probe', $1)", connstr).Scan(&ok)
		if err == nil {
			m.Exec(ctx, "SELECT dblink_disconnect('probe')")
		}
		return err
	}

	// TLS to A's own endpoint, so that libpq opens the certificate files it is given. Each
	// option names B's files and a missing name beside them: the texts must not differ.
	tls := fmt.Sprintf("host=%s hostaddr=127.0.0.1 port=%d dbname=postgres user=nobody password=x connect_timeout=10 ", endpointA, portA)
	key, crt, missing := filepath.Join(b.data, "server.key"), filepath.Join(b.data, "server.crt"), filepath.Join(b.data, "no-such-file")
	ownCrt := filepath.Join(a.data, "server.crt")
	for _, cs := range []struct{ option, opts, want string }{
		{"sslcert", "sslmode=require sslcert=%s sslkey=" + key, "Permission denied"},
		{"sslkey", "sslmode=require sslcert=" + ownCrt + " sslkey=%s", "Permission denied"},
		{"sslrootcert", "sslmode=verify-ca sslrootcert=%s", "does not exist"},
		{"sslcrl", "sslmode=verify-ca sslrootcert=" + ownCrt + " sslcrl=%s", ""},
		{"passfile", "sslmode=require passfile=%s", ""},
	} {
		// B's log files too: the collector's current hour, in B's own log directory.
		bLog := filepath.Join(b.dir, "log", "postgresql.log."+time.Now().UTC().Format("2006-01-02-15"))
		for _, file := range []string{key, crt, filepath.Join(b.data, "global", "pg_control"), filepath.Join(b.dir, "postgresql.log"), bLog} {
			got := dbErr(dblink(tls+fmt.Sprintf(cs.opts, file)), file, "<file>")
			none := dbErr(dblink(tls+fmt.Sprintf(cs.opts, missing)), missing, "<file>")
			if got != none || !strings.Contains(got, cs.want) {
				t.Errorf("dblink %s=%s tells B's file from a missing one:\n  B's:     %s\n  missing: %s", cs.option, file, got, none)
			}
		}
	}
	if got := dbErr(dblink(tls + "service=tenant-b")); !strings.Contains(got, `definition of service "tenant-b" not found`) {
		t.Errorf("dblink service=: %s", got)
	}
	// Borealis' own secrets are root's: their names are documented, their contents stay out
	// of reach (a file libpq could read but not parse says "no start line").
	for _, f := range []string{"credentials", "borealis.db", "root-console-password"} {
		p := filepath.Join(dir, f)
		got := dbErr(dblink(tls+"sslmode=require sslcert="+p+" sslkey="+p), p, "<file>")
		if !strings.Contains(got, `could not read certificate file "<file>"`) || strings.Contains(got, "no start line") {
			t.Errorf("dblink sslcert=%s: %s", p, got)
		}
	}

	// B's socket, through dblink and postgres_fdw: the directory is B's alone.
	sock := func(port int) string {
		return fmt.Sprintf("host=%s port=%d dbname=postgres user=rdsadmin password=x", b.sockDir, port)
	}
	live := dbErr(dblink(sock(b.port)), b.sockDir, "<dir>", strconv.Itoa(b.port), "<port>")
	dead := dbErr(dblink(sock(1)), b.sockDir, "<dir>", ".s.PGSQL.1", ".s.PGSQL.<port>")
	if live != dead || !strings.Contains(live, "Permission denied") {
		t.Errorf("dblink to B's socket:\n  live:    %s\n  missing: %s", live, dead)
	}
	// postgres_fdw: the same libpq, from a server the master creates.
	fdw := func(name, opts string) string {
		for _, q := range []string{
			fmt.Sprintf("CREATE SERVER %s FOREIGN DATA WRAPPER postgres_fdw OPTIONS (%s)", name, opts),
			fmt.Sprintf("CREATE USER MAPPING FOR CURRENT_USER SERVER %s OPTIONS (user 'rdsadmin', password 'x')", name),
			fmt.Sprintf("CREATE FOREIGN TABLE %s_t (relname name) SERVER %s OPTIONS (schema_name 'pg_catalog', table_name 'pg_class')", name, name),
		} {
			if _, err := m.Exec(ctx, q); err != nil {
				return dbErr(err, name, "<server>")
			}
		}
		var n int
		return dbErr(m.QueryRow(ctx, fmt.Sprintf("SELECT count(*) FROM %s_t", name)).Scan(&n), name, "<server>")
	}
	fLive := strings.NewReplacer(b.sockDir, "<dir>", strconv.Itoa(b.port), "<port>").Replace(
		fdw("b_live", fmt.Sprintf("host '%s', port '%d', dbname 'postgres'", b.sockDir, b.port)))
	fDead := strings.NewReplacer(b.sockDir, "<dir>", ".s.PGSQL.1", ".s.PGSQL.<port>").Replace(
		fdw("b_dead", fmt.Sprintf("host '%s', port '1', dbname 'postgres'", b.sockDir)))
	if fLive != fDead || !strings.Contains(strings.ToLower(fLive), "permission denied") {
		t.Errorf("postgres_fdw to B's socket:\n  live:    %s\n  missing: %s", fLive, fDead)
	}
	fRoot := strings.ReplaceAll(fdw("b_root", fmt.Sprintf("host '%s', hostaddr '127.0.0.1', port '%d', dbname 'postgres', sslmode 'verify-ca', sslrootcert '%s'", endpointA, portA, crt)), crt, "<file>")
	fNone := strings.ReplaceAll(fdw("b_none", fmt.Sprintf("host '%s', hostaddr '127.0.0.1', port '%d', dbname 'postgres', sslmode 'verify-ca', sslrootcert '%s'", endpointA, portA, missing)), missing, "<file>")
	if fRoot != fNone {
		t.Errorf("postgres_fdw sslrootcert tells B's file from a missing one:\n  B's:     %s\n  missing: %s", fRoot, fNone)
	}
	t.Logf("postgres_fdw to B's socket: %s; with sslrootcert=<B's certificate>: %s", fLive, fRoot)
	m.Close(ctx)

	// A kill -9 of serve, then a new serve: the same account runs A's server, on the same data.
	before := postmastersUnder(t, dir)
	srv.kill()
	if n := postmastersUnder(t, dir); n != before || n == 0 {
		t.Errorf("%d postmasters after serve was killed, want the %d before still running", n, before)
	}
	if srv, err = startServer(dir, addr); err != nil {
		t.Fatal(err)
	}
	eventually(t, 2*time.Minute, "cluster A to accept connections again", func() (bool, error) {
		cn, err := srv.tryConnect(ctx, endpointA, portA, "amaster", "A-pass-12345", "postgres")
		if err != nil {
			return false, err
		}
		defer cn.Close(ctx)
		var v string
		err = cn.QueryRow(ctx, "SELECT v FROM kept").Scan(&v)
		return err == nil && v == "survives", err
	})
	a2 := findCluster(t, dir, aws.ToString(clA.DbClusterResourceId))
	if a2.uid != a.uid || a2.account.Username != a.account.Username {
		t.Errorf("A's account after the restart: %s (%d), before %s (%d)", a2.account.Username, a2.uid, a.account.Username, a.uid)
	}
	for pid, uids := range serverUIDs(t, a2.pid) {
		if !strings.HasPrefix(uids, strconv.Itoa(a.uid)+" ") {
			t.Errorf("after the restart, pid %d runs as %s", pid, uids)
		}
	}

	// Deleting B removes its account, its socket directory and its volume.
	c = srv.rds(t)
	deleteCluster(ctx, t, c, "tenant-b", instB)
	if _, err := user.Lookup(b.account.Username); !errors.As(err, new(user.UnknownUserError)) {
		t.Errorf("B's account after DeleteDBCluster: %v", err)
	}
	for _, p := range []string{b.sockDir, b.dir} {
		if _, err := os.Lstat(p); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%s after DeleteDBCluster: %v", p, err)
		}
	}
}
