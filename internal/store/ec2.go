package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"net/netip"
	"slices"
	"strings"
	"time"
)

// EC2 networking records: VPCs, subnets, security groups and network interfaces. A group's
// rules live in the group's document, since a rule never outlives its group and is always
// read with it. Relations the API checks (a VPC's subnets, a subnet's interfaces, a group's
// users) are indexed columns, so that a check and the change it guards are one transaction.

// VPC is a virtual private cloud.
type VPC struct {
	ID                string    `json:"id"` // vpc-...
	OwnerID           string    `json:"owner_id"`
	CidrBlock         string    `json:"cidr_block"`
	CidrAssociationID string    `json:"cidr_association_id"` // vpc-cidr-assoc-...
	InstanceTenancy   string    `json:"instance_tenancy"`    // default | dedicated
	IsDefault         bool      `json:"is_default"`
	Tags              []Tag     `json:"tags,omitempty"`
	CreatedAt         time.Time `json:"created_at"`
}

// Subnet is a range of a VPC in one availability zone.
type Subnet struct {
	ID               string    `json:"id"` // subnet-...
	VpcID            string    `json:"vpc_id"`
	OwnerID          string    `json:"owner_id"`
	CidrBlock        string    `json:"cidr_block"`
	AvailabilityZone string    `json:"availability_zone"`
	DefaultForAz     bool      `json:"default_for_az"`
	Tags             []Tag     `json:"tags,omitempty"`
	CreatedAt        time.Time `json:"created_at"`
}

// DefaultSecurityGroupName names the group every VPC has and nobody may delete.
const DefaultSecurityGroupName = "default"

// SecurityGroup is a VPC security group with its rules.
type SecurityGroup struct {
	ID          string              `json:"id"` // sg-...
	VpcID       string              `json:"vpc_id"`
	OwnerID     string              `json:"owner_id"`
	Name        string              `json:"name"`
	Description string              `json:"description"`
	Rules       []SecurityGroupRule `json:"rules,omitempty"`
	Tags        []Tag               `json:"tags,omitempty"`
	CreatedAt   time.Time           `json:"created_at"`
}

// IsDefault reports whether g is its VPC's default group.
func (g SecurityGroup) IsDefault() bool { return g.Name == DefaultSecurityGroupName }

// SecurityGroupRule is one rule: one protocol and port range from (ingress) or to (egress)
// exactly one peer, as EC2's security group rules are.
type SecurityGroupRule struct {
	ID     string `json:"id"` // sgr-...
	Egress bool   `json:"egress"`
	// Protocol is tcp, udp, icmp, icmpv6, -1 (all traffic) or another protocol number.
	Protocol string `json:"protocol"`
	// FromPort and ToPort are the port range for tcp and udp, the ICMP type and code for
	// icmp(v6), and -1 for every other protocol.
	FromPort int `json:"from_port"`
	ToPort   int `json:"to_port"`
	// The peer: exactly one of these is set. CIDRs are stored in canonical network form.
	CidrIPv4    string `json:"cidr_ipv4,omitempty"`
	CidrIPv6    string `json:"cidr_ipv6,omitempty"`
	GroupID     string `json:"group_id,omitempty"` // the members of this group
	Description string `json:"description,omitempty"`
}

// SameAs reports whether two rules permit the same traffic: EC2's notion of a duplicate,
// which ignores the rule id and the description.
func (r SecurityGroupRule) SameAs(o SecurityGroupRule) bool {
	return r.Egress == o.Egress && r.Protocol == o.Protocol && r.FromPort == o.FromPort && r.ToPort == o.ToPort &&
		r.CidrIPv4 == o.CidrIPv4 && r.CidrIPv6 == o.CidrIPv6 && r.GroupID == o.GroupID
}

