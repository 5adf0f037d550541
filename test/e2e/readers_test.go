package e2e

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/rds/auth"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/rds"
	rdstypes "github.com/aws/aws-sdk-go-v2/service/rds/types"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	mdns "github.com/miekg/dns"
)

// whoAnswers is the instance behind a session (the server's cluster_name is its instance
// identifier) and whether it is a reader (in recovery).
func whoAnswers(ctx context.Context, t *testing.T, conn *pgx.Conn) (string, bool) {
	t.Helper()
	var name string
	var reader bool
	if err := conn.QueryRow(ctx, "SELECT current_setting('cluster_name'), pg_is_in_recovery()").Scan(&name, &reader); err != nil {
		t.Fatal(err)
	}
	return name, reader
}

func addReader(ctx context.Context, t *testing.T, c *rds.Client, cluster, id string, tier int32) {
	t.Helper()
	out, err := c.CreateDBInstance(ctx, &rds.CreateDBInstanceInput{
		DBInstanceIdentifier: aws.String(id),
		DBClusterIdentifier:  aws.String(cluster),
		DBInstanceClass:      aws.String("db.r6g.large"),
		Engine:               aws.String("aurora-postgresql"),
		PromotionTier:        aws.Int32(tier),
	})
	if err != nil {
		t.Fatalf("CreateDBInstance %s: %v", id, err)
	}
	if got := aws.ToString(out.DBInstance.DBInstanceStatus); got != "creating" {
		t.Errorf("new reader %s: status %q, want creating", id, got)
	}
}

