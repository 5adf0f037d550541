package rds

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"sort"
	"strings"

	"github.com/borealis-db/borealis/internal/authz"
	"github.com/borealis-db/borealis/internal/awsquery"
	"github.com/borealis-db/borealis/internal/store"
)

// subnetGroupRE is RDS's DB subnet group name rule: up to 255 letters, digits, periods,
// underscores, spaces or hyphens, starting with a letter.
var subnetGroupRE = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9._ -]{0,254}$`)

func subnetGroupName(stored string) string {
	if stored == "" {
		return "default"
	}
	return stored
}

func subnetGroupNotFound(name string) error {
	return awsquery.Errorf(http.StatusNotFound, "DBSubnetGroupNotFoundFault", "DBSubnetGroup %s not found.", awsquery.Clip(name))
}

// subnetGroup returns a stored group, or the default one: the default VPC's default subnets.
func (s *Service) subnetGroup(ctx context.Context, raw string) (store.SubnetGroup, error) {
	name := strings.ToLower(raw)
	if name == "" || name == "default" {
		g := store.SubnetGroup{Name: "default", Description: "default"}
		if s.cfg.Network == nil {
			return g, nil
		}
		var err error
		if g.VpcID, err = s.cfg.Network.DefaultVPC(ctx); err != nil {
			return g, err
		}
		ids, err := s.cfg.Network.DefaultSubnets(ctx)
		if err != nil {
			return g, err
		}
		for _, id := range ids {
			_, zone, _, err := s.cfg.Network.Subnet(ctx, id)
			if err != nil {
				return g, err
			}
			g.Subnets = append(g.Subnets, store.SubnetRef{ID: id, AvailabilityZone: zone})
		}
		return g, nil
	}
	g, err := s.store.SubnetGroup(ctx, name)
	if errors.Is(err, store.ErrNotFound) {
		return g, subnetGroupNotFound(raw)
	}
	return g, err
}

type xmlSubnet struct {
	SubnetIdentifier       string `xml:"SubnetIdentifier"`
	SubnetAvailabilityZone struct {
		Name string `xml:"Name"`
	} `xml:"SubnetAvailabilityZone"`
	SubnetStatus string `xml:"SubnetStatus"`
}

type xmlSubnetGroup struct {
	DBSubnetGroupName        string      `xml:"DBSubnetGroupName"`
	DBSubnetGroupDescription string      `xml:"DBSubnetGroupDescription"`
	VpcID                    string      `xml:"VpcId"`
	SubnetGroupStatus        string      `xml:"SubnetGroupStatus"`
	Subnets                  []xmlSubnet `xml:"Subnets>Subnet"`
	DBSubnetGroupArn         string      `xml:"DBSubnetGroupArn"`
	SupportedNetworkTypes    []string    `xml:"SupportedNetworkTypes>member"`
}

func (s *Service) subnetGroupARN(name string) string {
	return fmt.Sprintf("arn:aws:rds:%s:%s:subgrp:%s", s.cfg.Region, s.cfg.AccountID, name)
}

func (s *Service) subnetGroupXML(g store.SubnetGroup) xmlSubnetGroup {
	x := xmlSubnetGroup{DBSubnetGroupName: g.Name, DBSubnetGroupDescription: g.Description, VpcID: g.VpcID,
		SubnetGroupStatus: "Complete", DBSubnetGroupArn: s.subnetGroupARN(g.Name), SupportedNetworkTypes: []string{networkType}}
	for _, sn := range g.Subnets {
		var xs xmlSubnet
		xs.SubnetIdentifier, xs.SubnetAvailabilityZone.Name, xs.SubnetStatus = sn.ID, sn.AvailabilityZone, "Active"
		x.Subnets = append(x.Subnets, xs)
	}
	return x
}

func (s *Service) createSubnetGroup(ctx context.Context, p awsquery.Params) (any, error) {
	raw, err := p.Required("DBSubnetGroupName")
	if err != nil {
		return nil, err
	}
	name := strings.ToLower(raw)
	if !subnetGroupRE.MatchString(raw) || name == "default" {
		return nil, awsquery.InvalidParameterValue("The parameter DBSubnetGroupName is not a valid identifier: up to 255 letters, digits, periods, underscores, spaces or hyphens, starting with a letter, and not default.")
	}
	desc, err := p.Required("DBSubnetGroupDescription")
	if err != nil {
		return nil, err
	}
	ids := p.List("SubnetIds", "SubnetIdentifier")
	if len(ids) == 0 {
		return nil, awsquery.MissingParameter("SubnetIds")
	}
	tags, err := parseTags(p)
	if err != nil {
		return nil, err
	}
	g := store.SubnetGroup{Name: name, Description: desc, Tags: tags, CreatedAt: s.cfg.Now().UTC()}
	zones := map[string]bool{}
	for _, id := range ids {
		if s.cfg.Network == nil {
			return nil, awsquery.Errorf(http.StatusBadRequest, "InvalidSubnet", "Some input subnets in :[%s] are invalid.", awsquery.Clip(id))
		}
		vpc, zone, ok, err := s.cfg.Network.Subnet(ctx, id)
		if err != nil {
			return nil, err
		}
		if !ok {
			return nil, awsquery.Errorf(http.StatusBadRequest, "InvalidSubnet", "Some input subnets in :[%s] are invalid.", awsquery.Clip(id))
		}
		if g.VpcID != "" && vpc != g.VpcID {
			return nil, awsquery.Errorf(http.StatusBadRequest, "InvalidSubnet", "The subnets of a DB subnet group must all be in one VPC.")
		}
		g.VpcID = vpc
		zones[zone] = true
		g.Subnets = append(g.Subnets, store.SubnetRef{ID: id, AvailabilityZone: zone})
	}
	if len(zones) < 2 {
		var zs []string
		for z := range zones {
			zs = append(zs, z)
		}
		sort.Strings(zs)
		return nil, awsquery.Errorf(http.StatusBadRequest, "DBSubnetGroupDoesNotCoverEnoughAZs",
			"The DB subnet group doesn't meet Availability Zone (AZ) coverage requirement. Current AZ coverage: %s. Add subnets to cover at least 2 AZs.", strings.Join(zs, ", "))
	}
	if err := s.store.CreateSubnetGroup(ctx, g); errors.Is(err, store.ErrExists) {
		return nil, awsquery.Errorf(http.StatusBadRequest, "DBSubnetGroupAlreadyExists", "The DB subnet group '%s' already exists.", name)
	} else if err != nil {
		return nil, err
	}
	s.log.Info("subnet group created", "group", name, "vpc", g.VpcID)
	return struct {
		DBSubnetGroup xmlSubnetGroup
	}{s.subnetGroupXML(g)}, nil
}

func (s *Service) describeSubnetGroups(ctx context.Context, p awsquery.Params) (any, error) {
	maxRecords, marker, err := paging(p)
	if err != nil {
		return nil, err
	}
	var groups []store.SubnetGroup
	if raw := p.String("DBSubnetGroupName"); raw != "" {
		g, err := s.subnetGroup(ctx, raw)
		if err != nil {
			return nil, err
		}
		groups = []store.SubnetGroup{g}
	} else {
		def, err := s.subnetGroup(ctx, "default")
		if err != nil {
			return nil, err
		}
		stored, err := s.store.SubnetGroups(ctx)
		if err != nil {
			return nil, err
		}
		groups = append([]store.SubnetGroup{def}, stored...)
		sort.Slice(groups, func(i, j int) bool { return groups[i].Name < groups[j].Name })
	}
	var res struct {
		Marker         string `xml:"Marker,omitempty"`
		DBSubnetGroups struct {
			Items []xmlSubnetGroup `xml:"DBSubnetGroup"`
		} `xml:"DBSubnetGroups"`
	}
	for _, g := range groups {
		if marker != "" && g.Name <= marker {
			continue
		}
		if len(res.DBSubnetGroups.Items) == maxRecords {
			res.Marker = res.DBSubnetGroups.Items[maxRecords-1].DBSubnetGroupName
			break
		}
		res.DBSubnetGroups.Items = append(res.DBSubnetGroups.Items, s.subnetGroupXML(g))
	}
	return res, nil
}

func (s *Service) deleteSubnetGroup(ctx context.Context, p awsquery.Params) (any, error) {
	raw, err := p.Required("DBSubnetGroupName")
	if err != nil {
		return nil, err
	}
	name := strings.ToLower(raw)
	if name == "default" {
		return nil, awsquery.Errorf(http.StatusBadRequest, "InvalidDBSubnetGroupStateFault", "The default DB subnet group cannot be deleted.")
	}
	err = s.store.DeleteSubnetGroup(ctx, name, func(clusters []string) error {
		if len(clusters) > 0 {
			return awsquery.Errorf(http.StatusBadRequest, "InvalidDBSubnetGroupStateFault",
				"Cannot delete the subnet group '%s' because at least one database cluster: %s is still using it.", name, clusters[0])
		}
		return nil
	})
	if errors.Is(err, store.ErrNotFound) {
		return nil, subnetGroupNotFound(raw)
	}
	return nil, err
}

func (s *Service) subnetGroupResources(ctx context.Context, p awsquery.Params, keys map[string][]string) []authz.Resource {
	name := p.String("DBSubnetGroupName")
	if name == "" {
		return []authz.Resource{authz.On("*")}
	}
	requestTags(p, keys)
	r := s.subnetGroupResource(ctx, name)
	return append([]authz.Resource{r}, tagOnCreate(r.ARN, askedTags(p))...) // only CreateDBSubnetGroup has Tags
}