// NetworkInterface is an elastic network interface. Here it names a host: its private
// address is any address an operator wants to place in security groups.
type NetworkInterface struct {
	ID               string    `json:"id"` // eni-...
	SubnetID         string    `json:"subnet_id"`
	VpcID            string    `json:"vpc_id"`
	AvailabilityZone string    `json:"availability_zone"`
	OwnerID          string    `json:"owner_id"`
	PrivateIP        string    `json:"private_ip"`
	MacAddress       string    `json:"mac_address"`
	Description      string    `json:"description,omitempty"`
	GroupIDs         []string  `json:"group_ids"`
	Tags             []Tag     `json:"tags,omitempty"`
	CreatedAt        time.Time `json:"created_at"`
	// ClientToken makes a retried CreateNetworkInterface answer the interface it created.
	ClientToken string `json:"client_token,omitempty"`
}

// EC2State reads and writes the EC2 records, either straight on the database (Store.EC2)
// or inside one transaction (Store.EC2Tx).
type EC2State struct{ q queryer }

// EC2 returns the EC2 records outside a transaction: for reads, and single writes.
func (s *Store) EC2() EC2State { return EC2State{s.db} }

// EC2Tx runs fn in one transaction, committed if fn returns nil. fn must use only the
// state it is given: the store has one connection, so a call on Store inside fn would wait
// for the transaction forever.
func (s *Store) EC2Tx(ctx context.Context, fn func(EC2State) error) error {
	return s.inTx(ctx, func(tx *sql.Tx) error { return fn(EC2State{tx}) })
}

func deleteRow(ctx context.Context, q queryer, table, id string) error {
	res, err := q.ExecContext(ctx, `DELETE FROM `+table+` WHERE id = ?`, id)
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return ErrNotFound
	}
	return nil
}

