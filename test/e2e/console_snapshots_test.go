package e2e

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/rds"
	"github.com/chromedp/chromedp"
)

// From the console's Snapshots page: take a snapshot of a cluster, see it become
// available, copy it and delete the copy, each through the user's IAM policies; another
// site's form posting there is refused and makes nothing; a read-only user is refused.
func TestConsoleSnapshots(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	srv := shared.get(t)
	rc := srv.rds(t)
	createCluster(ctx, t, rc, "consolesnap", "snapboss", "Snapboss-pass-1", "")
	account := consoleUser(ctx, t, srv, "console-snapper", "Snapper-pass-123", []string{"arn:aws:iam::aws:policy/AmazonRDSFullAccess"}, "")
	b := browser(t)
	signIn(t, b, srv, account, "console-snapper", "Snapper-pass-123")
	page := srv.consoleURL("/snapshots")

	err := do(b,
		chromedp.Navigate(srv.consoleURL("/snapshots?cluster=consolesnap")),
		chromedp.WaitVisible(css(`#snapshot-id`)),
		chromedp.SendKeys(css(`#snapshot-id`), "console-snap-1"),
		submit(`#snapshot-id`),
	)
	if err != nil {
		t.Fatal(err)
	}
	if got := mainText(t, b); !strings.Contains(got, "Creating snapshot console-snap-1 of consolesnap") {
		t.Fatalf("after take snapshot:\n%s", got)
	}
	row := func(id string) string {
		t.Helper()
		s, err := get(b, chromedp.Text(css(`#snapshot-`+id)))
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	eventually(t, 4*time.Minute, "console-snap-1 available in the page", func() (bool, error) {
		waitForText(t, b, page, "console-snap-1", 30*time.Second)
		return strings.Contains(row("console-snap-1"), "available"), nil
	})
	screenshot(t, b, "snapshots")

	// Restore it: a new cluster and its writer.
	if err := do(b, chromedp.SendKeys(css(`#restore-console-snap-1`), "consolesnap-r"), submit(`#restore-console-snap-1`)); err != nil {
		t.Fatal(err)
	}
	if got := mainText(t, b); !strings.Contains(got, "Restoring snapshot console-snap-1 into consolesnap-r") {
		t.Fatalf("after restore:\n%s", got)
	}
	if err := rds.NewDBInstanceAvailableWaiter(rc, waitInstOpts).Wait(ctx, &rds.DescribeDBInstancesInput{DBInstanceIdentifier: aws.String("consolesnap-r-writer")}, 4*time.Minute); err != nil {
		t.Fatalf("the restored writer: %v", err)
	}
	deleteCluster(ctx, t, rc, "consolesnap-r", "consolesnap-r-writer")
	if err := do(b, chromedp.Navigate(page)); err != nil {
		t.Fatal(err)
	}

	if err := do(b, chromedp.SendKeys(css(`#copy-console-snap-1`), "console-snap-2"), submit(`#copy-console-snap-1`)); err != nil {
		t.Fatal(err)
	}
	if got := mainText(t, b); !strings.Contains(got, "Copying snapshot console-snap-1 to console-snap-2") {
		t.Fatalf("after copy:\n%s", got)
	}
	eventually(t, 2*time.Minute, "the copy available", func() (bool, error) {
		waitForText(t, b, page, "console-snap-2", 30*time.Second)
		return strings.Contains(row("console-snap-2"), "available"), nil
	})
	if err := do(b, submit(`#snapshot-console-snap-2 form[action$="/delete"] button`)); err != nil {
		t.Fatal(err)
	}
	if got := mainText(t, b); !strings.Contains(got, "Deleting snapshot console-snap-2") {
		t.Fatalf("after delete:\n%s", got)
	}
	eventually(t, time.Minute, "the copy gone", func() (bool, error) {
		_, err := rc.DescribeDBClusterSnapshots(ctx, &rds.DescribeDBClusterSnapshotsInput{DBClusterSnapshotIdentifier: aws.String("console-snap-2")})
		return err != nil && strings.Contains(err.Error(), "DBClusterSnapshotNotFoundFault"), err
	})

	// Another origin's page posts the take-snapshot form in the signed-in browser.
	evil := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		fmt.Fprintf(w, `<!doctype html><form id=f method=post action="%s"><input name=cluster value=consolesnap><input name=id value=evil-snap></form><script>document.getElementById("f").submit()</script>`,
			srv.consoleURL("/snapshots"))
	}))
	defer evil.Close()
	if err := do(b, chromedp.Navigate(evil.URL), chromedp.Sleep(time.Second), chromedp.WaitReady(css(`body`))); err != nil {
		t.Fatal(err)
	}
	if body, _ := get(b, chromedp.Text(css(`body`))); !strings.Contains(body, "Cross-origin request refused") {
		t.Fatalf("cross-site POST answered:\n%s", body)
	}
	if _, err := rc.DescribeDBClusterSnapshots(ctx, &rds.DescribeDBClusterSnapshotsInput{DBClusterSnapshotIdentifier: aws.String("evil-snap")}); err == nil {
		t.Fatal("a cross-site POST took a snapshot")
	}

	// A user who may only read is refused with IAM's words, and nothing is made.
	ro := consoleUser(ctx, t, srv, "console-snapreader", "Snapreader-pass-1", []string{"arn:aws:iam::aws:policy/AmazonRDSReadOnlyAccess"}, "")
	b2 := browser(t)
	signIn(t, b2, srv, ro, "console-snapreader", "Snapreader-pass-1")
	err = do(b2,
		chromedp.Navigate(srv.consoleURL("/snapshots?cluster=consolesnap")),
		chromedp.WaitVisible(css(`#snapshot-id`)),
		chromedp.SendKeys(css(`#snapshot-id`), "reader-snap"),
		submit(`#snapshot-id`),
	)
	if err != nil {
		t.Fatal(err)
	}
	if got := mainText(t, b2); !strings.Contains(got, "AccessDenied") || !strings.Contains(got, "rds:CreateDBClusterSnapshot") || !strings.Contains(got, "console-snap-1") {
		t.Fatalf("read-only user taking a snapshot:\n%s", got)
	}
	if _, err := rc.DescribeDBClusterSnapshots(ctx, &rds.DescribeDBClusterSnapshotsInput{DBClusterSnapshotIdentifier: aws.String("reader-snap")}); err == nil {
		t.Fatal("the read-only user took a snapshot")
	}
	rc.DeleteDBClusterSnapshot(ctx, &rds.DeleteDBClusterSnapshotInput{DBClusterSnapshotIdentifier: aws.String("console-snap-1")})
}

