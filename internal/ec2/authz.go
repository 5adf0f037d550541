package ec2

import (
	"context"

	"github.com/borealis-db/borealis/internal/authz"
	"github.com/borealis-db/borealis/internal/awsquery"
	"github.com/borealis-db/borealis/internal/store"
)

// Authorization says which resources an EC2 action touches, with each resource's
// condition keys (its tags, ec2:Vpc, ...), and the keys that describe the request, so that
// IAM can decide before the action runs. An action not in the table is authorized against
// "*" (and then refused as InvalidAction by Do).
func (s *Service) Authorization(ctx context.Context, name string, p awsquery.Params) ([]authz.Resource, map[string][]string) {
	keys := map[string][]string{}
	a, ok := actions[name]
	if !ok {
		return []authz.Resource{authz.On("*")}, keys
	}
	return a.resources(s, ctx, p, keys), keys
}

// The resource functions follow the EC2 service authorization reference: Describe* on
// "*", Create* on the new resource's kind/* and the resources it goes into, the rest on
// the resource named. A resource that does not exist still gets its ARN (without keys);
// the action then answers NotFound to whoever IAM let ask.

func anyResource(*Service, context.Context, awsquery.Params, map[string][]string) []authz.Resource {
	return []authz.Resource{authz.On("*")}
}

// resourceKeys are a resource's own condition keys: its tags in both forms, and the region.
func (s *Service) resourceKeys(tags []store.Tag) map[string][]string {
	keys := map[string][]string{"ec2:Region": {s.cfg.Region}}
	for _, t := range tags {
		keys["ec2:ResourceTag/"+t.Key] = []string{t.Value}
		keys["aws:ResourceTag/"+t.Key] = []string{t.Value}
	}
	return keys
}

func (s *Service) vpcResource(ctx context.Context, id string) authz.Resource {
	if id == "" {
		id = "*"
	}
	r := authz.On(s.arn(ctx, "vpc", id))
	if v, err := s.store.EC2().VPC(ctx, id); err == nil {
		r.Keys = s.resourceKeys(v.Tags)
		r.Keys["ec2:Tenancy"] = []string{v.InstanceTenancy}
		r.Keys["ec2:VpcID"] = []string{v.ID}
	}
	return r
}

func (s *Service) subnetResource(ctx context.Context, id string) authz.Resource {
	if id == "" {
		id = "*"
	}
	r := authz.On(s.arn(ctx, "subnet", id))
	if sn, err := s.store.EC2().Subnet(ctx, id); err == nil {
		r.Keys = s.resourceKeys(sn.Tags)
		r.Keys["ec2:Vpc"] = []string{s.arn(ctx, "vpc", sn.VpcID)}
		r.Keys["ec2:AvailabilityZone"] = []string{sn.AvailabilityZone}
		r.Keys["ec2:SubnetID"] = []string{sn.ID}
	}
	return r
}

func (s *Service) groupResource(ctx context.Context, id, name string) authz.Resource {
	g, err := s.group(ctx, s.store.EC2(), id, name)
	switch {
	case err == nil:
		id = g.ID
	case id == "":
		id = "*"
	}
	r := authz.On(s.arn(ctx, "security-group", id))
	if err == nil {
		r.Keys = s.resourceKeys(g.Tags)
		r.Keys["ec2:Vpc"] = []string{s.arn(ctx, "vpc", g.VpcID)}
		r.Keys["ec2:SecurityGroupID"] = []string{g.ID}
	}
	return r
}

func (s *Service) interfaceResource(ctx context.Context, id string) authz.Resource {
	if id == "" {
		id = "*"
	}
	r := authz.On(s.arn(ctx, "network-interface", id))
	if ni, err := s.store.EC2().NetworkInterface(ctx, id); err == nil {
		r.Keys = s.resourceKeys(ni.Tags)
		r.Keys["ec2:Vpc"] = []string{s.arn(ctx, "vpc", ni.VpcID)}
		r.Keys["ec2:Subnet"] = []string{s.arn(ctx, "subnet", ni.SubnetID)}
		r.Keys["ec2:AvailabilityZone"] = []string{ni.AvailabilityZone}
	}
	return r
}

