package e2e

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/rds"
	"github.com/chromedp/chromedp"
)

// From the console: a reader added to a cluster is listed as a reader with its tier, the
// reader endpoint has its psql line, and a failover to the reader makes it the writer, in
// the page and in DescribeDBClusters.
func TestConsoleAddsAReaderAndFailsOver(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	srv := shared.get(t)
	rc := srv.rds(t)
	desc, writer := createCluster(ctx, t, rc, "consolero", "boss", "Boss-pass-123", "")
	const reader = "consolero-r1"
	t.Cleanup(func() {
		for _, id := range []string{reader, writer} {
			rc.DeleteDBInstance(ctx, &rds.DeleteDBInstanceInput{DBInstanceIdentifier: aws.String(id), SkipFinalSnapshot: aws.Bool(true)})
		}
		for _, id := range []string{reader, writer} {
			rds.NewDBInstanceDeletedWaiter(rc, waitDelOpts).Wait(ctx, &rds.DescribeDBInstancesInput{DBInstanceIdentifier: aws.String(id)}, 2*time.Minute)
		}
		rc.DeleteDBCluster(ctx, &rds.DeleteDBClusterInput{DBClusterIdentifier: aws.String("consolero"), SkipFinalSnapshot: aws.Bool(true)})
	})
	account := consoleUser(ctx, t, srv, "console-readers", "Readers-pass-123", []string{"arn:aws:iam::aws:policy/AmazonRDSFullAccess"}, "")
	b := browser(t)
	signIn(t, b, srv, account, "console-readers", "Readers-pass-123")
	page := srv.consoleURL("/databases/consolero")

	err := do(b,
		chromedp.Navigate(page),
		chromedp.WaitVisible(css(`#instance`)),
		chromedp.SendKeys(css(`#instance`), reader),
		chromedp.SetValue(css(`#promotion_tier`), "0"),
		submit(`#instance`),
	)
	if err != nil {
		t.Fatal(err)
	}
	if got := mainText(t, b); !strings.Contains(got, "Creating instance "+reader) {
		t.Fatalf("after add reader:\n%s", got)
	}
	row := func(id string) string {
		t.Helper()
		s, err := get(b, chromedp.Text(css(`#instance-`+id)))
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	eventually(t, 3*time.Minute, reader+" available in the page", func() (bool, error) {
		waitForText(t, b, page, reader, 30*time.Second)
		r := row(reader)
		return strings.Contains(r, "Reader") && strings.Contains(r, "available"), nil
	})
	if r := row(reader); !strings.Contains(r, "\t0\t") {
		t.Errorf("the reader's row does not show tier 0: %q", r)
	}
	roEndpoint := aws.ToString(desc.DBClusters[0].ReaderEndpoint)
	psql, err := get(b, chromedp.Text(css(`#psql-reader`)))
	if err != nil {
		t.Fatal(err)
	}
	viaAddr, err := get(b, chromedp.Text(css(`#psql-reader-hostaddr`)))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(roEndpoint, ".cluster-ro-") || !strings.Contains(psql, "host="+roEndpoint+" port=") || !strings.Contains(psql, "sslmode=verify-full") ||
		!strings.Contains(viaAddr, "host="+roEndpoint+" hostaddr="+endpointAddr(roEndpoint)+" ") {
		t.Fatalf("reader endpoint %q: psql %q, with hostaddr %q", roEndpoint, psql, viaAddr)
	}
	screenshot(t, b, "database-reader")

	err = do(b,
		chromedp.Navigate(page),
		chromedp.WaitVisible(css(`#target`)),
		chromedp.SetValue(css(`#target`), reader),
		submit(`#target`),
	)
	if err != nil {
		t.Fatal(err)
	}
	if got := mainText(t, b); !strings.Contains(got, "Failing over consolero to "+reader) {
		t.Fatalf("after failover:\n%s", got)
	}
	eventually(t, 3*time.Minute, reader+" the writer in the page", func() (bool, error) {
		waitForText(t, b, page, reader, 30*time.Second)
		status, err := get(b, chromedp.Text(css(`#cluster-status`)))
		return err == nil && status == "available" && strings.Contains(row(reader), "Writer") && strings.Contains(row(writer), "Reader"), nil
	})
	if w, st := clusterWriter(ctx, t, rc, "consolero"); w != reader || st != "available" {
		t.Fatalf("DescribeDBClusters names %s the writer (cluster %s), want %s", w, st, reader)
	}
	screenshot(t, b, "database-failover")

	// A read-only user pressing Failover is refused with the API's error, and nothing moves:
	// an accepted FailoverDBCluster would have made the cluster failing-over at once.
	roAccount := consoleUser(ctx, t, srv, "console-readers-ro", "Readers-ro-123", []string{"arn:aws:iam::aws:policy/AmazonRDSReadOnlyAccess"}, "")
	ro := browser(t)
	signIn(t, ro, srv, roAccount, "console-readers-ro", "Readers-ro-123")
	if err := do(ro,
		chromedp.Navigate(page),
		chromedp.WaitVisible(css(`#target`)),
		chromedp.SetValue(css(`#target`), writer),
		submit(`#target`),
	); err != nil {
		t.Fatal(err)
	}
	if got := mainText(t, ro); !strings.Contains(got, "AccessDenied") || !strings.Contains(got, "rds:FailoverDBCluster") {
		t.Fatalf("a read-only failover:\n%s", got)
	}
	screenshot(t, ro, "database-failover-denied")
	if w, st := clusterWriter(ctx, t, rc, "consolero"); w != reader || st != "available" {
		t.Fatalf("after a denied failover DescribeDBClusters names %s the writer (cluster %s), want %s still", w, st, reader)
	}
}
