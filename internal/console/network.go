package console

import (
	"net/http"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
)

// The shapes the console reads from EC2's responses.

type groupView struct {
	GroupID          string `xml:"groupId"`
	GroupName        string `xml:"groupName"`
	GroupDescription string `xml:"groupDescription"`
	VpcID            string `xml:"vpcId"`
}

type ruleView struct {
	SecurityGroupRuleID string `xml:"securityGroupRuleId"`
	IsEgress            bool   `xml:"isEgress"`
	IPProtocol          string `xml:"ipProtocol"`
	FromPort            int    `xml:"fromPort"`
	ToPort              int    `xml:"toPort"`
	CidrIpv4            string `xml:"cidrIpv4"`
	CidrIpv6            string `xml:"cidrIpv6"`
	ReferencedGroupInfo struct {
		GroupID string `xml:"groupId"`
	} `xml:"referencedGroupInfo"`
	Description string `xml:"description"`
}

// Source is the rule's peer as the EC2 console shows it.
func (r ruleView) Source() string {
	switch {
	case r.CidrIpv4 != "":
		return r.CidrIpv4
	case r.CidrIpv6 != "":
		return r.CidrIpv6
	}
	return r.ReferencedGroupInfo.GroupID
}

// Ports is the rule's port range as the EC2 console shows it.
func (r ruleView) Ports() string {
	switch {
	case r.IPProtocol == "-1" || r.FromPort == -1:
		return "All"
	case r.FromPort == r.ToPort:
		return strconv.Itoa(r.FromPort)
	}
	return strconv.Itoa(r.FromPort) + "-" + strconv.Itoa(r.ToPort)
}

// Protocol names the rule's protocol.
func (r ruleView) Protocol() string {
	if r.IPProtocol == "-1" {
		return "All traffic"
	}
	return strings.ToUpper(r.IPProtocol)
}

func (c *Console) networkRoutes(m *http.ServeMux) {
	m.HandleFunc("GET /console/security-groups", c.signedIn(c.groupsPage))
	m.HandleFunc("POST /console/security-groups", c.signedIn(c.createGroup))
	m.HandleFunc("GET /console/security-groups/{id}", c.signedIn(c.groupPage))
	m.HandleFunc("POST /console/security-groups/{id}/inbound", c.signedIn(c.addInbound))
	m.HandleFunc("POST /console/security-groups/{id}/inbound/{rule}/delete", c.signedIn(c.removeInbound))
}

func (c *Console) securityGroups(r *http.Request) ([]groupView, error) {
	var out struct {
		Items []groupView `xml:"securityGroupInfo>item"`
	}
	err := c.call(r, "ec2", "DescribeSecurityGroups", nil, &out)
	return out.Items, err
}

func (c *Console) groupsPage(w http.ResponseWriter, r *http.Request) {
	p := page{Title: "Security groups"}
	groups, err := c.securityGroups(r)
	if err != nil {
		p.Error = c.errorText(err)
	}
	p.Data = groups
	c.render(w, r, http.StatusOK, "groups.html", p)
}

func (c *Console) createGroup(w http.ResponseWriter, r *http.Request) {
	var vpcs struct {
		Items []struct {
			VpcID string `xml:"vpcId"`
		} `xml:"vpcSet>item"`
	}
	if err := c.call(r, "ec2", "DescribeVpcs", url.Values{"Filter.1.Name": {"is-default"}, "Filter.1.Value.1": {"true"}}, &vpcs); err != nil {
		c.flashError(w, r, "/console/security-groups", c.errorText(err))
		return
	}
	v := url.Values{"GroupName": {strings.TrimSpace(r.PostFormValue("name"))}, "GroupDescription": {r.PostFormValue("description")}}
	if len(vpcs.Items) > 0 {
		v.Set("VpcId", vpcs.Items[0].VpcID)
	}
	c.act(w, r, "/console/security-groups", "ec2", "CreateSecurityGroup", v, "Created security group "+v.Get("GroupName")+".")
}

type groupData struct {
	Group   groupView
	Inbound []ruleView
}

func (c *Console) groupPage(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	p := page{Title: id}
	var g struct {
		Items []groupView `xml:"securityGroupInfo>item"`
	}
	if err := c.call(r, "ec2", "DescribeSecurityGroups", url.Values{"GroupId.1": {id}}, &g); err != nil {
		p.Error = c.errorText(err)
		c.render(w, r, awsStatus(err), "group.html", p)
		return
	}
	var rules struct {
		Items []ruleView `xml:"securityGroupRuleSet>item"`
	}
	if err := c.call(r, "ec2", "DescribeSecurityGroupRules", url.Values{"Filter.1.Name": {"group-id"}, "Filter.1.Value.1": {id}}, &rules); err != nil {
		p.Error = c.errorText(err)
	}
	d := groupData{Group: g.Items[0]}
	for _, rule := range rules.Items {
		if !rule.IsEgress {
			d.Inbound = append(d.Inbound, rule)
		}
	}
	p.Data = d
	c.render(w, r, http.StatusOK, "group.html", p)
}

// addInbound authorizes one inbound rule: TCP on a port range (or all traffic) from a
// CIDR of either family or from the members of another security group.
func (c *Console) addInbound(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	back := "/console/security-groups/" + url.PathEscape(id)
	v := url.Values{"GroupId": {id}}
	pre := "IpPermissions.1."
	if r.PostFormValue("protocol") == "-1" {
		v.Set(pre+"IpProtocol", "-1")
	} else {
		from, to, ok := strings.Cut(strings.TrimSpace(r.PostFormValue("ports")), "-")
		if !ok {
			to = from
		}
		v.Set(pre+"IpProtocol", "tcp")
		v.Set(pre+"FromPort", strings.TrimSpace(from))
		v.Set(pre+"ToPort", strings.TrimSpace(to))
	}
	source, desc := strings.TrimSpace(r.PostFormValue("source")), r.PostFormValue("description")
	switch pfx, err := netip.ParsePrefix(source); {
	case strings.HasPrefix(source, "sg-"):
		v.Set(pre+"Groups.1.GroupId", source)
		v.Set(pre+"Groups.1.Description", desc)
	case err == nil && pfx.Addr().Is6():
		v.Set(pre+"Ipv6Ranges.1.CidrIpv6", source)
		v.Set(pre+"Ipv6Ranges.1.Description", desc)
	default: // IPv4, or something EC2 will refuse with its own message
		v.Set(pre+"IpRanges.1.CidrIp", source)
		v.Set(pre+"IpRanges.1.Description", desc)
	}
	if desc == "" {
		for k := range v {
			if strings.HasSuffix(k, ".Description") {
				v.Del(k)
			}
		}
	}
	c.act(w, r, back, "ec2", "AuthorizeSecurityGroupIngress", v, "Inbound rule added.")
}

func (c *Console) removeInbound(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	c.act(w, r, "/console/security-groups/"+url.PathEscape(id), "ec2", "RevokeSecurityGroupIngress",
		url.Values{"GroupId": {id}, "SecurityGroupRuleId.1": {r.PathValue("rule")}}, "Inbound rule removed.")
}
