package e2e

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	iamtypes "github.com/aws/aws-sdk-go-v2/service/iam/types"
	"github.com/aws/aws-sdk-go-v2/service/rds"
	"github.com/chromedp/chromedp"
)

// Deletion protection in the console is RDS's: set on create, shown and toggled on the
// cluster page with ModifyDBCluster, and a delete of a protected cluster shows RDS's
// refusal and leaves its instances alone.
func TestConsoleDeletionProtection(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	srv := shared.get(t)
	account := consoleUser(ctx, t, srv, "console-protect", "Protect-pass-123", []string{"arn:aws:iam::aws:policy/AmazonRDSFullAccess"}, "")
	b := browser(t)
	signIn(t, b, srv, account, "console-protect", "Protect-pass-123")
	rc := srv.rds(t)
	protection := func() bool {
		t.Helper()
		out, err := rc.DescribeDBClusters(ctx, &rds.DescribeDBClustersInput{DBClusterIdentifier: aws.String("protected")})
		if err != nil {
			t.Fatal(err)
		}
		return aws.ToBool(out.DBClusters[0].DeletionProtection)
	}

	err := do(b,
		chromedp.Navigate(srv.consoleURL("/databases/new")),
		chromedp.WaitVisible(css(`#id`)),
		chromedp.SendKeys(css(`#id`), "protected"),
		chromedp.SendKeys(css(`#username`), "boss"),
		chromedp.SendKeys(css(`#password`), "Boss-pass-123"),
		chromedp.Click(css(`#deletion_protection`)),
		submit(`#id`),
	)
	if err != nil {
		t.Fatal(err)
	}
	if got := mainText(t, b); !strings.Contains(got, "Creating protected") {
		t.Fatalf("after create:\n%s", got)
	}
	if shown, err := get(b, chromedp.Text(css(`#deletion-protection`))); err != nil || shown != "Enabled" || !protection() {
		t.Fatalf("deletion protection shown %q (%v), RDS says %v", shown, err, protection())
	}

	// Delete while protected: RDS's error, and the writer is not deleted.
	err = do(b,
		chromedp.Navigate(srv.consoleURL("/databases/protected")),
		chromedp.WaitVisible(css(`#confirm`)),
		chromedp.SendKeys(css(`#confirm`), "protected"),
		submit(`#confirm`),
	)
	if err != nil {
		t.Fatal(err)
	}
	if got := mainText(t, b); !strings.Contains(got, "InvalidParameterCombination: Cannot delete protected Cluster, please disable deletion protection and try again.") {
		t.Fatalf("deleting a protected cluster:\n%s", got)
	}
	screenshot(t, b, "delete-protected")
	in, err := rc.DescribeDBInstances(ctx, &rds.DescribeDBInstancesInput{DBInstanceIdentifier: aws.String("protected-writer")})
	if err != nil || aws.ToString(in.DBInstances[0].DBInstanceStatus) == "deleting" {
		t.Fatalf("the writer of a protected cluster: %v %v", err, in)
	}

	// Turn it off on the cluster page, once the cluster may be modified; then the delete
	// goes through.
	if err := rds.NewDBClusterAvailableWaiter(rc, waitOpts).Wait(ctx, &rds.DescribeDBClustersInput{DBClusterIdentifier: aws.String("protected")}, 3*time.Minute); err != nil {
		t.Fatal(err)
	}
	err = do(b,
		chromedp.Navigate(srv.consoleURL("/databases/protected")),
		chromedp.WaitVisible(css(`#deletion_protection`)),
		chromedp.Click(css(`#deletion_protection`)),
		submit(`#deletion_protection`),
	)
	if err != nil {
		t.Fatal(err)
	}
	if got := mainText(t, b); !strings.Contains(got, "Deletion protection of protected turned off.") {
		t.Fatalf("after turning protection off:\n%s", got)
	}
	if shown, err := get(b, chromedp.Text(css(`#deletion-protection`))); err != nil || shown != "Disabled" || protection() {
		t.Fatalf("deletion protection shown %q (%v), RDS says %v", shown, err, protection())
	}
	screenshot(t, b, "protection-off")
	err = do(b,
		chromedp.Navigate(srv.consoleURL("/databases/protected")),
		chromedp.WaitVisible(css(`#confirm`)),
		chromedp.SendKeys(css(`#confirm`), "protected"),
		submit(`#confirm`),
	)
	if err != nil {
		t.Fatal(err)
	}
	if got := mainText(t, b); !strings.Contains(got, "Deleting protected") {
		t.Fatalf("delete after turning protection off:\n%s", got)
	}
}

// A console session is decided with the user's tags as they are now, and ends when the
// user's console password is deleted.
func TestConsoleSessionFollowsTagsAndLoginProfile(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	srv := shared.get(t)
	account := consoleUser(ctx, t, srv, "console-tagged", "Tagged-pass-123", nil,
		`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["rds:DescribeDBClusters","rds:DescribeDBInstances"],"Resource":"*",
		  "Condition":{"StringEquals":{"aws:PrincipalTag/team":"db"}}}]}`)
	c := srv.iam(t)
	tag := func(v string) {
		t.Helper()
		if _, err := c.TagUser(ctx, &iam.TagUserInput{UserName: aws.String("console-tagged"), Tags: []iamtypes.Tag{{Key: aws.String("team"), Value: aws.String(v)}}}); err != nil {
			t.Fatal(err)
		}
	}
	tag("db")
	b := browser(t)
	if got := signIn(t, b, srv, account, "console-tagged", "Tagged-pass-123"); !strings.Contains(got, "Databases") || strings.Contains(got, "AccessDenied") {
		t.Fatalf("with team=db:\n%s", got)
	}
	tag("web")
	if got := waitForText(t, b, srv.consoleURL("/databases"), "Databases", 10*time.Second); !strings.Contains(got, "AccessDenied") {
		t.Fatalf("after the tag changed to web, the page is still allowed:\n%s", got)
	}
	tag("db")
	if got := waitForText(t, b, srv.consoleURL("/databases"), "Databases", 10*time.Second); strings.Contains(got, "AccessDenied") {
		t.Fatalf("after the tag changed back:\n%s", got)
	}
	if _, err := c.DeleteLoginProfile(ctx, &iam.DeleteLoginProfileInput{UserName: aws.String("console-tagged")}); err != nil {
		t.Fatal(err)
	}
	if err := do(b, chromedp.Navigate(srv.consoleURL("/databases")), chromedp.WaitVisible(css(`#password`))); err != nil {
		t.Fatalf("a session without a console password was not ended: %v", err)
	}
}
