package e2e

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/rds"
	rdstypes "github.com/aws/aws-sdk-go-v2/service/rds/types"
)

// eventMessages are the messages DescribeEvents gives for one source, oldest first.
func eventMessages(ctx context.Context, t *testing.T, c *rds.Client, typ rdstypes.SourceType, id string) []string {
	t.Helper()
	out, err := c.DescribeEvents(ctx, &rds.DescribeEventsInput{SourceType: typ, SourceIdentifier: aws.String(id), Duration: aws.Int32(120)})
	if err != nil {
		t.Fatalf("DescribeEvents %s %s: %v", typ, id, err)
	}
	var msgs []string
	for _, e := range out.Events {
		if aws.ToString(e.SourceIdentifier) != id || e.SourceType != typ || e.Date == nil {
			t.Errorf("event of another source or without a date: %+v", e)
		}
		msgs = append(msgs, aws.ToString(e.Message))
	}
	return msgs
}

// waitEvent waits until DescribeEvents shows want for the source.
func waitEvent(ctx context.Context, t *testing.T, c *rds.Client, typ rdstypes.SourceType, id, want string) {
	t.Helper()
	eventually(t, 2*time.Minute, "event "+want+" of "+id, func() (bool, error) {
		return slices.Contains(eventMessages(ctx, t, c, typ, id), want), nil
	})
}

// awsCLI runs the aws CLI against the server as its root user; nil when it is not installed.
func awsCLI(t *testing.T, srv *server, args ...string) []byte {
	t.Helper()
	if _, err := exec.LookPath("aws"); err != nil {
		t.Log("aws CLI not installed; skipping its check")
		return nil
	}
	cmd := exec.Command("aws", append(args, "--endpoint-url", "http://"+srv.APIAddr, "--region", "us-east-1")...)
	cmd.Env = append(os.Environ(), "AWS_SHARED_CREDENTIALS_FILE="+filepath.Join(srv.DataDir, "credentials"), "AWS_CONFIG_FILE=/dev/null", "AWS_PROFILE=default")
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("aws %v: %v\n%s", args, err, out)
	}
	return out
}

