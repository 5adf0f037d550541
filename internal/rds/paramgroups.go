package rds

import (
	"context"
	"encoding/xml"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"sort"
	"strings"

	"github.com/borealis-db/borealis/internal/awsquery"
	"github.com/borealis-db/borealis/internal/params"
	"github.com/borealis-db/borealis/internal/store"
)

// groupKind holds what differs between DB cluster parameter groups and DB parameter groups:
// element names, ARN type and which parameters they hold. The actions are the same.
type groupKind struct {
	store     string       // store.ClusterParamGroup | store.DBParamGroup
	scope     params.Scope // the parameters such a group holds
	label     string       // "DBClusterParameterGroup" | "DBParameterGroup"
	arnType   string       // "cluster-pg" | "pg"
	nameParam string       // request member naming the group
	// Copy's request members: the source group, the new group's name and its description.
	sourceParam, targetParam, targetDescParam string
}

var (
	clusterGroups = groupKind{store.ClusterParamGroup, params.ClusterScope, "DBClusterParameterGroup", "cluster-pg", "DBClusterParameterGroupName",
		"SourceDBClusterParameterGroupIdentifier", "TargetDBClusterParameterGroupIdentifier", "TargetDBClusterParameterGroupDescription"}
	dbGroups = groupKind{store.DBParamGroup, params.InstanceScope, "DBParameterGroup", "pg", "DBParameterGroupName",
		"SourceDBParameterGroupIdentifier", "TargetDBParameterGroupIdentifier", "TargetDBParameterGroupDescription"}
)

// xmlGroup marshals as <DBClusterParameterGroup> or <DBParameterGroup> with that kind's
// member names.
type xmlGroup struct {
	kind                      groupKind
	Name, Family, Description string
	ARN                       string
}

func (g xmlGroup) MarshalXML(e *xml.Encoder, _ xml.StartElement) error {
	l := g.kind.label
	start := xml.StartElement{Name: xml.Name{Local: l}}
	return e.EncodeElement(struct {
		Items []xmlText
	}{[]xmlText{
		{xml.Name{Local: l + "Name"}, g.Name},
		{xml.Name{Local: "DBParameterGroupFamily"}, g.Family},
		{xml.Name{Local: "Description"}, g.Description},
		{xml.Name{Local: l + "Arn"}, g.ARN},
	}}, start)
}

// xmlGroupList marshals as <DBClusterParameterGroups> or <DBParameterGroups>.
type xmlGroupList struct {
	kind  groupKind
	items []xmlGroup
}

func (l xmlGroupList) MarshalXML(e *xml.Encoder, _ xml.StartElement) error {
	start := xml.StartElement{Name: xml.Name{Local: l.kind.label + "s"}}
	if err := e.EncodeToken(start); err != nil {
		return err
	}
	for _, g := range l.items {
		if err := e.Encode(g); err != nil {
			return err
		}
	}
	return e.EncodeToken(start.End())
}

type xmlText struct {
	XMLName xml.Name
	Value   string `xml:",chardata"`
}

type xmlParameter struct {
	ParameterName  string `xml:"ParameterName"`
	ParameterValue string `xml:"ParameterValue,omitempty"`
	Description    string `xml:"Description"`
	Source         string `xml:"Source"`
	ApplyType      string `xml:"ApplyType"`
	DataType       string `xml:"DataType"`
	AllowedValues  string `xml:"AllowedValues,omitempty"`
	IsModifiable   bool   `xml:"IsModifiable"`
	ApplyMethod    string `xml:"ApplyMethod,omitempty"`
}

type xmlParameters struct {
	Items []xmlParameter `xml:"Parameter"`
}

func groupNotFound(k groupKind, name string) error {
	return awsquery.Errorf(http.StatusNotFound, "DBParameterGroupNotFound", "%s not found: %s", k.label, awsquery.Clip(name))
}

