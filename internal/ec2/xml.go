package ec2

import (
	"context"
	"net/netip"

	"github.com/borealis-db/borealis/internal/store"
)

// The response shapes, with the model's locationNames (lowerCamel) and <item> list members.
// A response's fields sit directly in <ActionResponse> (awsquery.WriteEC2Result), so the
// result types have no XMLName.

type xmlTag struct {
	Key   string `xml:"key"`
	Value string `xml:"value"`
}

func tagsXML(tags []store.Tag) []xmlTag {
	var out []xmlTag
	for _, t := range tags {
		out = append(out, xmlTag{t.Key, t.Value})
	}
	return out
}

type xmlState struct {
	State string `xml:"state"`
}

type xmlCidrAssociation struct {
	AssociationID  string   `xml:"associationId"`
	CidrBlock      string   `xml:"cidrBlock"`
	CidrBlockState xmlState `xml:"cidrBlockState"`
}

type xmlVpc struct {
	VpcID                   string               `xml:"vpcId"`
	OwnerID                 string               `xml:"ownerId"`
	State                   string               `xml:"state"`
	CidrBlock               string               `xml:"cidrBlock"`
	CidrBlockAssociationSet []xmlCidrAssociation `xml:"cidrBlockAssociationSet>item"`
	DhcpOptionsID           string               `xml:"dhcpOptionsId"`
	InstanceTenancy         string               `xml:"instanceTenancy"`
	IsDefault               bool                 `xml:"isDefault"`
	TagSet                  []xmlTag             `xml:"tagSet>item"`
}

func vpcXML(v store.VPC) xmlVpc {
	return xmlVpc{
		VpcID: v.ID, OwnerID: v.OwnerID, State: "available", CidrBlock: v.CidrBlock,
		CidrBlockAssociationSet: []xmlCidrAssociation{{v.CidrAssociationID, v.CidrBlock, xmlState{"associated"}}},
		DhcpOptionsID:           "default", InstanceTenancy: v.InstanceTenancy, IsDefault: v.IsDefault, TagSet: tagsXML(v.Tags),
	}
}

type createVpcResult struct {
	Vpc xmlVpc `xml:"vpc"`
}

type describeVpcsResult struct {
	Vpcs      []xmlVpc `xml:"vpcSet>item"`
	NextToken string   `xml:"nextToken,omitempty"`
}

type xmlSubnet struct {
	SubnetID                    string   `xml:"subnetId"`
	SubnetArn                   string   `xml:"subnetArn"`
	State                       string   `xml:"state"`
	VpcID                       string   `xml:"vpcId"`
	OwnerID                     string   `xml:"ownerId"`
	CidrBlock                   string   `xml:"cidrBlock"`
	AvailableIPAddressCount     int      `xml:"availableIpAddressCount"`
	AvailabilityZone            string   `xml:"availabilityZone"`
	DefaultForAz                bool     `xml:"defaultForAz"`
	MapPublicIPOnLaunch         bool     `xml:"mapPublicIpOnLaunch"`
	AssignIpv6AddressOnCreation bool     `xml:"assignIpv6AddressOnCreation"`
	Ipv6Native                  bool     `xml:"ipv6Native"`
	TagSet                      []xmlTag `xml:"tagSet>item"`
}

// subnetXML describes a subnet; used counts the interfaces whose address is in its range
// (AWS also reserves five addresses of every subnet).
func (s *Service) subnetXML(ctx context.Context, sn store.Subnet, interfaces []store.NetworkInterface) xmlSubnet {
	free := 0
	if pfx, err := netip.ParsePrefix(sn.CidrBlock); err == nil {
		free = 1<<(32-pfx.Bits()) - 5
		for _, ni := range interfaces {
			if a, err := netip.ParseAddr(ni.PrivateIP); err == nil && ni.SubnetID == sn.ID && pfx.Contains(a) {
				free--
			}
		}
	}
	return xmlSubnet{
		SubnetID: sn.ID, SubnetArn: s.arn(ctx, "subnet", sn.ID), State: "available", VpcID: sn.VpcID, OwnerID: sn.OwnerID,
		CidrBlock: sn.CidrBlock, AvailableIPAddressCount: max(free, 0), AvailabilityZone: sn.AvailabilityZone,
		DefaultForAz: sn.DefaultForAz, MapPublicIPOnLaunch: sn.DefaultForAz, TagSet: tagsXML(sn.Tags),
	}
}

type createSubnetResult struct {
	Subnet xmlSubnet `xml:"subnet"`
}

type describeSubnetsResult struct {
	Subnets   []xmlSubnet `xml:"subnetSet>item"`
	NextToken string      `xml:"nextToken,omitempty"`
}

// Security groups.

type xmlUserIDGroupPair struct {
	UserID      string `xml:"userId,omitempty"`
	GroupID     string `xml:"groupId"`
	Description string `xml:"description,omitempty"`
}

