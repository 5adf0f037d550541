package rds

import (
	"context"
	"strings"

	"github.com/borealis-db/borealis/internal/awsquery"
)

// Network is what RDS asks of the VPC side (the EC2 service): where clusters live and which
// security groups exist in which VPC.
type Network interface {
	// DefaultVPC returns the default VPC's id.
	DefaultVPC(ctx context.Context) (string, error)
	// DefaultSecurityGroup returns a VPC's default security group.
	DefaultSecurityGroup(ctx context.Context, vpcID string) (string, error)
	// SecurityGroupVPC returns the VPC a security group belongs to; ok is false when there
	// is no such group.
	SecurityGroupVPC(ctx context.Context, groupID string) (vpcID string, ok bool, err error)
	// Subnet returns a subnet's VPC and availability zone; ok is false when there is none.
	Subnet(ctx context.Context, subnetID string) (vpcID, zone string, ok bool, err error)
	// DefaultSubnets returns the default VPC's default subnets.
	DefaultSubnets(ctx context.Context) ([]string, error)
	// VPCTenancy returns a VPC's instance tenancy: default or dedicated.
	VPCTenancy(ctx context.Context, vpcID string) (string, error)
}

// securityGroups checks the groups asked for a cluster in VPC vpc, or picks the VPC's
// default group when none are asked for, as RDS does.
func (s *Service) securityGroups(ctx context.Context, vpc string, asked []string) ([]string, error) {
	if s.cfg.Network == nil {
		return asked, nil
	}
	if len(asked) == 0 {
		sg, err := s.cfg.Network.DefaultSecurityGroup(ctx, vpc)
		if err != nil {
			return nil, err
		}
		return []string{sg}, nil
	}
	seen := map[string]bool{}
	var out []string
	for _, id := range asked {
		if seen[id] {
			continue
		}
		seen[id] = true
		gvpc, ok, err := s.cfg.Network.SecurityGroupVPC(ctx, id)
		if err != nil {
			return nil, err
		}
		if !ok {
			return nil, awsquery.InvalidParameterValue("Invalid security group: %s does not exist.", awsquery.Clip(id))
		}
		if gvpc != vpc {
			return nil, awsquery.InvalidParameterCombination("The DB cluster and the EC2 security group %s are in different VPCs.", id)
		}
		out = append(out, id)
	}
	return out, nil
}

// clusterVPC is the VPC of the DB subnet group a new cluster goes into, and the group's
// stored name ("" for the default group, in the default VPC).
func (s *Service) clusterVPC(ctx context.Context, subnetGroup string) (vpc, group string, err error) {
	g, err := s.subnetGroup(ctx, subnetGroup)
	if err != nil {
		return "", "", err
	}
	if g.Name == "default" {
		return g.VpcID, "", nil
	}
	return g.VpcID, g.Name, nil
}

// GroupInUse tells the EC2 side which cluster uses a security group, so that deleting it
// is refused as AWS refuses deleting a group an RDS instance uses.
func (s *Service) GroupInUse(ctx context.Context, groupID string) (string, bool) {
	clusters, err := s.store.Clusters(ctx)
	if err != nil {
		return "(unknown: " + err.Error() + ")", true // fail closed
	}
	for _, c := range clusters {
		for _, g := range c.VpcSecurityGroupIDs {
			if g == groupID {
				return s.clusterARN(c.ID), true
			}
		}
	}
	return "", false
}

// checkTenancy applies the seed page's rule: db.r4 and db.t3 classes run in default-tenancy
// VPCs only. An unknown cluster is left for the insert to report.
func (s *Service) checkTenancy(ctx context.Context, clusterID, class string) error {
	if s.cfg.Network == nil || !(strings.HasPrefix(class, "db.r4.") || strings.HasPrefix(class, "db.t3.")) {
		return nil
	}
	c, err := s.store.Cluster(ctx, clusterID)
	if err != nil || c.VpcID == "" {
		return nil
	}
	tenancy, err := s.cfg.Network.VPCTenancy(ctx, c.VpcID)
	if err != nil {
		return err
	}
	if tenancy == "dedicated" {
		return awsquery.InvalidParameterCombination("RDS does not support creating a DB instance with the following combination: DBInstanceClass=%s, Engine=%s, tenancy=dedicated. Aurora PostgreSQL runs db.r4 and db.t3 classes in default-tenancy VPCs only.", class, Engine)
	}
	return nil
}
