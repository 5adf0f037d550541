package e2e

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
)

// ec2As returns an EC2 client signing with the given key.
func (s *server) ec2As(keyID, secret string) *ec2.Client {
	return ec2.New(ec2.Options{Region: "us-east-1", BaseEndpoint: aws.String("http://" + s.APIAddr),
		Credentials: staticCreds(keyID, secret), Retryer: connectionRetryer()})
}

func ec2Tag(k, v string) ec2types.Tag { return ec2types.Tag{Key: aws.String(k), Value: aws.String(v)} }

// unauthorized checks that err is EC2's refusal of a call IAM did not allow.
func unauthorized(t *testing.T, err error, action string) {
	t.Helper()
	code, status := apiError(t, err)
	if code != "UnauthorizedOperation" || status != 403 || !strings.Contains(err.Error(), "perform: "+action) {
		t.Fatalf("%s: got %s/%d, want UnauthorizedOperation/403 (%v)", action, code, status, err)
	}
}

// TestEC2TagsAndZones drives tags as infrastructure tools do: tags at creation, CreateTags,
// DescribeTags, DeleteTags, with IAM deciding by aws:RequestTag and ec2:ResourceTag; and
// DescribeAvailabilityZones, which those tools call on every run.
func TestEC2TagsAndZones(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	srv := shared.get(t)
	root := srv.ec2(t)

	vo, err := root.CreateVpc(ctx, &ec2.CreateVpcInput{CidrBlock: aws.String("10.77.0.0/16"),
		TagSpecifications: []ec2types.TagSpecification{{ResourceType: ec2types.ResourceTypeVpc, Tags: []ec2types.Tag{ec2Tag("Name", "tagged"), ec2Tag("team", "db")}}}})
	if err != nil {
		t.Fatal(err)
	}
	vpc := aws.ToString(vo.Vpc.VpcId)
	so, err := root.CreateSecurityGroup(ctx, &ec2.CreateSecurityGroupInput{GroupName: aws.String("tagged"), Description: aws.String("tagged"), VpcId: aws.String(vpc)})
	if err != nil {
		t.Fatal(err)
	}
	sg := aws.ToString(so.GroupId)
	if _, err := root.CreateTags(ctx, &ec2.CreateTagsInput{Resources: []string{sg}, Tags: []ec2types.Tag{ec2Tag("team", "web"), ec2Tag("temp", "yes")}}); err != nil {
		t.Fatal(err)
	}
	list := func(c *ec2.Client) []string {
		t.Helper()
		var out []string
		p := ec2.NewDescribeTagsPaginator(c, &ec2.DescribeTagsInput{MaxResults: aws.Int32(5),
			Filters: []ec2types.Filter{{Name: aws.String("resource-id"), Values: []string{vpc, sg}}}})
		for p.HasMorePages() {
			page, err := p.NextPage(ctx)
			if err != nil {
				t.Fatal(err)
			}
			for _, d := range page.Tags {
				out = append(out, string(d.ResourceType)+" "+aws.ToString(d.Key)+"="+aws.ToString(d.Value))
			}
		}
		slices.Sort(out)
		return out
	}
	want := []string{"security-group team=web", "security-group temp=yes", "vpc Name=tagged", "vpc team=db"}
	if got := list(root); !slices.Equal(got, want) {
		t.Fatalf("DescribeTags %v, want %v", got, want)
	}
	vpcs, err := root.DescribeVpcs(ctx, &ec2.DescribeVpcsInput{Filters: []ec2types.Filter{{Name: aws.String("tag:team"), Values: []string{"db"}}}})
	if err != nil {
		t.Fatal(err)
	}
	if len(vpcs.Vpcs) != 1 || aws.ToString(vpcs.Vpcs[0].VpcId) != vpc || len(vpcs.Vpcs[0].Tags) != 2 {
		t.Fatalf("DescribeVpcs by tag: %+v", vpcs.Vpcs)
	}
	_, err = root.CreateTags(ctx, &ec2.CreateTagsInput{Resources: []string{vpc}, Tags: []ec2types.Tag{ec2Tag("aws:reserved", "x")}})
	if code, _ := apiError(t, err); code != "InvalidParameterValue" {
		t.Fatalf("aws: tag: %v", err)
	}
	_, err = root.CreateTags(ctx, &ec2.CreateTagsInput{Resources: []string{"vpc-0000000000000000f"}, Tags: []ec2types.Tag{ec2Tag("a", "b")}})
	if code, _ := apiError(t, err); code != "InvalidVpcID.NotFound" {
		t.Fatalf("missing VPC: %v", err)
	}

	// A user who may tag only with team=db, only what team db owns, and may create
	// security groups only tagged team=db (TagSpecification asks ec2:CreateTags too).
	id, secret := newUser(ctx, t, srv.iam(t), "ec2-tagger", nil, map[string]string{"tags": `{"Version":"2012-10-17","Statement":[
		{"Effect":"Allow","Action":"ec2:DescribeTags","Resource":"*"},
		{"Effect":"Allow","Action":["ec2:CreateTags","ec2:DeleteTags"],"Resource":"*","Condition":{"StringEquals":{"ec2:ResourceTag/team":"db"}}},
		{"Effect":"Deny","Action":"ec2:CreateTags","Resource":"*","Condition":{"StringNotEqualsIfExists":{"aws:RequestTag/team":"db"}}},
		{"Effect":"Allow","Action":"ec2:CreateSecurityGroup","Resource":"*","Condition":{"StringEquals":{"aws:RequestTag/team":"db"}}},
		{"Effect":"Allow","Action":"ec2:CreateSecurityGroup","Resource":"arn:aws:ec2:*:*:vpc/*"},
		{"Effect":"Allow","Action":"ec2:CreateTags","Resource":"arn:aws:ec2:*:*:security-group/*","Condition":{"StringEquals":{"ec2:CreateAction":"CreateSecurityGroup"}}}]}`})
	user := srv.ec2As(id, secret)
	eventually(t, 10*time.Second, "the new key to work", func() (bool, error) {
		_, err := user.DescribeTags(ctx, &ec2.DescribeTagsInput{})
		return err == nil, nil
	})
	if _, err := user.CreateTags(ctx, &ec2.CreateTagsInput{Resources: []string{vpc}, Tags: []ec2types.Tag{ec2Tag("owner", "me"), ec2Tag("team", "db")}}); err != nil {
		t.Fatalf("allowed CreateTags: %v", err)
	}
	_, err = user.CreateTags(ctx, &ec2.CreateTagsInput{Resources: []string{vpc}, Tags: []ec2types.Tag{ec2Tag("team", "web")}})
	unauthorized(t, err, "ec2:CreateTags") // aws:RequestTag
	_, err = user.CreateTags(ctx, &ec2.CreateTagsInput{Resources: []string{sg}, Tags: []ec2types.Tag{ec2Tag("team", "db")}})
	unauthorized(t, err, "ec2:CreateTags") // ec2:ResourceTag: the group is team web's
	_, err = user.DeleteTags(ctx, &ec2.DeleteTagsInput{Resources: []string{sg}, Tags: []ec2types.Tag{{Key: aws.String("temp")}}})
	unauthorized(t, err, "ec2:DeleteTags")
	if _, err := user.DeleteTags(ctx, &ec2.DeleteTagsInput{Resources: []string{vpc}, Tags: []ec2types.Tag{{Key: aws.String("owner")}}}); err != nil {
		t.Fatalf("allowed DeleteTags: %v", err)
	}
	if got := list(root); !slices.Equal(got, want) {
		t.Fatalf("after the user's calls: %v, want %v", got, want)
	}
	tagged := func(v string) []ec2types.TagSpecification {
		return []ec2types.TagSpecification{{ResourceType: ec2types.ResourceTypeSecurityGroup, Tags: []ec2types.Tag{ec2Tag("team", v)}}}
	}
	_, err = user.CreateSecurityGroup(ctx, &ec2.CreateSecurityGroupInput{GroupName: aws.String("untagged"), Description: aws.String("x"), VpcId: aws.String(vpc)})
	unauthorized(t, err, "ec2:CreateSecurityGroup")
	_, err = user.CreateSecurityGroup(ctx, &ec2.CreateSecurityGroupInput{GroupName: aws.String("web"), Description: aws.String("x"), VpcId: aws.String(vpc), TagSpecifications: tagged("web")})
	unauthorized(t, err, "ec2:CreateSecurityGroup")
	g, err := user.CreateSecurityGroup(ctx, &ec2.CreateSecurityGroupInput{GroupName: aws.String("db"), Description: aws.String("x"), VpcId: aws.String(vpc), TagSpecifications: tagged("db")})
	if err != nil {
		t.Fatalf("allowed CreateSecurityGroup: %v", err)
	}
	if len(g.Tags) != 1 {
		t.Fatalf("created group's tags: %+v", g.Tags)
	}

	// Deleting a resource deletes its tags.
	for _, id := range []string{sg, aws.ToString(g.GroupId)} {
		if _, err := root.DeleteSecurityGroup(ctx, &ec2.DeleteSecurityGroupInput{GroupId: aws.String(id)}); err != nil {
			t.Fatal(err)
		}
	}
	if got := list(root); !slices.Equal(got, want[2:]) {
		t.Fatalf("after deleting the group: %v", got)
	}

	zones, err := root.DescribeAvailabilityZones(ctx, &ec2.DescribeAvailabilityZonesInput{})
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, z := range zones.AvailabilityZones {
		names = append(names, aws.ToString(z.ZoneName))
		if z.State != ec2types.AvailabilityZoneStateAvailable || aws.ToString(z.RegionName) != "us-east-1" || aws.ToString(z.ZoneId) == "" {
			t.Errorf("zone %+v", z)
		}
	}
	if !slices.Equal(names, []string{"us-east-1a", "us-east-1b", "us-east-1c"}) {
		t.Fatalf("zones %v", names)
	}
}