type xmlIPRange struct {
	CidrIP      string `xml:"cidrIp"`
	Description string `xml:"description,omitempty"`
}

type xmlIPv6Range struct {
	CidrIpv6    string `xml:"cidrIpv6"`
	Description string `xml:"description,omitempty"`
}

type xmlIPPermission struct {
	IPProtocol string               `xml:"ipProtocol"`
	FromPort   *int                 `xml:"fromPort"`
	ToPort     *int                 `xml:"toPort"`
	Groups     []xmlUserIDGroupPair `xml:"groups>item"`
	IPRanges   []xmlIPRange         `xml:"ipRanges>item"`
	Ipv6Ranges []xmlIPv6Range       `xml:"ipv6Ranges>item"`
}

// permissionsXML groups rules into IP permissions as EC2 describes them: one per protocol
// and port range, in the order each first appears, with every peer of that range.
func permissionsXML(rules []store.SecurityGroupRule, egress bool, owner string) []xmlIPPermission {
	var out []xmlIPPermission
	index := map[[3]any]int{}
	for _, r := range rules {
		if r.Egress != egress {
			continue
		}
		key := [3]any{r.Protocol, r.FromPort, r.ToPort}
		i, ok := index[key]
		if !ok {
			perm := xmlIPPermission{IPProtocol: r.Protocol}
			if hasPorts(r.Protocol) {
				from, to := r.FromPort, r.ToPort
				perm.FromPort, perm.ToPort = &from, &to
			}
			out = append(out, perm)
			i = len(out) - 1
			index[key] = i
		}
		perm := &out[i]
		switch {
		case r.CidrIPv4 != "":
			perm.IPRanges = append(perm.IPRanges, xmlIPRange{r.CidrIPv4, r.Description})
		case r.CidrIPv6 != "":
			perm.Ipv6Ranges = append(perm.Ipv6Ranges, xmlIPv6Range{r.CidrIPv6, r.Description})
		case r.GroupID != "":
			perm.Groups = append(perm.Groups, xmlUserIDGroupPair{owner, r.GroupID, r.Description})
		}
	}
	return out
}

type xmlSecurityGroup struct {
	OwnerID             string            `xml:"ownerId"`
	GroupID             string            `xml:"groupId"`
	GroupName           string            `xml:"groupName"`
	GroupDescription    string            `xml:"groupDescription"`
	VpcID               string            `xml:"vpcId"`
	SecurityGroupArn    string            `xml:"securityGroupArn"`
	IPPermissions       []xmlIPPermission `xml:"ipPermissions>item"`
	IPPermissionsEgress []xmlIPPermission `xml:"ipPermissionsEgress>item"`
	TagSet              []xmlTag          `xml:"tagSet>item"`
}

func (s *Service) groupXML(ctx context.Context, g store.SecurityGroup) xmlSecurityGroup {
	return xmlSecurityGroup{
		OwnerID: g.OwnerID, GroupID: g.ID, GroupName: g.Name, GroupDescription: g.Description, VpcID: g.VpcID,
		SecurityGroupArn: s.arn(ctx, "security-group", g.ID),
		IPPermissions:    permissionsXML(g.Rules, false, g.OwnerID), IPPermissionsEgress: permissionsXML(g.Rules, true, g.OwnerID),
		TagSet: tagsXML(g.Tags),
	}
}

type createSecurityGroupResult struct {
	Return           bool     `xml:"return"`
	GroupID          string   `xml:"groupId"`
	TagSet           []xmlTag `xml:"tagSet>item"`
	SecurityGroupArn string   `xml:"securityGroupArn"`
}

type deleteSecurityGroupResult struct {
	Return  bool   `xml:"return"`
	GroupID string `xml:"groupId"`
}

type describeSecurityGroupsResult struct {
	SecurityGroups []xmlSecurityGroup `xml:"securityGroupInfo>item"`
	NextToken      string             `xml:"nextToken,omitempty"`
}

type xmlReferencedGroup struct {
	GroupID string `xml:"groupId"`
	UserID  string `xml:"userId"`
}

type xmlSecurityGroupRule struct {
	SecurityGroupRuleID  string              `xml:"securityGroupRuleId"`
	GroupID              string              `xml:"groupId"`
	GroupOwnerID         string              `xml:"groupOwnerId"`
	IsEgress             bool                `xml:"isEgress"`
	IPProtocol           string              `xml:"ipProtocol"`
	FromPort             int                 `xml:"fromPort"`
	ToPort               int                 `xml:"toPort"`
	CidrIpv4             string              `xml:"cidrIpv4,omitempty"`
	CidrIpv6             string              `xml:"cidrIpv6,omitempty"`
	ReferencedGroupInfo  *xmlReferencedGroup `xml:"referencedGroupInfo"`
	Description          string              `xml:"description,omitempty"`
	SecurityGroupRuleArn string              `xml:"securityGroupRuleArn"`
}