func (s *Service) groupARN(k groupKind, name string) string {
	return fmt.Sprintf("arn:aws:rds:%s:%s:%s:%s", s.cfg.Region, s.cfg.AccountID, k.arnType, name)
}

// group returns a stored group, or the default one (never stored, never changing).
func (s *Service) group(ctx context.Context, k groupKind, raw string) (store.ParameterGroup, error) {
	name := strings.ToLower(raw)
	if name == params.DefaultGroup {
		return defaultGroup(k), nil
	}
	g, err := s.store.ParameterGroup(ctx, k.store, name)
	if errors.Is(err, store.ErrNotFound) {
		return g, groupNotFound(k, raw)
	}
	return g, err
}

func defaultGroup(k groupKind) store.ParameterGroup {
	desc := "Default cluster parameter group for " + params.Family
	if k.store == store.DBParamGroup {
		desc = "Default parameter group for " + params.Family
	}
	return store.ParameterGroup{Name: params.DefaultGroup, Kind: k.store, Family: params.Family, Description: desc}
}

func (s *Service) groupXML(k groupKind, g store.ParameterGroup) xmlGroup {
	return xmlGroup{kind: k, Name: g.Name, Family: g.Family, Description: g.Description, ARN: s.groupARN(k, g.Name)}
}

// checkGroupName applies RDS's parameter group name rule and returns the stored form.
func checkGroupName(k groupKind, param, raw string) (string, error) {
	if raw == "" {
		return "", awsquery.MissingParameter(param)
	}
	if !groupNameRE.MatchString(raw) || strings.HasSuffix(raw, "-") || strings.Contains(raw, "--") {
		return "", awsquery.InvalidParameterValue("The parameter %s is not a valid identifier. Identifiers must begin with a letter; must contain only ASCII letters, digits, and hyphens; and must not end with a hyphen or contain two consecutive hyphens.", param)
	}
	return strings.ToLower(raw), nil
}

func (s *Service) createGroup(ctx context.Context, k groupKind, p awsquery.Params) (any, error) {
	name, err := checkGroupName(k, k.nameParam, p.String(k.nameParam))
	if err != nil {
		return nil, err
	}
	family, err := p.Required("DBParameterGroupFamily")
	if err != nil {
		return nil, err
	}
	if family != params.Family {
		return nil, awsquery.InvalidParameterValue("DBParameterGroupFamily %s is not supported: Borealis runs %s.", awsquery.Clip(family), params.Family)
	}
	desc, err := p.Required("Description")
	if err != nil {
		return nil, err
	}
	tags, err := parseTags(p)
	if err != nil {
		return nil, err
	}
	return s.insertGroup(ctx, k, store.ParameterGroup{Name: name, Kind: k.store, Family: family, Description: desc, CreatedAt: s.cfg.Now().UTC(), Tags: tags})
}

func (s *Service) insertGroup(ctx context.Context, k groupKind, g store.ParameterGroup) (any, error) {
	if err := s.store.CreateParameterGroup(ctx, g); errors.Is(err, store.ErrExists) {
		return nil, awsquery.Errorf(http.StatusBadRequest, "DBParameterGroupAlreadyExists", "Parameter group %s already exists", g.Name)
	} else if err != nil {
		return nil, err
	}
	s.log.Info("parameter group created", "kind", k.store, "group", g.Name)
	return struct {
		Group xmlGroup
	}{s.groupXML(k, g)}, nil
}

func (s *Service) copyGroup(ctx context.Context, k groupKind, p awsquery.Params) (any, error) {
	target := k.targetParam
	srcRaw, err := p.Required(k.sourceParam)
	if err != nil {
		return nil, err
	}
	src, err := s.group(ctx, k, s.sourceGroupName(k, srcRaw))
	if err != nil {
		return nil, err
	}
	name, err := checkGroupName(k, target, p.String(target))
	if err != nil {
		return nil, err
	}
	desc, err := p.Required(k.targetDescParam)
	if err != nil {
		return nil, err
	}
	// The copy gets the tags asked for (which IAM saw as aws:RequestTag), not the source's.
	tags, err := parseTags(p)
	if err != nil {
		return nil, err
	}
	g := store.ParameterGroup{Name: name, Kind: k.store, Family: src.Family, Description: desc,
		Values: src.Values, ApplyMethods: src.ApplyMethods, CreatedAt: s.cfg.Now().UTC(), Tags: tags}
	return s.insertGroup(ctx, k, g)
}

