package ec2

import (
	"context"
	"encoding/base64"
	"errors"
	"slices"
	"strings"

	"github.com/borealis-db/borealis/internal/authz"
	"github.com/borealis-db/borealis/internal/awsquery"
	"github.com/borealis-db/borealis/internal/store"
)

// Tags on VPCs, subnets, security groups and network interfaces: CreateTags, DeleteTags,
// DescribeTags. The tags live in each resource's record, so they go with it.

// taggable are the resources Borealis tags, by id prefix: their resource type (as
// TagSpecification, DescribeTags and their ARNs name it) and the kind checkID knows.
var taggable = map[string]struct{ resourceType, kind string }{
	"vpc":    {"vpc", "vpc"},
	"subnet": {"subnet", "subnet"},
	"sg":     {"security-group", "group"},
	"eni":    {"network-interface", "eni"},
}

// Limits, as EC2's.
const (
	maxTagsPerResource = 50
	maxTagResources    = 1000
	maxTagKeyLen       = 128
	maxTagValueLen     = 256
)

// checkTag refuses a tag EC2 would not store: an empty or long key, a key in the reserved
// aws: namespace, a long value.
func checkTag(k, v string) error {
	switch {
	case k == "" || len([]rune(k)) > maxTagKeyLen:
		return awsquery.InvalidParameterValue("Tag keys must be between 1 and %d characters.", maxTagKeyLen)
	case strings.HasPrefix(strings.ToLower(k), "aws:"):
		return awsquery.InvalidParameterValue("Tag keys starting with 'aws:' are reserved for internal use")
	case len([]rune(v)) > maxTagValueLen:
		return awsquery.InvalidParameterValue("Tag values must be at most %d characters.", maxTagValueLen)
	}
	return nil
}

func tagLimit() error {
	return fault("TagLimitExceeded", "The maximum number of Tags for a resource has been reached.")
}

// mergeTags sets each tag of add on tags, replacing the value of a key already there.
func mergeTags(tags, add []store.Tag) []store.Tag {
	out := slices.Clone(tags)
	for _, t := range add {
		if i := slices.IndexFunc(out, func(o store.Tag) bool { return o.Key == t.Key }); i >= 0 {
			out[i].Value = t.Value
		} else {
			out = append(out, t)
		}
	}
	return out
}

// taggedIDs reads ResourceId.N: each must name a taggable resource by a well-formed id.
func taggedIDs(p awsquery.Params) ([]string, error) {
	out := list(p, "ResourceId")
	if len(out) == 0 {
		return nil, awsquery.MissingParameter("ResourceId")
	}
	if len(out) > maxTagResources {
		return nil, awsquery.InvalidParameterValue("The maximum number of resources in one request is %d.", maxTagResources)
	}
	for _, id := range out {
		prefix, _, _ := strings.Cut(id, "-")
		if prefix == "sgr" {
			return nil, awsquery.InvalidParameterValue("Borealis does not tag security group rules: %s", awsquery.Clip(id))
		}
		if t, ok := taggable[prefix]; !ok || checkID(t.kind, id) != nil {
			return nil, fault("InvalidID", "The ID '%s' is not valid", awsquery.Clip(id))
		}
	}
	return out, nil
}

// tagNotFound is the NotFound error of the resource id's kind.
func tagNotFound(id string) error {
	prefix, _, _ := strings.Cut(id, "-")
	switch prefix {
	case "vpc":
		return vpcNotFound(id)
	case "subnet":
		return subnetNotFound(id)
	case "sg":
		return groupNotFound(id)
	}
	return interfaceNotFound(id)
}

// requestedTags reads CreateTags' Tag.N; a Value left out is the empty string.
func requestedTags(p awsquery.Params) ([]store.Tag, error) {
	var tags []store.Tag
	pres := prefixes(p, "Tag")
	if len(pres) > maxTagsPerResource {
		return nil, tagLimit() // before reading them: bounds one request's work
	}
	for _, pre := range pres {
		k, v := p.Get(pre+"Key"), p.Get(pre+"Value")
		if err := checkTag(k, v); err != nil {
			return nil, err
		}
		tags = mergeTags(tags, []store.Tag{{Key: k, Value: v}})
	}
	if len(tags) == 0 {
		return nil, awsquery.MissingParameter("Tag")
	}
	if len(tags) > maxTagsPerResource {
		return nil, tagLimit()
	}
	return tags, nil
}

func (s *Service) createTags(ctx context.Context, p awsquery.Params) (any, error) {
	ids, err := taggedIDs(p)
	if err != nil {
		return nil, err
	}
	add, err := requestedTags(p)
	if err != nil {
		return nil, err
	}
	err = s.editTags(ctx, ids, func(tags []store.Tag) ([]store.Tag, error) {
		tags = mergeTags(tags, add)
		if len(tags) > maxTagsPerResource {
			return nil, tagLimit()
		}
		return tags, nil
	})
	if err != nil {
		return nil, err
	}
	s.log.Info("tags created", "resources", len(ids), "tags", len(add))
	return nil, nil
}