func (s *Service) ruleXML(ctx context.Context, g store.SecurityGroup, r store.SecurityGroupRule) xmlSecurityGroupRule {
	x := xmlSecurityGroupRule{
		SecurityGroupRuleID: r.ID, GroupID: g.ID, GroupOwnerID: g.OwnerID, IsEgress: r.Egress, IPProtocol: r.Protocol,
		FromPort: r.FromPort, ToPort: r.ToPort, CidrIpv4: r.CidrIPv4, CidrIpv6: r.CidrIPv6, Description: r.Description,
		SecurityGroupRuleArn: s.arn(ctx, "security-group-rule", r.ID),
	}
	if r.GroupID != "" {
		x.ReferencedGroupInfo = &xmlReferencedGroup{r.GroupID, g.OwnerID}
	}
	return x
}

type authorizeResult struct {
	Return             bool                   `xml:"return"`
	SecurityGroupRules []xmlSecurityGroupRule `xml:"securityGroupRuleSet>item"`
}

type xmlRevokedRule struct {
	SecurityGroupRuleID string `xml:"securityGroupRuleId"`
	GroupID             string `xml:"groupId"`
	IsEgress            bool   `xml:"isEgress"`
	IPProtocol          string `xml:"ipProtocol"`
	FromPort            int    `xml:"fromPort"`
	ToPort              int    `xml:"toPort"`
	CidrIpv4            string `xml:"cidrIpv4,omitempty"`
	CidrIpv6            string `xml:"cidrIpv6,omitempty"`
	ReferencedGroupID   string `xml:"referencedGroupId,omitempty"`
	Description         string `xml:"description,omitempty"`
}

type revokeResult struct {
	Return       bool             `xml:"return"`
	RevokedRules []xmlRevokedRule `xml:"revokedSecurityGroupRuleSet>item"`
}

type describeSecurityGroupRulesResult struct {
	SecurityGroupRules []xmlSecurityGroupRule `xml:"securityGroupRuleSet>item"`
	NextToken          string                 `xml:"nextToken,omitempty"`
}

// Network interfaces.

type xmlGroupIdentifier struct {
	GroupID   string `xml:"groupId"`
	GroupName string `xml:"groupName"`
}

type xmlPrivateIP struct {
	PrivateIPAddress string `xml:"privateIpAddress"`
	Primary          bool   `xml:"primary"`
}

type xmlNetworkInterface struct {
	NetworkInterfaceID    string               `xml:"networkInterfaceId"`
	SubnetID              string               `xml:"subnetId"`
	VpcID                 string               `xml:"vpcId"`
	AvailabilityZone      string               `xml:"availabilityZone"`
	Description           string               `xml:"description"`
	OwnerID               string               `xml:"ownerId"`
	RequesterManaged      bool                 `xml:"requesterManaged"`
	Status                string               `xml:"status"`
	MacAddress            string               `xml:"macAddress"`
	PrivateIPAddress      string               `xml:"privateIpAddress"`
	SourceDestCheck       bool                 `xml:"sourceDestCheck"`
	InterfaceType         string               `xml:"interfaceType"`
	GroupSet              []xmlGroupIdentifier `xml:"groupSet>item"`
	PrivateIPAddressesSet []xmlPrivateIP       `xml:"privateIpAddressesSet>item"`
	TagSet                []xmlTag             `xml:"tagSet>item"`
}

// interfaceXML describes an interface; names maps group ids to names.
func interfaceXML(ni store.NetworkInterface, names map[string]string) xmlNetworkInterface {
	x := xmlNetworkInterface{
		NetworkInterfaceID: ni.ID, SubnetID: ni.SubnetID, VpcID: ni.VpcID, AvailabilityZone: ni.AvailabilityZone,
		Description: ni.Description, OwnerID: ni.OwnerID, Status: "available", MacAddress: ni.MacAddress,
		PrivateIPAddress: ni.PrivateIP, SourceDestCheck: true, InterfaceType: "interface",
		PrivateIPAddressesSet: []xmlPrivateIP{{ni.PrivateIP, true}}, TagSet: tagsXML(ni.Tags),
	}
	for _, id := range ni.GroupIDs {
		x.GroupSet = append(x.GroupSet, xmlGroupIdentifier{id, names[id]})
	}
	return x
}

type createNetworkInterfaceResult struct {
	NetworkInterface xmlNetworkInterface `xml:"networkInterface"`
}

type describeNetworkInterfacesResult struct {
	NetworkInterfaces []xmlNetworkInterface `xml:"networkInterfaceSet>item"`
	NextToken         string                `xml:"nextToken,omitempty"`
}

// Tags.

type xmlTagDescription struct {
	ResourceID   string `xml:"resourceId"`
	ResourceType string `xml:"resourceType"`
	Key          string `xml:"key"`
	Value        string `xml:"value"`
}

type describeTagsResult struct {
	Tags      []xmlTagDescription `xml:"tagSet>item"`
	NextToken string              `xml:"nextToken,omitempty"`
}