func updateRow(ctx context.Context, q queryer, query string, args ...any) error {
	res, err := q.ExecContext(ctx, query, args...)
	if err != nil {
		return insertErr(err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return ErrNotFound
	}
	return nil
}

// VPCs

// CreateVPC inserts a VPC; ErrExists when the id is taken.
func (e EC2State) CreateVPC(ctx context.Context, v VPC) error {
	doc, err := marshal(v)
	if err != nil {
		return err
	}
	_, err = e.q.ExecContext(ctx, `INSERT INTO ec2_vpcs (id, doc) VALUES (?, ?)`, v.ID, doc)
	return insertErr(err)
}

func (e EC2State) VPC(ctx context.Context, id string) (VPC, error) {
	return queryDoc[VPC](ctx, e.q, `SELECT doc FROM ec2_vpcs WHERE id = ?`, id)
}

// DefaultVPC returns the region's default VPC; ErrNotFound before EnsureDefaults.
func (e EC2State) DefaultVPC(ctx context.Context) (VPC, error) {
	return queryDoc[VPC](ctx, e.q, `SELECT doc FROM ec2_vpcs WHERE json_extract(doc, '$.is_default') ORDER BY id LIMIT 1`)
}

// VPCs lists every VPC by id.
func (e EC2State) VPCs(ctx context.Context) ([]VPC, error) {
	return queryDocs[VPC](ctx, e.q, `SELECT doc FROM ec2_vpcs ORDER BY id`)
}

// DeleteVPC removes a VPC; its subnets, groups and interfaces must be gone first.
func (e EC2State) DeleteVPC(ctx context.Context, id string) error {
	return deleteRow(ctx, e.q, "ec2_vpcs", id)
}

// Subnets

// CreateSubnet inserts a subnet of an existing VPC.
func (e EC2State) CreateSubnet(ctx context.Context, sn Subnet) error {
	doc, err := marshal(sn)
	if err != nil {
		return err
	}
	_, err = e.q.ExecContext(ctx, `INSERT INTO ec2_subnets (id, vpc_id, doc) VALUES (?, ?, ?)`, sn.ID, sn.VpcID, doc)
	return insertErr(err)
}

func (e EC2State) Subnet(ctx context.Context, id string) (Subnet, error) {
	return queryDoc[Subnet](ctx, e.q, `SELECT doc FROM ec2_subnets WHERE id = ?`, id)
}

// Subnets lists the subnets of a VPC, or all of them for vpcID "".
func (e EC2State) Subnets(ctx context.Context, vpcID string) ([]Subnet, error) {
	if vpcID == "" {
		return queryDocs[Subnet](ctx, e.q, `SELECT doc FROM ec2_subnets ORDER BY id`)
	}
	return queryDocs[Subnet](ctx, e.q, `SELECT doc FROM ec2_subnets WHERE vpc_id = ? ORDER BY id`, vpcID)
}

func (e EC2State) DeleteSubnet(ctx context.Context, id string) error {
	return deleteRow(ctx, e.q, "ec2_subnets", id)
}

// Security groups

// CreateSecurityGroup inserts a group; ErrExists when its name is taken in its VPC.
func (e EC2State) CreateSecurityGroup(ctx context.Context, g SecurityGroup) error {
	doc, err := marshal(g)
	if err != nil {
		return err
	}
	_, err = e.q.ExecContext(ctx, `INSERT INTO ec2_security_groups (id, vpc_id, name, doc) VALUES (?, ?, ?, ?)`, g.ID, g.VpcID, g.Name, doc)
	return insertErr(err)
}

// SaveSecurityGroup writes a changed group (its rules, tags, description).
func (e EC2State) SaveSecurityGroup(ctx context.Context, g SecurityGroup) error {
	doc, err := marshal(g)
	if err != nil {
		return err
	}
	return updateRow(ctx, e.q, `UPDATE ec2_security_groups SET name = ?, doc = ? WHERE id = ?`, g.Name, doc, g.ID)
}

// SecurityGroup returns one group with its VPC id and rules.
func (e EC2State) SecurityGroup(ctx context.Context, id string) (SecurityGroup, error) {
	return queryDoc[SecurityGroup](ctx, e.q, `SELECT doc FROM ec2_security_groups WHERE id = ?`, id)
}

// SecurityGroupByName finds a group by its (case-sensitive) name in a VPC.
func (e EC2State) SecurityGroupByName(ctx context.Context, vpcID, name string) (SecurityGroup, error) {
	return queryDoc[SecurityGroup](ctx, e.q, `SELECT doc FROM ec2_security_groups WHERE vpc_id = ? AND name = ?`, vpcID, name)
}

// DefaultSecurityGroup returns a VPC's default group.
func (e EC2State) DefaultSecurityGroup(ctx context.Context, vpcID string) (SecurityGroup, error) {
	return e.SecurityGroupByName(ctx, vpcID, DefaultSecurityGroupName)
}

// GroupsInVPC lists a VPC's groups by id.
func (e EC2State) GroupsInVPC(ctx context.Context, vpcID string) ([]SecurityGroup, error) {
	return queryDocs[SecurityGroup](ctx, e.q, `SELECT doc FROM ec2_security_groups WHERE vpc_id = ? ORDER BY id`, vpcID)
}

// SecurityGroups lists every group by id.
func (e EC2State) SecurityGroups(ctx context.Context) ([]SecurityGroup, error) {
	return queryDocs[SecurityGroup](ctx, e.q, `SELECT doc FROM ec2_security_groups ORDER BY id`)
}

// GroupsReferencing lists the other groups with a rule whose peer is groupID.
func (e EC2State) GroupsReferencing(ctx context.Context, groupID string) ([]string, error) {
	return queryStrings(ctx, e.q, `SELECT DISTINCT g.id FROM ec2_security_groups g, json_each(g.doc, '$.rules') r
		WHERE json_extract(r.value, '$.group_id') = ? AND g.id != ? ORDER BY g.id`, groupID, groupID)
}

func (e EC2State) DeleteSecurityGroup(ctx context.Context, id string) error {
	return deleteRow(ctx, e.q, "ec2_security_groups", id)
}

// Network interfaces

// CreateNetworkInterface inserts an interface in an existing subnet.
func (e EC2State) CreateNetworkInterface(ctx context.Context, ni NetworkInterface) error {
	doc, err := marshal(ni)
	if err != nil {
		return err
	}
	_, err = e.q.ExecContext(ctx, `INSERT INTO ec2_network_interfaces (id, subnet_id, vpc_id, doc) VALUES (?, ?, ?, ?)`, ni.ID, ni.SubnetID, ni.VpcID, doc)
	return insertErr(err)
}

// SaveNetworkInterface writes a changed interface (its groups, description).
func (e EC2State) SaveNetworkInterface(ctx context.Context, ni NetworkInterface) error {
	doc, err := marshal(ni)
	if err != nil {
		return err
	}
	return updateRow(ctx, e.q, `UPDATE ec2_network_interfaces SET doc = ? WHERE id = ?`, doc, ni.ID)
}

func (e EC2State) NetworkInterface(ctx context.Context, id string) (NetworkInterface, error) {
	return queryDoc[NetworkInterface](ctx, e.q, `SELECT doc FROM ec2_network_interfaces WHERE id = ?`, id)
}

// NetworkInterfaces lists every interface by id.
func (e EC2State) NetworkInterfaces(ctx context.Context) ([]NetworkInterface, error) {
	return queryDocs[NetworkInterface](ctx, e.q, `SELECT doc FROM ec2_network_interfaces ORDER BY id`)
}

// InterfacesInSubnet and InterfacesInVPC list interfaces by where they are.
func (e EC2State) InterfacesInSubnet(ctx context.Context, subnetID string) ([]NetworkInterface, error) {
	return queryDocs[NetworkInterface](ctx, e.q, `SELECT doc FROM ec2_network_interfaces WHERE subnet_id = ? ORDER BY id`, subnetID)
}

func (e EC2State) InterfacesInVPC(ctx context.Context, vpcID string) ([]NetworkInterface, error) {
	return queryDocs[NetworkInterface](ctx, e.q, `SELECT doc FROM ec2_network_interfaces WHERE vpc_id = ? ORDER BY id`, vpcID)
}

// InterfacesInGroup lists the interfaces that are members of a security group.
func (e EC2State) InterfacesInGroup(ctx context.Context, groupID string) ([]NetworkInterface, error) {
	return queryDocs[NetworkInterface](ctx, e.q, `SELECT doc FROM ec2_network_interfaces n
		WHERE EXISTS (SELECT 1 FROM json_each(n.doc, '$.group_ids') g WHERE g.value = ?) ORDER BY id`, groupID)
}

func (e EC2State) DeleteNetworkInterface(ctx context.Context, id string) error {
	return deleteRow(ctx, e.q, "ec2_network_interfaces", id)
}

// Enforcement: what the gateway needs to decide whether a source address may connect.

// IngressRule is one ingress rule of a security group, parsed for matching.
type IngressRule struct {
	GroupID string // the group that holds the rule
	RuleID  string
	// Protocol is tcp, udp, icmp, icmpv6, -1 (all traffic) or another protocol number.
	Protocol string
	// FromPort..ToPort is the port range for tcp and udp (-1 for all traffic).
	FromPort, ToPort int
	// The source: a CIDR (Prefix valid, v4 or v6) or the members of SourceGroupID.
	Prefix        netip.Prefix
	SourceGroupID string
}

// AdmitsTCP reports whether the rule's protocol and port range cover a TCP connection to
// port; the source is matched separately.
func (r IngressRule) AdmitsTCP(port int) bool {
	return r.Protocol == "-1" || r.Protocol == "tcp" && r.FromPort <= port && port <= r.ToPort
}

// Ingress is everything that admits traffic into a set of security groups.
type Ingress struct {
	Groups []string // the groups asked for that exist
	Rules  []IngressRule
	// Members holds, for each group a rule names as its source, the private addresses of
	// the network interfaces in that group.
	Members map[string][]netip.Addr
}

// TCPSources returns the source prefixes admitted to TCP port: every matching rule's CIDR,
// and each member address of a matching rule's source group as a single-address prefix.
func (in Ingress) TCPSources(port int) []netip.Prefix {
	var out []netip.Prefix
	for _, r := range in.Rules {
		if !r.AdmitsTCP(port) {
			continue
		}
		if r.Prefix.IsValid() {
			out = append(out, r.Prefix)
		}
		for _, a := range in.Members[r.SourceGroupID] {
			out = append(out, netip.PrefixFrom(a, a.BitLen()))
		}
	}
	return out
}

// IngressFor reads, in one transaction, the ingress rules of the given groups and the
// members of the groups those rules refer to. A group that does not exist (deleted since
// a cluster named it) is left out and so admits nothing.
func (s *Store) IngressFor(ctx context.Context, groupIDs []string) (Ingress, error) {
	in := Ingress{Members: map[string][]netip.Addr{}}
	err := s.EC2Tx(ctx, func(e EC2State) error {
		for _, id := range groupIDs {
			if slices.Contains(in.Groups, id) {
				continue
			}
			g, err := e.SecurityGroup(ctx, id)
			if errors.Is(err, ErrNotFound) {
				continue
			} else if err != nil {
				return err
			}
			in.Groups = append(in.Groups, id)
			for _, r := range g.Rules {
				if r.Egress {
					continue
				}
				ir := IngressRule{GroupID: g.ID, RuleID: r.ID, Protocol: r.Protocol, FromPort: r.FromPort, ToPort: r.ToPort, SourceGroupID: r.GroupID}
				switch {
				case r.CidrIPv4 != "":
					ir.Prefix, err = netip.ParsePrefix(r.CidrIPv4)
				case r.CidrIPv6 != "":
					ir.Prefix, err = netip.ParsePrefix(r.CidrIPv6)
				}
				if err != nil {
					return err
				}
				in.Rules = append(in.Rules, ir)
				if r.GroupID == "" {
					continue
				}
				if _, done := in.Members[r.GroupID]; done {
					continue
				}
				members, err := e.InterfacesInGroup(ctx, r.GroupID)
				if err != nil {
					return err
				}
				addrs := []netip.Addr{}
				for _, m := range members {
					if a, err := netip.ParseAddr(m.PrivateIP); err == nil {
						addrs = append(addrs, a)
					}
				}
				slices.SortFunc(addrs, netip.Addr.Compare)
				in.Members[r.GroupID] = addrs
			}
		}
		return nil
	})
	return in, err
}

// Tags

// ec2TagTables maps the id prefix of each taggable EC2 resource to its table. A resource's
// tags live in its document, so deleting the resource deletes them.
var ec2TagTables = map[string]string{"vpc": "ec2_vpcs", "subnet": "ec2_subnets", "sg": "ec2_security_groups", "eni": "ec2_network_interfaces"}

func ec2TagTable(id string) (string, bool) {
	prefix, _, _ := strings.Cut(id, "-")
	t, ok := ec2TagTables[prefix]
	return t, ok
}

// EC2Tags returns the tags of the VPC, subnet, security group or network interface id;
// ErrNotFound when there is no such resource.
func (e EC2State) EC2Tags(ctx context.Context, id string) ([]Tag, error) {
	table, ok := ec2TagTable(id)
	if !ok {
		return nil, ErrNotFound
	}
	var raw sql.NullString
	err := e.q.QueryRowContext(ctx, `SELECT json_extract(doc, '$.tags') FROM `+table+` WHERE id = ?`, id).Scan(&raw)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, ErrNotFound
	} else if err != nil || !raw.Valid {
		return nil, err
	}
	var tags []Tag
	return tags, json.Unmarshal([]byte(raw.String), &tags)
}

// SetEC2Tags replaces the tags of the resource id names; ErrNotFound when there is none.
func (e EC2State) SetEC2Tags(ctx context.Context, id string, tags []Tag) error {
	table, ok := ec2TagTable(id)
	if !ok {
		return ErrNotFound
	}
	if len(tags) == 0 {
		return updateRow(ctx, e.q, `UPDATE `+table+` SET doc = json_remove(doc, '$.tags') WHERE id = ?`, id)
	}
	doc, err := json.Marshal(tags)
	if err != nil {
		return err
	}
	return updateRow(ctx, e.q, `UPDATE `+table+` SET doc = json_set(doc, '$.tags', json(?)) WHERE id = ?`, string(doc), id)
}