// deletion is one Tag.N of DeleteTags: a key, and the value it must have to be deleted.
type deletion struct {
	key      string
	value    string
	anyValue bool
}

// deletions reads DeleteTags' Tag.N; none means every tag of the resource.
func deletions(p awsquery.Params) ([]deletion, error) {
	var out []deletion
	pres := prefixes(p, "Tag")
	if len(pres) > maxTagResources {
		return nil, awsquery.InvalidParameterValue("The maximum number of tags in one request is %d.", maxTagResources)
	}
	for _, pre := range pres {
		d := deletion{key: p.Get(pre + "Key"), value: p.Get(pre + "Value"), anyValue: !p.Has(pre + "Value")}
		if err := checkTag(d.key, d.value); err != nil {
			return nil, err
		}
		out = append(out, d)
	}
	return out, nil
}

// deleted returns the tags of tags that dels delete.
func deleted(tags []store.Tag, dels []deletion) []store.Tag {
	if len(dels) == 0 {
		return tags
	}
	var out []store.Tag
	for _, t := range tags {
		if slices.ContainsFunc(dels, func(d deletion) bool { return d.key == t.Key && (d.anyValue || d.value == t.Value) }) {
			out = append(out, t)
		}
	}
	return out
}

func (s *Service) deleteTags(ctx context.Context, p awsquery.Params) (any, error) {
	ids, err := taggedIDs(p)
	if err != nil {
		return nil, err
	}
	dels, err := deletions(p)
	if err != nil {
		return nil, err
	}
	err = s.editTags(ctx, ids, func(tags []store.Tag) ([]store.Tag, error) {
		gone := deleted(tags, dels)
		if len(gone) == 0 {
			return nil, nil
		}
		return slices.DeleteFunc(tags, func(t store.Tag) bool { return slices.Contains(gone, t) }), nil
	})
	if err != nil {
		return nil, err
	}
	s.log.Info("tags deleted", "resources", len(ids))
	return nil, nil
}

// editTags gives each resource's tags to edit and stores what it returns (nil: unchanged),
// all or nothing: a resource that is missing, or an edit that fails, leaves every resource
// as it was.
func (s *Service) editTags(ctx context.Context, ids []string, edit func([]store.Tag) ([]store.Tag, error)) error {
	return s.store.EC2Tx(ctx, func(e store.EC2State) error {
		for _, id := range ids {
			tags, err := e.EC2Tags(ctx, id)
			if errors.Is(err, store.ErrNotFound) {
				return tagNotFound(id)
			} else if err != nil {
				return err
			}
			next, err := edit(tags)
			if err != nil {
				return err
			}
			if next == nil {
				continue
			}
			if err := e.SetEC2Tags(ctx, id, next); err != nil {
				return err
			}
		}
		return nil
	})
}

// tagRow is one tag of one resource, as DescribeTags lists it.
type tagRow struct {
	id, resourceType string
	tag              store.Tag
	all              []store.Tag // the resource's tags, for the tag:KEY filters
}

// cursor orders rows by resource and key, and is what a NextToken encodes.
func (r tagRow) cursor() string { return r.id + "\x00" + r.tag.Key }

// allTags lists every tag of every taggable resource.
func (s *Service) allTags(ctx context.Context) ([]tagRow, error) {
	st := s.store.EC2()
	var rows []tagRow
	add := func(id string, tags []store.Tag) {
		prefix, _, _ := strings.Cut(id, "-")
		for _, t := range tags {
			rows = append(rows, tagRow{id, taggable[prefix].resourceType, t, tags})
		}
	}
	vpcs, err := st.VPCs(ctx)
	if err != nil {
		return nil, err
	}
	for _, v := range vpcs {
		add(v.ID, v.Tags)
	}
	subnets, err := st.Subnets(ctx, "")
	if err != nil {
		return nil, err
	}
	for _, sn := range subnets {
		add(sn.ID, sn.Tags)
	}
	groups, err := st.SecurityGroups(ctx)
	if err != nil {
		return nil, err
	}
	for _, g := range groups {
		add(g.ID, g.Tags)
	}
	interfaces, err := st.NetworkInterfaces(ctx)
	if err != nil {
		return nil, err
	}
	for _, ni := range interfaces {
		add(ni.ID, ni.Tags)
	}
	slices.SortFunc(rows, func(a, b tagRow) int { return strings.Compare(a.cursor(), b.cursor()) })
	return rows, nil
}

func badPageToken() error {
	return fault("InvalidPaginationToken", "The specified pagination token is not valid or is expired.")
}