// TestReadersStreamFromTheWriter: a cluster with a writer and two readers. Each reader is
// a hot standby of the writer, reached by its instance endpoint: rows written on the
// writer are read on both, a write there fails with PostgreSQL's read-only error, a role
// and password made on the writer log in on the readers, and the security rules hold.
func TestReadersStreamFromTheWriter(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	srv := shared.get(t)
	c := srv.rds(t)
	const user, password = "dbmaster", "S3cret-pass!"
	desc, writerID := createCluster(ctx, t, c, "Readers-1", user, password, "appdb")
	cl := desc.DBClusters[0]
	port := aws.ToInt32(cl.Port)
	readers := []string{"readers-1-r1", "readers-1-r2"}
	addReader(ctx, t, c, "Readers-1", readers[0], 0)
	addReader(ctx, t, c, "Readers-1", readers[1], 15)
	for _, id := range readers {
		if err := rds.NewDBInstanceAvailableWaiter(c, waitInstOpts).Wait(ctx, &rds.DescribeDBInstancesInput{DBInstanceIdentifier: aws.String(id)}, 3*time.Minute); err != nil {
			t.Fatalf("wait reader %s available: %v", id, err)
		}
	}
	t.Cleanup(func() {
		for _, id := range append(readers, writerID) {
			c.DeleteDBInstance(ctx, &rds.DeleteDBInstanceInput{DBInstanceIdentifier: aws.String(id), SkipFinalSnapshot: aws.Bool(true)})
		}
		for _, id := range append(readers, writerID) {
			rds.NewDBInstanceDeletedWaiter(c, waitDelOpts).Wait(ctx, &rds.DescribeDBInstancesInput{DBInstanceIdentifier: aws.String(id)}, 2*time.Minute)
		}
		c.DeleteDBCluster(ctx, &rds.DeleteDBClusterInput{DBClusterIdentifier: aws.String("Readers-1"), SkipFinalSnapshot: aws.Bool(true)})
	})

	t.Run("DBClusterMembers lists the readers with their tiers", func(t *testing.T) {
		out, err := c.DescribeDBClusters(ctx, &rds.DescribeDBClustersInput{DBClusterIdentifier: aws.String("Readers-1")})
		if err != nil {
			t.Fatal(err)
		}
		type member struct {
			writer bool
			tier   int32
		}
		got := map[string]member{}
		for _, m := range out.DBClusters[0].DBClusterMembers {
			got[aws.ToString(m.DBInstanceIdentifier)] = member{aws.ToBool(m.IsClusterWriter), aws.ToInt32(m.PromotionTier)}
		}
		want := map[string]member{writerID: {true, 1}, readers[0]: {false, 0}, readers[1]: {false, 15}}
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("members %v, want %v", got, want)
		}
	})

	w := srv.connect(ctx, t, aws.ToString(cl.Endpoint), port, user, password, "appdb")
	if name, reader := whoAnswers(ctx, t, w); name != writerID || reader {
		t.Fatalf("the cluster endpoint reached %s (reader %v), want the writer", name, reader)
	}
	for _, q := range []string{
		"CREATE TABLE t (v text)", "INSERT INTO t VALUES ('one'), ('two')",
		"CREATE ROLE app LOGIN PASSWORD 'App-pass-1'", "GRANT SELECT ON t TO app",
	} {
		if _, err := w.Exec(ctx, q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}

	for _, id := range readers {
		t.Run("reader "+id, func(t *testing.T) {
			in := describeInstance(ctx, t, c, id)
			endpoint := aws.ToString(in.Endpoint.Address)
			r := srv.connect(ctx, t, endpoint, aws.ToInt32(in.Endpoint.Port), user, password, "appdb")
			if name, reader := whoAnswers(ctx, t, r); name != id || !reader {
				t.Fatalf("its instance endpoint reached %s (reader %v)", name, reader)
			}
			// Its private port is claimed in the host's port registry, for the cluster.
			claim, err := os.ReadFile(filepath.Join("/var/lib/borealis/ports", strconv.Itoa(privatePort(ctx, t, r))))
			if err != nil || !strings.Contains(string(claim), `"readers-1"`) {
				t.Errorf("%s's private port claim: %s %v", id, claim, err)
			}
			eventually(t, 30*time.Second, "the writer's rows on "+id, func() (bool, error) {
				// Until the reader replays the CREATE TABLE, t does not exist there yet.
				rows, err := r.Query(ctx, "SELECT v FROM t ORDER BY v")
				if err != nil {
					return false, err
				}
				got, err := pgx.CollectRows(rows, pgx.RowTo[string])
				return err == nil && fmt.Sprint(got) == "[one two]", fmt.Errorf("rows %v %v", got, err)
			})
			eventually(t, 10*time.Second, id+"'s replica lag at /metrics", func() (bool, error) {
				resp, err := http.Get("http://" + srv.APIAddr + "/metrics")
				if err != nil {
					return false, err
				}
				defer resp.Body.Close()
				body, _ := io.ReadAll(resp.Body)
				return regexp.MustCompile(`(?m)^borealis_replica_lag_bytes\{cluster="readers-1",instance="` + id + `"\} \d`).Match(body), nil
			})
			_, err = r.Exec(ctx, "INSERT INTO t VALUES ('three')")
			var pe *pgconn.PgError
			if !errors.As(err, &pe) || pe.Code != "25006" {
				t.Errorf("write on a reader: %v, want SQLSTATE 25006", err)
			}
			// A cancel, which names no endpoint, reaches the reader's session.
			done := make(chan error, 1)
			go func() {
				_, err := r.Exec(ctx, "SELECT pg_sleep(60)")
				done <- err
			}()
			time.Sleep(300 * time.Millisecond)
			if err := r.PgConn().CancelRequest(ctx); err != nil {
				t.Fatalf("CancelRequest: %v", err)
			}
			select {
			case err := <-done:
				if !errors.As(err, &pe) || pe.Code != "57014" {
					t.Errorf("the cancelled query: %v, want SQLSTATE 57014", err)
				}
			case <-time.After(20 * time.Second):
				t.Fatal("the cancel did not reach the reader")
			}
			// The role and password made on the writer work here.
			eventually(t, 30*time.Second, "app's login on "+id, func() (bool, error) {
				conn, err := srv.tryConnect(ctx, endpoint, aws.ToInt32(in.Endpoint.Port), "app", "App-pass-1", "appdb")
				if err == nil {
					conn.Close(ctx)
				}
				return err == nil, err
			})
			// The guard runs here too: the master cannot reach the replication role.
			_, err = r.Exec(ctx, "GRANT rdsrepladmin TO "+user)
			if !errors.As(err, &pe) || pe.Code != "42501" && pe.Code != "25006" {
				t.Errorf("GRANT rdsrepladmin on a reader: %v", err)
			}
			tc, ok := r.PgConn().Conn().(*tls.Conn)
			if !ok {
				t.Fatal("the connection is not TLS")
			}
			names := slices.Clone(tc.ConnectionState().PeerCertificates[0].DNSNames)
			want := []string{aws.ToString(cl.Endpoint), aws.ToString(cl.ReaderEndpoint), endpoint}
			slices.Sort(names)
			slices.Sort(want)
			if !slices.Equal(names, want) {
				t.Errorf("%s's certificate names %v, want %v", id, names, want)
			}
		})
	}
	t.Run("the reader endpoint spreads new connections over the readers", func(t *testing.T) {
		// In turn, in the kernel (or the relay): 6 connections, 3 each.
		seen := map[string]int{}
		for range 6 {
			conn := srv.connect(ctx, t, aws.ToString(cl.ReaderEndpoint), port, user, password, "appdb")
			name, reader := whoAnswers(ctx, t, conn)
			if !reader {
				t.Errorf("the reader endpoint reached %s, not a reader", name)
			}
			seen[name]++
			conn.Close(ctx)
		}
		if seen[readers[0]] == 0 || seen[readers[1]] == 0 || len(seen) != 2 {
			t.Errorf("the reader endpoint reached %v; want both readers", seen)
		}
	})
	t.Run("serve's DNS gives the reader endpoint its own address, which reaches a reader", func(t *testing.T) {
		ro := aws.ToString(cl.ReaderEndpoint)
		r := dnsQuery(t, srv.DNSAddr, ro, mdns.TypeA)
		if len(r.Answer) != 1 || r.Answer[0].(*mdns.A).A.String() != endpointAddr(ro) || endpointAddr(ro) == "127.0.0.1" {
			t.Fatalf("A %s: %v; want its own address %s", ro, r.Answer, endpointAddr(ro))
		}
		if r := dnsQuery(t, srv.DNSAddr, ro, mdns.TypeAAAA); len(r.Answer) != 0 {
			t.Errorf("AAAA %s: %v; want none (::1 is the cluster endpoint's)", ro, r.Answer)
		}
		cfg, err := pgx.ParseConfig(fmt.Sprintf("host=%s port=%d user=%s password=%s dbname=appdb sslmode=verify-full sslrootcert=%s connect_timeout=10",
			ro, port, user, password, srv.bundlePath()))
		if err != nil {
			t.Fatal(err)
		}
		cfg.LookupFunc = (&net.Resolver{PreferGo: true, Dial: func(ctx context.Context, network, _ string) (net.Conn, error) {
			return (&net.Dialer{}).DialContext(ctx, network, srv.DNSAddr)
		}}).LookupHost
		conn, err := pgx.ConnectConfig(ctx, cfg)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close(ctx)
		if name, reader := whoAnswers(ctx, t, conn); !reader {
			t.Errorf("the reader endpoint by its name reached %s, not a reader", name)
		}
	})
	t.Run("the writer's instance endpoint reaches the writer", func(t *testing.T) {
		in := describeInstance(ctx, t, c, writerID)
		conn := srv.connect(ctx, t, aws.ToString(in.Endpoint.Address), aws.ToInt32(in.Endpoint.Port), user, password, "appdb")
		if name, reader := whoAnswers(ctx, t, conn); name != writerID || reader {
			t.Errorf("reached %s (reader %v)", name, reader)
		}
	})

	t.Run("without readers the reader endpoint reaches the writer", func(t *testing.T) {
		for _, id := range readers {
			if _, err := c.DeleteDBInstance(ctx, &rds.DeleteDBInstanceInput{DBInstanceIdentifier: aws.String(id), SkipFinalSnapshot: aws.Bool(true)}); err != nil {
				t.Fatal(err)
			}
		}
		for _, id := range readers {
			if err := rds.NewDBInstanceDeletedWaiter(c, waitDelOpts).Wait(ctx, &rds.DescribeDBInstancesInput{DBInstanceIdentifier: aws.String(id)}, 2*time.Minute); err != nil {
				t.Fatal(err)
			}
		}
		conn := srv.connect(ctx, t, aws.ToString(cl.ReaderEndpoint), port, user, password, "appdb")
		if name, reader := whoAnswers(ctx, t, conn); name != writerID || reader {
			t.Errorf("reached %s (reader %v), want the writer", name, reader)
		}
		// The deleted readers' copies are gone; the writer's rows are not.
		left, _ := filepath.Glob(filepath.Join(srv.DataDir, "clusters", aws.ToString(cl.DbClusterResourceId), "data-*"))
		for _, p := range left {
			if fi, err := os.Stat(p); err == nil && fi.IsDir() {
				t.Errorf("a deleted reader left its data directory %s", p)
			}
		}
		if rows := queryRows(ctx, t, conn, "SELECT v FROM t ORDER BY v"); fmt.Sprint(rows) != "[one two]" {
			t.Errorf("rows %v", rows)
		}
	})
}