func (s *Service) createVpcResources(ctx context.Context, p awsquery.Params, keys map[string][]string) []authz.Resource {
	tenancy := p.Get("InstanceTenancy")
	if tenancy == "" {
		tenancy = tenancyDefault
	}
	r := authz.On(s.arn(ctx, "vpc", "*"))
	r.Keys = map[string][]string{"ec2:Tenancy": {tenancy}, "ec2:Region": {s.cfg.Region}}
	return append([]authz.Resource{r}, s.tagOnCreate(ctx, p, "vpc", "CreateVpc", keys)...)
}

func (s *Service) vpcResources(ctx context.Context, p awsquery.Params, _ map[string][]string) []authz.Resource {
	return []authz.Resource{s.vpcResource(ctx, p.Get("VpcId"))}
}

func (s *Service) createSubnetResources(ctx context.Context, p awsquery.Params, keys map[string][]string) []authz.Resource {
	r := authz.On(s.arn(ctx, "subnet", "*"))
	r.Keys = map[string][]string{"ec2:Vpc": {s.arn(ctx, "vpc", p.Get("VpcId"))}, "ec2:Region": {s.cfg.Region}}
	return append([]authz.Resource{r, s.vpcResource(ctx, p.Get("VpcId"))}, s.tagOnCreate(ctx, p, "subnet", "CreateSubnet", keys)...)
}

func (s *Service) subnetResources(ctx context.Context, p awsquery.Params, _ map[string][]string) []authz.Resource {
	return []authz.Resource{s.subnetResource(ctx, p.Get("SubnetId"))}
}

// createGroupResources: the new group (with ec2:Vpc, the VPC it goes into) and that VPC.
func (s *Service) createGroupResources(ctx context.Context, p awsquery.Params, keys map[string][]string) []authz.Resource {
	vpcID := p.Get("VpcId")
	if vpcID == "" {
		if v, err := s.store.EC2().DefaultVPC(ctx); err == nil {
			vpcID = v.ID
		}
	}
	r := authz.On(s.arn(ctx, "security-group", "*"))
	r.Keys = map[string][]string{"ec2:Vpc": {s.arn(ctx, "vpc", vpcID)}, "ec2:Region": {s.cfg.Region}}
	return append([]authz.Resource{r, s.vpcResource(ctx, vpcID)}, s.tagOnCreate(ctx, p, "security-group", "CreateSecurityGroup", keys)...)
}

func (s *Service) groupResources(ctx context.Context, p awsquery.Params, _ map[string][]string) []authz.Resource {
	return []authz.Resource{s.groupResource(ctx, p.Get("GroupId"), p.Get("GroupName"))}
}

// createInterfaceResources: the new interface, its subnet and each group it joins. With
// no group named, that is the subnet's VPC's default group, decided on as if named: joining
// it admits the interface's address wherever the default group is a rule's source.
func (s *Service) createInterfaceResources(ctx context.Context, p awsquery.Params, keys map[string][]string) []authz.Resource {
	sn := s.subnetResource(ctx, p.Get("SubnetId"))
	r := authz.On(s.arn(ctx, "network-interface", "*"))
	r.Keys = map[string][]string{"ec2:Subnet": {sn.ARN}, "ec2:Region": {s.cfg.Region}}
	if v, ok := sn.Keys["ec2:Vpc"]; ok {
		r.Keys["ec2:Vpc"] = v
	}
	res := []authz.Resource{r, sn}
	groups := list(p, "SecurityGroupId")
	if len(groups) == 0 {
		// An unknown subnet joins no group: the action answers InvalidSubnetID.NotFound.
		if dg, err := s.subnetDefaultGroup(ctx, s.store.EC2(), p.Get("SubnetId")); err == nil {
			groups = []string{dg.ID}
		}
	}
	for _, id := range groups {
		res = append(res, s.groupResource(ctx, id, ""))
	}
	return append(res, s.tagOnCreate(ctx, p, "network-interface", "CreateNetworkInterface", keys)...)
}

func (s *Service) modifyInterfaceResources(ctx context.Context, p awsquery.Params, _ map[string][]string) []authz.Resource {
	res := []authz.Resource{s.interfaceResource(ctx, p.Get("NetworkInterfaceId"))}
	for _, id := range list(p, "SecurityGroupId") {
		res = append(res, s.groupResource(ctx, id, ""))
	}
	return res
}

func (s *Service) interfaceResources(ctx context.Context, p awsquery.Params, _ map[string][]string) []authz.Resource {
	return []authz.Resource{s.interfaceResource(ctx, p.Get("NetworkInterfaceId"))}
}