func (s *Service) describeTags(ctx context.Context, p awsquery.Params) (any, error) {
	max, token, err := paging(p, false, "")
	if err != nil {
		return nil, err
	}
	after := ""
	if token != "" {
		b, err := base64.RawURLEncoding.DecodeString(token)
		if err != nil || len(b) == 0 {
			return nil, badPageToken()
		}
		after = string(b)
	}
	fs, err := parseFilters(p, "key", "value", "resource-id", "resource-type")
	if err != nil {
		return nil, err
	}
	rows, err := s.allTags(ctx)
	if err != nil {
		return nil, err
	}
	var match []tagRow
	for _, r := range rows {
		if fs.match("key", r.tag.Key) && fs.match("value", r.tag.Value) && fs.match("resource-id", r.id) &&
			fs.match("resource-type", r.resourceType) && fs.matchTags(r.all) {
			match = append(match, r)
		}
	}
	var res describeTagsResult
	match, next := page(match, tagRow.cursor, max, after)
	if next != "" {
		res.NextToken = base64.RawURLEncoding.EncodeToString([]byte(next))
	}
	for _, r := range match {
		res.Tags = append(res.Tags, xmlTagDescription{r.id, r.resourceType, r.tag.Key, r.tag.Value})
	}
	return res, nil
}

// Authorization. CreateTags and DeleteTags are decided on each resource named, with its
// tags (ec2:ResourceTag/*); CreateTags with the tags asked for (aws:RequestTag/*,
// aws:TagKeys), DeleteTags with aws:TagKeys naming, per resource, the tags it will lose.

// tagTarget is the resource id names, with its condition keys when it exists.
func (s *Service) tagTarget(ctx context.Context, id string) authz.Resource {
	prefix, _, _ := strings.Cut(id, "-")
	switch prefix {
	case "vpc":
		return s.vpcResource(ctx, id)
	case "subnet":
		return s.subnetResource(ctx, id)
	case "sg":
		if checkID("group", id) == nil {
			return s.groupResource(ctx, id, "")
		}
	case "eni":
		return s.interfaceResource(ctx, id)
	}
	return authz.On(s.arn(ctx, "*", id)) // refused as InvalidID by the action
}

// tagTargets never returns no resource: IAM allows a call on none.
func (s *Service) tagTargets(ctx context.Context, p awsquery.Params) []authz.Resource {
	var res []authz.Resource
	for _, id := range list(p, "ResourceId") {
		res = append(res, s.tagTarget(ctx, id))
	}
	if len(res) == 0 {
		res = append(res, authz.On(s.arn(ctx, "*", "*")))
	}
	return res
}

func (s *Service) createTagsResources(ctx context.Context, p awsquery.Params, keys map[string][]string) []authz.Resource {
	tags, _ := requestedTags(p) // bad tags are refused by the action
	fillRequestTags(tags, keys)
	return s.tagTargets(ctx, p)
}

func (s *Service) deleteTagsResources(ctx context.Context, p awsquery.Params, _ map[string][]string) []authz.Resource {
	dels, _ := deletions(p)
	res := s.tagTargets(ctx, p)
	for i, id := range list(p, "ResourceId") {
		tags, err := s.store.EC2().EC2Tags(ctx, id)
		if err != nil {
			continue
		}
		var keys []string
		for _, t := range deleted(tags, dels) {
			keys = append(keys, t.Key)
		}
		if res[i].Keys == nil {
			res[i].Keys = map[string][]string{}
		}
		if len(keys) > 0 {
			res[i].Keys["aws:TagKeys"] = keys
		}
	}
	return res
}

// fillRequestTags sets aws:RequestTag/* and aws:TagKeys for the tags a request sets.
func fillRequestTags(tags []store.Tag, keys map[string][]string) {
	var names []string
	for _, t := range tags {
		keys["aws:RequestTag/"+t.Key] = []string{t.Value}
		names = append(names, t.Key)
	}
	if len(names) > 0 {
		keys["aws:TagKeys"] = names
	}
}

// tagOnCreate is what a create with TagSpecification asks besides the create itself, as
// EC2 does: ec2:CreateTags on the new resource, with ec2:CreateAction naming the create.
// It is nil when the request sets no tags.
func (s *Service) tagOnCreate(ctx context.Context, p awsquery.Params, resourceType, create string, keys map[string][]string) []authz.Resource {
	tags, _ := parseTags(p, resourceType) // a bad tag is refused by the action itself
	if len(tags) == 0 {
		return nil
	}
	fillRequestTags(tags, keys)
	r := authz.On(s.arn(ctx, resourceType, "*"))
	r.Action = "ec2:CreateTags"
	r.Keys = map[string][]string{"ec2:CreateAction": {create}, "ec2:Region": {s.cfg.Region}}
	return []authz.Resource{r}
}