// sourceGroupName accepts a group's name or its ARN, as Copy does. An ARN of another
// region, account or kind of group names no group here (it is not read as a local name).
func (s *Service) sourceGroupName(k groupKind, raw string) string {
	if !strings.HasPrefix(raw, "arn:") {
		return raw
	}
	if r, err := s.parseResourceARN(raw); err == nil && r.kind == k.arnType {
		return r.name
	}
	return raw // no group is named "arn:...": the action answers not found
}

func (s *Service) describeGroups(ctx context.Context, k groupKind, p awsquery.Params) (any, error) {
	maxRecords, marker, err := paging(p)
	if err != nil {
		return nil, err
	}
	var groups []store.ParameterGroup
	if raw := p.String(k.nameParam); raw != "" {
		g, err := s.group(ctx, k, raw)
		if err != nil {
			return nil, err
		}
		groups = []store.ParameterGroup{g}
	} else {
		stored, err := s.store.ParameterGroups(ctx, k.store)
		if err != nil {
			return nil, err
		}
		// The default group sorts among the stored ones: the Marker is the last name
		// of the page before, so the order must be the names' order.
		groups = append([]store.ParameterGroup{defaultGroup(k)}, stored...)
		sort.Slice(groups, func(i, j int) bool { return groups[i].Name < groups[j].Name })
	}
	var items []xmlGroup
	next := ""
	for _, g := range groups {
		if marker != "" && g.Name <= marker {
			continue
		}
		if len(items) == maxRecords {
			next = items[len(items)-1].Name
			break
		}
		items = append(items, s.groupXML(k, g))
	}
	return struct {
		Marker string `xml:"Marker,omitempty"`
		Groups xmlGroupList
	}{next, xmlGroupList{k, items}}, nil
}

// parseParameters reads Parameters.Parameter.N.{ParameterName,ParameterValue,ApplyMethod}.
type paramChange struct{ name, value, method string }

func parseParameters(p awsquery.Params, needValue bool) ([]paramChange, error) {
	var out []paramChange
	for i := 1; ; i++ {
		prefix := fmt.Sprintf("Parameters.Parameter.%d.", i)
		if !p.Has(prefix+"ParameterName") && !p.Has(prefix+"ParameterValue") && !p.Has(prefix+"ApplyMethod") {
			return out, nil
		}
		c := paramChange{p.String(prefix + "ParameterName"), p.String(prefix + "ParameterValue"), p.String(prefix + "ApplyMethod")}
		if c.name == "" {
			return nil, awsquery.InvalidParameterValue("Parameter %d has no ParameterName.", i)
		}
		if needValue && !p.Has(prefix+"ParameterValue") {
			return nil, awsquery.InvalidParameterValue("Parameter %s has no ParameterValue.", awsquery.Clip(c.name))
		}
		out = append(out, c)
	}
}