// TestKill9OfServeKeepsReaders: serve killed and started again adopts the writer's and the
// reader's servers (the same postmasters), and the reader streams on, reached by its names.
func TestKill9OfServeKeepsReaders(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dir := testDataDir(t, "borealis-readers-restart-")
	addr := freeAddr(t)
	srv, err := startServer(dir, addr)
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.openDefaultGroup(ctx, t); err != nil {
		t.Fatal(err)
	}
	c := srv.rds(t)
	_, freePort, _ := net.SplitHostPort(freeAddr(t))
	pin, _ := strconv.Atoi(freePort)
	const user, password = "owner1", "Durable-pass1"
	desc, writerID := createCluster(ctx, t, c, "durable-ro", user, password, "", func(in *rds.CreateDBClusterInput) {
		in.Port = aws.Int32(int32(pin))
	})
	cl := desc.DBClusters[0]
	port := aws.ToInt32(cl.Port)
	const readerID = "durable-ro-r1"
	addReader(ctx, t, c, "durable-ro", readerID, 1)
	if err := rds.NewDBInstanceAvailableWaiter(c, waitInstOpts).Wait(ctx, &rds.DescribeDBInstancesInput{DBInstanceIdentifier: aws.String(readerID)}, 3*time.Minute); err != nil {
		t.Fatal(err)
	}
	w := srv.connect(ctx, t, aws.ToString(cl.Endpoint), port, user, password, "postgres")
	if _, err := w.Exec(ctx, "CREATE TABLE t (v text); INSERT INTO t VALUES ('before')"); err != nil {
		t.Fatal(err)
	}
	w.Close(ctx)
	pids := postmasterPIDsUnder(t, dir)
	if len(pids) != 2 {
		t.Fatalf("postmasters: %v, want the writer's and the reader's", pids)
	}
	// Sessions through the reader endpoint, over TLS and in plaintext (which names no
	// endpoint: its address does), reach the reader and outlive serve.
	ro := aws.ToString(cl.ReaderEndpoint)
	plain := func() (*pgx.Conn, error) {
		cfg, err := pgx.ParseConfig(fmt.Sprintf("host=%s port=%d user=%s password=%s dbname=postgres sslmode=disable connect_timeout=10", ro, port, user, password))
		if err != nil {
			return nil, err
		}
		cfg.LookupFunc = lookupEndpoint
		return pgx.ConnectConfig(ctx, cfg)
	}
	var sessions []*pgx.Conn
	eventually(t, 30*time.Second, "the reader through the reader endpoint", func() (bool, error) {
		c, err := srv.tryConnect(ctx, ro, port, user, password, "postgres")
		if err != nil {
			return false, err
		}
		sessions = append(sessions, c)
		return true, nil
	})
	p, err := plain()
	if err != nil {
		t.Fatalf("plaintext through the reader endpoint: %v", err)
	}
	sessions = append(sessions, p)
	for _, s := range sessions {
		defer s.Close(ctx)
		if name, reader := whoAnswers(ctx, t, s); name != readerID || !reader {
			t.Fatalf("the reader endpoint reached %s (reader %v)", name, reader)
		}
	}

	// The security groups decide first on the reader's own address too: 127.0.0.9 is no
	// source the default group admits.
	refused := func(when string) {
		t.Helper()
		d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP("127.0.0.9")}, Timeout: 5 * time.Second}
		c, err := d.Dial("tcp", net.JoinHostPort(endpointAddr(ro), strconv.Itoa(int(port))))
		if err == nil {
			c.Close()
			t.Errorf("%s: 127.0.0.9 connected to the reader endpoint", when)
		} else if !errors.Is(err, syscall.ECONNREFUSED) {
			t.Errorf("%s: 127.0.0.9 to the reader endpoint: %v, want connection refused", when, err)
		}
	}
	refused("serve running")

	srv.kill()
	refused("serve down")
	// While serve is away the kernel goes on steering the reader endpoint by its pins.
	if p, err := plain(); err != nil {
		t.Errorf("the reader endpoint while serve is down: %v", err)
	} else {
		if name, _ := whoAnswers(ctx, t, p); name != readerID {
			t.Errorf("the reader endpoint while serve is down reached %s", name)
		}
		p.Close(ctx)
	}
	for _, s := range sessions {
		if name, _ := whoAnswers(ctx, t, s); name != readerID {
			t.Errorf("a reader session after kill -9 of serve answers as %s", name)
		}
	}
	srv, err = startServer(dir, addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.stop)
	c = srv.rds(t)
	for _, id := range []string{writerID, readerID} {
		if err := rds.NewDBInstanceAvailableWaiter(c, waitInstOpts).Wait(ctx, &rds.DescribeDBInstancesInput{DBInstanceIdentifier: aws.String(id)}, 2*time.Minute); err != nil {
			t.Fatal(err)
		}
	}
	var w2 *pgx.Conn
	eventually(t, 60*time.Second, "the cluster endpoint again", func() (bool, error) {
		w2, err = srv.tryConnect(ctx, aws.ToString(cl.Endpoint), port, user, password, "postgres")
		return err == nil, err
	})
	defer w2.Close(ctx)
	if _, err := w2.Exec(ctx, "INSERT INTO t VALUES ('after')"); err != nil {
		t.Fatal(err)
	}
	var r *pgx.Conn
	eventually(t, 60*time.Second, "the reader endpoint again", func() (bool, error) {
		r, err = srv.tryConnect(ctx, aws.ToString(cl.ReaderEndpoint), port, user, password, "postgres")
		return err == nil, err
	})
	defer r.Close(ctx)
	if name, reader := whoAnswers(ctx, t, r); name != readerID || !reader {
		t.Errorf("the reader endpoint reached %s (reader %v)", name, reader)
	}
	eventually(t, 30*time.Second, "the reader to stream on", func() (bool, error) {
		rows := queryRows(ctx, t, r, "SELECT v FROM t ORDER BY v")
		return fmt.Sprint(rows) == "[after before]", fmt.Errorf("rows %v", rows)
	})
	if got := postmasterPIDsUnder(t, dir); !slices.Equal(got, pids) {
		t.Errorf("postmasters after the restart: %v, want the same %v adopted", got, pids)
	}
	for _, s := range sessions {
		if rows := queryRows(ctx, t, s, "SELECT v FROM t ORDER BY v"); fmt.Sprint(rows) != "[after before]" {
			t.Errorf("a reader session opened before the restart reads %v", rows)
		}
	}
	for _, id := range []string{readerID, writerID} {
		c.DeleteDBInstance(ctx, &rds.DeleteDBInstanceInput{DBInstanceIdentifier: aws.String(id), SkipFinalSnapshot: aws.Bool(true)})
	}
	for _, id := range []string{readerID, writerID} {
		rds.NewDBInstanceDeletedWaiter(c, waitDelOpts).Wait(ctx, &rds.DescribeDBInstancesInput{DBInstanceIdentifier: aws.String(id)}, 2*time.Minute)
	}
	c.DeleteDBCluster(ctx, &rds.DeleteDBClusterInput{DBClusterIdentifier: aws.String("durable-ro"), SkipFinalSnapshot: aws.Bool(true)})
}

