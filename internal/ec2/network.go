package ec2

import (
	"context"
	"errors"
	"net/netip"

	"github.com/borealis-db/borealis/internal/store"
)

// What other services ask of the VPC side: RDS places clusters in VPCs and checks their
// security groups, and the reconciler compiles what a cluster's groups admit.

// DefaultVPC returns the default VPC's id.
func (s *Service) DefaultVPC(ctx context.Context) (string, error) {
	v, err := s.store.EC2().DefaultVPC(ctx)
	return v.ID, err
}

// DefaultSecurityGroup returns the id of a VPC's default security group.
func (s *Service) DefaultSecurityGroup(ctx context.Context, vpcID string) (string, error) {
	g, err := s.store.EC2().DefaultSecurityGroup(ctx, vpcID)
	return g.ID, err
}

// SecurityGroupVPC returns the VPC a security group belongs to; ok is false when there is
// no such group.
func (s *Service) SecurityGroupVPC(ctx context.Context, groupID string) (string, bool, error) {
	g, err := s.store.EC2().SecurityGroup(ctx, groupID)
	if errors.Is(err, store.ErrNotFound) {
		return "", false, nil
	}
	return g.VpcID, err == nil, err
}

// Subnet returns a subnet's VPC and availability zone; ok is false when there is none.
func (s *Service) Subnet(ctx context.Context, subnetID string) (vpcID, zone string, ok bool, err error) {
	sn, err := s.store.EC2().Subnet(ctx, subnetID)
	if errors.Is(err, store.ErrNotFound) {
		return "", "", false, nil
	}
	return sn.VpcID, sn.AvailabilityZone, err == nil, err
}

// DefaultSubnets returns the default VPC's default subnets, one per availability zone.
func (s *Service) DefaultSubnets(ctx context.Context) ([]string, error) {
	v, err := s.store.EC2().DefaultVPC(ctx)
	if err != nil {
		return nil, err
	}
	subnets, err := s.store.EC2().Subnets(ctx, v.ID)
	if err != nil {
		return nil, err
	}
	var ids []string
	for _, sn := range subnets {
		if sn.DefaultForAz {
			ids = append(ids, sn.ID)
		}
	}
	return ids, nil
}

// VPCTenancy returns a VPC's instance tenancy: default or dedicated.
func (s *Service) VPCTenancy(ctx context.Context, vpcID string) (string, error) {
	v, err := s.store.EC2().VPC(ctx, vpcID)
	return v.InstanceTenancy, err
}

// IngressPrefixes returns the source prefixes the groups' ingress rules admit to TCP port,
// with rules naming a group resolved to the addresses of that group's network interfaces.
func (s *Service) IngressPrefixes(ctx context.Context, groups []string, port int) ([]netip.Prefix, error) {
	in, err := s.store.IngressFor(ctx, groups)
	if err != nil {
		return nil, err
	}
	return in.TCPSources(port), nil
}