// checkChange validates one parameter change for a kind of group and fills its ApplyMethod.
func checkChange(k groupKind, c *paramChange, withValue bool) error {
	d, ok := params.Lookup(c.name)
	if !ok || d.Scope&k.scope == 0 {
		return awsquery.InvalidParameterValue("Could not find parameter with name: %s", awsquery.Clip(c.name))
	}
	if !d.Modifiable {
		return awsquery.InvalidParameterValue("The parameter %s cannot be modified.", d.Name)
	}
	switch c.method {
	case "":
		c.method = "immediate"
		if d.Static {
			c.method = "pending-reboot"
		}
	case "immediate":
		if d.Static {
			return awsquery.InvalidParameterCombination("cannot use immediate apply method for static parameter")
		}
	case "pending-reboot":
	default:
		return awsquery.InvalidParameterValue("Invalid ApplyMethod %s: must be immediate or pending-reboot.", awsquery.Clip(c.method))
	}
	if withValue {
		if err := d.Validate(c.value); err != nil {
			return awsquery.InvalidParameterValue("%s", err.Error())
		}
	}
	return nil
}

func (s *Service) modifyGroup(ctx context.Context, k groupKind, p awsquery.Params, reset bool) (any, error) {
	raw, err := p.Required(k.nameParam)
	if err != nil {
		return nil, err
	}
	name := strings.ToLower(raw)
	if name == params.DefaultGroup {
		if _, err := s.group(ctx, k, name); err != nil {
			return nil, err
		}
		return nil, awsquery.InvalidParameterValue("Cannot modify a default parameter group.")
	}
	changes, err := parseParameters(p, !reset)
	if err != nil {
		return nil, err
	}
	resetAll := false
	if reset {
		if resetAll, _, err = p.Bool("ResetAllParameters"); err != nil {
			return nil, err
		}
		if resetAll == (len(changes) > 0) {
			return nil, awsquery.InvalidParameterCombination("Specify either ResetAllParameters or a list of Parameters, not both or neither.")
		}
	} else if len(changes) == 0 {
		return nil, awsquery.MissingParameter("Parameters")
	}
	if len(changes) > 20 {
		return nil, awsquery.InvalidParameterValue("A maximum of 20 parameters can be modified in a single request.")
	}
	for i := range changes {
		if err := checkChange(k, &changes[i], !reset); err != nil {
			return nil, err
		}
	}
	g, err := s.store.UpdateParameterGroup(ctx, k.store, name, func(g *store.ParameterGroup) error {
		if g.Values == nil {
			g.Values, g.ApplyMethods = map[string]string{}, map[string]string{}
		}
		if resetAll {
			// Reset returns values to the defaults; what applies when follows each
			// parameter's type (static ones wait for a reboot).
			for name := range g.Values {
				g.ApplyMethods[name] = resetMethod(name)
			}
			g.Values = map[string]string{}
			return nil
		}
		for _, c := range changes {
			if reset {
				delete(g.Values, c.name)
			} else {
				g.Values[c.name] = c.value
			}
			g.ApplyMethods[c.name] = c.method
		}
		return nil
	})
	if errors.Is(err, store.ErrNotFound) {
		return nil, groupNotFound(k, raw)
	}
	if err != nil {
		return nil, err
	}
	s.log.Info("parameter group modified", "kind", k.store, "group", g.Name, "parameters", len(changes), "reset_all", resetAll)
	s.groupEvents(ctx, k, g.Name, changes, reset, resetAll)
	s.notify()
	return struct {
		Name xmlText
	}{xmlText{xml.Name{Local: k.nameParam}, g.Name}}, nil
}

func resetMethod(name string) string {
	if d, ok := params.Lookup(name); ok && d.Static {
		return "pending-reboot"
	}
	return "immediate"
}

func (s *Service) deleteGroup(ctx context.Context, k groupKind, p awsquery.Params) (any, error) {
	raw, err := p.Required(k.nameParam)
	if err != nil {
		return nil, err
	}
	name := strings.ToLower(raw)
	if name == params.DefaultGroup {
		return nil, awsquery.Errorf(http.StatusBadRequest, "InvalidDBParameterGroupState", "Default %s cannot be deleted: %s", k.label, name)
	}
	err = s.store.DeleteParameterGroup(ctx, k.store, name, func(users []string) error {
		if len(users) > 0 {
			what := "DB cluster"
			if k.store == store.DBParamGroup {
				what = "DB instance"
			}
			return awsquery.Errorf(http.StatusBadRequest, "InvalidDBParameterGroupState", "Parameter group %s is still in use by %s %s.", name, what, strings.Join(users, ", "))
		}
		return nil
	})
	if errors.Is(err, store.ErrNotFound) {
		return nil, groupNotFound(k, raw)
	}
	if err != nil {
		return nil, err
	}
	s.log.Info("parameter group deleted", "kind", k.store, "group", name)
	return nil, nil
}

