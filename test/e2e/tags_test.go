package e2e

import (
	"context"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/rds"
	rdstypes "github.com/aws/aws-sdk-go-v2/service/rds/types"
)

func TestTagsOnClustersAndParameterGroups(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	c := shared.get(t).rds(t)
	out, err := c.CreateDBCluster(ctx, clusterInput("tagged", func(in *rds.CreateDBClusterInput) {
		in.Tags = []rdstypes.Tag{{Key: aws.String("team"), Value: aws.String("db")}, {Key: aws.String("env"), Value: aws.String("test")}}
	}))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		c.DeleteDBCluster(context.Background(), &rds.DeleteDBClusterInput{DBClusterIdentifier: aws.String("tagged"), SkipFinalSnapshot: aws.Bool(true)})
	})
	arn := out.DBCluster.DBClusterArn
	if len(out.DBCluster.TagList) != 2 {
		t.Errorf("TagList at creation: %+v", out.DBCluster.TagList)
	}
	tagsOf := func() map[string]string {
		l, err := c.ListTagsForResource(ctx, &rds.ListTagsForResourceInput{ResourceName: arn})
		if err != nil {
			t.Fatal(err)
		}
		m := map[string]string{}
		for _, tg := range l.TagList {
			m[aws.ToString(tg.Key)] = aws.ToString(tg.Value)
		}
		return m
	}
	if _, err := c.AddTagsToResource(ctx, &rds.AddTagsToResourceInput{ResourceName: arn,
		Tags: []rdstypes.Tag{{Key: aws.String("env"), Value: aws.String("prod")}, {Key: aws.String("owner"), Value: aws.String("ann")}}}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.RemoveTagsFromResource(ctx, &rds.RemoveTagsFromResourceInput{ResourceName: arn, TagKeys: []string{"team"}}); err != nil {
		t.Fatal(err)
	}
	if got := tagsOf(); len(got) != 2 || got["env"] != "prod" || got["owner"] != "ann" {
		t.Errorf("tags after add and remove: %v", got)
	}
	_, err = c.AddTagsToResource(ctx, &rds.AddTagsToResourceInput{ResourceName: arn, Tags: []rdstypes.Tag{{Key: aws.String("aws:reserved"), Value: aws.String("x")}}})
	if code, _ := apiError(t, err); code != "InvalidParameterValue" {
		t.Errorf("aws: tag key: %s", code)
	}
	_, err = c.ListTagsForResource(ctx, &rds.ListTagsForResourceInput{ResourceName: aws.String(aws.ToString(arn) + "-gone")})
	if code, status := apiError(t, err); code != "DBClusterNotFoundFault" || status != 404 {
		t.Errorf("unknown cluster ARN: %s/%d", code, status)
	}
	_, err = c.ListTagsForResource(ctx, &rds.ListTagsForResourceInput{ResourceName: aws.String("not-an-arn")})
	if code, _ := apiError(t, err); code != "InvalidParameterValue" {
		t.Errorf("bad ARN: %s", code)
	}
	g, err := c.CreateDBClusterParameterGroup(ctx, &rds.CreateDBClusterParameterGroupInput{DBClusterParameterGroupName: aws.String("tagged-pg"),
		DBParameterGroupFamily: aws.String("aurora-postgresql15"), Description: aws.String("x"), Tags: []rdstypes.Tag{{Key: aws.String("k"), Value: aws.String("v")}}})
	if err != nil {
		t.Fatal(err)
	}
	l, err := c.ListTagsForResource(ctx, &rds.ListTagsForResourceInput{ResourceName: g.DBClusterParameterGroup.DBClusterParameterGroupArn})
	if err != nil || len(l.TagList) != 1 {
		t.Errorf("parameter group tags: %+v %v", l, err)
	}
}