// TestEventsAndDatabaseLogs: a cluster whose group preloads pgaudit reports its creation,
// a parameter applied and a reboot through DescribeEvents (SDK and aws CLI); a server that
// cannot start, because its account cannot reach its data directory, says why there and
// in its status, and comes back once it can. The instance's log, read through
// DescribeDBLogFiles and DownloadDBLogFilePortion page by page, holds the master's pgaudit
// lines and none of the passwords its statements carried.
func TestEventsAndDatabaseLogs(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	srv := shared.get(t)
	c := srv.rds(t)
	const group = "events-audit"
	newClusterGroup(ctx, t, c, group)
	if _, err := c.ModifyDBClusterParameterGroup(ctx, &rds.ModifyDBClusterParameterGroupInput{DBClusterParameterGroupName: aws.String(group),
		Parameters: []rdstypes.Parameter{
			param("shared_preload_libraries", "pgaudit", rdstypes.ApplyMethodPendingReboot),
			param("pgaudit.log", "all", rdstypes.ApplyMethodImmediate),
			param("log_statement", "all", rdstypes.ApplyMethodImmediate),
		}}); err != nil {
		t.Fatal(err)
	}
	const user, password = "dbmaster", "S3cret-events!"
	desc, writer := createCluster(ctx, t, c, "events-1", user, password, "appdb", func(in *rds.CreateDBClusterInput) {
		in.DBClusterParameterGroupName = aws.String(group)
	})
	defer deleteCluster(ctx, t, c, "events-1", writer)
	cl := desc.DBClusters[0]

	// Creation, by SDK and CLI.
	waitEvent(ctx, t, c, rdstypes.SourceTypeDbCluster, "events-1", "DB cluster created")
	waitEvent(ctx, t, c, rdstypes.SourceTypeDbInstance, writer, "DB instance created")
	if out := awsCLI(t, srv, "rds", "describe-events", "--source-type", "db-instance", "--source-identifier", writer, "--duration", "60", "--output", "json"); out != nil {
		var res struct {
			Events []struct{ Message, SourceArn string }
		}
		if err := json.Unmarshal(out, &res); err != nil || len(res.Events) == 0 || res.Events[0].Message != "DB instance created" ||
			!strings.HasSuffix(res.Events[0].SourceArn, ":db:"+writer) {
			t.Errorf("aws rds describe-events: %v\n%s", err, out)
		}
	}
	if _, err := c.DescribeEventCategories(ctx, &rds.DescribeEventCategoriesInput{SourceType: aws.String("db-instance")}); err != nil {
		t.Errorf("DescribeEventCategories: %v", err)
	}

	// A dynamic parameter applied, a group's change reported, a reboot.
	if _, err := c.ModifyDBClusterParameterGroup(ctx, &rds.ModifyDBClusterParameterGroupInput{DBClusterParameterGroupName: aws.String(group),
		Parameters: []rdstypes.Parameter{param("work_mem", "8192", rdstypes.ApplyMethodImmediate)}}); err != nil {
		t.Fatal(err)
	}
	waitEvent(ctx, t, c, "db-cluster-parameter-group", group, "Updated parameter work_mem to 8192 with apply method immediate")
	waitEvent(ctx, t, c, rdstypes.SourceTypeDbInstance, writer, "Finished updating DB parameter group")
	if _, err := c.RebootDBInstance(ctx, &rds.RebootDBInstanceInput{DBInstanceIdentifier: aws.String(writer)}); err != nil {
		t.Fatal(err)
	}
	waitEvent(ctx, t, c, rdstypes.SourceTypeDbInstance, writer, "DB instance restarted")

	// pgaudit, created by the master; statements with passwords.
	conn := srv.connect(ctx, t, aws.ToString(cl.Endpoint), aws.ToInt32(cl.Port), user, password, "appdb")
	secrets := []string{"Sekret-role-7c1", "Sekret-alter-9d2", "Sekret-mapping-4e3", "Sekret-concat-5f4", "Sekret-syntax-6a5"}
	for _, q := range []string{
		"CREATE EXTENSION pgaudit",
		"CREATE EXTENSION postgres_fdw",
		"CREATE ROLE ev_app LOGIN PASSWORD '" + secrets[0] + "'",
		"ALTER ROLE ev_app PASSWORD '" + secrets[1] + "'",
		"CREATE SERVER ev_srv FOREIGN DATA WRAPPER postgres_fdw OPTIONS (host '127.0.0.1', dbname 'x')",
		"CREATE USER MAPPING FOR ev_app SERVER ev_srv OPTIONS (user 'ev_app', password '" + secrets[2] + "')",
		"DO $$ BEGIN EXECUTE 'ALTER ROLE ev_app PASS' || 'WORD ''" + secrets[3] + "'''; END $$",
		"CREATE TABLE ev_audited (v int)",
		"INSERT INTO ev_audited VALUES (1)",
	} {
		if _, err := conn.Exec(ctx, q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	if _, err := conn.Exec(ctx, "ALTER ROLE ev_app PASSWORD '"+secrets[4]+"' GARBAGE"); err == nil {
		t.Error("a syntax error ran")
	}
	if _, err := conn.Exec(ctx, "SET pgaudit.log = 'none'"); err == nil {
		t.Error("the master turned pgaudit off for itself")
	}
	conn.Close(ctx)

	// The log by the hour, as RDS names PostgreSQL's; each hour page by page.
	var log strings.Builder
	var last string
	eventually(t, time.Minute, "pgaudit lines in the log", func() (bool, error) {
		files, err := c.DescribeDBLogFiles(ctx, &rds.DescribeDBLogFilesInput{DBInstanceIdentifier: aws.String(writer)})
		if err != nil || len(files.DescribeDBLogFiles) == 0 {
			return false, err
		}
		log.Reset()
		pages := 0
		for _, f := range files.DescribeDBLogFiles {
			name := f.LogFileName
			if !regexp.MustCompile(`^error/postgresql\.log\.\d{4}-\d{2}-\d{2}-\d{2}$`).MatchString(aws.ToString(name)) || aws.ToInt64(f.Size) == 0 {
				t.Fatalf("log file %s of %d bytes", aws.ToString(name), aws.ToInt64(f.Size))
			}
			last = aws.ToString(name)
			marker := "0"
			for {
				out, err := c.DownloadDBLogFilePortion(ctx, &rds.DownloadDBLogFilePortionInput{DBInstanceIdentifier: aws.String(writer),
					LogFileName: name, Marker: aws.String(marker), NumberOfLines: aws.Int32(40)})
				if err != nil {
					return false, err
				}
				if n := strings.Count(aws.ToString(out.LogFileData), "\n"); n > 40 {
					t.Fatalf("%d lines in a portion of 40", n)
				}
				log.WriteString(aws.ToString(out.LogFileData))
				pages++
				marker = aws.ToString(out.Marker)
				if !aws.ToBool(out.AdditionalDataPending) {
					break
				}
			}
		}
		return pages > 1 && strings.Contains(log.String(), "AUDIT: SESSION,") && strings.Contains(log.String(), "ev_audited"), nil
	})
	if out := awsCLI(t, srv, "rds", "download-db-log-file-portion", "--db-instance-identifier", writer, "--log-file-name", last,
		"--starting-token", "0", "--output", "text"); out != nil && !strings.Contains(string(out), "AUDIT: SESSION,") {
		t.Errorf("aws rds download-db-log-file-portion: no pgaudit line in %d bytes", len(out))
	}
	for _, s := range append(secrets, password) {
		for _, line := range strings.Split(log.String(), "\n") {
			if strings.Contains(line, s) {
				t.Errorf("password %s in the database log: %s", s, line)
			}
		}
	}
	if _, err := c.DownloadDBLogFilePortion(ctx, &rds.DownloadDBLogFilePortionInput{DBInstanceIdentifier: aws.String(writer),
		LogFileName: aws.String("../../../credentials")}); err == nil {
		t.Error("a path outside the listed log files was served")
	} else if code, status := apiError(t, err); code != "DBLogFileNotFoundFault" || status != 404 {
		t.Errorf("traversal: %s %d", code, status)
	}

	logRetention(ctx, t, srv, c, group, writer, aws.ToString(cl.DbClusterResourceId))

	// A data directory the server's account cannot reach: the reboot fails, and says why.
	vol := filepath.Join(srv.DataDir, "clusters", aws.ToString(cl.DbClusterResourceId))
	if err := os.Chmod(vol, 0o700); err != nil {
		t.Fatal(err)
	}
	restored := false
	restore := func() {
		if !restored {
			restored = true
			if err := os.Chmod(vol, 0o710); err != nil {
				t.Error(err)
			}
		}
	}
	defer restore()
	if _, err := c.RebootDBInstance(ctx, &rds.RebootDBInstanceInput{DBInstanceIdentifier: aws.String(writer)}); err != nil {
		t.Fatal(err)
	}
	const reason = "The database server cannot start: its account cannot reach its data directory"
	var in rdstypes.DBInstance
	eventually(t, 2*time.Minute, "failed with its reason", func() (bool, error) {
		in = describeInstance(ctx, t, c, writer)
		return aws.ToString(in.DBInstanceStatus) == "failed", nil
	})
	if len(in.StatusInfos) != 1 || !strings.Contains(aws.ToString(in.StatusInfos[0].Message), reason) {
		t.Errorf("StatusInfos %+v", in.StatusInfos)
	}
	failure, err := c.DescribeEvents(ctx, &rds.DescribeEventsInput{SourceType: rdstypes.SourceTypeDbInstance, SourceIdentifier: aws.String(writer),
		EventCategories: []string{"failure"}})
	if err != nil || len(failure.Events) != 1 || !strings.Contains(aws.ToString(failure.Events[0].Message), reason) {
		t.Errorf("failure events: %+v %v", failure, err)
	}
	if out := awsCLI(t, srv, "rds", "describe-events", "--source-type", "db-instance", "--source-identifier", writer,
		"--event-categories", "failure", "--output", "text"); out != nil && !strings.Contains(string(out), reason) {
		t.Errorf("aws rds describe-events --event-categories failure:\n%s", out)
	}
	restore()
	eventually(t, 3*time.Minute, "available again", func() (bool, error) {
		return aws.ToString(describeInstance(ctx, t, c, writer).DBInstanceStatus) == "available", nil
	})
}

// logRetention: files last written longer ago than rds.log_retention_period leave
// DescribeDBLogFiles, and downloading one is DBLogFileNotFoundFault. Serve's clock is not
// the test's to move, so the files' times are: an hour last written 30 hours ago stays
// under the default 3 days and goes once the group says 1440 minutes (dynamic: no reboot);
// a value out of RDS's range is refused. A link planted under an old log's name is not
// listed, and what it points at survives the trim.
func logRetention(ctx context.Context, t *testing.T, srv *server, c *rds.Client, group, instance, clusterResource string) {
	t.Helper()
	dir := filepath.Join(srv.DataDir, "clusters", clusterResource, "log")
	di, err := os.Stat(dir)
	if err != nil {
		t.Fatal(err)
	}
	uid, gid := int(di.Sys().(*syscall.Stat_t).Uid), int(di.Sys().(*syscall.Stat_t).Gid)
	plant := func(hoursAgo int) string {
		name := "postgresql.log." + time.Now().Add(-time.Duration(hoursAgo)*time.Hour).UTC().Format("2006-01-02-15")
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte("an old hour\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		at := time.Now().Add(-time.Duration(hoursAgo-1) * time.Hour)
		if err := errors.Join(os.Chown(p, uid, gid), os.Chtimes(p, at, at)); err != nil {
			t.Fatal(err)
		}
		return "error/" + name
	}
	old, recent := plant(30), plant(5)
	precious := filepath.Join(srv.DataDir, "credentials")
	link := filepath.Join(dir, "postgresql.log."+time.Now().Add(-60*time.Hour).UTC().Format("2006-01-02-15"))
	if err := os.Symlink(precious, link); err != nil {
		t.Fatal(err)
	}
	listed := func() map[string]bool {
		out, err := c.DescribeDBLogFiles(ctx, &rds.DescribeDBLogFilesInput{DBInstanceIdentifier: aws.String(instance)})
		if err != nil {
			t.Fatal(err)
		}
		names := map[string]bool{}
		for _, f := range out.DescribeDBLogFiles {
			names[aws.ToString(f.LogFileName)] = true
		}
		return names
	}
	if l := listed(); !l[old] || !l[recent] || l["error/"+filepath.Base(link)] {
		t.Fatalf("listed %v; want %s and %s, not the link", l, old, recent)
	}
	_, err = c.ModifyDBClusterParameterGroup(ctx, &rds.ModifyDBClusterParameterGroupInput{DBClusterParameterGroupName: aws.String(group),
		Parameters: []rdstypes.Parameter{param("rds.log_retention_period", "1439", rdstypes.ApplyMethodImmediate)}})
	if code, status := apiError(t, err); code != "InvalidParameterValue" || status != 400 {
		t.Errorf("rds.log_retention_period 1439: %s %d", code, status)
	}
	time.Sleep(5 * time.Second) // passes with the default retention
	if l := listed(); !l[old] {
		t.Fatalf("a file within the default 3 days was deleted: %v", l)
	}
	if _, err := c.ModifyDBClusterParameterGroup(ctx, &rds.ModifyDBClusterParameterGroupInput{DBClusterParameterGroupName: aws.String(group),
		Parameters: []rdstypes.Parameter{param("rds.log_retention_period", "1440", rdstypes.ApplyMethodImmediate)}}); err != nil {
		t.Fatal(err)
	}
	eventually(t, time.Minute, "the file past its retention to go", func() (bool, error) { return !listed()[old], nil })
	if l := listed(); !l[recent] || len(l) < 2 {
		t.Errorf("after the trim: %v", l)
	}
	_, err = c.DownloadDBLogFilePortion(ctx, &rds.DownloadDBLogFilePortionInput{DBInstanceIdentifier: aws.String(instance), LogFileName: aws.String(old)})
	if code, status := apiError(t, err); code != "DBLogFileNotFoundFault" || status != 404 {
		t.Errorf("a trimmed file: %s %d", code, status)
	}
	if _, err := os.Stat(precious); err != nil {
		t.Errorf("the link's target: %v", err)
	}
	if _, err := os.Lstat(link); err != nil {
		t.Errorf("the planted link was followed or removed: %v", err)
	}
}