// From a cluster's page: restore it to its latest restorable time as a new cluster, which
// gets its writer and the source's data.
func TestConsoleRestoresToAPointInTime(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	srv := shared.get(t)
	rc := srv.rds(t)
	desc, _ := createCluster(ctx, t, rc, "consolepitr", "pitrboss", "Pitrboss-pass-1", "")
	cl := desc.DBClusters[0]
	conn := srv.connect(ctx, t, aws.ToString(cl.Endpoint), aws.ToInt32(cl.Port), "pitrboss", "Pitrboss-pass-1", "postgres")
	if _, err := conn.Exec(ctx, `CREATE TABLE kept AS SELECT generate_series(1, 42) AS n`); err != nil {
		t.Fatal(err)
	}
	conn.Close(ctx)
	account := consoleUser(ctx, t, srv, "console-restorer", "Restorer-pass-123", []string{"arn:aws:iam::aws:policy/AmazonRDSFullAccess"}, "")
	b := browser(t)
	signIn(t, b, srv, account, "console-restorer", "Restorer-pass-123")
	page := srv.consoleURL("/databases/consolepitr")
	// The table is in the archive once the latest restorable time passed its creation.
	made := time.Now()
	eventually(t, 3*time.Minute, "a latest restorable time after the table", func() (bool, error) {
		c := mustCluster(ctx, t, rc, "consolepitr")
		return c.LatestRestorableTime != nil && c.LatestRestorableTime.After(made), nil
	})
	waitForText(t, b, page, "Latest restorable time", 30*time.Second)
	if latest, _ := get(b, chromedp.Text(css(`#latest-restorable`))); strings.Contains(latest, "none yet") {
		t.Fatalf("the page shows no restorable time: %q", latest)
	}
	err := do(b,
		chromedp.SendKeys(css(`#restore-target`), "consolepitr-copy"),
		submit(`#restore-target`),
	)
	if err != nil {
		t.Fatal(err)
	}
	if got := mainText(t, b); !strings.Contains(got, "Restoring consolepitr into consolepitr-copy") {
		t.Fatalf("after restore:\n%s", got)
	}
	if err := rds.NewDBInstanceAvailableWaiter(rc, waitInstOpts).Wait(ctx, &rds.DescribeDBInstancesInput{DBInstanceIdentifier: aws.String("consolepitr-copy-writer")}, 4*time.Minute); err != nil {
		t.Fatalf("the restored writer: %v", err)
	}
	rcl := mustCluster(ctx, t, rc, "consolepitr-copy")
	rconn := srv.connect(ctx, t, aws.ToString(rcl.Endpoint), aws.ToInt32(rcl.Port), "pitrboss", "Pitrboss-pass-1", "postgres")
	var n int
	if err := rconn.QueryRow(ctx, `SELECT count(*) FROM kept`).Scan(&n); err != nil || n != 42 {
		t.Fatalf("restored rows: %d %v", n, err)
	}
	rconn.Close(ctx)
	deleteCluster(ctx, t, rc, "consolepitr-copy", "consolepitr-copy-writer")
}