// describeParameters lists a group's parameters: its own values (Source user) over the
// engine defaults (Source engine-default; system for those nobody may change).
func (s *Service) describeParameters(ctx context.Context, k groupKind, g store.ParameterGroup, p awsquery.Params) (xmlParameters, string, error) {
	maxRecords, marker, err := paging(p)
	if err != nil {
		return xmlParameters{}, "", err
	}
	filters, err := parseFilters(p)
	if err != nil {
		return xmlParameters{}, "", err
	}
	source := p.String("Source")
	if source != "" && source != "user" && source != "engine-default" && source != "system" {
		return xmlParameters{}, "", awsquery.InvalidParameterValue("Invalid Source %s: must be user, engine-default or system.", awsquery.Clip(source))
	}
	var out xmlParameters
	next := ""
	for _, d := range params.Defs(k.scope) {
		x := xmlParameter{ParameterName: d.Name, ParameterValue: d.Default, Description: d.Description, Source: "engine-default",
			ApplyType: d.ApplyType(), DataType: d.DataType, AllowedValues: d.AllowedValues, IsModifiable: d.Modifiable, ApplyMethod: "pending-reboot"}
		if !d.Static {
			x.ApplyMethod = "immediate"
		}
		if !d.Modifiable {
			x.Source = "system"
		}
		if v, ok := g.Values[d.Name]; ok {
			x.ParameterValue, x.Source = v, "user"
			if m := g.ApplyMethods[d.Name]; m != "" {
				x.ApplyMethod = m
			}
		}
		if source != "" && x.Source != source || marker != "" && d.Name <= marker || !filters.match("parameter-name", d.Name) {
			continue
		}
		if len(out.Items) == maxRecords {
			next = out.Items[len(out.Items)-1].ParameterName
			break
		}
		out.Items = append(out.Items, x)
	}
	return out, next, nil
}

func (s *Service) describeGroupParameters(ctx context.Context, k groupKind, p awsquery.Params) (any, error) {
	raw, err := p.Required(k.nameParam)
	if err != nil {
		return nil, err
	}
	g, err := s.group(ctx, k, raw)
	if err != nil {
		return nil, err
	}
	list, next, err := s.describeParameters(ctx, k, g, p)
	if err != nil {
		return nil, err
	}
	return struct {
		Parameters xmlParameters
		Marker     string `xml:"Marker,omitempty"`
	}{list, next}, nil
}

func (s *Service) describeEngineDefaults(ctx context.Context, k groupKind, p awsquery.Params) (any, error) {
	family, err := p.Required("DBParameterGroupFamily")
	if err != nil {
		return nil, err
	}
	if family != params.Family {
		return nil, awsquery.InvalidParameterValue("DBParameterGroupFamily %s is not supported: Borealis runs %s.", awsquery.Clip(family), params.Family)
	}
	list, next, err := s.describeParameters(ctx, k, defaultGroup(k), p)
	if err != nil {
		return nil, err
	}
	type engineDefaults struct {
		DBParameterGroupFamily string
		Marker                 string `xml:"Marker,omitempty"`
		Parameters             xmlParameters
	}
	return struct {
		EngineDefaults engineDefaults
	}{engineDefaults{family, next, list}}, nil
}

// groupNameRE is RDS's parameter group name rule: 1 to 255 letters, digits or hyphens,
// starting with a letter (hyphen rules checked apart).
var groupNameRE = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9-]{0,254}$`)