// TestIAMLoginOnAReader: IAM database authentication holds on a reader as on the writer: a
// token for the reader endpoint logs a member of rds_iam in there, and its password no
// longer does.
func TestIAMLoginOnAReader(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	srv := shared.get(t)
	c := srv.rds(t)
	desc, writerID := createCluster(ctx, t, c, "iam-ro", "owner1", "Owner-pass-123", "", func(in *rds.CreateDBClusterInput) {
		in.EnableIAMDatabaseAuthentication = aws.Bool(true)
	})
	cl := desc.DBClusters[0]
	port := aws.ToInt32(cl.Port)
	const readerID = "iam-ro-r1"
	addReader(ctx, t, c, "iam-ro", readerID, 1)
	if err := rds.NewDBInstanceAvailableWaiter(c, waitInstOpts).Wait(ctx, &rds.DescribeDBInstancesInput{DBInstanceIdentifier: aws.String(readerID)}, 3*time.Minute); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		for _, id := range []string{readerID, writerID} {
			c.DeleteDBInstance(ctx, &rds.DeleteDBInstanceInput{DBInstanceIdentifier: aws.String(id), SkipFinalSnapshot: aws.Bool(true)})
		}
		for _, id := range []string{readerID, writerID} {
			rds.NewDBInstanceDeletedWaiter(c, waitDelOpts).Wait(ctx, &rds.DescribeDBInstancesInput{DBInstanceIdentifier: aws.String(id)}, 2*time.Minute)
		}
		c.DeleteDBCluster(ctx, &rds.DeleteDBClusterInput{DBClusterIdentifier: aws.String("iam-ro"), SkipFinalSnapshot: aws.Bool(true)})
	})
	owner := srv.connect(ctx, t, aws.ToString(cl.Endpoint), port, "owner1", "Owner-pass-123", "postgres")
	for _, q := range []string{`CREATE ROLE app_ro LOGIN PASSWORD 'Ro-pass-1234'`, `GRANT rds_iam TO app_ro`} {
		if _, err := owner.Exec(ctx, q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	consoleUser(ctx, t, srv, "db-ro", "Db-ro-pass-123", nil,
		`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"rds-db:connect","Resource":"arn:aws:rds-db:us-east-1:*:dbuser:*/app_*"}]}`)
	k, err := srv.iam(t).CreateAccessKey(ctx, &iam.CreateAccessKeyInput{UserName: aws.String("db-ro")})
	if err != nil {
		t.Fatal(err)
	}
	ro := aws.ToString(cl.ReaderEndpoint)
	var conn *pgx.Conn
	eventually(t, 30*time.Second, "a token login through the reader endpoint", func() (bool, error) {
		tok, err := auth.BuildAuthToken(ctx, fmt.Sprintf("%s:%d", ro, port), "us-east-1", "app_ro",
			staticCreds(aws.ToString(k.AccessKey.AccessKeyId), aws.ToString(k.AccessKey.SecretAccessKey)))
		if err != nil {
			return false, err
		}
		conn, err = srv.loginWith(ctx, ro, port, "app_ro", tok, "verify-full")
		return err == nil, err
	})
	defer conn.Close(ctx)
	if name, reader := whoAnswers(ctx, t, conn); name != readerID || !reader {
		t.Errorf("the token login reached %s (reader %v), want the reader", name, reader)
	}
	if c, err := srv.loginWith(ctx, ro, port, "app_ro", "Ro-pass-1234", "verify-full"); err == nil {
		c.Close(ctx)
		t.Error("a member of rds_iam logged in on the reader with its password")
	}
}

// TestReaderRunsWithTheClusterRulesAndItsOwnGroup: the cluster parameter group's rds.*
// settings and the guard hold on a reader, and the reader runs with its own DB parameter
// group, not the writer's.
func TestReaderRunsWithTheClusterRulesAndItsOwnGroup(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	srv := shared.get(t)
	c := srv.rds(t)
	newClusterGroup(ctx, t, c, "ro-rules")
	if _, err := c.ModifyDBClusterParameterGroup(ctx, &rds.ModifyDBClusterParameterGroupInput{DBClusterParameterGroupName: aws.String("ro-rules"),
		Parameters: []rdstypes.Parameter{
			param("rds.restrict_password_commands", "1", rdstypes.ApplyMethodPendingReboot),
			param("rds.force_ssl", "1", rdstypes.ApplyMethodImmediate),
		}}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.CreateDBParameterGroup(ctx, &rds.CreateDBParameterGroupInput{DBParameterGroupName: aws.String("ro-own"),
		DBParameterGroupFamily: aws.String("aurora-postgresql15"), Description: aws.String("ro-own")}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.ModifyDBParameterGroup(ctx, &rds.ModifyDBParameterGroupInput{DBParameterGroupName: aws.String("ro-own"),
		Parameters: []rdstypes.Parameter{param("work_mem", "7168", rdstypes.ApplyMethodImmediate)}}); err != nil {
		t.Fatal(err)
	}
	desc, writerID := createCluster(ctx, t, c, "ro-rules", "master1", "Master-pass1", "", func(in *rds.CreateDBClusterInput) {
		in.DBClusterParameterGroupName = aws.String("ro-rules")
	})
	cl := desc.DBClusters[0]
	port := aws.ToInt32(cl.Port)
	const readerID = "ro-rules-r1"
	if _, err := c.CreateDBInstance(ctx, &rds.CreateDBInstanceInput{DBInstanceIdentifier: aws.String(readerID), DBClusterIdentifier: aws.String("ro-rules"),
		DBInstanceClass: aws.String("db.r6g.large"), Engine: aws.String("aurora-postgresql"), DBParameterGroupName: aws.String("ro-own")}); err != nil {
		t.Fatal(err)
	}
	if err := rds.NewDBInstanceAvailableWaiter(c, waitInstOpts).Wait(ctx, &rds.DescribeDBInstancesInput{DBInstanceIdentifier: aws.String(readerID)}, 3*time.Minute); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		for _, id := range []string{readerID, writerID} {
			c.DeleteDBInstance(ctx, &rds.DeleteDBInstanceInput{DBInstanceIdentifier: aws.String(id), SkipFinalSnapshot: aws.Bool(true)})
		}
		for _, id := range []string{readerID, writerID} {
			rds.NewDBInstanceDeletedWaiter(c, waitDelOpts).Wait(ctx, &rds.DescribeDBInstancesInput{DBInstanceIdentifier: aws.String(id)}, 2*time.Minute)
		}
		c.DeleteDBCluster(ctx, &rds.DeleteDBClusterInput{DBClusterIdentifier: aws.String("ro-rules"), SkipFinalSnapshot: aws.Bool(true)})
	})
	w := srv.connect(ctx, t, aws.ToString(cl.Endpoint), port, "master1", "Master-pass1", "postgres")
	for _, q := range []string{"CREATE ROLE cr LOGIN CREATEROLE PASSWORD 'Cr-pass-1234'", "CREATE ROLE victim LOGIN PASSWORD 'Victim-pass-1'"} {
		if _, err := w.Exec(ctx, q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	in := describeInstance(ctx, t, c, readerID)
	ep, eport := aws.ToString(in.Endpoint.Address), aws.ToInt32(in.Endpoint.Port)
	r := srv.connect(ctx, t, ep, eport, "master1", "Master-pass1", "postgres")
	if name, reader := whoAnswers(ctx, t, r); name != readerID || !reader {
		t.Fatalf("reached %s (reader %v)", name, reader)
	}
	for name, want := range map[string]string{"rds.force_ssl": "on", "rds.restrict_password_commands": "on", "work_mem": "7MB"} {
		if got := show(ctx, t, r, name); got != want {
			t.Errorf("on the reader, %s = %s, want %s", name, got, want)
		}
	}
	if got := show(ctx, t, w, "work_mem"); got == "7MB" {
		t.Error("the writer runs with the reader's DB parameter group")
	}
	// The guard refuses first: a CREATEROLE role outside rds_password gets its refusal on
	// a reader too, not only the read-only one.
	var cr *pgx.Conn
	eventually(t, 30*time.Second, "cr's login on the reader", func() (bool, error) {
		var err error
		cr, err = srv.tryConnect(ctx, ep, eport, "cr", "Cr-pass-1234", "postgres")
		return err == nil, err
	})
	defer cr.Close(ctx)
	_, err := cr.Exec(ctx, "ALTER ROLE victim PASSWORD 'Other-pass-1'")
	var pe *pgconn.PgError
	if !errors.As(err, &pe) || pe.Code != "42501" || !strings.Contains(pe.Message, "rds_password") {
		t.Errorf("a password change by cr on the reader: %v; want the guard's refusal", err)
	}
}
